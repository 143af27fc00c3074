/*
 * End to end over RDP: a real shojid (control process, workers, warm
 * browser sessions) driven by a libfreerdp-client test client over TLS,
 * with the graphics pipeline and with bitmap updates, and by a raw TCP
 * client for the X.224 requests a well-behaved client would not send. The
 * page is tests/pages/index.html. Needs root (shojid gives each session its
 * own uid) and is skipped otherwise; the logon screen's own tests (keys,
 * characters, clicks, drawing) run without shojid and without root.
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
#include "logon_screen.h"
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
#define KANA_PASSWORD "jp@pass:1" /* typed on a Japanese keyboard: @ and : unshifted */
#define PAGE_TIMEOUT_MS 90000

/* Set-1 scancodes the tests press by name. */
#define SC_LEFT 0xe04b
#define SC_HOME 0xe047

static struct shojid_proc d;
static int rdp_port;

static void start(void)
{
	ck_assert_msg(shojid_setup(&d, NULL) == 0, "harness setup failed (%s)", d.root);
	rdp_port = d.rdp_port;
	ck_assert_int_eq(shojid_add_user(&d, "demo", DEMO_PASSWORD), 0);
	ck_assert_int_eq(shojid_add_user(&d, "clerk", CLERK_PASSWORD), 0);
	ck_assert_int_eq(shojid_add_user(&d, "kana", KANA_PASSWORD), 0);
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
/*
 * The red block's corner, once the whole block stays in place, the green
 * block is beside it and the fixed corner block is in the desktop's
 * corner: while the desktop is resized at login, the page may show for a
 * moment laid out elsewhere.
 */
static void page_origin(struct rdp_client *c, int *x, int *y)
{
	uint64_t end = now_ms() + PAGE_TIMEOUT_MS;
	char path[160];

	while (now_ms() < end &&
	       rdp_client_wait_block(c, RED, 200, 150, (int)(end - now_ms()), x, y)) {
		if (rdp_client_pixel(c, *x + 300, *y + 75) == GREEN &&
		    rdp_client_pixel(c, rdp_client_width(c) - 30, rdp_client_height(c) - 30) ==
		        MAGENTA)
			return;
		ck_assert_int_eq(rdp_client_pump(c, 100), 0);
	}
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

/*
 * The worker's closing figures for the graphics pipeline: its PDUs must
 * have gone through shojid's ZGFX compressor (proxy/zgfx_hook.c), which
 * the pixels the client decoded already showed to be right.
 */
static void expect_bulk_compressed(void)
{
	ck_assert_msg(shojid_log_wait(&d, "after bulk compression", 10000),
	              "the worker logged no graphics pipeline figures");
	FILE *f = fopen(d.log_path, "r");
	ck_assert_ptr_nonnull(f);
	char line[1024];
	unsigned long long in = 0, out = 0;
	while (fgets(line, sizeof(line), f)) {
		const char *at = strstr(line, "graphics pipeline: ");
		if (at && sscanf(at, "graphics pipeline: %llu bytes of PDUs sent as %llu", &in,
		                 &out) != 2)
			ck_abort_msg("cannot read the figures in: %s", line);
	}
	fclose(f);
	ck_assert_msg(in > 10000 && out * 2 < in,
	              "graphics pipeline PDUs of %llu bytes went as %llu: not compressed", in, out);
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

	rdp_client_click_until(c, ox + 200, oy + 200, ox + 200, oy + 200, YELLOW, 15000);
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
	expect_bulk_compressed();

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

/* ---- the logon screen, for clients that send no password ---- */

/* As proxy/logon_screen.c draws it: colours, and places in its centred panel. */
#define LOGON_BACKGROUND 0x1f3a5f
#define LOGON_PANEL 0xf4f4f4
#define LOGON_FIELD 0xffffff
#define LOGON_FOCUS 0x2a6fdb
#define LOGON_ERROR 0xc00000
#define LOGON_PANEL_W 520
#define LOGON_PANEL_H 380
#define LOGON_FIELD_X 40
#define LOGON_FIELD_W 440
#define LOGON_USER_Y 122
#define LOGON_PASSWORD_Y 198
#define LOGON_FIELD_H 36
#define LOGON_MESSAGE_Y 310
#define LOGON_MESSAGE_H 40

#define SC_TAB 0x0f
#define SC_ENTER 0x1c

static struct rdp_client *logon_connect(const char *user)
{
	struct rdp_client_options opt = {
	    .port = rdp_port, .user = user, .width = 1024, .height = 768, .gfx = true};
	struct rdp_client *c = rdp_client_connect(&opt);

	ck_assert_msg(c, "no connection without a password (%s)", d.log_path);
	return c;
}

/* The panel's top-left corner on a 1024x768 desktop. */
static void logon_origin(int *x, int *y)
{
	*x = (1024 - LOGON_PANEL_W) / 2;
	*y = (768 - LOGON_PANEL_H) / 2;
}

/* A hash of the message line's pixels. */
static uint64_t message_hash(const struct rdp_client *c)
{
	uint64_t h = 1469598103934665603ull;
	int px, py;

	logon_origin(&px, &py);
	for (int y = py + LOGON_MESSAGE_Y; y < py + LOGON_MESSAGE_Y + LOGON_MESSAGE_H; y++)
		for (int x = px; x < px + LOGON_PANEL_W; x++)
			h = (h ^ rdp_client_pixel(c, x, y)) * 1099511628211ull;
	return h;
}

/* Pixels of a colour (within tol) in a rectangle. */
static int count_near(const struct rdp_client *c, int x0, int y0, int w, int h, uint32_t rgb,
                      int tol)
{
	int n = 0;

	for (int y = y0; y < y0 + h; y++) {
		for (int x = x0; x < x0 + w; x++) {
			uint32_t p = rdp_client_pixel(c, x, y);
			bool near = true;
			for (int s = 0; s < 24; s += 8)
				near &=
				    abs((int)((p >> s) & 0xff) - (int)((rgb >> s) & 0xff)) <= tol;
			n += near;
		}
	}
	return n;
}

/* Pumps until the message line differs from before and shows red (error) text. */
static bool wait_error_message(struct rdp_client *c, uint64_t before, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;
	int px, py;

	logon_origin(&px, &py);
	while (now_ms() < end) {
		if (message_hash(c) != before &&
		    count_near(c, px, py + LOGON_MESSAGE_Y, LOGON_PANEL_W, LOGON_MESSAGE_H,
		               LOGON_ERROR, 40) > 20)
			return true;
		if (rdp_client_pump(c, 100) < 0)
			return false;
	}
	return false;
}

static void save_png(struct rdp_client *c, const char *png)
{
	char ppm[160], cmd[400];

	rdp_client_dump_ppm(c, shojid_path(&d, "logon.ppm", ppm, sizeof(ppm)));
	snprintf(cmd, sizeof(cmd), "convert %s %s 2>/dev/null", ppm, png);
	if (system(cmd) != 0)
		fprintf(stderr, "rdp: cannot convert %s to %s\n", ppm, png);
}

START_TEST(logon_screen_then_session)
{
	int px, py, ox, oy, x, y;

	start();
	ck_assert_msg(shojid_wait_ready(&d, 1, 90000), "no session got ready");
	struct rdp_client *c = logon_connect(NULL);
	logon_origin(&px, &py);
	expect_pixel(c, 5, 5, LOGON_BACKGROUND, "the logon screen's background");
	expect_pixel(c, px + 10, py + LOGON_PANEL_H - 10, LOGON_PANEL, "the logon panel");
	expect_pixel(c, px + LOGON_FIELD_X + LOGON_FIELD_W - 20, py + LOGON_USER_Y + 18,
	             LOGON_FIELD, "the user name field");
	expect_pixel(c, px + LOGON_FIELD_X, py + LOGON_USER_Y + 18, LOGON_FOCUS,
	             "the focused user name field's border");
	ck_assert_msg(!rdp_client_wait_color(c, RED, 500, &x, &y),
	              "the browser page is shown before any login");
	save_png(c, "/tmp/shoji-rdp-logon-empty.png");

	/* The user name, Tab, a wrong password, Enter: the message line says so. */
	ck_assert_int_eq(rdp_client_type_scancodes(c, "demo"), 0);
	press(c, SC_TAB);
	ck_assert_int_eq(rdp_client_type_scancodes(c, "wrong-1"), 0);
	int dots = 0;
	for (int i = 0; i < 100 && dots <= 30; i++) {
		ck_assert_int_eq(rdp_client_pump(c, 100), 0);
		dots = count_near(c, px + LOGON_FIELD_X + 20, py + LOGON_PASSWORD_Y + 4, 200,
		                  LOGON_FIELD_H - 8, 0x202020, 60);
	}
	ck_assert_msg(dots > 30, "the password field shows no dots (%d dark pixels)", dots);
	ck_assert_msg(count_near(c, px + LOGON_FIELD_X + 4, py + LOGON_USER_Y + 4, 200,
	                         LOGON_FIELD_H - 8, 0x202020, 60) > 30,
	              "the user name field shows no text");
	save_png(c, "/tmp/shoji-rdp-logon-typed.png");
	uint64_t before = message_hash(c);
	press(c, SC_ENTER);
	ck_assert_msg(wait_error_message(c, before, 15000), "no error on the message line");
	ck_assert(shojid_audit_wait(&d, "\"event\":\"login_refused\"", "\"user\":\"demo\"",
	                            "\"protocol\":\"rdp\"", 10000));
	ck_assert_msg(count_near(c, px + LOGON_FIELD_X + 20, py + LOGON_PASSWORD_Y + 4, 200,
	                         LOGON_FIELD_H - 8, 0x202020, 60) == 0,
	              "the password field was not cleared");
	save_png(c, "/tmp/shoji-rdp-logon.png");

	/* The right password (focus stayed on its field): the session, same connection. */
	ck_assert_int_eq(rdp_client_type_scancodes(c, DEMO_PASSWORD), 0);
	press(c, SC_ENTER);
	page_origin(c, &ox, &oy);
	expect_page(c, ox, oy);
	ck_assert(audit_has(d.audit_path, "\"event\":\"login_accepted\"", "\"user\":\"demo\"",
	                    "\"protocol\":\"rdp\""));
	ck_assert_int_eq(rdp_client_width(c), 1024);
	ck_assert_int_eq(rdp_client_height(c), 768);
	rdp_client_destroy(c);

	/* A user name the client sent is kept; five wrong passwords end the connection. */
	c = logon_connect("clerk");
	expect_pixel(c, px + LOGON_FIELD_X, py + LOGON_PASSWORD_Y + 18, LOGON_FOCUS,
	             "focus on the password when the user name came");
	ck_assert_msg(count_near(c, px + LOGON_FIELD_X + 4, py + LOGON_USER_Y + 4, 200,
	                         LOGON_FIELD_H - 8, 0x202020, 60) > 30,
	              "the user name the client sent is not shown");
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(rdp_client_type_scancodes(c, "nope"), 0);
		press(c, SC_ENTER);
		if (i == 4)
			break;
		/* Refused (audited), then answered: the password field empties. */
		uint64_t end = now_ms() + 15000;
		while (shojid_audit_count(&d, "\"event\":\"login_refused\"",
		                          "\"user\":\"clerk\"") <= i ||
		       count_near(c, px + LOGON_FIELD_X + 20, py + LOGON_PASSWORD_Y + 4, 200,
		                  LOGON_FIELD_H - 8, 0x202020, 60) > 0)
			ck_assert_msg(now_ms() < end && rdp_client_pump(c, 100) == 0,
			              "no answer to wrong password %d", i + 1);
	}
	uint64_t end = now_ms() + 20000;
	while (rdp_client_pump(c, 100) == 0)
		ck_assert_msg(now_ms() < end, "still connected after five wrong passwords");
	ck_assert(shojid_audit_wait(&d, "\"event\":\"handshake_failed\"",
	                            "5 failed logins on the logon screen", NULL, 10000));
	ck_assert_int_eq(
	    shojid_audit_count(&d, "\"event\":\"login_refused\"", "\"user\":\"clerk\""), 5);
	rdp_client_destroy(c);

	/*
	 * A Japanese keyboard (type 7): @ and : are keys of their own (0x1a and
	 * 0x28, which a US keyboard types as [ and '), so only the Japanese map
	 * gets this password right. A second browser session is needed.
	 */
	ck_assert_msg(shojid_wait_ready(&d, 2, 90000), "no second session got ready");
	struct rdp_client_options jp = {
	    .port = rdp_port, .width = 1024, .height = 768, .gfx = true, .japanese_keyboard = true};
	c = rdp_client_connect(&jp);
	ck_assert_ptr_nonnull(c);
	expect_pixel(c, 5, 5, LOGON_BACKGROUND, "the logon screen for a Japanese keyboard");
	ck_assert_int_eq(rdp_client_type_scancodes(c, "kana"), 0);
	press(c, SC_TAB);
	ck_assert_int_eq(rdp_client_type_scancodes(c, "jp"), 0);
	press(c, 0x1a);
	ck_assert_int_eq(rdp_client_type_scancodes(c, "pass"), 0);
	press(c, 0x28);
	ck_assert_int_eq(rdp_client_type_scancodes(c, "1"), 0);
	press(c, SC_ENTER);
	page_origin(c, &ox, &oy);
	ck_assert(audit_has(d.audit_path, "\"event\":\"rdp_request\"", "keyboard=0x411/7", NULL));
	ck_assert(audit_has(d.audit_path, "\"event\":\"login_accepted\"", "\"user\":\"kana\"",
	                    "\"protocol\":\"rdp\""));
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
	/* A good client is served all along, in its own session. */
	struct rdp_client *good = login_ok("clerk", CLERK_PASSWORD, true);
	page_origin(good, &ox, &oy);
	/* A wrong password: the connection is dropped and the refusal audited. */
	ck_assert_ptr_null(login("demo", "not-the-password", true));
	ck_assert_msg(shojid_audit_wait(&d, "\"event\":\"login_refused\"", "\"user\":\"demo\"",
	                                "\"protocol\":\"rdp\"", 10000),
	              "no login_refused over rdp in %s", d.audit_path);
	/* A password without a user name: refused and noted. */
	ck_assert_ptr_null(login("", "some-password", true));
	ck_assert(shojid_audit_wait(&d, "\"event\":\"handshake_failed\"",
	                            "a password without a user name", NULL, 10000));

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
	ck_assert_int_eq(shojid_audit_count(&d, "\"event\":\"login_accepted\"", NULL), 1);

	/*
	 * A user name with an empty password: the logon screen, where signing
	 * in with the password still empty is refused, audited, and said.
	 */
	struct rdp_client *c = login("demo", "", true);
	ck_assert_ptr_nonnull(c);
	int px, py;
	logon_origin(&px, &py);
	expect_pixel(c, px + LOGON_FIELD_X, py + LOGON_PASSWORD_Y + 18, LOGON_FOCUS,
	             "the logon screen for an empty password");
	uint64_t before = message_hash(c);
	press(c, SC_ENTER);
	ck_assert_msg(wait_error_message(c, before, 15000), "no error for an empty password");
	/* The wrong password above was the first refusal of demo; this is the second. */
	uint64_t end = now_ms() + 10000;
	while (shojid_audit_count(&d, "\"event\":\"login_refused\"", "\"user\":\"demo\"") < 2)
		ck_assert_msg(now_ms() < end && rdp_client_pump(c, 100) == 0,
		              "the empty password was not refused in the audit log");
	rdp_client_destroy(c);

	/* The good client was served meanwhile, and still is: a click reaches its page. */
	ck_assert_int_eq(rdp_client_pump(good, 200), 0);
	rdp_client_click_until(good, ox + 200, oy + 200, ox + 200, oy + 200, YELLOW, 15000);
	expect_pixel(good, ox + 200, oy + 200, YELLOW, "a click while others were refused");
	ck_assert_int_eq(shojid_audit_count(&d, "\"event\":\"session_detach\"", "clerk"), 0);

	/* A proper client is served afterwards (in a second session). */
	ck_assert_msg(shojid_wait_ready(&d, 2, 90000), "no second session got ready");
	c = login_ok("demo", DEMO_PASSWORD, true);
	page_origin(c, &ox, &oy);
	rdp_client_destroy(c);
	rdp_client_destroy(good);
	finish();
}
END_TEST

/* ---- Display Control: the browser follows the client's size ---- */

/* Pumps until the client's desktop is w x h and the page's corner block sits in its corner. */
static void expect_size(struct rdp_client *c, int w, int h)
{
	uint64_t end = now_ms() + 30000;

	while (rdp_client_width(c) != w || rdp_client_height(c) != h)
		ck_assert_msg(now_ms() < end && rdp_client_pump(c, 100) == 0,
		              "the desktop is %dx%d, not %dx%d", rdp_client_width(c),
		              rdp_client_height(c), w, h);
	expect_pixel(c, w - 30, h - 30, MAGENTA, "the corner block of the resized page");
}

static void wait_disp(struct rdp_client *c)
{
	uint64_t end = now_ms() + 30000;

	while (!rdp_client_disp_open(c))
		ck_assert_msg(now_ms() < end && rdp_client_pump(c, 100) == 0,
		              "Display Control did not open (%s)", d.log_path);
}

/*
 * The n-th RDP connection_bytes line: the graphics went over rdpgfx (gfx)
 * or as updates, Display Control carried the resize requests, the click
 * came as input, channels never opened have no entry, and the application
 * bytes fit the socket's TCP payload (TLS records add a little).
 */
static void expect_bytes(int n, bool gfx)
{
	char line[8192];

	uint64_t end = now_ms() + 30000;
	while (!shojid_audit_line(&d, n, "\"event\":\"connection_bytes\"", "\"protocol\":\"rdp\"", line,
	                          sizeof(line)))
		ck_assert_msg(now_ms() < end, "no connection_bytes line %d (%s)", n, d.audit_path);
	if (gfx) {
		ck_assert_int_gt(audit_number(line, "drdynvc/rdpgfx", "out"), 1000);
		ck_assert_int_gt(audit_number(line, "drdynvc/rdpgfx", "in"), 0); /* caps, frame acks */
	} else {
		ck_assert_int_gt(audit_number(line, "updates", "out"), 1000);
		ck_assert_int_eq(audit_number(line, "drdynvc/rdpgfx", "out"), -1); /* never opened */
	}
	ck_assert_int_gt(audit_number(line, "drdynvc/disp", "in"), 0);
	ck_assert_int_gt(audit_number(line, "input", "in"), 0);
	ck_assert_int_gt(audit_number(line, "connect", "in"), 0);
	ck_assert_int_gt(audit_number(line, "connect", "out"), 0);
	ck_assert_int_eq(audit_number(line, "rdpdr", "in"), -1);
	ck_assert_int_eq(audit_number(line, "cliprdr", "in"), -1);
	long long in = audit_number(line, NULL, "in"), out = audit_number(line, NULL, "out");
	long long tin = audit_number(line, NULL, "tcp_in"), tout = audit_number(line, NULL, "tcp_out");
	ck_assert_msg(out > 0 && out <= tout && tout <= out + out / 4 + 65536,
	              "application bytes out %lld against TCP %lld (%s)", out, tout, line);
	ck_assert_msg(in > 0 && in <= tin && tin <= 4 * in + 65536,
	              "application bytes in %lld against TCP %lld (%s)", in, tin, line);
}

START_TEST(display_control_resize)
{
	int ox, oy, x, y;

	ck_assert_msg(shojid_setup(&d, "[display]\nmax_width = 1280\nmax_height = 1000\n") == 0,
	              "harness setup failed (%s)", d.root);
	rdp_port = d.rdp_port;
	ck_assert_int_eq(shojid_add_user(&d, "demo", DEMO_PASSWORD), 0);
	rdp_client_log_to(d.root, "freerdp-client.log");
	ck_assert_msg(shojid_launch(&d, 120000) == 0, "shojid did not get ready (%s)", d.log_path);

	/* The graphics pipeline: a new surface at each size. */
	struct rdp_client *c = login_ok("demo", DEMO_PASSWORD, true);
	page_origin(c, &ox, &oy);
	expect_page(c, ox, oy);
	wait_disp(c);
	ck_assert(shojid_audit_wait(&d, "\"event\":\"rdp_channels\"", "opened=drdynvc,rdpgfx,disp",
	                            NULL, 10000));
	/* A state the browser must keep: it is not restarted by a resize. */
	rdp_client_click_until(c, ox + 200, oy + 200, ox + 200, oy + 200, YELLOW, 15000);
	expect_pixel(c, ox + 200, oy + 200, YELLOW, "a click before resizing");
	ck_assert_int_eq(rdp_client_resize(c, 800, 600), 0);
	expect_size(c, 800, 600);
	page_origin(c, &x, &y);
	expect_pixel(c, x + 200, y + 200, YELLOW, "the clicked block after resizing");
	ck_assert(shojid_audit_wait(&d, "\"event\":\"resize\"", "800x600", NULL, 10000));
	/* Larger than [display] allows: the largest allowed. */
	ck_assert_int_eq(rdp_client_resize(c, 1600, 1200), 0);
	expect_size(c, 1280, 1000);
	ck_assert(shojid_audit_wait(&d, "\"event\":\"resize\"", "1280x1000", NULL, 10000));
	rdp_client_destroy(c);
	expect_bytes(0, true);

	/* Bitmap updates: a reactivation at the new size, same browser. */
	c = login_ok("demo", DEMO_PASSWORD, false);
	page_origin(c, &x, &y);
	wait_disp(c);
	int before = rdp_client_resizes(c);
	ck_assert_int_eq(rdp_client_resize(c, 900, 700), 0);
	expect_size(c, 900, 700);
	ck_assert_int_gt(rdp_client_resizes(c), before);
	page_origin(c, &x, &y);
	expect_pixel(c, x + 200, y + 200, YELLOW, "the clicked block over bitmap updates");
	ck_assert_int_eq(shojid_audit_count(&d, "\"event\":\"session_attach\"", "\"new\":true"), 1);
	rdp_client_destroy(c);
	expect_bytes(1, false);
	finish();
}
END_TEST

/* ---- NLA ([rdp] nla = true): NTLM against the users' stored NT hashes ---- */

#define NLA_PASSWORD "nla-password-3"

START_TEST(nla_login)
{
	struct rdp_client_options opt = {.port = 0,
	                                 .user = "nla",
	                                 .password = NLA_PASSWORD,
	                                 .width = 1024,
	                                 .height = 768,
	                                 .gfx = true,
	                                 .nla = true};
	int ox, oy;

	ck_assert_msg(shojid_setup(&d, "[rdp]\nnla = true\n") == 0, "harness setup failed (%s)",
	              d.root);
	opt.port = rdp_port = d.rdp_port;
	ck_assert_int_eq(shojid_add_nla_user(&d, "nla", NLA_PASSWORD), 0);
	ck_assert_int_eq(shojid_add_user(&d, "demo", DEMO_PASSWORD), 0); /* no NT hash */
	rdp_client_log_to(d.root, "freerdp-client.log");
	ck_assert_msg(shojid_launch(&d, 120000) == 0, "shojid did not get ready (%s)", d.log_path);

	/* The right password over NLA: the session, audited as NLA. */
	struct rdp_client *c = rdp_client_connect(&opt);
	ck_assert_msg(c, "no NLA login (%s/freerdp-client.log, %s)", d.root, d.log_path);
	page_origin(c, &ox, &oy);
	expect_page(c, ox, oy);
	ck_assert(audit_has(d.audit_path, "\"event\":\"rdp_request\"", "cookie=nla", "hybrid"));
	ck_assert(audit_has(d.audit_path, "\"event\":\"login_accepted\"", "\"user\":\"nla\"",
	                    "\"protocol\":\"rdp\""));
	ck_assert(shojid_audit_wait(&d, "\"event\":\"rdp_channels\"", "security=nla",
	                            "\"user\":\"nla\"", 10000));
	rdp_client_destroy(c);

	/* A wrong password fails inside NTLM: no session, audited. */
	opt.password = "not-the-password";
	ck_assert_ptr_null(rdp_client_connect(&opt));
	ck_assert(shojid_audit_wait(&d, "\"event\":\"handshake_failed\"", "NLA logon of nla failed",
	                            NULL, 10000));
	ck_assert(shojid_audit_wait(&d, "\"event\":\"login_refused\"", "\"user\":\"nla\"",
	                            "NLA logon failed", 10000));
	/* A user without a stored NT hash cannot use NLA, even with the right password. */
	opt.user = "demo";
	opt.password = DEMO_PASSWORD;
	ck_assert_ptr_null(rdp_client_connect(&opt));
	ck_assert(shojid_audit_wait(&d, "\"event\":\"login_refused\"", "\"user\":\"demo\"",
	                            "no NT hash", 10000));
	ck_assert_int_eq(shojid_audit_count(&d, "\"event\":\"login_accepted\"", NULL), 1);

	/* Without NLA, the same user still logs in over TLS. */
	ck_assert_msg(shojid_wait_ready(&d, 2, 90000), "no second session got ready");
	c = login_ok("demo", DEMO_PASSWORD, true);
	page_origin(c, &ox, &oy);
	ck_assert(shojid_audit_wait(&d, "\"event\":\"rdp_channels\"", "security=tls",
	                            "\"user\":\"demo\"", 10000));
	rdp_client_destroy(c);
	finish();
}
END_TEST

/* ---- the logon screen by itself ---- */

static void keys(struct logon_screen *ls, const uint16_t *codes, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		ck_assert_int_eq(logon_screen_key(ls, codes[i], true), LOGON_NONE);
		ck_assert_int_eq(logon_screen_key(ls, codes[i], false), LOGON_NONE);
	}
}

static void shifted(struct logon_screen *ls, uint16_t code)
{
	logon_screen_key(ls, 0x2a, true);
	keys(ls, &code, 1);
	logon_screen_key(ls, 0x2a, false);
}

START_TEST(logon_us_keyboard)
{
	struct logon_screen *ls = logon_screen_create(800, 600, NULL, LOGON_KEYBOARD_US);

	ck_assert_ptr_nonnull(ls);
	shifted(ls, 0x1e);                                       /* A */
	shifted(ls, 0x03);                                       /* @ */
	keys(ls, (uint16_t[]){0x28, 0x3a, 0x1e}, 3);             /* ' Caps a */
	keys(ls, (uint16_t[]){0x02, 0x3a, 0x35, 0x39, 0x4f}, 5); /* 1 Caps / space keypad-1 */
	ck_assert_str_eq(logon_screen_user(ls), "A@'A1/ 1");
	keys(ls, (uint16_t[]){0x0e, 0x0e}, 2); /* Backspace twice */
	ck_assert_str_eq(logon_screen_user(ls), "A@'A1/");
	/* Ctrl and Alt combinations and releases type nothing. */
	logon_screen_key(ls, 0x1d, true);
	keys(ls, (uint16_t[]){0x1e}, 1);
	logon_screen_key(ls, 0x1d, false);
	ck_assert_int_eq(logon_screen_key(ls, 0x1f, false), LOGON_NONE);
	ck_assert_str_eq(logon_screen_user(ls), "A@'A1/");
	/* Tab to the password; Enter asks to sign in. */
	keys(ls, (uint16_t[]){0x0f, 0x2d, 0x0c, 0x0d}, 4);
	ck_assert_str_eq(logon_screen_password(ls), "x-=");
	ck_assert_str_eq(logon_screen_user(ls), "A@'A1/");
	ck_assert_int_eq(logon_screen_key(ls, 0x1c, true), LOGON_SUBMIT);
	ck_assert_int_eq(logon_screen_key(ls, 0xe01c, true), LOGON_SUBMIT);
	/* Refused: the password is cleared and keeps the focus. */
	logon_screen_refused(ls, "wrong");
	ck_assert_str_eq(logon_screen_password(ls), "");
	keys(ls, (uint16_t[]){0x10}, 1);
	ck_assert_str_eq(logon_screen_password(ls), "q");
	logon_screen_destroy(ls);
}
END_TEST

START_TEST(logon_jp_keyboard)
{
	struct logon_screen *ls = logon_screen_create(800, 600, "taro", LOGON_KEYBOARD_JP);

	/* A user name came: the password has the focus. */
	keys(ls, (uint16_t[]){0x1a, 0x28, 0x1b, 0x2b, 0x0d, 0x7d}, 6); /* @ : [ ] ^ yen */
	shifted(ls, 0x03);                                             /* " */
	shifted(ls, 0x08);                                             /* ' */
	shifted(ls, 0x27);                                             /* + */
	shifted(ls, 0x73);                                             /* _ */
	shifted(ls, 0x0b);                                             /* nothing */
	shifted(ls, 0x0c);                                             /* = */
	ck_assert_str_eq(logon_screen_password(ls), "@:[]^\\\"'+_=");
	ck_assert_str_eq(logon_screen_user(ls), "taro");
	/* Num Lock off (as synchronised): the keypad types nothing; Caps on: upper case. */
	logon_screen_sync(ls, true, false);
	keys(ls, (uint16_t[]){0x4f, 0x1e}, 2);
	ck_assert_str_eq(logon_screen_password(ls), "@:[]^\\\"'+_=A");
	logon_screen_destroy(ls);
}
END_TEST

START_TEST(logon_unicode_and_limits)
{
	struct logon_screen *ls = logon_screen_create(640, 480, "", LOGON_KEYBOARD_US);

	/* Enter with no user name: nothing to check yet. */
	ck_assert_int_eq(logon_screen_key(ls, 0x1c, true), LOGON_NONE);
	ck_assert_int_eq(logon_screen_click(ls, 320, 50 + 258 + 20), LOGON_NONE);
	/* IME text: 日本, a surrogate pair, a lone low surrogate and a control character. */
	const uint16_t units[] = {0x65e5, 0x672c, 0xd842, 0xdfb7, 0xdc00, 0x01, 0x7f};
	for (size_t i = 0; i < ARRAY_SIZE(units); i++)
		ck_assert_int_eq(logon_screen_utf16(ls, units[i]), LOGON_NONE);
	ck_assert_str_eq(logon_screen_user(ls), "日本\xf0\xa0\xae\xb7");
	keys(ls, (uint16_t[]){0x0e}, 1); /* Backspace takes the whole character */
	ck_assert_str_eq(logon_screen_user(ls), "日本");
	for (int i = 0; i < 100; i++)
		logon_screen_utf16(ls, 0x3042); /* あ: 3 bytes */
	ck_assert_uint_le(strlen(logon_screen_user(ls)), LOGON_MAX_USER);
	ck_assert_uint_eq(strlen(logon_screen_user(ls)) % 3, 0);
	/* A click on the password field, then on Sign in. */
	ck_assert_int_eq(logon_screen_click(ls, 60 + 40 + 5, 50 + 198 + 5), LOGON_NONE);
	for (int i = 0; i < 400; i++)
		logon_screen_utf16(ls, 'p');
	ck_assert_uint_eq(strlen(logon_screen_password(ls)), LOGON_MAX_PASSWORD);
	ck_assert_int_eq(logon_screen_click(ls, 320, 50 + 258 + 20), LOGON_SUBMIT);
	ck_assert_int_eq(logon_screen_utf16(ls, '\r'), LOGON_SUBMIT);
	logon_screen_destroy(ls);
	/* Too long a user name from the client is cut at a character boundary. */
	char user[200] = "";
	for (int i = 0; i < 30; i++)
		strcat(user, "名");
	ls = logon_screen_create(640, 480, user, LOGON_KEYBOARD_US);
	ck_assert_uint_eq(strlen(logon_screen_user(ls)), 63);
	logon_screen_destroy(ls);
	ck_assert_ptr_null(logon_screen_create(0, 480, NULL, LOGON_KEYBOARD_US));
}
END_TEST

START_TEST(logon_drawing_sends_changes_only)
{
	struct logon_screen *ls = logon_screen_create(800, 600, NULL, LOGON_KEYBOARD_US);
	struct region changes;
	size_t stride;

	ck_assert(logon_screen_take_changes(ls, &changes));
	ck_assert_int_eq(region_area(&changes), 800 * 600);
	ck_assert(!logon_screen_take_changes(ls, &changes));
	const uint8_t *px = logon_screen_pixels(ls, &stride);
	ck_assert_uint_ge(stride, 800 * 4);
	/* B G R of the background, top left, and of the empty user field. */
	ck_assert_int_eq(px[0], 0x5f);
	ck_assert_int_eq(px[1], 0x3a);
	ck_assert_int_eq(px[2], 0x1f);
	const uint8_t *field = px + (size_t)(110 + 122 + 18) * stride + (size_t)(140 + 400) * 4;
	ck_assert(field[0] == 0xff && field[1] == 0xff && field[2] == 0xff);
	/* One character: only tiles around the user name field change. */
	logon_screen_utf16(ls, 'k');
	ck_assert(logon_screen_take_changes(ls, &changes));
	struct rect e = region_extents(&changes);
	ck_assert_int_lt(region_area(&changes), 800 * 600 / 4);
	ck_assert_int_ge(e.y, 110 + 122 - 64);
	ck_assert_int_le(e.y + e.h, 110 + 122 + 36 + 64);
	/* A password character changes its field, never shows the character itself. */
	logon_screen_key(ls, 0x0f, true);
	ck_assert(logon_screen_take_changes(ls, &changes));
	logon_screen_mark_all(ls);
	ck_assert(logon_screen_take_changes(ls, &changes));
	ck_assert_int_eq(region_area(&changes), 800 * 600);
	logon_screen_destroy(ls);
}
END_TEST

Suite *suite_rdp(void)
{
	Suite *s = suite_create("rdp");
	TCase *tc = tcase_create("rdp");

	TCase *logon = tcase_create("logon_screen");
	tcase_add_test(logon, logon_us_keyboard);
	tcase_add_test(logon, logon_jp_keyboard);
	tcase_add_test(logon, logon_unicode_and_limits);
	tcase_add_test(logon, logon_drawing_sends_changes_only);
	suite_add_tcase(s, logon);

	tcase_set_timeout(tc, 300);
	suite_add_tcase(s, tc);
	if (geteuid() != 0) {
		fprintf(stderr, "rdp: skipped, shojid needs root to give sessions their own uid\n");
		return s;
	}
	tcase_add_test(tc, gfx_view_click_type_reconnect);
	tcase_add_test(tc, unicode_typing_in_own_session);
	tcase_add_test(tc, refusals);
	tcase_add_test(tc, logon_screen_then_session);
	tcase_add_test(tc, nla_login);
	tcase_add_test(tc, display_control_resize);
	return s;
}
