/*
 * The clipboard policy end to end over VNC: a libvncclient viewer sends
 * ClientCutText and pastes it into the page's field with Ctrl+V, and
 * copies the field with Ctrl+C and receives the browser's text as
 * ServerCutText; a viewer that speaks the extended clipboard (as
 * TigerVNC's does) does the same with Japanese text in UTF-8. The page
 * (tests/pages/ime.html) paints each code point of its field, so what the
 * browser received is read back from the viewer's own framebuffer. With
 * the default config nothing crosses in either direction, and the refusal
 * is audited; the audit log never holds the text. Needs root; skipped
 * otherwise.
 */
#include "autoconfig.h"

#include <X11/keysym.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "daemon.h"
#include "harness.h"
#include "util.h"
#include "viewer.h"

Suite *suite_clipboard(void);

#define RED 0xff0000
#define WHITE 0xffffff
#define PASSWORD "clip-password-1"
/* ime.html, from its red block's top-left corner. */
#define STRIP_X 120
#define STRIP_CELL 10
#define FIELD_X 200
#define FIELD_Y 78

static struct shojid_proc d;

static void tap(struct viewer *v, uint32_t keysym)
{
	viewer_key(v, keysym, true);
	viewer_key(v, keysym, false);
	viewer_pump(v, 60);
}

static void ctrl(struct viewer *v, uint32_t keysym)
{
	viewer_key(v, XK_Control_L, true);
	tap(v, keysym);
	viewer_key(v, XK_Control_L, false);
	viewer_pump(v, 100);
}

/* True when the field holds exactly the n code points of want. */
static bool field_is(struct viewer *v, int x, int y, const uint32_t *want, size_t n)
{
	for (size_t i = 0; i <= n; i++) {
		uint32_t c = viewer_pixel(v, x + STRIP_X + STRIP_CELL * (int)i + 5, y + 5);
		if (i == n ? c != WHITE : c != want[i])
			return false;
	}
	return true;
}

static bool wait_field(struct viewer *v, int x, int y, const uint32_t *want, size_t n)
{
	for (int i = 0; i < 150; i++) {
		if (field_is(v, x, y, want, n))
			return true;
		viewer_pump(v, 100);
	}
	return false;
}

/*
 * Logs in to the running shojid (utf8: with the extended clipboard), waits
 * for the page (with an empty field unless reattached), focuses the field.
 */
static struct viewer *attach(bool utf8, bool reattached, int *x, int *y)
{
	struct viewer_options opt = {.port = d.port,
	                             .ca_file = d.ca_path,
	                             .user = "clerk",
	                             .password = PASSWORD,
	                             .encodings = "tight zrle raw",
	                             .utf8_clipboard = utf8};
	struct viewer *v = viewer_connect(&opt);
	ck_assert_msg(v, "login failed (%s)", d.log_path);
	bool loaded = false;
	for (int i = 0; i < 300 && !loaded; i++) {
		viewer_pump(v, 100);
		loaded = viewer_wait_block(v, RED, 100, 50, 100, x, y) &&
		         (reattached || viewer_pixel(v, *x + STRIP_X + 5, *y + 5) == WHITE);
	}
	ck_assert_msg(loaded, "ime.html did not load (%s)", d.log_path);
	viewer_click(v, *x + FIELD_X, *y + FIELD_Y);
	viewer_pump(v, 300);
	return v;
}

/* Starts shojid on ime.html with extra_ini, then attach(). */
static struct viewer *start_viewer(const char *extra_ini, bool utf8, int *x, int *y)
{
	ck_assert_int_eq(shojid_setup_page(&d, extra_ini, "ime.html"), 0);
	ck_assert_int_eq(shojid_add_user(&d, "clerk", PASSWORD), 0);
	ck_assert_msg(shojid_launch(&d, 90000) == 0, "shojid did not get ready (%s)", d.log_path);
	char log[160];
	viewer_log_to(shojid_path(&d, "vncclient.log", log, sizeof(log)));
	return attach(utf8, false, x, y);
}

static struct viewer *start(const char *extra_ini, int *x, int *y)
{
	return start_viewer(extra_ini, false, x, y);
}

static void stop(struct viewer *v)
{
	viewer_destroy(v);
	viewer_log_to(NULL);
	ck_assert_int_eq(shojid_stop(&d, 30000), 0);
	shojid_cleanup(&d);
}

/* Waits for the count-th ServerCutText; true if it came. */
static bool wait_cut_text(struct viewer *v, unsigned count, int timeout_ms)
{
	size_t len;
	unsigned got = 0;

	for (int waited = 0; waited < timeout_ms; waited += 100) {
		viewer_cut_text(v, &len, &got);
		if (got >= count)
			return true;
		viewer_pump(v, 100);
	}
	return false;
}

START_TEST(text_crosses_filtered_both_ways)
{
	/* qzj, then controls, é in ISO 8859-1, DEL: the browser must get "qzjké". */
	static const char paste[] = "qzj\x01\x1bk\xe9\x7f";
	static const uint32_t pasted[] = {'q', 'z', 'j', 'k', 0xe9};
	static const uint32_t typed[] = {'c', 'o', 'p', 'y', '-', 'm', 'e'};
	char dump[160];
	size_t len;
	unsigned count;
	int x, y;

	struct viewer *v = start("[policy]\nclipboard_to_browser = text\n"
	                         "clipboard_to_terminal = text\nclipboard_max_bytes = 64\n",
	                         &x, &y);

	/* Browser -> terminal: type, select all, copy. */
	viewer_type(v, "copy-me");
	ck_assert_msg(wait_field(v, x, y, typed, ARRAY_SIZE(typed)), "typing did not arrive");
	ctrl(v, XK_a);
	ctrl(v, XK_c);
	ck_assert_msg(wait_cut_text(v, 1, 20000), "no ServerCutText after Ctrl+C (%s)", d.log_path);
	const char *got = viewer_cut_text(v, &len, &count);
	ck_assert_uint_eq(len, 7);
	ck_assert_str_eq(got, "copy-me");
	ck_assert(shojid_audit_wait(&d, "\"event\":\"clipboard\"", "\"direction\":\"to_terminal\"",
	                            "\"bytes\":7", 10000));

	/* Terminal -> browser: cut text, then select all and paste over it. */
	ck_assert_int_eq(viewer_send_cut_text(v, paste, sizeof(paste) - 1), 0);
	viewer_pump(v, 200);
	ctrl(v, XK_a);
	ctrl(v, XK_v);
	bool ok = wait_field(v, x, y, pasted, ARRAY_SIZE(pasted));
	if (!ok)
		viewer_dump_ppm(v, shojid_path(&d, "paste.ppm", dump, sizeof(dump)));
	ck_assert_msg(ok, "the page did not get the filtered paste (screen in %s)", dump);
	ck_assert(shojid_audit_wait(&d, "\"event\":\"clipboard\"", "\"direction\":\"to_browser\"",
	                            "\"offered\":8,\"bytes\":6", 10000));

	/* Longer than clipboard_max_bytes: cut, and audited as such. */
	char big[100];
	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(viewer_send_cut_text(v, big, sizeof(big)), 0);
	viewer_pump(v, 200);
	ck_assert(shojid_audit_wait(&d, "\"event\":\"clipboard\"", "\"offered\":100,\"bytes\":64",
	                            "\"allowed\":true", 10000));

	/* Sizes only, never the text. */
	ck_assert_int_eq(shojid_audit_count(&d, "copy-me", NULL), 0);
	ck_assert_int_eq(shojid_audit_count(&d, "qzj", NULL), 0);
	ck_assert_int_eq(shojid_audit_count(&d, "xxxx", NULL), 0);
	stop(v);
}
END_TEST

/* The code points of UTF-8 text (valid, as the tests write it); how many. */
static size_t code_points(const char *s, uint32_t *out, size_t max)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t n = 0;

	while (*p && n < max) {
		int len = *p < 0x80 ? 1 : *p < 0xe0 ? 2 : *p < 0xf0 ? 3 : 4;
		uint32_t c = len == 1 ? *p : *p & (0xff >> (len + 1));
		for (int i = 1; i < len; i++)
			c = c << 6 | (p[i] & 0x3f);
		out[n++] = c;
		p += len;
	}
	return n;
}

static bool wait_caps(struct viewer *v)
{
	for (int i = 0; i < 200 && !viewer_ext_clipboard_caps(v); i++)
		viewer_pump(v, 100);
	return viewer_ext_clipboard_caps(v) != 0;
}

/*
 * The viewer's clipboard becomes text (UTF-8, extended clipboard); pasted
 * over the field, the page must show want; then the field is copied back
 * and the viewer must receive want, in UTF-8.
 */
static void paste_and_copy_back(struct viewer *v, int x, int y, const char *text, const char *want)
{
	uint32_t cps[32];
	size_t n = code_points(want, cps, ARRAY_SIZE(cps)), len;
	unsigned before, count;
	char dump[160];

	viewer_cut_text(v, &len, &before);
	int crossed = shojid_audit_count(&d, "\"direction\":\"to_browser\"", NULL);
	ck_assert_int_eq(viewer_send_clipboard_utf8(v, text, strlen(text)), 0);
	/* The extended clipboard's round trip (notify, request, provide) first. */
	uint64_t end = now_ms() + 20000;
	while (shojid_audit_count(&d, "\"direction\":\"to_browser\"", NULL) == crossed &&
	       now_ms() < end)
		viewer_pump(v, 100);
	viewer_pump(v, 200);
	ctrl(v, XK_a);
	ctrl(v, XK_v);
	bool ok = wait_field(v, x, y, cps, n);
	if (!ok)
		viewer_dump_ppm(v, shojid_path(&d, "paste-utf8.ppm", dump, sizeof(dump)));
	ck_assert_msg(ok, "the page did not get %s (screen in %s, log %s)", want, dump, d.log_path);
	ctrl(v, XK_a);
	ctrl(v, XK_c);
	ck_assert_msg(wait_cut_text(v, before + 1, 20000), "nothing came back after Ctrl+C (%s)",
	              d.log_path);
	const char *got = viewer_cut_text(v, &len, &count);
	ck_assert(viewer_cut_text_utf8(v));
	ck_assert_uint_eq(len, strlen(want));
	ck_assert_str_eq(got, want);
}

/* A provide whose stream says it holds 64 MiB of text (zeros, well under a megabyte). */
static void send_zip_bomb(struct viewer *v)
{
	size_t big = 64u << 20, cap = 1u << 20;
	uint8_t *plain = calloc(1, big), *z = malloc(cap), *m = malloc(cap + 12);
	uLongf zn = cap;

	ck_assert(plain && z && m);
	plain[0] = 0x04; /* u32 size: 64 MiB */
	ck_assert_int_eq(compress2(z, &zn, plain, big, 9), Z_OK);
	memset(m, 0, 12);
	m[0] = 6;
	uint32_t len = 0u - (uint32_t)(4 + zn);
	m[4] = (uint8_t)(len >> 24), m[5] = (uint8_t)(len >> 16), m[6] = (uint8_t)(len >> 8);
	m[7] = (uint8_t)len;
	m[8] = 0x10, m[11] = 1; /* provide, text */
	memcpy(m + 12, z, zn);
	ck_assert_int_eq(viewer_write_raw(v, m, 12 + zn), 0);
	free(m);
	free(z);
	free(plain);
}

START_TEST(japanese_both_ways)
{
	static const char jp[] = "日本語のテキスト";
	static const char mixed[] = "請求書 No.42\t合計 1,234円\r\n";
	/* 25 characters, 75 bytes: clipboard_max_bytes = 64 keeps 21 whole ones. */
	static const char long_jp[] = "あいうえおかきくけこさしすせそたちつてとなにぬねの";
	static const char long_cut[] = "あいうえおかきくけこさしすせそたちつてとな";
	int x, y;

	struct viewer *v = start_viewer("[policy]\nclipboard_to_browser = text\n"
	                                "clipboard_to_terminal = text\nclipboard_max_bytes = 64\n",
	                                true, &x, &y);
	ck_assert_msg(wait_caps(v), "no extended clipboard caps from shojid (%s)", d.log_path);

	paste_and_copy_back(v, x, y, jp, jp);
	ck_assert(shojid_audit_wait(&d, "\"event\":\"clipboard\"", "\"direction\":\"to_browser\"",
	                            "\"offered\":25,\"bytes\":24", 10000));
	ck_assert(shojid_audit_wait(&d, "\"event\":\"clipboard\"", "\"direction\":\"to_terminal\"",
	                            "\"bytes\":24", 10000));
	/* A tab passes, CRLF becomes LF; the field, one line, shows none of the line end. */
	paste_and_copy_back(v, x, y, mixed, "請求書 No.42\t合計 1,234円");
	ck_assert(shojid_audit_wait(&d, "\"direction\":\"to_browser\"",
	                            "\"offered\":34,\"bytes\":32", "\"allowed\":true", 10000));
	paste_and_copy_back(v, x, y, long_jp, long_cut);
	ck_assert(shojid_audit_wait(&d, "\"direction\":\"to_browser\"",
	                            "\"offered\":76,\"bytes\":63", "\"allowed\":true", 10000));

	/* Sizes only, never the text. */
	ck_assert_int_eq(shojid_audit_count(&d, "日本語", NULL), 0);
	ck_assert_int_eq(shojid_audit_count(&d, "請求書", NULL), 0);
	ck_assert_int_eq(shojid_audit_count(&d, "あいう", NULL), 0);

	/* A stream that would inflate to 64 MiB ends this connection, audited; the daemon lives. */
	send_zip_bomb(v);
	for (int i = 0; i < 300 && !viewer_closed(v); i++)
		viewer_pump(v, 100);
	ck_assert_msg(viewer_closed(v), "the zip bomb did not end the connection");
	ck_assert(shojid_audit_wait(&d, "\"event\":\"message_refused\"", "16777216 are allowed",
	                            NULL, 10000));
	viewer_destroy(v);

	/* A viewer without the extended clipboard gets no Japanese: '?' is not the text. */
	v = attach(false, true, &x, &y);
	ctrl(v, XK_a);
	ctrl(v, XK_c);
	ck_assert(shojid_audit_wait(&d, "\"direction\":\"to_terminal\"",
	                            "\"offered\":63,\"bytes\":0", "\"allowed\":false", 20000));
	ck_assert(!wait_cut_text(v, 1, 2000));
	stop(v);
}
END_TEST

START_TEST(closed_by_default)
{
	static const uint32_t typed[] = {'c', 'o', 'p', 'y', '-', 'm', 'e'};
	size_t len;
	unsigned count;
	int x, y;

	/* A viewer that lists the extended clipboard: shojid drops it from SetEncodings. */
	struct viewer *v = start_viewer(NULL, true, &x, &y);
	viewer_type(v, "copy-me");
	ck_assert_msg(wait_field(v, x, y, typed, ARRAY_SIZE(typed)), "typing did not arrive");
	ctrl(v, XK_a);
	ctrl(v, XK_c);
	/* The browser's copy stays in the session: nothing reaches the viewer. */
	ck_assert(!wait_cut_text(v, 1, 4000));
	ck_assert_uint_eq(viewer_ext_clipboard_caps(v), 0);

	/* The viewer's text is dropped: a paste gives the browser's own copy back. */
	ck_assert_int_eq(viewer_send_cut_text(v, "qzj", 3), 0);
	ck_assert(shojid_audit_wait(&d, "\"event\":\"clipboard\"", "\"direction\":\"to_browser\"",
	                            "\"allowed\":false", 10000));
	ck_assert(audit_has(d.audit_path, "\"event\":\"clipboard\"", "\"offered\":3,\"bytes\":0",
	                    "\"user\":\"clerk\""));
	tap(v, XK_End);
	ctrl(v, XK_v);
	static const uint32_t twice[] = {'c', 'o', 'p', 'y', '-', 'm', 'e',
	                                 'c', 'o', 'p', 'y', '-', 'm', 'e'};
	ck_assert_msg(wait_field(v, x, y, twice, ARRAY_SIZE(twice)),
	              "the paste did not give the browser's own copy");
	viewer_cut_text(v, &len, &count);
	ck_assert_uint_eq(count, 0);
	ck_assert_int_eq(shojid_audit_count(&d, "\"direction\":\"to_terminal\"", NULL), 0);
	ck_assert_int_eq(shojid_audit_count(&d, "qzj", NULL), 0);

	/* Extended clipboard text anyway: the whitelist ends the connection, audited. */
	ck_assert_int_eq(viewer_send_ext_provide(v, "日本語", strlen("日本語")), 0);
	for (int i = 0; i < 300 && !viewer_closed(v); i++)
		viewer_pump(v, 100);
	ck_assert_msg(viewer_closed(v), "extended clipboard text did not end the connection");
	ck_assert(shojid_audit_wait(&d, "\"event\":\"message_refused\"",
	                            "extended clipboard format is not allowed", NULL, 10000));
	ck_assert_int_eq(shojid_audit_count(&d, "日本語", NULL), 0);
	stop(v);
}
END_TEST

/* The sum of "suppressed" over the audit_suppressed lines that contain what. */
static long long suppressed(const char *what)
{
	char line[8192];
	long long sum = 0;

	for (int i = 0; shojid_audit_line(&d, i, "\"event\":\"audit_suppressed\"", what, line,
	                                  sizeof(line));
	     i++)
		sum += audit_number(line, NULL, "suppressed");
	return sum;
}

/*
 * A viewer floods the audit log with 1000 cut texts (refused: the policy
 * is closed) and 300 resize requests: the log grows by at most
 * [audit] max_repeats lines of each a minute, and audit_suppressed lines
 * account for every one left out. Every small message is a TLS record of
 * its own, so the TCP payload in is several times the application bytes. The connection's bytes per channel add
 * up: the cut texts exactly, updates at least their headers, everything
 * within the socket's TCP payload.
 */
START_TEST(flood_is_summed_up_and_bytes_counted)
{
	char line[8192];
	int x, y;

	struct viewer *v = start("[audit]\nmax_repeats = 10\n", &x, &y);
	int w = viewer_width(v), h = viewer_height(v);
	for (int i = 0; i < 1000; i++) {
		ck_assert_int_eq(viewer_send_cut_text(v, "flood-text", 10), 0);
		if (i % 50 == 0)
			viewer_pump(v, 10);
	}
	for (int i = 0; i < 300; i++) {
		ck_assert_int_eq(viewer_resize(v, w, h), 0); /* the size it has: nothing moves */
		if (i % 50 == 0)
			viewer_pump(v, 10);
	}
	viewer_pump(v, 1000);
	struct viewer_stats st = viewer_stats(v);
	viewer_destroy(v);
	ck_assert_msg(shojid_audit_wait(&d, "\"event\":\"connection_bytes\"", "\"protocol\":\"vnc\"",
	                                NULL, 30000),
	              "no connection_bytes line (%s)", d.audit_path);

	/* The flood: bounded lines, and every event left out is counted. */
	int clip = shojid_audit_count(&d, "\"event\":\"clipboard\"", "\"allowed\":false");
	int resize = shojid_audit_count(&d, "\"event\":\"resize\"", NULL);
	ck_assert_msg(clip >= 10 && clip <= 30, "%d clipboard lines for 1000 cut texts", clip);
	ck_assert_msg(resize <= 30, "%d resize lines for 300 requests", resize);
	ck_assert_int_eq(clip + suppressed("\"detail\":\"to_browser refused\""), 1000);
	/* libvncserver calls its resize hook (which audits) for fewer than it got. */
	long long resize_left_out = suppressed("\"kind\":\"resize\"");
	ck_assert_msg(resize_left_out > 0 && resize + resize_left_out <= 300,
	              "%d resize lines, %lld left out", resize, resize_left_out);
	ck_assert(shojid_audit_line(&d, 0, "\"event\":\"audit_suppressed\"", "to_browser refused",
	                            line, sizeof(line)));
	ck_assert_int_eq(audit_number(line, NULL, "bytes"), 10 * audit_number(line, NULL, "suppressed"));

	/* The bytes. */
	ck_assert(shojid_audit_line(&d, 0, "\"event\":\"connection_bytes\"", "\"protocol\":\"vnc\"",
	                            line, sizeof(line)));
	long long fb = audit_number(line, "framebuffer", "out");
	ck_assert_int_eq(audit_number(line, "cut_text", "in"), 1000 * (8 + 10));
	ck_assert_int_eq(audit_number(line, "cut_text", "out"), 0); /* to_terminal is closed */
	ck_assert_int_gt(audit_number(line, "input", "in"), 0);     /* the click on the field */
	ck_assert_int_ge(audit_number(line, "other", "in"), 300 * 24); /* SetDesktopSize, 1 screen */
	/* An update has a 4-byte header and 12 bytes a rectangle before its pixel data. */
	ck_assert_msg(fb > 0 && (uint64_t)fb >= st.updates * 4 + st.rects * 12,
	              "framebuffer out %lld for %llu updates, %llu rectangles", fb,
	              (unsigned long long)st.updates, (unsigned long long)st.rects);
	long long in = audit_number(line, NULL, "in"), out = audit_number(line, NULL, "out");
	long long tin = audit_number(line, NULL, "tcp_in"), tout = audit_number(line, NULL, "tcp_out");
	ck_assert_msg(out >= fb && out <= tout && tout <= out + out / 4 + 65536,
	              "application bytes out %lld against TCP %lld", out, tout);
	ck_assert_msg(in <= tin && tin <= 4 * in + 65536,
	              "application bytes in %lld against TCP %lld", in, tin);
	ck_assert_int_eq(shojid_audit_count(&d, "flood-text", NULL), 0);
	stop(NULL);
}
END_TEST

Suite *suite_clipboard(void)
{
	Suite *s = suite_create("clipboard");
	TCase *tc = tcase_create("clipboard");

	tcase_set_timeout(tc, 240);
	if (geteuid() == 0) {
		tcase_add_test(tc, text_crosses_filtered_both_ways);
		tcase_add_test(tc, japanese_both_ways);
		tcase_add_test(tc, closed_by_default);
		tcase_add_test(tc, flood_is_summed_up_and_bytes_counted);
	} else {
		fprintf(stderr, "clipboard: skipped, needs root\n");
	}
	suite_add_tcase(s, tc);
	return s;
}
