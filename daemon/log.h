/* log: the daemon's only logger. Lines go to stderr (journald under systemd)
 * as "<level>: message". Never log free text or personal data. */
#ifndef COMPLAINTD_LOG_H
#define COMPLAINTD_LOG_H

typedef enum { LOG_ERR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG } LogLevel;

void log_set_level(LogLevel l);
/* "error", "warning", "info", "debug"; -1 when unknown. */
int log_level_from_name(const char *name);
void log_msg(LogLevel l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
