/*
 * End to end, what shojid sends over VNC when little changes: a real
 * shojid and browser, libvncclient counting what arrives. A page that
 * repaints without changing a pixel must cost nothing; a scroll must
 * arrive as CopyRect plus the newly exposed strip, and once it stops the
 * viewer's picture must be exactly what a viewer connecting afresh gets.
 * The same scroll over RDP's graphics pipeline must arrive as
 * SurfaceToSurface and end as exact. The page is tests/pages/scroll.html.
 * Needs root, as test_vnc.c.
 */
#include "autoconfig.h"

#include <X11/keysym.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "byte_counter.h"
#include "daemon.h"
#include "rdp_client.h"
#include "util.h"
#include "viewer.h"

Suite *suite_encoding(void);

#define RED 0xff0000
#define PASSWORD "demo-password-1"
#define PAGE_TIMEOUT_MS 60000
#define QUIET_MS 3000 /* no rectangle for this long: the picture has settled */
#define SETTLE_TIMEOUT_MS 60000
#define IDLE_WATCH_MS 12000

static struct shojid_proc d;

static void start(void)
{
	char log[160];

	ck_assert_msg(shojid_setup_page(&d, NULL, "scroll.html") == 0, "harness setup failed (%s)",
	              d.root);
	fprintf(stderr, "encoding: test files in %s\n", d.root);
	ck_assert_int_eq(shojid_add_user(&d, "demo", PASSWORD), 0);
	viewer_log_to(shojid_path(&d, "vncclient.log", log, sizeof(log)));
	ck_assert_msg(shojid_launch(&d, 90000) == 0, "shojid did not get ready (%s)", d.log_path);
}

static void finish(void)
{
	ck_assert_msg(shojid_alive(&d), "shojid died (%s)", d.log_path);
	ck_assert_int_eq(shojid_stop(&d, 30000), 0);
	viewer_log_to(NULL);
	shojid_cleanup(&d);
}

/*
 * The cursor as a shape and, with jpeg_quality, lossy JPEG allowed, as
 * TigerVNC's viewer asks on a slow link (quality 6).
 */
static struct viewer *login(int jpeg_quality)
{
	struct viewer_options opt = {
	    .port = d.port,
	    .ca_file = d.ca_path,
	    .user = "demo",
	    .password = PASSWORD,
	    .encodings = "copyrect tight zrle raw",
	    .cursor_shape = true,
	    .jpeg_quality = jpeg_quality,
	};
	struct viewer *v = viewer_connect(&opt);
	ck_assert_msg(v, "could not log in (%s/vncclient.log, %s)", d.root, d.log_path);
	return v;
}

static void page_origin(struct viewer *v, int *x, int *y)
{
	char path[160];

	if (viewer_wait_block(v, RED, 200, 150, PAGE_TIMEOUT_MS, x, y))
		return;
	viewer_dump_ppm(v, shojid_path(&d, "nored.ppm", path, sizeof(path)));
	ck_abort_msg("the test page never appeared (screen in %s)", path);
}

/* Pumps until no rectangle came for QUIET_MS; false if that never happened. */
static bool settle(struct viewer *v)
{
	uint64_t end = now_ms() + SETTLE_TIMEOUT_MS;
	uint64_t rects = viewer_stats(v).rects, since = now_ms();

	while (now_ms() < end) {
		if (viewer_pump(v, 100) < 0)
			return false;
		uint64_t n = viewer_stats(v).rects;
		if (n != rects) {
			rects = n;
			since = now_ms();
		} else if (now_ms() - since >= QUIET_MS) {
			return true;
		}
	}
	return false;
}

START_TEST(repaint_without_change_sends_nothing)
{
	int ox, oy;

	start();
	struct viewer *v = login(6);
	page_origin(v, &ox, &oy);
	ck_assert_int_eq(viewer_click(v, ox + 100, oy + 75), 0);
	ck_assert_msg(settle(v), "the picture never settled (%s)", d.log_path);
	struct viewer_stats before = viewer_stats(v);

	/* The page rebuilds its article: the browser repaints, nothing changes. */
	ck_assert_int_eq(viewer_key(v, 'r', true), 0);
	ck_assert_int_eq(viewer_key(v, 'r', false), 0);
	ck_assert_int_eq(viewer_pump(v, IDLE_WATCH_MS), 0);
	struct viewer_stats after = viewer_stats(v);
	ck_assert_msg(after.rects == before.rects,
	              "%llu rectangles (%llu pixels) in %d s of an unchanged picture",
	              (unsigned long long)(after.rects - before.rects),
	              (unsigned long long)(after.pixels - before.pixels), IDLE_WATCH_MS / 1000);
	ck_assert_uint_eq(after.updates, before.updates);
	viewer_destroy(v);
	finish();
}
END_TEST

/* Number of pixels that differ; the first one in *at. */
static size_t differences(const uint32_t *a, const uint32_t *b, int w, int h, int *at)
{
	size_t n = 0;

	for (int i = w * h - 1; i >= 0; i--) {
		if (a[i] != b[i]) {
			n++;
			*at = i;
		}
	}
	return n;
}

/*
 * Ends v and has a lossless viewer connect afresh: the whole picture it
 * gets must equal what v showed. what says when (in the failure message).
 */
static void expect_same_as_fresh(struct viewer *v, const char *what)
{
	char pb[160];
	int at = 0, w = viewer_width(v), h = viewer_height(v);
	uint32_t *seen = viewer_snapshot(v);

	ck_assert_ptr_nonnull(seen);
	viewer_destroy(v);
	v = login(0);
	ck_assert(viewer_wait_size(v, w, h, 30000));
	ck_assert_msg(settle(v), "the picture never settled after reconnecting (%s)", d.log_path);
	uint32_t *fresh = viewer_snapshot(v);
	ck_assert_ptr_nonnull(fresh);
	size_t n = differences(seen, fresh, w, h, &at);
	if (n > 0) {
		viewer_dump_ppm(v, shojid_path(&d, "fresh.ppm", pb, sizeof(pb)));
		ck_abort_msg(
		    "%zu pixels differ from a fresh lossless picture %s, the first at %d,%d "
		    "(%06x, not %06x; fresh picture in %s)",
		    n, what, at % w, at / w, seen[at], fresh[at], pb);
	}
	free(seen);
	free(fresh);
	viewer_destroy(v);
}

START_TEST(scroll_arrives_as_copyrect_and_ends_exact)
{
	int ox, oy;

	start();
	struct viewer *v = login(6);
	page_origin(v, &ox, &oy);
	ck_assert_int_eq(viewer_click(v, ox + 100, oy + 75), 0);
	ck_assert_msg(settle(v), "the picture never settled (%s)", d.log_path);
	struct viewer_stats before = viewer_stats(v);
	int w = viewer_width(v), h = viewer_height(v);

	ck_assert_int_eq(viewer_wheel(v, w / 2, h / 2, 5), 0);
	ck_assert_msg(settle(v), "the picture never settled after the scroll (%s)", d.log_path);
	struct viewer_stats after = viewer_stats(v);
	ck_assert_msg(viewer_pixel(v, ox + 100, oy + 75) != RED, "the page did not scroll");
	ck_assert_msg(after.copy_rects > before.copy_rects, "no CopyRect for a scroll");
	uint64_t drawn =
	    (after.pixels - before.pixels) - (after.copied_pixels - before.copied_pixels);
	fprintf(stderr, "encoding: scroll: %llu CopyRect (%llu pixels), %llu pixels drawn\n",
	        (unsigned long long)(after.copy_rects - before.copy_rects),
	        (unsigned long long)(after.copied_pixels - before.copied_pixels),
	        (unsigned long long)drawn);
	ck_assert_msg(drawn < (uint64_t)w * (uint64_t)h,
	              "%llu pixels drawn for a scroll of a %dx%d screen", (unsigned long long)drawn,
	              w, h);

	/* A viewer connecting afresh gets the whole picture: it must be the same. */
	expect_same_as_fresh(v, "after the scroll");
	finish();
}
END_TEST

static struct rdp_client *rdp_login(void)
{
	struct rdp_client_options opt = {
	    .port = d.rdp_port,
	    .user = "demo",
	    .password = PASSWORD,
	    .width = 1024,
	    .height = 768,
	    .gfx = true,
	};
	struct rdp_client *c = rdp_client_connect(&opt);
	ck_assert_msg(c, "could not log in over RDP (%s)", d.log_path);
	return c;
}

/* Pumps until the client's picture stayed the same for QUIET_MS; false if it never did. */
static bool rdp_settle(struct rdp_client *c)
{
	uint64_t end = now_ms() + SETTLE_TIMEOUT_MS, since = now_ms();
	uint32_t *last = rdp_client_snapshot(c);
	size_t n = (size_t)rdp_client_width(c) * (size_t)rdp_client_height(c);
	bool quiet = false;

	while (last && !quiet && now_ms() < end && rdp_client_pump(c, 500) == 0) {
		uint32_t *now = rdp_client_snapshot(c);
		if (!now)
			break;
		if (memcmp(now, last, n * sizeof(*now)) != 0)
			since = now_ms();
		quiet = now_ms() - since >= QUIET_MS;
		free(last);
		last = now;
	}
	free(last);
	return quiet;
}

START_TEST(rdp_scroll_arrives_as_surface_copy_and_ends_exact)
{
	char path[160];
	int ox, oy, at = 0;

	start();
	rdp_client_log_to(d.root, "freerdp-client.log");
	struct rdp_client *c = rdp_login();
	ck_assert_msg(rdp_client_wait_block(c, RED, 200, 150, PAGE_TIMEOUT_MS, &ox, &oy),
	              "the test page never appeared over RDP (%s)", d.log_path);
	ck_assert(rdp_client_gfx_open(c));
	ck_assert_int_eq(rdp_client_click(c, ox + 100, oy + 75), 0);
	ck_assert_msg(rdp_settle(c), "the picture never settled (%s)", d.log_path);
	int moves = rdp_client_moves(c), w = rdp_client_width(c), h = rdp_client_height(c);

	ck_assert_int_eq(rdp_client_wheel(c, w / 2, h / 2, 10), 0);
	ck_assert_msg(rdp_settle(c), "the picture never settled after the scroll (%s)", d.log_path);
	ck_assert_msg(rdp_client_pixel(c, ox + 100, oy + 75) != RED, "the page did not scroll");
	ck_assert_msg(rdp_client_moves(c) > moves, "no SurfaceToSurface for a scroll");
	fprintf(stderr, "encoding: RDP scroll: %d SurfaceToSurface\n", rdp_client_moves(c) - moves);
	/* Back up over lines the scroll down exposed: the client has kept them. */
	ck_assert_int_eq(rdp_client_wheel(c, w / 2, h / 2, -5), 0);
	ck_assert_msg(rdp_settle(c), "the picture never settled after scrolling back (%s)",
	              d.log_path);
	fprintf(stderr, "encoding: RDP scroll back: %d bands from the client's cache\n",
	        rdp_client_cache_draws(c));
	ck_assert_msg(rdp_client_cache_draws(c) > 0, "nothing drawn from the cache (%s)",
	              d.log_path);

	uint32_t *seen = rdp_client_snapshot(c);
	ck_assert_ptr_nonnull(seen);
	rdp_client_destroy(c);
	c = rdp_login();
	ck_assert_msg(rdp_settle(c), "the picture never settled after reconnecting (%s)",
	              d.log_path);
	ck_assert_int_eq(rdp_client_width(c), w);
	ck_assert_int_eq(rdp_client_height(c), h);
	uint32_t *fresh = rdp_client_snapshot(c);
	ck_assert_ptr_nonnull(fresh);
	size_t n = differences(seen, fresh, w, h, &at);
	if (n > 0) {
		rdp_client_dump_ppm(c, shojid_path(&d, "rdp-fresh.ppm", path, sizeof(path)));
		ck_abort_msg("%zu pixels differ from a fresh picture, the first at %d,%d "
		             "(%06x, not %06x; fresh picture in %s)",
		             n, at % w, at / w, seen[at], fresh[at], path);
	}
	free(seen);
	free(fresh);
	rdp_client_destroy(c);
	finish();
}
END_TEST

#define PLAYING 0xc000c0 /* tests/pages/video.html's banner while its canvas plays */
#define STOPPED 0x00c0c0 /* and once it has stopped */
#define CANVAS_W 640
#define CANVAS_H 360

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Distinct colours of the w x h area at x, y. */
static size_t colours(const struct viewer *v, int x, int y, int w, int h)
{
	uint32_t *px = malloc((size_t)w * (size_t)h * sizeof(*px));
	size_t n = 0;

	ck_assert_ptr_nonnull(px);
	for (int j = 0; j < h; j++)
		for (int i = 0; i < w; i++)
			px[(size_t)j * w + i] = viewer_pixel(v, x + i, y + j);
	qsort(px, (size_t)w * (size_t)h, sizeof(*px), cmp_u32);
	for (size_t i = 0; i < (size_t)w * (size_t)h; i++)
		n += i == 0 || px[i] != px[i - 1];
	free(px);
	return n;
}

/*
 * A moving area over VNC (tests/pages/video.html, a 640x360 canvas of flat
 * 8x8 blocks panning for 10 s): to a viewer that takes JPEG, the canvas
 * goes lossy while it plays (far more colours than its blocks have), the
 * page around it stays exact, and once it stops the canvas is the same as
 * a lossless viewer's.
 */
START_TEST(vnc_moving_area_goes_jpeg_then_lossless)
{
	char log[160], pb[160];
	int x, y;
	size_t most = 0;

	ck_assert_msg(shojid_setup_page(&d, NULL, "video.html") == 0, "harness setup failed (%s)",
	              d.root);
	ck_assert_int_eq(shojid_add_user(&d, "demo", PASSWORD), 0);
	viewer_log_to(shojid_path(&d, "vncclient.log", log, sizeof(log)));
	ck_assert_msg(shojid_launch(&d, 90000) == 0, "shojid did not get ready (%s)", d.log_path);
	struct viewer *v = login(6);
	/* The warm session loaded the page long ago: F5 plays it again. */
	if (!viewer_wait_block(v, STOPPED, viewer_width(v), 40, PAGE_TIMEOUT_MS, &x, &y)) {
		viewer_dump_ppm(v, shojid_path(&d, "novideo.ppm", pb, sizeof(pb)));
		ck_abort_msg("the video page never showed (screen in %s)", pb);
	}
	ck_assert_int_eq(viewer_key(v, XK_F5, true), 0);
	ck_assert_int_eq(viewer_key(v, XK_F5, false), 0);
	ck_assert_msg(viewer_wait_block(v, PLAYING, viewer_width(v), 40, PAGE_TIMEOUT_MS, &x, &y),
	              "the video did not play again after F5 (%s)", d.log_path);
	int cx = x + 20, cy = y + 60; /* the canvas, below the 40 px banner and its margin */
	/* Its 8x8 blocks: at most 81 x 46 colours and the moving block's, exactly drawn. */
	while (viewer_pixel(v, x + 5, y + 5) == PLAYING) {
		ck_assert_int_eq(viewer_pump(v, 200), 0);
		most = MAX(most, colours(v, cx, cy, CANVAS_W, CANVAS_H));
		for (int i = -10; i < CANVAS_W + 10; i += 7)
			ck_assert_msg(viewer_pixel(v, cx + i, cy - 12) == 0xffffff,
			              "the margin above the canvas is %06x at %d while it plays",
			              viewer_pixel(v, cx + i, cy - 12), i);
	}
	fprintf(stderr, "encoding: VNC video: at most %zu colours in the canvas while it played\n",
	        most);
	ck_assert_msg(most > 3 * 81 * 46, "the playing canvas never went as JPEG (%zu colours)",
	              most);
	ck_assert_msg(viewer_wait_block(v, STOPPED, viewer_width(v), 40, PAGE_TIMEOUT_MS, &x, &y),
	              "the video page never stopped (%s)", d.log_path);
	ck_assert_msg(settle(v), "the picture never settled after the video (%s)", d.log_path);
	expect_same_as_fresh(v, "once the video stopped");
	ck_assert(shojid_log_wait(&d, "moving areas as JPEG", 10000));
	finish();
}
END_TEST

/* Pumps until some pixel (on a grid of 4) is exactly rgb. */
static bool wait_any(struct viewer *v, uint32_t rgb, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;

	do {
		for (int y = 0; y < viewer_height(v); y += 4)
			for (int x = 0; x < viewer_width(v); x += 4)
				if (viewer_pixel(v, x, y) == rgb)
					return true;
	} while (viewer_pump(v, 200) == 0 && now_ms() < end);
	return false;
}

/*
 * [display] max_kbps over VNC: an endless video (tests/pages/bw-video.html)
 * in lossless Tight would fill a loopback link many times over; under a
 * 400 kbit/s budget the bytes over 6 s, counted by a relay, stay within
 * 1.25 x the budget + its 200 ms burst + 64 KiB, and still flow.
 */
START_TEST(vnc_budget_bounds_the_bytes)
{
	struct byte_counter k;
	char log[160];
	const unsigned long long kbps = 400;

	ck_assert_msg(shojid_setup_page(&d, "[display]\nmax_kbps = 400\n", "bw-video.html") == 0,
	              "harness setup failed (%s)", d.root);
	ck_assert_int_eq(shojid_add_user(&d, "demo", PASSWORD), 0);
	viewer_log_to(shojid_path(&d, "vncclient.log", log, sizeof(log)));
	ck_assert_msg(shojid_launch(&d, 90000) == 0, "shojid did not get ready (%s)", d.log_path);
	ck_assert_int_eq(byte_counter_start(&k, d.port), 0);
	struct viewer_options opt = {
	    .port = k.port,
	    .ca_file = d.ca_path,
	    .user = "demo",
	    .password = PASSWORD,
	    .encodings = "copyrect tight zrle raw",
	    .cursor_shape = true,
	};
	struct viewer *v = viewer_connect(&opt);
	ck_assert_msg(v, "could not log in (%s/vncclient.log, %s)", d.root, d.log_path);
	if (!wait_any(v, 0x0000a0, PAGE_TIMEOUT_MS)) {
		char path[160];
		viewer_dump_ppm(v, shojid_path(&d, "novideo.ppm", path, sizeof(path)));
		ck_abort_msg("the video page never showed (%llu bytes came; screen in %s)",
		             (unsigned long long)byte_counter_down(&k), path);
	}
	ck_assert_int_eq(viewer_pump(v, 3000), 0);
	uint64_t b0 = byte_counter_down(&k), t0 = now_ms();
	ck_assert_int_eq(viewer_pump(v, 6000), 0);
	unsigned long long bytes = byte_counter_down(&k) - b0, ms = now_ms() - t0;
	unsigned long long budget = kbps * ms / 8, bound = budget * 5 / 4 + kbps * 200 / 8 + 65536;
	fprintf(stderr, "encoding: VNC %llu bytes in %llu ms at %llu kbit/s\n", bytes, ms, kbps);
	ck_assert_msg(bytes <= bound,
	              "%llu bytes in %llu ms over a %llu kbit/s budget (bound %llu)", bytes, ms,
	              kbps, bound);
	ck_assert_msg(bytes >= budget / 4, "only %llu bytes in %llu ms: the picture stalled", bytes,
	              ms);
	viewer_destroy(v);
	byte_counter_stop(&k);
	finish();
}
END_TEST

Suite *suite_encoding(void)
{
	Suite *s = suite_create("encoding");
	TCase *tc = tcase_create("encoding");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, repaint_without_change_sends_nothing);
	tcase_add_test(tc, scroll_arrives_as_copyrect_and_ends_exact);
	tcase_add_test(tc, rdp_scroll_arrives_as_surface_copy_and_ends_exact);
	suite_add_tcase(s, tc);
	TCase *video = tcase_create("video");
	tcase_set_timeout(video, 300);
	tcase_add_test(video, vnc_moving_area_goes_jpeg_then_lossless);
	suite_add_tcase(s, video);
	TCase *budget = tcase_create("budget");
	tcase_set_timeout(budget, 300);
	tcase_add_test(budget, vnc_budget_bounds_the_bytes);
	suite_add_tcase(s, budget);
	return s;
}
