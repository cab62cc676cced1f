/* bloom: a set of strings that answers "maybe" or "certainly not", in about
 * twelve bits an item (a false "maybe" about 1 time in 100), growing in layers
 * of doubling capacity so it never has to be sized in advance.
 *
 * The desk keeps the ids of tickets that are stored but not in memory in one
 * (contract §12.2): an event for an unknown ticket whose id may be there is
 * looked up in PostgreSQL; one that certainly is not needs no lookup. */
#ifndef COMPLAINTD_BLOOM_H
#define COMPLAINTD_BLOOM_H

#include <stdbool.h>
#include <stddef.h>

typedef struct Bloom Bloom;

/* The first layer holds `first` items at the target rate (at least 1024).
 * NULL when out of memory. */
Bloom *bloom_new(size_t first);
void bloom_free(Bloom *b);
/* -1 when out of memory (then nothing changed). */
__attribute__((warn_unused_result)) int bloom_add(Bloom *b, const char *key);
bool bloom_maybe(const Bloom *b, const char *key);
size_t bloom_count(const Bloom *b);
size_t bloom_memory(const Bloom *b);

#endif
