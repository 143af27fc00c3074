/*
 * The end-to-end harness (see harness.h). Processes it starts are killed
 * by the test's own exit at the latest (PR_SET_PDEATHSIG).
 */
#include "autoconfig.h"

#include <X11/keysym.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "click.h"
#include "harness.h"
#include "util.h"

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return ntohs(sa.sin_port);
}

static bool port_open(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bool ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

int http_server_start(struct http_server *s, const char *dir)
{
	char port[16];

	s->port = free_port();
	snprintf(s->log_path, sizeof(s->log_path), "/tmp/shoji-http-%d-%d.log", (int)getpid(),
		 s->port);
	snprintf(port, sizeof(port), "%d", s->port);
	s->pid = fork();
	if (s->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int fd = open(s->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, STDERR_FILENO);
		dup2(fd, STDOUT_FILENO);
		execlp("python3", "python3", "-u", "-m", "http.server", "--bind", "127.0.0.1",
		       "--directory", dir, port, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) {
		if (port_open(s->port))
			return 0;
		usleep(50000);
	}
	http_server_stop(s);
	return -1;
}

void http_server_stop(struct http_server *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
		s->pid = -1;
	}
}

int http_server_requests(const struct http_server *s)
{
	FILE *f = fopen(s->log_path, "r");
	char line[1024];
	int n = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "\"GET ") || strstr(line, "\"POST ") || strstr(line, "\"CONNECT "))
			n++;
	fclose(f);
	return n;
}

static int write_config(struct session_proc *p, const char *extra_ini)
{
	FILE *f = fopen(p->config_path, "w");
	if (!f)
		return -1;
	fprintf(f, "[server]\nstate_dir = %s\nlog_level = info\nrender_path = %s/render/shoji-render\n"
		   "[audit]\nfile = %s\n[sandbox]\nuid_range = %u-%u\n",
		p->state_dir, SHOJI_BUILDDIR, p->audit_path, p->uid, p->uid);
	if (extra_ini)
		fputs(extra_ini, f);
	return fclose(f);
}

static int wait_first_frame(struct session_proc *p, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;
	while (now_ms() < end) {
		if (session_pump(p, 100) < 0)
			return -1;
		if (pixlink_client_fb(p->link))
			return 0;
	}
	return -1;
}

int session_start(struct session_proc *p, const char *extra_ini, uint16_t width,
		  uint16_t height)
{
	int sv[2];
	char size[32], uid[16], fd[16];

	memset(p, 0, sizeof(*p));
	p->uid = 200900 + (uint32_t)(getpid() % 90);
	snprintf(p->session, sizeof(p->session), "t%d", (int)getpid());
	snprintf(p->root, sizeof(p->root), "/tmp/shoji-e2e-XXXXXX");
	if (!mkdtemp(p->root))
		return -1;
	chmod(p->root, 0755);
	snprintf(p->config_path, sizeof(p->config_path), "%s/shoji.conf", p->root);
	snprintf(p->audit_path, sizeof(p->audit_path), "%s/audit.log", p->root);
	snprintf(p->state_dir, sizeof(p->state_dir), "%s/state", p->root);
	snprintf(p->log_path, sizeof(p->log_path), "%s/render.log", p->root);
	if (write_config(p, extra_ini) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	snprintf(size, sizeof(size), "%ux%u", width, height);
	snprintf(uid, sizeof(uid), "%u", p->uid);
	p->pid = fork();
	if (p->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int log = open(p->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (log >= 0)
			dup2(log, STDERR_FILENO);
		int child = fcntl(sv[1], F_DUPFD, 10);
		snprintf(fd, sizeof(fd), "%d", child);
		execl(SHOJI_BUILDDIR "/render/shoji-render", "shoji-render", "-c", p->config_path,
		      "--session", p->session, "--uid", uid, "--link-fd", fd, "--size", size,
		      (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	p->link = pixlink_client_create(sv[0], 8192, 8192);
	if (p->pid < 0 || !p->link)
		return -1;
	return wait_first_frame(p, 20000);
}

int session_pump(struct session_proc *p, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;
	do {
		struct pixlink_event ev;
		int r;
		while ((r = pixlink_client_read(p->link, &ev)) > 0) {
			if (ev.type == PIXLINK_EV_DAMAGE)
				p->damage_count++;
			if (ev.type == PIXLINK_EV_NOTICE) {
				p->notices++;
				p->last_notice = ev.msg->u.notice.code;
			}
			if (ev.type == PIXLINK_EV_CLIPBOARD) {
				p->clips++;
				p->clip_len = MIN(ev.msg->u.clip.len, sizeof(p->clip) - 1);
				memcpy(p->clip, ev.msg->u.clip.text, p->clip_len);
				p->clip[p->clip_len] = '\0';
			}
		}
		if (r < 0) {
			fprintf(stderr, "pixel link: %s\n", pixlink_client_error(p->link));
			return -1;
		}
		if (pixlink_client_fb(p->link) && pixlink_client_credit(p->link) == 0)
			pixlink_client_grant(p->link, 1);
		int left = (int)(end > now_ms() ? end - now_ms() : 0);
		struct pollfd pfd = { .fd = pixlink_client_fd(p->link), .events = POLLIN };
		poll(&pfd, 1, MIN(left, 50));
	} while (now_ms() < end);
	return 0;
}

uint32_t session_pixel(struct session_proc *p, int x, int y)
{
	const struct pixlink_framebuffer *fb = pixlink_client_fb(p->link);
	if (!fb || x < 0 || y < 0 || (uint32_t)x >= fb->width || (uint32_t)y >= fb->height)
		return 0xff000000u;
	const uint8_t *px = pixlink_client_pixels(p->link) + (size_t)y * fb->stride + (size_t)x * 4;
	return (uint32_t)px[2] << 16 | (uint32_t)px[1] << 8 | px[0];
}

static bool near(uint32_t a, uint32_t b, int tol)
{
	for (int shift = 0; shift <= 16; shift += 8) {
		int d = (int)((a >> shift) & 0xff) - (int)((b >> shift) & 0xff);
		if (abs(d) > tol)
			return false;
	}
	return !(a & 0xff000000u);
}

bool session_wait_pixel(struct session_proc *p, int x, int y, uint32_t rgb, int tol,
			int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;
	do {
		if (near(session_pixel(p, x, y), rgb, tol))
			return true;
		if (session_pump(p, 50) < 0)
			return false;
	} while (now_ms() < end);
	return near(session_pixel(p, x, y), rgb, tol);
}

static bool find_color(struct session_proc *p, uint32_t rgb, int *x, int *y)
{
	const struct pixlink_framebuffer *fb = pixlink_client_fb(p->link);
	if (!fb)
		return false;
	for (uint32_t j = 0; j < fb->height; j++)
		for (uint32_t i = 0; i < fb->width; i++)
			if (session_pixel(p, (int)i, (int)j) == rgb) {
				*x = (int)i;
				*y = (int)j;
				return true;
			}
	return false;
}

bool session_wait_color(struct session_proc *p, uint32_t rgb, int timeout_ms, int *x, int *y)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;
	do {
		if (find_color(p, rgb, x, y))
			return true;
		if (session_pump(p, 200) < 0)
			return false;
	} while (now_ms() < end);
	return find_color(p, rgb, x, y);
}

int session_send(struct session_proc *p, const struct pixlink_msg *m)
{
	return pixlink_client_send(p->link, m);
}

int session_key(struct session_proc *p, uint32_t keysym, bool down)
{
	struct pixlink_msg m = { .type = PIXLINK_KEY };
	m.u.key = (struct pixlink_key){ .keysym = keysym, .down = down };
	return session_send(p, &m);
}

int session_type(struct session_proc *p, const char *text)
{
	for (const char *c = text; *c; c++) {
		uint32_t sym = (unsigned char)*c;
		if (*c == '\n')
			sym = XK_Return;
		if (session_key(p, sym, true) < 0 || session_key(p, sym, false) < 0)
			return -1;
		session_pump(p, 20);
	}
	return 0;
}

int session_click(struct session_proc *p, int x, int y)
{
	struct pixlink_msg m = { .type = PIXLINK_POINTER };
	m.u.pointer = (struct pixlink_pointer){ .x = (uint16_t)x, .y = (uint16_t)y };
	if (session_send(p, &m) < 0)
		return -1;
	session_pump(p, 50);
	m.u.pointer.buttons = PIXLINK_BUTTON_LEFT;
	if (session_send(p, &m) < 0)
		return -1;
	session_pump(p, 50);
	m.u.pointer.buttons = 0;
	return session_send(p, &m);
}

static int click_session(void *p, int x, int y)
{
	return session_click(p, x, y);
}

static bool wait_session(void *p, int x, int y, uint32_t rgb, int timeout_ms)
{
	return session_wait_pixel(p, x, y, rgb, 8, timeout_ms);
}

bool session_click_until(struct session_proc *p, int x, int y, int px, int py, uint32_t rgb,
                         int timeout_ms)
{
	return click_until(p, click_session, wait_session, x, y, px, py, rgb, timeout_ms);
}

int session_resize(struct session_proc *p, uint16_t w, uint16_t h)
{
	struct pixlink_msg m = { .type = PIXLINK_RESIZE };
	m.u.size = (struct pixlink_size){ w, h };
	return session_send(p, &m);
}

int session_stop(struct session_proc *p, int timeout_ms)
{
	int status = -1;

	pixlink_client_destroy(p->link);
	p->link = NULL;
	uint64_t end = now_ms() + (uint64_t)timeout_ms;
	while (now_ms() < end) {
		if (waitpid(p->pid, &status, WNOHANG) == p->pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		usleep(50000);
	}
	kill(p->pid, SIGTERM);
	waitpid(p->pid, &status, 0);
	return -1;
}

bool session_log_has(struct session_proc *p, const char *text, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;
	do {
		if (audit_has(p->log_path, text, NULL, NULL))
			return true;
		if (p->link && session_pump(p, 200) < 0)
			return false;
		if (!p->link)
			usleep(200000);
	} while (now_ms() < end);
	return false;
}

bool audit_has(const char *audit_path, const char *a, const char *b, const char *c)
{
	FILE *f = fopen(audit_path, "r");
	char line[4096];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, a) && (!b || strstr(line, b)) && (!c || strstr(line, c));
	fclose(f);
	return found;
}

void session_dump_ppm(struct session_proc *p, const char *path)
{
	const struct pixlink_framebuffer *fb = pixlink_client_fb(p->link);
	FILE *f = fopen(path, "wb");
	if (!f || !fb) {
		if (f)
			fclose(f);
		return;
	}
	fprintf(f, "P6\n%u %u\n255\n", fb->width, fb->height);
	for (uint32_t y = 0; y < fb->height; y++)
		for (uint32_t x = 0; x < fb->width; x++) {
			uint32_t c = session_pixel(p, (int)x, (int)y);
			uint8_t rgb[3] = { (uint8_t)(c >> 16), (uint8_t)(c >> 8), (uint8_t)c };
			fwrite(rgb, 1, 3, f);
		}
	fclose(f);
}
