/*
 * The [metrics] listener (see metrics.h): counters kept by the control
 * process (daemon_int.h, struct shojid_counters) and the pool's state as
 * Prometheus text. Handles untrusted input: HTTP request heads from local
 * clients, parsed by http_get_parse; nothing else of theirs is read.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon_int.h"
#include "http_get.h"
#include "listen.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

#define METRICS_MAX_LISTENERS 4
#define METRICS_MAX_BODY (16 * 1024)

struct metrics_client {
	int fd; /* -1 = free */
	uint64_t deadline;
	size_t len;
	char buf[HTTP_GET_MAX_REQUEST];
};

struct metrics_server {
	int listen_fd[METRICS_MAX_LISTENERS];
	size_t nlisten;
	struct metrics_client clients[MAX_METRICS_CLIENTS];
};

struct text {
	char *buf;
	size_t cap, len;
	bool overflow;
};

static void __attribute__((format(printf, 2, 3))) put(struct text *t, const char *fmt, ...)
{
	va_list ap;

	if (t->overflow)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= t->cap - t->len)
		t->overflow = true;
	else
		t->len += (size_t)n;
}

static void head(struct text *t, const char *name, const char *type, const char *help)
{
	put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void render_sessions(const struct shojid *d, struct text *t)
{
	struct session_table *st = (struct session_table *)&d->sessions;

	head(t, "shoji_sessions", "gauge", "Browser sessions by pool state.");
	for (int s = 0; s < SESSION_NSTATES; s++)
		put(t, "shoji_sessions{state=\"%s\"} %zu\n",
		    session_state_name((enum session_state)s),
		    session_count(st, (enum session_state)s));
	head(t, "shoji_sessions_max", "gauge", "Most sessions at once ([pool] max_sessions).");
	put(t, "shoji_sessions_max %zu\n", pool_max_sessions(d));
	head(t, "shoji_connections", "gauge", "Viewer connections open.");
	put(t, "shoji_connections %zu\n", d->nconns);
	head(t, "shoji_drained", "gauge", "1 while no new sessions are started (shojictl drain).");
	put(t, "shoji_drained %d\n", d->drained ? 1 : 0);
}

static void render_counters(const struct shojid *d, struct text *t)
{
	const struct shojid_counters *c = &d->counters;
	static const enum ctl_protocol protos[] = {CTL_PROTO_VNC, CTL_PROTO_RDP};

	head(t, "shoji_logins_total", "counter", "Logins with a correct password, by outcome.");
	put(t, "shoji_logins_total{result=\"accepted\"} %llu\n",
	    (unsigned long long)c->logins_accepted);
	put(t, "shoji_logins_total{result=\"refused\"} %llu\n",
	    (unsigned long long)c->logins_refused);
	head(t, "shoji_bytes_out_total", "counter", "Bytes sent to viewers, by protocol.");
	for (size_t i = 0; i < ARRAY_SIZE(protos); i++)
		put(t, "shoji_bytes_out_total{protocol=\"%s\"} %llu\n", proto_name(protos[i]),
		    (unsigned long long)c->bytes_out[protos[i]]);
	head(t, "shoji_frames_total", "counter", "Frames (screen updates) sent to viewers.");
	for (size_t i = 0; i < ARRAY_SIZE(protos); i++)
		put(t, "shoji_frames_total{protocol=\"%s\"} %llu\n", proto_name(protos[i]),
		    (unsigned long long)c->frames[protos[i]]);
	head(t, "shoji_encode_seconds", "histogram",
	     "Time to encode a frame and hand it to the connection.");
	uint64_t cum = 0;
	for (size_t i = 0; i < CTL_ENCODE_BUCKETS - 1; i++) {
		cum += c->encode[i];
		put(t, "shoji_encode_seconds_bucket{le=\"%g\"} %llu\n",
		    ctl_encode_bounds_us[i] / 1e6, (unsigned long long)cum);
	}
	cum += c->encode[CTL_ENCODE_BUCKETS - 1];
	put(t, "shoji_encode_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
	put(t, "shoji_encode_seconds_sum %.6f\n", (double)c->encode_us / 1e6);
	put(t, "shoji_encode_seconds_count %llu\n", (unsigned long long)cum);
	head(t, "shoji_render_crashes_total", "counter",
	     "Sessions whose browser side ended without being asked to.");
	put(t, "shoji_render_crashes_total %llu\n", (unsigned long long)c->render_crashes);
	head(t, "shoji_uptime_seconds", "gauge", "Seconds since shojid started.");
	put(t, "shoji_uptime_seconds %llu\n",
	    (unsigned long long)((now_ms() - d->started_ms) / 1000));
}

size_t metrics_render(const struct shojid *d, char *buf, size_t cap)
{
	struct text t = {.buf = buf, .cap = cap};

	render_sessions(d, &t);
	render_counters(d, &t);
	return t.overflow ? 0 : t.len;
}

struct metrics_server *metrics_open(const struct shojid *d, int *failed)
{
	const struct shoji_strlist *l = &d->cfg->metrics_listen;
	char err[256];

	*failed = 0;
	if (l->n == 0)
		return NULL;
	struct metrics_server *m = xcalloc(1, sizeof(*m));
	for (size_t i = 0; i < MAX_METRICS_CLIENTS; i++)
		m->clients[i].fd = -1;
	for (size_t i = 0; i < l->n && m->nlisten < METRICS_MAX_LISTENERS; i++) {
		int fd = listen_open(l->items[i], err, sizeof(err));
		if (fd < 0) {
			log_error("[metrics] listen: %s", err);
			metrics_destroy(m);
			*failed = 1;
			return NULL;
		}
		m->listen_fd[m->nlisten++] = fd;
		log_info("metrics on http://%s/metrics", l->items[i]);
	}
	return m;
}

static void client_close(struct metrics_client *c)
{
	close(c->fd);
	c->fd = -1;
}

void metrics_destroy(struct metrics_server *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nlisten; i++)
		close(m->listen_fd[i]);
	for (size_t i = 0; i < MAX_METRICS_CLIENTS; i++)
		if (m->clients[i].fd >= 0)
			client_close(&m->clients[i]);
	free(m);
}

size_t metrics_fds(struct metrics_server *m, int *fds, void **ptrs, size_t cap)
{
	size_t n = 0;

	if (!m)
		return 0;
	for (size_t i = 0; i < m->nlisten && n < cap; i++, n++) {
		fds[n] = m->listen_fd[i];
		ptrs[n] = NULL;
	}
	for (size_t i = 0; i < MAX_METRICS_CLIENTS && n < cap; i++) {
		if (m->clients[i].fd < 0)
			continue;
		fds[n] = m->clients[i].fd;
		ptrs[n++] = &m->clients[i];
	}
	return n;
}

static void on_accept(struct metrics_server *m, int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	for (size_t i = 0; i < MAX_METRICS_CLIENTS; i++) {
		struct metrics_client *c = &m->clients[i];
		if (c->fd >= 0)
			continue;
		c->fd = fd;
		c->len = 0;
		c->deadline = now_ms() + METRICS_TIMEOUT_MS;
		return;
	}
	close(fd); /* busy: the scraper tries again at its next interval */
}

/* Sends what fits at once (answers are small) and closes. */
static void respond(struct metrics_client *c, const char *status, const char *type,
                    const char *body, size_t len)
{
	char headbuf[256];
	int n = snprintf(headbuf, sizeof(headbuf),
	                 "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	                 "Connection: close\r\n\r\n",
	                 status, type, len);
	struct iovec iov[2] = {{headbuf, (size_t)n}, {(void *)body, len}};
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
	sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	shutdown(c->fd, SHUT_WR);
	client_close(c);
}

static void answer(const struct shojid *d, struct metrics_client *c, const struct http_get *r)
{
	static char body[METRICS_MAX_BODY];
	static const char text[] = "text/plain; charset=utf-8";

	if (strcmp(r->method, "GET") != 0) {
		respond(c, "400 Bad Request", text, "GET only\n", 9);
		return;
	}
	if (strcmp(r->path, "/metrics") != 0) {
		respond(c, "404 Not Found", text, "not found; try /metrics\n", 24);
		return;
	}
	size_t len = metrics_render(d, body, sizeof(body));
	if (len == 0) {
		log_warn("metrics: the text did not fit in %d bytes", METRICS_MAX_BODY);
		respond(c, "500 Internal Server Error", text, "", 0);
		return;
	}
	respond(c, "200 OK", "text/plain; version=0.0.4; charset=utf-8", body, len);
}

void metrics_on_ready(struct shojid *d, void *ptr)
{
	struct metrics_server *m = d->metrics;
	struct metrics_client *c = ptr;
	struct http_get r;

	if (!c) {
		for (size_t i = 0; i < m->nlisten; i++)
			on_accept(m, m->listen_fd[i]);
		return;
	}
	ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_close(c);
		return;
	}
	c->len += (size_t)n;
	ssize_t used = http_get_parse(c->buf, c->len, &r);
	if (used < 0)
		respond(c, "400 Bad Request", "text/plain; charset=utf-8", "bad request\n", 12);
	else if (used > 0)
		answer(d, c, &r);
}

void metrics_timeouts(struct metrics_server *m, int *timeout)
{
	uint64_t now = now_ms();

	if (!m)
		return;
	for (size_t i = 0; i < MAX_METRICS_CLIENTS; i++) {
		struct metrics_client *c = &m->clients[i];
		if (c->fd < 0)
			continue;
		if (c->deadline <= now)
			client_close(c);
		else if (*timeout < 0 || c->deadline - now < (uint64_t)*timeout)
			*timeout = (int)(c->deadline - now);
	}
}
