/* Unit tests for lib/cfg: the INI configuration of contract §11, its key
 * table, error places ("name:line: ..."), reload rules and dump. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "policy.h"
#include "testutil.h"

static Config *new_cfg(void)
{
    Config *cfg = cfg_new();
    ck_assert_ptr_nonnull(cfg);
    return cfg;
}

static Config *parse_ok(const char *text)
{
    Config *cfg = new_cfg();
    char err[512] = "";
    int rc = cfg_parse(cfg, text, "t.ini", false, err, sizeof(err));
    ck_assert_msg(rc == 0, "unexpected error: %s\n---\n%s", err, text);
    return cfg;
}

/* Parses text that must fail with exactly `want` as the message. */
static void parse_fails(const char *text, bool only_policy, const char *want)
{
    Config *cfg = new_cfg();
    char err[512] = "";
    int rc = cfg_parse(cfg, text, "t.ini", only_policy, err, sizeof(err));
    ck_assert_msg(rc == -1, "accepted:\n%s", text);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "got \"%s\", want it to start with \"%s\"", err, want);
    cfg_free(cfg);
}

static bool has_line(const char *dump, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = dump; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
            return true;
    return false;
}

/* ---- Defaults -------------------------------------------------------------- */

START_TEST(test_defaults)
{
    Config *c = new_cfg();
    ck_assert_str_eq(c->brokers, "127.0.0.1:9092");
    ck_assert_str_eq(c->group_id, "complaintd");
    ck_assert_str_eq(c->complaints_topic, "complaints.events");
    ck_assert_str_eq(c->scans_topic, "parcels.scans");
    ck_assert_str_eq(c->alerts_topic, "complaints.alerts");
    ck_assert_str_eq(c->dlq_topic, "complaints.dlq");
    ck_assert_int_eq(c->n_rdkafka, 0);
    ck_assert_str_eq(c->conninfo, "postgresql:///complaintd");
    ck_assert_int_eq(c->clock_mode, CLOCK_WALL);
    ck_assert_str_eq(c->log_level, "info");
    ck_assert_int_eq(c->batch_max, 2000);
    ck_assert_int_eq(c->batch_linger_ms, 20);
    ck_assert_int_eq(c->max_event_bytes, 1048576);
    ck_assert_str_eq(c->metrics_listen, "");
    ck_assert_str_eq(c->policy_file, "");
    ck_assert_ptr_nonnull(c->policy);
    ck_assert_int_eq(c->policy->bulk_threshold, 10);
    cfg_free(c);
    cfg_free(NULL);
}
END_TEST

START_TEST(test_empty_text)
{
    Config *c = parse_ok("");
    ck_assert_str_eq(c->brokers, "127.0.0.1:9092");
    cfg_free(c);
    c = parse_ok("\n\n# only comments\n; here\n");
    cfg_free(c);
}
END_TEST

/* ---- The contract's example -------------------------------------------------- */

static const char contract_example[] =
    "[kafka]\n"
    "brokers = 127.0.0.1:9092\n"
    "group_id = complaintd\n"
    "complaints_topic = complaints.events\n"
    "scans_topic = parcels.scans\n"
    "alerts_topic = complaints.alerts\n"
    "dlq_topic = complaints.dlq\n"
    "\n"
    "[postgres]\n"
    "conninfo = postgresql:///complaintd\n"
    "\n"
    "[clock]\n"
    "mode = wall            # wall: now is the system clock. event: now is the largest\n"
    "                       # occurred_at seen (replay/backfill; deterministic tests)\n"
    "\n"
    "[policy]\n"
    "bulk_threshold = 10\n"
    "bulk_window = 60m\n"
    "stall_after = 168h\n"
    "repeat_lookback = 90d\n";

START_TEST(test_contract_example)
{
    Config *c = parse_ok(contract_example);
    ck_assert_str_eq(c->brokers, "127.0.0.1:9092");
    ck_assert_str_eq(c->group_id, "complaintd");
    ck_assert_str_eq(c->complaints_topic, "complaints.events");
    ck_assert_str_eq(c->scans_topic, "parcels.scans");
    ck_assert_str_eq(c->alerts_topic, "complaints.alerts");
    ck_assert_str_eq(c->dlq_topic, "complaints.dlq");
    ck_assert_str_eq(c->conninfo, "postgresql:///complaintd");
    ck_assert_int_eq(c->clock_mode, CLOCK_WALL);
    ck_assert_int_eq(c->policy->bulk_threshold, 10);
    ck_assert_int_eq(c->policy->bulk_window, 3600);
    ck_assert_int_eq(c->policy->stall_after, 168 * 3600);
    ck_assert_int_eq(c->policy->repeat_lookback, 90 * 86400);
    cfg_free(c);
}
END_TEST

START_TEST(test_contract_example_event_mode)
{
    char text[sizeof(contract_example)];
    strcpy(text, contract_example);
    char *m = strstr(text, "mode = wall");
    memcpy(m, "mode = EVENT", 12); /* also eats one of the blanks before '#' */
    Config *c = parse_ok(text);
    ck_assert_int_eq(c->clock_mode, CLOCK_EVENT);
    cfg_free(c);
}
END_TEST

/* ---- Every key: good and bad values ------------------------------------------ */

typedef enum { F_NONE, F_STR, F_INT, F_INT64, F_CLOCK, F_ROLE } Field;

static const struct {
    const char *section, *key, *value;
    bool ok;
    Field field;
    size_t off;
    const char *want; /* F_STR: stored string; F_INT*, F_CLOCK: number */
} keys[] = {
#define S(sec, k, v, fld, w) {sec, k, v, true, F_STR, offsetof(Config, fld), w}
#define I(sec, k, v, fld, w) {sec, k, v, true, F_INT, offsetof(Config, fld), w}
#define L(sec, k, v, fld, w) {sec, k, v, true, F_INT64, offsetof(Config, fld), w}
#define BAD(sec, k, v) {sec, k, v, false, F_NONE, 0, NULL}
    S("kafka", "brokers", "k1:9092,k2:9092", brokers, "k1:9092,k2:9092"),
    BAD("kafka", "brokers", ""),
    S("kafka", "group_id", "desk-7", group_id, "desk-7"),
    BAD("kafka", "group_id", ""),
    S("kafka", "complaints_topic", "a.b_c-D9", complaints_topic, "a.b_c-D9"),
    BAD("kafka", "complaints_topic", ""),
    BAD("kafka", "complaints_topic", "has space"),
    BAD("kafka", "complaints_topic", "bad/char"),
    BAD("kafka", "complaints_topic", ".."),
    S("kafka", "scans_topic", "scans", scans_topic, "scans"),
    BAD("kafka", "scans_topic", "a*b"),
    S("kafka", "alerts_topic", "alerts", alerts_topic, "alerts"),
    BAD("kafka", "alerts_topic", ""),
    S("kafka", "dlq_topic", "dlq", dlq_topic, "dlq"),
    BAD("kafka", "dlq_topic", "d l q"),
    S("postgres", "conninfo", "host=/run/postgresql dbname=c", conninfo, "host=/run/postgresql dbname=c"),
    S("postgres", "conninfo", "", conninfo, ""),
    {"clock", "mode", "event", true, F_CLOCK, 0, "1"},
    {"clock", "mode", "Wall", true, F_CLOCK, 0, "0"},
    BAD("clock", "mode", "replay"),
    BAD("clock", "mode", ""),
    {"daemon", "role", "parcels", true, F_ROLE, 0, "1"},
    {"daemon", "role", "All", true, F_ROLE, 0, "0"},
    BAD("daemon", "role", "tickets"),
    BAD("daemon", "role", ""),
    S("daemon", "log_level", "debug", log_level, "debug"),
    S("daemon", "log_level", "WARNING", log_level, "warning"),
    S("daemon", "log_level", "error", log_level, "error"),
    BAD("daemon", "log_level", "warn"),
    BAD("daemon", "log_level", "verbose"),
    I("daemon", "batch_max", "1", batch_max, "1"),
    I("daemon", "batch_max", "100000", batch_max, "100000"),
    BAD("daemon", "batch_max", "0"),
    BAD("daemon", "batch_max", "100001"),
    BAD("daemon", "batch_max", "-5"),
    BAD("daemon", "batch_max", "1k"),
    BAD("daemon", "batch_max", ""),
    BAD("daemon", "batch_max", "99999999999999999999999"),
    L("daemon", "batch_linger_ms", "0", batch_linger_ms, "0"),
    L("daemon", "batch_linger_ms", "10000", batch_linger_ms, "10000"),
    BAD("daemon", "batch_linger_ms", "10001"),
    BAD("daemon", "batch_linger_ms", "20ms"),
    L("daemon", "max_event_bytes", "1024", max_event_bytes, "1024"),
    L("daemon", "max_event_bytes", "16777216", max_event_bytes, "16777216"),
    BAD("daemon", "max_event_bytes", "1023"),
    BAD("daemon", "max_event_bytes", "16777217"),
    BAD("daemon", "max_event_bytes", "1M"),
    S("daemon", "metrics_listen", "127.0.0.1:9187", metrics_listen, "127.0.0.1:9187"),
    S("daemon", "metrics_listen", "[::1]:9187", metrics_listen, "[::1]:9187"),
    S("daemon", "metrics_listen", "localhost:1", metrics_listen, "localhost:1"),
    S("daemon", "metrics_listen", "", metrics_listen, ""),
    BAD("daemon", "metrics_listen", "9187"),
    BAD("daemon", "metrics_listen", ":9187"),
    BAD("daemon", "metrics_listen", "host:"),
    BAD("daemon", "metrics_listen", "host:0"),
    BAD("daemon", "metrics_listen", "host:65536"),
    BAD("daemon", "metrics_listen", "host:99999999999"),
    BAD("daemon", "metrics_listen", "host:http"),
    BAD("daemon", "metrics_listen", "::1:9187"),
    S("policy", "file", "/etc/complaintd/policy.ini", policy_file, "/etc/complaintd/policy.ini"),
    BAD("policy", "bulk_threshold", "0"),
    BAD("policy", "sla.contact.normal", "2h"),
    BAD("policy", "warn_ratio", "100%"),
#undef S
#undef I
#undef L
#undef BAD
};

START_TEST(test_key_value)
{
    char text[512], err[512] = "";
    /* The key sits on line 3, after a comment. */
    snprintf(text, sizeof(text), "# test\n[%s]\n%s = %s\n", keys[_i].section, keys[_i].key, keys[_i].value);
    Config *c = new_cfg();
    int rc = cfg_parse(c, text, "t.ini", false, err, sizeof(err));
    if (!keys[_i].ok) {
        ck_assert_msg(rc == -1, "accepted: %s", text);
        ck_assert_msg(strncmp(err, "t.ini:3: ", 9) == 0, "%s: bad place: %s", text, err);
        /* The message says which key. */
        ck_assert_msg(strstr(err, keys[_i].key) != NULL || strstr(err, "sla.") != NULL, "%s: %s", text, err);
        cfg_free(c);
        return;
    }
    ck_assert_msg(rc == 0, "%s: %s", text, err);
    const char *base = (const char *)c;
    switch (keys[_i].field) {
    case F_STR:
        ck_assert_str_eq(*(char *const *)(const void *)(base + keys[_i].off), keys[_i].want);
        break;
    case F_INT:
        ck_assert_int_eq(*(const int *)(const void *)(base + keys[_i].off), atoll(keys[_i].want));
        break;
    case F_INT64:
        ck_assert_int_eq(*(const int64_t *)(const void *)(base + keys[_i].off), atoll(keys[_i].want));
        break;
    case F_CLOCK:
        ck_assert_int_eq(c->clock_mode, atoi(keys[_i].want));
        break;
    case F_ROLE:
        ck_assert_int_eq(c->role, atoi(keys[_i].want));
        ck_assert_str_eq(cfg_role_name(c->role), atoi(keys[_i].want) ? "parcels" : "all");
        break;
    case F_NONE:
        break;
    }
    cfg_free(c);
}
END_TEST

/* Every policy key passes through [policy] to pol_set. */
START_TEST(test_every_policy_key)
{
    Config *ref = new_cfg();
    const char *key;
    for (size_t i = 0; (key = pol_key_name(i)) != NULL; i++) {
        char value[256], text[512], err[512] = "";
        ck_assert_int_ge(pol_get(ref->policy, key, value, sizeof(value)), 0);
        snprintf(text, sizeof(text), "[policy]\n%s = %s\n", key, value);
        Config *c = new_cfg();
        ck_assert_msg(cfg_parse(c, text, "t.ini", false, err, sizeof(err)) == 0, "%s: %s", text, err);
        cfg_free(c);
    }
    cfg_free(ref);

    Config *c = parse_ok("[policy]\n"
                         "sla.resolve.normal = 36h calendar warn 30h\n"
                         "warn_ratio = 75%\n"
                         "holidays = 2026-10-01..2026-10-07\n"
                         "utc_offset = +06:00\n"
                         "shifted_regions = 65\n");
    ck_assert_int_eq(c->policy->sla[TGT_RESOLVE][VAR_NORMAL].budget, 36 * 3600);
    ck_assert_int_eq(c->policy->sla[TGT_RESOLVE][VAR_NORMAL].warn, 30 * 3600);
    ck_assert_int_eq(c->policy->warn_ratio_pct, 75);
    ck_assert_int_eq(cal_utc_offset(c->policy->cal), 360);
    ck_assert_int_eq(c->policy->n_shifted_regions, 1);
    cfg_free(c);
}
END_TEST

/* ---- Errors and their places --------------------------------------------------- */

static const struct {
    const char *text;
    const char *want; /* start of the message */
} errors[] = {
    /* Line numbers count comments, blank lines and section headers. */
    {"[kafka]\nbrokers = x\nnope = 1\n", "t.ini:3: unknown key 'nope' in [kafka]"},
    {"# c\n; c\n\n[daemon]\n\n  # indented comment\nbatch_max = 0\n", "t.ini:7: bad value '0' for batch_max"},
    {"[kafka]\n[postgres]\n[clock]\n[daemon]\n[policy]\nfoo = 1\n", "t.ini:6: unknown key 'foo' in [policy]"},
    {"[policy]\nsla.contact.normal = x business\n",
     "t.ini:2: bad duration 'x' for sla.contact.normal"},
    {"[policy]\n\n\nsla.contact.normal = 2h\n", "t.ini:4: missing clock for sla.contact.normal"},
    {"[kafak]\nbrokers = x\n", "t.ini:1: unknown section [kafak]"},
    {"\n\n[Kafka]\n", "t.ini:3: unknown section [Kafka]"},
    {"[kafka\nbrokers = x\n", "t.ini:1: missing ']' in section header"},
    {"[kafka] brokers = x\n", "t.ini:1: unexpected text after the section header [kafka]"},
    {"brokers = x\n", "t.ini:1: key 'brokers' is outside any [section]"},
    {"[kafka]\nbrokers\n", "t.ini:2: expected 'key = value', a [section] or a comment"},
    {"[kafka]\nbrokers ; = x\n", "t.ini:2: expected 'key = value', a [section] or a comment"},
    {"[kafka]\n= x\n", "t.ini:2: missing key name before '='"},
    {"[policy]\nfile = a.ini\n[clock]\nmode = now\n", "t.ini:4: bad value 'now' for mode: expected wall or event"},
    {"[daemon]\nlog_level = loud\n", "t.ini:2: bad value 'loud' for log_level: expected error, warning, info or debug"},
    /* Only the first error is reported. */
    {"[kafka]\nx = 1\ny = 2\n", "t.ini:2: unknown key 'x' in [kafka]"},
    {"[kafka]\nbroken line\n[nope]\n", "t.ini:2: expected"},
    {"[kafka]\nrdkafka. = 1\n", "t.ini:2: missing librdkafka property name"},
    /* An indented line is not a continuation of the value above. */
    {"[kafka]\nbrokers = a\n    nope = b\n", "t.ini:3: unknown key 'nope' in [kafka]"},
    {"[kafka]\nbrokers = a\n    just words\n", "t.ini:3: expected"},
    /* CRLF endings count the same. */
    {"[kafka]\r\n\r\nbrokers = a\r\nnope = 1\r\n", "t.ini:4: unknown key 'nope' in [kafka]"},
    /* No newline at the end. */
    {"[kafka]\nnope = 1", "t.ini:2: unknown key 'nope' in [kafka]"},
};

START_TEST(test_error)
{
    parse_fails(errors[_i].text, false, errors[_i].want);
}
END_TEST

/* An output topic that is an input too would read back what the daemon
 * writes: every pair of the four topics is refused, at the later line. */
START_TEST(test_topics_differ)
{
    parse_fails("[kafka]\ndlq_topic = complaints.events\n", false,
                "t.ini:2: dlq_topic is the topic complaints_topic already names (complaints.events)");
    parse_fails("[kafka]\nalerts_topic = in\nbrokers = x:1\nscans_topic = in\n", false,
                "t.ini:4: scans_topic is the topic alerts_topic already names (in)");
    parse_fails("[kafka]\nscans_topic = s\ncomplaints_topic = s\n", false,
                "t.ini:3: complaints_topic is the topic scans_topic already names (s)");
    parse_fails("[kafka]\nalerts_topic = complaints.dlq\n", false,
                "t.ini:2: alerts_topic is the topic dlq_topic already names (complaints.dlq)");
    /* four different names, defaults or not, are fine; a policy file has none */
    cfg_free(parse_ok("[kafka]\ncomplaints_topic = a\nscans_topic = b\nalerts_topic = c\ndlq_topic = d\n"));
    cfg_free(parse_ok("[kafka]\ndlq_topic = complaints.dead\n"));
}
END_TEST

START_TEST(test_name_in_message)
{
    Config *c = new_cfg();
    char err[256];
    ck_assert_int_eq(cfg_parse(c, "[x]\n", "/etc/complaintd/complaintd.ini", false, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "/etc/complaintd/complaintd.ini:1: unknown section [x]");
    /* A short buffer is cut, never overrun. */
    char tiny[8];
    ck_assert_int_eq(cfg_parse(c, "[x]\n", "t.ini", false, tiny, sizeof(tiny)), -1);
    ck_assert_str_eq(tiny, "t.ini:1");
    ck_assert_int_eq(cfg_parse(c, "[x]\n", "t.ini", false, NULL, 0), -1);
    cfg_free(c);
}
END_TEST

/* ---- Comments, blanks, duplicates ----------------------------------------------- */

START_TEST(test_inline_comments)
{
    Config *c = parse_ok("[kafka]   # the broker side\n"
                         "brokers = k1:9092 # hash comment\n"
                         "group_id = desk ; semicolon comment\n"
                         "alerts_topic =\talerts\t# tab before the hash\n"
                         "[postgres] ; comment\n"
                         "conninfo = # only a comment\n"
                         "[daemon]\n"
                         "log_level = debug # comment\n"
                         "[policy]\n"
                         "sla.contact.normal = 3h business # warn 1h\n"
                         "sla.revisit.normal = 12h business warn 6h ; comment\n");
    ck_assert_str_eq(c->brokers, "k1:9092");
    ck_assert_str_eq(c->group_id, "desk");
    ck_assert_str_eq(c->alerts_topic, "alerts");
    ck_assert_str_eq(c->conninfo, "");
    ck_assert_int_eq(c->policy->sla[TGT_CONTACT][VAR_NORMAL].budget, 3 * 3600);
    ck_assert_int_eq(c->policy->sla[TGT_CONTACT][VAR_NORMAL].warn, -1);
    ck_assert_int_eq(c->policy->sla[TGT_REVISIT][VAR_NORMAL].warn, 6 * 3600);
    cfg_free(c);
    /* '#' or ';' glued to a value is kept, so the value is checked as a whole. */
    parse_fails("[kafka]\ncomplaints_topic = a#b\n", false, "t.ini:2: bad value 'a#b' for complaints_topic");
    parse_fails("[daemon]\nlog_level = debug;x\n", false, "t.ini:2: bad value 'debug;x' for log_level");
    parse_fails("[daemon]\nbatch_max = 12# glued\n", false, "t.ini:2: bad value '12# glued' for batch_max");
    c = parse_ok("[kafka]\nrdkafka.client.id = a#b;c\n");
    ck_assert_str_eq(c->rdkafka[0].value, "a#b;c");
    cfg_free(c);
}
END_TEST

START_TEST(test_layout)
{
    /* Indentation, blank lines, a byte order mark, CRLF, ':' as separator. */
    Config *c = parse_ok("\xEF\xBB\xBF[kafka]\r\n"
                         "    brokers   =   k1:9092   \r\n"
                         "\tgroup_id = g\r\n"
                         "\r\n"
                         "  [daemon]\n"
                         "  batch_max: 7\n"
                         "\n");
    ck_assert_str_eq(c->brokers, "k1:9092");
    ck_assert_str_eq(c->group_id, "g");
    ck_assert_int_eq(c->batch_max, 7);
    cfg_free(c);
}
END_TEST

START_TEST(test_duplicates_last_wins)
{
    Config *c = parse_ok("[kafka]\nbrokers = a:1\n[daemon]\nbatch_max = 5\n[kafka]\nbrokers = b:2\n"
                         "[policy]\nbulk_threshold = 3\nbulk_threshold = 4\n");
    ck_assert_str_eq(c->brokers, "b:2");
    ck_assert_int_eq(c->batch_max, 5);
    ck_assert_int_eq(c->policy->bulk_threshold, 4);
    cfg_free(c);
}
END_TEST

START_TEST(test_parse_onto_earlier_values)
{
    Config *c = parse_ok("[kafka]\nbrokers = a:1\n");
    char err[256];
    ck_assert_int_eq(cfg_parse(c, "[daemon]\nbatch_max = 9\n", "second.ini", false, err, sizeof(err)), 0);
    ck_assert_str_eq(c->brokers, "a:1");
    ck_assert_int_eq(c->batch_max, 9);
    cfg_free(c);
}
END_TEST

/* ---- Long lines ---------------------------------------------------------------- */

/* inih's buffer is 200 bytes; longer lines must neither be split into
 * several lines nor cut. */
START_TEST(test_long_value)
{
    char value[2001], text[2200];
    for (int i = 0; i < 2000; i++)
        value[i] = (char)('a' + i % 26);
    value[2000] = '\0';
    snprintf(text, sizeof(text), "[postgres]\n# x\nconninfo = %s   # trailing comment\n[daemon]\nbatch_max = 3\n",
             value);
    Config *c = parse_ok(text);
    ck_assert_str_eq(c->conninfo, value);
    ck_assert_int_eq(c->batch_max, 3);
    cfg_free(c);

    /* A long value that contains '=' stays one value. */
    snprintf(text, sizeof(text), "[kafka]\nrdkafka.sasl.jaas.config = user=%s pass=x\nnope = 1\n", value);
    c = new_cfg();
    char err[256];
    ck_assert_int_eq(cfg_parse(c, text, "t.ini", false, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "t.ini:3: unknown key 'nope' in [kafka]");
    ck_assert_int_eq(c->n_rdkafka, 1);
    ck_assert_int_eq(strlen(c->rdkafka[0].value), 2000 + 12);
    cfg_free(c);
}
END_TEST

START_TEST(test_long_holidays)
{
    /* Two years of holidays written date by date: 360 dates, some 4,000
     * characters on one line. */
    char text[8192] = "[policy]\nholidays = ";
    size_t n = strlen(text);
    for (int y = 2026; y <= 2027; y++)
        for (int m = 1; m <= 12; m++)
            for (int d = 1; d <= 15; d++)
                n += (size_t)snprintf(text + n, sizeof(text) - n, "%s%04d-%02d-%02d", y + m + d > 2026 + 2 ? "," : "",
                                      y, m, d);
    snprintf(text + n, sizeof(text) - n, "\nbulk_threshold = 5\n");
    Config *c = parse_ok(text);
    ck_assert_int_eq(c->policy->bulk_threshold, 5);
    ck_assert_int_eq(strlen(c->policy->holidays), 2 * 12 * 15 * 11 - 1);
    cfg_free(c);
}
END_TEST

START_TEST(test_long_errors)
{
    char text[2400];
    char word[1001];
    memset(word, 'k', 1000);
    word[1000] = '\0';
    /* Comments may be any length. */
    snprintf(text, sizeof(text), "[kafka]\n# %s\n;%s\nbrokers = a:1\n", word, word);
    Config *c = parse_ok(text);
    ck_assert_str_eq(c->brokers, "a:1");
    cfg_free(c);

    snprintf(text, sizeof(text), "[kafka]\n%s = 1\n", word);
    parse_fails(text, false, "t.ini:2: key name too long");
    snprintf(text, sizeof(text), "\n[%s]\n", word);
    parse_fails(text, false, "t.ini:2: unknown section [kkkk");
    snprintf(text, sizeof(text), "[kafka]\n\n%s\n", word);
    parse_fails(text, false, "t.ini:3: expected 'key = value'");
    /* A long value is still checked. */
    snprintf(text, sizeof(text), "[daemon]\nlog_level = %s\n", word);
    parse_fails(text, false, "t.ini:2: bad value 'kkkk");
}
END_TEST

/* ---- rdkafka passthrough ---------------------------------------------------------- */

START_TEST(test_rdkafka)
{
    Config *c = parse_ok("[kafka]\n"
                         "rdkafka.security.protocol = sasl_ssl\n"
                         "rdkafka.sasl.password = hunter2\n"
                         "rdkafka.statistics.interval.ms = 0\n"
                         "rdkafka.security.protocol = ssl\n");
    ck_assert_int_eq(c->n_rdkafka, 3);
    ck_assert_str_eq(c->rdkafka[0].key, "security.protocol");
    ck_assert_str_eq(c->rdkafka[0].value, "ssl");
    ck_assert_str_eq(c->rdkafka[1].key, "sasl.password");
    ck_assert_str_eq(c->rdkafka[1].value, "hunter2");
    ck_assert_str_eq(c->rdkafka[2].key, "statistics.interval.ms");
    cfg_free(c);

    /* Only under [kafka]. */
    parse_fails("[daemon]\nrdkafka.client.id = x\n", false, "t.ini:2: unknown key 'rdkafka.client.id' in [daemon]");
}
END_TEST

START_TEST(test_rdkafka_limit)
{
    char text[8192] = "[kafka]\n";
    size_t n = strlen(text);
    for (int i = 0; i < CFG_MAX_RDKAFKA; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "rdkafka.p%d = %d\n", i, i);
    Config *c = parse_ok(text);
    ck_assert_int_eq(c->n_rdkafka, CFG_MAX_RDKAFKA);
    cfg_free(c);
    /* Setting a known one again is fine; one more is not. */
    n += (size_t)snprintf(text + n, sizeof(text) - n, "rdkafka.p0 = again\n");
    c = parse_ok(text);
    ck_assert_str_eq(c->rdkafka[0].value, "again");
    cfg_free(c);
    snprintf(text + n, sizeof(text) - n, "rdkafka.one.more = 1\n");
    char want[64];
    snprintf(want, sizeof(want), "t.ini:%d: too many rdkafka.* keys", CFG_MAX_RDKAFKA + 3);
    parse_fails(text, false, want);
}
END_TEST

/* ---- Policy files ------------------------------------------------------------------ */

START_TEST(test_policy_only)
{
    Config *c = new_cfg();
    char err[256];
    ck_assert_int_eq(cfg_parse(c, "# site policy\n[policy]\nbulk_threshold = 20\n", "policy.ini", true, err,
                               sizeof(err)),
                     0);
    ck_assert_int_eq(c->policy->bulk_threshold, 20);
    cfg_free(c);

    parse_fails("[policy]\nbulk_threshold = 20\n\n[kafka]\nbrokers = x\n", true,
                "t.ini:4: section [kafka] is not allowed here: a policy file has only a [policy] section");
    parse_fails("[daemon]\n", true, "t.ini:1: section [daemon] is not allowed here");
    parse_fails("bulk_threshold = 20\n", true, "t.ini:1: key 'bulk_threshold' is outside any [section]");
    parse_fails("[policy]\nfile = other.ini\n", true, "t.ini:2: a policy file cannot name another policy file");
    parse_fails("[nope]\n", true, "t.ini:1: unknown section [nope]");
}
END_TEST

/* The main file, then the policy file over it: the policy file's keys win. */
START_TEST(test_policy_file_overrides)
{
    Config *c = parse_ok("[policy]\nfile = p.ini\nbulk_threshold = 12\nstall_after = 100h\n");
    char err[256];
    ck_assert_int_eq(cfg_parse(c, "[policy]\nbulk_threshold = 30\n", "p.ini", true, err, sizeof(err)), 0);
    ck_assert_int_eq(c->policy->bulk_threshold, 30);
    ck_assert_int_eq(c->policy->stall_after, 100 * 3600);
    ck_assert_str_eq(c->policy_file, "p.ini");
    cfg_free(c);
}
END_TEST

/* ---- Reload rules -------------------------------------------------------------------- */

START_TEST(test_nonreloadable_none)
{
    Config *a = new_cfg();
    Config *b = parse_ok("[daemon]\nlog_level = debug\n"
                         "[policy]\nfile = p.ini\nbulk_threshold = 3\nsla.contact.normal = 1h business\n"
                         "holidays = 2026-10-01\n");
    char out[256] = "x";
    ck_assert_int_eq(cfg_nonreloadable_changes(a, b, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "");
    /* Same values written differently are no change. */
    Config *c = parse_ok("[kafka]\nbrokers = 127.0.0.1:9092\n[clock]\nmode = WALL\n[daemon]\nbatch_max = 2000\n");
    ck_assert_int_eq(cfg_nonreloadable_changes(a, c, out, sizeof(out)), 0);
    cfg_free(a);
    cfg_free(b);
    cfg_free(c);
}
END_TEST

START_TEST(test_nonreloadable_changes)
{
    Config *a = parse_ok("[kafka]\nrdkafka.linger.ms = 5\nrdkafka.acks = all\n");
    Config *b = parse_ok("[kafka]\nbrokers = other:9092\ndlq_topic = dead\n"
                         "rdkafka.acks = 1\nrdkafka.client.id = c\n"
                         "[postgres]\nconninfo = dbname=x\n"
                         "[clock]\nmode = event\n"
                         "[daemon]\nlog_level = error\nrole = parcels\nbatch_max = 10\nbatch_linger_ms = 0\n"
                         "max_event_bytes = 2048\nmetrics_listen = 127.0.0.1:9\n");
    char out[1024];
    int n = cfg_nonreloadable_changes(a, b, out, sizeof(out));
    ck_assert_str_eq(out, "kafka.brokers, kafka.dlq_topic, postgres.conninfo, clock.mode, daemon.role, "
                          "daemon.batch_max, daemon.batch_linger_ms, daemon.max_event_bytes, daemon.metrics_listen, "
                          "kafka.rdkafka.linger.ms, kafka.rdkafka.acks, kafka.rdkafka.client.id");
    ck_assert_int_eq(n, 12);
    /* Symmetric in count; a short buffer is cut but the count is whole. */
    char small[16];
    ck_assert_int_eq(cfg_nonreloadable_changes(b, a, small, sizeof(small)), 12);
    ck_assert_str_eq(small, "kafka.brokers, ");
    ck_assert_int_eq(cfg_nonreloadable_changes(b, a, NULL, 0), 12);
    cfg_free(a);
    cfg_free(b);
}
END_TEST

/* ---- Dump ------------------------------------------------------------------------------ */

START_TEST(test_dump_defaults)
{
    Config *c = new_cfg();
    char *d = cfg_dump(c);
    ck_assert_ptr_nonnull(d);
    static const char *const want[] = {
        "kafka.brokers = 127.0.0.1:9092",
        "kafka.group_id = complaintd",
        "kafka.complaints_topic = complaints.events",
        "kafka.scans_topic = parcels.scans",
        "kafka.alerts_topic = complaints.alerts",
        "kafka.dlq_topic = complaints.dlq",
        "postgres.conninfo = postgresql:///complaintd",
        "clock.mode = wall",
        "daemon.log_level = info",
        "daemon.log_format = text",
        "daemon.role = all",
        "daemon.batch_max = 2000",
        "daemon.batch_linger_ms = 20",
        "daemon.max_event_bytes = 1048576",
        "daemon.metrics_listen =",
        "policy.file =",
        "policy.sla.contact.normal = 2h business",
        "policy.sla.resolve.normal = 48h calendar warn 24h",
        "policy.sla.resolve_claim.normal = 120h calendar warn 96h",
        "policy.sla.resolve_claim.reopened = 50h business",
        "policy.warn_ratio = 80%",
        "policy.statutory_limit = 7d",
        "policy.bulk_threshold = 10",
        "policy.bulk_window = 1h",
        "policy.shifted_regions = 65,54,xinjiang,tibet",
        "policy.business_hours = 08:00-12:00,14:00-20:00",
        "policy.utc_offset = +08:00",
        "policy.holidays =",
    };
    for (int i = 0; i < NELEM(want); i++)
        ck_assert_msg(has_line(d, want[i]), "missing '%s' in:\n%s", want[i], d);
    /* One line a key: 17 own keys and 41 policy keys. */
    int lines = 0;
    for (const char *p = d; *p != '\0'; p++)
        lines += *p == '\n';
    ck_assert_int_eq(lines, 17 + 41);
    free(d);
    cfg_free(c);
}
END_TEST

START_TEST(test_dump_secrets)
{
    Config *c = parse_ok("[kafka]\n"
                         "rdkafka.sasl.username = desk\n"
                         "rdkafka.sasl.password = hunter2\n"
                         "rdkafka.sasl.oauthbearer.client.secret = s3cr3t\n"
                         "rdkafka.ssl.key.password = k3y\n"
                         "[postgres]\n"
                         "conninfo = host=db user=c password='hun ter2' dbname=c\n");
    char *d = cfg_dump(c);
    ck_assert_ptr_nonnull(d);
    ck_assert_msg(has_line(d, "kafka.rdkafka.sasl.username = desk"), "%s", d);
    ck_assert_msg(has_line(d, "kafka.rdkafka.sasl.password = ***"), "%s", d);
    ck_assert_msg(has_line(d, "kafka.rdkafka.sasl.oauthbearer.client.secret = ***"), "%s", d);
    ck_assert_msg(has_line(d, "kafka.rdkafka.ssl.key.password = ***"), "%s", d);
    ck_assert_msg(has_line(d, "postgres.conninfo = host=db user=c password=*** dbname=c"), "%s", d);
    ck_assert_ptr_null(strstr(d, "hunter2"));
    ck_assert_ptr_null(strstr(d, "s3cr3t"));
    ck_assert_ptr_null(strstr(d, "k3y"));
    free(d);
    cfg_free(c);
}
END_TEST

static const struct {
    const char *conninfo, *shown;
} conninfos[] = {
    {"postgresql:///complaintd", "postgresql:///complaintd"},
    {"postgresql://desk:pw@db:5432/c", "postgresql://desk:***@db:5432/c"},
    {"postgres://desk@db/c?password=pw&sslmode=require", "postgres://desk@db/c?password=***&sslmode=require"},
    {"password=pw host=db", "password=*** host=db"},
    {"host=db password = 'a\\'b c' port=5", "host=db password = *** port=5"},
    {"host=db sslpassword=pw", "host=db sslpassword=***"},
    {"user=password_admin", "user=password_admin"},
    /* as libpq reads them */
    {"complaintd", "complaintd"},
    {"host=db password=a\\ b port=5", "host=db password=*** port=5"},
    {"host=db password=pw tail port=5", "host=db password=*** *** port=5"},
    {"host=db password= dbname=c", "host=db password= ***"},
    {"host=db password=", "host=db password=***"},
    {"postgresql://desk:p?w@db/c", "postgresql://desk:***@db/c"},
    {"postgresql://desk:p@w@db/c", "postgresql://desk:***@db/c"},
    {"postgresql://desk@db/c?pass%77ord=pw&x=1", "postgresql://desk@db/c?pass%77ord=***&x=1"},
    {"postgresql://db/c?password=p w#x&sslmode=verify-full", "postgresql://db/c?password=***&sslmode=verify-full"},
    {"postgresql://desk@db:5432/c?sslmode=verify-full", "postgresql://desk@db:5432/c?sslmode=verify-full"},
};

START_TEST(test_dump_conninfo)
{
    char text[256], want[256];
    snprintf(text, sizeof(text), "[postgres]\nconninfo = %s\n", conninfos[_i].conninfo);
    Config *c = parse_ok(text);
    char *d = cfg_dump(c);
    snprintf(want, sizeof(want), "postgres.conninfo = %s", conninfos[_i].shown);
    ck_assert_msg(has_line(d, want), "want '%s' in:\n%s", want, d);
    free(d);
    cfg_free(c);
}
END_TEST

/* libpq's messages that quote the connection string, redacted. */
static const struct {
    const char *conninfo, *message, *shown;
} redactions[] = {
    {"postgresql://u:s3cr3t@[::1/c",
     "end of string reached when looking for matching \"]\" in IPv6 host address in URI: \"postgresql://u:s3cr3t@[::1/c\"",
     "end of string reached when looking for matching \"]\" in IPv6 host address in URI: \"postgresql://u:***@[::1/c\""},
    {"postgresql://u:s3%zzcr3t@db/c", "invalid percent-encoded token: \"s3%zzcr3t\"",
     "invalid percent-encoded token: \"***\""},
    {"host=db password=s3 cr3t", "missing \"=\" after \"cr3t\" in connection info string",
     "missing \"=\" after \"***\" in connection info string"},
    {"host=db password='s3 cr3t' port=x", "invalid integer value \"x\" for connection option \"port\"",
     "invalid integer value \"x\" for connection option \"port\""},
    {"host=db password='s3 cr3t'", "echo: 's3 cr3t' s3 cr3t", "echo: '***' ***"},
    {"host=db password=", "password authentication failed", "password authentication failed"},
    {"dbname=c", "FATAL: database \"c\" does not exist", "FATAL: database \"c\" does not exist"},
};

START_TEST(test_redact_conninfo)
{
    char out[256];
    cfg_redact_conninfo(redactions[_i].conninfo, redactions[_i].message, out, sizeof(out));
    ck_assert_str_eq(out, redactions[_i].shown);
}
END_TEST

START_TEST(test_redact_conninfo_cut)
{
    char out[8];
    cfg_redact_conninfo("password=s3cr3t", "x s3cr3t s3cr3t", out, sizeof(out));
    ck_assert_str_eq(out, "x *** *");
    cfg_redact_conninfo(NULL, NULL, out, sizeof(out));
    ck_assert_str_eq(out, "");
}
END_TEST

Suite *suite_cfg(void)
{
    Suite *s = suite_create("cfg");

    TCase *tc = tcase_create("defaults");
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_empty_text);
    tcase_add_test(tc, test_contract_example);
    tcase_add_test(tc, test_contract_example_event_mode);
    suite_add_tcase(s, tc);

    tc = tcase_create("keys");
    tcase_add_loop_test(tc, test_key_value, 0, NELEM(keys));
    tcase_add_test(tc, test_every_policy_key);
    tcase_add_test(tc, test_rdkafka);
    tcase_add_test(tc, test_rdkafka_limit);
    suite_add_tcase(s, tc);

    tc = tcase_create("syntax");
    tcase_add_loop_test(tc, test_error, 0, NELEM(errors));
    tcase_add_test(tc, test_name_in_message);
    tcase_add_test(tc, test_inline_comments);
    tcase_add_test(tc, test_layout);
    tcase_add_test(tc, test_duplicates_last_wins);
    tcase_add_test(tc, test_parse_onto_earlier_values);
    tcase_add_test(tc, test_long_value);
    tcase_add_test(tc, test_long_holidays);
    tcase_add_test(tc, test_long_errors);
    suite_add_tcase(s, tc);

    tc = tcase_create("files_and_reload");
    tcase_add_test(tc, test_policy_only);
    tcase_add_test(tc, test_policy_file_overrides);
    tcase_add_test(tc, test_nonreloadable_none);
    tcase_add_test(tc, test_nonreloadable_changes);
    tcase_add_test(tc, test_dump_defaults);
    tcase_add_test(tc, test_topics_differ);
    tcase_add_test(tc, test_dump_secrets);
    tcase_add_loop_test(tc, test_dump_conninfo, 0, NELEM(conninfos));
    tcase_add_loop_test(tc, test_redact_conninfo, 0, NELEM(redactions));
    tcase_add_test(tc, test_redact_conninfo_cut);
    suite_add_tcase(s, tc);

    return s;
}
