/* migrations: the SQL files of schema/, compiled in by CMake. */
#ifndef COMPLAINTD_MIGRATIONS_H
#define COMPLAINTD_MIGRATIONS_H

#include <stddef.h>

typedef struct Migration {
    const char *name; /* "001_init.sql" */
    const char *sql;
} Migration;

extern const Migration migrations[];
extern const size_t migrations_count;

#endif
