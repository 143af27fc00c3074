/*
 * The clipboard policy end to end over RDP, with FreeRDP's own viewer:
 * xfreerdp /clipboard under an Xvfb of its own, its X clipboard set and
 * read with xclip, keys sent with xdotool. The page (tests/pages/ime.html)
 * paints each code point of its field, so what the browser received is
 * read back from screenshots of the viewer's display. With both
 * directions text: Japanese and English text copied on the terminal is
 * pasted into the page's field, text copied in the page reaches the
 * terminal's X clipboard, clipboard_max_bytes cuts on a character
 * boundary, cliprdr is opened (audit rdp_channels) and every transfer is
 * audited with sizes only. With the default policy: cliprdr is listed by
 * the client but not opened, and nothing crosses either way (no clipboard
 * audit line at all: nothing was read). A libfreerdp-client client that
 * writes its own bytes on cliprdr: data nobody asked for, file contents,
 * locking and a format never offered are refused and audited while the
 * connection goes on; a header whose dataLen overruns its PDU ends it.
 * Needs root, Xvfb, xfreerdp, xclip, xdotool and ImageMagick; skipped
 * without.
 */
#include "autoconfig.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "harness.h"
#include "rdp_client.h"
#include "util.h"
#include "xscreen.h"

Suite *suite_rdp_clipboard(void);

#define SCREEN_W 1280
#define SCREEN_H 900
#define PASSWORD "rdp-clip-password-1"
#define RED 0xff0000
#define WHITE 0xffffff
/* ime.html, from its red block's top-left corner. */
#define STRIP_X 120
#define STRIP_CELL 10
#define FIELD_X 200
#define FIELD_Y 78
#define TOL 24
#define EXACT 2 /* code points as colours: lossless, so neighbours must differ */

static struct shojid_proc d;

struct viewer_x {
	int display;
	pid_t xvfb, xfreerdp;
	int x, y; /* the page's red block on the display */
	char env_display[32], env_home[160];
	unsigned runs; /* for log names */
	struct xscreen_image img;
};

static char *path_of(const char *name, char *buf, size_t len)
{
	return shojid_path(&d, name, buf, len);
}

static bool shot(struct viewer_x *v)
{
	char ppm[160], log[160];

	return xscreen_shot(v->display, path_of("screen.ppm", ppm, sizeof(ppm)),
	                    path_of("import.log", log, sizeof(log)), &v->img);
}

/*
 * ime.html's red block (100x50): red at both ends, not red just outside
 * (outside the image counts as not red: the page may start at 0, 0).
 */
static bool find_red_block(const struct xscreen_image *img, int *px, int *py)
{
	for (int y = 0; y + 55 < img->h; y++)
		for (int x = 0; x + 110 < img->w; x++) {
			if (!xscreen_near(xscreen_pixel(img, x, y), RED, TOL) ||
			    xscreen_near(xscreen_pixel(img, x - 1, y), RED, TOL) ||
			    xscreen_near(xscreen_pixel(img, x, y - 1), RED, TOL))
				continue;
			if (xscreen_near(xscreen_pixel(img, x + 98, y + 48), RED, TOL) &&
			    !xscreen_near(xscreen_pixel(img, x + 102, y + 5), RED, TOL) &&
			    !xscreen_near(xscreen_pixel(img, x + 5, y + 52), RED, TOL)) {
				*px = x, *py = y;
				return true;
			}
		}
	return false;
}

/* Runs a program on the viewer's display with its output in a log of its own; its status. */
static int run_x(struct viewer_x *v, char *const argv[], char *log, size_t len)
{
	char name[64];

	snprintf(name, sizeof(name), "%s-%u.log", argv[0], ++v->runs);
	path_of(name, log, len);
	char *env[] = {v->env_display, v->env_home, NULL};
	return xscreen_run(argv, env, log);
}

static void xdotool(struct viewer_x *v, char *const args[])
{
	char *argv[16] = {"xdotool"}, log[160];
	size_t n = 1;

	for (size_t i = 0; args[i] && n < ARRAY_SIZE(argv) - 1; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	ck_assert_msg(run_x(v, argv, log, sizeof(log)) == 0, "xdotool failed (%s)", log);
	usleep(150000);
}

static void keys(struct viewer_x *v, const char *combo)
{
	char *args[] = {"key", "--delay", "100", (char *)combo, NULL};
	xdotool(v, args);
}

/* Sets the viewer's X clipboard to text (xclip keeps serving it in the background). */
static void set_clipboard(struct viewer_x *v, const char *text)
{
	char file[160], log[160];
	FILE *f = fopen(path_of("clip-in.txt", file, sizeof(file)), "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	char *argv[] = {"xclip", "-selection", "clipboard", "-i", file, NULL};
	ck_assert_msg(run_x(v, argv, log, sizeof(log)) == 0, "xclip -i failed (%s)", log);
}

/* The viewer's X clipboard as UTF-8 into buf (empty if none). */
static void get_clipboard(struct viewer_x *v, char *buf, size_t len)
{
	char log[160];
	char *argv[] = {"xclip", "-selection", "clipboard", "-o", "-t", "UTF8_STRING", NULL};

	buf[0] = '\0';
	if (run_x(v, argv, log, sizeof(log)) != 0)
		return;
	FILE *f = fopen(log, "r");
	if (!f)
		return;
	size_t n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
}

static bool wait_clipboard(struct viewer_x *v, const char *want, int timeout_ms)
{
	char got[512];
	uint64_t end = now_ms() + (uint64_t)timeout_ms;

	do {
		get_clipboard(v, got, sizeof(got));
		if (!strcmp(got, want))
			return true;
		usleep(500000);
	} while (now_ms() < end);
	fprintf(stderr, "rdp_clipboard: the viewer's clipboard holds \"%s\"\n", got);
	return false;
}

/* True when the field holds exactly the n code points of want. */
static bool field_is(struct viewer_x *v, const uint32_t *want, size_t n)
{
	if (!shot(v))
		return false;
	for (size_t i = 0; i <= n; i++) {
		uint32_t c =
		    xscreen_pixel(&v->img, v->x + STRIP_X + STRIP_CELL * (int)i + 5, v->y + 5);
		if (!xscreen_near(c, i == n ? WHITE : want[i], EXACT))
			return false;
	}
	return true;
}

static bool wait_field(struct viewer_x *v, const uint32_t *want, size_t n, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;

	do {
		if (field_is(v, want, n))
			return true;
		usleep(500000);
	} while (now_ms() < end);
	return false;
}

/* shojid on ime.html with extra_ini; xfreerdp /clipboard logged in, the page shown. */
static void start(struct viewer_x *v, const char *extra_ini)
{
	char target[64], log[160];

	memset(v, 0, sizeof(*v));
	ck_assert_int_eq(shojid_setup_page(&d, extra_ini, "ime.html"), 0);
	fprintf(stderr, "rdp_clipboard: test files in %s\n", d.root);
	ck_assert_int_eq(shojid_add_user(&d, "clerk", PASSWORD), 0);
	ck_assert_msg(shojid_launch(&d, 120000) == 0, "shojid did not get ready (%s)", d.log_path);
	v->display =
	    xscreen_start_xvfb(SCREEN_W, SCREEN_H, path_of("xvfb.log", log, sizeof(log)), &v->xvfb);
	ck_assert_msg(v->display > 0, "no Xvfb display could be started (%s)", log);
	snprintf(v->env_display, sizeof(v->env_display), "DISPLAY=:%d", v->display);
	snprintf(v->env_home, sizeof(v->env_home), "HOME=%s/home", d.root);
	mkdir(v->env_home + 5, 0700);
	snprintf(target, sizeof(target), "/v:127.0.0.1:%d", d.rdp_port);
	/* The clipboard's side of xfreerdp in its log, for a person to read when a case fails. */
	char *env[] = {v->env_display, v->env_home,
	               "WLOG_FILTER=com.freerdp.client.x11.cliprdr:DEBUG,"
	               "com.freerdp.channels.cliprdr.client:DEBUG",
	               NULL};
	char *argv[] = {"xfreerdp",     target,       "/u:clerk",       "/p:" PASSWORD,
	                "/cert:ignore", "/clipboard", "/size:1024x768", NULL};
	v->xfreerdp = xscreen_spawn(argv, env, path_of("xfreerdp.log", log, sizeof(log)));
	ck_assert_int_gt(v->xfreerdp, 0);
	ck_assert_msg(shojid_audit_wait(&d, "\"event\":\"session_attach\"", "\"user\":\"clerk\"",
	                                NULL, 60000),
	              "xfreerdp did not log in (%s, %s)", log, d.log_path);
	/* Two looks 500 ms apart that agree: the login's resize may show the page elsewhere first.
	 */
	uint64_t end = now_ms() + 90000;
	bool shown = false;
	int px = -1, py = -1;
	while (!shown && now_ms() < end) {
		bool seen =
		    shot(v) && find_red_block(&v->img, &v->x, &v->y) &&
		    xscreen_near(xscreen_pixel(&v->img, v->x + STRIP_X + 5, v->y + 5), WHITE, TOL);
		shown = seen && v->x == px && v->y == py;
		px = seen ? v->x : -1;
		py = seen ? v->y : -1;
		if (!shown)
			usleep(500000);
	}
	ck_assert_msg(shown, "ime.html is not on the viewer's screen (%s)", d.root);
	/* Focus the field; keys go to the window under the pointer (no window manager). */
	char cx[16], cy[16];
	snprintf(cx, sizeof(cx), "%d", v->x + FIELD_X);
	snprintf(cy, sizeof(cy), "%d", v->y + FIELD_Y);
	char *click[] = {"mousemove", cx, cy, "click", "1", NULL};
	xdotool(v, click);
	usleep(500000);
}

static void stop(struct viewer_x *v)
{
	ck_assert_msg(waitpid(v->xfreerdp, NULL, WNOHANG) == 0, "xfreerdp ended by itself");
	xscreen_end(v->xfreerdp);
	ck_assert(shojid_audit_wait(&d, "\"event\":\"session_detach\"", "\"user\":\"clerk\"", NULL,
	                            15000));
	xscreen_end(v->xvfb);
	xscreen_image_free(&v->img);
	int rc = shojid_stop(&d, 30000);
	ck_assert_msg(rc == 0, "shojid exited with %d (%s)", rc, d.log_path);
	shojid_cleanup(&d);
}

START_TEST(xfreerdp_text_both_ways)
{
	/* 12 bytes of UTF-8; 7 UTF-16 units and the terminator. */
	static const uint32_t pasted[] = {'H', 'i', ' ', 0x65e5, 0x672c, 0x8a9e};
	/* 25 bytes: cut at 24 on a character boundary, 22 bytes (4 kanji). */
	static const uint32_t cut[] = {'0', '1', '2', '3',    '4',    '5',    '6',
	                               '7', '8', '9', 0x5ddd, 0x5d0e, 0x5e02, 0x5f79};
	struct viewer_x v;

	start(&v, "[policy]\nclipboard_to_browser = text\nclipboard_to_terminal = text\n"
	          "clipboard_max_bytes = 24\n");
	ck_assert_msg(
	    shojid_audit_wait(&d, "\"event\":\"rdp_channels\"", "listed=", ",cliprdr\"", 30000),
	    "cliprdr was not opened (%s)", d.audit_path);

	/* Terminal -> browser, Japanese and English. */
	set_clipboard(&v, "Hi 日本語");
	ck_assert_msg(shojid_audit_wait(&d, "\"event\":\"clipboard\"",
	                                "\"direction\":\"to_browser\"",
	                                "\"bytes\":12,\"allowed\":true", 30000),
	              "the terminal's text did not cross (%s)", d.audit_path);
	keys(&v, "ctrl+a");
	keys(&v, "ctrl+v");
	ck_assert_msg(wait_field(&v, pasted, ARRAY_SIZE(pasted), 30000),
	              "the page did not get the pasted text (%s/screen.ppm)", d.root);

	/* Browser -> terminal: the field, changed, selected and copied. */
	char *type[] = {"type", "--delay", "150", "ok", NULL};
	xdotool(&v, type);
	static const uint32_t typed[] = {'H', 'i', ' ', 0x65e5, 0x672c, 0x8a9e, 'o', 'k'};
	ck_assert_msg(wait_field(&v, typed, ARRAY_SIZE(typed), 30000), "typing did not arrive");
	keys(&v, "ctrl+a");
	keys(&v, "ctrl+c");
	ck_assert_msg(wait_clipboard(&v, "Hi 日本語ok", 30000),
	              "the browser's text did not reach the viewer's clipboard");
	ck_assert(shojid_audit_wait(&d, "\"event\":\"clipboard\"", "\"direction\":\"to_terminal\"",
	                            "\"offered\":14,\"bytes\":14,\"allowed\":true", 10000));

	/* Longer than clipboard_max_bytes: cut on a character boundary. */
	set_clipboard(&v, "0123456789川崎市役所");
	ck_assert_msg(shojid_audit_wait(&d, "\"event\":\"clipboard\"",
	                                "\"direction\":\"to_browser\"",
	                                "\"bytes\":22,\"allowed\":true", 30000),
	              "the long text was not cut to 22 bytes (%s)", d.audit_path);
	keys(&v, "ctrl+a");
	keys(&v, "ctrl+v");
	ck_assert_msg(wait_field(&v, cut, ARRAY_SIZE(cut), 30000),
	              "the page did not get the cut text (%s/screen.ppm)", d.root);

	/* Sizes only, never the text. */
	ck_assert_int_eq(shojid_audit_count(&d, "日本", NULL), 0);
	ck_assert_int_eq(shojid_audit_count(&d, "0123456789", NULL), 0);
	ck_assert_int_eq(shojid_audit_count(&d, "Hi ", NULL), 0);
	stop(&v);
}
END_TEST

START_TEST(xfreerdp_closed_by_default)
{
	static const uint32_t typed[] = {'a', 'b', 'c'};
	struct viewer_x v;

	start(&v, NULL);
	ck_assert(shojid_audit_wait(&d, "\"event\":\"rdp_channels\"", "cliprdr", "opened=", 30000));
	ck_assert_int_eq(
	    shojid_audit_count(&d, "\"event\":\"rdp_channels\"", "opened=none,cliprdr"), 0);
	ck_assert_int_eq(shojid_audit_count(&d, "\"event\":\"rdp_channels\"", ",cliprdr\""), 0);

	/* The terminal's text does not reach the page: Ctrl+V pastes nothing. */
	set_clipboard(&v, "zqj 日本");
	keys(&v, "ctrl+v");
	char *type[] = {"type", "--delay", "150", "abc", NULL};
	xdotool(&v, type);
	ck_assert_msg(wait_field(&v, typed, ARRAY_SIZE(typed), 30000),
	              "the field does not hold only what was typed (%s/screen.ppm)", d.root);

	/* The page's copy does not reach the terminal: its clipboard keeps its own text. */
	keys(&v, "ctrl+a");
	keys(&v, "ctrl+c");
	usleep(3000000);
	ck_assert(wait_clipboard(&v, "zqj 日本", 10000));
	/* Nothing of the clipboard was read: not even a refusal to audit. */
	ck_assert_int_eq(shojid_audit_count(&d, "\"event\":\"clipboard\"", NULL), 0);
	stop(&v);
}
END_TEST

/* A client cliprdr PDU: header (type, flags, dataLen) and body. */
static size_t pdu(uint8_t *out, uint16_t type, uint16_t flags, const void *body, uint32_t len,
                  uint32_t claimed_len)
{
	out[0] = (uint8_t)type, out[1] = (uint8_t)(type >> 8);
	out[2] = (uint8_t)flags, out[3] = (uint8_t)(flags >> 8);
	out[4] = (uint8_t)claimed_len, out[5] = (uint8_t)(claimed_len >> 8);
	out[6] = (uint8_t)(claimed_len >> 16), out[7] = (uint8_t)(claimed_len >> 24);
	memcpy(out + 8, body, len);
	return 8 + len;
}

/* Pumps c until an audit line has a and b; false if c closed or time ran out. */
static bool pump_until_audit(struct rdp_client *c, const char *a, const char *b, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;

	while (now_ms() < end) {
		if (shojid_audit_count(&d, a, b) > 0)
			return true;
		if (rdp_client_pump(c, 200) < 0)
			return false;
	}
	return false;
}

START_TEST(misuse_refused_and_audited)
{
	static const struct {
		const char *what;
		uint16_t type;
		uint8_t body[24];
		uint32_t len;
		const char *audit;
	} misuse[] = {
	    {"data nobody asked for", 5, {'x', 0, 0, 0}, 4, "clipboard data nobody asked for"},
	    {"a file contents request", 8, {1}, 24, "file contents requested"},
	    {"a lock", 10, {7}, 4, "clipboard locking"},
	    {"a request for CF_TEXT", 4, {1}, 4, "clipboard format 1 requested"},
	};
	uint8_t buf[64];

	ck_assert_int_eq(shojid_setup(&d, "[policy]\nclipboard_to_browser = text\n"
	                                  "clipboard_to_terminal = text\n"),
	                 0);
	ck_assert_int_eq(shojid_add_user(&d, "clerk", PASSWORD), 0);
	ck_assert_msg(shojid_launch(&d, 120000) == 0, "shojid did not get ready (%s)", d.log_path);
	rdp_client_log_to(d.root, "freerdp-client.log");
	struct rdp_client_options opt = {.port = d.rdp_port,
	                                 .user = "clerk",
	                                 .password = PASSWORD,
	                                 .width = 1024,
	                                 .height = 768,
	                                 .gfx = true,
	                                 .raw_cliprdr = true};
	struct rdp_client *c = rdp_client_connect(&opt);
	ck_assert_msg(c, "the RDP client could not log in (%s)", d.log_path);
	ck_assert_msg(pump_until_audit(c, "\"event\":\"rdp_channels\"", ",cliprdr\"", 60000),
	              "cliprdr was not opened (%s)", d.audit_path);
	for (size_t i = 0; i < ARRAY_SIZE(misuse); i++) {
		size_t n =
		    pdu(buf, misuse[i].type, 0, misuse[i].body, misuse[i].len, misuse[i].len);
		ck_assert_int_eq(rdp_client_send_channel(c, "cliprdr", buf, n), 0);
		ck_assert_msg(
		    pump_until_audit(c, "\"event\":\"message_refused\"", misuse[i].audit, 20000),
		    "%s was not refused and audited (%s)", misuse[i].what, d.audit_path);
	}
	ck_assert_int_eq(rdp_client_pump(c, 1000), 0); /* still connected */
	ck_assert_int_eq(shojid_audit_count(&d, "\"event\":\"clipboard\"", NULL), 0);

	/* A Format List whose dataLen runs past its PDU: FreeRDP would read on into the next. */
	size_t n = pdu(buf, 2, 0, "\x0d\0\0\0", 4, 100);
	ck_assert_int_eq(rdp_client_send_channel(c, "cliprdr", buf, n), 0);
	uint64_t end = now_ms() + 20000;
	while (rdp_client_pump(c, 100) == 0)
		ck_assert_msg(now_ms() < end,
		              "a malformed cliprdr header did not end the connection");
	ck_assert(shojid_audit_wait(&d, "\"event\":\"message_refused\"",
	                            "cliprdr: a cliprdr dataLen beyond its PDU", NULL, 10000));
	rdp_client_destroy(c);
	ck_assert(shojid_alive(&d));
	int rc = shojid_stop(&d, 30000);
	ck_assert_msg(rc == 0, "shojid exited with %d (%s)", rc, d.log_path);
	shojid_cleanup(&d);
}
END_TEST

Suite *suite_rdp_clipboard(void)
{
	static const char *const progs[] = {"Xvfb", "xfreerdp", "import", "xclip", "xdotool"};
	Suite *s = suite_create("rdp_clipboard");
	/* Cases of their own, so that one can be run alone (CK_RUN_CASE). */
	TCase *both = tcase_create("rdp_clipboard"), *closed = tcase_create("rdp_clipboard_closed"),
	      *misuse = tcase_create("rdp_clipboard_misuse");
	TCase *all[] = {both, closed, misuse};

	for (size_t i = 0; i < ARRAY_SIZE(all); i++) {
		tcase_set_timeout(all[i], 400);
		suite_add_tcase(s, all[i]);
	}
	if (geteuid() != 0) {
		fprintf(stderr, "rdp_clipboard: skipped, needs root\n");
		return s;
	}
	tcase_add_test(misuse, misuse_refused_and_audited);
	for (size_t i = 0; i < ARRAY_SIZE(progs); i++) {
		if (!xscreen_have(progs[i])) {
			fprintf(stderr,
			        "rdp_clipboard: xfreerdp cases skipped, %s is not installed\n",
			        progs[i]);
			return s;
		}
	}
	tcase_add_test(both, xfreerdp_text_both_ways);
	tcase_add_test(closed, xfreerdp_closed_by_default);
	return s;
}
