/* cfg: the INI configuration, driven by the key table below.
 *
 * libinih splits lines into sections, names and values. Three of its traits
 * need care, and are handled here without touching its global settings:
 *  - its handler gets no line number, so our own reader feeds it one line at
 *    a time and counts them;
 *  - its line buffer is small (200 bytes in Debian's build) and a longer
 *    line is silently split into several. The reader hands inih only the
 *    "name=" part of a long line and keeps the value aside for the handler,
 *    so values of any length work and line numbers stay right;
 *  - an indented line continues the previous value (multi-line values). No
 *    key here takes several lines, and indented keys are a natural way to
 *    write a section, so the reader strips leading white space and inih
 *    never sees a continuation.
 * inih strips inline ';' comments; the handler also strips inline '#' ones,
 * as the contract's example configuration uses them. */
#include "cfg.h"
#include "err.h"

#include <ctype.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum {
    CT_STRING,   /* char * */
    CT_ENUM,     /* char *, one of `choices` */
    CT_ENUM_SET, /* one of `choices`, stored by set_choice */
    CT_INT,      /* int, min..max */
    CT_INT64,    /* int64_t, min..max */
    CT_POLICY,   /* every pol_set key of the section */
} CfgType;

typedef struct CfgKey {
    const char *section;
    const char *name;
    CfgType type;
    size_t off;
    int64_t min, max;
    const char *const *choices; /* NULL-terminated */
    const char *def;
    bool reloadable;
    /* CT_STRING: extra validation; NULL accepts anything, "" included. */
    bool (*check)(const char *value, char *err, size_t errlen);
    /* CT_ENUM_SET: for fields that are C enums. */
    void (*set_choice)(Config *cfg, int index);
    const char *(*get_choice)(const Config *cfg);
    /* Dumped with its password masked. */
    bool secret;
} CfgKey;

static const char *const log_levels[] = {"error", "warning", "info", "debug", NULL};
static const char *const log_formats[] = {"text", "json", NULL};
static const char *const clock_modes[] = {"wall", "event", NULL};
static const char *const roles[] = {"all", "parcels", NULL};


/* ---- Value checks and custom keys -------------------------------------- */

static bool check_nonempty(const char *v, char *err, size_t errlen)
{
    if (*v == '\0') {
        err_set(err, errlen, "must not be empty");
        return false;
    }
    return true;
}

/* Kafka's own rule for topic names, so a typo fails here and not at the
 * broker. */
static bool check_topic(const char *v, char *err, size_t errlen)
{
    size_t n = strlen(v);
    bool ok = n > 0 && n <= 249 && strcmp(v, ".") != 0 && strcmp(v, "..") != 0;
    for (const char *p = v; ok && *p != '\0'; p++)
        ok = isalnum((unsigned char)*p) || *p == '.' || *p == '_' || *p == '-';
    if (!ok)
        err_set(err, errlen, "not a Kafka topic name (1 to 249 of A-Z a-z 0-9 . _ -)");
    return ok;
}

/* "" (off), "host:port" or "[v6 address]:port". */
static bool check_listen(const char *v, char *err, size_t errlen)
{
    if (*v == '\0')
        return true;
    const char *colon = strrchr(v, ':');
    bool ok = colon != NULL && colon > v && colon[1] != '\0';
    long port = 0;
    for (const char *p = ok ? colon + 1 : ""; ok && *p != '\0'; p++) {
        ok = isdigit((unsigned char)*p) && port <= 65535;
        port = port * 10 + (*p - '0');
    }
    ok = ok && port >= 1 && port <= 65535;
    if (ok && v[0] == '[')
        ok = colon[-1] == ']';
    if (ok && v[0] != '[')
        ok = memchr(v, ':', (size_t)(colon - v)) == NULL;
    for (const char *p = v; ok && *p != '\0'; p++)
        ok = !isspace((unsigned char)*p);
    if (!ok)
        err_set(err, errlen, "expected host:port (port 1 to 65535), [ipv6]:port, or nothing to turn it off");
    return ok;
}

static int index_of(const char *const *choices, const char *v)
{
    for (int i = 0; choices[i] != NULL; i++)
        if (strcasecmp(choices[i], v) == 0)
            return i;
    return -1;
}

static void choices_text(const char *const *choices, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; choices[i] != NULL && used < len; i++) {
        const char *sep = i == 0 ? "" : choices[i + 1] == NULL ? " or " : ", ";
        int n = snprintf(buf + used, len - used, "%s%s", sep, choices[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

static void set_clock_mode(Config *cfg, int index)
{
    cfg->clock_mode = index == 0 ? CLOCK_WALL : CLOCK_EVENT;
}

static const char *get_clock_mode(const Config *cfg)
{
    return cfg->clock_mode == CLOCK_EVENT ? "event" : "wall";
}

static void set_role(Config *cfg, int index)
{
    cfg->role = index == 1 ? ROLE_PARCELS : ROLE_ALL;
}

static const char *get_role(const Config *cfg)
{
    return cfg_role_name(cfg->role);
}

const char *cfg_role_name(DaemonRole role)
{
    return role == ROLE_PARCELS ? "parcels" : "all";
}

/* ---- The table ---------------------------------------------------------- */

/* Defaults are the ones of contract §11; cfg.h repeats them. */
static const CfgKey table[] = {
    {"kafka", "brokers", CT_STRING, offsetof(Config, brokers), .def = "127.0.0.1:9092", .check = check_nonempty},
    {"kafka", "group_id", CT_STRING, offsetof(Config, group_id), .def = "complaintd", .check = check_nonempty},
    {"kafka", "complaints_topic", CT_STRING, offsetof(Config, complaints_topic), .def = "complaints.events",
     .check = check_topic},
    {"kafka", "scans_topic", CT_STRING, offsetof(Config, scans_topic), .def = "parcels.scans", .check = check_topic},
    {"kafka", "alerts_topic", CT_STRING, offsetof(Config, alerts_topic), .def = "complaints.alerts",
     .check = check_topic},
    {"kafka", "dlq_topic", CT_STRING, offsetof(Config, dlq_topic), .def = "complaints.dlq", .check = check_topic},
    {"postgres", "conninfo", CT_STRING, offsetof(Config, conninfo), .def = "postgresql:///complaintd",
     .secret = true},
    {"clock", "mode", CT_ENUM_SET, .choices = clock_modes, .def = "wall", .set_choice = set_clock_mode,
     .get_choice = get_clock_mode},
    {"daemon", "log_level", CT_ENUM, offsetof(Config, log_level), .choices = log_levels, .def = "info",
     .reloadable = true},
    {"daemon", "log_format", CT_ENUM, offsetof(Config, log_format), .choices = log_formats, .def = "text",
     .reloadable = true},
    {"daemon", "role", CT_ENUM_SET, .choices = roles, .def = "all", .set_choice = set_role, .get_choice = get_role},
    {"daemon", "batch_max", CT_INT, offsetof(Config, batch_max), 1, 100000, .def = "2000"},
    {"daemon", "batch_linger_ms", CT_INT64, offsetof(Config, batch_linger_ms), 0, 10000, .def = "20"},
    {"daemon", "outbox_max", CT_INT, offsetof(Config, outbox_max), 1, 10000000, .def = "20000"},
    {"daemon", "max_event_bytes", CT_INT64, offsetof(Config, max_event_bytes), 1024, 16777216, .def = "1048576"},
    {"daemon", "metrics_listen", CT_STRING, offsetof(Config, metrics_listen), .def = "", .check = check_listen},
    {"policy", "file", CT_STRING, offsetof(Config, policy_file), .def = "", .reloadable = true},
    /* Every other [policy] key goes to pol_set; all of them reload. */
    {"policy", "*", CT_POLICY, .reloadable = true},
};
#define N_TABLE (sizeof(table) / sizeof(table[0]))

static const char *const sections[] = {"kafka", "postgres", "clock", "daemon", "policy", NULL};

#define RDKAFKA_PREFIX "rdkafka."

static char **str_field(Config *cfg, const CfgKey *k)
{
    return (char **)(void *)((char *)cfg + k->off);
}

static const char *str_value(const Config *cfg, const CfgKey *k)
{
    const char *v = *(char *const *)(const void *)((const char *)cfg + k->off);
    return v != NULL ? v : "";
}

static int store_string(Config *cfg, const CfgKey *k, const char *value, char *err, size_t errlen)
{
    char *copy = strdup(value);
    if (copy == NULL) {
        err_set(err, errlen, "out of memory");
        return -1;
    }
    char **slot = str_field(cfg, k);
    free(*slot);
    *slot = copy;
    return 0;
}

/* Whole decimal number, no sign, no blanks, within min..max. */
static bool parse_int(const char *v, int64_t min, int64_t max, int64_t *out)
{
    if (!isdigit((unsigned char)*v))
        return false;
    int64_t n = 0;
    for (; *v != '\0'; v++) {
        if (!isdigit((unsigned char)*v) || n > (INT64_MAX - 9) / 10)
            return false;
        n = n * 10 + (*v - '0');
    }
    if (n < min || n > max)
        return false;
    *out = n;
    return true;
}

/* Sets one key from the table; the message in err names the key but not
 * the place (the caller adds "name:line: "). */
static int set_key(Config *cfg, const CfgKey *k, const char *value, char *err, size_t errlen)
{
    char msg[160];
    int64_t n;

    switch (k->type) {
    case CT_STRING:
        if (k->check != NULL && !k->check(value, msg, sizeof(msg))) {
            err_set(err, errlen, "bad value '%.64s' for %s: %s", value, k->name, msg);
            return -1;
        }
        return store_string(cfg, k, value, err, errlen);
    case CT_ENUM:
    case CT_ENUM_SET: {
        int i = index_of(k->choices, value);
        if (i < 0) {
            choices_text(k->choices, msg, sizeof(msg));
            err_set(err, errlen, "bad value '%.64s' for %s: expected %s", value, k->name, msg);
            return -1;
        }
        if (k->type == CT_ENUM_SET) {
            k->set_choice(cfg, i);
            return 0;
        }
        /* Stored as spelled in the table, so "INFO" reads back as "info". */
        return store_string(cfg, k, k->choices[i], err, errlen);
    }
    case CT_INT:
    case CT_INT64:
        if (!parse_int(value, k->min, k->max, &n)) {
            err_set(err, errlen, "bad value '%.64s' for %s: expected an integer from %lld to %lld", value, k->name,
                    (long long)k->min, (long long)k->max);
            return -1;
        }
        if (k->type == CT_INT)
            *(int *)(void *)((char *)cfg + k->off) = (int)n;
        else
            *(int64_t *)(void *)((char *)cfg + k->off) = n;
        return 0;
    case CT_POLICY:
        break;
    }
    err_set(err, errlen, "key %s cannot be set directly", k->name);
    return -1;
}

/* The value of a key as text: the stored string itself, or buf. */
static const char *key_value(const Config *cfg, const CfgKey *k, char *buf, size_t len)
{
    switch (k->type) {
    case CT_STRING:
    case CT_ENUM:
        return str_value(cfg, k);
    case CT_ENUM_SET:
        return k->get_choice(cfg);
    case CT_INT:
        snprintf(buf, len, "%d", *(const int *)(const void *)((const char *)cfg + k->off));
        return buf;
    case CT_INT64:
        snprintf(buf, len, "%lld", (long long)*(const int64_t *)(const void *)((const char *)cfg + k->off));
        return buf;
    case CT_POLICY:
        break;
    }
    return "";
}

static const CfgKey *find_key(const char *section, const char *name)
{
    for (size_t i = 0; i < N_TABLE; i++) {
        if (strcmp(table[i].section, section) != 0)
            continue;
        if (strcmp(table[i].name, name) == 0 || table[i].type == CT_POLICY)
            return &table[i];
    }
    return NULL;
}

/* ---- Config objects ------------------------------------------------------ */

void cfg_free(Config *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < N_TABLE; i++)
        if (table[i].type == CT_STRING || table[i].type == CT_ENUM)
            free(*str_field(cfg, &table[i]));
    for (int i = 0; i < cfg->n_rdkafka; i++) {
        free(cfg->rdkafka[i].key);
        free(cfg->rdkafka[i].value);
    }
    pol_free(cfg->policy);
    free(cfg);
}

Config *cfg_new(void)
{
    Config *cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL)
        return NULL;
    cfg->policy = pol_new();
    if (cfg->policy == NULL)
        goto fail;
    /* Defaults go through the same setters as the file, so they obey the
     * same rules. */
    for (size_t i = 0; i < N_TABLE; i++)
        if (table[i].def != NULL && set_key(cfg, &table[i], table[i].def, NULL, 0) != 0)
            goto fail;
    return cfg;
fail:
    cfg_free(cfg);
    return NULL;
}

/* "rdkafka.<prop> = value": the last one of a property wins. */
static int set_rdkafka(Config *cfg, const char *prop, const char *value, char *err, size_t errlen)
{
    if (*prop == '\0') {
        err_set(err, errlen, "missing librdkafka property name after '" RDKAFKA_PREFIX "'");
        return -1;
    }
    for (int i = 0; i < cfg->n_rdkafka; i++) {
        if (strcmp(cfg->rdkafka[i].key, prop) == 0) {
            char *v = strdup(value);
            if (v == NULL) {
                err_set(err, errlen, "out of memory");
                return -1;
            }
            free(cfg->rdkafka[i].value);
            cfg->rdkafka[i].value = v;
            return 0;
        }
    }
    if (cfg->n_rdkafka == CFG_MAX_RDKAFKA) {
        err_set(err, errlen, "too many " RDKAFKA_PREFIX "* keys (at most %d)", CFG_MAX_RDKAFKA);
        return -1;
    }
    char *k = strdup(prop), *v = strdup(value);
    if (k == NULL || v == NULL) {
        free(k);
        free(v);
        err_set(err, errlen, "out of memory");
        return -1;
    }
    cfg->rdkafka[cfg->n_rdkafka].key = k;
    cfg->rdkafka[cfg->n_rdkafka].value = v;
    cfg->n_rdkafka++;
    return 0;
}

/* ---- Parsing ------------------------------------------------------------- */

typedef struct Parse {
    Config *cfg;
    const char *name;
    bool only_policy;
    const char *pos;         /* next line of the text */
    int lineno;              /* of the line inih is working on */
    const char *long_value;  /* value of a line too long for inih, or NULL */
    size_t long_len;
    bool failed;
    int err_line;
    char *err;
    size_t errlen;
    int topic_line[4]; /* where each of TOPIC_KEYS was set, 0 when not */
} Parse;

/* The topics, inputs first. */
static const char *const TOPIC_KEYS[4] = {"complaints_topic", "scans_topic", "alerts_topic", "dlq_topic"};

__attribute__((format(printf, 2, 3))) static void fail(Parse *ps, const char *fmt, ...)
{
    if (ps->failed)
        return;
    ps->failed = true;
    ps->err_line = ps->lineno;
    if (ps->err == NULL || ps->errlen == 0)
        return;
    int n = snprintf(ps->err, ps->errlen, "%s:%d: ", ps->name, ps->lineno);
    if (n < 0 || (size_t)n >= ps->errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

static bool known_section(const char *s, size_t len)
{
    for (int i = 0; sections[i] != NULL; i++)
        if (strlen(sections[i]) == len && strncmp(sections[i], s, len) == 0)
            return true;
    return false;
}

/* inih ignores whatever follows the ']' and keeps unknown sections; both
 * would hide typos, so a header is checked before inih sees it. */
static bool check_section(Parse *ps, const char *line, size_t len)
{
    const char *close = memchr(line, ']', len);
    if (close == NULL) {
        fail(ps, "missing ']' in section header");
        return false;
    }
    const char *name = line + 1;
    size_t n = (size_t)(close - name);
    for (const char *p = close + 1; p < line + len; p++) {
        if (*p == '#' || *p == ';')
            break;
        if (!isspace((unsigned char)*p)) {
            fail(ps, "unexpected text after the section header [%.*s]", (int)(n > 64 ? 64 : n), name);
            return false;
        }
    }
    if (!known_section(name, n)) {
        fail(ps, "unknown section [%.*s]", (int)(n > 64 ? 64 : n), name);
        return false;
    }
    if (ps->only_policy && !(n == 6 && strncmp(name, "policy", 6) == 0)) {
        fail(ps, "section [%.*s] is not allowed here: a policy file has only a [policy] section", (int)n, name);
        return false;
    }
    return true;
}

/* Where inih would split "name = value": the first '=' or ':', unless an
 * inline ';' comment comes first. -1 when the line is no such pair. */
static long split_at(const char *line, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (line[i] == '=' || line[i] == ':')
            return (long)i;
        if (line[i] == ';' && i > 0 && isspace((unsigned char)line[i - 1]))
            return -1;
    }
    return -1;
}

/* fgets-style: hands inih the next line, without its end of line, its
 * leading white space, or (first line) a UTF-8 byte order mark. */
static char *read_line(char *str, int num, void *stream)
{
    Parse *ps = stream;
    if (ps->failed || *ps->pos == '\0')
        return NULL;
    if (num < 3) {
        fail(ps, "line buffer too small");
        return NULL;
    }

    const char *line = ps->pos;
    const char *nl = strchr(line, '\n');
    size_t len = nl != NULL ? (size_t)(nl - line) : strlen(line);
    ps->pos = nl != NULL ? nl + 1 : line + len;
    ps->lineno++;
    ps->long_value = NULL;

    if (ps->lineno == 1 && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0)
        line += 3, len -= 3;
    while (len > 0 && isspace((unsigned char)*line))
        line++, len--;
    while (len > 0 && isspace((unsigned char)line[len - 1]))
        len--;

    /* Room for the line, a '\n' and the NUL: a reader that fills the whole
     * buffer without a '\n' would make builds of inih that grow their
     * buffer glue the next line on. */
    size_t room = (size_t)num - 2;

    if (len == 0 || *line == '#' || *line == ';') {
        /* A comment's text never matters, so a long one is no problem. */
        len = 0;
    } else if (*line == '[') {
        if (!check_section(ps, line, len))
            return NULL;
        if (len > room) {
            fail(ps, "line too long");
            return NULL;
        }
    } else {
        long eq = split_at(line, len);
        if (eq < 0) {
            fail(ps, "expected 'key = value', a [section] or a comment");
            return NULL;
        }
        if (len > room) {
            if ((size_t)eq + 1 > room) {
                fail(ps, "key name too long");
                return NULL;
            }
            ps->long_value = line + eq + 1;
            ps->long_len = len - (size_t)eq - 1;
            len = (size_t)eq + 1;
        }
    }
    memcpy(str, line, len);
    str[len] = '\n';
    str[len + 1] = '\0';
    return str;
}

/* Copies a value without its comment: '#' or ';' at its start or after white
 * space begins one (inih strips only the ';' kind, and not at the start). */
static char *clean_value(const char *v, size_t len)
{
    size_t end = 0;
    while (end < len && isspace((unsigned char)v[end]))
        end++;
    v += end;
    len -= end;
    for (end = 0; end < len; end++)
        if ((v[end] == '#' || v[end] == ';') && (end == 0 || isspace((unsigned char)v[end - 1])))
            break;
    while (end > 0 && isspace((unsigned char)v[end - 1]))
        end--;
    char *out = malloc(end + 1);
    if (out != NULL) {
        memcpy(out, v, end);
        out[end] = '\0';
    }
    return out;
}

static int apply(Parse *ps, const char *section, const char *name, const char *value)
{
    char msg[320];
    Config *cfg = ps->cfg;

    if (*section == '\0') {
        fail(ps, "key '%.64s' is outside any [section]", name);
        return -1;
    }
    if (*name == '\0') {
        fail(ps, "missing key name before '='");
        return -1;
    }
    if (strcmp(section, "kafka") == 0 && strncmp(name, RDKAFKA_PREFIX, strlen(RDKAFKA_PREFIX)) == 0) {
        if (set_rdkafka(cfg, name + strlen(RDKAFKA_PREFIX), value, msg, sizeof(msg)) != 0) {
            fail(ps, "%s", msg);
            return -1;
        }
        return 0;
    }
    const CfgKey *k = find_key(section, name);
    if (k == NULL) {
        fail(ps, "unknown key '%.64s' in [%s]", name, section);
        return -1;
    }
    if (k->type == CT_POLICY) {
        int rc = pol_set(cfg->policy, name, value, msg, sizeof(msg));
        if (rc == 1)
            fail(ps, "unknown key '%.64s' in [%s]", name, section);
        else if (rc != 0)
            fail(ps, "%s", msg);
        return rc == 0 ? 0 : -1;
    }
    if (ps->only_policy && strcmp(k->name, "file") == 0) {
        fail(ps, "a policy file cannot name another policy file");
        return -1;
    }
    if (set_key(cfg, k, value, msg, sizeof(msg)) != 0) {
        fail(ps, "%s", msg);
        return -1;
    }
    for (int i = 0; i < 4; i++)
        if (strcmp(section, "kafka") == 0 && strcmp(name, TOPIC_KEYS[i]) == 0)
            ps->topic_line[i] = ps->lineno;
    return 0;
}

/* Four topics, four names: an output topic that is also an input would
 * read back what the daemon writes (each dead letter dead-lettered again,
 * without end), and two inputs or two outputs on one topic would mix what
 * their readers expect. Reported at the later of the two keys' lines. */
static void check_topics(Parse *ps)
{
    const Config *c = ps->cfg;
    const char *v[4] = {c->complaints_topic, c->scans_topic, c->alerts_topic, c->dlq_topic};
    for (int j = 1; j < 4; j++)
        for (int i = 0; i < j; i++) {
            if (strcmp(v[i], v[j]) != 0)
                continue;
            bool later_j = ps->topic_line[j] >= ps->topic_line[i];
            ps->lineno = later_j ? ps->topic_line[j] : ps->topic_line[i];
            fail(ps, "%s is the topic %s already names (%.64s): the four topics must differ",
                 TOPIC_KEYS[later_j ? j : i], TOPIC_KEYS[later_j ? i : j], v[j]);
            return;
        }
}

static int on_pair(void *user, const char *section, const char *name, const char *value)
{
    Parse *ps = user;
    if (ps->failed)
        return 0;
    char *v = ps->long_value != NULL ? clean_value(ps->long_value, ps->long_len) : clean_value(value, strlen(value));
    ps->long_value = NULL;
    if (v == NULL) {
        fail(ps, "out of memory");
        return 0;
    }
    int rc = apply(ps, section, name, v);
    free(v);
    return rc == 0;
}

int cfg_parse(Config *cfg, const char *text, const char *name, bool only_policy, char *err, size_t errlen)
{
    Parse ps = {
        .cfg = cfg,
        .name = name != NULL ? name : "config",
        .only_policy = only_policy,
        .pos = text != NULL ? text : "",
        .err = err,
        .errlen = errlen,
    };
    if (err != NULL && errlen > 0)
        err[0] = '\0';

    int r = ini_parse_stream(read_line, &ps, on_pair, &ps);
    if (r < 0) {
        /* inih's own allocation failed; there is no line to point at. */
        err_set(err, errlen, "%s: out of memory", ps.name);
        return -1;
    }
    /* inih found something the reader let through, on a line before any
     * error of ours. */
    if (r > 0 && (!ps.failed || r < ps.err_line)) {
        ps.failed = false;
        ps.lineno = r;
        fail(&ps, "expected 'key = value', a [section] or a comment");
    }
    if (!ps.failed && !only_policy)
        check_topics(&ps);
    return ps.failed ? -1 : 0;
}

/* ---- Reload rules and dump ------------------------------------------------ */

typedef struct Buf {
    char *s;
    size_t len, cap;
    bool oom;
} Buf;

__attribute__((format(printf, 2, 3))) static void buf_printf(Buf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    if (b->s == NULL) {
        b->s = malloc(256);
        if (b->s == NULL) {
            b->oom = true;
            return;
        }
        b->cap = 256;
    }
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = true;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap + (size_t)n + 1) * 2;
        char *s = realloc(b->s, cap);
        if (s == NULL) {
            b->oom = true;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
}

/* Appends "section.key" to a comma-separated list cut to outlen. */
static void list_add(char *out, size_t outlen, int *count, const char *section, const char *key,
                     const char *sub)
{
    if (out != NULL && outlen > 0) {
        size_t used = strlen(out);
        if (used < outlen)
            snprintf(out + used, outlen - used, "%s%s.%s%s", *count > 0 ? ", " : "", section, key, sub);
    }
    (*count)++;
}

static const char *rdkafka_get(const Config *c, const char *key)
{
    for (int i = 0; i < c->n_rdkafka; i++)
        if (strcmp(c->rdkafka[i].key, key) == 0)
            return c->rdkafka[i].value;
    return NULL;
}

int cfg_nonreloadable_changes(const Config *a, const Config *b, char *out, size_t outlen)
{
    int count = 0;
    if (out != NULL && outlen > 0)
        out[0] = '\0';
    for (size_t i = 0; i < N_TABLE; i++) {
        const CfgKey *k = &table[i];
        if (k->reloadable)
            continue;
        char ba[32], bb[32];
        if (strcmp(key_value(a, k, ba, sizeof(ba)), key_value(b, k, bb, sizeof(bb))) != 0)
            list_add(out, outlen, &count, k->section, k->name, "");
    }
    /* Properties set, changed or removed; each side is looked up in the other. */
    for (int i = 0; i < a->n_rdkafka; i++) {
        const char *vb = rdkafka_get(b, a->rdkafka[i].key);
        if (vb == NULL || strcmp(vb, a->rdkafka[i].value) != 0)
            list_add(out, outlen, &count, "kafka", RDKAFKA_PREFIX, a->rdkafka[i].key);
    }
    for (int i = 0; i < b->n_rdkafka; i++)
        if (rdkafka_get(a, b->rdkafka[i].key) == NULL)
            list_add(out, outlen, &count, "kafka", RDKAFKA_PREFIX, b->rdkafka[i].key);
    return count;
}

/* strcasestr is a GNU extension. */
static const char *find_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay != '\0'; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return hay;
    return NULL;
}

/* Properties that hold credentials or key material. */
static bool secret_property(const char *key)
{
    static const char *const words[] = {"password", "secret", "ssl.key.pem", "sasl.oauthbearer.config", NULL};
    for (int i = 0; words[i] != NULL; i++)
        if (find_ci(key, words[i]) != NULL)
            return true;
    return false;
}

/* ---- Passwords in a libpq connection string -------------------------------
 *
 * The connection string is split the way libpq splits it, so that what is
 * masked is what libpq takes for a password:
 *  - URI form (postgresql://, postgres://): the password of the user info,
 *    from the first ':' to the last '@' before the first '/' (libpq stops at
 *    the first '@'; the last one also covers a password with an '@' that was
 *    not percent-encoded), and the value, up to the next '&', of every query
 *    parameter whose percent-decoded name contains "password";
 *  - keyword form: the value of every keyword that contains "password"
 *    (password, sslpassword), quoted ('a b', with \' and \\ escapes) or not
 *    (up to white space, a backslash escaping the next character), and every
 *    word that is not `keyword = value`: libpq rejects the string, and such
 *    a word is most likely the rest of a password with a blank in it that
 *    was not quoted;
 *  - a string with neither a '=' nor a URI prefix is a database name. */

typedef struct Secret {
    size_t off, len;             /* as written, quotes included: masked in the dump */
    size_t inner_off, inner_len; /* without the quotes: redacted in messages */
} Secret;

typedef struct Secrets {
    Secret *v;
    size_t n, cap;
    bool oom;
} Secrets;

static void secret_add(Secrets *ss, size_t off, size_t len, size_t inner_off, size_t inner_len)
{
    if (ss->oom)
        return;
    if (ss->n == ss->cap) {
        size_t cap = ss->cap ? ss->cap * 2 : 4;
        Secret *v = realloc(ss->v, cap * sizeof(*v));
        if (v == NULL) {
            ss->oom = true;
            return;
        }
        ss->v = v;
        ss->cap = cap;
    }
    ss->v[ss->n++] = (Secret){off, len, inner_off, inner_len};
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Whether the URI query parameter name s[0..len) names a password once
 * percent-decoded, as libpq decodes it. */
static bool uri_password_key(const char *s, size_t len)
{
    char key[128];
    size_t k = 0;
    for (size_t i = 0; i < len && k < sizeof(key) - 1; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < len && (hi = hex_digit(s[i + 1])) >= 0 && (lo = hex_digit(s[i + 2])) >= 0) {
            key[k++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            key[k++] = s[i];
        }
    }
    key[k] = '\0';
    return find_ci(key, "password") != NULL;
}

static void uri_secrets(const char *s, size_t scheme_len, Secrets *ss)
{
    const char *auth = s + scheme_len;
    size_t alen = strcspn(auth, "/");
    const char *at = NULL;
    for (const char *q = auth; q < auth + alen; q++)
        if (*q == '@')
            at = q;
    const char *rest = auth;
    if (at != NULL) {
        const char *colon = memchr(auth, ':', (size_t)(at - auth));
        if (colon != NULL) {
            size_t off = (size_t)(colon + 1 - s), len = (size_t)(at - colon - 1);
            secret_add(ss, off, len, off, len);
        }
        rest = at + 1;
    }
    const char *q = strchr(rest, '?');
    if (q == NULL)
        return;
    for (const char *p = q + 1; *p != '\0';) {
        size_t plen = strcspn(p, "&");
        const char *eq = memchr(p, '=', plen);
        if (eq != NULL && uri_password_key(p, (size_t)(eq - p))) {
            size_t off = (size_t)(eq + 1 - s), len = plen - (size_t)(eq + 1 - p);
            secret_add(ss, off, len, off, len);
        }
        p += plen;
        if (*p == '&')
            p++;
    }
}

static void keyword_secrets(const char *s, Secrets *ss)
{
    const char *p = s;
    for (;;) {
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '\0')
            return;
        const char *key = p;
        while (*p != '\0' && *p != '=' && !isspace((unsigned char)*p))
            p++;
        size_t klen = (size_t)(p - key);
        while (isspace((unsigned char)*p))
            p++;
        if (*p != '=') {
            /* a word that is not keyword = value */
            secret_add(ss, (size_t)(key - s), klen, (size_t)(key - s), klen);
            continue;
        }
        p++;
        while (isspace((unsigned char)*p))
            p++;
        const char *val = p, *inner = p;
        if (*p == '\'') {
            inner = ++p;
            while (*p != '\0' && *p != '\'') {
                if (*p == '\\' && p[1] != '\0')
                    p++;
                p++;
            }
        } else {
            while (*p != '\0' && !isspace((unsigned char)*p)) {
                if (*p == '\\' && p[1] != '\0')
                    p++;
                p++;
            }
        }
        size_t inner_len = (size_t)(p - inner);
        if (*val == '\'' && *p == '\'')
            p++;
        char name[64];
        snprintf(name, sizeof(name), "%.*s", (int)(klen < sizeof(name) ? klen : sizeof(name) - 1), key);
        if (find_ci(name, "password") != NULL)
            secret_add(ss, (size_t)(val - s), (size_t)(p - val), (size_t)(inner - s), inner_len);
    }
}

/* The secrets of a connection string, in the order they appear. */
static Secrets conninfo_secrets(const char *s)
{
    Secrets ss = {0};
    if (strncmp(s, "postgresql://", 13) == 0)
        uri_secrets(s, 13, &ss);
    else if (strncmp(s, "postgres://", 11) == 0)
        uri_secrets(s, 11, &ss);
    else if (strchr(s, '=') != NULL)
        keyword_secrets(s, &ss);
    return ss;
}

/* The connection string with each secret replaced by "***"; a password
 * whose value is empty is shown as "***" too. */
static void dump_conninfo(Buf *b, const char *s)
{
    Secrets ss = conninfo_secrets(s);
    if (ss.oom) {
        buf_printf(b, "***");
        free(ss.v);
        return;
    }
    size_t at = 0;
    for (size_t i = 0; i < ss.n; i++) {
        buf_printf(b, "%.*s***", (int)(ss.v[i].off - at), s + at);
        at = ss.v[i].off + ss.v[i].len;
    }
    buf_printf(b, "%s", s + at);
    free(ss.v);
}

void cfg_redact_conninfo(const char *conninfo, const char *text, char *out, size_t outlen)
{
    if (out == NULL || outlen == 0)
        return;
    Secrets ss = conninfo_secrets(conninfo != NULL ? conninfo : "");
    size_t k = 0;
    for (const char *p = text != NULL ? text : ""; *p != '\0' && k < outlen - 1;) {
        size_t hit = 0;
        for (size_t i = 0; i < ss.n; i++) {
            const Secret *x = &ss.v[i];
            if (x->inner_len > hit && strncmp(p, conninfo + x->inner_off, x->inner_len) == 0)
                hit = x->inner_len;
        }
        if (hit > 0) {
            for (const char *m = "***"; *m != '\0' && k < outlen - 1; m++)
                out[k++] = *m;
            p += hit;
        } else {
            out[k++] = *p++;
        }
    }
    out[k] = '\0';
    /* Without the list of secrets nothing can be shown safely. */
    if (ss.oom)
        snprintf(out, outlen, "(message hidden: out of memory)");
    free(ss.v);
}

static void dump_line(Buf *b, const char *section, const char *key, const char *value)
{
    buf_printf(b, "%s.%s =%s%s\n", section, key, *value != '\0' ? " " : "", value);
}

char *cfg_dump(const Config *cfg)
{
    Buf b = {0};
    char num[32];

    for (size_t i = 0; i < N_TABLE; i++) {
        const CfgKey *k = &table[i];
        if (k->type == CT_POLICY) {
            const char *pk;
            for (size_t j = 0; (pk = pol_key_name(j)) != NULL; j++) {
                char small[128];
                int n = pol_get(cfg->policy, pk, small, sizeof(small));
                if (n < 0)
                    continue;
                if ((size_t)n < sizeof(small)) {
                    dump_line(&b, k->section, pk, small);
                    continue;
                }
                char *big = malloc((size_t)n + 1);
                if (big == NULL) {
                    b.oom = true;
                    break;
                }
                (void)pol_get(cfg->policy, pk, big, (size_t)n + 1);
                dump_line(&b, k->section, pk, big);
                free(big);
            }
            continue;
        }
        const char *v = key_value(cfg, k, num, sizeof(num));
        if (k->secret && *v != '\0') {
            buf_printf(&b, "%s.%s = ", k->section, k->name);
            dump_conninfo(&b, v);
            buf_printf(&b, "\n");
        } else {
            dump_line(&b, k->section, k->name, v);
        }
        /* The passthrough properties belong with the rest of [kafka]. */
        if (strcmp(k->name, "dlq_topic") == 0) {
            for (int j = 0; j < cfg->n_rdkafka; j++) {
                buf_printf(&b, "kafka." RDKAFKA_PREFIX "%s = %s\n", cfg->rdkafka[j].key,
                           secret_property(cfg->rdkafka[j].key) ? "***" : cfg->rdkafka[j].value);
            }
        }
    }
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}
