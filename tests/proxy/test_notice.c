/*
 * The end-of-session notice (notice.c): the band is drawn where it says,
 * in its colour, with white text in it, and nothing outside it changes;
 * screens too small or strides too short are refused untouched.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "notice.h"

Suite *suite_notice(void);

static uint32_t px(const uint8_t *p, size_t stride, int x, int y)
{
	const uint8_t *q = p + (size_t)y * stride + (size_t)x * 4;
	return (uint32_t)q[2] << 16 | (uint32_t)q[1] << 8 | q[0];
}

START_TEST(band_text_and_nothing_else)
{
	enum { W = 640, H = 400 };
	size_t stride = W * 4;
	uint8_t *fb = malloc(stride * H);
	int y0, y1, white = 0;

	ck_assert_ptr_nonnull(fb);
	memset(fb, 0x11, stride * H);
	ck_assert_int_eq(notice_draw(fb, W, H, stride,
	                             "ブラウザのセッションが終了しました。\nThe session has ended.",
	                             &y0, &y1),
	                 0);
	ck_assert_int_eq(y1 - y0, NOTICE_BAND_HEIGHT);
	ck_assert_int_eq(y0, (H - NOTICE_BAND_HEIGHT) / 2);
	ck_assert_uint_eq(px(fb, stride, 0, y0), NOTICE_BAND_RGB);
	ck_assert_uint_eq(px(fb, stride, W - 1, y1 - 1), NOTICE_BAND_RGB);
	for (int y = y0; y < y1; y++)
		for (int x = 0; x < W; x++)
			white += px(fb, stride, x, y) == 0xffffff;
	ck_assert_int_gt(white, 100);
	for (int y = 0; y < H; y++) {
		if (y >= y0 && y < y1)
			continue;
		for (int x = 0; x < W; x++)
			ck_assert_uint_eq(px(fb, stride, x, y), 0x111111);
	}
	free(fb);
}
END_TEST

START_TEST(small_screens_and_bad_strides)
{
	uint8_t fb[64 * 64 * 4];
	int y0 = -1, y1 = -1;

	memset(fb, 0x22, sizeof(fb));
	ck_assert_int_eq(notice_draw(fb, 8, 8, 32, "x", &y0, &y1), -1);
	ck_assert_int_eq(notice_draw(fb, 64, 64, 64, "x", &y0, &y1), -1); /* stride < width * 4 */
	for (size_t i = 0; i < sizeof(fb); i++)
		ck_assert_uint_eq(fb[i], 0x22);
	/* Lower than a band: the band is the whole screen; a long text stays inside. */
	ck_assert_int_eq(notice_draw(fb, 64, 64, 256,
	                             "a very long line that cannot fit in sixty-four pixels at all",
	                             &y0, &y1),
	                 0);
	ck_assert_int_eq(y0, 0);
	ck_assert_int_eq(y1, 64);
	ck_assert_uint_eq(px(fb, 256, 0, 0), NOTICE_BAND_RGB);
}
END_TEST

Suite *suite_notice(void)
{
	Suite *s = suite_create("notice");
	TCase *tc = tcase_create("notice");

	tcase_add_test(tc, band_text_and_nothing_else);
	tcase_add_test(tc, small_screens_and_bad_strides);
	suite_add_tcase(s, tc);
	return s;
}
