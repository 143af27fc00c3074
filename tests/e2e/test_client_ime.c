/*
 * Japanese input through real clients: libvncclient sends keysyms as a VNC
 * viewer does, and the libfreerdp-client test client sends type-7 (Japanese
 * 106/109) scancodes as mstsc does: 半角/全角, romaji, Space, Return. The
 * page (tests/pages/ime.html) paints what its field received, one colour
 * per code point, and the test reads that back from the client's own
 * framebuffer. Needs root; skipped otherwise.
 */
#include "autoconfig.h"

#include <X11/keysym.h>
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "harness.h"
#include "rdp_client.h"
#include "viewer.h"

Suite *suite_client_ime(void);

#define RED 0xff0000
#define WHITE 0xffffff
#define ORANGE 0xff8000
#define PASSWORD "ime-password-1"
/* ime.html, from its red block's top-left corner. */
#define STRIP_X 120
#define STRIP_CELL 10
#define STATE_X 135
#define STATE_Y 35
#define FIELD_X 200
#define FIELD_Y 78

static struct shojid_proc d;

static void tap(struct viewer *v, uint32_t keysym)
{
	viewer_key(v, keysym, true);
	viewer_key(v, keysym, false);
	viewer_pump(v, 60);
}

/* True once the field holds exactly want (code points), committed. */
static bool page_has(struct viewer *v, int x, int y, const uint32_t *want, size_t n)
{
	for (size_t i = 0; i <= n; i++) {
		uint32_t c = viewer_pixel(v, x + STRIP_X + STRIP_CELL * (int)i + 5, y + 5);
		if (i == n ? c != WHITE : c != want[i])
			return false;
	}
	return viewer_pixel(v, x + STATE_X, y + STATE_Y) != ORANGE;
}

START_TEST(vnc_viewer_types_nihongo)
{
	static const uint32_t nihongo[] = { 0x65e5, 0x672c, 0x8a9e }; /* 日本語 */
	char url[128], dump[160];
	int x, y;

	ck_assert_int_eq(shojid_setup(&d, NULL), 0);
	ck_assert_int_eq(shojid_add_user(&d, "clerk", PASSWORD), 0);
	ck_assert_msg(shojid_launch(&d, 90000) == 0, "shojid did not get ready (%s)", d.log_path);
	struct viewer_options opt = { .port = d.port, .ca_file = d.ca_path, .user = "clerk",
				      .password = PASSWORD, .encodings = "tight zrle raw",
				      .cursor_shape = true };
	struct viewer *v = viewer_connect(&opt);
	ck_assert_msg(v, "login failed (%s)", d.log_path);
	ck_assert_msg(viewer_wait_block(v, RED, 200, 150, 60000, &x, &y), "no start page");

	/* To ime.html the way a clerk would: Ctrl+L, the address, Return. */
	viewer_key(v, XK_Control_L, true);
	tap(v, XK_l);
	viewer_key(v, XK_Control_L, false);
	viewer_pump(v, 300);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/ime.html\n", d.pages.port);
	viewer_type(v, url);
	bool loaded = false;
	for (int i = 0; i < 100 && !loaded; i++) {
		viewer_pump(v, 100);
		loaded = viewer_wait_block(v, RED, 100, 50, 100, &x, &y) &&
			 viewer_pixel(v, x + STRIP_X + 5, y + 5) == WHITE;
	}
	ck_assert_msg(loaded, "ime.html did not load");
	viewer_click(v, x + FIELD_X, y + FIELD_Y);
	viewer_pump(v, 300);

	tap(v, XK_Zenkaku_Hankaku);
	viewer_type(v, "nihongo");
	tap(v, XK_space);
	tap(v, XK_Return);
	bool ok = false;
	for (int i = 0; i < 100 && !ok; i++) {
		viewer_pump(v, 100);
		ok = page_has(v, x, y, nihongo, 3);
	}
	if (!ok)
		viewer_dump_ppm(v, shojid_path(&d, "nihongo.ppm", dump, sizeof(dump)));
	ck_assert_msg(ok, "the page did not receive 日本語 (screen in %s)", dump);
	viewer_destroy(v);
	ck_assert_int_eq(shojid_stop(&d, 30000), 0);
	shojid_cleanup(&d);
}
END_TEST

/* Set-1 scancodes of the keys this test presses. */
#define SC_ZENKAKU 0x29
#define SC_LCTRL 0x1d
#define SC_L 0x26
#define SC_SPACE 0x39
#define SC_RETURN 0x1c

static void rdp_tap(struct rdp_client *c, uint16_t sc)
{
	rdp_client_key(c, sc, true);
	rdp_client_key(c, sc, false);
	rdp_client_pump(c, 60);
}

static bool rdp_page_has(struct rdp_client *c, int x, int y, const uint32_t *want, size_t n)
{
	for (size_t i = 0; i <= n; i++) {
		uint32_t px = rdp_client_pixel(c, x + STRIP_X + STRIP_CELL * (int)i + 5, y + 5);
		if (i == n ? px != WHITE : px != want[i])
			return false;
	}
	return rdp_client_pixel(c, x + STATE_X, y + STATE_Y) != ORANGE;
}

START_TEST(rdp_client_types_nihongo)
{
	static const uint32_t nihongo[] = { 0x65e5, 0x672c, 0x8a9e }; /* 日本語 */
	char url[128], dump[160];
	int x, y;

	ck_assert_int_eq(shojid_setup(&d, NULL), 0);
	ck_assert_int_eq(shojid_add_user(&d, "clerk", PASSWORD), 0);
	ck_assert_msg(shojid_launch(&d, 90000) == 0, "shojid did not get ready (%s)", d.log_path);
	struct rdp_client_options opt = { .port = d.rdp_port, .user = "clerk", .password = PASSWORD,
					  .width = 1024, .height = 768, .gfx = true,
					  .japanese_keyboard = true };
	struct rdp_client *c = rdp_client_connect(&opt);
	ck_assert_msg(c, "login failed (%s)", d.log_path);
	ck_assert_msg(rdp_client_wait_color(c, RED, 60000, &x, &y), "no start page");

	rdp_client_key(c, SC_LCTRL, true);
	rdp_tap(c, SC_L);
	rdp_client_key(c, SC_LCTRL, false);
	rdp_client_pump(c, 300);
	/* The address as Unicode: the JP layout puts ':' elsewhere than US. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/ime.html", d.pages.port);
	rdp_client_type_unicode(c, url);
	rdp_tap(c, SC_RETURN);
	bool loaded = false;
	for (int i = 0; i < 100 && !loaded; i++) {
		rdp_client_pump(c, 100);
		loaded = rdp_client_wait_color(c, RED, 100, &x, &y) &&
			 rdp_client_pixel(c, x + STRIP_X + 5, y + 5) == WHITE &&
			 rdp_client_pixel(c, x + 99, y + 5) == RED &&
			 rdp_client_pixel(c, x + 101, y + 5) != RED;
	}
	if (!loaded)
		rdp_client_dump_ppm(c, shojid_path(&d, "rdp-noload.ppm", dump, sizeof(dump)));
	ck_assert_msg(loaded, "ime.html did not load over RDP (screen in %s)", dump);
	rdp_client_click(c, x + FIELD_X, y + FIELD_Y);
	rdp_client_pump(c, 300);

	rdp_tap(c, SC_ZENKAKU);
	rdp_client_type_scancodes(c, "nihongo");
	rdp_tap(c, SC_SPACE);
	rdp_tap(c, SC_RETURN);
	bool ok = false;
	for (int i = 0; i < 100 && !ok; i++) {
		rdp_client_pump(c, 100);
		ok = rdp_page_has(c, x, y, nihongo, 3);
	}
	if (!ok)
		rdp_client_dump_ppm(c, shojid_path(&d, "rdp-nihongo.ppm", dump, sizeof(dump)));
	ck_assert_msg(ok, "the page did not receive 日本語 over RDP (screen in %s)", dump);
	rdp_client_destroy(c);
	ck_assert_int_eq(shojid_stop(&d, 30000), 0);
	shojid_cleanup(&d);
}
END_TEST

Suite *suite_client_ime(void)
{
	Suite *s = suite_create("client_ime");
	TCase *tc = tcase_create("client_ime");
	tcase_set_timeout(tc, 240);
	if (geteuid() == 0) {
		tcase_add_test(tc, vnc_viewer_types_nihongo);
		tcase_add_test(tc, rdp_client_types_nihongo);
	}
	else
		fprintf(stderr, "client_ime: skipped, needs root\n");
	suite_add_tcase(s, tc);
	return s;
}
