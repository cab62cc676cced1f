/* notify: the systemd service protocol (READY, RELOADING, STOPPING, STATUS,
 * WATCHDOG), a no-op when not started by systemd or built without libsystemd. */
#ifndef COMPLAINTD_NOTIFY_H
#define COMPLAINTD_NOTIFY_H

#include <ev.h>

void notify_ready(void);
void notify_reloading(void);
void notify_stopping(void);
void notify_status(const char *status);
/* While starting: the status, and more time to finish starting (a standby
 * waiting for the desk). */
void notify_waiting(const char *status, unsigned seconds);
/* Starts a timer that pets the watchdog at half its interval, when enabled. */
void notify_watchdog_start(struct ev_loop *loop, ev_timer *w);

#endif
