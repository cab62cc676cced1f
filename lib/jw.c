/* jw: JSON text without a tree; see jw.h. */
#include "jw.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jw_init(Jw *w)
{
    memset(w, 0, sizeof *w);
    w->first = true;
}

void jw_free(Jw *w)
{
    free(w->p);
    jw_init(w);
}

static bool room(Jw *w, size_t more)
{
    if (w->failed)
        return false;
    if (w->n + more + 1 <= w->cap)
        return true;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < w->n + more + 1)
        cap *= 2;
    char *p = realloc(w->p, cap);
    if (!p) {
        w->failed = true;
        return false;
    }
    w->p = p;
    w->cap = cap;
    return true;
}

static void raw(Jw *w, const char *s, size_t n)
{
    if (!room(w, n))
        return;
    memcpy(w->p + w->n, s, n);
    w->n += n;
}

static void ch(Jw *w, char c)
{
    if (room(w, 1))
        w->p[w->n++] = c;
}

/* A comma before every value but the first of its container. */
static void sep(Jw *w)
{
    if (!w->first)
        ch(w, ',');
    w->first = false;
}

char *jw_take(Jw *w, size_t *len)
{
    if (w->failed || !room(w, 0)) {
        jw_free(w);
        return NULL;
    }
    w->p[w->n] = '\0';
    char *s = w->p;
    if (len)
        *len = w->n;
    jw_init(w);
    return s;
}

void jw_obj(Jw *w)
{
    sep(w);
    ch(w, '{');
    w->first = true;
}

void jw_end_obj(Jw *w)
{
    ch(w, '}');
    w->first = false;
}

void jw_arr(Jw *w)
{
    sep(w);
    ch(w, '[');
    w->first = true;
}

void jw_end_arr(Jw *w)
{
    ch(w, ']');
    w->first = false;
}

static void quoted(Jw *w, const char *s, size_t n)
{
    if (!room(w, n + 2))
        return;
    w->p[w->n++] = '"';
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        raw(w, s + start, i - start);
        start = i + 1;
        switch (c) {
        case '"': raw(w, "\\\"", 2); break;
        case '\\': raw(w, "\\\\", 2); break;
        case '\b': raw(w, "\\b", 2); break;
        case '\f': raw(w, "\\f", 2); break;
        case '\n': raw(w, "\\n", 2); break;
        case '\r': raw(w, "\\r", 2); break;
        case '\t': raw(w, "\\t", 2); break;
        default: {
            char u[8];
            snprintf(u, sizeof u, "\\u%04X", c);
            raw(w, u, 6);
        }
        }
    }
    raw(w, s + start, n - start);
    ch(w, '"');
}

void jw_key(Jw *w, const char *key)
{
    sep(w);
    quoted(w, key, strlen(key));
    ch(w, ':');
    w->first = true; /* the value that follows takes no comma */
}

void jw_strn(Jw *w, const char *s, size_t n)
{
    sep(w);
    quoted(w, s, n);
}

void jw_str(Jw *w, const char *s)
{
    jw_strn(w, s, strlen(s));
}

void jw_int(Jw *w, int64_t v)
{
    sep(w);
    char b[24];
    int n = snprintf(b, sizeof b, "%" PRId64, v);
    raw(w, b, (size_t)n);
}

void jw_bool(Jw *w, bool v)
{
    sep(w);
    raw(w, v ? "true" : "false", v ? 4 : 5);
}

void jw_null(Jw *w)
{
    sep(w);
    raw(w, "null", 4);
}
