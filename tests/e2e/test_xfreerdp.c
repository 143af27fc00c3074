/*
 * End to end with FreeRDP's own viewer: xfreerdp 2, under an Xvfb of its
 * own, logs in to a real shojid with a user name and password, asking for
 * everything a careless terminal would share (/drive with a file in it,
 * /clipboard, /printer, /smartcard), with its default graphics, with /gfx,
 * with /rfx and with /dynamic-resolution. Each time a screenshot of that X
 * display must show the test page; the audit log must show the channels
 * the client listed and that none but the graphics and display ones were
 * opened, with TLS enforced; and the
 * file in the shared directory must never appear in the session's files
 * (its state directory, and the private /tmp and /run of every process of
 * the session's uids, reached from outside through /proc/PID/root). The
 * screenshots are kept as /tmp/shoji-e2e-xfreerdp-VARIANT.png for a person
 * to look at. While the /gfx one is connected, xfreerdp with standard RDP
 * security and with a wrong password are refused and audited; the
 * /dynamic-resolution one has its window resized and the page follows.
 * With [rdp] nla = true, xfreerdp /sec:nla logs in over NLA.
 * Needs root, Xvfb, xfreerdp, xdotool and ImageMagick; skipped without.
 */
#include "autoconfig.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "util.h"
#include "xscreen.h"

Suite *suite_xfreerdp(void);

#define SCREEN_W 1600
#define SCREEN_H 1000
#define COLOUR_TOL 24
#define PASSWORD "xfreerdp-password-1"
#define CANARY "shoji-drive-canary.txt"
#define MAX_DEPTH 12

static struct shojid_proc d;

static char *path_of(const char *name, char *buf, size_t len)
{
	return shojid_path(&d, name, buf, len);
}

/*
 * Screenshots until the page is found, its red corner in *x, *y, and its
 * script has run (the block below is blue, not navy) and its fixed corner
 * block is in the same picture at the bottom right of a w x h desktop.
 * Chromium may paint a page it is still loading: the blocks at the top
 * before the corner block and the script.
 */
static bool wait_page(int display, struct xscreen_image *img, int w, int h, int *x, int *y,
                      int timeout_ms)
{
	char ppm[160], log[160];
	uint64_t end = now_ms() + (uint64_t)timeout_ms;

	path_of("screen.ppm", ppm, sizeof(ppm));
	path_of("import.log", log, sizeof(log));
	do {
		if (xscreen_shot(display, ppm, log, img) &&
		    xscreen_find_page(img, COLOUR_TOL, x, y) &&
		    xscreen_near(xscreen_pixel(img, *x + 200, *y + 200), 0x0000ff, COLOUR_TOL) &&
		    xscreen_near(xscreen_pixel(img, w - 30, h - 30), 0xff00ff, COLOUR_TOL))
			return true;
		usleep(500000);
	} while (now_ms() < end);
	return false;
}

static void keep_png(const char *variant)
{
	char ppm[160], log[160], png[96];

	snprintf(png, sizeof(png), "/tmp/shoji-e2e-xfreerdp-%s.png", variant);
	char *argv[] = {"convert", path_of("screen.ppm", ppm, sizeof(ppm)), png, NULL};
	if (xscreen_run(argv, NULL, path_of("convert.log", log, sizeof(log))) != 0)
		fprintf(stderr, "xfreerdp: could not write %s\n", png);
}

/* Whether a file named name is anywhere under dir (symbolic links not followed). */
static bool find_file(const char *dir, const char *name, int depth)
{
	DIR *dp = opendir(dir);
	struct dirent *e;
	bool found = false;

	if (!dp)
		return false;
	while (!found && (e = readdir(dp))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (!strcmp(e->d_name, name))
			found = true;
		else if (e->d_type == DT_DIR && depth < MAX_DEPTH) {
			char sub[4096];
			snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
			found = find_file(sub, name, depth + 1);
		}
	}
	closedir(dp);
	return found;
}

/* The [sandbox] uid_range the harness wrote into the config. */
static void uid_range(uint32_t *lo, uint32_t *hi)
{
	char line[256];
	FILE *f = fopen(d.config_path, "r");

	*lo = 1;
	*hi = 0;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "uid_range = %u-%u", lo, hi) == 2)
			break;
	if (f)
		fclose(f);
	ck_assert_msg(*lo <= *hi, "no uid_range in %s", d.config_path);
}

/* Whether the process at /proc/PID has a mount namespace other than this test's. */
static bool own_mounts(const char *proc_dir)
{
	char path[96];
	struct stat mine, its;

	snprintf(path, sizeof(path), "%s/ns/mnt", proc_dir);
	return stat("/proc/self/ns/mnt", &mine) == 0 && stat(path, &its) == 0 &&
	       mine.st_ino != its.st_ino;
}

/*
 * Whether name is in the session's files: its state directory, and the
 * private /tmp and /run of each process running under a session uid.
 */
static bool in_sandbox(const char *name)
{
	char state[160], dir[64];
	uint32_t lo, hi;
	int procs = 0;
	struct dirent *e;
	DIR *dp = opendir("/proc");

	if (find_file(path_of("state", state, sizeof(state)), name, 0))
		return true;
	uid_range(&lo, &hi);
	ck_assert_ptr_nonnull(dp);
	while ((e = readdir(dp))) {
		struct stat st;
		snprintf(dir, sizeof(dir), "/proc/%.16s", e->d_name);
		if (e->d_name[0] < '1' || e->d_name[0] > '9' || stat(dir, &st) < 0 ||
		    st.st_uid < lo || st.st_uid > hi || !own_mounts(dir))
			continue;
		procs++;
		static const char *const private[] = {"tmp", "run"};
		for (size_t i = 0; i < ARRAY_SIZE(private); i++) {
			char root[96];
			snprintf(root, sizeof(root), "%s/root/%s", dir, private[i]);
			if (find_file(root, name, 0)) {
				closedir(dp);
				return true;
			}
		}
	}
	closedir(dp);
	ck_assert_msg(procs > 0, "no sandboxed process of the session's uids %u-%u to look into",
	              lo, hi);
	return false;
}

static long audit_size(void)
{
	struct stat st;

	return stat(d.audit_path, &st) == 0 ? (long)st.st_size : 0;
}

/*
 * Every rdp_channels line of the audit log from offset from on: TLS, each
 * client channel (names) among those listed, and nothing opened but
 * drdynvc, rdpgfx and disp. How many lines there were.
 */
static int check_channel_audit(long from, const char *const names[])
{
	static const char *const allowed[] = {"none", "drdynvc", "rdpgfx", "disp"};
	char line[2048];
	int lines = 0;
	FILE *f = fopen(d.audit_path, "r");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fseek(f, from, SEEK_SET), 0);
	while (fgets(line, sizeof(line), f)) {
		if (!strstr(line, "\"event\":\"rdp_channels\""))
			continue;
		lines++;
		ck_assert_msg(strstr(line, "security=tls "), "not TLS: %s", line);
		const char *listed = strstr(line, "listed="), *opened = strstr(line, "opened=");
		ck_assert_msg(listed && opened, "no channels in %s", line);
		for (size_t i = 0; names[i]; i++) {
			const char *at = strstr(listed, names[i]);
			ck_assert_msg(at && at < opened, "%s not listed: %s", names[i], line);
		}
		char list[256];
		ck_assert_int_eq(sscanf(opened, "opened=%255[a-z,]", list), 1);
		for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save)) {
			bool ok = false;
			for (size_t i = 0; i < ARRAY_SIZE(allowed); i++)
				ok |= !strcmp(tok, allowed[i]);
			ck_assert_msg(ok, "channel %s was opened: %s", tok, line);
		}
	}
	fclose(f);
	return lines;
}

struct variant {
	const char *name;
	const char *arg;       /* NULL: xfreerdp's defaults */
	const char *opened;    /* in an rdp_channels line of its connection */
	const char *listed[5]; /* in every rdp_channels line of its connection */
	bool refusals;         /* try bad clients while this one is connected */
	bool resize;           /* resize its window: the desktop must follow */
};

/* Screenshots until the pixel at x, y is near rgb. */
static bool wait_pixel(int display, struct xscreen_image *img, int x, int y, uint32_t rgb,
                       int timeout_ms)
{
	char ppm[160], log[160];
	uint64_t end = now_ms() + (uint64_t)timeout_ms;

	path_of("screen.ppm", ppm, sizeof(ppm));
	path_of("import.log", log, sizeof(log));
	do {
		if (xscreen_shot(display, ppm, log, img) &&
		    xscreen_near(xscreen_pixel(img, x, y), rgb, COLOUR_TOL))
			return true;
		usleep(500000);
	} while (now_ms() < end);
	return false;
}

/*
 * xfreerdp /dynamic-resolution: its window made 900x700 with xdotool (no
 * window manager here), the desktop follows through Display Control; the
 * page's fixed corner block moves to the new corner.
 */
static void resize_window(int display, struct xscreen_image *img)
{
	char env_display[32], log[160];

	snprintf(env_display, sizeof(env_display), "DISPLAY=:%d", display);
	char *env[] = {env_display, NULL};
	char *argv[] = {"xdotool",    "search", "--sync", "--name", "FreeRDP",
	                "windowsize", "%1",     "900",    "700",    NULL};
	ck_assert_int_eq(xscreen_run(argv, env, path_of("xdotool.log", log, sizeof(log))), 0);
	bool moved = wait_pixel(display, img, 900 - 30, 700 - 30, 0xff00ff, 60000);
	keep_png("dynamic-resized");
	ck_assert_msg(moved, "the page did not follow the window to 900x700 "
	                     "(/tmp/shoji-e2e-xfreerdp-dynamic-resized.png)");
	ck_assert(shojid_audit_wait(&d, "\"event\":\"resize\"", "900x700", NULL, 10000));
	ck_assert(!xscreen_near(xscreen_pixel(img, 1024 - 30, 768 - 30), 0xff00ff, COLOUR_TOL));
}

/* Runs xfreerdp with args on display; it must fail (exit status not 0) within 60 s. */
static void expect_refused(int display, const char *what, char *const args[])
{
	char env_display[32], target[64], name[64], log[160];
	char *argv[16] = {"xfreerdp", target, "/cert:ignore", "/size:800x600"};
	size_t n = 4;
	int status = 0;

	snprintf(env_display, sizeof(env_display), "DISPLAY=:%d", display);
	snprintf(target, sizeof(target), "/v:127.0.0.1:%d", d.rdp_port);
	snprintf(name, sizeof(name), "xfreerdp-%s.log", what);
	for (size_t i = 0; args[i] && n < ARRAY_SIZE(argv) - 1; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	char *env[] = {env_display, NULL};
	pid_t pid = xscreen_spawn(argv, env, path_of(name, log, sizeof(log)));
	ck_assert_int_gt(pid, 0);
	uint64_t end = now_ms() + 60000;
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (now_ms() > end) {
			xscreen_end(pid);
			ck_abort_msg("xfreerdp %s is still connected after 60 s (%s)", what, log);
		}
		usleep(200000);
	}
	ck_assert_msg(!WIFEXITED(status) || WEXITSTATUS(status) != 0,
	              "xfreerdp %s exited with status 0 (%s)", what, log);
}

/*
 * Standard RDP security only and a wrong password, from xfreerdp: refused
 * and audited, while the viewer on display keeps its page.
 */
static void refusals(int display)
{
	char *rdp_only[] = {"/u:demo", "/p:" PASSWORD, "/sec:rdp", NULL};
	char *wrong[] = {"/u:demo", "/p:not-the-password", "/sec:tls", NULL};
	int refused = shojid_audit_count(&d, "\"event\":\"login_refused\"", "\"user\":\"demo\"");

	expect_refused(display, "sec-rdp", rdp_only);
	ck_assert(shojid_audit_wait(&d, "\"event\":\"rdp_request\"", "cookie=demo", "protocols=rdp",
	                            10000));
	ck_assert(shojid_audit_wait(&d, "\"event\":\"handshake_failed\"",
	                            "offers only standard RDP security", NULL, 10000));
	expect_refused(display, "wrong-password", wrong);
	ck_assert(shojid_audit_wait(&d, "\"event\":\"login_refused\"", "\"user\":\"demo\"",
	                            "wrong user name or password", 10000));
	ck_assert_int_eq(shojid_audit_count(&d, "\"event\":\"login_refused\"", "\"user\":\"demo\""),
	                 refused + 1);
}

static void run_variant(int display, const struct variant *v, int attach_before)
{
	char env_display[32], env_home[160], target[64], drive[200], canary[300], name[64],
	    log[160];
	struct xscreen_image img = {0};
	int x, y;

	snprintf(env_display, sizeof(env_display), "DISPLAY=:%d", display);
	snprintf(env_home, sizeof(env_home), "HOME=%s/home", d.root);
	mkdir(env_home + 5, 0700);
	snprintf(target, sizeof(target), "/v:127.0.0.1:%d", d.rdp_port);
	snprintf(drive, sizeof(drive), "/drive:x,%s/drive-%s", d.root, v->name);
	mkdir(drive + 9, 0755);
	snprintf(canary, sizeof(canary), "%s/%s", drive + 9, CANARY);
	FILE *f = fopen(canary, "w");
	ck_assert_ptr_nonnull(f);
	fputs("a file on the terminal that must stay there\n", f);
	fclose(f);

	char *env[] = {env_display, env_home, NULL};
	char *argv[] = {"xfreerdp",     target,       "/u:demo",  "/p:" PASSWORD, "/cert:ignore",
	                drive,          "/clipboard", "/printer", "/smartcard",   "/size:1024x768",
	                (char *)v->arg, NULL};
	snprintf(name, sizeof(name), "xfreerdp-%s.log", v->name);
	long audit_from = audit_size();
	pid_t viewer = xscreen_spawn(argv, env, path_of(name, log, sizeof(log)));
	ck_assert_int_gt(viewer, 0);
	uint64_t end = now_ms() + 60000;
	while (shojid_audit_count(&d, "\"event\":\"session_attach\"", "\"user\":\"demo\"") <=
	       attach_before) {
		ck_assert_msg(now_ms() < end && waitpid(viewer, NULL, WNOHANG) == 0,
		              "xfreerdp %s did not log in (%s, %s)", v->name, log, d.log_path);
		usleep(200000);
	}

	bool shown = wait_page(display, &img, 1024, 768, &x, &y, 60000);
	keep_png(v->name);
	ck_assert_msg(shown,
	              "xfreerdp %s: the page is not on the screen (/tmp/shoji-e2e-xfreerdp-%s.png)",
	              v->name, v->name);
	fprintf(stderr, "xfreerdp %s: page at %d,%d; screenshot /tmp/shoji-e2e-xfreerdp-%s.png\n",
	        v->name, x, y, v->name);
	/* The blue and grey blocks below, in the same picture. */
	ck_assert(xscreen_near(xscreen_pixel(&img, x + 200, y + 200), 0x0000ff, COLOUR_TOL));
	ck_assert(xscreen_near(xscreen_pixel(&img, x + 200, y + 300), 0x808080, COLOUR_TOL));
	/* The page's fixed corner block: the desktop is the 1024x768 asked for, at 0,0. */
	ck_assert(xscreen_near(xscreen_pixel(&img, 1024 - 30, 768 - 30), 0xff00ff, COLOUR_TOL));
	ck_assert(!xscreen_near(xscreen_pixel(&img, 1024 + 30, 768 - 30), 0xff00ff, COLOUR_TOL));

	ck_assert_msg(
	    shojid_audit_wait(&d, "\"event\":\"rdp_channels\"", v->opened, v->listed[0], 30000),
	    "xfreerdp %s: no rdp_channels line with %s (%s)", v->name, v->opened, d.audit_path);
	ck_assert_int_gt(check_channel_audit(audit_from, v->listed), 0);
	ck_assert_msg(!in_sandbox(CANARY), "the file shared with /drive is in the session");
	if (v->resize)
		resize_window(display, &img);
	if (v->refusals) {
		refusals(display);
		/* The good viewer was not disturbed: its page is still shown. */
		ck_assert_msg(wait_page(display, &img, v->resize ? 900 : 1024,
		                        v->resize ? 700 : 768, &x, &y, 30000),
		              "xfreerdp %s lost its page while others were refused", v->name);
		ck_assert_int_eq(shojid_audit_count(&d, "\"event\":\"session_detach\"", NULL),
		                 attach_before);
	}
	ck_assert_msg(waitpid(viewer, NULL, WNOHANG) == 0, "xfreerdp %s ended by itself (%s)",
	              v->name, log);

	xscreen_end(viewer);
	ck_assert(shojid_audit_wait(&d, "\"event\":\"session_detach\"", "\"user\":\"demo\"",
	                            "viewer disconnected", 15000));
	xscreen_image_free(&img);
}

START_TEST(xfreerdp_shows_the_page_and_shares_nothing)
{
	static const struct variant variants[] = {
	    /* name, argument, opened, listed, refusals meanwhile, window resized */
	    {"default",
	     NULL,
	     "opened=drdynvc,rdpgfx",
	     {"rdpdr", "rdpsnd", "cliprdr", "drdynvc"},
	     false,
	     false},
	    {"gfx",
	     "/gfx",
	     "opened=drdynvc,rdpgfx",
	     {"rdpdr", "rdpsnd", "cliprdr", "drdynvc"},
	     true,
	     false},
	    /* RemoteFX surface bits without the dynamic channels: bitmap updates here. */
	    {"rfx", "/rfx", "opened=none", {"rdpdr", "rdpsnd", "cliprdr"}, false, false},
	    {"dynamic",
	     "/dynamic-resolution",
	     "opened=drdynvc,rdpgfx,disp",
	     {"rdpdr", "rdpsnd", "cliprdr", "drdynvc"},
	     false,
	     true},
	};
	char log[160];
	pid_t xvfb = -1;

	ck_assert_msg(shojid_setup(&d, NULL) == 0, "harness setup failed (%s)", d.root);
	fprintf(stderr, "xfreerdp: test files in %s\n", d.root);
	ck_assert_int_eq(shojid_add_user(&d, "demo", PASSWORD), 0);
	ck_assert_msg(shojid_launch(&d, 120000) == 0, "shojid did not get ready (%s)", d.log_path);
	int display =
	    xscreen_start_xvfb(SCREEN_W, SCREEN_H, path_of("xvfb.log", log, sizeof(log)), &xvfb);
	ck_assert_msg(display > 0, "no Xvfb display could be started (%s)", log);

	for (size_t i = 0; i < ARRAY_SIZE(variants); i++)
		run_variant(display, &variants[i], (int)i);
	ck_assert_int_eq(
	    shojid_audit_count(&d, "\"event\":\"login_accepted\"", "\"user\":\"demo\""),
	    (int)ARRAY_SIZE(variants));

	xscreen_end(xvfb);
	int rc = shojid_stop(&d, 30000);
	ck_assert_msg(rc == 0, "shojid exited with %d (%s)", rc, d.log_path);
	shojid_cleanup(&d);
}
END_TEST

/*
 * [rdp] nla = true and a user with an NT hash: xfreerdp /sec:nla logs in
 * over NLA and shows the page; a wrong password fails inside NTLM and is
 * refused and audited.
 */
START_TEST(xfreerdp_over_nla)
{
	char env_display[32], env_home[160], target[64], log[160];
	char *wrong[] = {"/u:demo", "/p:not-the-password", "/sec:nla", NULL};
	struct xscreen_image img = {0};
	pid_t xvfb = -1;
	int x, y;

	ck_assert_msg(shojid_setup(&d, "[rdp]\nnla = true\n") == 0, "harness setup failed (%s)",
	              d.root);
	fprintf(stderr, "xfreerdp: NLA test files in %s\n", d.root);
	ck_assert_int_eq(shojid_add_nla_user(&d, "demo", PASSWORD), 0);
	ck_assert_msg(shojid_launch(&d, 120000) == 0, "shojid did not get ready (%s)", d.log_path);
	int display =
	    xscreen_start_xvfb(SCREEN_W, SCREEN_H, path_of("xvfb.log", log, sizeof(log)), &xvfb);
	ck_assert_msg(display > 0, "no Xvfb display could be started (%s)", log);

	snprintf(env_display, sizeof(env_display), "DISPLAY=:%d", display);
	snprintf(env_home, sizeof(env_home), "HOME=%s/home", d.root);
	mkdir(env_home + 5, 0700);
	snprintf(target, sizeof(target), "/v:127.0.0.1:%d", d.rdp_port);
	char *env[] = {env_display, env_home, NULL};
	char *argv[] = {"xfreerdp",     target,     "/u:demo",        "/p:" PASSWORD,
	                "/cert:ignore", "/sec:nla", "/size:1024x768", NULL};
	pid_t viewer = xscreen_spawn(argv, env, path_of("xfreerdp-nla.log", log, sizeof(log)));
	ck_assert_int_gt(viewer, 0);
	ck_assert_msg(
	    shojid_audit_wait(&d, "\"event\":\"session_attach\"", "\"user\":\"demo\"", NULL, 60000),
	    "xfreerdp /sec:nla did not log in (%s, %s)", log, d.log_path);
	bool shown = wait_page(display, &img, 1024, 768, &x, &y, 60000);
	keep_png("nla");
	ck_assert_msg(shown, "xfreerdp nla: the page is not on the screen "
	                     "(/tmp/shoji-e2e-xfreerdp-nla.png)");
	ck_assert(shojid_audit_wait(&d, "\"event\":\"rdp_channels\"", "security=nla", NULL, 10000));
	ck_assert(audit_has(d.audit_path, "\"event\":\"rdp_request\"", "cookie=demo", "hybrid"));
	xscreen_end(viewer);
	ck_assert(shojid_audit_wait(&d, "\"event\":\"session_detach\"", "\"user\":\"demo\"", NULL,
	                            15000));

	expect_refused(display, "nla-wrong-password", wrong);
	ck_assert(shojid_audit_wait(&d, "\"event\":\"login_refused\"", "\"user\":\"demo\"",
	                            "NLA logon failed", 15000));
	ck_assert_int_eq(shojid_audit_count(&d, "\"event\":\"login_accepted\"", NULL), 1);

	xscreen_image_free(&img);
	xscreen_end(xvfb);
	int rc = shojid_stop(&d, 30000);
	ck_assert_msg(rc == 0, "shojid exited with %d (%s)", rc, d.log_path);
	shojid_cleanup(&d);
}
END_TEST

Suite *suite_xfreerdp(void)
{
	static const char *const progs[] = {"Xvfb", "xfreerdp", "import", "convert", "xdotool"};
	Suite *s = suite_create("xfreerdp");
	TCase *tc = tcase_create("xfreerdp");

	tcase_set_timeout(tc, 400);
	suite_add_tcase(s, tc);
	if (geteuid() != 0) {
		fprintf(stderr,
		        "xfreerdp: skipped, shojid needs root to give sessions their own uid\n");
		return s;
	}
	for (size_t i = 0; i < ARRAY_SIZE(progs); i++) {
		if (!xscreen_have(progs[i])) {
			fprintf(stderr, "xfreerdp: skipped, %s is not installed\n", progs[i]);
			return s;
		}
	}
	tcase_add_test(tc, xfreerdp_shows_the_page_and_shares_nothing);
	tcase_add_test(tc, xfreerdp_over_nla);
	return s;
}
