/*
 * Session table and render processes (see sessions.h). Untrusted input:
 * the pixel link while warming, read through pixlink_client.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup_limits.h"
#include "log.h"
#include "pixlink_client.h"
#include "sessions.h"
#include "util.h"

const char *session_state_name(enum session_state st)
{
	static const char *const names[] = {"warming", "ready", "attached", "detached", "ending"};
	return names[st];
}

static bool uid_in_use(struct session_table *t, uint32_t uid)
{
	for (struct session *s = t->head; s; s = s->next)
		if (s->uid == uid)
			return true;
	return false;
}

static uint32_t free_uid(struct session_table *t)
{
	const struct shoji_range *r = &t->cfg->sandbox_uid_range;
	for (uint64_t uid = r->lo; uid <= r->hi; uid++)
		if (!uid_in_use(t, (uint32_t)uid))
			return (uint32_t)uid;
	return 0;
}

static pid_t spawn_render(const struct shoji_config *cfg, const struct session *s, int fd)
{
	char uid[16], fdarg[16];

	pid_t pid = fork();
	if (pid != 0)
		return pid;
	int child = fcntl(fd, F_DUPFD, 10); /* not close-on-exec */
	snprintf(fdarg, sizeof(fdarg), "%d", child);
	snprintf(uid, sizeof(uid), "%u", s->uid);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execl(cfg->server_render_path, "shoji-render", "-c", cfg->source, "--session", s->id,
	      "--uid", uid, "--link-fd", fdarg, (char *)NULL);
	log_error("cannot run %s: %s", cfg->server_render_path, strerror(errno));
	_exit(127);
}

struct session *session_spawn(struct session_table *t)
{
	uint8_t rnd[8];
	int sv[2];

	uint32_t uid = free_uid(t);
	if (uid == 0 || random_bytes(rnd, sizeof(rnd)) < 0) {
		errno = EAGAIN;
		return NULL;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return NULL;
	struct session *s = xcalloc(1, sizeof(*s));
	hex_encode(s->id, rnd, sizeof(rnd));
	s->uid = uid;
	s->link = fcntl(sv[0], F_DUPFD_CLOEXEC, 3);
	s->pid = spawn_render(t->cfg, s, sv[1]);
	close(sv[1]);
	if (s->pid < 0 || s->link < 0) {
		close(sv[0]);
		if (s->link >= 0)
			close(s->link);
		free(s);
		return NULL;
	}
	s->probe = pixlink_client_create(sv[0], (uint32_t)t->cfg->display_max_width,
	                                 (uint32_t)t->cfg->display_max_height);
	s->state = SESSION_WARMING;
	s->since_ms = s->created_ms = now_ms();
	s->next = t->head;
	t->head = s;
	log_info("session %s warming (uid %u, pid %d)", s->id, s->uid, (int)s->pid);
	return s;
}

bool session_probe(struct session *s)
{
	struct pixlink_event ev;
	int r;

	while ((r = pixlink_client_read(s->probe, &ev)) > 0) {
		if (ev.type != PIXLINK_EV_FRAMEBUFFER)
			continue;
		/* Stop reading: the next reader resyncs from a clean start. */
		pixlink_client_destroy(s->probe);
		s->probe = NULL;
		log_info("session %s ready after %llu ms", s->id,
		         (unsigned long long)(now_ms() - s->since_ms));
		s->state = SESSION_READY;
		s->since_ms = now_ms();
		return true;
	}
	if (r < 0) {
		log_warn("session %s: %s; ending it", s->id, pixlink_client_error(s->probe));
		pixlink_client_destroy(s->probe);
		s->probe = NULL;
		kill(s->pid, SIGTERM);
	}
	return false;
}

struct session *session_find_pid(struct session_table *t, pid_t pid)
{
	for (struct session *s = t->head; s; s = s->next)
		if (s->pid == pid)
			return s;
	return NULL;
}

/* The user's session in state st that entered it first. */
static struct session *find_user_in(struct session_table *t, const char *user,
                                    enum session_state st)
{
	struct session *best = NULL;
	for (struct session *s = t->head; s; s = s->next)
		if (s->state == st && !strcmp(s->user, user) &&
		    (!best || s->since_ms < best->since_ms))
			best = s;
	return best;
}

struct session *session_find_detached(struct session_table *t, const char *user)
{
	return find_user_in(t, user, SESSION_DETACHED);
}

struct session *session_find_attached(struct session_table *t, const char *user)
{
	return find_user_in(t, user, SESSION_ATTACHED);
}

struct session *session_find_id(struct session_table *t, const char *id)
{
	for (struct session *s = t->head; s; s = s->next)
		if (!strcmp(s->id, id))
			return s;
	return NULL;
}

size_t session_total(struct session_table *t)
{
	size_t n = 0;
	for (struct session *s = t->head; s; s = s->next)
		n++;
	return n;
}

size_t session_count_user(struct session_table *t, const char *user)
{
	size_t n = 0;
	for (struct session *s = t->head; s; s = s->next)
		n += s->state != SESSION_ENDING && s->user[0] && !strcmp(s->user, user);
	return n;
}

void session_end(struct session *s)
{
	if (s->state == SESSION_ENDING)
		return;
	pixlink_client_destroy(s->probe);
	s->probe = NULL;
	s->state = SESSION_ENDING;
	s->since_ms = now_ms();
	kill(s->pid, SIGTERM);
}

struct session *session_find_ready(struct session_table *t)
{
	struct session *best = NULL;
	for (struct session *s = t->head; s; s = s->next)
		if (s->state == SESSION_READY && (!best || s->since_ms < best->since_ms))
			best = s;
	return best;
}

size_t session_count(struct session_table *t, enum session_state st)
{
	size_t n = 0;
	for (struct session *s = t->head; s; s = s->next)
		n += s->state == st;
	return n;
}

void session_remove(struct session_table *t, struct session *s)
{
	for (struct session **p = &t->head; *p; p = &(*p)->next) {
		if (*p != s)
			continue;
		*p = s->next;
		pixlink_client_destroy(s->probe);
		if (s->link >= 0)
			close(s->link);
		free(s);
		return;
	}
}

void session_stop_all(struct session_table *t, int timeout_ms)
{
	for (struct session *s = t->head; s; s = s->next) {
		pixlink_client_destroy(s->probe);
		s->probe = NULL;
		close(s->link); /* with every reader gone, render sees the link close */
		s->link = -1;
	}
	uint64_t end = now_ms() + (uint64_t)timeout_ms;
	while (t->head && now_ms() < end) {
		pid_t pid = waitpid(-1, NULL, WNOHANG);
		struct session *s = pid > 0 ? session_find_pid(t, pid) : NULL;
		if (s)
			session_remove(t, s);
		else if (pid <= 0)
			usleep(20000);
	}
	for (struct session *s = t->head; s; s = s->next)
		kill(s->pid, SIGTERM);
	while (t->head) {
		pid_t pid = waitpid(t->head->pid, NULL, 0);
		(void)pid;
		session_remove(t, t->head);
	}
}

void session_add_output(struct session *s, uint64_t bytes, uint32_t frames)
{
	uint64_t sec = now_ms() / 1000;
	size_t i = sec % SESSION_RATE_SECONDS;

	if (s->out_sec[i] != sec) {
		s->out_sec[i] = sec;
		s->out_bytes[i] = 0;
		s->out_frames[i] = 0;
	}
	s->out_bytes[i] += bytes;
	s->out_frames[i] += frames;
}

void session_output_rate(const struct session *s, uint64_t *kbps_x10, uint64_t *fps_x10)
{
	uint64_t sec = now_ms() / 1000, bytes = 0, frames = 0;

	for (size_t i = 0; i < SESSION_RATE_SECONDS; i++) {
		if (s->out_sec[i] + SESSION_RATE_SECONDS <= sec)
			continue;
		bytes += s->out_bytes[i];
		frames += s->out_frames[i];
	}
	/* bits / 1000 / seconds, times ten */
	*kbps_x10 = bytes * 8 / (100 * SESSION_RATE_SECONDS);
	*fps_x10 = frames * 10 / SESSION_RATE_SECONDS;
}

void session_sample_usage(struct session *s, struct limits *l)
{
	struct limits_usage u;

	/* A warming session's supervisor may not have made its cgroup yet; one that
	 * cannot be read (each failure is logged) is not tried again and again. */
	if (!l || s->state == SESSION_WARMING || s->state == SESSION_ENDING ||
	    s->usage_failures >= SESSION_USAGE_TRIES)
		return;
	if (limits_session_usage(l, s->id, &u) < 0) {
		if (++s->usage_failures == SESSION_USAGE_TRIES)
			log_warn("session %s: its cgroup cannot be read; CPU and memory not shown",
			         s->id);
		return;
	}
	s->usage_failures = 0;
	s->prev_cpu_usec = s->cpu_usec;
	s->prev_cpu_ms = s->cpu_ms;
	s->cpu_usec = u.cpu_usec;
	s->cpu_ms = now_ms();
	s->rss_bytes = u.rss_bytes ? u.rss_bytes : u.memory_bytes;
	s->usage_known = true;
}

bool session_usage(const struct session *s, uint64_t *cpu_x10, uint64_t *rss_bytes)
{
	*cpu_x10 = 0;
	*rss_bytes = s->rss_bytes;
	if (!s->usage_known)
		return false;
	if (s->prev_cpu_ms && s->cpu_ms > s->prev_cpu_ms && s->cpu_usec >= s->prev_cpu_usec)
		/* usec / (ms * 1000) * 100 % * 10 = usec / ms */
		*cpu_x10 = (s->cpu_usec - s->prev_cpu_usec) / (s->cpu_ms - s->prev_cpu_ms);
	return true;
}
