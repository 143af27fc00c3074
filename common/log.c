/*
 * Logger: the only process-global mutable state besides the config. Writes
 * whole lines with one write(2) so lines of forked children do not mix.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static char log_ident[32] = "shoji";
static enum shoji_log_level log_level = SHOJI_LOG_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void shoji_log_init(const char *ident, enum shoji_log_level level)
{
	snprintf(log_ident, sizeof(log_ident), "%s", ident);
	log_level = level;
}

void shoji_log_set_level(enum shoji_log_level level)
{
	log_level = level;
}

enum shoji_log_level shoji_log_get_level(void)
{
	return log_level;
}

void shoji_log_at(enum shoji_log_level level, const char *file, int line,
		  const char *fmt, ...)
{
	int saved_errno = errno;
	char buf[1024];
	struct timespec ts;
	struct tm tm;
	size_t n;
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	/* Local time with its offset: sessions may run in another time zone. */
	char zone[8];
	strftime(zone, sizeof(zone), "%z", &tm);
	n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, ".%03ld%s %s[%d] %s %s:%d: ",
			      ts.tv_nsec / 1000000, zone, log_ident, (int)getpid(),
			      level_names[level], file, line);
	if (n < sizeof(buf)) {
		va_start(ap, fmt);
		int m = vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
		va_end(ap);
		if (m > 0)
			n += (size_t)m;
	}
	if (n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	ssize_t w = write(STDERR_FILENO, buf, n);
	(void)w;
	errno = saved_errno;
}
