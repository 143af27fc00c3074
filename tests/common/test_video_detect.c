/*
 * Moving-area detection: a 30 fps video area becomes moving after enough
 * changes and is reported as settled once when it stops; a blinking caret,
 * typing and a small animation never count; bad sizes are refused.
 */
#include <check.h>

#include "video_detect.h"

static struct region one(int32_t x, int32_t y, int32_t w, int32_t h)
{
	struct region r;
	struct rect rc = {x, y, w, h};
	struct rect all = {0, 0, 8192, 8192};
	region_init(&r);
	region_add(&r, &rc, &all, 0);
	return r;
}

START_TEST(video_area_moves_then_settles)
{
	struct video_detect *d = video_detect_create(1280, 720);
	struct region video = one(100, 100, 640, 360), moving, settled;
	uint64_t t = 1000;

	for (int i = 0; i < VIDEO_MIN_CHANGES - 1; i++, t += 33) {
		video_detect_frame(d, &video, t, &moving, &settled);
		ck_assert_uint_eq(moving.n, 0);
	}
	video_detect_frame(d, &video, t, &moving, &settled);
	ck_assert_uint_gt(moving.n, 0);
	/* Tile-aligned cover of the area: columns 1..11, rows 1..7. */
	struct rect e = region_extents(&moving);
	ck_assert_int_eq(e.x, 64);
	ck_assert_int_eq(e.y, 64);
	ck_assert_int_eq(e.x + e.w, 768);
	ck_assert_int_eq(e.y + e.h, 512);
	ck_assert_int_eq(region_area(&moving), (int64_t)704 * 448);
	ck_assert(video_detect_busy(d));

	/* It stops: still moving just before the settle time, settled once at it. */
	struct region none;
	region_init(&none);
	video_detect_frame(d, &none, t + VIDEO_SETTLE_MS - 1, &moving, &settled);
	ck_assert_uint_gt(moving.n, 0);
	ck_assert_uint_eq(settled.n, 0);
	video_detect_frame(d, &none, t + VIDEO_SETTLE_MS, &moving, &settled);
	ck_assert_uint_eq(moving.n, 0);
	ck_assert_int_eq(region_area(&settled), (int64_t)704 * 448);
	ck_assert(!video_detect_busy(d));
	video_detect_frame(d, &none, t + 2 * VIDEO_SETTLE_MS, &moving, &settled);
	ck_assert_uint_eq(settled.n, 0);
	ck_assert_uint_eq(moving.n, 0);
	/* One change after the stop does not make it move again. */
	video_detect_frame(d, &video, t + 2 * VIDEO_SETTLE_MS + 10, &moving, &settled);
	ck_assert_uint_eq(moving.n, 0);
	ck_assert(!video_detect_busy(d));
	video_detect_destroy(d);
}
END_TEST

/* Changes inside the moving tiles are the video's; one touching a still tile is not. */
START_TEST(covers_only_moving_tiles)
{
	struct video_detect *d = video_detect_create(1280, 720);
	struct region video = one(100, 100, 640, 360), moving, settled;
	uint64_t t = 1000;
	struct rect inside = {200, 200, 100, 100}, edge = {64, 64, 704, 448},
	            beyond = {700, 200, 100, 20}, far = {1000, 600, 10, 10}, off = {2000, 0, 5, 5};

	ck_assert(!video_detect_covers(d, &inside)); /* nothing moves yet */
	for (int i = 0; i < VIDEO_MIN_CHANGES; i++, t += 33)
		video_detect_frame(d, &video, t, &moving, &settled);
	ck_assert(video_detect_covers(d, &inside));
	ck_assert(video_detect_covers(d, &edge));
	ck_assert(!video_detect_covers(d, &beyond)); /* reaches column 12, still */
	ck_assert(!video_detect_covers(d, &far));
	ck_assert(video_detect_covers(d, &off)); /* outside the picture: nothing to send */
	struct region none;
	region_init(&none);
	video_detect_frame(d, &none, t + VIDEO_SETTLE_MS, &moving, &settled);
	ck_assert(!video_detect_covers(d, &inside));
	video_detect_destroy(d);
}
END_TEST

START_TEST(caret_and_typing_never_move)
{
	struct video_detect *d = video_detect_create(1920, 1080);
	struct region moving, settled;
	uint64_t t = 0;

	/* A caret blinking twice a second and characters typed 6 a second, for 10 s,
	 * in a text field four tiles wide. */
	for (int i = 0; i < 60; i++, t += 166) {
		struct region typed = one(200 + (i % 40) * 6, 300, 8, 20);
		video_detect_frame(d, &typed, t, &moving, &settled);
		ck_assert_uint_eq(moving.n, 0);
		if (i % 3 == 0) {
			struct region caret = one(200, 300, 2, 20);
			video_detect_frame(d, &caret, t + 80, &moving, &settled);
			ck_assert_uint_eq(moving.n, 0);
		}
	}
	ck_assert_uint_eq(settled.n, 0);
	video_detect_destroy(d);
}
END_TEST

START_TEST(small_animation_is_not_video)
{
	struct video_detect *d = video_detect_create(1280, 720);
	struct region spinner = one(10, 10, 32, 32), moving, settled;

	for (uint64_t t = 0; t < 3000; t += 33) {
		video_detect_frame(d, &spinner, t, &moving, &settled);
		ck_assert_uint_eq(moving.n, 0);
	}
	/* Never sent lossy, so never reported as settled either. */
	struct region none;
	region_init(&none);
	video_detect_frame(d, &none, 5000, &moving, &settled);
	ck_assert_uint_eq(settled.n, 0);
	video_detect_destroy(d);
}
END_TEST

START_TEST(slow_changes_do_not_accumulate)
{
	struct video_detect *d = video_detect_create(640, 480);
	struct region area = one(0, 0, 640, 480), moving, settled;

	/* Enough changes, but spread over more than the window. */
	for (uint64_t t = 0; t < VIDEO_MIN_CHANGES * 200; t += 200) {
		video_detect_frame(d, &area, t, &moving, &settled);
		ck_assert_uint_eq(moving.n, 0);
	}
	video_detect_reset(d);
	video_detect_destroy(d);
}
END_TEST

/*
 * A slow link: captures come 30 a second, frames go out twice a second.
 * Counted per frame sent, the video would never qualify; counted per
 * capture, it is moving at the first frame sent after 10 captures, and
 * settles from the captures too, with no frame sent in between.
 */
START_TEST(captures_count_not_frames_sent)
{
	struct video_detect *d = video_detect_create(1920, 1080);
	struct video_detect *per_frame = video_detect_create(1920, 1080);
	struct region video = one(24, 100, 640, 360), moving, settled, moving_pf, settled_pf;
	uint64_t t = 0;
	bool seen = false;

	for (int i = 1; i <= 60; i++, t += 33) {
		video_detect_observe(d, &video, t);
		if (i % 15)
			continue; /* a frame goes out every 500 ms */
		video_detect_classify(d, t, &moving, &settled);
		video_detect_frame(per_frame, &video, t, &moving_pf, &settled_pf);
		ck_assert_uint_eq(moving_pf.n, 0);
		ck_assert_uint_eq(settled.n, 0);
		ck_assert_uint_gt(moving.n, 0); /* 15 captures in 495 ms before the first */
		ck_assert_int_eq(region_area(&moving), (int64_t)704 * 448);
		seen = true;
	}
	ck_assert(seen);
	/* The video stops: captures of something else only (a caret), then a frame. */
	struct region caret = one(1500, 900, 2, 20);
	video_detect_observe(d, &caret, t + 100);
	video_detect_classify(d, t + 100, &moving, &settled);
	ck_assert_uint_gt(moving.n, 0);
	video_detect_classify(d, t + VIDEO_SETTLE_MS, &moving, &settled);
	ck_assert_uint_eq(moving.n, 0);
	ck_assert_int_eq(region_area(&settled), (int64_t)704 * 448);
	ck_assert(!video_detect_busy(d));

	/* Several rectangles of one capture touch a tile once: 9 captures are not enough. */
	video_detect_reset(d);
	struct region many = one(1000, 450, 256, 8);
	struct rect more = {1000, 470, 256, 8}, all = {0, 0, 1920, 1080};
	region_add(&many, &more, &all, 0);
	for (int i = 0; i < VIDEO_MIN_CHANGES - 1; i++)
		video_detect_observe(d, &many, 10000 + (uint64_t)i * 33);
	video_detect_classify(d, 10000 + 9 * 33, &moving, &settled);
	ck_assert_uint_eq(moving.n, 0);
	video_detect_destroy(d);
	video_detect_destroy(per_frame);
}
END_TEST

START_TEST(edges_and_bad_sizes)
{
	ck_assert_ptr_null(video_detect_create(0, 100));
	ck_assert_ptr_null(video_detect_create(100, 9000));
	struct video_detect *d = video_detect_create(100, 70); /* partial edge tiles */
	struct region outside = one(-50, -50, 400, 400), moving, settled;
	uint64_t t = 0;
	for (int i = 0; i < VIDEO_MIN_CHANGES; i++, t += 20)
		video_detect_frame(d, &outside, t, &moving, &settled);
	ck_assert_int_eq(region_area(&moving), 100 * 70);
	video_detect_reset(d);
	ck_assert(!video_detect_busy(d));
	video_detect_frame(d, &outside, t, &moving, &settled);
	ck_assert_uint_eq(moving.n, 0);
	video_detect_destroy(d);
}
END_TEST

/*
 * Paced rules (VNC: the frames a slow viewer asked for): a video seen 4
 * times a second becomes moving within the window; under the capture
 * rules the same frames never would. It settles only after the longer
 * quiet, so a gap between two slow frames does not end it.
 */
START_TEST(paced_rules_see_a_slow_video)
{
	struct video_detect *paced = video_detect_create(1280, 720);
	struct video_detect *capture = video_detect_create(1280, 720);
	struct region video = one(100, 100, 640, 360), none, moving, settled, m2, s2;
	const uint64_t step = 250; /* 4 frames a second */
	uint64_t t = 1000;

	region_init(&none);
	video_detect_set_rules(paced, &video_rules_paced);
	ck_assert_uint_lt(video_rules_paced.min_changes, VIDEO_MIN_CHANGES);
	ck_assert_uint_gt((video_rules_paced.min_changes - 1) * step, 0);
	ck_assert_uint_le((video_rules_paced.min_changes - 1) * step, video_rules_paced.window_ms);
	for (uint32_t i = 0; i + 1 < video_rules_paced.min_changes; i++, t += step) {
		video_detect_frame(paced, &video, t, &moving, &settled);
		ck_assert_uint_eq(moving.n, 0);
	}
	for (int i = 0; i < 20; i++, t += step) {
		video_detect_frame(paced, &video, t, &moving, &settled);
		ck_assert_msg(moving.n > 0, "not moving at paced frame %d", i);
		ck_assert_uint_eq(settled.n, 0);
		video_detect_frame(capture, &video, t, &m2, &s2);
		ck_assert_uint_eq(m2.n, 0);
	}
	/* A slow frame 500 ms late: still moving. */
	t += 500 - step;
	video_detect_frame(paced, &none, t, &moving, &settled);
	ck_assert_uint_gt(moving.n, 0);
	video_detect_frame(paced, &none, t - 500 + video_rules_paced.settle_ms, &moving, &settled);
	ck_assert_uint_eq(moving.n, 0);
	ck_assert_int_eq(region_area(&settled), (int64_t)704 * 448);
	/* And stays still: the changes before the stop do not count again. */
	video_detect_frame(paced, &none, t - 500 + video_rules_paced.settle_ms + 50, &moving,
	                   &settled);
	ck_assert_uint_eq(moving.n, 0);
	ck_assert_uint_eq(settled.n, 0);
	video_detect_destroy(paced);
	video_detect_destroy(capture);
}
END_TEST

/*
 * Paced rules while captures come at their own rate (VNC while something
 * moves): a 30 fps video qualifies within a second; a block that a key
 * press a second redraws over three captures never does.
 */
START_TEST(paced_rules_count_close_changes_once)
{
	struct video_detect *d = video_detect_create(1280, 720);
	struct region video = one(100, 100, 640, 360), flip = one(700, 400, 480, 240), none;
	struct region moving, settled;
	uint64_t t = 1000;

	region_init(&none);
	video_detect_set_rules(d, &video_rules_paced);
	for (int i = 0; i < 150; i++, t += 33) {
		bool flipping = i % 30 < 3; /* three captures of each press */
		video_detect_frame(d, flipping ? &flip : &none, t, &moving, &settled);
		ck_assert_msg(moving.n == 0, "the key-press block moves at capture %d", i);
	}
	for (int i = 0; i < 30; i++, t += 33)
		video_detect_frame(d, &video, t, &moving, &settled);
	ck_assert_uint_gt(moving.n, 0);
	struct rect e = region_extents(&moving);
	ck_assert_int_eq(e.x + e.w, 768); /* the video's tiles only */
	video_detect_destroy(d);
}
END_TEST

/* A caret blinking every 500 ms never moves under the paced rules either. */
START_TEST(paced_rules_ignore_a_caret)
{
	struct video_detect *d = video_detect_create(1280, 720);
	struct region caret = one(300, 200, 2, 18), wide = one(300, 200, 260, 18), none;
	struct region moving, settled;

	region_init(&none);
	video_detect_set_rules(d, &video_rules_paced);
	for (uint64_t t = 1000; t < 11000; t += 500) {
		video_detect_frame(d, (t / 500) % 2 ? &caret : &wide, t, &moving, &settled);
		ck_assert(!video_detect_busy(d));
		video_detect_frame(d, &none, t + 250, &moving, &settled);
	}
	video_detect_destroy(d);
}
END_TEST

/* Answers to input never make a tile moving, but keep a moving one from settling. */
START_TEST(answers_keep_but_never_make_moving)
{
	struct video_detect *d = video_detect_create(1280, 720);
	struct region video = one(100, 100, 640, 360), moving, settled;
	uint64_t t = 1000;

	for (int i = 0; i < 60; i++, t += 33) {
		video_detect_touch(d, &video, t);
		video_detect_classify(d, t, &moving, &settled);
		ck_assert_uint_eq(moving.n, 0);
	}
	for (int i = 0; i < VIDEO_MIN_CHANGES; i++, t += 33)
		video_detect_frame(d, &video, t, &moving, &settled);
	ck_assert_uint_gt(moving.n, 0);
	/* Only answers for twice the settle time: still moving. */
	for (uint64_t end = t + 2 * VIDEO_SETTLE_MS; t < end; t += 33) {
		video_detect_touch(d, &video, t);
		video_detect_classify(d, t, &moving, &settled);
		ck_assert_uint_gt(moving.n, 0);
	}
	video_detect_classify(d, t + VIDEO_SETTLE_MS, &moving, &settled);
	ck_assert_uint_eq(moving.n, 0);
	ck_assert_uint_gt(settled.n, 0);
	video_detect_destroy(d);
}
END_TEST

Suite *suite_video_detect(void);
Suite *suite_video_detect(void)
{
	Suite *s = suite_create("video_detect");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, video_area_moves_then_settles);
	tcase_add_test(tc, covers_only_moving_tiles);
	tcase_add_test(tc, caret_and_typing_never_move);
	tcase_add_test(tc, small_animation_is_not_video);
	tcase_add_test(tc, slow_changes_do_not_accumulate);
	tcase_add_test(tc, captures_count_not_frames_sent);
	tcase_add_test(tc, edges_and_bad_sizes);
	tcase_add_test(tc, paced_rules_see_a_slow_video);
	tcase_add_test(tc, paced_rules_count_close_changes_once);
	tcase_add_test(tc, answers_keep_but_never_make_moving);
	tcase_add_test(tc, paced_rules_ignore_a_caret);
	suite_add_tcase(s, tc);
	return s;
}
