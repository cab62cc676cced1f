/* libFuzzer target: cfg_parse, for the main file (only_policy false) and for
 * a policy file (only_policy true).
 *
 * Input: the text of a configuration file (copied and terminated; the daemon
 * refuses files with a NUL byte, so an embedded NUL just ends the text).
 * Each input is parsed both ways, into a fresh Config each time. Checks,
 * besides "no crash, no leak, no undefined behaviour":
 *  - on failure: -1 and an error of the shape "name:line: what", with a line
 *    number within the text and something after it;
 *  - on success: 0 and an empty error; cfg_dump works; a configuration has
 *    no non-reloadable change against itself;
 *  - with only_policy, success changes nothing outside [policy];
 *  - a small error buffer gets a terminated prefix of the same error. */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "fuzz_util.h"

#define NAME "fuzz.conf"

static char *default_dump;

/* The lines of a dump that are not policy keys. */
static char *non_policy_lines(const char *dump)
{
    size_t n = strlen(dump);
    char *out = malloc(n + 1);
    FUZZ_CHECK(out != NULL, "out of memory");
    size_t k = 0;
    for (const char *p = dump; *p != '\0';) {
        const char *nl = strchr(p, '\n');
        size_t len = nl != NULL ? (size_t)(nl - p) + 1 : strlen(p);
        if (strncmp(p, "policy.", 7) != 0) {
            memcpy(out + k, p, len);
            k += len;
        }
        p += len;
    }
    out[k] = '\0';
    return out;
}

static void check_error_shape(const char *err, size_t lines)
{
    size_t plen = strlen(NAME ":");
    FUZZ_CHECK(strncmp(err, NAME ":", plen) == 0, "error without the file name: \"%s\"", err);
    const char *p = err + plen;
    FUZZ_CHECK(isdigit((unsigned char)*p), "error without a line number: \"%s\"", err);
    long line = strtol(p, (char **)&p, 10);
    FUZZ_CHECK(line >= 1 && (size_t)line <= lines, "line %ld of a text of %zu lines: \"%s\"", line, lines, err);
    FUZZ_CHECK(p[0] == ':' && p[1] == ' ' && p[2] != '\0', "not \"name:line: what\": \"%s\"", err);
}

static void parse(const char *text, size_t lines, bool only_policy)
{
    Config *cfg = cfg_new();
    FUZZ_CHECK(cfg != NULL, "cfg_new failed");
    char err[512];
    memset(err, 'x', sizeof err);
    int rc = cfg_parse(cfg, text, NAME, only_policy, err, sizeof err);
    FUZZ_CHECK(rc == 0 || rc == -1, "cfg_parse returned %d", rc);
    FUZZ_CHECK(fz_terminated(err, sizeof err), "error is not terminated");

    if (rc != 0) {
        check_error_shape(err, lines);
        /* The same error, cut to fit a small buffer. */
        Config *again = cfg_new();
        FUZZ_CHECK(again != NULL, "cfg_new failed");
        char small[16];
        memset(small, 'x', sizeof small);
        FUZZ_CHECK(cfg_parse(again, text, NAME, only_policy, small, sizeof small) == -1, "second parse succeeded");
        FUZZ_CHECK(fz_terminated(small, sizeof small), "small error is not terminated");
        FUZZ_CHECK(strncmp(small, err, strlen(small)) == 0 && strlen(small) == (strlen(err) < 15 ? strlen(err) : 15),
                   "\"%s\" is not the start of \"%s\"", small, err);
        cfg_free(again);
        cfg_free(cfg);
        return;
    }

    FUZZ_CHECK(err[0] == '\0', "success with an error: \"%s\"", err);
    char *dump = cfg_dump(cfg);
    FUZZ_CHECK(dump != NULL, "cfg_dump failed");
    char changes[256];
    FUZZ_CHECK(cfg_nonreloadable_changes(cfg, cfg, changes, sizeof changes) == 0, "changes against itself: %s",
               changes);
    if (only_policy) {
        char *mine = non_policy_lines(dump), *def = non_policy_lines(default_dump);
        FUZZ_CHECK(strcmp(mine, def) == 0, "a policy file changed keys outside [policy]:\n%s\nwas:\n%s", mine, def);
        free(mine);
        free(def);
        FUZZ_CHECK(cfg->n_rdkafka == 0, "a policy file set rdkafka properties");
    }
    free(dump);
    cfg_free(cfg);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    Config *cfg = cfg_new();
    FUZZ_CHECK(cfg != NULL, "cfg_new failed");
    default_dump = cfg_dump(cfg);
    FUZZ_CHECK(default_dump != NULL, "cfg_dump failed");
    cfg_free(cfg);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    FUZZ_CHECK(text != NULL, "out of memory");
    memcpy(text, data, size);
    text[size] = '\0';
    size_t lines = 1;
    for (const char *p = text; (p = strchr(p, '\n')) != NULL; p++)
        lines++;

    parse(text, lines, false);
    parse(text, lines, true);
    free(text);
    return 0;
}
