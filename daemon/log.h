/* log: the daemon's only logger. Lines go to stderr: as "time complaintd
 * level: message" on a terminal or a file; under systemd, when stderr is the
 * journal, as "<N>level: message" with the syslog priority N that journald
 * files the line under (3 error, 4 warning, 6 info, 7 debug) and no time of
 * our own. log_format = json writes each line as one JSON object (time,
 * level, priority, message), behind the same "<N>" under journald. Never log
 * free text or personal data. */
#ifndef COMPLAINTD_LOG_H
#define COMPLAINTD_LOG_H

typedef enum { LOG_ERR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG } LogLevel;
typedef enum { LOG_TEXT = 0, LOG_JSON } LogFormat;

void log_set_level(LogLevel l);
void log_set_format(LogFormat f);
/* Looks at JOURNAL_STREAM once at start: is stderr the journal? */
void log_detect_journal(void);
/* "error", "warning", "info", "debug"; -1 when unknown. */
int log_level_from_name(const char *name);
void log_msg(LogLevel l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
