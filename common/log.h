/*
 * Logging: one macro, four levels, to stderr (the journal under systemd).
 *
 * Levels: ERROR (something failed and was given up), WARN (something is
 * wrong but work goes on), INFO (lifecycle: start, stop, session events),
 * DEBUG (for developers). Secrets (passwords, keys, clipboard text) are
 * never passed to the logger. Audit events are not logs: see audit.h.
 */
#pragma once

#include <stdarg.h>

enum shoji_log_level {
	SHOJI_LOG_ERROR = 0,
	SHOJI_LOG_WARN = 1,
	SHOJI_LOG_INFO = 2,
	SHOJI_LOG_DEBUG = 3,
};

/** Sets the process name shown in each line (e.g. "shojid", "render[3f2a]"). */
void shoji_log_init(const char *ident, enum shoji_log_level level);
void shoji_log_set_level(enum shoji_log_level level);
enum shoji_log_level shoji_log_get_level(void);

void shoji_log_at(enum shoji_log_level level, const char *file, int line,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define shoji_log(level, ...) \
	do { \
		if ((level) <= shoji_log_get_level()) \
			shoji_log_at((level), __FILE__, __LINE__, __VA_ARGS__); \
	} while (0)

#define log_error(...) shoji_log(SHOJI_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) shoji_log(SHOJI_LOG_WARN, __VA_ARGS__)
#define log_info(...) shoji_log(SHOJI_LOG_INFO, __VA_ARGS__)
#define log_debug(...) shoji_log(SHOJI_LOG_DEBUG, __VA_ARGS__)
