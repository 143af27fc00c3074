/*
 * Starts the private X server (see xserver.h). Readiness comes from
 * -displayfd: the server writes its display number to a pipe once it
 * accepts connections. No untrusted input.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "xserver.h"

#define COOKIE_LEN 16

static void put_counted(uint8_t **p, const void *data, uint16_t len)
{
	(*p)[0] = (uint8_t)(len >> 8);
	(*p)[1] = (uint8_t)len;
	memcpy(*p + 2, data, len);
	*p += 2 + len;
}

/* Writes an Xauthority file with one FamilyLocal entry for this host. */
static int write_xauthority(const char *path, const char *display_number, uint8_t *cookie)
{
	static const char proto[] = "MIT-MAGIC-COOKIE-1";
	char host[256];
	uint8_t buf[512], *p = buf;

	if (gethostname(host, sizeof(host)) < 0)
		return -1;
	host[sizeof(host) - 1] = '\0';
	p[0] = 0x01; /* FamilyLocal = 256, big-endian */
	p[1] = 0x00;
	p += 2;
	put_counted(&p, host, (uint16_t)strlen(host));
	put_counted(&p, display_number, (uint16_t)strlen(display_number));
	put_counted(&p, proto, sizeof(proto) - 1);
	put_counted(&p, cookie, COOKIE_LEN);

	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	int rc = write_all(fd, buf, (size_t)(p - buf));
	close(fd);
	return rc;
}

static pid_t spawn_server(const char *binary, const char *auth_path, int displayfd,
			  uint16_t width, uint16_t height)
{
	char geometry[32], fdarg[16];

	snprintf(geometry, sizeof(geometry), "%ux%u", width, height);
	snprintf(fdarg, sizeof(fdarg), "%d", displayfd);
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	/* Child: the server's chatter goes to a log inside the sandbox. */
	int log = open("/tmp/xserver.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (log >= 0) {
		dup2(log, STDOUT_FILENO);
		dup2(log, STDERR_FILENO);
	}
	execl(binary, binary, ":0", "-displayfd", fdarg, "-auth", auth_path, "-nolisten", "tcp",
	      "-rfbport", "-1", "-SecurityTypes", "None", "-geometry", geometry, "-depth", "24",
	      "-desktop", "shoji", "-noreset", "-dpi", "96", (char *)NULL);
	log_error("cannot run the X server %s: %s", binary, strerror(errno));
	_exit(127);
}

static int wait_ready(int rfd, pid_t pid, int timeout_ms, int *display)
{
	char buf[16];
	size_t got = 0;
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;

	while (now_ms() < deadline) {
		struct pollfd pfd = { .fd = rfd, .events = POLLIN };
		int n = poll(&pfd, 1, 100);
		if (n > 0) {
			ssize_t r = read(rfd, buf + got, sizeof(buf) - 1 - got);
			if (r <= 0)
				break;
			got += (size_t)r;
			buf[got] = '\0';
			if (strchr(buf, '\n')) {
				*display = atoi(buf);
				return 0;
			}
		}
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			log_error("the X server exited during start-up");
			return -1;
		}
	}
	log_error("the X server did not become ready within %d ms", timeout_ms);
	return -1;
}

int xserver_start(struct xserver *xs, const char *binary, uint16_t width, uint16_t height,
		  int timeout_ms)
{
	uint8_t cookie[COOKIE_LEN];
	int pfd[2];

	memset(xs, 0, sizeof(*xs));
	xs->pid = -1;
	snprintf(xs->auth_path, sizeof(xs->auth_path), "/tmp/.Xauthority-shoji");
	if (random_bytes(cookie, sizeof(cookie)) < 0 ||
	    write_xauthority(xs->auth_path, "0", cookie) < 0) {
		log_error("cannot write %s: %s", xs->auth_path, strerror(errno));
		return -1;
	}
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	/* The write end must survive exec in the child only. */
	int wfd = fcntl(pfd[1], F_DUPFD, 10);
	close(pfd[1]);
	if (wfd < 0) {
		close(pfd[0]);
		return -1;
	}
	xs->pid = spawn_server(binary, xs->auth_path, wfd, width, height);
	close(wfd);
	if (xs->pid < 0 || wait_ready(pfd[0], xs->pid, timeout_ms, &xs->display) < 0) {
		close(pfd[0]);
		xserver_stop(xs);
		return -1;
	}
	close(pfd[0]);
	snprintf(xs->display_name, sizeof(xs->display_name), ":%d", xs->display);
	setenv("DISPLAY", xs->display_name, 1);
	setenv("XAUTHORITY", xs->auth_path, 1);
	log_info("X server ready on %s (pid %d, %ux%u)", xs->display_name, (int)xs->pid, width,
		 height);
	return 0;
}

void xserver_stop(struct xserver *xs)
{
	if (xs->pid <= 0)
		return;
	kill(xs->pid, SIGTERM);
	for (int i = 0; i < 50; i++) {
		if (waitpid(xs->pid, NULL, WNOHANG) == xs->pid) {
			xs->pid = -1;
			return;
		}
		usleep(20000);
	}
	kill(xs->pid, SIGKILL);
	waitpid(xs->pid, NULL, 0);
	xs->pid = -1;
}
