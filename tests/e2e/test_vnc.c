/*
 * End to end over VNC: a real shojid (control process, workers, warm
 * browser sessions) driven by libvncclient over VeNCrypt X509Plain, and by
 * a raw TCP client for what a well-behaved viewer never sends. The page is
 * tests/pages/index.html. Needs root (shojid gives each session its own
 * uid) and is skipped otherwise.
 */
#include "autoconfig.h"

#include <X11/keysym.h>
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "daemon.h"
#include "util.h"
#include "viewer.h"

Suite *suite_vnc(void);

#define RED 0xff0000
#define GREEN 0x00ff00
#define BLUE 0x0000ff
#define YELLOW 0xffff00
#define GREY 0x808080
#define CYAN 0x00ffff
#define MAGENTA 0xff00ff

#define DEMO_PASSWORD "demo-password-1"
#define CLERK_PASSWORD "clerk-password-2"
#define PAGE_TIMEOUT_MS 60000

static struct shojid_proc d;

static void start(void)
{
	char log[160];

	ck_assert_msg(shojid_setup(&d, NULL) == 0, "harness setup failed (%s)", d.root);
	fprintf(stderr, "vnc: test files in %s\n", d.root);
	ck_assert_int_eq(shojid_add_user(&d, "demo", DEMO_PASSWORD), 0);
	ck_assert_int_eq(shojid_add_user(&d, "clerk", CLERK_PASSWORD), 0);
	viewer_log_to(shojid_path(&d, "vncclient.log", log, sizeof(log)));
	ck_assert_msg(shojid_launch(&d, 90000) == 0, "shojid did not get ready (%s)", d.log_path);
}

/* Called when a test passed: shojid must stop cleanly; then its files go. */
static void finish(void)
{
	ck_assert_msg(shojid_alive(&d), "shojid died (%s)", d.log_path);
	int rc = shojid_stop(&d, 30000);
	ck_assert_msg(rc == 0, "shojid exited with %d (%s)", rc, d.log_path);
	ck_assert(audit_has(d.audit_path, "\"event\":\"daemon_stop\"", NULL, NULL));
	viewer_log_to(NULL);
	shojid_cleanup(&d);
}

/*
 * Logs in. With encodings NULL, libvncclient's defaults (raw first, on
 * one machine) and the cursor drawn into the picture by the server, so
 * pixels are checked away from where the pointer last was; with a list,
 * also the cursor as a shape.
 */
static struct viewer *login(const char *user, const char *password, const char *encodings)
{
	struct viewer_options opt = {
	    .port = d.port,
	    .ca_file = d.ca_path,
	    .user = user,
	    .password = password,
	    .encodings = encodings,
	    .cursor_shape = encodings != NULL,
	};
	return viewer_connect(&opt);
}

static struct viewer *login_ok(const char *user, const char *password, const char *encodings)
{
	struct viewer *v = login(user, password, encodings);
	ck_assert_msg(v, "%s could not log in (%s/vncclient.log, %s)", user, d.root, d.log_path);
	return v;
}

/* The test page's red block: the page's origin in the framebuffer. */
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

	if (viewer_wait_pixel(v, x, y, rgb, 8, 15000))
		return;
	viewer_dump_ppm(v, shojid_path(&d, "unexpected.ppm", path, sizeof(path)));
	ck_abort_msg("%s: pixel %d,%d is %06x, not %06x (screen in %s)", what, x, y,
	             viewer_pixel(v, x, y), rgb, path);
}

/*
 * Clicks into the field and types "shoji" (the grey block turns cyan), up to
 * three times, the field's text selected first the next times: the first
 * click of a session has been seen lost (click_until() in click.h).
 */
static void type_into_field(struct viewer *v, int ox, int oy)
{
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(viewer_click(v, ox + 520, oy + 25), 0);
		viewer_pump(v, 300);
		if (i > 0) {
			fprintf(stderr, "typing into the field: no cyan after try %d, again\n", i);
			ck_assert_int_eq(viewer_key(v, XK_Control_L, true), 0);
			ck_assert_int_eq(viewer_type(v, "a"), 0);
			ck_assert_int_eq(viewer_key(v, XK_Control_L, false), 0);
		}
		ck_assert_int_eq(viewer_type(v, "shoji"), 0);
		if (viewer_wait_pixel(v, ox + 200, oy + 300, CYAN, 8, 5000))
			return;
	}
}

/* Pumps until the server has closed the connection. */
static bool closed_within(struct viewer *v, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;

	while (viewer_pump(v, 100) == 0)
		if (now_ms() >= end)
			return false;
	return true;
}

START_TEST(view_click_type_resize_reconnect)
{
	int ox, oy, x, y;

	start();
	struct viewer *v = login_ok("demo", DEMO_PASSWORD, "tight copyrect");
	page_origin(v, &ox, &oy);
	expect_pixel(v, ox + 300, oy + 75, GREEN, "green block right of red");
	expect_pixel(v, ox + 200, oy + 200, BLUE, "blue block below");
	expect_pixel(v, ox + 200, oy + 300, GREY, "grey block below blue");
	ck_assert(audit_has(d.audit_path, "\"event\":\"login_accepted\"", "\"user\":\"demo\"",
	                    "\"protocol\":\"vnc\""));
	ck_assert(audit_has(d.audit_path, "\"event\":\"session_attach\"", "\"user\":\"demo\"",
	                    "\"new\":true"));

	viewer_click_until(v, ox + 200, oy + 200, ox + 350, oy + 230, YELLOW, 15000);
	expect_pixel(v, ox + 350, oy + 230, YELLOW, "a click on the blue block");
	type_into_field(v, ox, oy);
	expect_pixel(v, ox + 200, oy + 300, CYAN, "typing \"shoji\" into the field");

	ck_assert_int_eq(viewer_resize(v, 1024, 700), 0);
	ck_assert_msg(viewer_wait_size(v, 1024, 700, 30000), "framebuffer is %dx%d, not 1024x700",
	              viewer_width(v), viewer_height(v));
	expect_pixel(v, 1024 - 30, 700 - 30, MAGENTA, "fixed corner block after the resize");
	ck_assert(shojid_audit_wait(&d, "\"event\":\"resize\"", "1024x700", NULL, 5000));

	viewer_destroy(v);
	ck_assert_msg(shojid_audit_wait(&d, "\"event\":\"session_detach\"", "\"user\":\"demo\"",
	                                "viewer disconnected", 10000),
	              "no detach in the audit log after the viewer left");

	/* Same user again: the same browser, as it was left. */
	v = login_ok("demo", DEMO_PASSWORD, "zrle");
	ck_assert_int_eq(viewer_width(v), 1024);
	ck_assert_int_eq(viewer_height(v), 700);
	page_origin(v, &x, &y);
	expect_pixel(v, x + 200, y + 300, CYAN, "state after reconnecting");
	expect_pixel(v, x + 350, y + 230, YELLOW, "state after reconnecting");
	ck_assert(audit_has(d.audit_path, "\"event\":\"session_attach\"", "\"user\":\"demo\"",
	                    "\"new\":false"));
	ck_assert_int_eq(shojid_audit_count(&d, "\"event\":\"session_attach\"", "\"new\":true"), 1);
	viewer_destroy(v);
	finish();
}
END_TEST

START_TEST(wrong_password_refused)
{
	int ox, oy, x, y;
	char log[160];

	start();
	struct viewer *a = login_ok("demo", DEMO_PASSWORD, NULL);
	page_origin(a, &ox, &oy);

	uint64_t t0 = now_ms();
	struct viewer *bad = login("clerk", "not-the-password", NULL);
	uint64_t took = now_ms() - t0;
	ck_assert_msg(!bad, "a wrong password was accepted");
	ck_assert_msg(took >= 900, "a wrong password was refused after %llu ms, not ~1 s",
	              (unsigned long long)took);
	ck_assert_msg(shojid_audit_wait(&d, "\"event\":\"login_refused\"", "\"user\":\"clerk\"",
	                                "\"address\":\"127.0.0.1", 5000),
	              "no login_refused for clerk in %s", d.audit_path);
	ck_assert(audit_has(shojid_path(&d, "vncclient.log", log, sizeof(log)),
	                    "wrong user name or password", NULL, NULL));
	/* An unknown user gets the same answer. */
	ck_assert_ptr_null(login("nobody-here", "not-the-password", NULL));
	ck_assert(shojid_audit_wait(&d, "\"event\":\"login_refused\"", "\"user\":\"nobody-here\"",
	                            NULL, 5000));
	ck_assert_int_eq(shojid_audit_count(&d, "\"event\":\"login_accepted\"", NULL), 1);

	/* The viewer logged in meanwhile is still served. */
	ck_assert(!viewer_closed(a));
	viewer_click_until(a, ox + 200, oy + 200, ox + 350, oy + 230, YELLOW, 15000);
	expect_pixel(a, ox + 350, oy + 230, YELLOW, "a click after the refusals");

	/* And clerk, with the right password, gets a browser of its own. */
	ck_assert_msg(shojid_wait_ready(&d, 2, 90000), "no second session got ready");
	struct viewer *b = login_ok("clerk", CLERK_PASSWORD, NULL);
	page_origin(b, &x, &y);
	expect_pixel(b, x + 200, y + 200, BLUE, "clerk's own page, not demo's");
	ck_assert(audit_has(d.audit_path, "\"event\":\"session_attach\"", "\"user\":\"clerk\"",
	                    "\"new\":true"));
	ck_assert(viewer_pump(a, 200) == 0);
	viewer_destroy(b);
	viewer_destroy(a);
	finish();
}
END_TEST

/* ---- a raw RFB client, for what libvncclient would never send ---- */

static int raw_connect(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)d.port)};
	struct timeval tv = {.tv_sec = 10};

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static void raw_read(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, (uint8_t *)buf + got, n - got);
		ck_assert_msg(r > 0, "server closed or stalled after %zu of %zu bytes", got, n);
		got += (size_t)r;
	}
}

static uint32_t raw_u32(int fd)
{
	uint8_t b[4];

	raw_read(fd, b, 4);
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static void raw_send(int fd, const void *buf, size_t n)
{
	ck_assert_int_eq(write_all(fd, buf, n), 0);
}

/* Reads a failure: u32 1 (or 0 in the 3.3 form), u32 length, reason; then end of stream. */
static void expect_failure(int fd, uint32_t code, const char *what)
{
	char reason[256];
	uint8_t extra;

	ck_assert_msg(raw_u32(fd) == code, "%s: no failure code %u", what, code);
	uint32_t len = raw_u32(fd);
	ck_assert_msg(len > 0 && len < sizeof(reason), "%s: reason of %u bytes", what, len);
	raw_read(fd, reason, len);
	reason[len] = '\0';
	ck_assert_msg(read(fd, &extra, 1) == 0, "%s: the connection stayed open", what);
	fprintf(stderr, "vnc: %s refused: %s\n", what, reason);
}

/* Version exchange at 3.8; the security types offered. */
static int greet(uint8_t *types, uint8_t *n)
{
	char version[13] = {0};
	int fd = raw_connect();

	raw_read(fd, version, 12);
	ck_assert_str_eq(version, "RFB 003.008\n");
	raw_send(fd, "RFB 003.008\n", 12);
	raw_read(fd, n, 1);
	ck_assert_uint_gt(*n, 0);
	raw_read(fd, types, *n);
	return fd;
}

START_TEST(plaintext_refused)
{
	uint8_t types[255], n, b[2];
	int ox, oy;

	start();
	/* Only VeNCrypt is offered; VNC authentication and None are refused. */
	static const uint8_t plain[] = {2, 1};
	for (size_t i = 0; i < ARRAY_SIZE(plain); i++) {
		int fd = greet(types, &n);
		ck_assert_uint_eq(n, 1);
		ck_assert_uint_eq(types[0], 19);
		raw_send(fd, &plain[i], 1);
		expect_failure(fd, 1, plain[i] == 2 ? "VNC authentication" : "security type None");
		close(fd);
	}

	/* Within VeNCrypt, only X509Plain: Plain (the password in the clear) is refused. */
	int fd = greet(types, &n);
	raw_send(fd, "\x13", 1);
	raw_read(fd, b, 2);
	ck_assert(b[0] == 0 && b[1] == 2);
	raw_send(fd, "\x00\x02", 2);
	raw_read(fd, b, 2);
	ck_assert_uint_eq(b[0], 0);
	ck_assert_uint_eq(b[1], 1);
	ck_assert_uint_eq(raw_u32(fd), 262);
	raw_send(fd, "\x00\x00\x01\x00", 4);
	expect_failure(fd, 1, "VeNCrypt Plain");
	close(fd);

	/* RFB 3.3 has no security negotiation: refused in its own form. */
	fd = raw_connect();
	uint8_t version[12];
	raw_read(fd, version, sizeof(version));
	raw_send(fd, "RFB 003.003\n", 12);
	expect_failure(fd, 0, "RFB 3.3");
	close(fd);

	ck_assert(shojid_audit_wait(&d, "\"event\":\"handshake_failed\"", NULL, NULL, 5000));
	ck_assert_int_eq(shojid_audit_count(&d, "\"event\":\"session_attach\"", NULL), 0);
	/* A proper viewer is served afterwards. */
	struct viewer *v = login_ok("demo", DEMO_PASSWORD, NULL);
	page_origin(v, &ox, &oy);
	viewer_destroy(v);
	finish();
}
END_TEST

START_TEST(forbidden_message_cuts_connection)
{
	/* UltraVNC FileTransfer, SetScale and TextChat, each whole. */
	static const struct {
		uint8_t type;
		uint8_t bytes[16];
		size_t len;
	} msgs[] = {
	    {7, {7, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 'f', 'i', 'l', 'e'}, 16},
	    {8, {8, 2, 0, 0}, 4},
	    {11, {11, 0, 0, 0, 0, 0, 0, 2, 'h', 'i'}, 10},
	};
	char detail[64];
	int ox, oy;

	start();
	for (size_t i = 0; i < ARRAY_SIZE(msgs); i++) {
		struct viewer *v = login_ok("demo", DEMO_PASSWORD, NULL);
		page_origin(v, &ox, &oy);
		ck_assert_int_eq(viewer_write_raw(v, msgs[i].bytes, msgs[i].len), 0);
		ck_assert_msg(closed_within(v, 10000), "message %u did not end the connection",
		              msgs[i].type);
		snprintf(detail, sizeof(detail), "client message %u ", msgs[i].type);
		ck_assert_msg(shojid_audit_wait(&d, "\"event\":\"message_refused\"", detail,
		                                "\"user\":\"demo\"", 5000),
		              "message %u is not audited as refused", msgs[i].type);
		viewer_destroy(v);
	}
	ck_assert(shojid_alive(&d));
	/* The session is still there for the next login, and served. */
	struct viewer *v = login_ok("demo", DEMO_PASSWORD, NULL);
	page_origin(v, &ox, &oy);
	viewer_click_until(v, ox + 200, oy + 200, ox + 350, oy + 230, YELLOW, 15000);
	expect_pixel(v, ox + 350, oy + 230, YELLOW, "a click after the refused messages");
	ck_assert_int_eq(shojid_audit_count(&d, "\"event\":\"session_attach\"", "\"new\":true"), 1);
	viewer_destroy(v);
	finish();
}
END_TEST

START_TEST(killed_worker_keeps_session)
{
	int ox, oy, x, y;
	pid_t worker = -1;

	start();
	struct viewer *v = login_ok("demo", DEMO_PASSWORD, NULL);
	page_origin(v, &ox, &oy);
	expect_pixel(v, ox + 200, oy + 200, BLUE, "blue block: the page's handlers set");
	type_into_field(v, ox, oy);
	expect_pixel(v, ox + 200, oy + 300, CYAN, "typing \"shoji\" into the field");

	ck_assert_int_eq(shojid_workers(&d, &worker), 1);
	ck_assert_int_eq(kill(worker, SIGKILL), 0);
	ck_assert_msg(closed_within(v, 10000), "the viewer's connection outlived its worker");
	viewer_destroy(v);
	ck_assert_msg(
	    shojid_audit_wait(&d, "\"event\":\"session_detach\"", "worker crashed", NULL, 10000),
	    "the crash is not in the audit log");
	ck_assert(shojid_alive(&d));

	v = login_ok("demo", DEMO_PASSWORD, NULL);
	page_origin(v, &x, &y);
	expect_pixel(v, x + 200, y + 300, CYAN, "the session's state after the crash");
	ck_assert_int_eq(shojid_audit_count(&d, "\"event\":\"session_attach\"", "\"new\":true"), 1);
	ck_assert_int_eq(shojid_workers(&d, NULL), 1);

	/* Stopped with the viewer attached: the worker it ends did not crash. */
	int rc = shojid_stop(&d, 30000);
	ck_assert_msg(rc == 0, "shojid exited with %d (%s)", rc, d.log_path);
	ck_assert_int_eq(shojid_audit_count(&d, "\"event\":\"session_detach\"", "shojid stopping"), 1);
	ck_assert_int_eq(shojid_audit_count(&d, "worker crashed", NULL), 1); /* the kill above */
	ck_assert_int_eq(shojid_log_count(&d, "detached: shojid stopping", NULL), 1);
	ck_assert_int_eq(shojid_log_count(&d, "worker crashed", NULL), 1);
	viewer_destroy(v);
	viewer_log_to(NULL);
	shojid_cleanup(&d);
}
END_TEST

Suite *suite_vnc(void)
{
	Suite *s = suite_create("vnc");
	TCase *tc = tcase_create("vnc");

	tcase_set_timeout(tc, 240);
	suite_add_tcase(s, tc);
	if (geteuid() != 0) {
		fprintf(stderr, "vnc: skipped, shojid needs root to give sessions their own uid\n");
		return s;
	}
	tcase_add_test(tc, view_click_type_resize_reconnect);
	tcase_add_test(tc, wrong_password_refused);
	tcase_add_test(tc, plaintext_refused);
	tcase_add_test(tc, forbidden_message_cuts_connection);
	tcase_add_test(tc, killed_worker_keeps_session);
	return s;
}
