/* notify: sd_notify wrappers; see notify.h. */
#include "notify.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#define SEND(...) sd_notifyf(0, __VA_ARGS__)
#else
#define SEND(...) ((void)0)
#endif

void notify_ready(void)
{
    SEND("READY=1");
}

void notify_reloading(void)
{
    SEND("RELOADING=1");
}

void notify_stopping(void)
{
    SEND("STOPPING=1");
}

void notify_status(const char *status)
{
    (void)status;
    SEND("STATUS=%s", status);
}

void notify_waiting(const char *status, unsigned seconds)
{
    (void)status, (void)seconds;
    SEND("STATUS=%s\nEXTEND_TIMEOUT_USEC=%llu", status, (unsigned long long)seconds * 1000000ULL);
}

static void watchdog_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)w, (void)revents;
    SEND("WATCHDOG=1");
}

void notify_watchdog_start(struct ev_loop *loop, ev_timer *w)
{
#ifdef HAVE_SYSTEMD
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
        double every = (double)usec / 2e6;
        ev_timer_init(w, watchdog_cb, every, every);
        ev_timer_start(loop, w);
        return;
    }
#endif
    (void)loop;
    ev_init(w, watchdog_cb);
}
