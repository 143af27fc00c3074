/*
 * The GStreamer H.264 encoder, decoded by FreeRDP's AVC420 decoder (what
 * xfreerdp runs): pictures come back close to what went in, key frames come
 * when asked, the bit rate limit changes the output, bad sizes and unknown
 * encoders are refused.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#include <freerdp/codec/color.h>
#include <freerdp/codec/h264.h>

#include "h264_encoder.h"

#define W 320
#define H 240

/* A picture with edges, text-like stripes and a moving block. */
static void draw(uint8_t *px, unsigned frame)
{
	for (unsigned y = 0; y < H; y++)
		for (unsigned x = 0; x < W; x++) {
			uint8_t *p = px + (y * W + x) * 4;
			bool block =
			    x >= 40 + frame * 8 && x < 120 + frame * 8 && y >= 60 && y < 140;
			p[0] = block ? 30 : (uint8_t)(x * 255 / W);
			p[1] = block ? 200 : (uint8_t)(y * 255 / H);
			p[2] = (y / 8) % 2 ? 220 : 40;
			p[3] = 0xff;
		}
}

static double psnr(const uint8_t *a, const uint8_t *b)
{
	double se = 0;
	for (size_t i = 0; i < (size_t)W * H * 4; i++) {
		if (i % 4 == 3)
			continue;
		double d = (double)a[i] - b[i];
		se += d * d;
	}
	double mse = se / ((double)W * H * 3);
	return mse == 0 ? 99 : 10 * log10(255.0 * 255.0 / mse);
}

static size_t encode_frames(unsigned kbps, unsigned n, double *min_psnr, uint64_t *keys,
                            bool key_at_5)
{
	char err[256] = "";
	struct h264_encoder *e = h264_encoder_create("x264enc", W, H, kbps, err, sizeof(err));
	ck_assert_msg(e != NULL, "%s", err);
	H264_CONTEXT *dec = h264_context_new(FALSE);
	ck_assert_ptr_nonnull(dec);
	ck_assert(h264_context_reset(dec, W, H));
	uint8_t *src = malloc((size_t)W * H * 4), *dst = calloc((size_t)W * H, 4);
	RECTANGLE_16 whole = {0, 0, W, H};
	size_t total = 0;
	*min_psnr = 99;

	for (unsigned f = 0; f < n; f++) {
		const uint8_t *au;
		size_t len;
		draw(src, f);
		ck_assert_msg(h264_encoder_encode(e, src, W * 4, f == 0 || (key_at_5 && f == 5),
		                                  &au, &len, err, sizeof(err)) == 0,
		              "%s", err);
		ck_assert_uint_gt(len, 0);
		total += len;
		int rc = avc420_decompress(dec, au, (UINT32)len, dst, PIXEL_FORMAT_BGRX32, W * 4, W,
		                           H, &whole, 1);
		ck_assert_int_ge(rc, 0);
		double q = psnr(src, dst);
		if (q < *min_psnr)
			*min_psnr = q;
	}
	uint64_t frames;
	h264_encoder_counts(e, &frames, keys);
	ck_assert_uint_eq(frames, n);
	free(src);
	free(dst);
	h264_context_free(dec);
	h264_encoder_destroy(e);
	return total;
}

START_TEST(decodes_close_to_source)
{
	double q;
	uint64_t keys;
	encode_frames(4000, 10, &q, &keys, false);
	ck_assert_msg(q > 30, "PSNR %.1f dB", q);
	ck_assert_uint_eq(keys, 1);
}
END_TEST

/* Over TCP nothing is lost: past ten seconds of pictures, still the first key frame only. */
START_TEST(no_periodic_key_frames)
{
	double q;
	uint64_t keys;
	encode_frames(1000, 320, &q, &keys, false);
	ck_assert_uint_eq(keys, 1);
}
END_TEST

START_TEST(key_frame_on_request)
{
	double q;
	uint64_t keys;
	encode_frames(4000, 10, &q, &keys, true);
	ck_assert_uint_eq(keys, 2);
}
END_TEST

START_TEST(bit_rate_limits_output)
{
	double q_low, q_high;
	uint64_t keys;
	size_t low = encode_frames(100, 20, &q_low, &keys, false);
	size_t high = encode_frames(8000, 20, &q_high, &keys, false);
	ck_assert_msg(low * 2 < high, "100 kbit/s: %zu bytes, 8000 kbit/s: %zu bytes", low, high);
	ck_assert_msg(q_high > q_low, "PSNR %.1f at 8000 kbit/s, %.1f at 100", q_high, q_low);
}
END_TEST

START_TEST(refuses_bad_arguments)
{
	char err[256] = "";
	ck_assert_ptr_null(h264_encoder_create("ffmpegenc", W, H, 1000, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "unknown H.264 encoder"));
	ck_assert_ptr_null(h264_encoder_create("x264enc", 321, H, 1000, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "even"));
	ck_assert_ptr_null(h264_encoder_create("x264enc", 8, 8, 1000, err, sizeof(err)));
	ck_assert_ptr_null(h264_encoder_create("x264enc", 8192, 64, 1000, err, sizeof(err)));
	ck_assert(h264_encoder_known("openh264enc"));
	ck_assert(!h264_encoder_known("x264enc "));
}
END_TEST

Suite *suite_h264_encoder(void);
Suite *suite_h264_encoder(void)
{
	Suite *s = suite_create("h264_encoder");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, decodes_close_to_source);
	tcase_add_test(tc, key_frame_on_request);
	tcase_add_test(tc, no_periodic_key_frames);
	tcase_add_test(tc, bit_rate_limits_output);
	tcase_add_test(tc, refuses_bad_arguments);
	suite_add_tcase(s, tc);
	return s;
}
