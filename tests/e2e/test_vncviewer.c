/*
 * End to end with the viewer a user runs: TigerVNC's vncviewer, under an
 * Xvfb of its own, logs in to a real shojid with VeNCrypt X509Plain; a
 * screenshot of that X display must show the test page (red and green
 * blocks of 200x150 side by side), and a click and typing through the
 * viewer must reach the page. The last screenshot is kept as
 * /tmp/shoji-e2e-vncviewer.png for a person to look at. Needs root, Xvfb,
 * vncviewer and ImageMagick's import; skipped without them.
 */
#include "autoconfig.h"

#include <check.h>
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

START_TEST(tigervnc_shows_the_page)
{
	char env_display[32], env_home[160], env_user[] = "VNC_USERNAME=demo",
	                                     env_pw[] = "VNC_PASSWORD=" PASSWORD, target[64];
	struct xscreen_image img = {0};
	pid_t xvfb = -1;
	int x, y;

	ck_assert_msg(shojid_setup(&d, NULL) == 0, "harness setup failed (%s)", d.root);
	fprintf(stderr, "vncviewer: test files in %s\n", d.root);
	ck_assert_int_eq(shojid_add_user(&d, "demo", PASSWORD), 0);
	ck_assert_msg(shojid_launch(&d, 90000) == 0, "shojid did not get ready (%s)", d.log_path);
	char xvfb_log[160];
	int display = xscreen_start_xvfb(SCREEN_W, SCREEN_H,
	                                 path_of("xvfb.log", xvfb_log, sizeof(xvfb_log)), &xvfb);
	ck_assert_msg(display > 0, "no Xvfb display could be started (%s/xvfb.log)", d.root);

	snprintf(env_display, sizeof(env_display), "DISPLAY=:%d", display);
	snprintf(env_home, sizeof(env_home), "HOME=%s/home", d.root);
	mkdir(env_home + 5, 0700);
	snprintf(target, sizeof(target), "127.0.0.1::%d", d.port);
	char *env[] = {env_display, env_home, env_user, env_pw, NULL};
	char *argv[] = {"vncviewer", "-SecurityTypes", "X509Plain", "-X509CA",
	                d.ca_path,   target,           NULL};
	pid_t viewer = spawn(argv, env, "vncviewer.log");
	ck_assert_int_gt(viewer, 0);
	ck_assert_msg(
	    shojid_audit_wait(&d, "\"event\":\"session_attach\"", "\"user\":\"demo\"", NULL, 30000),
	    "vncviewer did not log in (%s/vncviewer.log, %s)", d.root, d.log_path);
	ck_assert(audit_has(d.audit_path, "\"event\":\"tls\"", NULL, NULL));

	bool shown = wait_screen(display, &img, &x, &y, 60000);
	keep_png();
	ck_assert_msg(shown, "the page is not on the viewer's screen (see %s)", PNG_PATH);
	fprintf(stderr, "vncviewer: page at %d,%d of the viewer's display; screenshot %s\n", x, y,
	        PNG_PATH);

	/* Input through the real viewer reaches the page: a click turns blue to
	 * yellow, "shoji" typed into the field turns grey to cyan. */
	ck_assert_int_eq(xdotool(display, x + 200, y + 200, NULL), 0);
	bool clicked = wait_pixel(display, &img, x + 350, y + 230, 0xffff00, 20000);
	keep_png();
	ck_assert_msg(clicked, "a click in vncviewer did not reach the page (see %s)", PNG_PATH);
	ck_assert_int_eq(xdotool(display, x + 520, y + 25, "shoji"), 0);
	bool typed = wait_pixel(display, &img, x + 200, y + 300, 0x00ffff, 20000);
	keep_png();
	ck_assert_msg(typed, "typing in vncviewer did not reach the page (see %s)", PNG_PATH);

	xscreen_end(viewer);
	ck_assert(shojid_audit_wait(&d, "\"event\":\"session_detach\"", "\"user\":\"demo\"", NULL,
	                            10000));
	xscreen_end(xvfb);
	xscreen_image_free(&img);
	int rc = shojid_stop(&d, 30000);
	ck_assert_msg(rc == 0, "shojid exited with %d (%s)", rc, d.log_path);
	shojid_cleanup(&d);
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
	return s;
}
