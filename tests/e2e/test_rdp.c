/*
 * End to end over RDP: a real shojid (control process, workers, warm
 * browser sessions) driven by a libfreerdp-client test client over TLS,
 * with the graphics pipeline and with bitmap updates, and by a raw TCP
 * client for the X.224 requests a well-behaved client would not send. The
 * page is tests/pages/index.html. Needs root (shojid gives each session its
 * own uid) and is skipped otherwise.
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "daemon.h"
#include "rdp_client.h"
#include "util.h"

Suite *suite_rdp(void);

#define RED 0xff0000
#define GREEN 0x00ff00
#define BLUE 0x0000ff
#define YELLOW 0xffff00
#define GREY 0x808080
#define CYAN 0x00ffff
#define MAGENTA 0xff00ff

#define DEMO_PASSWORD "demo-password-1"
#define CLERK_PASSWORD "clerk-password-2"
#define PAGE_TIMEOUT_MS 90000

/* Set-1 scancodes the tests press by name. */
#define SC_LEFT 0xe04b
#define SC_HOME 0xe047

static struct shojid_proc d;
static int rdp_port;

/* The harness turns RDP off; give its config an RDP listener of our own. */
static void enable_rdp(void)
{
	char conf[8192], port[64];
	FILE *f = fopen(d.config_path, "r");

	ck_assert_ptr_nonnull(f);
	size_t n = fread(conf, 1, sizeof(conf) - 1, f);
	fclose(f);
	conf[n] = '\0';
	char *at = strstr(conf, "[rdp]\nlisten =\n");
	ck_assert_msg(at, "no RDP listener line in %s", d.config_path);
	at += strlen("[rdp]\nlisten =");
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	          getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
	close(fd);
	rdp_port = ntohs(sa.sin_port);
	snprintf(port, sizeof(port), " 127.0.0.1:%d", rdp_port);
	f = fopen(d.config_path, "w");
	ck_assert_ptr_nonnull(f);
	fwrite(conf, 1, (size_t)(at - conf), f);
	fputs(port, f);
	fputs(at, f);
	ck_assert_int_eq(fclose(f), 0);
}

static void start(void)
{
	ck_assert_msg(shojid_setup(&d, NULL) == 0, "harness setup failed (%s)", d.root);
	enable_rdp();
	ck_assert_int_eq(shojid_add_user(&d, "demo", DEMO_PASSWORD), 0);
	ck_assert_int_eq(shojid_add_user(&d, "clerk", CLERK_PASSWORD), 0);
	rdp_client_log_to(d.root, "freerdp-client.log");
	ck_assert_msg(shojid_launch(&d, 120000) == 0, "shojid did not get ready (%s)", d.log_path);
	ck_assert(shojid_log_wait(&d, "listening for rdp viewers on", 1000));
}

/* Called when a test passed: shojid must stop cleanly; then its files go. */
static void finish(void)
{
	ck_assert_msg(shojid_alive(&d), "shojid died (%s)", d.log_path);
	int rc = shojid_stop(&d, 30000);
	ck_assert_msg(rc == 0, "shojid exited with %d (%s)", rc, d.log_path);
	shojid_cleanup(&d);
}

static struct rdp_client *login(const char *user, const char *password, bool gfx)
{
	struct rdp_client_options opt = {
	    .port = rdp_port,
	    .user = user,
	    .password = password,
	    .width = 1024,
	    .height = 768,
	    .gfx = gfx,
	};
	return rdp_client_connect(&opt);
}

static struct rdp_client *login_ok(const char *user, const char *password, bool gfx)
{
	struct rdp_client *c = login(user, password, gfx);
	ck_assert_msg(c, "%s could not log in (%s/freerdp-client.log, %s)", user, d.root,
	              d.log_path);
	return c;
}

/* The test page's red block: the page's origin in the client's picture. */
static void page_origin(struct rdp_client *c, int *x, int *y)
{
	char path[160];

	if (rdp_client_wait_color(c, RED, PAGE_TIMEOUT_MS, x, y))
		return;
	rdp_client_dump_ppm(c, shojid_path(&d, "nored.ppm", path, sizeof(path)));
	ck_abort_msg("the test page never appeared (screen in %s)", path);
}

static void expect_pixel(struct rdp_client *c, int x, int y, uint32_t rgb, const char *what)
{
	char path[160];

	if (rdp_client_wait_pixel(c, x, y, rgb, 8, 15000))
		return;
	rdp_client_dump_ppm(c, shojid_path(&d, "unexpected.ppm", path, sizeof(path)));
	ck_abort_msg("%s: pixel %d,%d is %06x, not %06x (screen in %s)", what, x, y,
	             rdp_client_pixel(c, x, y), rgb, path);
}

static void expect_page(struct rdp_client *c, int ox, int oy)
{
	expect_pixel(c, ox + 300, oy + 75, GREEN, "green block right of red");
	expect_pixel(c, ox + 200, oy + 200, BLUE, "blue block below");
	expect_pixel(c, ox + 200, oy + 300, GREY, "grey block below blue");
	expect_pixel(c, 1024 - 30, 768 - 30, MAGENTA, "fixed corner block of a 1024x768 desktop");
}

static void press(struct rdp_client *c, uint16_t scancode)
{
	ck_assert_int_eq(rdp_client_key(c, scancode, true), 0);
	ck_assert_int_eq(rdp_client_key(c, scancode, false), 0);
}

static void click_field(struct rdp_client *c, int ox, int oy)
{
	ck_assert_int_eq(rdp_client_click(c, ox + 520, oy + 25), 0);
	ck_assert_int_eq(rdp_client_pump(c, 300), 0);
}

START_TEST(gfx_view_click_type_reconnect)
{
	int ox, oy, x, y;

	start();
	struct rdp_client *c = login_ok("demo", DEMO_PASSWORD, true);
	page_origin(c, &ox, &oy);
	ck_assert_msg(rdp_client_gfx_open(c), "the graphics pipeline did not open");
	ck_assert_msg(rdp_client_pointers(c) > 0, "no pointer shape came");
	expect_page(c, ox, oy);
	ck_assert(audit_has(d.audit_path, "\"event\":\"login_accepted\"", "\"user\":\"demo\"",
	                    "\"protocol\":\"rdp\""));
	ck_assert(
	    audit_has(d.audit_path, "\"event\":\"rdp_request\"", "cookie=demo", "protocols=ssl"));
	ck_assert(audit_has(d.audit_path, "\"event\":\"rdp_request\"", "size=1024x768", "gfx=yes"));

	ck_assert_int_eq(rdp_client_click(c, ox + 200, oy + 200), 0);
	expect_pixel(c, ox + 200, oy + 200, YELLOW, "a click on the blue block");
	/*
	 * "hoi", Left, "j", Home, "s": the value is "shoji" only at the end,
	 * and Left and Home are extended keys.
	 */
	click_field(c, ox, oy);
	ck_assert_int_eq(rdp_client_type_scancodes(c, "hoi"), 0);
	press(c, SC_LEFT);
	ck_assert_int_eq(rdp_client_type_scancodes(c, "j"), 0);
	press(c, SC_HOME);
	ck_assert_int_eq(rdp_client_pump(c, 500), 0);
	expect_pixel(c, ox + 200, oy + 300, GREY, "\"hoji\" is not \"shoji\"");
	ck_assert_int_eq(rdp_client_type_scancodes(c, "s"), 0);
	expect_pixel(c, ox + 200, oy + 300, CYAN, "typing \"shoji\" with scancodes");
	rdp_client_destroy(c);
	ck_assert_msg(shojid_audit_wait(&d, "\"event\":\"session_detach\"", "\"user\":\"demo\"",
	                                "viewer disconnected", 10000),
	              "no detach in the audit log after the client left");

	/* Again with bitmap updates: the same browser, as it was left. */
	c = login_ok("demo", DEMO_PASSWORD, false);
	page_origin(c, &x, &y);
	ck_assert(!rdp_client_gfx_open(c));
	expect_pixel(c, x + 200, y + 300, CYAN, "state after reconnecting");
	expect_pixel(c, x + 200, y + 200, YELLOW, "state after reconnecting");
	expect_pixel(c, x + 300, y + 75, GREEN, "green block over bitmap updates");
	ck_assert(audit_has(d.audit_path, "\"event\":\"rdp_request\"", "size=1024x768", "gfx=no"));
	ck_assert_int_eq(shojid_audit_count(&d, "\"event\":\"session_attach\"", "\"new\":true"), 1);

	/* A second login of the same user takes the session over; the first is told. */
	struct rdp_client *c2 = login_ok("demo", DEMO_PASSWORD, true);
	uint64_t end = now_ms() + 10000;
	while (rdp_client_pump(c, 100) == 0)
		ck_assert_msg(now_ms() < end, "the first connection outlived the takeover");
	ck_assert(shojid_audit_wait(&d, "\"event\":\"session_detach\"", "taken over", NULL, 5000));
	page_origin(c2, &x, &y);
	expect_pixel(c2, x + 200, y + 300, CYAN, "state after the takeover");
	rdp_client_destroy(c);
	rdp_client_destroy(c2);
	finish();
}
END_TEST

START_TEST(unicode_typing_in_own_session)
{
	int ox, oy;

	start();
	ck_assert_msg(shojid_wait_ready(&d, 1, 90000), "no session got ready");
	struct rdp_client *c = login_ok("clerk", CLERK_PASSWORD, false);
	page_origin(c, &ox, &oy);
	expect_page(c, ox, oy);
	click_field(c, ox, oy);
	ck_assert_int_eq(rdp_client_type_unicode(c, "shoji"), 0);
	expect_pixel(c, ox + 200, oy + 300, CYAN, "typing \"shoji\" as Unicode characters");
	rdp_client_destroy(c);
	finish();
}
END_TEST

/* ---- a raw TCP client, for connection requests FreeRDP's client would not send ---- */

static int raw_connect(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)rdp_port)};
	struct timeval tv = {.tv_sec = 10};

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* A Connection Request with a cookie and a negotiation request for protocols. */
static void send_request(int fd, uint32_t protocols)
{
	uint8_t req[64] = {3, 0, 0, 0, 0, 0xe0, 0, 0, 0, 0, 0};
	size_t n = 11 + (size_t)sprintf((char *)req + 11, "Cookie: mstshash=raw\r\n");

	req[n] = 1; /* TYPE_RDP_NEG_REQ */
	put_le16(req + n + 2, 8);
	put_le32(req + n + 4, protocols);
	n += 8;
	req[3] = (uint8_t)n;
	req[4] = (uint8_t)(n - 5);
	ck_assert_int_eq(write_all(fd, req, n), 0);
}

START_TEST(refusals)
{
	static const uint8_t failure[] = {0x03, 0x00, 0x00, 0x13, 0x0e, 0xd0, 0x00,
	                                  0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x08,
	                                  0x00, 0x01, 0x00, 0x00, 0x00};
	uint8_t buf[64];
	int ox, oy;

	start();
	/* A wrong password: the connection is dropped and the refusal audited. */
	ck_assert_ptr_null(login("demo", "not-the-password", true));
	ck_assert_msg(shojid_audit_wait(&d, "\"event\":\"login_refused\"", "\"user\":\"demo\"",
	                                "\"protocol\":\"rdp\"", 10000),
	              "no login_refused over rdp in %s", d.audit_path);
	/* No password at all (no logon screen yet): refused and noted. */
	ck_assert_ptr_null(login("demo", "", true));
	ck_assert(shojid_audit_wait(&d, "\"event\":\"handshake_failed\"",
	                            "no user name and password", NULL, 10000));

	/* Standard RDP security only, from FreeRDP's client... */
	struct rdp_client_options opt = {.port = rdp_port,
	                                 .user = "demo",
	                                 .password = DEMO_PASSWORD,
	                                 .width = 800,
	                                 .height = 600,
	                                 .rdp_security_only = true};
	ck_assert_ptr_null(rdp_client_connect(&opt));
	ck_assert(shojid_audit_wait(&d, "\"event\":\"rdp_request\"",
	                            "protocols=rdp (no negotiation request)", NULL, 10000));
	ck_assert(shojid_audit_wait(&d, "\"event\":\"handshake_failed\"",
	                            "offers only standard RDP security", NULL, 10000));
	/* ...and asked for in a negotiation request: answered with a failure. */
	int fd = raw_connect();
	send_request(fd, 0);
	ck_assert_int_eq(read(fd, buf, sizeof(buf)), (ssize_t)sizeof(failure));
	ck_assert_mem_eq(buf, failure, sizeof(failure));
	ck_assert_int_eq(read(fd, buf, 1), 0);
	close(fd);
	ck_assert(shojid_audit_wait(&d, "\"event\":\"rdp_request\"", "cookie=raw protocols=rdp\"",
	                            NULL, 10000));
	/* NLA without TLS is not served either; garbage is cut off. */
	fd = raw_connect();
	send_request(fd, 2);
	ck_assert_int_eq(read(fd, buf, sizeof(buf)), (ssize_t)sizeof(failure));
	close(fd);
	fd = raw_connect();
	ck_assert_int_eq(write_all(fd, "\x16\x03\x01\x00\x05hello", 10), 0);
	/* Closed with the bytes unread: a reset rather than an orderly end. */
	ssize_t n = read(fd, buf, sizeof(buf));
	ck_assert_msg(n == 0 || (n < 0 && errno == ECONNRESET), "garbage: read %zd (%s)", n,
	              strerror(errno));
	close(fd);
	ck_assert(shojid_audit_wait(&d, "\"event\":\"handshake_failed\"",
	                            "malformed X.224 connection request", NULL, 10000));
	ck_assert_int_eq(shojid_audit_count(&d, "\"event\":\"login_accepted\"", NULL), 0);

	/* A proper client is served afterwards. */
	struct rdp_client *c = login_ok("demo", DEMO_PASSWORD, true);
	page_origin(c, &ox, &oy);
	rdp_client_destroy(c);
	finish();
}
END_TEST

Suite *suite_rdp(void)
{
	Suite *s = suite_create("rdp");
	TCase *tc = tcase_create("rdp");

	tcase_set_timeout(tc, 300);
	suite_add_tcase(s, tc);
	if (geteuid() != 0) {
		fprintf(stderr, "rdp: skipped, shojid needs root to give sessions their own uid\n");
		return s;
	}
	tcase_add_test(tc, gfx_view_click_type_reconnect);
	tcase_add_test(tc, unicode_typing_in_own_session);
	tcase_add_test(tc, refusals);
	return s;
}
