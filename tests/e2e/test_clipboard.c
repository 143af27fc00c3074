/*
 * The clipboard policy end to end over VNC: a libvncclient viewer sends
 * ClientCutText and pastes it into the page's field with Ctrl+V, and
 * copies the field with Ctrl+C and receives the browser's text as
 * ServerCutText. The page (tests/pages/ime.html) paints each code point
 * of its field, so what the browser received is read back from the
 * viewer's own framebuffer. With the default config nothing crosses in
 * either direction, and the refusal is audited; the audit log never holds
 * the text. Needs root; skipped otherwise.
 */
#include "autoconfig.h"

#include <X11/keysym.h>
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

/* Starts shojid on ime.html with extra_ini, logs in, focuses the field. */
static struct viewer *start(const char *extra_ini, int *x, int *y)
{
	ck_assert_int_eq(shojid_setup_page(&d, extra_ini, "ime.html"), 0);
	ck_assert_int_eq(shojid_add_user(&d, "clerk", PASSWORD), 0);
	ck_assert_msg(shojid_launch(&d, 90000) == 0, "shojid did not get ready (%s)", d.log_path);
	struct viewer_options opt = {.port = d.port,
	                             .ca_file = d.ca_path,
	                             .user = "clerk",
	                             .password = PASSWORD,
	                             .encodings = "tight zrle raw"};
	struct viewer *v = viewer_connect(&opt);
	ck_assert_msg(v, "login failed (%s)", d.log_path);
	bool loaded = false;
	for (int i = 0; i < 300 && !loaded; i++) {
		viewer_pump(v, 100);
		loaded = viewer_wait_block(v, RED, 100, 50, 100, x, y) &&
		         viewer_pixel(v, *x + STRIP_X + 5, *y + 5) == WHITE;
	}
	ck_assert_msg(loaded, "ime.html did not load (%s)", d.log_path);
	viewer_click(v, *x + FIELD_X, *y + FIELD_Y);
	viewer_pump(v, 300);
	return v;
}

static void stop(struct viewer *v)
{
	viewer_destroy(v);
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

START_TEST(closed_by_default)
{
	static const uint32_t typed[] = {'c', 'o', 'p', 'y', '-', 'm', 'e'};
	size_t len;
	unsigned count;
	int x, y;

	struct viewer *v = start(NULL, &x, &y);
	viewer_type(v, "copy-me");
	ck_assert_msg(wait_field(v, x, y, typed, ARRAY_SIZE(typed)), "typing did not arrive");
	ctrl(v, XK_a);
	ctrl(v, XK_c);
	/* The browser's copy stays in the session: nothing reaches the viewer. */
	ck_assert(!wait_cut_text(v, 1, 4000));

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
		tcase_add_test(tc, closed_by_default);
		tcase_add_test(tc, flood_is_summed_up_and_bytes_counted);
	} else {
		fprintf(stderr, "clipboard: skipped, needs root\n");
	}
	suite_add_tcase(s, tc);
	return s;
}
