/*
 * The viewer-side eyes of scripts/bandwidth: watches a viewer's X display
 * (an Xvfb that only the benchmark's own viewer draws on) through the
 * DAMAGE extension and XGetImage, and presses keys with XTest, the same
 * request xdotool sends. Trusts its display; handles no untrusted input.
 *
 *   bandwidth-probe count DISPLAY
 *	prints "ready" once it watches, counts screen updates until SIGTERM or
 *	SIGINT, then prints "updates N events N": an update is a burst of
 *	damage separated from the previous one by more than GAP_MS of quiet.
 *   bandwidth-probe quiet DISPLAY QUIET_MS TIMEOUT_MS
 *	waits until nothing has been drawn for QUIET_MS; prints "quiet" or
 *	"busy" (timeout) and the milliseconds waited. Exit status 0 either way.
 *   bandwidth-probe find DISPLAY RRGGBB MIN_W MIN_H TIMEOUT_MS
 *	waits until a region of colour RRGGBB (within TOLERANCE per channel)
 *	at least MIN_W x MIN_H is on the screen (rows with MIN_W such pixels);
 *	prints "x y w h" of its bounding box, exit status 0, or 1 on timeout.
 *   bandwidth-probe latency DISPLAY COUNT KEYSYM RRGGBB RRGGBB
 *	finds the block coloured with one of the two colours, moves the
 *	pointer onto it, then COUNT times: presses and releases KEYSYM and
 *	prints the milliseconds until the block's centre shows the other
 *	colour ("timeout" after TIMEOUT_MS). The page flips the colour on
 *	every keydown.
 *
 * Build: cc -O2 -o bandwidth-probe bandwidth-probe.c -lX11 -lXdamage -lXtst
 */
#define _GNU_SOURCE
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <X11/extensions/XTest.h>
#include <X11/extensions/Xdamage.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define GAP_MS 6.0           /* damage closer together than this is one update */
#define TOLERANCE 56         /* per channel; lossy encodings shift colours */
#define LAT_TIMEOUT_MS 5000  /* one key press without a flip */
#define LAT_PAUSE_MIN_MS 250 /* pause between presses, like a person typing */
#define LAT_PAUSE_SPAN_MS 250
#define LAT_BLOCK_MIN_W 200 /* the flip block is 480x240 */

struct probe {
	Display *dpy;
	Window root;
	int damage_event;
	Damage damage;
	int width, height;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static int probe_open(struct probe *p, const char *display)
{
	int error_base;

	memset(p, 0, sizeof(*p));
	p->dpy = XOpenDisplay(display);
	if (!p->dpy) {
		fprintf(stderr, "bandwidth-probe: cannot open display %s\n", display);
		return -1;
	}
	if (!XDamageQueryExtension(p->dpy, &p->damage_event, &error_base)) {
		fprintf(stderr, "bandwidth-probe: %s has no DAMAGE extension\n", display);
		goto close_display;
	}
	p->root = DefaultRootWindow(p->dpy);
	p->width = DisplayWidth(p->dpy, DefaultScreen(p->dpy));
	p->height = DisplayHeight(p->dpy, DefaultScreen(p->dpy));
	p->damage = XDamageCreate(p->dpy, p->root, XDamageReportNonEmpty);
	XSync(p->dpy, False);
	return 0;

close_display:
	XCloseDisplay(p->dpy);
	p->dpy = NULL;
	return -1;
}

static void probe_close(struct probe *p)
{
	if (!p->dpy)
		return;
	XDamageDestroy(p->dpy, p->damage);
	XCloseDisplay(p->dpy);
}

/*
 * Waits up to timeout_ms for damage; returns how many damage events were
 * read (each one re-arms the report), 0 on timeout, -1 on a signal.
 */
static int wait_damage(struct probe *p, double timeout_ms)
{
	int n = 0;

	if (XPending(p->dpy) == 0) {
		struct pollfd pfd = {.fd = ConnectionNumber(p->dpy), .events = POLLIN};
		int rc = poll(&pfd, 1, timeout_ms < 0 ? 0 : (int)(timeout_ms + 0.999));
		if (rc < 0)
			return errno == EINTR ? -1 : 0;
		if (rc == 0)
			return 0;
	}
	while (XPending(p->dpy) > 0) {
		XEvent ev;
		XNextEvent(p->dpy, &ev);
		if (ev.type == p->damage_event + XDamageNotify)
			n++;
	}
	if (n > 0) {
		XDamageSubtract(p->dpy, p->damage, None, None);
		XFlush(p->dpy);
	}
	return n;
}

static int cmd_count(struct probe *p)
{
	unsigned long updates = 0, events = 0;
	double last = -1e9;

	printf("ready\n");
	fflush(stdout);
	while (!stop_requested) {
		int n = wait_damage(p, 200);
		if (n <= 0)
			continue;
		double t = now_ms();
		if (t - last > GAP_MS)
			updates++;
		last = t;
		events += (unsigned long)n;
	}
	printf("updates %lu events %lu\n", updates, events);
	return 0;
}

static int cmd_quiet(struct probe *p, double quiet_ms, double timeout_ms)
{
	double start = now_ms(), last = start;

	for (;;) {
		double t = now_ms();
		if (t - last >= quiet_ms) {
			printf("quiet %.0f\n", t - start);
			return 0;
		}
		if (t - start >= timeout_ms) {
			printf("busy %.0f\n", t - start);
			return 0;
		}
		if (wait_damage(p, quiet_ms - (t - last)) > 0)
			last = now_ms();
	}
}

static bool near(unsigned long px, unsigned long rgb)
{
	for (int shift = 0; shift <= 16; shift += 8) {
		int d = (int)((px >> shift) & 0xff) - (int)((rgb >> shift) & 0xff);
		if (d > TOLERANCE || d < -TOLERANCE)
			return false;
	}
	return true;
}

static unsigned long pixel_at(struct probe *p, int x, int y)
{
	XImage *img = XGetImage(p->dpy, p->root, x, y, 1, 1, AllPlanes, ZPixmap);
	unsigned long px;

	if (!img)
		return 0xff000000ul;
	px = XGetPixel(img, 0, 0) & 0xffffff;
	XDestroyImage(img);
	return px;
}

struct box {
	int x, y, w, h;
};

/*
 * Bounding box of the rows holding at least min_w pixels near rgb (so a
 * block or banner of that colour, not icons or anti-aliased text that
 * happen to come near it); false when there is no such row. solid: count
 * each row's longest run of such pixels only.
 */
static bool find_colour_runs(struct probe *p, unsigned long rgb, int min_w, bool solid,
                             struct box *b)
{
	XImage *img = XGetImage(p->dpy, p->root, 0, 0, (unsigned)p->width, (unsigned)p->height,
	                        AllPlanes, ZPixmap);
	int x0 = p->width, y0 = p->height, x1 = -1, y1 = -1;

	if (!img)
		return false;
	for (int y = 0; y < p->height; y += 2) {
		int n = 0, rx0 = p->width, rx1 = -1, run = 0, best = 0, best_end = -1;
		for (int x = 0; x < p->width; x += 2) {
			if (!near(XGetPixel(img, x, y) & 0xffffff, rgb)) {
				run = 0;
				continue;
			}
			n++;
			rx0 = x < rx0 ? x : rx0;
			rx1 = x;
			if (++run > best) {
				best = run;
				best_end = x;
			}
		}
		/* solid: the longest run only, stray pixels elsewhere on the row do not count */
		if (solid) {
			n = best;
			rx0 = best_end - 2 * (best - 1);
			rx1 = best_end;
		}
		if (n * 2 < min_w)
			continue;
		x0 = rx0 < x0 ? rx0 : x0;
		x1 = rx1 > x1 ? rx1 : x1;
		y0 = y < y0 ? y : y0;
		y1 = y;
	}
	XDestroyImage(img);
	if (x1 < 0)
		return false;
	*b = (struct box){x0, y0, x1 - x0 + 2, y1 - y0 + 2};
	return true;
}

static bool find_colour(struct probe *p, unsigned long rgb, int min_w, struct box *b)
{
	return find_colour_runs(p, rgb, min_w, false, b);
}

static int cmd_find(struct probe *p, unsigned long rgb, int min_w, int min_h, double timeout_ms)
{
	double end = now_ms() + timeout_ms;
	struct box b;

	do {
		if (find_colour(p, rgb, min_w, &b) && b.w >= min_w && b.h >= min_h) {
			printf("%d %d %d %d\n", b.x, b.y, b.w, b.h);
			return 0;
		}
		wait_damage(p, 250);
	} while (now_ms() < end && !stop_requested);
	return 1;
}

/* Presses and releases keycode; returns the time the requests were flushed. */
static double press(struct probe *p, KeyCode keycode)
{
	XTestFakeKeyEvent(p->dpy, keycode, True, CurrentTime);
	XTestFakeKeyEvent(p->dpy, keycode, False, CurrentTime);
	double t = now_ms();
	XFlush(p->dpy);
	return t;
}

/* Milliseconds from the key press until the centre shows `want`; -1 on timeout. */
static double one_flip(struct probe *p, KeyCode keycode, int cx, int cy, unsigned long want)
{
	double t0 = press(p, keycode);

	for (;;) {
		double waited = now_ms() - t0;
		if (waited >= LAT_TIMEOUT_MS || stop_requested)
			return -1;
		/* Damage wakes us at once; the 20 ms poll is a fallback. */
		wait_damage(p, 20);
		if (near(pixel_at(p, cx, cy), want))
			return now_ms() - t0;
	}
}

static int cmd_latency(struct probe *p, int count, const char *keysym, unsigned long a,
                       unsigned long b)
{
	KeySym sym = XStringToKeysym(keysym);
	KeyCode keycode = sym == NoSymbol ? 0 : XKeysymToKeycode(p->dpy, sym);
	struct box box;

	if (keycode == 0) {
		fprintf(stderr, "bandwidth-probe: no key for %s\n", keysym);
		return 2;
	}
	/* Solid runs: a video beside the block (--latency-video) may hold pixels of its colours. */
	if (!find_colour_runs(p, a, LAT_BLOCK_MIN_W, true, &box) &&
	    !find_colour_runs(p, b, LAT_BLOCK_MIN_W, true, &box)) {
		fprintf(stderr, "bandwidth-probe: the latency block is not on the screen\n");
		return 1;
	}
	int cx = box.x + box.w / 2, cy = box.y + box.h / 2;
	XTestFakeMotionEvent(p->dpy, -1, cx, cy, CurrentTime);
	XSync(p->dpy, False);
	srand(1);
	for (int i = 0; i < count && !stop_requested; i++) {
		usleep((useconds_t)(LAT_PAUSE_MIN_MS + rand() % LAT_PAUSE_SPAN_MS) * 1000);
		wait_damage(p, 0);
		unsigned long now = pixel_at(p, cx, cy);
		unsigned long want = near(now, a) ? b : near(now, b) ? a : 0xff000000ul;
		if (want == 0xff000000ul) {
			fprintf(stderr, "bandwidth-probe: block centre %d,%d shows %06lx\n", cx, cy,
			        now);
			return 1;
		}
		double ms = one_flip(p, keycode, cx, cy, want);
		if (ms < 0)
			printf("timeout\n");
		else
			printf("%.1f\n", ms);
		fflush(stdout);
	}
	return 0;
}

static unsigned long parse_rgb(const char *s)
{
	return strtoul(s[0] == '#' ? s + 1 : s, NULL, 16) & 0xffffff;
}

static int usage(void)
{
	fprintf(stderr, "usage: bandwidth-probe count DISPLAY\n"
	                "       bandwidth-probe quiet DISPLAY QUIET_MS TIMEOUT_MS\n"
	                "       bandwidth-probe find DISPLAY RRGGBB MIN_W MIN_H TIMEOUT_MS\n"
	                "       bandwidth-probe latency DISPLAY COUNT KEYSYM RRGGBB RRGGBB\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct probe p;
	int rc = 2;

	if (argc < 3)
		return usage();
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if (probe_open(&p, argv[2]) < 0)
		return 1;
	if (strcmp(argv[1], "count") == 0 && argc == 3)
		rc = cmd_count(&p);
	else if (strcmp(argv[1], "quiet") == 0 && argc == 5)
		rc = cmd_quiet(&p, atof(argv[3]), atof(argv[4]));
	else if (strcmp(argv[1], "find") == 0 && argc == 7)
		rc = cmd_find(&p, parse_rgb(argv[3]), atoi(argv[4]), atoi(argv[5]), atof(argv[6]));
	else if (strcmp(argv[1], "latency") == 0 && argc == 7)
		rc =
		    cmd_latency(&p, atoi(argv[3]), argv[4], parse_rgb(argv[5]), parse_rgb(argv[6]));
	else
		rc = usage();
	probe_close(&p);
	return rc;
}
