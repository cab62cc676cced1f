/* out: complaintctl's tables, CSV, JSON and times; see out.h. */
#include "out.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "oom.h"
#include "timeutil.h"

struct Table {
    int ncols;
    char **head;
    char **cells; /* rows * ncols, NULL = empty */
    size_t rows, cap;
    int cur; /* next cell of the last row */
    bool *right;
};

Table *tbl_new(int ncols, const char *const *headers)
{
    Table *t = oom_check(calloc(1, sizeof *t));
    t->ncols = ncols;
    t->head = oom_check(calloc((size_t)ncols, sizeof *t->head));
    t->right = oom_check(calloc((size_t)ncols, sizeof *t->right));
    for (int i = 0; i < ncols; i++)
        t->head[i] = oom_check(strdup(headers[i]));
    return t;
}

void tbl_free(Table *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->ncols; i++)
        free(t->head[i]);
    for (size_t i = 0; i < t->rows * (size_t)t->ncols; i++)
        free(t->cells[i]);
    free(t->head);
    free(t->cells);
    free(t->right);
    free(t);
}

void tbl_row(Table *t)
{
    if (t->rows == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->cells = oom_check(realloc(t->cells, t->cap * (size_t)t->ncols * sizeof *t->cells));
    }
    memset(t->cells + t->rows * (size_t)t->ncols, 0, (size_t)t->ncols * sizeof *t->cells);
    t->rows++;
    t->cur = 0;
}

void tbl_cell(Table *t, const char *s)
{
    if (t->rows == 0 || t->cur >= t->ncols)
        return;
    t->cells[(t->rows - 1) * (size_t)t->ncols + (size_t)t->cur++] = s ? oom_check(strdup(s)) : NULL;
}

void tbl_cellf(Table *t, const char *fmt, ...)
{
    va_list ap, aq;
    va_start(ap, fmt);
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = oom_check(malloc(n > 0 ? (size_t)n + 1 : 1));
    vsnprintf(s, n > 0 ? (size_t)n + 1 : 1, fmt, aq);
    va_end(aq);
    tbl_cell(t, s);
    free(s);
}

void tbl_align_right(Table *t, int col)
{
    if (col >= 0 && col < t->ncols)
        t->right[col] = true;
}

size_t tbl_rows(const Table *t)
{
    return t->rows;
}

/* Characters, not bytes: UTF-8 continuation bytes do not count. */
static size_t width(const char *s)
{
    size_t w = 0;
    for (; s && *s; s++)
        w += ((unsigned char)*s & 0xc0) != 0x80;
    return w;
}

static void pad(FILE *f, size_t n)
{
    while (n--)
        fputc(' ', f);
}

void tbl_print(const Table *t, FILE *f)
{
    size_t *w = oom_check(calloc((size_t)t->ncols, sizeof *w));
    for (int c = 0; c < t->ncols; c++) {
        w[c] = width(t->head[c]);
        for (size_t r = 0; r < t->rows; r++) {
            size_t x = width(t->cells[r * (size_t)t->ncols + (size_t)c]);
            if (x > w[c])
                w[c] = x;
        }
    }
    for (size_t r = 0; r <= t->rows; r++) {
        for (int c = 0; c < t->ncols; c++) {
            const char *s = r == 0 ? t->head[c] : t->cells[(r - 1) * (size_t)t->ncols + (size_t)c];
            size_t x = width(s);
            bool last = c == t->ncols - 1;
            if (t->right[c])
                pad(f, w[c] - x);
            fputs(s ? s : "", f);
            if (!last) {
                if (!t->right[c])
                    pad(f, w[c] - x);
                fputs("  ", f);
            }
        }
        fputc('\n', f);
    }
    free(w);
}

static void csv_cell(FILE *f, const char *s)
{
    if (!s)
        return;
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

void tbl_csv(const Table *t, FILE *f)
{
    for (size_t r = 0; r <= t->rows; r++) {
        for (int c = 0; c < t->ncols; c++) {
            if (c)
                fputc(',', f);
            csv_cell(f, r == 0 ? t->head[c] : t->cells[(r - 1) * (size_t)t->ncols + (size_t)c]);
        }
        fputs("\r\n", f);
    }
}

static char *fmt_local(int64_t t, int off, char *buf, bool weekday)
{
    if (t == TU_NEVER) {
        strcpy(buf, "-");
        return buf;
    }
    static const char *const wd[7] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
    int64_t lt = t + (int64_t)off * 60, days = tu_floordiv(lt, 86400), sod = lt - days * 86400;
    int y, m, d;
    tu_civil_from_days(days, &y, &m, &d);
    int n = 0;
    if (weekday)
        n = snprintf(buf, OUT_TIME_LEN, "%s ", wd[((days % 7) + 7 + 3) % 7]);
    n += snprintf(buf + n, (size_t)(OUT_TIME_LEN - n), "%04d-%02d-%02d %02d:%02d", y, m, d, (int)(sod / 3600),
                  (int)(sod % 3600 / 60));
    if (sod % 60)
        snprintf(buf + n, (size_t)(OUT_TIME_LEN - n), ":%02d", (int)(sod % 60));
    return buf;
}

char *out_time(int64_t t, int off, char *buf)
{
    return fmt_local(t, off, buf, false);
}

char *out_wtime(int64_t t, int off, char *buf)
{
    return fmt_local(t, off, buf, true);
}

json_t *out_jtime(int64_t t, int off)
{
    if (t == TU_NEVER)
        return json_null();
    char b[TU_RFC3339_LEN];
    tu_format_rfc3339(t, off, b);
    return json_string(b);
}

void out_json(json_t *doc)
{
    json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    json_decref(doc);
}

/* Length of the UTF-8 character at p, 0 when p does not start one. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        need = 2;
    else if (c == 0xe0)
        need = 3, lo = 0xa0;
    else if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef)
        need = 3;
    else if (c == 0xed)
        need = 3, hi = 0x9f;
    else if (c == 0xf0)
        need = 4, lo = 0x90;
    else if (c >= 0xf1 && c <= 0xf3)
        need = 4;
    else if (c == 0xf4)
        need = 4, hi = 0x8f;
    else
        return 0;
    if (n < need || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < need; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return need;
}

json_t *out_jstr(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    char *b = oom_check(malloc(4 * n + 1));
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        size_t l = p[i] ? utf8_len(p + i, n - i) : 0;
        if (l == 0) {
            k += (size_t)sprintf(b + k, "\\x%02x", p[i]);
            i++;
        } else {
            memcpy(b + k, p + i, l);
            k += l, i += l;
        }
    }
    json_t *j = json_stringn(b, k);
    free(b);
    return j;
}

void out_preview(const char *s, size_t n, size_t max, char *buf, size_t buflen)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t k = 0, chars = 0, i = 0;
    while (i < n && chars < max && k + 8 < buflen) {
        size_t l = utf8_len(p + i, n - i);
        if (l == 0 || p[i] < 0x20 || p[i] == 0x7f) {
            buf[k++] = p[i] == '\n' || p[i] == '\t' || p[i] == '\r' ? ' ' : '?';
            i++;
        } else {
            memcpy(buf + k, p + i, l);
            k += l, i += l;
        }
        chars++;
    }
    if (i < n && k + 4 <= buflen) {
        memcpy(buf + k, "…", 3);
        k += 3;
    }
    buf[k < buflen ? k : buflen - 1] = '\0';
}
