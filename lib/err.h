/* err: the caller's error buffer (`char *err, size_t errlen`) of lib/. */
#ifndef COMPLAINTD_ERR_H
#define COMPLAINTD_ERR_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* Writes a message into err when the caller gave one. */
__attribute__((format(printf, 3, 4))) static inline void err_set(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

#endif
