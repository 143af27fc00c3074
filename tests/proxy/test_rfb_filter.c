/*
 * Tests of the RFB client message whitelist: every allowed type with its
 * exact length and decoded fields, "need more" for every prefix, each
 * refused type with its reason from its first byte, oversized and malformed
 * allowed messages refused as soon as their header shows it, and the
 * SetEncodings helpers.
 */
#include "autoconfig.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "rfb_filter.h"

Suite *suite_rfb_filter(void);

/*
 * One whole allowed message: every prefix needs more, the message alone and
 * the message followed by other bytes both parse to its exact length.
 */
static void parse_ok(const void *bytes, size_t len, struct rfb_client_msg *msg)
{
	uint8_t *more = malloc(len + 8);

	for (size_t k = 0; k < len; k++)
		ck_assert_int_eq(rfb_client_msg(bytes, k, msg), 0);
	memcpy(more, bytes, len);
	memset(more + len, 0xff, 8);
	ck_assert_int_eq(rfb_client_msg(more, len + 8, msg), (ssize_t)len);
	free(more);
	ck_assert_int_eq(rfb_client_msg(bytes, len, msg), (ssize_t)len);
	ck_assert_uint_eq(msg->len, len);
	ck_assert_str_eq(msg->reason, "");
}

/* Refused once `at` bytes are there; shorter prefixes need more. */
static void parse_refused(const void *bytes, size_t at, struct rfb_client_msg *msg)
{
	for (size_t k = 0; k < at; k++)
		ck_assert_int_eq(rfb_client_msg(bytes, k, msg), 0);
	ck_assert_int_eq(rfb_client_msg(bytes, at, msg), -1);
	ck_assert_uint_eq(msg->type, ((const uint8_t *)bytes)[0]);
	ck_assert_str_ne(msg->reason, "");
}

/* --- allowed --- */

static const uint8_t pf_true32[20] = {0, 0,   0, 0,   32, 24, 0, 1, 0, 255,
                                      0, 255, 0, 255, 16, 8,  0, 0, 0, 0};

START_TEST(test_set_pixel_format)
{
	struct rfb_client_msg msg;

	parse_ok(pf_true32, sizeof(pf_true32), &msg);
	ck_assert_uint_eq(msg.type, RFB_MSG_SET_PIXEL_FORMAT);
	ck_assert_uint_eq(msg.u.pixel_format.bpp, 32);
	ck_assert_uint_eq(msg.u.pixel_format.depth, 24);
	ck_assert(!msg.u.pixel_format.big_endian);
	ck_assert(msg.u.pixel_format.true_colour);
	ck_assert_uint_eq(msg.u.pixel_format.red_max, 255);
	ck_assert_uint_eq(msg.u.pixel_format.red_shift, 16);
	ck_assert_uint_eq(msg.u.pixel_format.blue_shift, 0);

	/* RGB565, BGR233 and an 8-bit colour map */
	const uint8_t rgb565[20] = {0, 0, 0, 0, 16, 16, 1, 1, 0, 31, 0, 63, 0, 31, 11, 5, 0};
	parse_ok(rgb565, 20, &msg);
	ck_assert(msg.u.pixel_format.big_endian);
	const uint8_t bgr233[20] = {0, 0, 0, 0, 8, 8, 0, 1, 0, 7, 0, 7, 0, 3, 0, 3, 6};
	parse_ok(bgr233, 20, &msg);
	const uint8_t map8[20] = {0, 0, 0, 0, 8, 8, 0, 0};
	parse_ok(map8, 20, &msg);
	ck_assert(!msg.u.pixel_format.true_colour);
}
END_TEST

START_TEST(test_bad_pixel_formats)
{
	struct {
		int at, value; /* byte to change in pf_true32 */
	} bad[] = {
	    {4, 24},             /* 24 bits per pixel */
	    {4, 0},              /* 0 bits per pixel */
	    {5, 0},              /* depth 0 */
	    {5, 33},             /* depth above bpp */
	    {9, 254},            /* red max not 2^k - 1 */
	    {9, 0},              /* red max 0 */
	    {14, 25},            /* red 255 << 25 leaves the pixel */
	    {14, 200}, {15, 12}, /* green overlaps red */
	    {16, 8},             /* blue on green */
	    {7, 0},              /* colour map at 32 bpp */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t m[20];
		struct rfb_client_msg msg;
		memcpy(m, pf_true32, sizeof(m));
		m[bad[i].at] = (uint8_t)bad[i].value;
		parse_refused(m, sizeof(m), &msg);
		ck_assert_ptr_nonnull(strstr(msg.reason, "SetPixelFormat with an unusable format"));
	}
}
END_TEST

START_TEST(test_set_encodings)
{
	struct rfb_client_msg msg;
	const uint8_t none[] = {2, 0, 0, 0};
	const uint8_t three[] = {2,    0,    0,    3,    0,    0,    0,    7,
	                         0xff, 0xff, 0xff, 0x11, 0xff, 0xff, 0xfe, 0xcc};

	parse_ok(none, sizeof(none), &msg);
	ck_assert_uint_eq(msg.u.encodings.count, 0);
	ck_assert(!rfb_encodings_has(&msg, RFB_ENCODING_RAW));

	parse_ok(three, sizeof(three), &msg);
	ck_assert_uint_eq(msg.type, RFB_MSG_SET_ENCODINGS);
	ck_assert_uint_eq(msg.u.encodings.count, 3);
	ck_assert_int_eq(msg.u.encodings.list[0], RFB_ENCODING_TIGHT);
	ck_assert_int_eq(msg.u.encodings.list[1], -239);
	ck_assert_int_eq(msg.u.encodings.list[2], -308);
	ck_assert(rfb_encodings_has(&msg, RFB_ENCODING_RICH_CURSOR));
	ck_assert(rfb_encodings_has(&msg, RFB_ENCODING_EXTENDED_DESKTOP_SIZE));
	ck_assert(!rfb_encodings_has(&msg, RFB_ENCODING_DESKTOP_SIZE));
}
END_TEST

START_TEST(test_set_encodings_limits)
{
	static uint8_t m[4 + 4 * (RFB_MAX_ENCODINGS + 1)];
	struct rfb_client_msg msg;

	m[0] = 2;
	m[3] = RFB_MAX_ENCODINGS;
	for (int i = 0; i < RFB_MAX_ENCODINGS; i++)
		m[4 + 4 * i + 3] = (uint8_t)i;
	parse_ok(m, 4 + 4 * RFB_MAX_ENCODINGS, &msg);
	ck_assert_uint_eq(msg.u.encodings.count, RFB_MAX_ENCODINGS);
	ck_assert_int_eq(msg.u.encodings.list[RFB_MAX_ENCODINGS - 1], RFB_MAX_ENCODINGS - 1);

	/* 65, or 65535, refused from the 4-byte header. */
	m[3] = RFB_MAX_ENCODINGS + 1;
	parse_refused(m, 4, &msg);
	ck_assert_str_eq(msg.reason, "SetEncodings lists 65 encodings, at most 64 are allowed");
	m[2] = m[3] = 0xff;
	parse_refused(m, 4, &msg);
}
END_TEST

START_TEST(test_encodings_remove_and_write)
{
	struct rfb_client_msg msg, again;
	const uint8_t in[] = {2, 0,  0,    4,    0xc0, 0xa1, 0xe5, 0xce, 0,    0,
	                      0, 16, 0xc0, 0xa1, 0xe5, 0xce, 0xff, 0xff, 0xff, 0x21};
	const uint8_t want[] = {2, 0, 0, 2, 0, 0, 0, 16, 0xff, 0xff, 0xff, 0x21};
	uint8_t out[4 + 4 * RFB_MAX_ENCODINGS];

	parse_ok(in, sizeof(in), &msg);
	ck_assert(rfb_encodings_has(&msg, RFB_ENCODING_EXTENDED_CLIPBOARD));
	ck_assert_uint_eq(rfb_encodings_remove(&msg, RFB_ENCODING_EXTENDED_CLIPBOARD), 2);
	ck_assert(!rfb_encodings_has(&msg, RFB_ENCODING_EXTENDED_CLIPBOARD));
	ck_assert_uint_eq(rfb_encodings_remove(&msg, RFB_ENCODING_EXTENDED_CLIPBOARD), 0);
	ck_assert_uint_eq(rfb_encodings_write(&msg, out, sizeof(out)), sizeof(want));
	ck_assert_mem_eq(out, want, sizeof(want));
	ck_assert_uint_eq(rfb_encodings_write(&msg, out, sizeof(want) - 1), 0);
	ck_assert_int_eq(rfb_client_msg(out, sizeof(want), &again), (ssize_t)sizeof(want));
	ck_assert(rfb_encodings_has(&again, RFB_ENCODING_DESKTOP_SIZE));

	/* Not a SetEncodings: the helpers do nothing. */
	ck_assert_int_eq(rfb_client_msg((const uint8_t *)"\5\0\0\0\0\0", 6, &msg), 6);
	ck_assert(!rfb_encodings_has(&msg, 0));
	ck_assert_uint_eq(rfb_encodings_remove(&msg, 0), 0);
	ck_assert_uint_eq(rfb_encodings_write(&msg, out, sizeof(out)), 0);
}
END_TEST

START_TEST(test_update_request)
{
	struct rfb_client_msg msg;
	const uint8_t m[] = {3, 1, 0, 10, 0, 20, 0x07, 0x80, 0x04, 0x38};

	parse_ok(m, sizeof(m), &msg);
	ck_assert_uint_eq(msg.type, RFB_MSG_UPDATE_REQUEST);
	ck_assert(msg.u.update.incremental);
	ck_assert_uint_eq(msg.u.update.x, 10);
	ck_assert_uint_eq(msg.u.update.y, 20);
	ck_assert_uint_eq(msg.u.update.w, 1920);
	ck_assert_uint_eq(msg.u.update.h, 1080);
}
END_TEST

START_TEST(test_key_and_pointer)
{
	struct rfb_client_msg msg;
	const uint8_t key[] = {4, 1, 0, 0, 0, 0, 0xff, 0x0d};
	const uint8_t up[] = {4, 0, 0, 0, 0, 0, 0x30, 0x42};
	const uint8_t ptr[] = {5, 0x05, 0x01, 0x2c, 0x00, 0xc8};

	parse_ok(key, sizeof(key), &msg);
	ck_assert_uint_eq(msg.type, RFB_MSG_KEY);
	ck_assert(msg.u.key.down);
	ck_assert_uint_eq(msg.u.key.keysym, 0xff0d);
	parse_ok(up, sizeof(up), &msg);
	ck_assert(!msg.u.key.down);
	ck_assert_uint_eq(msg.u.key.keysym, 0x3042);

	parse_ok(ptr, sizeof(ptr), &msg);
	ck_assert_uint_eq(msg.type, RFB_MSG_POINTER);
	ck_assert_uint_eq(msg.u.pointer.buttons, 5);
	ck_assert_uint_eq(msg.u.pointer.x, 300);
	ck_assert_uint_eq(msg.u.pointer.y, 200);
}
END_TEST

START_TEST(test_cut_text)
{
	struct rfb_client_msg msg;
	const uint8_t m[] = "\6\0\0\0\0\0\0\5hello";
	const uint8_t empty[] = {6, 0, 0, 0, 0, 0, 0, 0};

	parse_ok(m, 13, &msg);
	ck_assert_uint_eq(msg.type, RFB_MSG_CUT_TEXT);
	ck_assert_uint_eq(msg.u.cut_text.offset, 8);
	ck_assert_uint_eq(msg.u.cut_text.len, 5);
	ck_assert_mem_eq(m + msg.u.cut_text.offset, "hello", 5);
	parse_ok(empty, sizeof(empty), &msg);
	ck_assert_uint_eq(msg.u.cut_text.len, 0);
}
END_TEST

START_TEST(test_cut_text_limits)
{
	struct rfb_client_msg msg;
	uint8_t *m = calloc(1, RFB_MAX_CLIENT_MSG + 1);

	m[0] = 6;
	m[5] = 0x10; /* exactly 1 MiB */
	ck_assert_int_eq(rfb_client_msg(m, RFB_MAX_CLIENT_MSG - 1, &msg), 0);
	ck_assert_int_eq(rfb_client_msg(m, RFB_MAX_CLIENT_MSG + 1, &msg), RFB_MAX_CLIENT_MSG);
	ck_assert_uint_eq(msg.u.cut_text.len, RFB_MAX_CUT_TEXT);

	m[7] = 1; /* one byte more, refused from the header */
	parse_refused(m, 8, &msg);
	ck_assert_str_eq(msg.reason, "ClientCutText of 1048577 bytes is longer than the 1048576 "
	                             "allowed");
	/* Extended clipboard: a negative length. */
	memcpy(m + 4, "\xff\xff\xff\xfc", 4);
	parse_refused(m, 8, &msg);
	ck_assert_str_eq(msg.reason,
	                 "ClientCutText in the extended clipboard format is not allowed");
	memcpy(m + 4, "\x80\0\0\0", 4);
	parse_refused(m, 8, &msg);
	free(m);
}
END_TEST

/* --- extended clipboard --- */

static const struct rfb_filter_options ext_on = {.extended_clipboard = true};

/* Like parse_ok() and parse_refused(), with the extended clipboard allowed. */
static void ext_ok(const uint8_t *bytes, size_t len, struct rfb_client_msg *msg)
{
	/* Without the option, the same message is refused from its header. */
	parse_refused(bytes, 8, msg);
	for (size_t k = 0; k < len; k++)
		ck_assert_int_eq(rfb_client_msg_opt(bytes, k, &ext_on, msg), 0);
	ck_assert_int_eq(rfb_client_msg_opt(bytes, len, &ext_on, msg), (ssize_t)len);
	ck_assert_str_eq(msg->reason, "");
	ck_assert(msg->u.cut_text.extended);
}

static void ext_refused(const uint8_t *bytes, size_t at, struct rfb_client_msg *msg)
{
	for (size_t k = 0; k < at; k++)
		ck_assert_int_eq(rfb_client_msg_opt(bytes, k, &ext_on, msg), 0);
	ck_assert_int_eq(rfb_client_msg_opt(bytes, at, &ext_on, msg), -1);
	ck_assert_str_ne(msg->reason, "");
}

/* An extended ClientCutText of flags and payload (n bytes). */
static size_t ext_msg(uint8_t *out, uint32_t flags, const void *payload, size_t n)
{
	uint32_t len = (uint32_t)(4 + n);

	memset(out, 0, 8);
	out[0] = 6;
	out[4] = (uint8_t)((0u - len) >> 24), out[5] = (uint8_t)((0u - len) >> 16);
	out[6] = (uint8_t)((0u - len) >> 8), out[7] = (uint8_t)(0u - len);
	out[8] = (uint8_t)(flags >> 24), out[9] = (uint8_t)(flags >> 16);
	out[10] = (uint8_t)(flags >> 8), out[11] = (uint8_t)flags;
	if (n > 0)
		memcpy(out + 12, payload, n);
	return 12 + n;
}

/* A provide as a viewer makes it: zlib of u32 size then the text, finished or only flushed. */
static size_t viewer_provide(uint8_t *out, size_t cap, uint32_t flags, uint32_t size,
                             const void *text, size_t n, bool finish)
{
	uint8_t *plain = malloc(4 + n), *z = malloc(cap);
	z_stream zs = {0};

	plain[0] = (uint8_t)(size >> 24), plain[1] = (uint8_t)(size >> 16);
	plain[2] = (uint8_t)(size >> 8), plain[3] = (uint8_t)size;
	memcpy(plain + 4, text, n);
	ck_assert_int_eq(deflateInit(&zs, 9), Z_OK);
	zs.next_in = plain;
	zs.avail_in = (uInt)(4 + n);
	zs.next_out = z;
	zs.avail_out = (uInt)cap;
	ck_assert_int_ge(deflate(&zs, finish ? Z_FINISH : Z_SYNC_FLUSH), Z_OK);
	size_t zn = zs.total_out;
	deflateEnd(&zs);
	size_t len = ext_msg(out, flags, z, zn);
	free(plain);
	free(z);
	return len;
}

START_TEST(test_ext_clip_messages)
{
	struct rfb_client_msg msg;
	uint8_t m[64];
	const uint8_t sizes[8] = {0, 0, 0x20, 0, 0, 0, 0x10, 0};

	/* TigerVNC's caps: every action, text and rtf with their sizes. */
	size_t n = ext_msg(m, RFB_EXT_CLIP_ACTIONS | RFB_EXT_CLIP_TEXT | 2, sizes, 8);
	ext_ok(m, n, &msg);
	ck_assert_uint_eq(msg.type, RFB_MSG_CUT_TEXT);
	ck_assert_uint_eq(msg.u.cut_text.flags, RFB_EXT_CLIP_ACTIONS | 3);
	ck_assert_uint_eq(msg.u.cut_text.text_size, 0x2000);
	ck_assert_uint_eq(msg.u.cut_text.offset, 12);
	ck_assert_uint_eq(msg.u.cut_text.len, 8);
	/* Caps whose sizes do not match the formats listed. */
	n = ext_msg(m, RFB_EXT_CLIP_CAPS | RFB_EXT_CLIP_TEXT, sizes, 8);
	ext_refused(m, 12, &msg);
	ck_assert_str_eq(msg.reason, "extended clipboard caps with 8 bytes of sizes, not 4");

	n = ext_msg(m, RFB_EXT_CLIP_NOTIFY | RFB_EXT_CLIP_TEXT | 4, NULL, 0);
	ext_ok(m, n, &msg);
	ck_assert_uint_eq(msg.u.cut_text.len, 0);
	n = ext_msg(m, RFB_EXT_CLIP_REQUEST | RFB_EXT_CLIP_TEXT, NULL, 0);
	ext_ok(m, n, &msg);
	n = ext_msg(m, RFB_EXT_CLIP_PEEK, NULL, 0);
	ext_ok(m, n, &msg);

	/* Malformed: no action, two actions, data after a request, unknown bits. */
	ext_msg(m, RFB_EXT_CLIP_TEXT, NULL, 0);
	ext_refused(m, 12, &msg);
	ck_assert_str_eq(msg.reason,
	                 "extended ClientCutText with flags 0x00000001: not one action");
	ext_msg(m, RFB_EXT_CLIP_NOTIFY | RFB_EXT_CLIP_PROVIDE | 1, "x", 1);
	ext_refused(m, 12, &msg);
	ext_msg(m, RFB_EXT_CLIP_REQUEST | 1, "abcd", 4);
	ext_refused(m, 12, &msg);
	ext_msg(m, RFB_EXT_CLIP_PEEK | (1u << 20), NULL, 0);
	ext_refused(m, 12, &msg);
	ck_assert_str_eq(msg.reason, "extended ClientCutText with unknown flags 0x04100000");
	ext_msg(m, RFB_EXT_CLIP_PEEK | (1u << 31), NULL, 0);
	ext_refused(m, 12, &msg);
	/* Only text may be provided; a provide needs its stream. */
	ext_msg(m, RFB_EXT_CLIP_PROVIDE | 4, "zz", 2);
	ext_refused(m, 12, &msg);
	ck_assert_str_eq(msg.reason, "extended clipboard provide without text (flags 0x10000004); "
	                             "only text is allowed");
	ext_msg(m, RFB_EXT_CLIP_PROVIDE | 1, NULL, 0);
	ext_refused(m, 12, &msg);
}
END_TEST

START_TEST(test_ext_clip_lengths)
{
	struct rfb_client_msg msg;
	uint8_t *m = calloc(1, RFB_MAX_CLIENT_MSG + 1);

	/* Shorter than its flags: -3, and 0x80000000 (-2^31) is far too long. */
	memcpy(m, "\6\0\0\0\xff\xff\xff\xfd", 8);
	ext_refused(m, 8, &msg);
	ck_assert_str_eq(msg.reason, "extended ClientCutText of 3 bytes, shorter than its flags");
	memcpy(m + 4, "\x80\0\0\0", 4);
	ext_refused(m, 8, &msg);
	ck_assert_str_eq(msg.reason,
	                 "extended ClientCutText of 2147483648 bytes is longer than the "
	                 "1048576 allowed");
	/* Exactly 1 MiB: a provide is allowed (its stream is judged later), one more is not. */
	memcpy(m + 4, "\xff\xf0\0\0", 4);
	memcpy(m + 8, "\x10\0\0\x01", 4);
	ck_assert_int_eq(rfb_client_msg_opt(m, RFB_MAX_CLIENT_MSG - 1, &ext_on, &msg), 0);
	ck_assert_int_eq(rfb_client_msg_opt(m, RFB_MAX_CLIENT_MSG, &ext_on, &msg),
	                 RFB_MAX_CLIENT_MSG);
	ck_assert_uint_eq(msg.u.cut_text.len, RFB_MAX_CUT_TEXT - 4);
	memcpy(m + 4, "\xff\xef\xff\xff", 4);
	ext_refused(m, 8, &msg);
	free(m);
}
END_TEST

/* The text of a parsed provide message m (len bytes), up to max. */
static ssize_t provide_text(const uint8_t *m, size_t len, uint8_t *out, size_t max,
                            uint32_t *declared, char *why)
{
	struct rfb_client_msg msg;

	ck_assert_int_eq(rfb_client_msg_opt(m, len, &ext_on, &msg), (ssize_t)len);
	return rfb_ext_clip_text(m + msg.u.cut_text.offset, msg.u.cut_text.len, out, max, declared,
	                         why);
}

START_TEST(test_ext_clip_text)
{
	static const char jp[] = "日本語のテキスト";
	uint8_t m[512], out[64];
	char why[RFB_FILTER_REASON_LEN];
	uint32_t declared;

	/* As TigerVNC sends it (flushed) and as libvncclient does (finished), NUL included. */
	for (int finish = 0; finish < 2; finish++) {
		size_t n = viewer_provide(m, sizeof(m), RFB_EXT_CLIP_PROVIDE | 1, sizeof(jp), jp,
		                          sizeof(jp), finish);
		ck_assert_int_eq(provide_text(m, n, out, sizeof(out), &declared, why),
		                 (ssize_t)sizeof(jp));
		ck_assert_uint_eq(declared, sizeof(jp));
		ck_assert_mem_eq(out, jp, sizeof(jp));
		/* Bounded: only max bytes come out, whatever the text says. */
		ck_assert_int_eq(provide_text(m, n, out, 5, &declared, why), 5);
		ck_assert_mem_eq(out, jp, 5);
		ck_assert_int_eq(provide_text(m, n, out, 0, &declared, why), 0);
		ck_assert_uint_eq(declared, sizeof(jp));
	}
	/* Text and html: only the text is taken out. */
	size_t n =
	    viewer_provide(m, sizeof(m), RFB_EXT_CLIP_PROVIDE | 5, 3, "ab\0\0\0\0\4<b>", 11, false);
	ck_assert_int_eq(provide_text(m, n, out, sizeof(out), &declared, why), 3);
	ck_assert_mem_eq(out, "ab", 3);

	/* A stream that ends before the text it announced. */
	n = viewer_provide(m, sizeof(m), RFB_EXT_CLIP_PROVIDE | 1, 100, "short", 5, true);
	ck_assert_int_eq(provide_text(m, n, out, sizeof(out), &declared, why), -1);
	ck_assert_str_eq(why, "extended clipboard provide: the stream ends before the text it "
	                      "announced");
	/* Not zlib at all. */
	n = ext_msg(m, RFB_EXT_CLIP_PROVIDE | 1, "\1\2\3\4\5\6\7\10", 8);
	ck_assert_int_eq(provide_text(m, n, out, sizeof(out), &declared, why), -1);
	ck_assert_str_eq(why, "extended clipboard provide: broken zlib stream");
	/* A stream too short for the size. */
	n = viewer_provide(m, sizeof(m), RFB_EXT_CLIP_PROVIDE | 1, 0, "", 0, true);
	n = ext_msg(m, RFB_EXT_CLIP_PROVIDE | 1, m + 12, 3);
	ck_assert_int_eq(provide_text(m, n, out, sizeof(out), &declared, why), -1);
}
END_TEST

START_TEST(test_ext_clip_bomb)
{
	/* 64 MiB of zeros in well under a megabyte: refused by its size, nothing inflated. */
	size_t big = 64u << 20, cap = 1u << 20;
	uint8_t *zeros = calloc(1, big), *m = malloc(cap + 16), out[16];
	char why[RFB_FILTER_REASON_LEN];
	uint32_t declared;

	size_t n =
	    viewer_provide(m, cap, RFB_EXT_CLIP_PROVIDE | 1, (uint32_t)big, zeros, big, true);
	ck_assert_uint_lt(n, cap);
	ck_assert_int_eq(provide_text(m, n, out, sizeof(out), &declared, why), -1);
	ck_assert_str_eq(why, "extended clipboard provide says its text is 67108864 bytes; at most "
	                      "16777216 are allowed");
	/* One that claims 16 bytes but holds 64 MiB: only 16 come out. */
	n = viewer_provide(m, cap, RFB_EXT_CLIP_PROVIDE | 1, 16, zeros, big, true);
	ck_assert_int_eq(provide_text(m, n, out, sizeof(out), &declared, why), 16);
	/* One that claims the most allowed: only what the caller takes is inflated. */
	n = viewer_provide(m, cap, RFB_EXT_CLIP_PROVIDE | 1, RFB_MAX_EXT_CLIP_DECLARED, zeros, big,
	                   true);
	ck_assert_int_eq(provide_text(m, n, out, sizeof(out), &declared, why), 16);
	free(m);
	free(zeros);
}
END_TEST

START_TEST(test_ext_clip_write)
{
	struct rfb_client_msg msg;
	uint8_t m[16], p[256], out[64];
	char why[RFB_FILTER_REASON_LEN];
	uint32_t declared;

	size_t n = rfb_ext_clip_write(RFB_EXT_CLIP_ACTIONS | RFB_EXT_CLIP_TEXT, 4096, m);
	ck_assert_uint_eq(n, 16);
	ck_assert_int_eq(rfb_client_msg_opt(m, n, &ext_on, &msg), 16);
	ck_assert_uint_eq(msg.u.cut_text.text_size, 4096);
	n = rfb_ext_clip_write(RFB_EXT_CLIP_NOTIFY | RFB_EXT_CLIP_TEXT, 0, m);
	ck_assert_uint_eq(n, 12);
	ck_assert_int_eq(rfb_client_msg_opt(m, n, &ext_on, &msg), 12);
	ck_assert_uint_eq(msg.u.cut_text.flags, RFB_EXT_CLIP_NOTIFY | RFB_EXT_CLIP_TEXT);

	/* A provide shojid writes reads back whole, with the NUL viewers add. */
	const char *mixed = "Total: 1,234円 (税込) — OK";
	n = rfb_ext_clip_provide((const uint8_t *)mixed, strlen(mixed), p, sizeof(p));
	ck_assert_uint_gt(n, 12);
	ck_assert_int_eq(provide_text(p, n, out, sizeof(out), &declared, why),
	                 (ssize_t)strlen(mixed) + 1);
	ck_assert_mem_eq(out, mixed, strlen(mixed) + 1);
	ck_assert_uint_eq(rfb_ext_clip_provide((const uint8_t *)mixed, strlen(mixed), p, 14), 0);
	/* Empty text: the NUL alone. */
	n = rfb_ext_clip_provide((const uint8_t *)"", 0, p, sizeof(p));
	ck_assert_uint_gt(n, 12);
	ck_assert_int_eq(provide_text(p, n, out, sizeof(out), &declared, why), 1);
	ck_assert_uint_eq(out[0], 0);
}
END_TEST

START_TEST(test_continuous_updates)
{
	struct rfb_client_msg msg;
	const uint8_t m[] = {150, 1, 0, 0, 0, 0, 0x05, 0x00, 0x03, 0x20};

	parse_ok(m, sizeof(m), &msg);
	ck_assert_uint_eq(msg.type, RFB_MSG_CONTINUOUS_UPDATES);
	ck_assert(msg.u.continuous.enable);
	ck_assert_uint_eq(msg.u.continuous.w, 1280);
	ck_assert_uint_eq(msg.u.continuous.h, 800);
}
END_TEST

START_TEST(test_fence)
{
	struct rfb_client_msg msg;
	uint8_t m[9 + RFB_MAX_FENCE + 1] = {248, 0, 0, 0, 0x80, 0, 0, 0x03, 3, 'a', 'b', 'c'};

	parse_ok(m, 12, &msg);
	ck_assert_uint_eq(msg.type, RFB_MSG_FENCE);
	ck_assert_uint_eq(msg.u.fence.flags, 0x80000003u);
	ck_assert_uint_eq(msg.u.fence.len, 3);
	ck_assert_mem_eq(msg.u.fence.payload, "abc", 3);

	m[8] = 0;
	parse_ok(m, 9, &msg);
	m[8] = RFB_MAX_FENCE;
	parse_ok(m, 9 + RFB_MAX_FENCE, &msg);
	m[8] = RFB_MAX_FENCE + 1;
	parse_refused(m, 9, &msg);
	ck_assert_str_eq(msg.reason, "Fence with 65 bytes of payload, at most 64 are allowed");
}
END_TEST

static size_t desktop_msg(uint8_t *m, unsigned w, unsigned h, unsigned n)
{
	memset(m, 0, 8 + 16 * (size_t)n);
	m[0] = 251;
	m[2] = (uint8_t)(w >> 8), m[3] = (uint8_t)w;
	m[4] = (uint8_t)(h >> 8), m[5] = (uint8_t)h;
	m[6] = (uint8_t)n;
	/* screens side by side, each w/n wide */
	for (unsigned i = 0; i < n; i++) {
		uint8_t *s = m + 8 + 16 * i;
		unsigned x = i * (w / n);
		s[3] = (uint8_t)(i + 1);
		s[4] = (uint8_t)(x >> 8), s[5] = (uint8_t)x;
		s[8] = (uint8_t)((w / n) >> 8), s[9] = (uint8_t)(w / n);
		s[10] = (uint8_t)(h >> 8), s[11] = (uint8_t)h;
	}
	return 8 + 16 * (size_t)n;
}

START_TEST(test_set_desktop_size)
{
	struct rfb_client_msg msg;
	uint8_t m[8 + 16 * 17];

	parse_ok(m, desktop_msg(m, 1920, 1080, 1), &msg);
	ck_assert_uint_eq(msg.type, RFB_MSG_SET_DESKTOP_SIZE);
	ck_assert_uint_eq(msg.u.desktop.width, 1920);
	ck_assert_uint_eq(msg.u.desktop.height, 1080);
	ck_assert_uint_eq(msg.u.desktop.nscreens, 1);
	ck_assert_uint_eq(msg.u.desktop.screens[0].id, 1);
	ck_assert_uint_eq(msg.u.desktop.screens[0].w, 1920);

	parse_ok(m, desktop_msg(m, 8192, 8192, RFB_MAX_SCREENS), &msg);
	ck_assert_uint_eq(msg.u.desktop.nscreens, RFB_MAX_SCREENS);
	ck_assert_uint_eq(msg.u.desktop.screens[15].x, 15 * 512);
	parse_ok(m, desktop_msg(m, 1, 1, 1), &msg);
}
END_TEST

START_TEST(test_bad_desktop_sizes)
{
	struct rfb_client_msg msg;
	uint8_t m[8 + 16 * 17];

	/* Refused from the 8-byte header. */
	desktop_msg(m, 1920, 1080, 0);
	parse_refused(m, 8, &msg);
	ck_assert_str_eq(msg.reason, "SetDesktopSize with 0 screens; 1 to 16 are allowed");
	desktop_msg(m, 1920, 1080, 17);
	parse_refused(m, 8, &msg);
	desktop_msg(m, 0, 1080, 1);
	parse_refused(m, 8, &msg);
	ck_assert_str_eq(msg.reason, "SetDesktopSize to 0x1080; each side must be 1 to 8192");
	desktop_msg(m, 1920, 8193, 1);
	parse_refused(m, 8, &msg);
	desktop_msg(m, 65535, 65535, 1);
	parse_refused(m, 8, &msg);

	/*
	 * Screen layouts are not judged (libvncclient sends garbage in them):
	 * parsed whole, the caller relays one screen at 0,0.
	 */
	size_t n = desktop_msg(m, 1024, 700, 1);
	m[8 + 4] = m[8 + 5] = m[8 + 6] = m[8 + 7] = 0x20; /* at 8224,8224 */
	parse_ok(m, n, &msg);
	ck_assert_uint_eq(msg.u.desktop.width, 1024);
	ck_assert_uint_eq(msg.u.desktop.screens[0].x, 8224);
	ck_assert_int_eq(rfb_client_msg(m, n - 1, &msg), 0);
}
END_TEST

START_TEST(test_stream)
{
	struct rfb_client_msg msg;
	const uint8_t s[] = {5, 0, 0, 1, 0, 1, 4, 1, 0, 0, 0, 0, 0, 0x61, 3,   1, 0, 0,
	                     0, 0, 0, 4, 0, 3, 6, 0, 0, 0, 0, 0, 0, 1,    'x', 7, 1};
	const uint8_t types[] = {5, 4, 3, 6};
	size_t off = 0;

	for (size_t i = 0; i < sizeof(types); i++) {
		ssize_t n = rfb_client_msg(s + off, sizeof(s) - off, &msg);
		ck_assert_int_gt(n, 0);
		ck_assert_uint_eq(msg.type, types[i]);
		off += (size_t)n;
	}
	ck_assert_int_eq(rfb_client_msg(s + off, sizeof(s) - off, &msg), -1);
	ck_assert_uint_eq(msg.type, 7);
	ck_assert_int_eq(rfb_client_msg(s, 0, &msg), 0);
}
END_TEST

/* --- refused --- */

START_TEST(test_refused_types)
{
	static const struct {
		uint8_t type;
		const char *reason;
	} refused[] = {
	    {1, "client message 1 (FixColourMapEntries) is not allowed"},
	    {7, "client message 7 (file transfer) is not allowed"},
	    {8, "client message 8 (SetScale) is not allowed"},
	    {9, "client message 9 (SetServerInput) is not allowed"},
	    {10, "client message 10 (SetSW, single-window sharing) is not allowed"},
	    {11, "client message 11 (TextChat) is not allowed"},
	    {15, "client message 15 (PalmVNC SetScaleFactor) is not allowed"},
	    {249, "client message 249 (OLIVE call control) is not allowed"},
	    {250, "client message 250 (xvp, power control) is not allowed"},
	    {252, "client message 252 (tight) is not allowed"},
	    {253, "client message 253 (GII, general input interface) is not allowed"},
	    {255, "client message 255 (QEMU) is not allowed"},
	    {42, "client message 42 (unknown) is not allowed"},
	    {149, "client message 149 (unknown) is not allowed"},
	};

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		struct rfb_client_msg msg;
		uint8_t m[32] = {refused[i].type};
		parse_refused(m, 1, &msg);
		ck_assert_str_eq(msg.reason, refused[i].reason);
		ck_assert_int_eq(rfb_client_msg(m, sizeof(m), &msg), -1);
	}
	/* Every type outside the whitelist is refused. */
	for (unsigned t = 0; t < 256; t++) {
		struct rfb_client_msg msg;
		uint8_t b = (uint8_t)t;
		bool allowed = t <= 6 && t != 1;
		allowed = allowed || t == 150 || t == 248 || t == 251;
		ck_assert_int_eq(rfb_client_msg(&b, 1, &msg), allowed ? 0 : -1);
	}
}
END_TEST

START_TEST(test_names)
{
	ck_assert_str_eq(rfb_client_msg_name(2), "SetEncodings");
	ck_assert_str_eq(rfb_client_msg_name(251), "SetDesktopSize");
	ck_assert_str_eq(rfb_client_msg_name(7), "file transfer");
	ck_assert_str_eq(rfb_client_msg_name(200), "unknown");
}
END_TEST

Suite *suite_rfb_filter(void)
{
	Suite *s = suite_create("rfb_filter");
	TCase *tc = tcase_create("allowed");

	tcase_add_test(tc, test_set_pixel_format);
	tcase_add_test(tc, test_bad_pixel_formats);
	tcase_add_test(tc, test_set_encodings);
	tcase_add_test(tc, test_set_encodings_limits);
	tcase_add_test(tc, test_encodings_remove_and_write);
	tcase_add_test(tc, test_update_request);
	tcase_add_test(tc, test_key_and_pointer);
	tcase_add_test(tc, test_cut_text);
	tcase_add_test(tc, test_cut_text_limits);
	tcase_add_test(tc, test_ext_clip_messages);
	tcase_add_test(tc, test_ext_clip_lengths);
	tcase_add_test(tc, test_ext_clip_text);
	tcase_add_test(tc, test_ext_clip_bomb);
	tcase_add_test(tc, test_ext_clip_write);
	tcase_add_test(tc, test_continuous_updates);
	tcase_add_test(tc, test_fence);
	tcase_add_test(tc, test_set_desktop_size);
	tcase_add_test(tc, test_bad_desktop_sizes);
	tcase_add_test(tc, test_stream);
	suite_add_tcase(s, tc);

	tc = tcase_create("refused");
	tcase_add_test(tc, test_refused_types);
	tcase_add_test(tc, test_names);
	suite_add_tcase(s, tc);
	return s;
}
