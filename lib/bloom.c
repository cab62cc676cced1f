/* bloom: a scalable Bloom filter; see bloom.h.
 *
 * Each layer has m = 12 n bits and k = 8 probes for its capacity n (a false
 * positive rate near 0.3 % when full); probes come from two 64-bit hashes
 * by double hashing. A full layer is followed by one of twice the capacity,
 * so the rate over all layers stays near 1 %. */
#include "bloom.h"

#include <stdint.h>
#include <stdlib.h>

#include "htab.h"

#define BITS_PER_ITEM 12
#define PROBES 8
#define MAX_LAYERS 40

typedef struct Layer {
    uint64_t *bits;
    uint64_t nbits;
    size_t capacity, count;
} Layer;

struct Bloom {
    Layer layers[MAX_LAYERS];
    int n;
    size_t first;
};

static int add_layer(Bloom *b)
{
    if (b->n == MAX_LAYERS)
        return -1;
    size_t cap = b->first << b->n;
    uint64_t nbits = (uint64_t)cap * BITS_PER_ITEM;
    uint64_t *bits = calloc((size_t)((nbits + 63) / 64), sizeof *bits);
    if (!bits)
        return -1;
    b->layers[b->n++] = (Layer){.bits = bits, .nbits = nbits, .capacity = cap, .count = 0};
    return 0;
}

Bloom *bloom_new(size_t first)
{
    Bloom *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->first = first < 1024 ? 1024 : first;
    if (add_layer(b) < 0) {
        free(b);
        return NULL;
    }
    return b;
}

void bloom_free(Bloom *b)
{
    if (!b)
        return;
    for (int i = 0; i < b->n; i++)
        free(b->layers[i].bits);
    free(b);
}

static void hashes(const char *key, uint64_t *h1, uint64_t *h2)
{
    *h1 = ht_hash_str(key, 0);
    *h2 = ht_hash_str(key, 0x9e3779b97f4a7c15ULL) | 1; /* odd: probes never repeat a step of 0 */
}

static bool layer_has(const Layer *l, uint64_t h1, uint64_t h2)
{
    for (int i = 0; i < PROBES; i++) {
        uint64_t bit = (h1 + (uint64_t)i * h2) % l->nbits;
        if (!(l->bits[bit / 64] & (1ULL << (bit % 64))))
            return false;
    }
    return true;
}

int bloom_add(Bloom *b, const char *key)
{
    uint64_t h1, h2;
    hashes(key, &h1, &h2);
    for (int i = 0; i < b->n; i++)
        if (layer_has(&b->layers[i], h1, h2))
            return 0; /* already (maybe) in: adding again would only fill the layer */
    if (b->layers[b->n - 1].count >= b->layers[b->n - 1].capacity && add_layer(b) < 0)
        return -1;
    Layer *l = &b->layers[b->n - 1];
    for (int i = 0; i < PROBES; i++) {
        uint64_t bit = (h1 + (uint64_t)i * h2) % l->nbits;
        l->bits[bit / 64] |= 1ULL << (bit % 64);
    }
    l->count++;
    return 0;
}

bool bloom_maybe(const Bloom *b, const char *key)
{
    uint64_t h1, h2;
    hashes(key, &h1, &h2);
    for (int i = 0; i < b->n; i++)
        if (layer_has(&b->layers[i], h1, h2))
            return true;
    return false;
}

size_t bloom_count(const Bloom *b)
{
    size_t n = 0;
    for (int i = 0; i < b->n; i++)
        n += b->layers[i].count;
    return n;
}

size_t bloom_memory(const Bloom *b)
{
    size_t m = sizeof *b;
    for (int i = 0; i < b->n; i++)
        m += (size_t)((b->layers[i].nbits + 63) / 64) * sizeof(uint64_t);
    return m;
}
