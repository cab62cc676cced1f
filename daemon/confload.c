/* confload: a configuration file and its policy file, read and parsed;
 * see confload.h. */
#include "confload.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *read_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            snprintf(err, errlen, "%s: out of memory", path);
            fclose(f);
            return NULL;
        }
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1)
            break;
        cap *= 2;
        char *b = realloc(buf, cap);
        if (!b)
            free(buf);
        buf = b;
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        snprintf(err, errlen, "%s: read error", path);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    if (strlen(buf) != n) {
        snprintf(err, errlen, "%s: contains a NUL byte", path);
        free(buf);
        return NULL;
    }
    return buf;
}

Config *config_load(const char *path, char *err, size_t errlen)
{
    char *text = read_file(path, err, errlen);
    if (!text)
        return NULL;
    Config *cfg = cfg_new();
    if (!cfg) {
        snprintf(err, errlen, "out of memory");
        free(text);
        return NULL;
    }
    int rc = cfg_parse(cfg, text, path, false, err, errlen);
    free(text);
    if (rc == 0 && cfg->policy_file && cfg->policy_file[0]) {
        char *ptext = read_file(cfg->policy_file, err, errlen);
        rc = ptext ? cfg_parse(cfg, ptext, cfg->policy_file, true, err, errlen) : -1;
        free(ptext);
    }
    if (rc < 0) {
        cfg_free(cfg);
        return NULL;
    }
    return cfg;
}
