/*
 * Audit log writer: JSON lines appended with O_APPEND and one write(2) per
 * line, so several processes can share the file without interleaving.
 * Field values may come from outside (host names a page asked for, user
 * names a viewer typed): they are escaped here, and invalid UTF-8 becomes
 * U+FFFD, so every line stays valid JSON.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "audit.h"
#include "util.h"

#define AUDIT_MAX_LINE 4096

struct audit_log {
	int fd;
};

static int open_log(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
}

struct audit_log *audit_open(const char *path)
{
	int fd = open_log(path);
	if (fd < 0)
		return NULL;
	struct audit_log *log = xcalloc(1, sizeof(*log));
	log->fd = fd;
	return log;
}

int audit_reopen(struct audit_log *log, const char *path)
{
	int fd = open_log(path);
	if (fd < 0)
		return -1;
	/* dup3 swaps atomically: a writer on another thread never sees a closed fd. */
	int rc = dup3(fd, log->fd, O_CLOEXEC);
	int saved = errno;
	close(fd);
	errno = saved;
	return rc < 0 ? -1 : 0;
}

void audit_close(struct audit_log *log)
{
	if (!log)
		return;
	close(log->fd);
	free(log);
}

struct out {
	char *buf;
	size_t cap, len;
	bool overflow;
};

static void put_bytes(struct out *o, const char *s, size_t n)
{
	if (o->len + n >= o->cap) {
		o->overflow = true;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static void put_str(struct out *o, const char *s)
{
	put_bytes(o, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s, or 0 if it is not one. */
static size_t utf8_valid_len(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	size_t n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
	if (n == 0 || s[0] > 0xf4)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if (n == 3 && ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0)))
		return 0; /* overlong, or a surrogate */
	if (n == 4 && ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90)))
		return 0;
	return n;
}

static void put_json_string(struct out *o, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	char esc[8];

	put_bytes(o, "\"", 1);
	while (*p) {
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			put_bytes(o, esc, 2);
			p++;
		} else if (*p < 0x20 || *p == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", *p);
			put_str(o, esc);
			p++;
		} else {
			size_t n = utf8_valid_len(p);
			if (n == 0) {
				put_str(o, "\\ufffd");
				p++;
			} else {
				put_bytes(o, (const char *)p, n);
				p += n;
			}
		}
	}
	put_bytes(o, "\"", 1);
}

static void put_counters(struct out *o, const struct audit_counter *c, size_t n)
{
	char num[64];

	put_bytes(o, "{", 1);
	for (size_t i = 0; i < n; i++) {
		if (i)
			put_bytes(o, ",", 1);
		put_json_string(o, c[i].name);
		snprintf(num, sizeof(num), ":{\"in\":%llu,\"out\":%llu}",
		         (unsigned long long)c[i].in, (unsigned long long)c[i].out);
		put_str(o, num);
	}
	put_bytes(o, "}", 1);
}

static int format_va(char *buf, size_t cap, const char *time, const char *event, va_list ap)
{
	struct out o = {.buf = buf, .cap = cap};
	char num[32];

	put_str(&o, "{\"time\":");
	put_json_string(&o, time);
	put_str(&o, ",\"event\":");
	put_json_string(&o, event);
	for (;;) {
		enum audit_field_kind kind = va_arg(ap, enum audit_field_kind);
		if (kind == AUDIT_END)
			break;
		const char *name = va_arg(ap, const char *);
		put_bytes(&o, ",", 1);
		put_json_string(&o, name);
		put_bytes(&o, ":", 1);
		switch (kind) {
		case AUDIT_STR:
			put_json_string(&o, va_arg(ap, const char *));
			break;
		case AUDIT_INT:
			snprintf(num, sizeof(num), "%lld", va_arg(ap, long long));
			put_str(&o, num);
			break;
		case AUDIT_BOOL:
			put_str(&o, va_arg(ap, int) ? "true" : "false");
			break;
		case AUDIT_COUNTERS: {
			const struct audit_counter *list = va_arg(ap, const struct audit_counter *);
			put_counters(&o, list, va_arg(ap, size_t));
			break;
		}
		default:
			return -1;
		}
	}
	put_str(&o, "}\n");
	if (o.overflow)
		return -1;
	o.buf[o.len] = '\0';
	return (int)o.len;
}

int audit_format(char *buf, size_t cap, const char *time, const char *event, ...)
{
	va_list ap;

	va_start(ap, event);
	int n = format_va(buf, cap, time, event, ap);
	va_end(ap);
	return n;
}

int audit_event(struct audit_log *log, const char *event, ...)
{
	char line[AUDIT_MAX_LINE];
	char time[40];
	va_list ap;

	if (!log)
		return 0;
	format_time_utc(time, sizeof(time));
	va_start(ap, event);
	int n = format_va(line, sizeof(line), time, event, ap);
	va_end(ap);
	if (n < 0) {
		errno = EMSGSIZE;
		return -1;
	}
	ssize_t w = write(log->fd, line, (size_t)n);
	if (w != n) {
		if (w >= 0)
			errno = ENOSPC;
		return -1;
	}
	return 0;
}
