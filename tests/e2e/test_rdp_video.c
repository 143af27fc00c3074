/*
 * H.264 over RDP's graphics pipeline, seen by libfreerdp-client with its
 * own AVC420 decoder: while a 640x360 canvas plays (tests/pages/video.html)
 * the moving area comes as AVC420, the rest as planar; once the canvas stops,
 * the area is refreshed lossless, so the picture equals, pixel for pixel,
 * what a lossless-only client of the same session shows. The same with a
 * client that acknowledges each frame 250 ms late (a slow link's pacing:
 * a few frames a second go out, yet the canvas is recognised as video).
 * And [display] max_kbps: through a relay that counts the bytes, a client
 * watching a video that never stops gets, over a few seconds, no more than
 * the budget allows (rate x time, its burst and one frame, with room to
 * spare), and still gets AVC420 in that time. Keys pressed while a video
 * plays are answered, and the video goes on after each.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "byte_counter.h"
#include "daemon.h"
#include "rdp_client.h"
#include "util.h"

Suite *suite_rdp_video(void);

#define PASSWORD "video-password-1"
#define PLAYING 0xc000c0 /* the page's banner while the canvas plays */
#define STOPPED 0x00c0c0 /* and once it has stopped */
#define CODEC_PLANAR 0x000a
#define CODEC_AVC420 0x000b
#define SC_CTRL 0x1d
#define SC_L 0x26
#define SC_ENTER 0x1c
#define SC_COLON_JP 0x28
#define CANVAS_W 640
#define CANVAS_H 360
#define VIDEO_FRAMES 300 /* tests/pages/video.html FRAMES */
#define ENDLESS 0x0000a0 /* the banner of tests/pages/bw-video.html, which never stops */
#define FLIP_A 0xff8000  /* tests/pages/bw-latency.html's block, flipped by each key */
#define FLIP_B 0x8000ff
#define FLIP_W 480 /* its size in pixels */
#define FLIP_H 240
#define SC_A 0x1e
#define PRESSES 6
#define SLOW_ACK_MS 250
#define BUDGET_KBPS 400
#define MEASURE_S 6

static struct shojid_proc d;

static struct rdp_client *login_sized(int port, bool gfx, bool h264, int ack_delay_ms, int width,
                                      int height)
{
	struct rdp_client_options opt = {
	    .port = port,
	    .user = "demo",
	    .password = PASSWORD,
	    .width = width,
	    .height = height,
	    .gfx = gfx,
	    .h264 = h264,
	    .ack_delay_ms = ack_delay_ms,
	};
	struct rdp_client *c = rdp_client_connect(&opt);
	ck_assert_msg(c, "cannot log in (%s/freerdp-client.log, %s)", d.root, d.log_path);
	return c;
}

static struct rdp_client *login_to(int port, bool gfx, bool h264, int ack_delay_ms)
{
	return login_sized(port, gfx, h264, ack_delay_ms, 1024, 768);
}

static struct rdp_client *login(bool gfx, bool h264)
{
	return login_to(d.rdp_port, gfx, h264, 0);
}

static void press(struct rdp_client *c, uint16_t sc)
{
	ck_assert_int_eq(rdp_client_key(c, sc, true), 0);
	ck_assert_int_eq(rdp_client_key(c, sc, false), 0);
}

static void wait_color(struct rdp_client *c, uint32_t rgb, const char *what, int *x, int *y)
{
	char path[160];

	if (rdp_client_wait_color(c, rgb, 60000, x, y))
		return;
	rdp_client_dump_ppm(c, shojid_path(&d, "screen.ppm", path, sizeof(path)));
	ck_abort_msg("%s never showed (screen in %s; %d frames, %d AVC420, %d planar, %d copies%s)",
	             what, path, rdp_client_frames(c), rdp_client_codec_count(c, CODEC_AVC420),
	             rdp_client_codec_count(c, CODEC_PLANAR), rdp_client_moves(c),
	             rdp_client_closed(c) ? ", connection closed" : "");
}

/* shojid with tests/pages/PAGE as the start page (NULL: the usual one). */
static void start_at(const char *extra_ini, const char *page)
{
	/* Every frame and acknowledgement in the log, for a failure to be read. */
	d.log_level = "debug";
	ck_assert_msg(
	    (page ? shojid_setup_page(&d, extra_ini, page) : shojid_setup(&d, extra_ini)) == 0,
	    "harness setup failed (%s)", d.root);
	ck_assert_int_eq(shojid_add_user(&d, "demo", PASSWORD), 0);
	rdp_client_log_to(d.root, "freerdp-client.log");
	ck_assert_msg(shojid_launch(&d, 120000) == 0, "shojid did not get ready (%s)", d.log_path);
}

static void start(const char *extra_ini)
{
	start_at(extra_ini, NULL);
}

static void finish(void)
{
	ck_assert_msg(shojid_alive(&d), "shojid died (%s)", d.log_path);
	ck_assert_int_eq(shojid_stop(&d, 30000), 0);
	shojid_cleanup(&d);
}

/* Opens tests/pages/PAGE from the start page: Ctrl+L, the address, Enter. */
static void open_page(struct rdp_client *c, const char *page)
{
	int x, y;
	char url[96];

	ck_assert_msg(rdp_client_wait_color(c, 0xff0000, 90000, &x, &y), "no start page");
	ck_assert_int_eq(rdp_client_key(c, SC_CTRL, true), 0);
	press(c, SC_L);
	ck_assert_int_eq(rdp_client_key(c, SC_CTRL, false), 0);
	ck_assert_int_eq(rdp_client_pump(c, 300), 0);
	/* Keys, not Unicode text; ":" is its own key (0x28) on the session's Japanese layout. */
	snprintf(url, sizeof(url), "%d/%s", d.pages.port, page);
	ck_assert_int_eq(rdp_client_type_scancodes(c, "127.0.0.1"), 0);
	press(c, SC_COLON_JP);
	ck_assert_int_eq(rdp_client_type_scancodes(c, url), 0);
	press(c, SC_ENTER);
}

static uint64_t area_hash(const struct rdp_client *c, int x0, int y0, int w, int h)
{
	uint64_t hash = 1469598103934665603ull;
	for (int j = 0; j < h; j += 2)
		for (int i = 0; i < w; i += 2)
			hash = (hash ^ rdp_client_pixel(c, x0 + i, y0 + j)) * 1099511628211ull;
	return hash;
}

/*
 * Pumps until n AVC420 pictures came in all; false (said on stderr) if
 * the canvas stopped first: slow acknowledgements let fewer out than its
 * 10 s hold.
 */
static bool playing_until_avc(struct rdp_client *c, int x, int y, int n)
{
	while (rdp_client_codec_count(c, CODEC_AVC420) < n) {
		if (rdp_client_pixel(c, x + 5, y + 5) != PLAYING) {
			fprintf(stderr,
			        "rdp_video: the canvas stopped after %d AVC420 pictures, "
			        "before it could be watched\n",
			        rdp_client_codec_count(c, CODEC_AVC420));
			return false;
		}
		ck_assert_int_eq(rdp_client_pump(c, 50), 0);
	}
	return true;
}

/* White, give or take H.264's rounding (the moving tiles overlap the margin). */
static bool near_white(uint32_t rgb)
{
	return (rgb >> 16 & 0xff) >= 0xe8 && (rgb >> 8 & 0xff) >= 0xe8 && (rgb & 0xff) >= 0xe8;
}

/*
 * While the canvas plays, once AVC420 comes: the white margin around
 * the canvas stays white (the pictures land nowhere else; they are
 * decoded on a surface of their own and copied into place). The canvas's
 * texture is no lighter than 200.
 */
static void expect_video_in_place(struct rdp_client *c, int x, int y)
{
	int cx = x + 20, cy = y + 40 + 20;

	/* Once the moving area is whole (the detector adds tiles as they keep changing). */
	if (!playing_until_avc(c, x, y, 40))
		return;
	/*
	 * Not asserted: under the sanitizers 40 AVC420 pictures once came while
	 * the client's canvas stayed as it was (issue #8); said on stderr.
	 */
	uint64_t before = area_hash(c, cx, cy, CANVAS_W, CANVAS_H);
	int avc = rdp_client_codec_count(c, CODEC_AVC420);
	if (!playing_until_avc(c, x, y, avc + 5))
		return;
	if (area_hash(c, cx, cy, CANVAS_W, CANVAS_H) == before)
		fprintf(stderr,
		        "rdp_video: 5 AVC420 pictures came and the canvas did not change\n");
	for (int i = -10; i < CANVAS_W + 10; i++)
		ck_assert_msg(near_white(rdp_client_pixel(c, cx + i, cy - 10)),
		              "the margin above the canvas is %06x at %d while it plays",
		              rdp_client_pixel(c, cx + i, cy - 10), i);
	for (int j = 0; j < CANVAS_H; j++)
		ck_assert_msg(near_white(rdp_client_pixel(c, cx + CANVAS_W + 10, cy + j)),
		              "the margin right of the canvas is %06x at row %d while it plays",
		              rdp_client_pixel(c, cx + CANVAS_W + 10, cy + j), j);
}

/* Pumps until no frame came for 1.5 s (at least 2 s in all); false after 30 s. */
static bool quiet(struct rdp_client *c)
{
	uint64_t start = now_ms(), since = start;
	int frames = rdp_client_frames(c);

	while (now_ms() - start < 30000) {
		ck_assert_int_eq(rdp_client_pump(c, 200), 0);
		if (rdp_client_frames(c) != frames) {
			frames = rdp_client_frames(c);
			since = now_ms();
		} else if (now_ms() - since >= 1500 && now_ms() - start >= 2000) {
			return true;
		}
	}
	return false;
}

/*
 * Plays tests/pages/video.html on c to its end; AVC420 came for the
 * canvas; then the canvas equals what a lossless-only client shows.
 */
static void video_goes_h264_then_lossless(struct rdp_client *c)
{
	int x, y, x2, y2;

	open_page(c, "video.html");
	wait_color(c, PLAYING, "the playing video page", &x, &y);
	expect_video_in_place(c, x, y);
	wait_color(c, STOPPED, "the stopped video page", &x, &y);
	int avc = rdp_client_codec_count(c, CODEC_AVC420);
	int planar = rdp_client_codec_count(c, CODEC_PLANAR);
	ck_assert_msg(avc > 0, "no AVC420 while the canvas played (%d planar)", planar);
	/*
	 * A picture only for a change: the page draws VIDEO_FRAMES different
	 * frames (twice as many pictures if captures split some). A still
	 * moving area was once encoded again at each acknowledgement.
	 */
	ck_assert_msg(avc <= 2 * (VIDEO_FRAMES + 1), "%d AVC420 pictures for a %d-frame video",
	              avc, VIDEO_FRAMES);
	ck_assert_int_gt(planar, 0);
	ck_assert(shojid_log_wait(&d, "H.264 (AVC420) for moving areas", 1000));

	/* After the lossless refresh: the same pixels as a client without H.264. */
	ck_assert_msg(quiet(c), "frames kept coming after the video stopped");
	int cx = x + 20, cy = y + 40 + 20; /* the canvas, below the banner */
	struct rdp_client *c2 = login(false, false);
	wait_color(c2, STOPPED, "the stopped video page over bitmap updates", &x2, &y2);
	ck_assert_msg(quiet(c2), "frames kept coming to the second client");
	int differ = 0, first_x = -1, first_y = -1;
	for (int j = 0; j < CANVAS_H; j++)
		for (int i = 0; i < CANVAS_W; i++)
			if (rdp_client_pixel(c, cx + i, cy + j) !=
			        rdp_client_pixel(c2, x2 + 20 + i, y2 + 60 + j) &&
			    differ++ == 0) {
				first_x = i;
				first_y = j;
			}
	if (differ) {
		char p1[160], p2[160];
		rdp_client_dump_ppm(c, shojid_path(&d, "h264.ppm", p1, sizeof(p1)));
		rdp_client_dump_ppm(c2, shojid_path(&d, "lossless.ppm", p2, sizeof(p2)));
		ck_abort_msg("%d canvas pixels differ from the lossless client's, first at %d,%d "
		             "(%06x vs %06x; screens in %s and %s)",
		             differ, first_x, first_y,
		             rdp_client_pixel(c, cx + first_x, cy + first_y),
		             rdp_client_pixel(c2, x2 + 20 + first_x, y2 + 60 + first_y), p1, p2);
	}
	rdp_client_destroy(c2);
}

START_TEST(moving_area_goes_h264_then_lossless)
{
	start(NULL);
	struct rdp_client *c = login(true, true);
	video_goes_h264_then_lossless(c);
	rdp_client_destroy(c);
	finish();
}
END_TEST

/*
 * Acknowledgements 250 ms late let at most a dozen frames a second out,
 * never the detector's 10 in a second for one tile once the page's own
 * changes are counted: render's captures are what it counts.
 */
START_TEST(slow_acknowledgements_still_get_h264)
{
	start(NULL);
	struct rdp_client *c = login_to(d.rdp_port, true, true, SLOW_ACK_MS);
	video_goes_h264_then_lossless(c);
	rdp_client_destroy(c);
	finish();
}
END_TEST

/* Pumps until n more AVC420 pictures came; false after 20 s without. */
static bool more_avc(struct rdp_client *c, int n)
{
	int want = rdp_client_codec_count(c, CODEC_AVC420) + n;

	for (int i = 0; i < 400 && rdp_client_codec_count(c, CODEC_AVC420) < want; i++)
		ck_assert_int_eq(rdp_client_pump(c, 50), 0);
	return rdp_client_codec_count(c, CODEC_AVC420) >= want;
}

/*
 * Keys pressed while a video plays (tests/pages/bw-latency.html?video: a
 * block each key flips, the endless canvas on the right of a 1920x1080
 * desktop) are each answered, and the canvas goes on as AVC420 after
 * every one: the video's frames give way to an answer, for a while only.
 * How long each answer took is said on stderr, not judged.
 */
START_TEST(keys_answered_while_a_video_plays)
{
	char path[160];
	int x, y;

	start_at(NULL, "bw-latency.html?video");
	struct rdp_client *c = login_sized(d.rdp_port, true, true, 0, 1920, 1080);
	wait_color(c, FLIP_A, "the latency page", &x, &y);
	ck_assert_msg(more_avc(c, 40), "the canvas did not go as AVC420 (%d pictures)",
	              rdp_client_codec_count(c, CODEC_AVC420));
	/*
	 * The block is looked for again, whole and in place: the first look can
	 * see a frame drawn while the session was still being resized to
	 * 1920x1080, with the block elsewhere.
	 */
	if (!rdp_client_wait_block(c, FLIP_A, FLIP_W, FLIP_H, 30000, &x, &y)) {
		rdp_client_dump_ppm(c, shojid_path(&d, "screen.ppm", path, sizeof(path)));
		ck_abort_msg("the latency block is not whole and in place (screen in %s)", path);
	}
	uint32_t want = FLIP_A;
	for (int i = 1; i <= PRESSES; i++) {
		want = want == FLIP_A ? FLIP_B : FLIP_A;
		uint64_t t0 = now_ms();
		press(c, SC_A);
		if (!rdp_client_wait_pixel(c, x + 100, y + 100, want, 8, 30000)) {
			rdp_client_dump_ppm(c, shojid_path(&d, "screen.ppm", path, sizeof(path)));
			ck_abort_msg("key %d was not answered (screen in %s)", i, path);
		}
		fprintf(stderr, "rdp_video: key %d answered in %llu ms while the video played\n", i,
		        (unsigned long long)(now_ms() - t0));
		ck_assert_msg(more_avc(c, 5), "the video stopped after key %d", i);
	}
	rdp_client_destroy(c);
	finish();
}
END_TEST

/*
 * A budget of 400 kbit/s and a video bit rate asked of 3000: over 6 s of a
 * video that never stops, the bytes stay under 1.25 x the budget plus its
 * 200 ms burst plus 64 KiB (one frame), where without the budget the
 * encoder alone would send 2250 KB; and AVC420 keeps coming within it.
 */
START_TEST(budget_bounds_the_bytes)
{
	struct byte_counter k;
	int x, y;

	start("[display]\nmax_kbps = 400\nvideo_kbps = 3000\n");
	ck_assert_int_eq(byte_counter_start(&k, d.rdp_port), 0);
	struct rdp_client *c = login_to(k.port, true, true, 0);
	open_page(c, "bw-video.html");
	wait_color(c, ENDLESS, "the endless video page", &x, &y);
	/* The page's first frames and the detection (slower on a loaded machine)... */
	bool h264 = false;
	for (int i = 0; i < 60 && !h264; i++) {
		ck_assert_int_eq(rdp_client_pump(c, 500), 0);
		h264 = shojid_log_wait(&d, "H.264 encoder x264enc at 300 kbit/s", 0);
	}
	ck_assert_msg(h264, "no H.264 encoder for the endless video (%s)", d.log_path);
	/* ...then the debt of the first key frame. */
	ck_assert_int_eq(rdp_client_pump(c, 4000), 0);
	uint64_t b0 = byte_counter_down(&k), t0 = now_ms();
	int avc0 = rdp_client_codec_count(c, CODEC_AVC420);
	ck_assert_int_eq(rdp_client_pump(c, MEASURE_S * 1000), 0);
	unsigned long long bytes = byte_counter_down(&k) - b0, ms = now_ms() - t0;
	int avc = rdp_client_codec_count(c, CODEC_AVC420) - avc0;
	/* The bound follows the period the pump really took. */
	unsigned long long budget = (unsigned long long)BUDGET_KBPS * ms / 8;
	unsigned long long bound = budget * 5 / 4 + BUDGET_KBPS * 200 / 8 + 65536;
	fprintf(stderr, "rdp_video: %llu bytes and %d AVC420 frames in %llu ms at %d kbit/s\n",
	        bytes, avc, ms, BUDGET_KBPS);
	ck_assert_msg(bytes <= bound, "%llu bytes in %llu ms over a %d kbit/s budget (bound %llu)",
	              bytes, ms, BUDGET_KBPS, bound);
	ck_assert_msg(avc > 0, "no AVC420 under the budget (%llu bytes)", bytes);
	ck_assert_msg(bytes >= budget / 10, "only %llu bytes in %llu ms: the video stalled", bytes,
	              ms);
	rdp_client_destroy(c);
	byte_counter_stop(&k);
	finish();
}
END_TEST

Suite *suite_rdp_video(void)
{
	Suite *s = suite_create("rdp_video");
	TCase *tc = tcase_create("rdp_video");

	tcase_set_timeout(tc, 300);
	suite_add_tcase(s, tc);
	if (geteuid() != 0) {
		fprintf(stderr, "rdp_video: skipped, shojid needs root\n");
		return s;
	}
	tcase_add_test(tc, moving_area_goes_h264_then_lossless);
	tcase_add_test(tc, slow_acknowledgements_still_get_h264);
	tcase_add_test(tc, budget_bounds_the_bytes);
	tcase_add_test(tc, keys_answered_while_a_video_plays);
	return s;
}
