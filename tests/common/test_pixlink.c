/*
 * Tests of the pixel-link protocol: the exact wire bytes, round trips of
 * every message type, every malformed case the parser must refuse,
 * need-more for every prefix, and the transport's handling of descriptors
 * and framebuffer memfds.
 */
#include "autoconfig.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pixlink.h"
#include "util.h"

Suite *suite_pixlink(void);

static uint8_t cursor_pixels[PIXLINK_MAX_CURSOR * PIXLINK_MAX_CURSOR * 4];
static const char notice_text[] = "ブラウザを再起動しました (browser restarted)";
static const char clip_text[] = "コピー\tした\n文字 (copied text)";
static uint8_t clip_max[PIXLINK_MAX_CLIPBOARD];

static struct pixlink_framebuffer fb_640x480(void)
{
	struct pixlink_framebuffer fb = {.generation = 7,
	                                 .width = 640,
	                                 .height = 480,
	                                 .stride = 640 * 4,
	                                 .format = PIXLINK_FORMAT_BGRX8888,
	                                 .size = 640 * 4 * 480};
	return fb;
}

/* One valid message of each type, some at their maximum sizes. */
static size_t sample_messages(struct pixlink_msg *out, size_t cap)
{
	struct pixlink_msg m[32];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(cursor_pixels); i++)
		cursor_pixels[i] = (uint8_t)(i * 7 + 3);
	memset(m, 0, sizeof(m));
	m[n].type = PIXLINK_HELLO, m[n].u.hello = (struct pixlink_hello){1, 4242, 0x5eed}, n++;
	m[n].type = PIXLINK_FRAMEBUFFER, m[n].u.fb = fb_640x480(), n++;
	m[n].type = PIXLINK_FRAMEBUFFER;
	m[n].u.fb = (struct pixlink_framebuffer){0xffffffffu,
	                                         PIXLINK_MAX_DIM,
	                                         PIXLINK_MAX_DIM,
	                                         PIXLINK_MAX_DIM * 4,
	                                         PIXLINK_FORMAT_BGRX8888,
	                                         (uint64_t)PIXLINK_MAX_DIM * PIXLINK_MAX_DIM * 4 +
	                                             PIXLINK_FB_MAX_SLACK};
	n++;
	m[n].type = PIXLINK_DAMAGE;
	m[n].u.damage.seq = 1, m[n].u.damage.generation = 7, m[n].u.damage.nrects = 1;
	m[n].u.damage.rects[0] = (struct pixlink_rect){1, 2, 3, 4};
	n++;
	m[n].type = PIXLINK_DAMAGE;
	m[n].u.damage.seq = 0xfffffffeu, m[n].u.damage.generation = 9;
	m[n].u.damage.nrects = PIXLINK_MAX_RECTS;
	for (int i = 0; i < PIXLINK_MAX_RECTS; i++)
		m[n].u.damage.rects[i] =
		    (struct pixlink_rect){(uint16_t)i, (uint16_t)(i * 2), (uint16_t)(i + 1), 65535};
	n++;
	m[n].type = PIXLINK_CURSOR;
	m[n].u.cursor = (struct pixlink_cursor){5, 1, 1, 0, 0, cursor_pixels};
	n++;
	m[n].type = PIXLINK_CURSOR;
	m[n].u.cursor = (struct pixlink_cursor){6,   PIXLINK_MAX_CURSOR, PIXLINK_MAX_CURSOR, 127,
	                                        127, cursor_pixels};
	n++;
	m[n].type = PIXLINK_CURSOR;
	m[n].u.cursor = (struct pixlink_cursor){7, 32, 16, 31, 0, cursor_pixels};
	n++;
	m[n].type = PIXLINK_PONG, m[n].u.seq = 99, n++;
	m[n].type = PIXLINK_NOTICE;
	m[n].u.notice = (struct pixlink_notice){PIXLINK_NOTICE_BROWSER_RESTARTED,
	                                        sizeof(notice_text) - 1, notice_text};
	n++;
	m[n].type = PIXLINK_NOTICE;
	m[n].u.notice = (struct pixlink_notice){PIXLINK_NOTICE_RESIZE_REFUSED, 0, NULL};
	n++;
	m[n].type = PIXLINK_CREDIT, m[n].u.credit = 1, n++;
	m[n].type = PIXLINK_CREDIT, m[n].u.credit = PIXLINK_MAX_CREDIT, n++;
	m[n].type = PIXLINK_KEY, m[n].u.key = (struct pixlink_key){0xff0d, 0x1c, true}, n++;
	m[n].type = PIXLINK_KEY, m[n].u.key = (struct pixlink_key){0, 0xe048, false}, n++;
	m[n].type = PIXLINK_UNICODE, m[n].u.codepoint = 0x10ffff, n++;
	m[n].type = PIXLINK_POINTER;
	m[n].u.pointer = (struct pixlink_pointer){65535, 3, PIXLINK_BUTTON_MASK}, n++;
	m[n].type = PIXLINK_WHEEL, m[n].u.wheel = (struct pixlink_wheel){-3, 32767}, n++;
	m[n].type = PIXLINK_RESIZE, m[n].u.size = (struct pixlink_size){1, PIXLINK_MAX_DIM}, n++;
	m[n].type = PIXLINK_PING, m[n].u.seq = 0xdeadbeef, n++;
	m[n].type = PIXLINK_RESYNC, m[n].u.seq = 0x7001, n++;
	m[n].type = PIXLINK_CLIPBOARD_OUT;
	m[n].u.clip = (struct pixlink_clipboard){sizeof(clip_text) - 1, (const uint8_t *)clip_text};
	n++;
	m[n].type = PIXLINK_CLIPBOARD_IN, m[n].u.clip = (struct pixlink_clipboard){0, NULL}, n++;
	memset(clip_max, 'a', sizeof(clip_max));
	m[n].type = PIXLINK_CLIPBOARD_IN;
	m[n].u.clip = (struct pixlink_clipboard){PIXLINK_MAX_CLIPBOARD, clip_max};
	n++;
	ck_assert_uint_le(n, cap);
	memcpy(out, m, n * sizeof(m[0]));
	return n;
}

/* Field by field: the struct has padding. */
static void assert_same_fb(const struct pixlink_framebuffer *a, const struct pixlink_framebuffer *b)
{
	ck_assert_uint_eq(a->generation, b->generation);
	ck_assert_uint_eq(a->width, b->width);
	ck_assert_uint_eq(a->height, b->height);
	ck_assert_uint_eq(a->stride, b->stride);
	ck_assert_uint_eq(a->format, b->format);
	ck_assert_uint_eq(a->size, b->size);
}

static void assert_same_msg(const struct pixlink_msg *a, const struct pixlink_msg *b)
{
	ck_assert_int_eq(a->type, b->type);
	switch (a->type) {
	case PIXLINK_HELLO:
		ck_assert_uint_eq(a->u.hello.version, b->u.hello.version);
		ck_assert_uint_eq(a->u.hello.pid, b->u.hello.pid);
		ck_assert_uint_eq(a->u.hello.token, b->u.hello.token);
		break;
	case PIXLINK_FRAMEBUFFER:
		assert_same_fb(&a->u.fb, &b->u.fb);
		break;
	case PIXLINK_DAMAGE:
		ck_assert_uint_eq(a->u.damage.seq, b->u.damage.seq);
		ck_assert_uint_eq(a->u.damage.generation, b->u.damage.generation);
		ck_assert_uint_eq(a->u.damage.nrects, b->u.damage.nrects);
		ck_assert_mem_eq(a->u.damage.rects, b->u.damage.rects,
		                 a->u.damage.nrects * sizeof(struct pixlink_rect));
		break;
	case PIXLINK_CURSOR:
		ck_assert_uint_eq(a->u.cursor.serial, b->u.cursor.serial);
		ck_assert_uint_eq(a->u.cursor.width, b->u.cursor.width);
		ck_assert_uint_eq(a->u.cursor.height, b->u.cursor.height);
		ck_assert_uint_eq(a->u.cursor.hot_x, b->u.cursor.hot_x);
		ck_assert_uint_eq(a->u.cursor.hot_y, b->u.cursor.hot_y);
		ck_assert_mem_eq(a->u.cursor.pixels, b->u.cursor.pixels,
		                 (size_t)a->u.cursor.width * a->u.cursor.height * 4);
		break;
	case PIXLINK_NOTICE:
		ck_assert_uint_eq(a->u.notice.code, b->u.notice.code);
		ck_assert_uint_eq(a->u.notice.len, b->u.notice.len);
		if (a->u.notice.len)
			ck_assert_mem_eq(a->u.notice.text, b->u.notice.text, a->u.notice.len);
		break;
	case PIXLINK_CLIPBOARD_OUT:
	case PIXLINK_CLIPBOARD_IN:
		ck_assert_uint_eq(a->u.clip.len, b->u.clip.len);
		if (a->u.clip.len)
			ck_assert_mem_eq(a->u.clip.text, b->u.clip.text, a->u.clip.len);
		break;
	case PIXLINK_KEY:
		ck_assert_uint_eq(a->u.key.keysym, b->u.key.keysym);
		ck_assert_uint_eq(a->u.key.scancode, b->u.key.scancode);
		ck_assert_int_eq(a->u.key.down, b->u.key.down);
		break;
	case PIXLINK_POINTER:
		ck_assert_uint_eq(a->u.pointer.x, b->u.pointer.x);
		ck_assert_uint_eq(a->u.pointer.y, b->u.pointer.y);
		ck_assert_uint_eq(a->u.pointer.buttons, b->u.pointer.buttons);
		break;
	case PIXLINK_WHEEL:
		ck_assert_int_eq(a->u.wheel.dx, b->u.wheel.dx);
		ck_assert_int_eq(a->u.wheel.dy, b->u.wheel.dy);
		break;
	case PIXLINK_RESIZE:
		ck_assert_uint_eq(a->u.size.width, b->u.size.width);
		ck_assert_uint_eq(a->u.size.height, b->u.size.height);
		break;
	case PIXLINK_PONG:
	case PIXLINK_PING:
	case PIXLINK_RESYNC:
		ck_assert_uint_eq(a->u.seq, b->u.seq);
		break;
	case PIXLINK_CREDIT:
		ck_assert_uint_eq(a->u.credit, b->u.credit);
		break;
	case PIXLINK_UNICODE:
		ck_assert_uint_eq(a->u.codepoint, b->u.codepoint);
		break;
	case PIXLINK_REFRESH:
		break;
	}
}

static uint8_t wire[2 * PIXLINK_MAX_MSG];

START_TEST(wire_bytes)
{
	struct pixlink_msg m = {.type = PIXLINK_HELLO, .u.hello = {1, 0x01020304, 9}};
	static const uint8_t hello[] = {1, 0, 0, 0, 12, 0, 0, 0, 1, 0, 0, 0, 4, 3, 2, 1, 9, 0, 0, 0};
	ck_assert_uint_eq(pixlink_encode(&m, wire, sizeof(wire)), sizeof(hello));
	ck_assert_mem_eq(wire, hello, sizeof(hello));

	struct pixlink_msg d = {.type = PIXLINK_DAMAGE};
	d.u.damage = (struct pixlink_damage){.seq = 2, .generation = 3, .nrects = 1};
	d.u.damage.rects[0] = (struct pixlink_rect){0x0102, 5, 6, 0x0708};
	static const uint8_t damage[] = {3, 0, 0, 0, 20, 0, 0, 0, 2, 0, 0, 0, 3, 0,
	                                 0, 0, 1, 0, 0,  0, 2, 1, 5, 0, 6, 0, 8, 7};
	ck_assert_uint_eq(pixlink_encode(&d, wire, sizeof(wire)), sizeof(damage));
	ck_assert_mem_eq(wire, damage, sizeof(damage));

	struct pixlink_msg r = {.type = PIXLINK_REFRESH};
	static const uint8_t refresh[] = {71, 0, 0, 0, 0, 0, 0, 0};
	ck_assert_uint_eq(pixlink_encode(&r, wire, sizeof(wire)), sizeof(refresh));
	ck_assert_mem_eq(wire, refresh, sizeof(refresh));
}
END_TEST

START_TEST(round_trip_every_type)
{
	struct pixlink_msg m[32], back;
	size_t n = sample_messages(m, 32);
	bool seen[PIXLINK_CLIPBOARD_IN + 1] = {false};

	for (size_t i = 0; i < n; i++) {
		size_t len = pixlink_encode(&m[i], wire, sizeof(wire));
		ck_assert_msg(len >= PIXLINK_HEADER_LEN, "message %zu (type %d) not encoded", i,
		              m[i].type);
		ck_assert_int_eq(pixlink_parse(wire, len, &back), (ssize_t)len);
		assert_same_msg(&m[i], &back);
		ck_assert_uint_eq(get_le32(wire + 4), len - PIXLINK_HEADER_LEN);
		/* Encoding what was parsed gives the same bytes again. */
		static uint8_t again[PIXLINK_MAX_MSG];
		ck_assert_uint_eq(pixlink_encode(&back, again, sizeof(again)), len);
		ck_assert_mem_eq(again, wire, len);
		seen[m[i].type] = true;
	}
	struct pixlink_msg refresh = {.type = PIXLINK_REFRESH};
	size_t len = pixlink_encode(&refresh, wire, sizeof(wire));
	ck_assert_int_eq(pixlink_parse(wire, len, &back), (ssize_t)len);
	ck_assert_int_eq(back.type, PIXLINK_REFRESH);
	seen[PIXLINK_REFRESH] = true;

	static const enum pixlink_type all[] = {
	    PIXLINK_HELLO,  PIXLINK_FRAMEBUFFER, PIXLINK_DAMAGE, PIXLINK_CURSOR,  PIXLINK_PONG,
	    PIXLINK_NOTICE, PIXLINK_CREDIT,      PIXLINK_KEY,    PIXLINK_UNICODE, PIXLINK_POINTER,
	    PIXLINK_WHEEL,  PIXLINK_RESIZE,      PIXLINK_PING,   PIXLINK_REFRESH, PIXLINK_RESYNC,
	    PIXLINK_CLIPBOARD_OUT, PIXLINK_CLIPBOARD_IN,
	};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		ck_assert_msg(seen[all[i]], "type %d not covered", all[i]);
}
END_TEST

START_TEST(need_more_for_every_prefix)
{
	struct pixlink_msg m[32], back;
	size_t n = sample_messages(m, 32);

	for (size_t i = 0; i < n; i++) {
		size_t len = pixlink_encode(&m[i], wire, sizeof(wire));
		ck_assert_uint_gt(len, 0);
		for (size_t p = 0; p < len; p++)
			ck_assert_msg(pixlink_parse(wire, p, &back) == 0,
			              "message %zu: prefix of %zu bytes of %zu", i, p, len);
		/* Two messages in a row: the first is consumed alone. */
		size_t len2 = pixlink_encode(&m[(i + 1) % n], wire + len, sizeof(wire) - len);
		ck_assert_uint_gt(len2, 0);
		ck_assert_int_eq(pixlink_parse(wire, len + len2, &back), (ssize_t)len);
		assert_same_msg(&m[i], &back);
		ck_assert_int_eq(pixlink_parse(wire + len, len2, &back), (ssize_t)len2);
		assert_same_msg(&m[(i + 1) % n], &back);
	}
}
END_TEST

/* Writes a header and returns a pointer to the payload. */
static uint8_t *raw(uint8_t *buf, uint16_t type, uint16_t flags, uint32_t plen)
{
	put_le16(buf, type);
	put_le16(buf + 2, flags);
	put_le32(buf + 4, plen);
	memset(buf + PIXLINK_HEADER_LEN, 0, MIN(plen, PIXLINK_MAX_MSG - PIXLINK_HEADER_LEN));
	return buf + PIXLINK_HEADER_LEN;
}

static ssize_t parse_raw(size_t plen)
{
	struct pixlink_msg m;
	return pixlink_parse(wire, PIXLINK_HEADER_LEN + plen, &m);
}

START_TEST(refuses_bad_headers)
{
	struct pixlink_msg m;

	/* Refused from the header alone, before the payload arrives. */
	raw(wire, PIXLINK_PING, 1, 4);
	ck_assert_int_eq(pixlink_parse(wire, PIXLINK_HEADER_LEN, &m), -1);
	raw(wire, PIXLINK_PING, 0x8000, 4);
	ck_assert_int_eq(pixlink_parse(wire, PIXLINK_HEADER_LEN + 4, &m), -1);
	static const uint16_t unknown[] = {0, 8, 9, 63, 74, 255, 0xffff};
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		raw(wire, unknown[i], 0, 0);
		ck_assert_int_eq(pixlink_parse(wire, PIXLINK_HEADER_LEN, &m), -1);
		raw(wire, unknown[i], 0, 4);
		ck_assert_int_eq(pixlink_parse(wire, PIXLINK_HEADER_LEN + 4, &m), -1);
	}
	raw(wire, PIXLINK_CURSOR, 0, 0xffffffffu);
	ck_assert_int_eq(pixlink_parse(wire, PIXLINK_HEADER_LEN, &m), -1);
	raw(wire, PIXLINK_CURSOR, 0, PIXLINK_MAX_MSG);
	ck_assert_int_eq(pixlink_parse(wire, PIXLINK_HEADER_LEN, &m), -1);
	raw(wire, PIXLINK_DAMAGE, 0, 12 + 8 * (PIXLINK_MAX_RECTS + 1));
	ck_assert_int_eq(pixlink_parse(wire, PIXLINK_HEADER_LEN, &m), -1);
	raw(wire, PIXLINK_CLIPBOARD_OUT, 0, PIXLINK_MAX_CLIPBOARD + 1);
	ck_assert_int_eq(pixlink_parse(wire, PIXLINK_HEADER_LEN, &m), -1);

	/* Fixed-length types with any other length. */
	static const struct {
		uint16_t type;
		uint32_t len;
	} fixed[] = {
	    {PIXLINK_HELLO, 8},   {PIXLINK_FRAMEBUFFER, 28}, {PIXLINK_PONG, 4},
	    {PIXLINK_CREDIT, 4},  {PIXLINK_KEY, 12},         {PIXLINK_UNICODE, 4},
	    {PIXLINK_POINTER, 8}, {PIXLINK_WHEEL, 4},        {PIXLINK_RESIZE, 4},
	    {PIXLINK_PING, 4},    {PIXLINK_REFRESH, 0},
	};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		if (fixed[i].len > 0) {
			raw(wire, fixed[i].type, 0, fixed[i].len - 1);
			ck_assert_int_eq(parse_raw(fixed[i].len - 1), -1);
		}
		raw(wire, fixed[i].type, 0, fixed[i].len + 1);
		ck_assert_int_eq(parse_raw(fixed[i].len + 1), -1);
	}
	/* Variable-length types below their minimum. */
	raw(wire, PIXLINK_DAMAGE, 0, 12);
	ck_assert_int_eq(parse_raw(12), -1);
	raw(wire, PIXLINK_CURSOR, 0, 12);
	ck_assert_int_eq(parse_raw(12), -1);
	raw(wire, PIXLINK_NOTICE, 0, 7);
	ck_assert_int_eq(parse_raw(7), -1);
}
END_TEST

static void damage_raw(uint16_t nrects, uint32_t plen, uint16_t reserved)
{
	uint8_t *p = raw(wire, PIXLINK_DAMAGE, 0, plen);
	put_le32(p, 1);
	put_le32(p + 4, 1);
	put_le16(p + 8, nrects);
	put_le16(p + 10, reserved);
	for (uint32_t off = 12; off + 8 <= plen; off += 8) {
		put_le16(p + off + 4, 1);
		put_le16(p + off + 6, 1);
	}
}

START_TEST(refuses_bad_damage)
{
	damage_raw(2, 12 + 16, 0);
	ck_assert_int_gt(parse_raw(12 + 16), 0);
	damage_raw(0, 12 + 8, 0);
	ck_assert_int_eq(parse_raw(12 + 8), -1);
	damage_raw(PIXLINK_MAX_RECTS + 1, 12 + 8 * PIXLINK_MAX_RECTS, 0);
	ck_assert_int_eq(parse_raw(12 + 8 * PIXLINK_MAX_RECTS), -1);
	damage_raw(2, 12 + 8, 0); /* count says 2, length holds 1 */
	ck_assert_int_eq(parse_raw(12 + 8), -1);
	damage_raw(1, 12 + 16, 0); /* count says 1, length holds 2 */
	ck_assert_int_eq(parse_raw(12 + 16), -1);
	damage_raw(1, 12 + 12, 0); /* not a whole number of rectangles */
	ck_assert_int_eq(parse_raw(12 + 12), -1);
	damage_raw(2, 12 + 16, 1); /* reserved field */
	ck_assert_int_eq(parse_raw(12 + 16), -1);
}
END_TEST

static void cursor_raw(uint16_t w, uint16_t h, uint16_t hx, uint16_t hy, uint32_t plen)
{
	uint8_t *p = raw(wire, PIXLINK_CURSOR, 0, plen);
	put_le32(p, 1);
	put_le16(p + 4, w);
	put_le16(p + 6, h);
	put_le16(p + 8, hx);
	put_le16(p + 10, hy);
}

START_TEST(refuses_bad_cursor)
{
	cursor_raw(4, 2, 3, 1, 12 + 32);
	ck_assert_int_gt(parse_raw(12 + 32), 0);
	cursor_raw(4, 2, 3, 1, 12 + 28); /* pixels short */
	ck_assert_int_eq(parse_raw(12 + 28), -1);
	cursor_raw(4, 2, 3, 1, 12 + 36); /* pixels long */
	ck_assert_int_eq(parse_raw(12 + 36), -1);
	cursor_raw(0, 2, 0, 0, 12 + 4);
	ck_assert_int_eq(parse_raw(12 + 4), -1);
	cursor_raw(2, 0, 0, 0, 12 + 4);
	ck_assert_int_eq(parse_raw(12 + 4), -1);
	cursor_raw(PIXLINK_MAX_CURSOR + 1, 1, 0, 0, 12 + 4 * (PIXLINK_MAX_CURSOR + 1));
	ck_assert_int_eq(parse_raw(12 + 4 * (PIXLINK_MAX_CURSOR + 1)), -1);
	cursor_raw(1, PIXLINK_MAX_CURSOR + 1, 0, 0, 12 + 4 * (PIXLINK_MAX_CURSOR + 1));
	ck_assert_int_eq(parse_raw(12 + 4 * (PIXLINK_MAX_CURSOR + 1)), -1);
	cursor_raw(4, 2, 4, 1, 12 + 32); /* hotspot outside */
	ck_assert_int_eq(parse_raw(12 + 32), -1);
	cursor_raw(4, 2, 3, 2, 12 + 32);
	ck_assert_int_eq(parse_raw(12 + 32), -1);
}
END_TEST

static ssize_t notice_raw(uint32_t code, const char *text, size_t len, uint16_t reserved)
{
	uint8_t *p = raw(wire, PIXLINK_NOTICE, 0, (uint32_t)(8 + len));
	put_le32(p, code);
	put_le16(p + 4, (uint16_t)len);
	put_le16(p + 6, reserved);
	memcpy(p + 8, text, len);
	return parse_raw(8 + len);
}

START_TEST(refuses_bad_notice)
{
	char longer[PIXLINK_MAX_NOTICE + 1];
	memset(longer, 'a', sizeof(longer));

	ck_assert_int_gt(notice_raw(1, "ok", 2, 0), 0);
	ck_assert_int_gt(notice_raw(2, longer, PIXLINK_MAX_NOTICE, 0), 0);
	ck_assert_int_eq(notice_raw(2, longer, PIXLINK_MAX_NOTICE + 1, 0), -1);
	ck_assert_int_eq(notice_raw(0, "ok", 2, 0), -1);  /* unknown code */
	ck_assert_int_eq(notice_raw(99, "ok", 2, 0), -1); /* unknown code */
	ck_assert_int_eq(notice_raw(1, "ok", 2, 5), -1);  /* reserved field */
	ck_assert_int_eq(notice_raw(1, "a\nb", 3, 0), -1);
	ck_assert_int_eq(notice_raw(1, "a\x1b[2J", 5, 0), -1);
	ck_assert_int_eq(notice_raw(1, "\x7f", 1, 0), -1);
	ck_assert_int_eq(notice_raw(1, "\xc2\x85", 2, 0), -1); /* C1 control */
	ck_assert_int_eq(notice_raw(1, "\xff", 1, 0), -1);
	ck_assert_int_eq(notice_raw(1, "\xc0\x80", 2, 0), -1);     /* overlong */
	ck_assert_int_eq(notice_raw(1, "\xed\xa0\x80", 3, 0), -1); /* surrogate */
	ck_assert_int_eq(notice_raw(1, "\xf4\x90\x80\x80", 4, 0), -1);
	ck_assert_int_eq(notice_raw(1, "\xe3\x81", 2, 0), -1); /* cut short */
	ck_assert_int_gt(notice_raw(1, "\xe3\x81\x82", 3, 0), 0);

	/* The length in the notice must match the payload length. */
	uint8_t *p = raw(wire, PIXLINK_NOTICE, 0, 8 + 3);
	put_le32(p, 1);
	put_le16(p + 4, 2);
	memcpy(p + 8, "abc", 3);
	ck_assert_int_eq(parse_raw(8 + 3), -1);
}
END_TEST

static ssize_t u32_raw(uint16_t type, uint32_t v)
{
	put_le32(raw(wire, type, 0, 4), v);
	return parse_raw(4);
}

START_TEST(refuses_bad_values)
{
	ck_assert_int_eq(u32_raw(PIXLINK_CREDIT, 0), -1);
	ck_assert_int_gt(u32_raw(PIXLINK_CREDIT, PIXLINK_MAX_CREDIT), 0);
	ck_assert_int_eq(u32_raw(PIXLINK_CREDIT, PIXLINK_MAX_CREDIT + 1), -1);
	ck_assert_int_gt(u32_raw(PIXLINK_UNICODE, 0xd7ff), 0);
	ck_assert_int_eq(u32_raw(PIXLINK_UNICODE, 0xd800), -1);
	ck_assert_int_eq(u32_raw(PIXLINK_UNICODE, 0xdfff), -1);
	ck_assert_int_gt(u32_raw(PIXLINK_UNICODE, 0xe000), 0);
	ck_assert_int_eq(u32_raw(PIXLINK_UNICODE, 0x110000), -1);
	ck_assert_int_eq(u32_raw(PIXLINK_UNICODE, 0xffffffffu), -1);

	uint8_t *p = raw(wire, PIXLINK_KEY, 0, 12);
	put_le32(p + 8, 2);
	ck_assert_int_eq(parse_raw(12), -1);
	put_le32(p + 8, 0x100);
	ck_assert_int_eq(parse_raw(12), -1);
	put_le32(p + 8, 1);
	ck_assert_int_gt(parse_raw(12), 0);

	p = raw(wire, PIXLINK_POINTER, 0, 8);
	put_le32(p + 4, PIXLINK_BUTTON_MASK + 1);
	ck_assert_int_eq(parse_raw(8), -1);
	put_le32(p + 4, 0x80000000u);
	ck_assert_int_eq(parse_raw(8), -1);

	static const uint16_t sizes[][2] = {{0, 10},
	                                    {10, 0},
	                                    {PIXLINK_MAX_DIM + 1, 10},
	                                    {10, PIXLINK_MAX_DIM + 1},
	                                    {0xffff, 0xffff}};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		p = raw(wire, PIXLINK_RESIZE, 0, 4);
		put_le16(p, sizes[i][0]);
		put_le16(p + 2, sizes[i][1]);
		ck_assert_int_eq(parse_raw(4), -1);
	}
}
END_TEST

static ssize_t fb_raw(uint32_t w, uint32_t h, uint32_t stride, uint32_t format, uint64_t size)
{
	uint8_t *p = raw(wire, PIXLINK_FRAMEBUFFER, 0, 28);
	put_le32(p, 1);
	put_le32(p + 4, w);
	put_le32(p + 8, h);
	put_le32(p + 12, stride);
	put_le32(p + 16, format);
	put_le64(p + 20, size);
	return parse_raw(28);
}

START_TEST(refuses_bad_framebuffer)
{
	const uint32_t F = PIXLINK_FORMAT_BGRX8888;

	ck_assert_int_gt(fb_raw(100, 50, 400, F, 20000), 0);
	ck_assert_int_gt(fb_raw(100, 50, 512, F, 512 * 50 + 100), 0);
	ck_assert_int_eq(fb_raw(100, 50, 400, 0, 20000), -1);
	ck_assert_int_eq(fb_raw(100, 50, 400, 2, 20000), -1);
	ck_assert_int_eq(fb_raw(0, 50, 400, F, 20000), -1);
	ck_assert_int_eq(fb_raw(100, 0, 400, F, 20000), -1);
	ck_assert_int_eq(
	    fb_raw(PIXLINK_MAX_DIM + 1, 1, (PIXLINK_MAX_DIM + 1) * 4, F, (PIXLINK_MAX_DIM + 1) * 4),
	    -1);
	ck_assert_int_eq(fb_raw(1, PIXLINK_MAX_DIM + 1, 4, F, (PIXLINK_MAX_DIM + 1) * 4), -1);
	ck_assert_int_eq(fb_raw(100, 50, 396, F, 20000), -1); /* stride < width*4 */
	ck_assert_int_eq(fb_raw(100, 50, 402, F, 20100), -1); /* stride not aligned */
	ck_assert_int_eq(fb_raw(100, 50, 400, F, 19999), -1); /* size < stride*height */
	ck_assert_int_eq(fb_raw(100, 50, 400, F, 20000 + PIXLINK_FB_MAX_SLACK + 1), -1);
	ck_assert_int_eq(fb_raw(100, 50, 0xfffffffcu, F, 0xffffffffffffffffull), -1);
	ck_assert_int_eq(fb_raw(0xffffffffu, 0xffffffffu, 0xfffffffcu, F, 0), -1);
}
END_TEST

START_TEST(encode_refuses_invalid)
{
	struct pixlink_msg m;
	uint8_t small[64];

	memset(&m, 0, sizeof(m));
	m.type = (enum pixlink_type)200;
	ck_assert_uint_eq(pixlink_encode(&m, wire, sizeof(wire)), 0);
	m.type = PIXLINK_CREDIT, m.u.credit = 0;
	ck_assert_uint_eq(pixlink_encode(&m, wire, sizeof(wire)), 0);
	m.type = PIXLINK_CREDIT, m.u.credit = PIXLINK_MAX_CREDIT + 1;
	ck_assert_uint_eq(pixlink_encode(&m, wire, sizeof(wire)), 0);

	memset(&m, 0, sizeof(m));
	m.type = PIXLINK_DAMAGE, m.u.damage.nrects = PIXLINK_MAX_RECTS + 1;
	ck_assert_uint_eq(pixlink_encode(&m, wire, sizeof(wire)), 0);
	m.u.damage.nrects = 0;
	ck_assert_uint_eq(pixlink_encode(&m, wire, sizeof(wire)), 0);

	memset(&m, 0, sizeof(m));
	m.type = PIXLINK_CURSOR;
	m.u.cursor = (struct pixlink_cursor){1, 2, 2, 0, 0, NULL};
	ck_assert_uint_eq(pixlink_encode(&m, wire, sizeof(wire)), 0);
	m.u.cursor = (struct pixlink_cursor){1, 0, 2, 0, 0, cursor_pixels};
	ck_assert_uint_eq(pixlink_encode(&m, wire, sizeof(wire)), 0);
	m.u.cursor = (struct pixlink_cursor){1, PIXLINK_MAX_CURSOR + 1, 1, 0, 0, cursor_pixels};
	ck_assert_uint_eq(pixlink_encode(&m, wire, sizeof(wire)), 0);
	m.u.cursor = (struct pixlink_cursor){1, 2, 2, 2, 0, cursor_pixels};
	ck_assert_uint_eq(pixlink_encode(&m, wire, sizeof(wire)), 0);

	memset(&m, 0, sizeof(m));
	m.type = PIXLINK_NOTICE;
	m.u.notice = (struct pixlink_notice){1, PIXLINK_MAX_NOTICE + 1, (const char *)wire};
	ck_assert_uint_eq(pixlink_encode(&m, small, sizeof(small)), 0);
	m.u.notice = (struct pixlink_notice){1, 3, NULL};
	ck_assert_uint_eq(pixlink_encode(&m, wire, sizeof(wire)), 0);
	m.u.notice = (struct pixlink_notice){1, 3, "a\tb"};
	ck_assert_uint_eq(pixlink_encode(&m, wire, sizeof(wire)), 0);

	memset(&m, 0, sizeof(m));
	m.type = PIXLINK_FRAMEBUFFER, m.u.fb = fb_640x480();
	m.u.fb.size--;
	ck_assert_uint_eq(pixlink_encode(&m, wire, sizeof(wire)), 0);

	/* Too little room: refused for every capacity below the length. */
	m.u.fb = fb_640x480();
	size_t len = pixlink_encode(&m, wire, sizeof(wire));
	ck_assert_uint_eq(len, PIXLINK_HEADER_LEN + 28);
	for (size_t cap = 0; cap < len; cap++)
		ck_assert_uint_eq(pixlink_encode(&m, small, cap), 0);
	ck_assert_uint_eq(pixlink_encode(&m, small, len), len);
}
END_TEST

/* A clipboard message with these payload bytes, as a peer could send it. */
static ssize_t parse_clip(uint16_t type, const void *text, size_t len)
{
	static uint8_t buf[PIXLINK_HEADER_LEN + PIXLINK_MAX_CLIPBOARD + 1];
	struct pixlink_msg m;

	put_le16(buf, type);
	put_le16(buf + 2, 0);
	put_le32(buf + 4, (uint32_t)len);
	memcpy(buf + PIXLINK_HEADER_LEN, text, len);
	return pixlink_parse(buf, PIXLINK_HEADER_LEN + len, &m);
}

/* Only filtered text crosses: anything cliptext_filter would change is malformed. */
START_TEST(refuses_unfiltered_clipboard)
{
#define BAD(s) {s, sizeof(s) - 1}
	static const struct {
		const char *s;
		size_t len;
	} bad[] = {
	    BAD("a\r\nb"),        BAD("a\rb"),          BAD("nul\0in"),
	    BAD("bell\a"),         BAD("esc\x1b[0m"),    BAD("del\x7f"),
	    BAD("c1 \xc2\x85"),    BAD("latin1 \xe9"),   BAD("overlong \xc0\xaf"),
	    BAD("surrogate \xed\xa0\x80"), BAD("cut \xe3\x81"),
	};
#undef BAD
	static uint8_t big[PIXLINK_MAX_CLIPBOARD + 1];

	ck_assert_int_eq(parse_clip(PIXLINK_CLIPBOARD_IN, "ok\tfine\n日本", 14), 8 + 14);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		ck_assert_msg(parse_clip(PIXLINK_CLIPBOARD_IN, bad[i].s, bad[i].len) == -1,
		              "accepted bad[%zu]", i);
		ck_assert_msg(parse_clip(PIXLINK_CLIPBOARD_OUT, bad[i].s, bad[i].len) == -1,
		              "accepted bad[%zu]", i);
	}
	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(parse_clip(PIXLINK_CLIPBOARD_OUT, big, PIXLINK_MAX_CLIPBOARD),
	                 PIXLINK_HEADER_LEN + PIXLINK_MAX_CLIPBOARD);
	ck_assert_int_eq(parse_clip(PIXLINK_CLIPBOARD_OUT, big, sizeof(big)), -1);

	struct pixlink_msg m = {.type = PIXLINK_CLIPBOARD_IN};
	uint8_t out[64];
	m.u.clip = (struct pixlink_clipboard){4, (const uint8_t *)"a\rbc"};
	ck_assert_uint_eq(pixlink_encode(&m, out, sizeof(out)), 0);
	m.u.clip = (struct pixlink_clipboard){4, NULL};
	ck_assert_uint_eq(pixlink_encode(&m, out, sizeof(out)), 0);
}
END_TEST

START_TEST(types_and_checks)
{
	ck_assert(pixlink_from_render(PIXLINK_HELLO));
	ck_assert(pixlink_from_render(PIXLINK_NOTICE));
	ck_assert(!pixlink_from_render(PIXLINK_CREDIT));
	ck_assert(!pixlink_from_render(PIXLINK_REFRESH));
	ck_assert(!pixlink_from_render((enum pixlink_type)0));
	ck_assert_str_eq(pixlink_type_name(PIXLINK_DAMAGE), "DAMAGE");
	ck_assert_str_eq(pixlink_type_name(PIXLINK_PING), "PING");
	ck_assert(pixlink_from_render(PIXLINK_CLIPBOARD_OUT));
	ck_assert(!pixlink_from_render(PIXLINK_CLIPBOARD_IN));
	ck_assert_str_eq(pixlink_type_name(PIXLINK_CLIPBOARD_IN), "CLIPBOARD_IN");
	ck_assert_str_eq(pixlink_type_name(8), "unknown");
	ck_assert_str_eq(pixlink_type_name(0xffffffffu), "unknown");

	struct pixlink_framebuffer fb = fb_640x480();
	ck_assert(pixlink_fb_geometry_ok(&fb, 640, 480));
	ck_assert(!pixlink_fb_geometry_ok(&fb, 639, 480));
	ck_assert(!pixlink_fb_geometry_ok(&fb, 640, 479));

	struct pixlink_damage d = {.seq = 5, .generation = 7, .nrects = 2};
	d.rects[0] = (struct pixlink_rect){0, 0, 640, 480};
	d.rects[1] = (struct pixlink_rect){639, 479, 1, 1};
	ck_assert(pixlink_damage_ok(&d, &fb, 5));
	ck_assert(!pixlink_damage_ok(&d, &fb, 4));
	ck_assert(!pixlink_damage_ok(&d, &fb, 6));
	d.generation = 6;
	ck_assert(!pixlink_damage_ok(&d, &fb, 5));
	d.generation = 7;
	d.rects[1] = (struct pixlink_rect){639, 479, 2, 1};
	ck_assert(!pixlink_damage_ok(&d, &fb, 5));
	d.rects[1] = (struct pixlink_rect){639, 479, 1, 2};
	ck_assert(!pixlink_damage_ok(&d, &fb, 5));
	d.rects[1] = (struct pixlink_rect){65535, 0, 65535, 1}; /* sum beyond u16 */
	ck_assert(!pixlink_damage_ok(&d, &fb, 5));
	d.rects[1] = (struct pixlink_rect){10, 10, 0, 5};
	ck_assert(!pixlink_damage_ok(&d, &fb, 5));
	d.rects[1] = (struct pixlink_rect){10, 10, 5, 0};
	ck_assert(!pixlink_damage_ok(&d, &fb, 5));
	d.nrects = 0;
	ck_assert(!pixlink_damage_ok(&d, &fb, 5));
	d.nrects = PIXLINK_MAX_RECTS + 1;
	ck_assert(!pixlink_damage_ok(&d, &fb, 5));
}
END_TEST

/* --- Transport --- */

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void seqpacket_pair(int sv[2])
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
}

/* Sends a packet with nfds descriptors in one SCM_RIGHTS message. */
static void send_fds(int sock, const void *buf, size_t len, const int *fds, int nfds)
{
	char control[CMSG_SPACE(16 * sizeof(int))];
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

	memset(control, 0, sizeof(control));
	if (nfds > 0) {
		mh.msg_control = control;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
	}
	ck_assert_int_eq(sendmsg(sock, &mh, 0), (ssize_t)len);
}

START_TEST(recv_plain_and_one_fd)
{
	int sv[2], fd;
	static uint8_t buf[PIXLINK_MAX_MSG];
	struct pixlink_msg ping = {.type = PIXLINK_PING, .u.seq = 77}, m;

	seqpacket_pair(sv);
	ck_assert_int_eq(pixlink_send_msg(sv[0], &ping, -1), 0);
	ssize_t n = pixlink_recv(sv[1], buf, sizeof(buf), &fd);
	ck_assert_int_eq(n, PIXLINK_HEADER_LEN + 4);
	ck_assert_int_eq(fd, -1);
	ck_assert_int_eq(pixlink_parse(buf, (size_t)n, &m), n);
	ck_assert_uint_eq(m.u.seq, 77);

	int before = count_fds();
	int memfd = pixlink_fb_create(640 * 4 * 480);
	ck_assert_int_ge(memfd, 0);
	struct pixlink_msg fbm = {.type = PIXLINK_FRAMEBUFFER, .u.fb = fb_640x480()};
	ck_assert_int_eq(pixlink_send_msg(sv[0], &fbm, memfd), 0);
	close(memfd);
	n = pixlink_recv(sv[1], buf, sizeof(buf), &fd);
	ck_assert_int_eq(n, PIXLINK_HEADER_LEN + 28);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
	ck_assert_int_eq(pixlink_parse(buf, (size_t)n, &m), n);
	ck_assert_int_eq(pixlink_fb_fd_check(fd, &m.u.fb), 0);
	close(fd);
	ck_assert_int_eq(count_fds(), before);

	/* A large cursor travels whole. */
	static uint8_t px[64 * 64 * 4];
	struct pixlink_msg cur = {.type = PIXLINK_CURSOR};
	cur.u.cursor = (struct pixlink_cursor){1, 64, 64, 0, 0, px};
	ck_assert_int_eq(pixlink_send_msg(sv[0], &cur, -1), 0);
	n = pixlink_recv(sv[1], buf, sizeof(buf), &fd);
	ck_assert_int_eq(n, PIXLINK_HEADER_LEN + 12 + 64 * 64 * 4);

	/* Invalid messages and lengths are not sent. */
	struct pixlink_msg bad = {.type = PIXLINK_CREDIT, .u.credit = 0};
	ck_assert_int_eq(pixlink_send_msg(sv[0], &bad, -1), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(pixlink_send(sv[0], buf, 0, -1), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	ck_assert_int_eq(pixlink_send(sv[0], buf, PIXLINK_MAX_MSG + 1, -1), -1);
	ck_assert_int_eq(errno, EMSGSIZE);

	/* End of stream. */
	close(sv[0]);
	ck_assert_int_eq(pixlink_recv(sv[1], buf, sizeof(buf), &fd), 0);
	ck_assert_int_eq(fd, -1);
	close(sv[1]);
}
END_TEST

START_TEST(recv_refuses_extra_fds)
{
	int sv[2], fd, p[2];
	static uint8_t buf[PIXLINK_MAX_MSG];
	uint8_t hello[PIXLINK_HEADER_LEN + 12];
	struct pixlink_msg h = {.type = PIXLINK_HELLO, .u.hello = {1, 1}};

	ck_assert_uint_eq(pixlink_encode(&h, hello, sizeof(hello)), sizeof(hello));
	seqpacket_pair(sv);
	ck_assert_int_eq(pipe(p), 0);
	int before = count_fds();

	send_fds(sv[0], hello, sizeof(hello), p, 2);
	errno = 0;
	fd = 12345;
	ck_assert_int_eq(pixlink_recv(sv[1], buf, sizeof(buf), &fd), -1);
	ck_assert_int_eq(errno, EBADMSG);
	ck_assert_int_eq(fd, -1);
	ck_assert_int_eq(count_fds(), before);

	/* More than the receive buffer holds: the kernel truncates, we refuse. */
	int many[12];
	for (int i = 0; i < 12; i++)
		many[i] = p[i % 2];
	send_fds(sv[0], hello, sizeof(hello), many, 12);
	ck_assert_int_eq(pixlink_recv(sv[1], buf, sizeof(buf), &fd), -1);
	ck_assert_int_eq(errno, EBADMSG);
	ck_assert_int_eq(count_fds(), before);

	/* A descriptor on an empty packet. */
	send_fds(sv[0], hello, 0, p, 1);
	ck_assert_int_eq(pixlink_recv(sv[1], buf, sizeof(buf), &fd), -1);
	ck_assert_int_eq(errno, EBADMSG);
	ck_assert_int_eq(count_fds(), before);

	/* One is accepted. */
	send_fds(sv[0], hello, sizeof(hello), p, 1);
	ck_assert_int_eq(pixlink_recv(sv[1], buf, sizeof(buf), &fd), (ssize_t)sizeof(hello));
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(count_fds(), before + 1);
	close(fd);

	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(recv_refuses_truncation_and_credentials)
{
	int sv[2], fd, p[2];
	static uint8_t buf[PIXLINK_MAX_MSG];
	uint8_t hello[PIXLINK_HEADER_LEN + 12];
	struct pixlink_msg h = {.type = PIXLINK_HELLO, .u.hello = {1, 1}};

	ck_assert_uint_eq(pixlink_encode(&h, hello, sizeof(hello)), sizeof(hello));
	seqpacket_pair(sv);
	ck_assert_int_eq(pipe(p), 0);
	int before = count_fds();

	/* A packet longer than the buffer is refused, with its descriptor closed. */
	send_fds(sv[0], hello, sizeof(hello), p, 1);
	ck_assert_int_eq(pixlink_recv(sv[1], buf, sizeof(hello) - 1, &fd), -1);
	ck_assert_int_eq(errno, EBADMSG);
	ck_assert_int_eq(count_fds(), before);

	/* Control messages other than SCM_RIGHTS. */
	int on = 1;
	ck_assert_int_eq(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)), 0);
	send_fds(sv[0], hello, sizeof(hello), p, 1);
	ck_assert_int_eq(pixlink_recv(sv[1], buf, sizeof(buf), &fd), -1);
	ck_assert_int_eq(errno, EBADMSG);
	ck_assert_int_eq(fd, -1);
	ck_assert_int_eq(count_fds(), before);

	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* --- Framebuffer memfds --- */

START_TEST(fb_create_and_check)
{
	struct pixlink_framebuffer fb = fb_640x480();
	int fd = pixlink_fb_create((size_t)fb.size);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
	int seals = fcntl(fd, F_GET_SEALS);
	ck_assert_int_eq(seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
	                 F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	ck_assert_int_eq(ftruncate(fd, 10), -1);
	ck_assert_int_eq(ftruncate(fd, (off_t)fb.size * 2), -1);
	ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), -1);
	/* Render can still draw into it. */
	uint8_t *p = mmap(NULL, (size_t)fb.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	p[fb.size - 1] = 0x5a;
	munmap(p, (size_t)fb.size);

	ck_assert_int_eq(pixlink_fb_fd_check(fd, &fb), 0);
	fb.size += 4;
	ck_assert_int_eq(pixlink_fb_fd_check(fd, &fb), -1);
	ck_assert_int_eq(errno, ERANGE);
	fb = fb_640x480();
	fb.width = 0;
	ck_assert_int_eq(pixlink_fb_fd_check(fd, &fb), -1);
	ck_assert_int_eq(errno, EINVAL);
	close(fd);

	fb = fb_640x480();
	ck_assert_int_eq(pixlink_fb_fd_check(-1, &fb), -1);
	ck_assert_int_eq(errno, EBADF);
	ck_assert_int_eq(pixlink_fb_create(0), -1);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(fb_check_refuses_unsealed_and_others)
{
	struct pixlink_framebuffer fb = fb_640x480();

	/* Not sealed at all. */
	int fd = memfd_create("test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)fb.size), 0);
	ck_assert_int_eq(pixlink_fb_fd_check(fd, &fb), -1);
	ck_assert_int_eq(errno, EPERM);
	/* Sealed against resizing but the seals could still be changed. */
	ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
	ck_assert_int_eq(pixlink_fb_fd_check(fd, &fb), -1);
	ck_assert_int_eq(errno, EPERM);
	close(fd);

	/* A memfd that cannot be sealed. */
	fd = memfd_create("test", MFD_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)fb.size), 0);
	ck_assert_int_eq(pixlink_fb_fd_check(fd, &fb), -1);
	ck_assert_int_eq(errno, EPERM);
	close(fd);

	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(pixlink_fb_fd_check(p[0], &fb), -1);
	ck_assert_int_eq(errno, ENOTSUP);
	close(p[0]);
	close(p[1]);

	fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pixlink_fb_fd_check(fd, &fb), -1);
	ck_assert_int_eq(errno, ENOTSUP);
	close(fd);

	char path[] = "/tmp/shoji-fb-XXXXXX";
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	unlink(path);
	ck_assert_int_eq(ftruncate(fd, (off_t)fb.size), 0);
	ck_assert_int_eq(pixlink_fb_fd_check(fd, &fb), -1);
	ck_assert_int_eq(errno, ENOTSUP);
	close(fd);
}
END_TEST

Suite *suite_pixlink(void)
{
	Suite *s = suite_create("pixlink");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, wire_bytes);
	tcase_add_test(tc, round_trip_every_type);
	tcase_add_test(tc, need_more_for_every_prefix);
	tcase_add_test(tc, refuses_bad_headers);
	tcase_add_test(tc, refuses_bad_damage);
	tcase_add_test(tc, refuses_bad_cursor);
	tcase_add_test(tc, refuses_bad_notice);
	tcase_add_test(tc, refuses_bad_values);
	tcase_add_test(tc, refuses_bad_framebuffer);
	tcase_add_test(tc, encode_refuses_invalid);
	tcase_add_test(tc, types_and_checks);
	tcase_add_test(tc, refuses_unfiltered_clipboard);
	suite_add_tcase(s, tc);

	tc = tcase_create("io");
	tcase_add_test(tc, recv_plain_and_one_fd);
	tcase_add_test(tc, recv_refuses_extra_fds);
	tcase_add_test(tc, recv_refuses_truncation_and_credentials);
	tcase_add_test(tc, fb_create_and_check);
	tcase_add_test(tc, fb_check_refuses_unsealed_and_others);
	suite_add_tcase(s, tc);
	return s;
}
