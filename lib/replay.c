/* replay: the original message of a dead letter; see replay.h. */
#include "replay.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t rpl_unescape(const char *s, size_t n, char *out, size_t *escaped)
{
    size_t i = 0, k = 0, esc = 0;
    while (i < n) {
        if (s[i] != '\\') {
            out[k++] = s[i++];
            continue;
        }
        if (i + 3 < n && s[i + 1] == 'x' && hexval(s[i + 2]) >= 0 && hexval(s[i + 3]) >= 0) {
            out[k++] = (char)(hexval(s[i + 2]) << 4 | hexval(s[i + 3]));
            i += 4;
            esc++;
            continue;
        }
        /* a JSON escape pair (or a backslash at the end): as it is */
        out[k++] = s[i++];
        if (i < n)
            out[k++] = s[i++];
    }
    if (escaped)
        *escaped = esc;
    return k;
}

void rpl_message_free(RplMessage *m)
{
    if (!m)
        return;
    free(m->payload);
    free(m->source_topic);
    m->payload = m->source_topic = NULL;
    m->len = 0;
}

RplStatus rpl_decode(const char *record, size_t len, RplMessage *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->partition = -1;
    out->offset = -1;
    json_error_t je;
    json_t *o = json_loadb(record, len, 0, &je);
    if (!o || !json_is_object(o)) {
        err_set(err, errlen, "not a dead-letter record: %s", o ? "not a JSON object" : je.text);
        json_decref(o);
        return RPL_BAD;
    }
    RplStatus st = RPL_BAD;
    const char *schema = json_string_value(json_object_get(o, "schema"));
    json_t *payload = json_object_get(o, "payload");
    const char *reason = json_string_value(json_object_get(o, "reason"));
    snprintf(out->reason, sizeof out->reason, "%s", reason ? reason : "");
    if (!schema || strcmp(schema, "dlq.v1") != 0) {
        err_set(err, errlen, "not a dead-letter record: schema is not dlq.v1");
        goto out;
    }
    if (!json_is_string(payload)) {
        err_set(err, errlen, "the dead-letter record has no payload");
        goto out;
    }
    if (json_is_true(json_object_get(o, "payload_truncated"))) {
        err_set(err, errlen,
                "the payload was cut at 64 KiB when it was dead-lettered (payload_truncated): "
                "the original message is not stored whole");
        st = RPL_TRUNCATED;
        goto out;
    }
    const char *topic = json_string_value(json_object_get(o, "source_topic"));
    json_t *part = json_object_get(o, "partition"), *off = json_object_get(o, "offset");
    if (json_is_integer(part))
        out->partition = (int32_t)json_integer_value(part);
    if (json_is_integer(off))
        out->offset = json_integer_value(off);
    size_t n = json_string_length(payload);
    out->payload = malloc(n + 1);
    out->source_topic = strdup(topic ? topic : "");
    if (!out->payload || !out->source_topic) {
        rpl_message_free(out);
        err_set(err, errlen, "out of memory");
        st = RPL_NOMEM;
        goto out;
    }
    out->len = rpl_unescape(json_string_value(payload), n, out->payload, &out->escaped);
    out->payload[out->len] = '\0';
    st = RPL_OK;
out:
    json_decref(o);
    return st;
}

static bool topic_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
}

static bool parse_int(const char *s, int64_t max, int64_t *v)
{
    if (!*s)
        return false;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    errno = 0;
    char *end;
    long long x = strtoll(s, &end, 10);
    if (errno || *end || x > max)
        return false;
    *v = x;
    return true;
}

int rpl_parse_coord(const char *s, char *topic, int32_t *partition, int64_t *offset, char *err, size_t errlen)
{
    const char *c2 = s ? strrchr(s, ':') : NULL; /* before the offset */
    const char *c1 = c2;                         /* before the partition */
    while (c1 && c1 > s && c1[-1] != ':')
        c1--;
    if (!c2 || c1 == s) {
        err_set(err, errlen, "'%s' is not TOPIC:PARTITION:OFFSET", s ? s : "");
        return -1;
    }
    c1--;
    size_t tn = (size_t)(c1 - s);
    if (tn == 0 || tn > RPL_TOPIC_MAX) {
        err_set(err, errlen, "'%s': the topic name must be 1 to %d characters", s, RPL_TOPIC_MAX);
        return -1;
    }
    for (size_t i = 0; i < tn; i++)
        if (!topic_char(s[i])) {
            err_set(err, errlen, "'%s': a topic name has only A-Z a-z 0-9 . _ -", s);
            return -1;
        }
    char num[32];
    size_t pn = (size_t)(c2 - c1 - 1);
    int64_t p, o;
    if (pn >= sizeof num) {
        err_set(err, errlen, "'%s': bad partition", s);
        return -1;
    }
    memcpy(num, c1 + 1, pn);
    num[pn] = '\0';
    if (!parse_int(num, INT32_MAX, &p)) {
        err_set(err, errlen, "'%s': the partition must be a number", s);
        return -1;
    }
    if (!parse_int(c2 + 1, INT64_MAX, &o)) {
        err_set(err, errlen, "'%s': the offset must be a number", s);
        return -1;
    }
    memcpy(topic, s, tn);
    topic[tn] = '\0';
    *partition = (int32_t)p;
    *offset = o;
    return 0;
}
