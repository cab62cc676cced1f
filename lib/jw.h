/* jw: a small JSON writer into a growable buffer, for the documents the
 * daemon writes by the hundred thousand (alerts, event bodies): no tree, no
 * allocation per value. Output is compact, keys in the order written, and
 * strings escaped as Jansson escapes them (", \, control characters; UTF-8
 * passed through), so it matches json_dumps(JSON_COMPACT |
 * JSON_PRESERVE_ORDER) byte for byte. */
#ifndef COMPLAINTD_JW_H
#define COMPLAINTD_JW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct Jw {
    char *p;
    size_t n, cap;
    bool failed; /* out of memory: the text is incomplete */
    bool first;  /* no member yet in the innermost object or array */
} Jw;

void jw_init(Jw *w);
void jw_free(Jw *w);
/* The text (NUL-terminated), handed over to the caller; NULL when out of
 * memory. The writer is empty afterwards. */
char *jw_take(Jw *w, size_t *len);

void jw_obj(Jw *w);     /* { */
void jw_end_obj(Jw *w); /* } */
void jw_arr(Jw *w);     /* [ */
void jw_end_arr(Jw *w); /* ] */
/* A member's key; the value follows with one of the calls below. */
void jw_key(Jw *w, const char *key);
void jw_str(Jw *w, const char *s);
void jw_strn(Jw *w, const char *s, size_t n);
void jw_int(Jw *w, int64_t v);
void jw_bool(Jw *w, bool v);
void jw_null(Jw *w);

#endif
