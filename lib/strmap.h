/* strmap: an open-addressing hash map from strings to pointers. The map
 * copies keys; values belong to the caller. */
#ifndef COMPLAINTD_STRMAP_H
#define COMPLAINTD_STRMAP_H

#include <stdbool.h>
#include <stddef.h>

typedef struct StrMap StrMap;

StrMap *sm_new(void);
void sm_free(StrMap *m); /* frees the keys, not the values */
size_t sm_count(const StrMap *m);
void *sm_get(const StrMap *m, const char *key);
bool sm_has(const StrMap *m, const char *key);
/* Inserts or replaces. -1 when out of memory. */
__attribute__((warn_unused_result)) int sm_put(StrMap *m, const char *key, void *value);
/* Removes the key; returns its value (NULL when absent). */
void *sm_del(StrMap *m, const char *key);

/* Iteration: for (size_t i = 0; sm_next(m, &i, &k, &v);) — no puts or dels meanwhile. */
bool sm_next(const StrMap *m, size_t *iter, const char **key, void **value);

#endif
