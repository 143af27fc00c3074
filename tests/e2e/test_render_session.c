/*
 * End to end: a real shoji-render session (sandbox, X server, Chromium,
 * egress proxy, cgroup limits) driven over the real pixel link, with a
 * local HTTP server serving tests/pages. Needs root (the session gets its
 * own uid) and is skipped otherwise.
 */
#include "autoconfig.h"

#include <X11/keysym.h>
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "cgroup_limits.h"
#include "util.h"

Suite *suite_render_session(void);

#define RED 0xff0000
#define GREEN 0x00ff00
#define BLUE 0x0000ff
#define YELLOW 0xffff00
#define GREY 0x808080
#define CYAN 0x00ffff
#define MAGENTA 0xff00ff
#define ORANGE 0xff8000

static struct http_server pages;
static struct session_proc sp;

static void start(const char *extra, uint16_t w, uint16_t h)
{
	char ini[1024];

	ck_assert_int_eq(http_server_start(&pages, SHOJI_SRCDIR "/tests/pages"), 0);
	snprintf(ini, sizeof(ini),
		 "[browser]\nstart_url = http://127.0.0.1:%d/index.html\n"
		 "[egress]\nallow = 127.0.0.1:%d\n%s",
		 pages.port, pages.port, extra ? extra : "");
	ck_assert_msg(session_start(&sp, ini, w, h) == 0, "session did not start");
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

/* Finds the test page's red block: the page's origin on screen. */
static void page_origin(int *x, int *y)
{
	bool found = session_wait_color(&sp, RED, 40000, x, y);
	if (!found)
		session_dump_ppm(&sp, "/tmp/shoji-e2e-nored.ppm");
	ck_assert_msg(found, "test page never appeared (screen in /tmp/shoji-e2e-nored.ppm)");
}

static void chord(uint32_t mod, uint32_t key)
{
	session_key(&sp, mod, true);
	session_key(&sp, key, true);
	session_key(&sp, key, false);
	session_key(&sp, mod, false);
	session_pump(&sp, 100);
}

static void navigate(const char *url)
{
	chord(XK_Control_L, XK_l);
	session_pump(&sp, 300);
	session_type(&sp, url);
	session_type(&sp, "\n");
}

START_TEST(page_appears_and_reacts)
{
	int ox, oy;

	start(NULL, 1280, 800);
	page_origin(&ox, &oy);
	ck_assert_msg(session_wait_pixel(&sp, ox + 300, oy + 75, GREEN, 8, 5000), "no green block");
	ck_assert_msg(session_wait_pixel(&sp, ox + 200, oy + 200, BLUE, 8, 5000), "no blue block");
	ck_assert_uint_gt(sp.damage_count, 0);

	ck_assert_msg(
	    session_click_until(&sp, ox + 200, oy + 200, ox + 200, oy + 200, YELLOW, 10000),
	    "a click did not reach the page");

	session_click(&sp, ox + 520, oy + 25);
	session_pump(&sp, 300);
	session_type(&sp, "shoji");
	bool typed = session_wait_pixel(&sp, ox + 200, oy + 300, CYAN, 8, 10000);
	session_dump_ppm(&sp, "/tmp/shoji-e2e-typed.ppm");
	ck_assert_msg(typed, "typed text did not reach the page (/tmp/shoji-e2e-typed.ppm)");
	ck_assert_msg(session_log_has(&sp, "browser sandbox on", 20000),
		      "the log does not say the browser's own sandbox is on (%s)", sp.log_path);
	finish();
}
END_TEST

/*
 * Left alone on a local page for longer than Chromium's background fetches
 * take to start (network time, component and model downloads, all refused
 * by the egress proxy and audited), the browser asks the proxy for the
 * page's server and nothing else.
 */
START_TEST(browser_asks_for_nothing_else)
{
	int ox, oy;
	char want[64], line[1024], others[2048] = "";

	start(NULL, 1280, 800);
	page_origin(&ox, &oy);
	session_pump(&sp, 40000);
	snprintf(want, sizeof(want), "\"host\":\"127.0.0.1\",\"port\":%d,", pages.port);
	FILE *f = fopen(sp.audit_path, "r");
	ck_assert_ptr_nonnull(f);
	int requests = 0;
	while (fgets(line, sizeof(line), f)) {
		if (!strstr(line, "\"event\":\"egress\""))
			continue;
		requests++;
		if (!strstr(line, want) && strlen(others) + strlen(line) < sizeof(others))
			strcat(others, line);
	}
	fclose(f);
	ck_assert_msg(requests > 0, "the page's own request is not in the audit log");
	ck_assert_msg(others[0] == '\0', "the browser asked for other hosts:\n%s", others);
	finish();
}
END_TEST

/*
 * [browser] policies_dir: the administrator's policy files reach the
 * browser (one turns JavaScript off: index.html's <noscript> block shows),
 * but where they set a policy shoji sets (network time queries back on),
 * shoji's value wins.
 */
START_TEST(administrator_policies)
{
	char dir[] = "/tmp/shoji-e2e-policies-XXXXXX", path[128], ini[256];
	int ox, oy;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	chmod(dir, 0755);
	snprintf(path, sizeof(path), "%s/zz-site.json", dir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("{\"DefaultJavaScriptSetting\": 2, \"BrowserNetworkTimeQueriesEnabled\": true}\n", f);
	ck_assert_int_eq(fclose(f), 0);
	snprintf(path, sizeof(path), "%s/notes.txt", dir); /* not *.json: not copied */
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("{\"DefaultJavaScriptSetting\": 1}\n", f);
	ck_assert_int_eq(fclose(f), 0);
	snprintf(ini, sizeof(ini), "[browser]\npolicies_dir = %s\n", dir);
	start(ini, 1280, 800);
	page_origin(&ox, &oy);
	bool noscript = session_wait_pixel(&sp, ox + 470, oy + 200, ORANGE, 8, 20000);
	session_dump_ppm(&sp, "/tmp/shoji-e2e-policies.ppm");
	ck_assert_msg(noscript, "JavaScript still runs: the administrator's policy did not apply "
	                        "(/tmp/shoji-e2e-policies.ppm)");
	session_pump(&sp, 20000);
	ck_assert_msg(!audit_has(sp.audit_path, "\"event\":\"egress\"", "clients2.google.com", NULL),
	              "the administrator's policy overrode shoji's (network time queries)");
	finish();
	remove_tree(dir);
}
END_TEST

/*
 * The sandbox enforces [policy] on its own: clipboard text that shojid
 * sends while clipboard_to_browser is off is refused there too.
 */
START_TEST(clipboard_refused_inside_when_off)
{
	struct pixlink_msg m = { .type = PIXLINK_CLIPBOARD_IN };
	int ox, oy;

	start(NULL, 1280, 800);
	page_origin(&ox, &oy);
	m.u.clip = (struct pixlink_clipboard){ .len = 3, .text = (const uint8_t *)"qzj" };
	ck_assert_int_eq(session_send(&sp, &m), 0);
	ck_assert_msg(session_log_has(&sp, "clipboard text of 3 bytes from shojid refused: "
				      "[policy] clipboard_to_browser is off", 10000),
		      "the sandbox did not refuse clipboard text (%s)", sp.log_path);
	ck_assert(session_pump(&sp, 200) == 0);
	finish();
}
END_TEST

/* ime.html's strip of code points (see the page), from its red block. */
static bool field_is(int x, int y, const uint32_t *want, size_t n)
{
	for (size_t i = 0; i <= n; i++) {
		uint32_t c = session_pixel(&sp, x + 120 + 10 * (int)i + 5, y + 5);
		if (i == n ? c != 0xffffff : c != want[i])
			return false;
	}
	return true;
}

static bool wait_field(int x, int y, const uint32_t *want, size_t n)
{
	for (int i = 0; i < 150; i++) {
		if (field_is(x, y, want, n))
			return true;
		session_pump(&sp, 100);
	}
	return false;
}

/*
 * UTF-8 both ways through the sandbox's X selections, which VNC's Latin-1
 * cut text cannot show: the viewer's text becomes CLIPBOARD for a paste,
 * and the browser's copy comes back cut to clipboard_max_bytes on a
 * character boundary.
 */
START_TEST(clipboard_utf8_through_the_selection)
{
	static const uint32_t nihongo[] = { 0x65e5, 0x672c, 0x8a9e };
	static const uint32_t twice[] = { 0x65e5, 0x672c, 0x8a9e, 0x65e5, 0x672c, 0x8a9e };
	struct pixlink_msg m = { .type = PIXLINK_CLIPBOARD_IN };
	char url[128];
	int x, y;

	start("[policy]\nclipboard_to_browser = text\nclipboard_to_terminal = text\n"
	      "clipboard_max_bytes = 16\n",
	      1280, 800);
	page_origin(&x, &y);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/ime.html", pages.port);
	navigate(url);
	bool loaded = false;
	for (int i = 0; i < 100 && !loaded; i++) {
		session_pump(&sp, 100);
		loaded = session_wait_color(&sp, RED, 100, &x, &y) &&
			 session_pixel(&sp, x + 125, y + 5) == 0xffffff;
	}
	ck_assert_msg(loaded, "ime.html did not load");
	session_click(&sp, x + 200, y + 78);
	session_pump(&sp, 300);

	m.u.clip = (struct pixlink_clipboard){ .len = 9, .text = (const uint8_t *)"日本語" };
	ck_assert_int_eq(session_send(&sp, &m), 0);
	chord(XK_Control_L, XK_v);
	ck_assert_msg(wait_field(x, y, nihongo, 3), "the paste did not give 日本語");
	chord(XK_Control_L, XK_v);
	ck_assert_msg(wait_field(x, y, twice, 6), "the second paste did not give 日本語日本語");

	/* 18 bytes copied; 16 allowed: five whole characters (15 bytes) come out. */
	chord(XK_Control_L, XK_a);
	chord(XK_Control_L, XK_c);
	for (int i = 0; i < 100 && sp.clips == 0; i++)
		session_pump(&sp, 100);
	ck_assert_uint_eq(sp.clips, 1);
	ck_assert_str_eq(sp.clip, "日本語日本");
	finish();
}
END_TEST

START_TEST(resize_follows_viewer)
{
	start(NULL, 1280, 800);
	ck_assert_msg(session_wait_pixel(&sp, 1280 - 30, 800 - 30, MAGENTA, 8, 40000),
		      "fixed corner block not at the bottom right");
	ck_assert_int_eq(session_resize(&sp, 1024, 640), 0);
	bool moved = false;
	for (int i = 0; i < 200 && !moved; i++) {
		session_pump(&sp, 100);
		const struct pixlink_framebuffer *fb = pixlink_client_fb(sp.link);
		moved = fb->width == 1024 && fb->height == 640 &&
			session_wait_pixel(&sp, 1024 - 30, 640 - 30, MAGENTA, 8, 100);
	}
	session_dump_ppm(&sp, "/tmp/shoji-e2e-resized.ppm");
	ck_assert_msg(moved, "framebuffer or page viewport did not follow the resize");
	finish();
}
END_TEST

START_TEST(browser_restarts_when_closed)
{
	int ox, oy, x, y;

	start(NULL, 1280, 800);
	page_origin(&ox, &oy);
	chord(XK_Control_L, XK_Shift_L); /* no-op chord first: modifiers mapped */
	session_key(&sp, XK_Control_L, true);
	session_key(&sp, XK_Shift_L, true);
	session_key(&sp, XK_w, true);
	session_key(&sp, XK_w, false);
	session_key(&sp, XK_Shift_L, false);
	session_key(&sp, XK_Control_L, false);
	bool gone = false;
	for (int i = 0; i < 100 && !gone; i++) {
		session_pump(&sp, 100);
		gone = !session_wait_pixel(&sp, ox + 10, oy + 10, RED, 8, 0);
	}
	ck_assert_msg(gone, "closing the browser window did not close it");
	ck_assert_msg(session_wait_color(&sp, RED, 40000, &x, &y),
		      "the browser did not come back at the start page");
	ck_assert_uint_ge(sp.notices, 1);
	ck_assert_uint_eq(sp.last_notice, PIXLINK_NOTICE_BROWSER_RESTARTED);
	finish();
}
END_TEST

/* Every process in the session's cgroup runs as the session's uid. */
static int count_session_procs(const char *session, uint32_t uid, int *foreign)
{
	char needle[64], path[300], line[512];
	int n = 0;

	snprintf(needle, sizeof(needle), "/shoji/%s\n", session);
	*foreign = 0;
	DIR *d = opendir("/proc");
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cgroup", de->d_name);
		FILE *f = fopen(path, "r");
		bool in = false;
		while (f && fgets(line, sizeof(line), f))
			in |= strstr(line, needle) != NULL;
		if (f)
			fclose(f);
		if (!in)
			continue;
		struct stat st;
		snprintf(path, sizeof(path), "/proc/%s", de->d_name);
		if (stat(path, &st) == 0) {
			n++;
			if (st.st_uid != uid)
				(*foreign)++;
		}
	}
	closedir(d);
	return n;
}

START_TEST(sandbox_holds)
{
	int ox, oy, foreign;
	char url[128], dir[256], port[32];
	struct http_server denied;

	ck_assert_int_eq(http_server_start(&denied, SHOJI_SRCDIR "/tests/pages"), 0);
	start(NULL, 1280, 800);
	page_origin(&ox, &oy);

	int procs = count_session_procs(sp.session, sp.uid, &foreign);
	ck_assert_msg(procs >= 3, "only %d processes found in the session's cgroup", procs);
	ck_assert_msg(foreign == 0, "%d session processes do not run as uid %u", foreign, sp.uid);

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/denied.html", denied.port);
	navigate(url);
	snprintf(port, sizeof(port), "\"port\":%d", denied.port);
	bool audited = false;
	for (int i = 0; i < 100 && !audited; i++) {
		session_pump(&sp, 100);
		audited = audit_has(sp.audit_path, "\"event\":\"egress\"", port, "\"allowed\":false");
	}
	ck_assert_msg(audited, "the refused visit is not in the audit log");
	ck_assert_int_eq(http_server_requests(&denied), 0);
	snprintf(port, sizeof(port), "\"port\":%d", pages.port);
	ck_assert(audit_has(sp.audit_path, "\"event\":\"egress\"", port, "\"allowed\":true"));

	snprintf(dir, sizeof(dir), "%s/sessions/%s/home", sp.state_dir, sp.session);
	struct stat st;
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert_uint_eq(st.st_uid, sp.uid);
	ck_assert_int_eq(session_stop(&sp, 20000), 0);
	ck_assert_msg(stat(dir, &st) < 0, "the session's home survived its end");
	ck_assert_int_eq(count_session_procs(sp.session, sp.uid, &foreign), 0);
	ck_assert(audit_has(sp.audit_path, "\"event\":\"session_start\"", sp.session, NULL));
	ck_assert(audit_has(sp.audit_path, "\"event\":\"session_end\"", sp.session,
			    "\"reason\":\"closed\""));
	http_server_stop(&denied);
	finish();
}
END_TEST

START_TEST(memory_limit_stops_a_hog)
{
	int ox, oy;
	char url[128];

	start("[sandbox]\nmemory_max = 1G\n", 1280, 800);
	page_origin(&ox, &oy);
	struct limits *l = limits_open("/sys/fs/cgroup", NULL);
	ck_assert_ptr_nonnull(l);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hog.html", pages.port);
	navigate(url);
	ck_assert_msg(session_wait_color(&sp, 0x000080, 20000, &ox, &oy), "hog page did not load");
	struct limits_usage u = { 0 };
	for (int i = 0; i < 600 && u.oom_kills == 0; i++) {
		session_pump(&sp, 100);
		ck_assert_int_eq(limits_session_usage(l, sp.session, &u), 0);
		ck_assert_uint_le(u.memory_bytes, 1024ull * 1024 * 1024);
	}
	ck_assert_msg(u.oom_kills > 0, "the hog was never stopped (memory %llu bytes)",
		      (unsigned long long)u.memory_bytes);
	fprintf(stderr, "memory_limit: %llu OOM kill(s), peak %llu MiB under a 1024 MiB limit\n",
		(unsigned long long)u.oom_kills, (unsigned long long)(u.memory_peak >> 20));
	/* The session itself goes on: the link still works. */
	struct pixlink_msg ping = { .type = PIXLINK_PING, .u.seq = 7 };
	ck_assert_int_eq(session_send(&sp, &ping), 0);
	ck_assert_int_eq(session_pump(&sp, 500), 0);
	limits_close(l);
	finish();
}
END_TEST

Suite *suite_render_session(void)
{
	Suite *s = suite_create("render_session");
	TCase *tc = tcase_create("render_session");
	tcase_set_timeout(tc, 180);
	if (geteuid() != 0) {
		fprintf(stderr, "render_session: skipped, needs root for the session's own uid\n");
		suite_add_tcase(s, tc);
		return s;
	}
	tcase_add_test(tc, page_appears_and_reacts);
	tcase_add_test(tc, clipboard_refused_inside_when_off);
	tcase_add_test(tc, clipboard_utf8_through_the_selection);
	tcase_add_test(tc, resize_follows_viewer);
	tcase_add_test(tc, browser_restarts_when_closed);
	tcase_add_test(tc, sandbox_holds);
	tcase_add_test(tc, browser_asks_for_nothing_else);
	tcase_add_test(tc, administrator_policies);
	tcase_add_test(tc, memory_limit_stops_a_hog);
	suite_add_tcase(s, tc);
	return s;
}
