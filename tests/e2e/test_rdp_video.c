/*
 * H.264 over RDP's graphics pipeline, seen by libfreerdp-client with its
 * own AVC420 decoder: while a 640x360 canvas plays (tests/pages/video.html)
 * the moving area comes as AVC420, the rest as planar; once the canvas stops,
 * the area is refreshed lossless, so the picture equals, pixel for pixel,
 * what a lossless-only client of the same session shows.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

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

static struct shojid_proc d;

static struct rdp_client *login(bool gfx, bool h264)
{
	struct rdp_client_options opt = {
	    .port = d.rdp_port,
	    .user = "demo",
	    .password = PASSWORD,
	    .width = 1024,
	    .height = 768,
	    .gfx = gfx,
	    .h264 = h264,
	};
	struct rdp_client *c = rdp_client_connect(&opt);
	ck_assert_msg(c, "cannot log in (%s/freerdp-client.log, %s)", d.root, d.log_path);
	return c;
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
	ck_abort_msg("%s never showed (screen in %s)", what, path);
}

START_TEST(moving_area_goes_h264_then_lossless)
{
	int x, y, x2, y2;
	char url[96];

	ck_assert_msg(shojid_setup(&d, NULL) == 0, "harness setup failed (%s)", d.root);
	ck_assert_int_eq(shojid_add_user(&d, "demo", PASSWORD), 0);
	rdp_client_log_to(d.root, "freerdp-client.log");
	ck_assert_msg(shojid_launch(&d, 120000) == 0, "shojid did not get ready (%s)", d.log_path);

	struct rdp_client *c = login(true, true);
	ck_assert_msg(rdp_client_wait_color(c, 0xff0000, 90000, &x, &y), "no start page");
	/* To the video page: Ctrl+L, the address, Enter. */
	ck_assert_int_eq(rdp_client_key(c, SC_CTRL, true), 0);
	press(c, SC_L);
	ck_assert_int_eq(rdp_client_key(c, SC_CTRL, false), 0);
	ck_assert_int_eq(rdp_client_pump(c, 300), 0);
	/* Keys, not Unicode text; ":" is its own key (0x28) on the session's Japanese layout. */
	snprintf(url, sizeof(url), "%d/video.html", d.pages.port);
	ck_assert_int_eq(rdp_client_type_scancodes(c, "127.0.0.1"), 0);
	press(c, SC_COLON_JP);
	ck_assert_int_eq(rdp_client_type_scancodes(c, url), 0);
	press(c, SC_ENTER);
	wait_color(c, PLAYING, "the playing video page", &x, &y);
	wait_color(c, STOPPED, "the stopped video page", &x, &y);
	int avc = rdp_client_codec_count(c, CODEC_AVC420);
	int planar = rdp_client_codec_count(c, CODEC_PLANAR);
	ck_assert_msg(avc > 0, "no AVC420 while the canvas played (%d planar)", planar);
	ck_assert_int_gt(planar, 0);
	ck_assert(shojid_log_wait(&d, "H.264 (AVC420) for moving areas", 1000));

	/* After the lossless refresh: the same pixels as a client without H.264. */
	ck_assert_int_eq(rdp_client_pump(c, 2000), 0);
	int cx = x + 20, cy = y + 40 + 20; /* the canvas, below the banner */
	struct rdp_client *c2 = login(false, false);
	wait_color(c2, STOPPED, "the stopped video page over bitmap updates", &x2, &y2);
	ck_assert_int_eq(rdp_client_pump(c2, 1000), 0);
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
	rdp_client_destroy(c);
	rdp_client_destroy(c2);
	ck_assert_msg(shojid_alive(&d), "shojid died (%s)", d.log_path);
	ck_assert_int_eq(shojid_stop(&d, 30000), 0);
	shojid_cleanup(&d);
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
	return s;
}
