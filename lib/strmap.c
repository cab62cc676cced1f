/* strmap: open addressing with linear probing and backward-shift deletion,
 * so there are no tombstones to sweep. */
#include "strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct Slot {
    char *key; /* NULL = empty */
    void *value;
    uint32_t hash;
} Slot;

struct StrMap {
    Slot *slots;
    size_t cap; /* power of two */
    size_t n;
};

static uint32_t hash_str(const char *s)
{
    /* FNV-1a: short keys, no adversarial input worth a keyed hash here. */
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

StrMap *sm_new(void)
{
    StrMap *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->cap = 16;
    m->slots = calloc(m->cap, sizeof *m->slots);
    if (!m->slots) {
        free(m);
        return NULL;
    }
    return m;
}

void sm_free(StrMap *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->cap; i++)
        free(m->slots[i].key);
    free(m->slots);
    free(m);
}

size_t sm_count(const StrMap *m)
{
    return m->n;
}

static size_t find(const StrMap *m, const char *key, uint32_t h)
{
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const Slot *s = &m->slots[i];
        if (!s->key || (s->hash == h && strcmp(s->key, key) == 0))
            return i;
    }
}

void *sm_get(const StrMap *m, const char *key)
{
    const Slot *s = &m->slots[find(m, key, hash_str(key))];
    return s->key ? s->value : NULL;
}

bool sm_has(const StrMap *m, const char *key)
{
    return m->slots[find(m, key, hash_str(key))].key != NULL;
}

static int grow(StrMap *m)
{
    size_t oldcap = m->cap;
    Slot *old = m->slots;
    Slot *slots = calloc(oldcap * 2, sizeof *slots);
    if (!slots)
        return -1;
    m->slots = slots;
    m->cap = oldcap * 2;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].key)
            m->slots[find(m, old[i].key, old[i].hash)] = old[i];
    free(old);
    return 0;
}

int sm_put(StrMap *m, const char *key, void *value)
{
    if ((m->n + 1) * 4 > m->cap * 3 && grow(m) < 0)
        return -1;
    uint32_t h = hash_str(key);
    Slot *s = &m->slots[find(m, key, h)];
    if (s->key) {
        s->value = value;
        return 0;
    }
    char *k = strdup(key);
    if (!k)
        return -1;
    s->key = k;
    s->value = value;
    s->hash = h;
    m->n++;
    return 0;
}

void *sm_del(StrMap *m, const char *key)
{
    size_t mask = m->cap - 1;
    size_t i = find(m, key, hash_str(key));
    if (!m->slots[i].key)
        return NULL;
    void *value = m->slots[i].value;
    free(m->slots[i].key);
    m->slots[i].key = NULL;
    m->n--;
    /* Shift later members of the probe run back over the hole. */
    for (size_t j = (i + 1) & mask; m->slots[j].key; j = (j + 1) & mask) {
        size_t home = m->slots[j].hash & mask;
        bool movable = (j > i) ? (home <= i || home > j) : (home <= i && home > j);
        if (movable) {
            m->slots[i] = m->slots[j];
            m->slots[j].key = NULL;
            i = j;
        }
    }
    return value;
}

bool sm_next(const StrMap *m, size_t *iter, const char **key, void **value)
{
    for (; *iter < m->cap; (*iter)++) {
        const Slot *s = &m->slots[*iter];
        if (s->key) {
            if (key)
                *key = s->key;
            if (value)
                *value = s->value;
            (*iter)++;
            return true;
        }
    }
    return false;
}
