/* indic: per-batch indicator counts; see indic.h. */
#include "indic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"

static const char *const names[IND__COUNT] = {
    "received", "invalid",  "resolved",         "resolved_on_time",     "revisits",         "satisfied",
    "repeats",  "reopened", "breaches_contact", "breaches_first_reply", "breaches_resolve", "breaches_revisit",
};

const char *indic_field_name(IndField f)
{
    return f >= 0 && f < IND__COUNT ? names[f] : "unknown";
}

typedef struct Key {
    int32_t day;
    Category category;
    const char *site;
} Key;

static uint64_t key_hash(int32_t day, Category c, const char *site)
{
    uint64_t h = ht_hash_str(site, (uint64_t)(uint32_t)day * 1099511628211ULL + (uint64_t)c);
    return h;
}

static uint64_t row_hash(const void *item)
{
    const IndicRow *r = item;
    return key_hash(r->day, r->category, r->site);
}

static bool row_match(const void *item, const void *key)
{
    const IndicRow *r = item;
    const Key *k = key;
    return r->day == k->day && r->category == k->category && strcmp(r->site, k->site) == 0;
}

void indic_init(IndicSet *s)
{
    memset(s, 0, sizeof *s);
    ht_init(&s->idx, row_hash);
}

void indic_reset(IndicSet *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    s->n = 0;
    ht_free(&s->idx);
    ht_init(&s->idx, row_hash);
}

void indic_free(IndicSet *s)
{
    indic_reset(s);
    ht_free(&s->idx);
    free(s->v);
    s->v = NULL;
    s->cap = 0;
}

static int32_t local_day(int64_t at, int utc_offset_min)
{
    int64_t t = at + (int64_t)utc_offset_min * 60;
    int64_t d = t / 86400;
    if (t % 86400 < 0)
        d--;
    return (int32_t)d;
}

int indic_add(IndicSet *s, int64_t at, int utc_offset_min, Category category, const char *site, IndField f, int delta)
{
    if (!s->idx.hash)
        ht_init(&s->idx, row_hash); /* a zeroed set */
    Key k = {local_day(at, utc_offset_min), category, site ? site : ""};
    uint64_t h = key_hash(k.day, k.category, k.site);
    IndicRow *r = ht_get(&s->idx, h, row_match, &k);
    if (!r) {
        if (s->n == s->cap) {
            size_t cap = s->cap ? s->cap * 2 : 16;
            IndicRow **v = realloc(s->v, cap * sizeof *v);
            if (!v)
                return -1;
            s->v = v;
            s->cap = cap;
        }
        if (!(r = calloc(1, sizeof *r)))
            return -1;
        r->day = k.day;
        r->category = category;
        snprintf(r->site, sizeof r->site, "%s", k.site);
        if (ht_add(&s->idx, r) < 0) {
            free(r);
            return -1;
        }
        s->v[s->n++] = r;
    }
    r->n[f] += delta;
    return 0;
}

void indic_day_text(int32_t day, char out[11])
{
    int y, m, d;
    tu_civil_from_days(day, &y, &m, &d);
    unsigned yy = y < 0 ? 0u : (unsigned)y % 10000u, mm = (unsigned)m % 100u, dd = (unsigned)d % 100u;
    snprintf(out, 11, "%04u-%02u-%02u", yy, mm, dd);
}
