/* oom: the daemon's one out-of-memory policy. Running out of memory is not
 * recoverable in a daemon whose truth between commits is in memory, and
 * nothing is lost by stopping: PostgreSQL has every committed effect and
 * Kafka redelivers the rest. So every allocation failure in daemon/ ends
 * here: one log line, then abort() (systemd restarts the service). */
#ifndef COMPLAINTD_OOM_H
#define COMPLAINTD_OOM_H

#include <stddef.h>

__attribute__((noreturn)) void oom_die(void);

/* p, or oom_die() when p is NULL: x = oom_check(malloc(n)). */
static inline void *oom_check(void *p)
{
    if (!p)
        oom_die();
    return p;
}

/* r, or oom_die() when r is negative (lib/'s -1 for out of memory). */
static inline int oom_rc(int r)
{
    if (r < 0)
        oom_die();
    return r;
}

#endif
