/*
 * End to end: hostile input and faults against a real shojid. Password
 * guessing (the address lockout and the per-user backoff), the audit log's
 * disk full, kill -9 of a session's shoji-render and of its browser,
 * viewers that vanish mid-handshake or hold connections half-open (VNC and
 * RDP, 100 at once), malformed and oversized VNC messages from a logged-in
 * viewer, and a viewer that stops reading. Through all of it another
 * viewer must go on getting frames and sending input. Needs root (shojid
 * gives each session its own uid; the disk-full test mounts a tmpfs) and
 * is skipped otherwise.
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "notice.h"
#include "rdp_client.h"
#include "util.h"
#include "viewer.h"

Suite *suite_faults(void);

#define SHOJICTL SHOJI_BUILDDIR "/proxy/shojictl"
#define DEMO_PASSWORD "demo-password-1"
#define CLERK_PASSWORD "clerk-password-2"
#define RED 0xff0000
#define BLUE 0x0000ff
#define YELLOW 0xffff00
#define PAGE_TIMEOUT_MS 90000

static struct shojid_proc d;

static void start(const char *ini, int ready)
{
	char log[160];

	ck_assert_msg(shojid_setup(&d, ini) == 0, "harness setup failed (%s)", d.root);
	fprintf(stderr, "faults: test files in %s\n", d.root);
	ck_assert_int_eq(shojid_add_user(&d, "demo", DEMO_PASSWORD), 0);
	ck_assert_int_eq(shojid_add_user(&d, "clerk", CLERK_PASSWORD), 0);
	viewer_log_to(shojid_path(&d, "vncclient.log", log, sizeof(log)));
	rdp_client_log_to(d.root, "freerdp.log");
	ck_assert_msg(shojid_launch(&d, 120000) == 0, "shojid did not get ready (%s)", d.log_path);
	if (ready > 1)
		ck_assert_msg(shojid_wait_ready(&d, ready, 120000), "sessions did not get ready");
}

static void finish(void)
{
	ck_assert_msg(shojid_alive(&d), "shojid died (%s)", d.log_path);
	int rc = shojid_stop(&d, 30000);
	ck_assert_msg(rc == 0, "shojid exited with %d (%s)", rc, d.log_path);
	viewer_log_to(NULL);
	shojid_cleanup(&d);
}

static struct viewer *login(const char *user, const char *password)
{
	struct viewer_options opt = {
	    .port = d.port, .ca_file = d.ca_path, .user = user, .password = password};
	return viewer_connect(&opt);
}

static struct viewer *login_ok(const char *user, const char *password)
{
	struct viewer *v = login(user, password);
	ck_assert_msg(v, "%s could not log in (%s/vncclient.log, %s)", user, d.root, d.log_path);
	return v;
}

static void page_origin(struct viewer *v, int *x, int *y)
{
	char path[160];

	if (viewer_wait_block(v, RED, 200, 150, PAGE_TIMEOUT_MS, x, y))
		return;
	viewer_dump_ppm(v, shojid_path(&d, "nored.ppm", path, sizeof(path)));
	ck_abort_msg("the test page never appeared (screen in %s)", path);
}

static void expect_pixel(struct viewer *v, int x, int y, uint32_t rgb, const char *what)
{
	char path[160];

	if (viewer_wait_pixel(v, x, y, rgb, 8, 30000))
		return;
	viewer_dump_ppm(v, shojid_path(&d, "unexpected.ppm", path, sizeof(path)));
	ck_abort_msg("%s: pixel %d,%d is %06x, not %06x (screen in %s)", what, x, y,
	             viewer_pixel(v, x, y), rgb, path);
}

static bool closed_within(struct viewer *v, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;

	while (viewer_pump(v, 100) == 0)
		if (now_ms() >= end)
			return false;
	return true;
}

/* Whether text is in the libvncclient log (what a viewer was told). */
static bool client_log_has(const char *text)
{
	char path[160];
	return audit_has(shojid_path(&d, "vncclient.log", path, sizeof(path)), text, NULL, NULL);
}

/*
 * The other viewer is still served: a reload of its page is not possible
 * from here, so it clicks the blue block (first call) and sees it turn
 * yellow, or, later, sees frames arrive for a typed key in the field.
 */
static void still_served(struct viewer *v, int ox, int oy, const char *when)
{
	char what[160];

	ck_assert_msg(!viewer_closed(v), "the other viewer was cut off %s", when);
	viewer_click_until(v, ox + 200, oy + 200, ox + 350, oy + 230, YELLOW, 15000);
	snprintf(what, sizeof(what), "the other viewer's click %s", when);
	expect_pixel(v, ox + 350, oy + 230, YELLOW, what);
	ck_assert_int_eq(viewer_pump(v, 200), 0);
}

/* ---- password guessing ---- */

/* One failed login; the client's log then says why. */
static void wrong_login(const char *user)
{
	struct viewer *v = login(user, "not-the-password");
	ck_assert_msg(!v, "a wrong password for %s was accepted", user);
}

/* n wrong logins, each with a user name of its own, from `procs` processes at once. */
static void spray(int n, int procs)
{
	pid_t pids[16];

	ck_assert_int_le(procs, 16);
	for (int p = 0; p < procs; p++) {
		pids[p] = fork();
		ck_assert_int_ge(pids[p], 0);
		if (pids[p] == 0) {
			char user[32];
			for (int i = p; i < n; i += procs) {
				snprintf(user, sizeof(user), "guess-%d", i);
				viewer_destroy(login(user, "not-the-password"));
			}
			_exit(0);
		}
	}
	for (int p = 0; p < procs; p++)
		waitpid(pids[p], NULL, 0);
}

START_TEST(lockout_and_backoff)
{
	int ox, oy;

	start("[auth]\nlockout_failures = 50\nlockout_window = 3600\nlockout_seconds = 20\n"
	      "backoff_max_seconds = 4\n",
	      1);
	/* Per user: failures make the next check wait, but never lock the account. */
	for (int i = 0; i < 3; i++)
		wrong_login("clerk");
	ck_assert_msg(
	    shojid_audit_wait(&d, "\"event\":\"login_backoff\"", "\"user\":\"clerk\"", NULL, 10000),
	    "clerk's repeated failures did not make a check wait");
	struct viewer *c = login_ok("clerk", CLERK_PASSWORD);
	page_origin(c, &ox, &oy);
	viewer_destroy(c);
	ck_assert_int_eq(shojid_audit_count(&d, "\"event\":\"address_lockout\"", NULL), 0);

	/* 47 more wrong passwords from this address (50 in all): it is locked out. */
	spray(47, 4);
	ck_assert_msg(shojid_audit_wait(&d, "\"event\":\"address_lockout\"",
	                                "\"address\":\"127.0.0.1\"", "\"failures\":50", 20000),
	              "50 failures did not lock the address out (%s)", d.audit_path);
	ck_assert_int_eq(
	    shojid_audit_count(&d, "\"event\":\"login_refused\"", "wrong user name or password"),
	    50);
	ck_assert(shojid_log_wait(&d, "locked out for 20 s", 5000));
	/* Now even the right password is refused unchecked, and audited. */
	ck_assert_ptr_null(login("demo", DEMO_PASSWORD));
	ck_assert_msg(client_log_has("too many failed logins from this address"),
	              "the viewer was not told why");
	ck_assert(shojid_audit_wait(&d, "\"event\":\"login_refused\"", "\"user\":\"demo\"",
	                            "address locked out", 5000));
	ck_assert_int_eq(
	    shojid_audit_count(&d, "\"event\":\"session_attach\"", "\"user\":\"demo\""), 0);
	/* After lockout_seconds the address may try again. */
	uint64_t end = now_ms() + 90000;
	struct viewer *v = NULL;
	while (!v && now_ms() < end) {
		sleep(2);
		v = login("demo", DEMO_PASSWORD);
	}
	ck_assert_msg(v, "the address was still locked out after lockout_seconds");
	page_origin(v, &ox, &oy);
	viewer_destroy(v);
	finish();
}
END_TEST

/* ---- the audit log's disk full ---- */

/*
 * Fills the file system of dir with one file (its path in out), then the
 * last page of the audit log, which the file system has already given it,
 * with whole JSON lines: afterwards no line of shojid's fits anywhere.
 */
static void fill_disk(const char *dir, char *out, size_t cap)
{
	static const char block[4096];
	char line[256];
	struct stat st;

	snprintf(out, cap, "%s/filler", dir);
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	while (write(fd, block, sizeof(block)) > 0)
		;
	while (write(fd, block, 1) > 0)
		;
	ck_assert_int_eq(errno, ENOSPC);
	close(fd);
	fd = open(d.audit_path, O_WRONLY | O_APPEND | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	for (;;) {
		ck_assert_int_eq(fstat(fd, &st), 0);
		size_t room = st.st_size % 4096 ? 4096 - (size_t)(st.st_size % 4096) : 0;
		if (room == 0)
			break;
		size_t n = room < 40 ? 1 : MIN(room, sizeof(line) - 1);
		if (n == 1)
			line[0] = '\n';
		else
			snprintf(line, sizeof(line), "{\"event\":\"test_fill\",\"pad\":\"%0*d\"}\n",
			         (int)n - 31, 0);
		if (write(fd, line, n) <= 0)
			break;
	}
	close(fd);
}

/* Whether the test page server has served index.html n times (once per session). */
static bool pages_served(int n)
{
	char line[1024];
	int got = 0;
	FILE *f = fopen(d.pages.log_path, "r");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		got += strstr(line, "\"GET /index.html") != NULL;
	fclose(f);
	return got >= n;
}

START_TEST(audit_disk_full)
{
	char mnt[160], filler[192], opts[64];
	int ox, oy;

	ck_assert_msg(shojid_setup(&d, NULL) == 0, "harness setup failed (%s)", d.root);
	fprintf(stderr, "faults: test files in %s\n", d.root);
	/*
	 * The audit log on a small file system of its own, in a mount namespace
	 * of this test's (shojid inherits it): a failed test leaves no mount.
	 */
	ck_assert_int_eq(unshare(CLONE_NEWNS), 0);
	ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	shojid_path(&d, "auditfs", mnt, sizeof(mnt));
	ck_assert_int_eq(mkdir(mnt, 0755), 0);
	snprintf(opts, sizeof(opts), "size=%dk,mode=0755", 256);
	ck_assert_msg(mount("shoji-audit-test", mnt, "tmpfs", MS_NOSUID | MS_NODEV, opts) == 0,
	              "cannot mount a tmpfs on %s: %s", mnt, strerror(errno));
	char target[192];
	snprintf(target, sizeof(target), "%s/audit.log", mnt);
	ck_assert_int_eq(symlink(target, d.audit_path), 0);
	ck_assert_int_eq(shojid_add_user(&d, "demo", DEMO_PASSWORD), 0);
	ck_assert_int_eq(shojid_add_user(&d, "clerk", CLERK_PASSWORD), 0);
	char log[160];
	viewer_log_to(shojid_path(&d, "vncclient.log", log, sizeof(log)));
	ck_assert_msg(shojid_launch(&d, 120000) == 0, "shojid did not get ready (%s)", d.log_path);

	/*
	 * A login while there is room: served. The second warm session loads
	 * its page first too: while the disk is full its browser's requests
	 * are refused, since they cannot be audited either.
	 */
	struct viewer *a = login_ok("clerk", CLERK_PASSWORD);
	page_origin(a, &ox, &oy);
	ck_assert_msg(shojid_wait_ready(&d, 2, 120000), "no second session got ready");
	for (int i = 0; i < 600 && !pages_served(2); i++)
		usleep(100000);
	ck_assert_msg(pages_served(2), "the second session did not load its page");

	fill_disk(mnt, filler, sizeof(filler));
	ck_assert_ptr_null(login("demo", DEMO_PASSWORD));
	ck_assert_msg(shojid_log_wait(&d, "refusing new sessions until it can be written", 10000),
	              "shojid did not say why it refused (%s)", d.log_path);
	ck_assert_msg(client_log_has("cannot write its audit log"), "the viewer was not told why");
	ck_assert(shojid_alive(&d));
	/* The viewer already in goes on. */
	still_served(a, ox, oy, "while the audit disk is full");

	/* Room again: the next login is served and audited. */
	ck_assert_int_eq(unlink(filler), 0);
	struct viewer *v = login_ok("demo", DEMO_PASSWORD);
	page_origin(v, &ox, &oy);
	ck_assert(shojid_log_wait(&d, "can be written again", 5000));
	ck_assert(
	    shojid_audit_wait(&d, "\"event\":\"session_attach\"", "\"user\":\"demo\"", NULL, 5000));
	viewer_destroy(v);
	viewer_destroy(a);
	ck_assert_msg(shojid_alive(&d), "shojid died (%s)", d.log_path);
	int rc = shojid_stop(&d, 30000);
	ck_assert_msg(rc == 0, "shojid exited with %d (%s)", rc, d.log_path);
	ck_assert_int_eq(umount(mnt), 0);
	viewer_log_to(NULL);
	shojid_cleanup(&d);
}
END_TEST

/* ---- kill -9 inside a session ---- */

/* Runs shojictl -s SOCKET --json sessions; its output in out. */
static void ctl_sessions(char *out, size_t cap)
{
	char sock[160];
	int p[2], status;
	size_t len = 0;

	shojid_path(&d, "admin.sock", sock, sizeof(sock));
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		execl(SHOJICTL, SHOJICTL, "-s", sock, "--json", "sessions", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	for (ssize_t n; len < cap - 1 && (n = read(p[0], out + len, cap - 1 - len)) > 0;)
		len += (size_t)n;
	out[len] = '\0';
	close(p[0]);
	waitpid(pid, &status, 0);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* A number field of the user's session in `shojictl --json sessions`. */
static long session_field(const char *user, const char *field)
{
	char out[16384], key[80];

	ctl_sessions(out, sizeof(out));
	snprintf(key, sizeof(key), "\"user\":\"%s\"", user);
	char *at = strstr(out, key);
	ck_assert_msg(at, "no session of %s in %s", user, out);
	while (at > out && *at != '{')
		at--;
	snprintf(key, sizeof(key), "\"%s\":", field);
	char *v = strstr(at, key);
	ck_assert_msg(v, "no %s in %s", field, at);
	return strtol(v + strlen(key), NULL, 10);
}

/* The browser's main process (not a --type= child) running as uid. */
static pid_t find_browser(uid_t uid)
{
	DIR *dir = opendir("/proc");
	struct dirent *de;
	pid_t found = -1;

	ck_assert_ptr_nonnull(dir);
	while (found < 0 && (de = readdir(dir))) {
		char path[300], cmd[4096];
		struct stat st;
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s", de->d_name);
		if (stat(path, &st) < 0 || st.st_uid != uid)
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, cmd, sizeof(cmd) - 1);
		close(fd);
		if (n <= 0)
			continue;
		cmd[n] = '\0';
		bool child = memmem(cmd, (size_t)n, "--type=", 7) != NULL;
		if (strstr(cmd, "chromium") && !child)
			found = (pid_t)atoi(de->d_name);
	}
	closedir(dir);
	return found;
}

START_TEST(kill_render_and_browser)
{
	int ox, oy, cx, cy;

	start("[pool]\nmin_ready = 2\n", 2);
	struct viewer *v = login_ok("demo", DEMO_PASSWORD);
	struct viewer *other = login_ok("clerk", CLERK_PASSWORD);
	page_origin(v, &ox, &oy);
	page_origin(other, &cx, &cy);

	/* The browser of demo's session: restarted, demo's viewer told and shown the page. */
	uid_t uid = (uid_t)session_field("demo", "uid");
	pid_t browser = -1;
	for (int i = 0; i < 100 && browser < 0; i++, usleep(100000))
		browser = find_browser(uid);
	ck_assert_msg(browser > 0, "no browser process of uid %u", (unsigned)uid);
	ck_assert_int_eq(kill(browser, SIGKILL), 0);
	/* demo's viewer is told over its picture while the browser comes back. */
	char shot[160];
	if (!viewer_wait_pixel(v, 2, viewer_height(v) / 2, NOTICE_BAND_RGB, 4, 60000)) {
		viewer_dump_ppm(v, shojid_path(&d, "no-restart-notice.ppm", shot, sizeof(shot)));
		ck_abort_msg("no notice of the browser's restart on demo's screen (%s)", shot);
	}
	ck_assert_msg(shojid_log_wait(&d, "session notice 1: the browser was restarted", 60000),
	              "no restart notice reached demo's worker (%s)", d.log_path);
	ck_assert_msg(!viewer_closed(v), "the browser's crash cut demo's viewer off");
	page_origin(v, &ox, &oy);
	still_served(other, cx, cy, "after the other session's browser was killed");

	/* demo's shoji-render: the session ends, its viewer is let go, the rest goes on. */
	pid_t render = (pid_t)session_field("demo", "pid");
	ck_assert_int_gt(render, 1);
	ck_assert_int_eq(kill(render, SIGKILL), 0);
	/* The viewer is told, over its picture, before the connection closes. */
	if (!viewer_wait_pixel(v, 2, viewer_height(v) / 2, NOTICE_BAND_RGB, 4, 30000)) {
		viewer_dump_ppm(v, shojid_path(&d, "no-notice.ppm", shot, sizeof(shot)));
		ck_abort_msg("no end-of-session notice on demo's screen (%s)", shot);
	}
	ck_assert_msg(closed_within(v, 30000), "demo's viewer outlived its session");
	viewer_destroy(v);
	ck_assert_msg(shojid_log_wait(&d, "pixel link ended", 10000),
	              "the worker did not see the session end");
	ck_assert(shojid_alive(&d));
	ck_assert_msg(!viewer_closed(other), "clerk's viewer was cut off by demo's session");
	ck_assert_int_eq(viewer_key(other, 'a', true), 0);
	ck_assert_int_eq(viewer_key(other, 'a', false), 0);
	ck_assert_int_eq(viewer_pump(other, 500), 0);
	/* demo comes back to a new browser. */
	ck_assert_msg(shojid_wait_ready(&d, 3, 120000), "no new session got ready");
	v = login_ok("demo", DEMO_PASSWORD);
	page_origin(v, &ox, &oy);
	expect_pixel(v, ox + 200, oy + 200, BLUE, "demo's new page");
	viewer_destroy(v);
	ck_assert_msg(!viewer_closed(other), "clerk's viewer was cut off");
	viewer_destroy(other);
	finish();
}
END_TEST

/* ---- connections that stop half-way ---- */

static int tcp_connect(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct timeval tv = {.tv_sec = 20};

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Reads exactly n bytes, or fewer if the server closed or went quiet. */
static size_t read_some(int fd, void *buf, size_t n)
{
	size_t got = 0;
	for (ssize_t r; got < n && (r = read(fd, (uint8_t *)buf + got, n - got)) > 0;)
		got += (size_t)r;
	return got;
}

/*
 * A VNC client that gives up after `steps` steps of the handshake: 0 the
 * TCP connection, 1 the version, 2 VeNCrypt chosen, 3 VeNCrypt 0.2, 4
 * X509Plain chosen, 5 the TLS ClientHello. Its socket (left open) or -1
 * when it was closed.
 */
static int vnc_partial(int steps, bool keep_open, SSL_CTX *ctx, SSL **ssl)
{
	uint8_t buf[64];
	int fd = tcp_connect(d.port);

	if (steps >= 1) {
		ck_assert_uint_eq(read_some(fd, buf, 12), 12);
		ck_assert_int_eq(write_all(fd, "RFB 003.008\n", 12), 0);
		ck_assert_uint_eq(read_some(fd, buf, 2), 2); /* 1 type: 19 */
	}
	if (steps >= 2) {
		ck_assert_int_eq(write_all(fd, "\x13", 1), 0);
		ck_assert_uint_eq(read_some(fd, buf, 2), 2);
	}
	if (steps >= 3) {
		ck_assert_int_eq(write_all(fd, "\x00\x02", 2), 0);
		ck_assert_uint_eq(read_some(fd, buf, 6), 6);
	}
	if (steps >= 4) {
		ck_assert_int_eq(write_all(fd, "\x00\x00\x01\x06", 4), 0);
		ck_assert_uint_eq(read_some(fd, buf, 1), 1);
	}
	if (steps >= 5) {
		*ssl = SSL_new(ctx);
		SSL_set_fd(*ssl, fd);
		set_nonblock(fd, true);
		/* Sends the ClientHello, then wants to read (or, if the server was quick, more). */
		int r = SSL_connect(*ssl);
		ck_assert(r == 1 || SSL_get_error(*ssl, r) == SSL_ERROR_WANT_READ);
	}
	if (keep_open)
		return fd;
	close(fd);
	return -1;
}

/* An RDP client that gives up: 0 connected, 1 half an X.224 request, 2 all of it, 3 ClientHello. */
static int rdp_partial(int steps, bool keep_open, SSL_CTX *ctx, SSL **ssl)
{
	/* TPKT, X.224 Connection Request, RDP_NEG_REQ for TLS. */
	static const uint8_t cr[] = {3,    0,    0, 19, 14, 0xe0, 0, 0, 0, 0,
	                             0x00, 0x01, 0, 8,  0,  1,    0, 0, 0};
	uint8_t buf[64];
	int fd = tcp_connect(d.rdp_port);

	if (steps == 1)
		ck_assert_int_eq(write_all(fd, cr, 7), 0);
	if (steps >= 2) {
		ck_assert_int_eq(write_all(fd, cr, sizeof(cr)), 0);
		ck_assert_uint_eq(read_some(fd, buf, 19), 19); /* the Connection Confirm */
	}
	if (steps >= 3) {
		*ssl = SSL_new(ctx);
		SSL_set_fd(*ssl, fd);
		set_nonblock(fd, true);
		int r = SSL_connect(*ssl);
		ck_assert(r == 1 || SSL_get_error(*ssl, r) == SSL_ERROR_WANT_READ);
	}
	if (keep_open)
		return fd;
	close(fd);
	return -1;
}

/* Waits until shojid has no more than n workers. */
static bool workers_down_to(int n, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;
	while (shojid_workers(&d, NULL) > n)
		if (now_ms() >= end)
			return false;
		else
			usleep(200000);
	return true;
}

START_TEST(half_open_and_abandoned_handshakes)
{
	enum { HALF_OPEN = 100 };
	int fds[HALF_OPEN];
	SSL *ssls[HALF_OPEN] = {0};
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	int cx, cy;

	ck_assert_ptr_nonnull(ctx);
	start("[pool]\nmin_ready = 2\n", 2);
	struct viewer *other = login_ok("clerk", CLERK_PASSWORD);
	page_origin(other, &cx, &cy);

	/* Viewers that vanish at each step of the handshake. */
	for (int step = 0; step <= 5; step++) {
		SSL *ssl = NULL;
		int fd = vnc_partial(step, step == 5, ctx, &ssl);
		if (fd >= 0) {
			SSL_free(ssl);
			close(fd);
		}
	}
	for (int step = 0; step <= 3; step++) {
		SSL *ssl = NULL;
		int fd = rdp_partial(step, step == 3, ctx, &ssl);
		if (fd >= 0) {
			SSL_free(ssl);
			close(fd);
		}
	}
	ck_assert_msg(workers_down_to(1, 60000), "workers of abandoned handshakes linger");
	ck_assert(shojid_alive(&d));
	still_served(other, cx, cy, "after abandoned handshakes");

	/* 100 half-open connections at once: silent, or stopped after the ClientHello. */
	for (int i = 0; i < HALF_OPEN; i++) {
		switch (i % 4) {
		case 0:
			fds[i] = tcp_connect(d.port);
			break;
		case 1:
			fds[i] = tcp_connect(d.rdp_port);
			break;
		case 2:
			fds[i] = vnc_partial(5, true, ctx, &ssls[i]);
			break;
		default:
			fds[i] = rdp_partial(3, true, ctx, &ssls[i]);
			break;
		}
	}
	/* Meanwhile a good client logs in and is served, and the other viewer goes on. */
	struct viewer *v = login_ok("demo", DEMO_PASSWORD);
	int ox, oy;
	page_origin(v, &ox, &oy);
	ck_assert_int_eq(viewer_pump(other, 200), 0);
	ck_assert(!viewer_closed(other));
	/* The half-open ones time out: shojid closes them on its own. */
	ck_assert_msg(workers_down_to(2, 240000), "half-open connections never timed out (%d left)",
	              shojid_workers(&d, NULL));
	for (int i = 0; i < HALF_OPEN; i++) {
		/* What the server sent before giving up, then the end of the stream. */
		char buf[4096];
		ssize_t r;
		set_nonblock(fds[i], false);
		while ((r = read(fds[i], buf, sizeof(buf))) > 0)
			;
		ck_assert_msg(r == 0 || errno == ECONNRESET, "connection %d still open (%s)", i,
		              strerror(errno));
		SSL_free(ssls[i]);
		close(fds[i]);
	}
	ck_assert(shojid_alive(&d));
	viewer_click_until(v, ox + 200, oy + 200, ox + 350, oy + 230, YELLOW, 15000);
	expect_pixel(v, ox + 350, oy + 230, YELLOW, "the good client's click");
	viewer_destroy(v);
	viewer_destroy(other);
	SSL_CTX_free(ctx);
	finish();
}
END_TEST

/* ---- malformed and oversized messages from a logged-in viewer ---- */

START_TEST(malformed_vnc_messages)
{
	/* Each ends the connection that sent it; nothing else. */
	static const struct {
		const char *what;
		uint8_t bytes[24];
		size_t len;
	} msgs[] = {
	    {"an unknown message type", {0xfe, 0, 0, 0}, 4},
	    {"ClientCutText of 2 GB", {6, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 'x'}, 9},
	    {"SetEncodings with 65535 encodings", {2, 0, 0xff, 0xff, 0, 0, 0, 0}, 8},
	    {"SetPixelFormat with 3 bits per pixel",
	     {0, 0, 0, 0, 3, 3, 0, 1, 0, 7, 0, 7, 0, 3, 5, 2, 0, 0, 0, 0},
	     20},
	};
	int ox, oy, cx, cy;

	start("[pool]\nmin_ready = 2\n", 2);
	struct viewer *other = login_ok("clerk", CLERK_PASSWORD);
	page_origin(other, &cx, &cy);
	for (size_t i = 0; i < ARRAY_SIZE(msgs); i++) {
		struct viewer *v = login_ok("demo", DEMO_PASSWORD);
		page_origin(v, &ox, &oy);
		int before =
		    shojid_audit_count(&d, "\"event\":\"session_detach\"", "\"user\":\"demo\"");
		ck_assert_int_eq(viewer_write_raw(v, msgs[i].bytes, msgs[i].len), 0);
		ck_assert_msg(closed_within(v, 30000), "%s did not end the connection",
		              msgs[i].what);
		viewer_destroy(v);
		uint64_t end = now_ms() + 10000;
		while (shojid_audit_count(&d, "\"event\":\"session_detach\"",
		                          "\"user\":\"demo\"") == before &&
		       now_ms() < end)
			usleep(100000);
		ck_assert_msg(shojid_audit_count(&d, "\"event\":\"session_detach\"",
		                                 "\"user\":\"demo\"") > before,
		              "the end of the connection after %s is not audited", msgs[i].what);
		ck_assert(shojid_alive(&d));
		ck_assert_int_eq(viewer_pump(other, 100), 0);
	}
	ck_assert(shojid_audit_count(&d, "\"event\":\"message_refused\"", "\"user\":\"demo\"") >=
	          1);
	still_served(other, cx, cy, "after another viewer's malformed messages");
	viewer_destroy(other);
	finish();
}
END_TEST

static struct rdp_client *rdp_login(const char *user, const char *password)
{
	struct rdp_client_options opt = {.port = d.rdp_port,
	                                 .user = user,
	                                 .password = password,
	                                 .width = 1024,
	                                 .height = 768,
	                                 .gfx = true};
	return rdp_client_connect(&opt);
}

static bool rdp_closed_within(struct rdp_client *c, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;

	while (rdp_client_pump(c, 100) == 0)
		if (now_ms() >= end)
			return false;
	return true;
}

START_TEST(malformed_rdp_messages)
{
	/* Dynamic-channel PDUs on drdynvc (MS-RDPEDYC): command in the high nibble. */
	static const struct {
		const char *what;
		uint8_t bytes[16];
		size_t len;
	} msgs[] = {
	    /* DATA_FIRST announcing 4 GB for channel 1..3, then a few bytes. */
	    {"a DATA_FIRST of 4 GB", {0x28, 1, 0xff, 0xff, 0xff, 0xff, 'x', 'y'}, 8},
	    {"an unknown dynamic-channel command", {0xf0, 0x01, 0x02}, 3},
	    {"a truncated CREATE_RSP", {0x10}, 1},
	};
	int cx, cy, x, y;

	start("[pool]\nmin_ready = 2\n", 2);
	struct viewer *other = login_ok("clerk", CLERK_PASSWORD);
	page_origin(other, &cx, &cy);
	for (size_t i = 0; i < ARRAY_SIZE(msgs); i++) {
		struct rdp_client *c = rdp_login("demo", DEMO_PASSWORD);
		ck_assert_msg(c, "demo could not log in over RDP (%s)", d.log_path);
		ck_assert_msg(rdp_client_wait_color(c, RED, PAGE_TIMEOUT_MS, &x, &y),
		              "the page never appeared over RDP");
		ck_assert_int_eq(rdp_client_send_channel(c, "drdynvc", msgs[i].bytes, msgs[i].len),
		                 0);
		bool closed = rdp_closed_within(c, 20000);
		fprintf(stderr, "faults: RDP %s: connection %s\n", msgs[i].what,
		        closed ? "ended" : "went on");
		ck_assert_msg(closed, "%s did not end the connection", msgs[i].what);
		ck_assert_msg(shojid_audit_wait(&d, "\"event\":\"message_refused\"",
		                                "drdynvc: ", "\"user\":\"demo\"", 10000),
		              "%s is not audited", msgs[i].what);
		rdp_client_destroy(c);
		ck_assert(shojid_alive(&d));
		ck_assert_int_eq(viewer_pump(other, 100), 0);
	}
	still_served(other, cx, cy, "after an RDP client's malformed messages");
	viewer_destroy(other);
	finish();
}
END_TEST

/* kill -9 of the shoji-render of an RDP client's session: told over its picture. */
START_TEST(kill_render_rdp)
{
	int cx, cy, x, y;
	char shot[160];

	start("[pool]\nmin_ready = 2\n", 2);
	struct viewer *other = login_ok("clerk", CLERK_PASSWORD);
	page_origin(other, &cx, &cy);
	struct rdp_client *c = rdp_login("demo", DEMO_PASSWORD);
	ck_assert_msg(c, "demo could not log in over RDP (%s)", d.log_path);
	ck_assert_msg(rdp_client_wait_color(c, RED, PAGE_TIMEOUT_MS, &x, &y),
	              "the page never appeared over RDP");

	/* The browser: restarted, and the client told so over its picture. */
	uid_t uid = (uid_t)session_field("demo", "uid");
	pid_t browser = -1;
	for (int i = 0; i < 100 && browser < 0; i++, usleep(100000))
		browser = find_browser(uid);
	ck_assert_msg(browser > 0, "no browser process of uid %u", (unsigned)uid);
	ck_assert_int_eq(kill(browser, SIGKILL), 0);
	if (!rdp_client_wait_pixel(c, 2, rdp_client_height(c) / 2, NOTICE_BAND_RGB, 4, 60000)) {
		rdp_client_dump_ppm(
		    c, shojid_path(&d, "no-restart-notice-rdp.ppm", shot, sizeof(shot)));
		ck_abort_msg("no notice of the browser's restart over RDP (%s)", shot);
	}
	ck_assert_msg(rdp_client_wait_color(c, RED, PAGE_TIMEOUT_MS, &x, &y),
	              "the page did not come back over RDP");
	ck_assert(!rdp_client_closed(c));

	/* shoji-render: the session ends, the client is told, the rest goes on. */
	pid_t render = (pid_t)session_field("demo", "pid");
	ck_assert_int_gt(render, 1);
	ck_assert_int_eq(kill(render, SIGKILL), 0);
	if (!rdp_client_wait_pixel(c, 2, rdp_client_height(c) / 2, NOTICE_BAND_RGB, 4, 30000)) {
		rdp_client_dump_ppm(c, shojid_path(&d, "no-notice-rdp.ppm", shot, sizeof(shot)));
		ck_abort_msg("no end-of-session notice on the RDP client's screen (%s)", shot);
	}
	ck_assert_msg(rdp_closed_within(c, 30000), "the RDP client outlived its session");
	rdp_client_destroy(c);
	ck_assert(shojid_alive(&d));
	still_served(other, cx, cy, "after the other session's shoji-render was killed");
	viewer_destroy(other);
	finish();
}
END_TEST

/* ---- a viewer that stops reading ---- */

/* VmRSS of pid in kB; -1 when it is gone. */
static long rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* The worker serving the newest connection (the highest pid among them). */
static pid_t newest_worker(void)
{
	pid_t best = -1;
	DIR *dir = opendir("/proc");
	struct dirent *de;

	while (dir && (de = readdir(dir))) {
		char path[300], cmd[512];
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, cmd, sizeof(cmd) - 1);
		close(fd);
		if (n <= 0 || !memmem(cmd, (size_t)n, "--worker", 8) ||
		    !memmem(cmd, (size_t)n, d.config_path, strlen(d.config_path)))
			continue;
		pid_t p = (pid_t)atoi(de->d_name);
		if (p > best)
			best = p;
	}
	if (dir)
		closedir(dir);
	return best;
}

/*
 * A viewer of its own, on OpenSSL: VeNCrypt X509Plain (the certificate not
 * checked; not what is tested here), Plain, ClientInit; the framebuffer's
 * size in *w, *h. Its TLS connection, blocking.
 */
static SSL *raw_vnc_login(SSL_CTX *ctx, const char *user, const char *password, int *fd, int *w,
                          int *h)
{
	uint8_t buf[24], cred[8];
	SSL *ssl = NULL;

	*fd = vnc_partial(4, true, ctx, &ssl);
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, *fd);
	ck_assert_int_eq(SSL_connect(ssl), 1);
	uint32_t ul = (uint32_t)strlen(user), pl = (uint32_t)strlen(password);
	for (int i = 0; i < 4; i++) {
		cred[i] = (uint8_t)(ul >> (24 - 8 * i));
		cred[4 + i] = (uint8_t)(pl >> (24 - 8 * i));
	}
	ck_assert_int_eq(SSL_write(ssl, cred, 8), 8);
	ck_assert_int_eq(SSL_write(ssl, user, (int)ul), (int)ul);
	ck_assert_int_eq(SSL_write(ssl, password, (int)pl), (int)pl);
	ck_assert_int_eq(SSL_read(ssl, buf, 4), 4);
	ck_assert_msg(buf[3] == 0, "the raw viewer's login was refused");
	ck_assert_int_eq(SSL_write(ssl, "\x01", 1), 1); /* ClientInit, shared */
	int got = 0;
	while (got < 24) {
		int r = SSL_read(ssl, buf + got, 24 - got);
		ck_assert_int_gt(r, 0);
		got += r;
	}
	*w = buf[0] << 8 | buf[1];
	*h = buf[2] << 8 | buf[3];
	uint32_t nl = (uint32_t)buf[20] << 24 | (uint32_t)buf[21] << 16 | buf[22] << 8 | buf[23];
	char name[256];
	ck_assert_uint_lt(nl, sizeof(name));
	for (got = 0; got < (int)nl;) {
		int r = SSL_read(ssl, name + got, (int)nl - got);
		ck_assert_int_gt(r, 0);
		got += r;
	}
	return ssl;
}

START_TEST(stalled_viewer)
{
	enum { RSS_BOUND_KB = 400 * 1024 };
	int cx, cy, fd, w, h;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	ck_assert_ptr_nonnull(ctx);
	start("[pool]\nmin_ready = 2\n", 2);
	struct viewer *other = login_ok("clerk", CLERK_PASSWORD);
	page_origin(other, &cx, &cy);
	SSL *ssl = raw_vnc_login(ctx, "demo", DEMO_PASSWORD, &fd, &w, &h);
	pid_t worker = newest_worker();
	ck_assert_int_gt(worker, 0);
	long rss0 = rss_kb(worker);
	fprintf(stderr, "faults: stalled viewer %dx%d, worker %d, RSS %ld kB at start\n", w, h,
	        (int)worker, rss0);

	/*
	 * From now on demo's viewer never reads, but keeps asking for whole
	 * frames (non-incremental FramebufferUpdateRequests) until its own
	 * writes would block; the other viewer types meanwhile.
	 */
	uint8_t req[10] = {
	    3, 0, 0, 0, 0, 0, (uint8_t)(w >> 8), (uint8_t)w, (uint8_t)(h >> 8), (uint8_t)h};
	set_nonblock(fd, true);
	long peak = rss0;
	int sent = 0;
	bool blocked = false;
	uint64_t end = now_ms() + 240000;
	for (int i = 0; rss_kb(worker) >= 0 && now_ms() < end; i++) {
		if (!blocked && SSL_write(ssl, req, sizeof(req)) == (int)sizeof(req))
			sent++;
		else
			blocked = true;
		peak = MAX(peak, rss_kb(worker));
		if (i % 10 == 0) {
			ck_assert_int_eq(viewer_key(other, 'a' + (i / 10) % 26, true), 0);
			ck_assert_int_eq(viewer_key(other, 'a' + (i / 10) % 26, false), 0);
		}
		ck_assert_msg(viewer_pump(other, 50) == 0, "the other viewer was cut off");
	}
	fprintf(stderr,
	        "faults: stalled viewer sent %d requests%s; its worker's RSS peaked at %ld kB "
	        "(%ld kB at start), %s\n",
	        sent, blocked ? " until its writes blocked" : "", peak, rss0,
	        rss_kb(worker) < 0 ? "then it was dropped" : "and it is still there");
	ck_assert_msg(peak < RSS_BOUND_KB, "the stalled viewer's worker grew to %ld kB", peak);
	ck_assert_msg(rss_kb(worker) < 0, "the stalled viewer was never dropped");
	ck_assert(shojid_audit_wait(&d, "\"event\":\"session_detach\"", "\"user\":\"demo\"", NULL,
	                            10000));
	SSL_free(ssl);
	close(fd);
	still_served(other, cx, cy, "while another viewer stalled");
	viewer_destroy(other);
	SSL_CTX_free(ctx);
	finish();
}
END_TEST

/* One case per test, so that one can be run alone (CK_RUN_CASE=lockout). */
static void add(Suite *s, const char *name, const TTest *test)
{
	TCase *tc = tcase_create(name);
	tcase_set_timeout(tc, 900);
	tcase_add_test(tc, test);
	suite_add_tcase(s, tc);
}

Suite *suite_faults(void)
{
	Suite *s = suite_create("faults");

	if (geteuid() != 0) {
		fprintf(stderr,
		        "faults: skipped, shojid needs root to give sessions their own uid\n");
		return s;
	}
	add(s, "lockout", lockout_and_backoff);
	add(s, "audit_full", audit_disk_full);
	add(s, "kill", kill_render_and_browser);
	add(s, "half_open", half_open_and_abandoned_handshakes);
	add(s, "malformed", malformed_vnc_messages);
	add(s, "malformed_rdp", malformed_rdp_messages);
	add(s, "stalled", stalled_viewer);
	add(s, "kill_rdp", kill_render_rdp);
	return s;
}
