/*
 * End to end with the viewer a user runs: TigerVNC's vncviewer, under an
 * Xvfb of its own, logs in to a real shojid with VeNCrypt X509Plain; a
 * screenshot of that X display must show the test page (red and green
 * blocks of 200x150 side by side), and a click and typing through the
 * viewer must reach the page. With the clipboard policy open, Japanese
 * text put on the viewer's X clipboard (xclip) is pasted into the page,
 * and the page's text copied back reaches the viewer's X clipboard, over
 * TigerVNC's extended (UTF-8) clipboard. The last screenshot is kept as
 * /tmp/shoji-e2e-vncviewer.png for a person to look at. Needs root, Xvfb,
 * vncviewer, xdotool and ImageMagick's import (and xclip for the
 * clipboard); skipped without them.
 */
#include "autoconfig.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "util.h"
#include "xscreen.h"

Suite *suite_vncviewer(void);

#define SCREEN_W 1600
#define SCREEN_H 1000
#define COLOUR_TOL 24 /* the viewer may pick a lossy encoding at first */
#define PASSWORD "viewer-password-1"
#define PNG_PATH "/tmp/shoji-e2e-vncviewer.png"

static struct shojid_proc d;

static char *path_of(const char *name, char *buf, size_t len)
{
	return shojid_path(&d, name, buf, len);
}

static pid_t spawn(char *const argv[], char *const env[], const char *log_name)
{
	char log[160];

	return xscreen_spawn(argv, env, path_of(log_name, log, sizeof(log)));
}

static int run(char *const argv[], char *const env[], const char *log_name)
{
	char log[160];

	return xscreen_run(argv, env, path_of(log_name, log, sizeof(log)));
}

static bool screenshot(int display, struct xscreen_image *img)
{
	char ppm[160], log[160];

	return xscreen_shot(display, path_of("screen.ppm", ppm, sizeof(ppm)),
	                    path_of("import.log", log, sizeof(log)), img);
}

/* Screenshots until the page is found; its red corner in *x, *y. */
static bool wait_screen(int display, struct xscreen_image *img, int *x, int *y, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;

	do {
		if (screenshot(display, img) && xscreen_find_page(img, COLOUR_TOL, x, y))
			return true;
		usleep(500000);
	} while (now_ms() < end);
	return false;
}

static bool wait_pixel(int display, struct xscreen_image *img, int px, int py, uint32_t want,
                       int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;

	do {
		if (screenshot(display, img) &&
		    xscreen_near(xscreen_pixel(img, px, py), want, COLOUR_TOL))
			return true;
		usleep(500000);
	} while (now_ms() < end);
	return false;
}

static void keep_png(void)
{
	char ppm[160];
	char *argv[] = {"convert", path_of("screen.ppm", ppm, sizeof(ppm)), PNG_PATH, NULL};

	if (run(argv, NULL, "convert.log") != 0)
		fprintf(stderr, "vncviewer: could not write %s\n", PNG_PATH);
}

/*
 * xdotool on the viewer's display: a click at x, y, then, if text is not
 * NULL, keyboard focus to the viewer's window (what a window manager would
 * do on the click) and the text typed.
 */
static int xdotool(int display, int x, int y, const char *text)
{
	char env_display[32], xs[16], ys[16];

	snprintf(env_display, sizeof(env_display), "DISPLAY=:%d", display);
	snprintf(xs, sizeof(xs), "%d", x);
	snprintf(ys, sizeof(ys), "%d", y);
	char *env[] = {env_display, NULL};
	char *click[] = {"xdotool", "mousemove", xs, ys, "click", "1", NULL};
	char *type[] = {"xdotool", "search", "--name",     "TigerVNC", "windowfocus",
	                "--sync",  "%1",     "sleep",      "0.3",      "type",
	                "--delay", "50",     (char *)text, NULL};
	if (run(click, env, "xdotool.log") != 0)
		return -1;
	return text ? run(type, env, "xdotool.log") : 0;
}

/* xdotool on the viewer's display: keyboard focus to the viewer's window, then args. */
static int xdotool_focused(int display, char *const args[])
{
	char env_display[32];
	char *argv[24] = {"xdotool", "search", "--name", "TigerVNC", "windowfocus",
	                  "--sync",  "%1",     "sleep",  "0.3"};
	size_t n = 9;

	for (size_t i = 0; args[i] && n < ARRAY_SIZE(argv) - 1; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	snprintf(env_display, sizeof(env_display), "DISPLAY=:%d", display);
	char *env[] = {env_display, NULL};
	return run(argv, env, "xdotool.log");
}

struct tigervnc {
	int display;
	pid_t xvfb, viewer;
	int x, y; /* the page's red corner on the viewer's display */
	struct xscreen_image img;
};

/* shojid with extra_ini, an Xvfb, vncviewer logged in as demo and showing the page. */
static void tigervnc_start(struct tigervnc *t, const char *extra_ini)
{
	char env_display[32], env_home[160], env_user[] = "VNC_USERNAME=demo",
	                                     env_pw[] = "VNC_PASSWORD=" PASSWORD, target[64];

	memset(t, 0, sizeof(*t));
	t->xvfb = t->viewer = -1;
	ck_assert_msg(shojid_setup(&d, extra_ini) == 0, "harness setup failed (%s)", d.root);
	fprintf(stderr, "vncviewer: test files in %s\n", d.root);
	ck_assert_int_eq(shojid_add_user(&d, "demo", PASSWORD), 0);
	ck_assert_msg(shojid_launch(&d, 90000) == 0, "shojid did not get ready (%s)", d.log_path);
	char xvfb_log[160];
	t->display = xscreen_start_xvfb(SCREEN_W, SCREEN_H,
	                                path_of("xvfb.log", xvfb_log, sizeof(xvfb_log)), &t->xvfb);
	ck_assert_msg(t->display > 0, "no Xvfb display could be started (%s/xvfb.log)", d.root);

	snprintf(env_display, sizeof(env_display), "DISPLAY=:%d", t->display);
	snprintf(env_home, sizeof(env_home), "HOME=%s/home", d.root);
	mkdir(env_home + 5, 0700);
	snprintf(target, sizeof(target), "127.0.0.1::%d", d.port);
	char *env[] = {env_display, env_home, env_user, env_pw, NULL};
	char *argv[] = {"vncviewer", "-SecurityTypes", "X509Plain", "-X509CA",
	                d.ca_path,   target,           NULL};
	t->viewer = spawn(argv, env, "vncviewer.log");
	ck_assert_int_gt(t->viewer, 0);
	ck_assert_msg(
	    shojid_audit_wait(&d, "\"event\":\"session_attach\"", "\"user\":\"demo\"", NULL, 30000),
	    "vncviewer did not log in (%s/vncviewer.log, %s)", d.root, d.log_path);
	ck_assert(audit_has(d.audit_path, "\"event\":\"tls\"", NULL, NULL));

	bool shown = wait_screen(t->display, &t->img, &t->x, &t->y, 60000);
	keep_png();
	ck_assert_msg(shown, "the page is not on the viewer's screen (see %s)", PNG_PATH);
	fprintf(stderr, "vncviewer: page at %d,%d of the viewer's display; screenshot %s\n", t->x,
	        t->y, PNG_PATH);
}

static void tigervnc_stop(struct tigervnc *t)
{
	xscreen_end(t->viewer);
	ck_assert(shojid_audit_wait(&d, "\"event\":\"session_detach\"", "\"user\":\"demo\"", NULL,
	                            10000));
	xscreen_end(t->xvfb);
	xscreen_image_free(&t->img);
	int rc = shojid_stop(&d, 30000);
	ck_assert_msg(rc == 0, "shojid exited with %d (%s)", rc, d.log_path);
	shojid_cleanup(&d);
}

START_TEST(tigervnc_shows_the_page)
{
	struct tigervnc t;

	tigervnc_start(&t, NULL);
	/* Input through the real viewer reaches the page: a click turns blue to
	 * yellow, "shoji" typed into the field turns grey to cyan. Blue, not
	 * navy: the page's script has put its handlers in place. */
	ck_assert_msg(wait_pixel(t.display, &t.img, t.x + 200, t.y + 200, 0x0000ff, 30000),
	              "the page's script never ran (see %s)", PNG_PATH);
	ck_assert_int_eq(xdotool(t.display, t.x + 200, t.y + 200, NULL), 0);
	bool clicked = wait_pixel(t.display, &t.img, t.x + 350, t.y + 230, 0xffff00, 20000);
	keep_png();
	ck_assert_msg(clicked, "a click in vncviewer did not reach the page (see %s)", PNG_PATH);
	ck_assert_int_eq(xdotool(t.display, t.x + 520, t.y + 25, "shoji"), 0);
	bool typed = wait_pixel(t.display, &t.img, t.x + 200, t.y + 300, 0x00ffff, 20000);
	keep_png();
	ck_assert_msg(typed, "typing in vncviewer did not reach the page (see %s)", PNG_PATH);
	tigervnc_stop(&t);
}
END_TEST

/* The viewer display's X CLIPBOARD becomes text (xclip serves it from then on). */
static int xclip_set(int display, const char *text)
{
	char env_display[32], file[160];

	FILE *f = fopen(path_of("clip-in.txt", file, sizeof(file)), "w");
	if (!f)
		return -1;
	bool ok = fputs(text, f) >= 0;
	if (fclose(f) != 0 || !ok)
		return -1;
	snprintf(env_display, sizeof(env_display), "DISPLAY=:%d", display);
	char *env[] = {env_display, NULL};
	char *argv[] = {"xclip", "-selection", "clipboard", "-t", "UTF8_STRING", "-i", file, NULL};
	return run(argv, env, "xclip.log");
}

/* The viewer display's X CLIPBOARD as UTF-8 into buf; false if there is none. */
static bool xclip_get(int display, char *buf, size_t len)
{
	char env_display[32], file[160];

	path_of("clip-out.txt", file, sizeof(file));
	unlink(file);
	snprintf(env_display, sizeof(env_display), "DISPLAY=:%d", display);
	char *env[] = {env_display, NULL};
	char *argv[] = {"xclip", "-selection", "clipboard", "-t", "UTF8_STRING", "-o", NULL};
	buf[0] = '\0';
	if (xscreen_run(argv, env, file) != 0)
		return false;
	int fd = open(file, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, len - 1) : -1;
	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return n > 0;
}

START_TEST(tigervnc_clipboard_japanese)
{
	static const char jp[] = "日本語のテキスト", back[] = "日本語のテキストOK";
	char got[256] = "";
	struct tigervnc t;

	tigervnc_start(&t, "[policy]\nclipboard_to_browser = text\nclipboard_to_terminal = text\n");
	/* The viewer's clipboard, announced when the viewer has the focus. */
	ck_assert_int_eq(xclip_set(t.display, jp), 0);
	ck_assert_int_eq(xdotool(t.display, t.x + 520, t.y + 25, NULL), 0);
	char *focus[] = {NULL};
	ck_assert_int_eq(xdotool_focused(t.display, focus), 0);
	ck_assert_msg(shojid_audit_wait(&d, "\"direction\":\"to_browser\"", "\"bytes\":24",
	                                "\"allowed\":true", 30000),
	              "vncviewer's clipboard did not reach shojid (%s/vncviewer.log, %s)", d.root,
	              d.log_path);

	/* Paste it into the field, add "OK" at its end, copy the field: it comes back. */
	char *paste[] = {"key", "--delay", "200", "ctrl+a", "ctrl+v", NULL};
	ck_assert_int_eq(xdotool_focused(t.display, paste), 0);
	usleep(1000000);
	ck_assert_int_eq(xdotool(t.display, t.x + 610, t.y + 25, "OK"), 0);
	usleep(1000000);
	char *copy[] = {"key", "--delay", "200", "ctrl+a", "ctrl+c", NULL};
	ck_assert_int_eq(xdotool_focused(t.display, copy), 0);
	uint64_t end = now_ms() + 30000;
	while (!(xclip_get(t.display, got, sizeof(got)) && strcmp(got, back) == 0) &&
	       now_ms() < end)
		usleep(500000);
	screenshot(t.display, &t.img);
	keep_png();
	ck_assert_msg(strcmp(got, back) == 0, "the viewer's clipboard holds \"%s\" (screen %s, %s)",
	              got, PNG_PATH, d.log_path);
	ck_assert(shojid_audit_wait(&d, "\"direction\":\"to_terminal\"", "\"bytes\":26",
	                            "\"allowed\":true", 10000));
	ck_assert_int_eq(shojid_audit_count(&d, "日本語", NULL), 0);
	tigervnc_stop(&t);
}
END_TEST

Suite *suite_vncviewer(void)
{
	static const char *const progs[] = {"Xvfb", "vncviewer", "import", "convert", "xdotool"};
	Suite *s = suite_create("vncviewer");
	TCase *tc = tcase_create("vncviewer");

	tcase_set_timeout(tc, 240);
	suite_add_tcase(s, tc);
	if (geteuid() != 0) {
		fprintf(stderr,
		        "vncviewer: skipped, shojid needs root to give sessions their own uid\n");
		return s;
	}
	for (size_t i = 0; i < ARRAY_SIZE(progs); i++)
		if (!xscreen_have(progs[i])) {
			fprintf(stderr, "vncviewer: skipped, %s is not installed\n", progs[i]);
			return s;
		}
	tcase_add_test(tc, tigervnc_shows_the_page);
	if (xscreen_have("xclip"))
		tcase_add_test(tc, tigervnc_clipboard_japanese);
	else
		fprintf(stderr, "vncviewer: clipboard case skipped, xclip is not installed\n");
	return s;
}
