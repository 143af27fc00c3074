/*
 * Japanese input end to end: a real session (sandbox, X server, fcitx5
 * with Mozc, Chromium) driven over the pixel link with keysyms, as a VNC
 * viewer sends them, and scancodes, as RDP does. tests/pages/ime.html
 * paints the text field's value as a strip of colours, one per code point,
 * so the tests read back exactly what the page received. The session
 * tests need root (the session gets its own uid) and are skipped
 * otherwise; the configuration and key mapping checks run without.
 */
#include "autoconfig.h"

#include <X11/keysym.h>
#include <check.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "ime.h"
#include "util.h"

Suite *suite_ime(void);

#define RED 0xff0000
#define WHITE 0xffffff
#define ORANGE 0xff8000
#define OK_GREEN 0x00c000
#define GREY 0x808080

/* Where ime.html puts things, from its red block's top-left corner. */
#define STRIP_X 120
#define STRIP_CELL 10
#define STRIP_MAX 32
#define STATE_X 135
#define STATE_Y 35
#define LANG_X 175
#define TZ_X 215
#define FIELD_X 200
#define FIELD_Y 78
/* Below the field: white on the page, where the candidate window opens. */
#define BELOW_Y0 110
#define BELOW_Y1 400
#define BELOW_X1 600

static struct http_server pages;
static struct session_proc sp;
static int ox, oy;

/* A session showing ime.html; x, y: the page's red block. False if it never showed. */
static bool start_page(struct session_proc *p, int *x, int *y)
{
	char ini[512];

	snprintf(ini, sizeof(ini),
	         "[browser]\nstart_url = http://127.0.0.1:%d/ime.html\n"
	         "[egress]\nallow = 127.0.0.1:%d\n",
	         pages.port, pages.port);
	if (session_start(p, ini, 1280, 800) < 0)
		return false;
	if (session_wait_color(p, RED, 40000, x, y))
		return true;
	session_dump_ppm(p, "/tmp/shoji-e2e-ime-nopage.ppm");
	return false;
}

/* Starts the page server and a session showing ime.html, the field focused. */
static void start(void)
{
	ck_assert_int_eq(http_server_start(&pages, SHOJI_SRCDIR "/tests/pages"), 0);
	ck_assert_msg(start_page(&sp, &ox, &oy),
	              "ime.html never appeared (screen in /tmp/shoji-e2e-ime-nopage.ppm)");
	session_click(&sp, ox + FIELD_X, oy + FIELD_Y);
	session_pump(&sp, 300);
}

/* Called when a test passed: stop everything and remove its files. */
static void finish(void)
{
	if (sp.link)
		session_stop(&sp, 15000);
	http_server_stop(&pages);
	remove_tree(sp.root);
	unlink(pages.log_path);
}

static void tap(struct session_proc *p, uint32_t keysym)
{
	session_key(p, keysym, true);
	session_key(p, keysym, false);
	session_pump(p, 40);
}

static void unicode(struct session_proc *p, uint32_t codepoint)
{
	struct pixlink_msg m = {.type = PIXLINK_UNICODE, .u.codepoint = codepoint};
	session_send(p, &m);
	session_pump(p, 40);
}

/* UTF-8 to code points; the tests' own strings only. */
static size_t decode(const char *s, uint32_t *out, size_t max)
{
	size_t n = 0;
	const unsigned char *p = (const unsigned char *)s;
	while (*p && n < max) {
		int len = *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : *p >= 0xc0 ? 2 : 1;
		uint32_t c = len == 1 ? *p : *p & (0x3f >> (len - 1));
		for (int i = 1; i < len; i++)
			c = c << 6 | (p[i] & 0x3f);
		out[n++] = c;
		p += len;
	}
	return n;
}

/* The field's value as the page shows it. */
static size_t read_value(struct session_proc *p, int x, int y, uint32_t *cps)
{
	size_t n = 0;
	while (n < STRIP_MAX) {
		uint32_t c = session_pixel(p, x + STRIP_X + STRIP_CELL * (int)n + 5, y + 5);
		if (c == WHITE)
			break;
		cps[n++] = c;
	}
	return n;
}

static void describe(const uint32_t *cps, size_t n, char *buf, size_t len)
{
	size_t off = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < n && off + 10 < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%sU+%04X", i ? " " : "", cps[i]);
}

/*
 * Waits until the field holds exactly text with no composition open
 * (committed), or, with composing, exactly text while one is open. On
 * failure dumps the screen and fails with what the page had.
 */
static void expect_value(struct session_proc *p, int x, int y, const char *text, bool composing,
                         const char *dump)
{
	uint32_t want[STRIP_MAX], got[STRIP_MAX];
	size_t nwant = decode(text, want, STRIP_MAX), ngot = 0;
	bool open = false;

	for (int i = 0; i < 100; i++) {
		ngot = read_value(p, x, y, got);
		open = session_pixel(p, x + STATE_X, y + STATE_Y) == ORANGE;
		if (open == composing && ngot == nwant &&
		    memcmp(got, want, nwant * sizeof(*got)) == 0)
			return;
		session_pump(p, 100);
	}
	char have[256], expected[256];
	describe(got, ngot, have, sizeof(have));
	describe(want, nwant, expected, sizeof(expected));
	session_dump_ppm(p, dump);
	ck_abort_msg("the page has [%s], composition %s; expected [%s] (%s), composition %s "
	             "(screen in %s)",
	             have, open ? "open" : "closed", expected, text, composing ? "open" : "closed",
	             dump);
}

/* Pixels in the page area below the field that are not page background. */
static int pixels_below_field(struct session_proc *p)
{
	int n = 0;
	for (int y = oy + BELOW_Y0; y < oy + BELOW_Y1; y += 2)
		for (int x = ox; x < ox + BELOW_X1; x += 2)
			n += session_pixel(p, x, y) != WHITE;
	return n;
}

static void png(const char *ppm, const char *out)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "convert %s %s 2>/dev/null", ppm, out);
	if (system(cmd) != 0)
		fprintf(stderr, "ime: could not convert %s to PNG\n", ppm);
}

START_TEST(config_and_key_mapping)
{
	char dir[] = "/tmp/shoji-ime-config-XXXXXX", path[256], text[4096];
	struct stat st;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(ime_write_config(dir), 0);

	snprintf(path, sizeof(path), "%s/.config/fcitx5/profile", dir);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	/* Direct input (keyboard-jp) first, then Mozc. */
	char *kb = strstr(text, "[Groups/0/Items/0]\nName=keyboard-jp\n");
	char *mozc = strstr(text, "[Groups/0/Items/1]\nName=mozc\n");
	ck_assert_msg(kb && mozc && kb < mozc, "profile: %s", text);
	ck_assert_ptr_nonnull(strstr(text, "Default Layout=jp\n"));

	snprintf(path, sizeof(path), "%s/.config/fcitx5/config", dir);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	ck_assert_ptr_nonnull(strstr(text, "[Hotkey/TriggerKeys]\n0=Zenkaku_Hankaku\n\n"));
	ck_assert_ptr_nonnull(strstr(text, "[Hotkey/AltTriggerKeys]\n\n"));
	ck_assert_ptr_nonnull(strstr(text, "ActiveByDefault=False\n"));
	ck_assert_ptr_nonnull(strstr(text, "PreloadInputMethod=False\n"));

	snprintf(path, sizeof(path), "%s/.config/mozc", dir);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 0777, 0700);
	remove_tree(dir);

	/* A home that cannot be written is an error, not a silent success. */
	ck_assert_int_eq(ime_write_config("/proc/self/nonexistent"), -1);

	/* The ¥ key types U+005C as on Windows; nothing else is remapped. */
	ck_assert_uint_eq(ime_keysym(XK_yen), XK_backslash);
	ck_assert_uint_eq(ime_keysym(XK_backslash), XK_backslash);
	ck_assert_uint_eq(ime_keysym(XK_a), XK_a);
	ck_assert_uint_eq(ime_keysym(XK_Zenkaku_Hankaku), XK_Zenkaku_Hankaku);
	ck_assert_uint_eq(ime_keysym(0x10065e5), 0x10065e5);
}
END_TEST

START_TEST(nihongo_converts_to_kanji)
{
	start();
	ck_assert_int_lt(pixels_below_field(&sp), 50);
	tap(&sp, XK_Zenkaku_Hankaku);
	session_type(&sp, "nihongo");
	expect_value(&sp, ox, oy, "にほんご", true, "/tmp/shoji-e2e-ime-kana.ppm");
	tap(&sp, XK_space);
	expect_value(&sp, ox, oy, "日本語", true, "/tmp/shoji-e2e-ime-convert.ppm");
	/* Space again opens the candidate window on the next candidate; Up goes back. */
	tap(&sp, XK_space);
	tap(&sp, XK_Up);
	expect_value(&sp, ox, oy, "日本語", true, "/tmp/shoji-e2e-ime-candidates.ppm");
	int candidates = 0;
	for (int i = 0; i < 100 && candidates <= 500; i++) {
		session_pump(&sp, 100);
		candidates = pixels_below_field(&sp);
	}
	session_dump_ppm(&sp, "/tmp/shoji-e2e-ime-candidates.ppm");
	png("/tmp/shoji-e2e-ime-candidates.ppm", "/tmp/shoji-e2e-ime-candidates.png");
	ck_assert_msg(candidates > 500,
	              "no candidate window below the field (%d pixels; "
	              "/tmp/shoji-e2e-ime-candidates.png)",
	              candidates);
	tap(&sp, XK_Return);
	expect_value(&sp, ox, oy, "日本語", false, "/tmp/shoji-e2e-ime-commit.ppm");
	bool gone = false;
	for (int i = 0; i < 50 && !gone; i++) {
		session_pump(&sp, 100);
		gone = pixels_below_field(&sp) < 50;
	}
	ck_assert_msg(gone, "the candidate window stayed after the commit");
	finish();
}
END_TEST

START_TEST(f7_converts_to_katakana)
{
	start();
	tap(&sp, XK_Zenkaku_Hankaku);
	session_type(&sp, "katakana");
	tap(&sp, XK_F7);
	expect_value(&sp, ox, oy, "カタカナ", true, "/tmp/shoji-e2e-ime-f7.ppm");
	tap(&sp, XK_Return);
	expect_value(&sp, ox, oy, "カタカナ", false, "/tmp/shoji-e2e-ime-f7.ppm");
	/* 半角/全角 again: back to direct input. */
	tap(&sp, XK_Zenkaku_Hankaku);
	session_type(&sp, "ok");
	expect_value(&sp, ox, oy, "カタカナok", false, "/tmp/shoji-e2e-ime-direct.ppm");
	finish();
}
END_TEST

START_TEST(unicode_bypasses_the_ime)
{
	start();
	tap(&sp, XK_Zenkaku_Hankaku);
	/* Japanese mode is on, yet text sent as Unicode goes in as it is. */
	unicode(&sp, 'a');
	unicode(&sp, 0x65e5); /* 日 */
	unicode(&sp, ' ');
	expect_value(&sp, ox, oy, "a日 ", false, "/tmp/shoji-e2e-ime-unicode.ppm");
	ck_assert_msg(session_pixel(&sp, ox + STATE_X, oy + STATE_Y) == GREY,
	              "Unicode text went through a composition");
	/* Keys still compose. */
	session_type(&sp, "ka");
	expect_value(&sp, ox, oy, "a日 か", true, "/tmp/shoji-e2e-ime-unicode.ppm");
	tap(&sp, XK_Return);
	expect_value(&sp, ox, oy, "a日 か", false, "/tmp/shoji-e2e-ime-unicode.ppm");
	finish();
}
END_TEST

/*
 * The ¥ key (XK_yen from a VNC viewer) and the ろ key (XK_backslash) type
 * U+005C in direct input, as on Windows; in Japanese mode Mozc makes either
 * the full-width yen sign U+FFE5 (two or more in a row stay "\\", Mozc's
 * rule for paths). U+00A5 itself still arrives as Unicode.
 */
START_TEST(yen_and_ro_keys_over_vnc)
{
	start();
	tap(&sp, XK_yen);
	tap(&sp, XK_backslash);
	unicode(&sp, 0xa5);
	expect_value(&sp, ox, oy, "\\\\¥", false, "/tmp/shoji-e2e-ime-yen.ppm");
	tap(&sp, XK_Zenkaku_Hankaku);
	tap(&sp, XK_yen);
	expect_value(&sp, ox, oy, "\\\\¥￥", true, "/tmp/shoji-e2e-ime-yen.ppm");
	tap(&sp, XK_Return);
	tap(&sp, XK_backslash);
	expect_value(&sp, ox, oy, "\\\\¥￥￥", true, "/tmp/shoji-e2e-ime-yen.ppm");
	tap(&sp, XK_Return);
	expect_value(&sp, ox, oy, "\\\\¥￥￥", false, "/tmp/shoji-e2e-ime-yen.ppm");
	finish();
}
END_TEST

/* A key by scancode only, as RDP sends it. */
static void tap_scancode(struct session_proc *p, uint32_t scancode)
{
	struct pixlink_msg m = {.type = PIXLINK_KEY};
	m.u.key = (struct pixlink_key){.scancode = scancode, .down = true};
	session_send(p, &m);
	m.u.key.down = false;
	session_send(p, &m);
	session_pump(p, 40);
}

/* The same over RDP: scancodes 0x7d (¥) and 0x73 (ろ), Shift+ろ, and 0x29 (半角/全角). */
START_TEST(yen_and_ro_keys_over_rdp)
{
	start();
	tap_scancode(&sp, 0x7d);
	tap_scancode(&sp, 0x73);
	session_key(&sp, XK_Shift_L, true);
	tap_scancode(&sp, 0x73);
	session_key(&sp, XK_Shift_L, false);
	expect_value(&sp, ox, oy, "\\\\_", false, "/tmp/shoji-e2e-ime-yen-rdp.ppm");
	tap_scancode(&sp, 0x29);
	tap_scancode(&sp, 0x7d);
	expect_value(&sp, ox, oy, "\\\\_￥", true, "/tmp/shoji-e2e-ime-yen-rdp.ppm");
	tap_scancode(&sp, 0x1c); /* Enter */
	tap_scancode(&sp, 0x73);
	tap_scancode(&sp, 0x1c);
	expect_value(&sp, ox, oy, "\\\\_￥￥", false, "/tmp/shoji-e2e-ime-yen-rdp.ppm");
	finish();
}
END_TEST

/*
 * A viewer on a US keyboard holds Shift for "@", "^" and ":", which the
 * session's Japanese layout has on unshifted keys; one on a Japanese
 * keyboard holds it for "=" and "'" and "`". Both get the character whose
 * keysym they sent.
 */
START_TEST(symbols_from_any_keyboard)
{
	static const uint32_t us_shifted[] = {XK_at, XK_asciicircum, XK_colon, XK_plus};
	static const uint32_t jp_shifted[] = {XK_equal, XK_apostrophe, XK_grave, XK_bar};

	start();
	session_key(&sp, XK_Shift_L, true);
	for (size_t i = 0; i < ARRAY_SIZE(us_shifted); i++)
		tap(&sp, us_shifted[i]);
	for (size_t i = 0; i < ARRAY_SIZE(jp_shifted); i++)
		tap(&sp, jp_shifted[i]);
	tap(&sp, XK_A);
	session_key(&sp, XK_Shift_L, false);
	expect_value(&sp, ox, oy, "@^:+='`|A", false, "/tmp/shoji-e2e-ime-symbols.ppm");
	finish();
}
END_TEST

/* The pid of the session's fcitx5 (by name, in the session's cgroup), or -1. */
static pid_t find_fcitx5(const struct session_proc *p)
{
	char needle[64], path[300], line[512];
	pid_t found = -1;

	snprintf(needle, sizeof(needle), "/shoji/%s\n", p->session);
	DIR *d = opendir("/proc");
	struct dirent *de;
	while (d && found < 0 && (de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
		FILE *f = fopen(path, "r");
		bool named = f && fgets(line, sizeof(line), f) && strcmp(line, "fcitx5\n") == 0;
		if (f)
			fclose(f);
		snprintf(path, sizeof(path), "/proc/%s/cgroup", de->d_name);
		f = named ? fopen(path, "r") : NULL;
		while (f && found < 0 && fgets(line, sizeof(line), f))
			if (strstr(line, needle))
				found = atoi(de->d_name);
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	return found;
}

/*
 * fcitx5 killed: the session starts it again and the browser finds it.
 * The new fcitx5 loads the keyboard map afresh; a character typed as
 * Unicode before (bound to a spare keycode) still types after.
 */
START_TEST(ime_comes_back_after_a_crash)
{
	start();
	unicode(&sp, 0x65e5); /* 日: no key has it */
	expect_value(&sp, ox, oy, "日", false, "/tmp/shoji-e2e-ime-restart.ppm");
	pid_t old = find_fcitx5(&sp);
	ck_assert_msg(old > 0, "no fcitx5 in session %s", sp.session);
	ck_assert_int_eq(kill(old, SIGKILL), 0);
	ck_assert_msg(session_log_has(&sp, "fcitx5 started again", 10000),
	              "fcitx5 was not restarted (%s)", sp.log_path);
	/* The log line comes at the spawn: the new process may not have its name yet. */
	pid_t now = find_fcitx5(&sp);
	for (int i = 0; i < 100 && (now <= 0 || now == old); i++) {
		session_pump(&sp, 100);
		now = find_fcitx5(&sp);
	}
	ck_assert_msg(now > 0 && now != old, "fcitx5: was %d, now %d", (int)old, (int)now);
	session_pump(&sp, 2000); /* the browser's GTK module finds it on the bus again */
	tap(&sp, XK_Zenkaku_Hankaku);
	session_type(&sp, "ka");
	expect_value(&sp, ox, oy, "日か", true, "/tmp/shoji-e2e-ime-restart.ppm");
	tap(&sp, XK_Return);
	expect_value(&sp, ox, oy, "日か", false, "/tmp/shoji-e2e-ime-restart.ppm");
	unicode(&sp, 0x65e5);
	expect_value(&sp, ox, oy, "日か日", false, "/tmp/shoji-e2e-ime-restart.ppm");
	finish();
}
END_TEST

/* In a child process: session B must start in direct input. 0 if it did. */
static int second_session(void)
{
	struct session_proc b;
	int x, y;

	if (!start_page(&b, &x, &y))
		return 1;
	session_click(&b, x + FIELD_X, y + FIELD_Y);
	session_pump(&b, 300);
	session_type(&b, "ka");
	uint32_t got[STRIP_MAX];
	bool direct = false;
	for (int i = 0; i < 100 && !direct; i++) {
		session_pump(&b, 100);
		direct = read_value(&b, x, y, got) == 2 && got[0] == 'k' && got[1] == 'a' &&
		         session_pixel(&b, x + STATE_X, y + STATE_Y) != ORANGE;
	}
	if (!direct)
		session_dump_ppm(&b, "/tmp/shoji-e2e-ime-second.ppm");
	session_stop(&b, 15000);
	remove_tree(b.root);
	return direct ? 0 : 1;
}

START_TEST(sessions_have_their_own_input_state)
{
	int status;

	start();
	tap(&sp, XK_Zenkaku_Hankaku);
	session_type(&sp, "ka");
	expect_value(&sp, ox, oy, "か", true, "/tmp/shoji-e2e-ime-first.ppm");
	/* A second session (its own uid, from its own process) while A composes. */
	pid_t child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0)
		_exit(second_session());
	while (waitpid(child, &status, WNOHANG) != child)
		session_pump(&sp, 100);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	              "the second session did not start in direct input "
	              "(/tmp/shoji-e2e-ime-second.ppm)");
	/* A is still in Japanese mode, its composition intact. */
	session_type(&sp, "ni");
	tap(&sp, XK_Return);
	expect_value(&sp, ox, oy, "かに", false, "/tmp/shoji-e2e-ime-first.ppm");
	finish();
}
END_TEST

/* [browser] locale = ja (the default) and timezone = Asia/Tokyo reach the browser. */
START_TEST(japanese_browser)
{
	uint64_t t0 = now_ms();
	ck_assert_int_eq(http_server_start(&pages, SHOJI_SRCDIR "/tests/pages"), 0);
	ck_assert_msg(start_page(&sp, &ox, &oy),
	              "ime.html never appeared (screen in /tmp/shoji-e2e-ime-nopage.ppm)");
	uint64_t t1 = now_ms();
	fprintf(stderr, "ime: session start to page shown: %llu ms\n",
	        (unsigned long long)(t1 - t0));
	ck_assert_msg(session_wait_pixel(&sp, ox + LANG_X, oy + STATE_Y, OK_GREEN, 8, 10000),
	              "navigator.language is not \"ja\"");
	ck_assert_msg(session_wait_pixel(&sp, ox + TZ_X, oy + STATE_Y, OK_GREEN, 8, 10000),
	              "the time zone is not Asia/Tokyo");
	/* For a person to look at: the new tab page and the browser's menu. */
	session_key(&sp, XK_Control_L, true);
	tap(&sp, XK_t);
	session_key(&sp, XK_Control_L, false);
	session_pump(&sp, 3000);
	session_dump_ppm(&sp, "/tmp/shoji-e2e-ime-newtab.ppm");
	png("/tmp/shoji-e2e-ime-newtab.ppm", "/tmp/shoji-e2e-ime-newtab.png");
	session_key(&sp, XK_Alt_L, true);
	tap(&sp, XK_f);
	session_key(&sp, XK_Alt_L, false);
	session_pump(&sp, 2000);
	session_dump_ppm(&sp, "/tmp/shoji-e2e-ime-menu.ppm");
	png("/tmp/shoji-e2e-ime-menu.ppm", "/tmp/shoji-e2e-ime-menu.png");
	finish();
}
END_TEST

Suite *suite_ime(void)
{
	Suite *s = suite_create("ime");
	TCase *unit = tcase_create("ime_config");
	tcase_add_test(unit, config_and_key_mapping);
	suite_add_tcase(s, unit);
	TCase *tc = tcase_create("ime");
	tcase_set_timeout(tc, 180);
	if (geteuid() != 0) {
		fprintf(stderr,
		        "ime: session tests skipped, they need root for the session's uid\n");
		suite_add_tcase(s, tc);
		return s;
	}
	tcase_add_test(tc, japanese_browser);
	tcase_add_test(tc, nihongo_converts_to_kanji);
	tcase_add_test(tc, f7_converts_to_katakana);
	tcase_add_test(tc, unicode_bypasses_the_ime);
	tcase_add_test(tc, yen_and_ro_keys_over_vnc);
	tcase_add_test(tc, yen_and_ro_keys_over_rdp);
	tcase_add_test(tc, symbols_from_any_keyboard);
	tcase_add_test(tc, ime_comes_back_after_a_crash);
	tcase_add_test(tc, sessions_have_their_own_input_state);
	suite_add_tcase(s, tc);
	return s;
}
