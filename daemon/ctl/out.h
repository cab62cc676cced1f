/* out: complaintctl's output: aligned text tables, CSV, JSON documents and
 * times as people read them. */
#ifndef COMPLAINTCTL_OUT_H
#define COMPLAINTCTL_OUT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A table of text cells, printed with aligned columns or as CSV. */
typedef struct Table Table;

Table *tbl_new(int ncols, const char *const *headers);
void tbl_free(Table *t);
/* Starts a row; cells are then set left to right with tbl_cell/tbl_cellf
 * (a missing cell prints empty). */
void tbl_row(Table *t);
void tbl_cell(Table *t, const char *s); /* NULL: empty */
__attribute__((format(printf, 2, 3))) void tbl_cellf(Table *t, const char *fmt, ...);
/* Right-aligns column i (numbers). */
void tbl_align_right(Table *t, int col);
size_t tbl_rows(const Table *t);
/* Columns padded to their widest cell (in characters), two spaces apart. */
void tbl_print(const Table *t, FILE *f);
/* RFC 4180: a header line, then the rows; cells quoted when they need it. */
void tbl_csv(const Table *t, FILE *f);

/* "2025-11-28 22:30" (":ss" when not on the minute) at the offset; "-" for
 * TU_NEVER. buf holds 40 bytes. */
#define OUT_TIME_LEN 40
char *out_time(int64_t t, int off, char *buf);
/* "Fri 2025-11-28 22:30". */
char *out_wtime(int64_t t, int off, char *buf);
/* The RFC 3339 form of alerts ("2025-11-28T22:30:00+08:00"); a JSON
 * string, or JSON null for TU_NEVER and absent times. */
json_t *out_jtime(int64_t t, int off);

/* Prints a JSON document (indented, keys in insertion order) and a
 * newline; takes the reference. */
void out_json(json_t *doc);

/* A JSON string of text that may not be UTF-8 (a Kafka key, a preview):
 * invalid bytes as \xNN, as lib/dlq writes them. */
json_t *out_jstr(const char *s, size_t n);
/* The first `max` characters of s for one table cell: control characters
 * and invalid bytes as '?', and "…" when cut. */
void out_preview(const char *s, size_t n, size_t max, char *buf, size_t buflen);

#endif
