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
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "util.h"

Suite *suite_vncviewer(void);

#define SCREEN_W 1600
#define SCREEN_H 1000
#define BLOCK_W 200
#define BLOCK_H 150
#define SIZE_TOL 2
#define COLOUR_TOL 24 /* the viewer may pick a lossy encoding at first */
#define PASSWORD "viewer-password-1"
#define PNG_PATH "/tmp/shoji-e2e-vncviewer.png"

static struct shojid_proc d;

struct image {
	int w, h;
	uint8_t *rgb;
};

/* A child with its output in log (under d.root), ended with the test at the latest. */
static pid_t spawn(char *const argv[], char *const env[], const char *log_name)
{
	char log[160];

	shojid_path(&d, log_name, log, sizeof(log));
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (out < 0 || dup2(out, STDOUT_FILENO) < 0 || dup2(out, STDERR_FILENO) < 0)
			_exit(126);
		for (char *const *e = env; e && *e; e++)
			putenv(*e);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static int run(char *const argv[], char *const env[], const char *log_name)
{
	int status;
	pid_t pid = spawn(argv, env, log_name);

	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void end_child(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (int i = 0; i < 50 && waitpid(pid, NULL, WNOHANG) == 0; i++)
		usleep(100000);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* Starts Xvfb on the first free display from :90 on; its number, or -1. */
static int start_xvfb(pid_t *pid)
{
	char disp[16], sock[64], lock[64], size[32];

	snprintf(size, sizeof(size), "%dx%dx24", SCREEN_W, SCREEN_H);
	for (int n = 90; n <= 120; n++) {
		snprintf(sock, sizeof(sock), "/tmp/.X11-unix/X%d", n);
		snprintf(lock, sizeof(lock), "/tmp/.X%d-lock", n);
		if (access(sock, F_OK) == 0 || access(lock, F_OK) == 0)
			continue;
		snprintf(disp, sizeof(disp), ":%d", n);
		char *argv[] = {"Xvfb", disp, "-screen", "0", size, "-nolisten", "tcp", NULL};
		*pid = spawn(argv, NULL, "xvfb.log");
		for (int i = 0; i < 100; i++) {
			if (access(sock, F_OK) == 0)
				return n;
			if (waitpid(*pid, NULL, WNOHANG) == *pid)
				break; /* lost a race for this display: try the next */
			usleep(100000);
		}
		end_child(*pid);
		*pid = -1;
	}
	return -1;
}

static bool read_ppm(const char *path, struct image *img)
{
	FILE *f = fopen(path, "rb");
	int max;
	size_t n;

	free(img->rgb);
	img->rgb = NULL;
	if (!f)
		return false;
	bool ok = fscanf(f, "P6 %d %d %d", &img->w, &img->h, &max) == 3 && max == 255 &&
	          img->w > 0 && img->h > 0 && img->w <= 8192 && img->h <= 8192 && fgetc(f) != EOF &&
	          ckd_mul_size(&n, (size_t)img->w * 3, (size_t)img->h);
	if (ok) {
		img->rgb = malloc(n);
		ok = img->rgb && fread(img->rgb, 1, n, f) == n;
	}
	fclose(f);
	return ok;
}

static uint32_t pixel(const struct image *img, int x, int y)
{
	if (x < 0 || y < 0 || x >= img->w || y >= img->h)
		return 0xff000000u;
	const uint8_t *p = img->rgb + ((size_t)y * (size_t)img->w + (size_t)x) * 3;
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static bool near(uint32_t a, uint32_t b)
{
	if (a & 0xff000000u)
		return false;
	for (int shift = 0; shift <= 16; shift += 8) {
		int diff = (int)((a >> shift) & 0xff) - (int)((b >> shift) & 0xff);
		if (abs(diff) > COLOUR_TOL)
			return false;
	}
	return true;
}

/* Length of the run of colour rgb from x, y in direction dx, dy. */
static int run_length(const struct image *img, int x, int y, int dx, int dy, uint32_t rgb)
{
	int n = 0;

	while (near(pixel(img, x + n * dx, y + n * dy), rgb))
		n++;
	return n;
}

static bool about(int v, int want)
{
	return abs(v - want) <= SIZE_TOL;
}

/*
 * Finds the red block with the green one right of it, both 200x150; the
 * red block's top-left corner in *x, *y.
 */
static bool find_page(const struct image *img, int *x, int *y)
{
	for (int j = 0; j < img->h; j++)
		for (int i = 0; i < img->w; i++) {
			if (!near(pixel(img, i, j), 0xff0000) ||
			    near(pixel(img, i - 1, j), 0xff0000) ||
			    near(pixel(img, i, j - 1), 0xff0000))
				continue;
			int rw = run_length(img, i, j, 1, 0, 0xff0000);
			int rh = run_length(img, i, j, 0, 1, 0xff0000);
			int gw = run_length(img, i + rw, j, 1, 0, 0x00ff00);
			int gh = run_length(img, i + rw, j, 0, 1, 0x00ff00);
			if (about(rw, BLOCK_W) && about(rh, BLOCK_H) && about(gw, BLOCK_W) &&
			    about(gh, BLOCK_H)) {
				*x = i;
				*y = j;
				return true;
			}
		}
	return false;
}

static bool screenshot(int display, struct image *img)
{
	char disp[16], path[160];

	snprintf(disp, sizeof(disp), ":%d", display);
	shojid_path(&d, "screen.ppm", path, sizeof(path));
	char *argv[] = {"import", "-display", disp, "-window", "root", "-depth", "8", path, NULL};
	return run(argv, NULL, "import.log") == 0 && read_ppm(path, img);
}

/* Screenshots until the page is found; its red corner in *x, *y. */
static bool wait_screen(int display, struct image *img, int *x, int *y, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;

	do {
		if (screenshot(display, img) && find_page(img, x, y))
			return true;
		usleep(500000);
	} while (now_ms() < end);
	return false;
}

static bool wait_pixel(int display, struct image *img, int px, int py, uint32_t want,
                       int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;

	do {
		if (screenshot(display, img) && near(pixel(img, px, py), want))
			return true;
		usleep(500000);
	} while (now_ms() < end);
	return false;
}

static void keep_png(void)
{
	char ppm[160];
	char *argv[] = {"convert", shojid_path(&d, "screen.ppm", ppm, sizeof(ppm)), PNG_PATH, NULL};

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
	struct image img = {0};
	pid_t xvfb = -1;
	int x, y;

	ck_assert_msg(shojid_setup(&d, NULL) == 0, "harness setup failed (%s)", d.root);
	fprintf(stderr, "vncviewer: test files in %s\n", d.root);
	ck_assert_int_eq(shojid_add_user(&d, "demo", PASSWORD), 0);
	ck_assert_msg(shojid_launch(&d, 90000) == 0, "shojid did not get ready (%s)", d.log_path);
	int display = start_xvfb(&xvfb);
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

	end_child(viewer);
	ck_assert(shojid_audit_wait(&d, "\"event\":\"session_detach\"", "\"user\":\"demo\"", NULL,
	                            10000));
	end_child(xvfb);
	free(img.rgb);
	int rc = shojid_stop(&d, 30000);
	ck_assert_msg(rc == 0, "shojid exited with %d (%s)", rc, d.log_path);
	shojid_cleanup(&d);
}
END_TEST

static bool have(const char *prog)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", prog);
	return system(cmd) == 0;
}

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
		if (!have(progs[i])) {
			fprintf(stderr, "vncviewer: skipped, %s is not installed\n", progs[i]);
			return s;
		}
	tcase_add_test(tc, tigervnc_shows_the_page);
	return s;
}
