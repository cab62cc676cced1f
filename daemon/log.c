/* log: leveled lines on stderr; see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "jw.h"

static LogLevel current = LOG_INFO;
static LogFormat format = LOG_TEXT;
static bool journal; /* stderr is a journald stream: it keeps the time and reads <N> priorities */
static const char *const names[] = {"error", "warning", "info", "debug"};
/* syslog priorities, as journald reads them from a "<N>" prefix */
static const int priorities[] = {3, 4, 6, 7};

void log_set_level(LogLevel l)
{
    current = l;
}

void log_set_format(LogFormat f)
{
    format = f;
}

int log_level_from_name(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

/* systemd sets JOURNAL_STREAM to "device:inode" of the stream it connected
 * to stderr (systemd.exec(5)); only then is stderr the journal. */
void log_detect_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    struct stat st;
    unsigned long long dev, ino;
    journal = js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(2, &st) == 0 &&
              (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_msg(LogLevel l, const char *fmt, ...)
{
    if (l > current)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* One record, one line: a message that quotes another program's text
     * (libpq's errors end in a newline) cannot start a line of its own. */
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r' || msg[n - 1] == ' ' || msg[n - 1] == '\t'))
        msg[--n] = '\0';
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
            msg[i] = ' ';
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[64];
    snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    if (format == LOG_JSON) {
        Jw w;
        jw_init(&w);
        jw_obj(&w);
        jw_key(&w, "time"), jw_str(&w, when);
        jw_key(&w, "level"), jw_str(&w, names[l]);
        jw_key(&w, "priority"), jw_int(&w, priorities[l]);
        jw_key(&w, "message"), jw_str(&w, msg);
        jw_end_obj(&w);
        char *line = jw_take(&w, NULL);
        if (journal)
            fprintf(stderr, "<%d>%s\n", priorities[l], line ? line : "{}");
        else
            fprintf(stderr, "%s\n", line ? line : "{}");
        free(line);
        return;
    }
    if (journal)
        fprintf(stderr, "<%d>%s: %s\n", priorities[l], names[l], msg);
    else
        fprintf(stderr, "%s complaintd %s: %s\n", when, names[l], msg);
}
