/*
 * The pixel-link message parser and encoder (the wire format is described
 * in pixlink.h). Handles untrusted input: yes. shojid parses what a possibly
 * compromised shoji-render sends, so every length, count and value is
 * checked here before anything else looks at it. Pure: no I/O, no
 * allocation. The encoder checks its output with the parser, so the two
 * cannot disagree about what is valid.
 */
#include "autoconfig.h"

#include <string.h>

#include "cliptext.h"
#include "pixlink.h"
#include "util.h"

#define HELLO_LEN 12
#define FB_LEN 28
#define DAMAGE_HEAD_LEN 12
#define RECT_LEN 8
#define CURSOR_HEAD_LEN 12
#define NOTICE_HEAD_LEN 8

struct type_info {
	const char *name;
	size_t min_len, max_len; /* payload bytes */
	int (*parse)(const uint8_t *p, size_t len, struct pixlink_msg *msg);
	void (*encode)(const struct pixlink_msg *msg, uint8_t *p, size_t len);
};

/* --- UTF-8 of NOTICE text --- */

/* Text that is shown to the viewer and logged: strict UTF-8, no controls. */
static bool notice_text_ok(const uint8_t *p, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint32_t cp;
		size_t n = utf8_decode(p + i, len - i, &cp);
		if (n == 0 || cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
			return false;
		i += n;
	}
	return true;
}

static bool scalar_value_ok(uint32_t cp)
{
	return cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
}

/* --- One parser and one encoder per type --- */

static int parse_hello(const uint8_t *p, size_t len, struct pixlink_msg *msg)
{
	msg->u.hello.version = get_le32(p);
	msg->u.hello.pid = get_le32(p + 4);
	msg->u.hello.token = get_le32(p + 8);
	return 0;
}

static void encode_hello(const struct pixlink_msg *msg, uint8_t *p, size_t len)
{
	put_le32(p, msg->u.hello.version);
	put_le32(p + 4, msg->u.hello.pid);
	put_le32(p + 8, msg->u.hello.token);
}

static int parse_fb(const uint8_t *p, size_t len, struct pixlink_msg *msg)
{
	struct pixlink_framebuffer *fb = &msg->u.fb;

	fb->generation = get_le32(p);
	fb->width = get_le32(p + 4);
	fb->height = get_le32(p + 8);
	fb->stride = get_le32(p + 12);
	fb->format = get_le32(p + 16);
	fb->size = get_le64(p + 20);
	return pixlink_fb_geometry_ok(fb, PIXLINK_MAX_DIM, PIXLINK_MAX_DIM) ? 0 : -1;
}

static void encode_fb(const struct pixlink_msg *msg, uint8_t *p, size_t len)
{
	const struct pixlink_framebuffer *fb = &msg->u.fb;

	put_le32(p, fb->generation);
	put_le32(p + 4, fb->width);
	put_le32(p + 8, fb->height);
	put_le32(p + 12, fb->stride);
	put_le32(p + 16, fb->format);
	put_le64(p + 20, fb->size);
}

static int parse_damage(const uint8_t *p, size_t len, struct pixlink_msg *msg)
{
	struct pixlink_damage *d = &msg->u.damage;
	size_t want;

	d->seq = get_le32(p);
	d->generation = get_le32(p + 4);
	d->nrects = get_le16(p + 8);
	if (get_le16(p + 10) != 0 || d->nrects == 0 || d->nrects > PIXLINK_MAX_RECTS)
		return -1;
	if (!ckd_mul_size(&want, d->nrects, RECT_LEN) ||
	    !ckd_add_size(&want, want, DAMAGE_HEAD_LEN) || want != len)
		return -1;
	for (size_t i = 0; i < d->nrects; i++) {
		const uint8_t *r = p + DAMAGE_HEAD_LEN + i * RECT_LEN;
		d->rects[i].x = get_le16(r);
		d->rects[i].y = get_le16(r + 2);
		d->rects[i].w = get_le16(r + 4);
		d->rects[i].h = get_le16(r + 6);
	}
	return 0;
}

static void encode_damage(const struct pixlink_msg *msg, uint8_t *p, size_t len)
{
	const struct pixlink_damage *d = &msg->u.damage;

	put_le32(p, d->seq);
	put_le32(p + 4, d->generation);
	put_le16(p + 8, d->nrects);
	put_le16(p + 10, 0);
	for (size_t i = 0; i < d->nrects; i++) {
		uint8_t *r = p + DAMAGE_HEAD_LEN + i * RECT_LEN;
		put_le16(r, d->rects[i].x);
		put_le16(r + 2, d->rects[i].y);
		put_le16(r + 4, d->rects[i].w);
		put_le16(r + 6, d->rects[i].h);
	}
}

/* Bytes of a w x h cursor image, or false if the size is out of range. */
static bool cursor_bytes(uint32_t w, uint32_t h, size_t *out)
{
	if (w == 0 || h == 0 || w > PIXLINK_MAX_CURSOR || h > PIXLINK_MAX_CURSOR)
		return false;
	return ckd_mul_size(out, w, h) && ckd_mul_size(out, *out, 4);
}

static int parse_cursor(const uint8_t *p, size_t len, struct pixlink_msg *msg)
{
	struct pixlink_cursor *c = &msg->u.cursor;
	size_t want;

	c->serial = get_le32(p);
	c->width = get_le16(p + 4);
	c->height = get_le16(p + 6);
	c->hot_x = get_le16(p + 8);
	c->hot_y = get_le16(p + 10);
	if (!cursor_bytes(c->width, c->height, &want) ||
	    !ckd_add_size(&want, want, CURSOR_HEAD_LEN) || want != len)
		return -1;
	if (c->hot_x >= c->width || c->hot_y >= c->height)
		return -1;
	c->pixels = p + CURSOR_HEAD_LEN;
	return 0;
}

static void encode_cursor(const struct pixlink_msg *msg, uint8_t *p, size_t len)
{
	const struct pixlink_cursor *c = &msg->u.cursor;

	put_le32(p, c->serial);
	put_le16(p + 4, c->width);
	put_le16(p + 6, c->height);
	put_le16(p + 8, c->hot_x);
	put_le16(p + 10, c->hot_y);
	memcpy(p + CURSOR_HEAD_LEN, c->pixels, len - CURSOR_HEAD_LEN);
}

static int parse_notice(const uint8_t *p, size_t len, struct pixlink_msg *msg)
{
	struct pixlink_notice *n = &msg->u.notice;

	n->code = get_le32(p);
	n->len = get_le16(p + 4);
	if (get_le16(p + 6) != 0 || n->len > PIXLINK_MAX_NOTICE ||
	    (size_t)NOTICE_HEAD_LEN + n->len != len)
		return -1;
	if (n->code < PIXLINK_NOTICE_BROWSER_RESTARTED || n->code > PIXLINK_NOTICE_RESIZE_REFUSED)
		return -1;
	if (!notice_text_ok(p + NOTICE_HEAD_LEN, n->len))
		return -1;
	n->text = (const char *)(p + NOTICE_HEAD_LEN);
	return 0;
}

static void encode_notice(const struct pixlink_msg *msg, uint8_t *p, size_t len)
{
	const struct pixlink_notice *n = &msg->u.notice;

	put_le32(p, n->code);
	put_le16(p + 4, n->len);
	put_le16(p + 6, 0);
	if (n->len > 0)
		memcpy(p + NOTICE_HEAD_LEN, n->text, n->len);
}

/* CLIPBOARD in either direction: filtered text (cliptext.h), nothing else. */
static int parse_clipboard(const uint8_t *p, size_t len, struct pixlink_msg *msg)
{
	if (!cliptext_ok(p, len))
		return -1;
	msg->u.clip.len = (uint32_t)len;
	msg->u.clip.text = len ? p : NULL;
	return 0;
}

static void encode_clipboard(const struct pixlink_msg *msg, uint8_t *p, size_t len)
{
	if (len > 0)
		memcpy(p, msg->u.clip.text, len);
}

/* PING and PONG */
static int parse_seq(const uint8_t *p, size_t len, struct pixlink_msg *msg)
{
	msg->u.seq = get_le32(p);
	return 0;
}

static void encode_seq(const struct pixlink_msg *msg, uint8_t *p, size_t len)
{
	put_le32(p, msg->u.seq);
}

static int parse_token(const uint8_t *p, size_t len, struct pixlink_msg *msg)
{
	msg->u.seq = get_le32(p);
	return msg->u.seq != 0 ? 0 : -1;
}

static int parse_credit(const uint8_t *p, size_t len, struct pixlink_msg *msg)
{
	msg->u.credit = get_le32(p);
	return msg->u.credit >= 1 && msg->u.credit <= PIXLINK_MAX_CREDIT ? 0 : -1;
}

static void encode_credit(const struct pixlink_msg *msg, uint8_t *p, size_t len)
{
	put_le32(p, msg->u.credit);
}

static int parse_key(const uint8_t *p, size_t len, struct pixlink_msg *msg)
{
	uint32_t down = get_le32(p + 8);

	msg->u.key.keysym = get_le32(p);
	msg->u.key.scancode = get_le32(p + 4);
	msg->u.key.down = down == 1;
	return down <= 1 ? 0 : -1;
}

static void encode_key(const struct pixlink_msg *msg, uint8_t *p, size_t len)
{
	put_le32(p, msg->u.key.keysym);
	put_le32(p + 4, msg->u.key.scancode);
	put_le32(p + 8, msg->u.key.down ? 1 : 0);
}

static int parse_unicode(const uint8_t *p, size_t len, struct pixlink_msg *msg)
{
	msg->u.codepoint = get_le32(p);
	return scalar_value_ok(msg->u.codepoint) ? 0 : -1;
}

static void encode_unicode(const struct pixlink_msg *msg, uint8_t *p, size_t len)
{
	put_le32(p, msg->u.codepoint);
}

static int parse_pointer(const uint8_t *p, size_t len, struct pixlink_msg *msg)
{
	msg->u.pointer.x = get_le16(p);
	msg->u.pointer.y = get_le16(p + 2);
	msg->u.pointer.buttons = get_le32(p + 4);
	return (msg->u.pointer.buttons & ~PIXLINK_BUTTON_MASK) == 0 ? 0 : -1;
}

static void encode_pointer(const struct pixlink_msg *msg, uint8_t *p, size_t len)
{
	put_le16(p, msg->u.pointer.x);
	put_le16(p + 2, msg->u.pointer.y);
	put_le32(p + 4, msg->u.pointer.buttons);
}

static int parse_wheel(const uint8_t *p, size_t len, struct pixlink_msg *msg)
{
	msg->u.wheel.dx = (int16_t)get_le16(p);
	msg->u.wheel.dy = (int16_t)get_le16(p + 2);
	return 0;
}

static void encode_wheel(const struct pixlink_msg *msg, uint8_t *p, size_t len)
{
	put_le16(p, (uint16_t)msg->u.wheel.dx);
	put_le16(p + 2, (uint16_t)msg->u.wheel.dy);
}

static int parse_resize(const uint8_t *p, size_t len, struct pixlink_msg *msg)
{
	struct pixlink_size *s = &msg->u.size;

	s->width = get_le16(p);
	s->height = get_le16(p + 2);
	if (s->width == 0 || s->height == 0 || s->width > PIXLINK_MAX_DIM ||
	    s->height > PIXLINK_MAX_DIM)
		return -1;
	return 0;
}

static void encode_resize(const struct pixlink_msg *msg, uint8_t *p, size_t len)
{
	put_le16(p, msg->u.size.width);
	put_le16(p + 2, msg->u.size.height);
}

static int parse_empty(const uint8_t *p, size_t len, struct pixlink_msg *msg)
{
	return 0;
}

static void encode_empty(const struct pixlink_msg *msg, uint8_t *p, size_t len)
{
}

#define DAMAGE_MAX_LEN (DAMAGE_HEAD_LEN + RECT_LEN * PIXLINK_MAX_RECTS)
#define CURSOR_MAX_LEN (CURSOR_HEAD_LEN + 4 * PIXLINK_MAX_CURSOR * PIXLINK_MAX_CURSOR)

/* Per type: name, payload length bounds (equal for fixed lengths), parser, encoder. */
static const struct type_info types[] = {
    [PIXLINK_HELLO] = {"HELLO", HELLO_LEN, HELLO_LEN, parse_hello, encode_hello},
    [PIXLINK_FRAMEBUFFER] = {"FRAMEBUFFER", FB_LEN, FB_LEN, parse_fb, encode_fb},
    [PIXLINK_DAMAGE] = {"DAMAGE", DAMAGE_HEAD_LEN + RECT_LEN, DAMAGE_MAX_LEN, parse_damage,
                        encode_damage},
    [PIXLINK_CURSOR] = {"CURSOR", CURSOR_HEAD_LEN + 4, CURSOR_MAX_LEN, parse_cursor, encode_cursor},
    [PIXLINK_PONG] = {"PONG", 4, 4, parse_seq, encode_seq},
    [PIXLINK_NOTICE] = {"NOTICE", NOTICE_HEAD_LEN, NOTICE_HEAD_LEN + PIXLINK_MAX_NOTICE,
                        parse_notice, encode_notice},
    [PIXLINK_CLIPBOARD_OUT] = {"CLIPBOARD_OUT", 0, PIXLINK_MAX_CLIPBOARD, parse_clipboard,
                               encode_clipboard},
    [PIXLINK_CREDIT] = {"CREDIT", 4, 4, parse_credit, encode_credit},
    [PIXLINK_KEY] = {"KEY", 12, 12, parse_key, encode_key},
    [PIXLINK_UNICODE] = {"UNICODE", 4, 4, parse_unicode, encode_unicode},
    [PIXLINK_POINTER] = {"POINTER", 8, 8, parse_pointer, encode_pointer},
    [PIXLINK_WHEEL] = {"WHEEL", 4, 4, parse_wheel, encode_wheel},
    [PIXLINK_RESIZE] = {"RESIZE", 4, 4, parse_resize, encode_resize},
    [PIXLINK_PING] = {"PING", 4, 4, parse_seq, encode_seq},
    [PIXLINK_REFRESH] = {"REFRESH", 0, 0, parse_empty, encode_empty},
    [PIXLINK_RESYNC] = {"RESYNC", 4, 4, parse_token, encode_seq},
    [PIXLINK_CLIPBOARD_IN] = {"CLIPBOARD_IN", 0, PIXLINK_MAX_CLIPBOARD, parse_clipboard,
                              encode_clipboard},
};

_Static_assert(CURSOR_MAX_LEN + PIXLINK_HEADER_LEN <= PIXLINK_MAX_MSG,
               "the largest cursor must fit in one message");
_Static_assert(PIXLINK_MAX_CLIPBOARD + PIXLINK_HEADER_LEN <= PIXLINK_MAX_MSG,
               "the longest clipboard text must fit in one message");

static const struct type_info *type_info(uint32_t type)
{
	if (type >= ARRAY_SIZE(types) || !types[type].name)
		return NULL;
	return &types[type];
}

const char *pixlink_type_name(uint32_t type)
{
	const struct type_info *t = type_info(type);
	return t ? t->name : "unknown";
}

bool pixlink_from_render(enum pixlink_type type)
{
	return type >= PIXLINK_HELLO && type <= PIXLINK_CLIPBOARD_OUT;
}

ssize_t pixlink_parse(const uint8_t *buf, size_t len, struct pixlink_msg *msg)
{
	if (len < PIXLINK_HEADER_LEN)
		return 0;

	uint16_t type = get_le16(buf);
	uint16_t flags = get_le16(buf + 2);
	uint32_t plen = get_le32(buf + 4);
	const struct type_info *t = type_info(type);
	size_t total;

	/* Everything the header alone can tell is refused before waiting for more. */
	if (!t || flags != 0)
		return -1;
	if (!ckd_add_size(&total, PIXLINK_HEADER_LEN, plen) || total > PIXLINK_MAX_MSG)
		return -1;
	if (plen < t->min_len || plen > t->max_len)
		return -1;
	if (len < total)
		return 0;
	msg->type = (enum pixlink_type)type;
	if (t->parse(buf + PIXLINK_HEADER_LEN, plen, msg) < 0)
		return -1;
	return (ssize_t)total;
}

/*
 * Payload length msg needs, or false if a count in it is out of range (so
 * that the encoder never writes or reads past a bound).
 */
static bool payload_len(const struct pixlink_msg *msg, const struct type_info *t, size_t *out)
{
	size_t n;

	switch (msg->type) {
	case PIXLINK_DAMAGE:
		if (msg->u.damage.nrects > PIXLINK_MAX_RECTS)
			return false;
		return ckd_mul_size(&n, msg->u.damage.nrects, RECT_LEN) &&
		       ckd_add_size(out, n, DAMAGE_HEAD_LEN);
	case PIXLINK_CURSOR:
		if (!msg->u.cursor.pixels ||
		    !cursor_bytes(msg->u.cursor.width, msg->u.cursor.height, &n))
			return false;
		return ckd_add_size(out, n, CURSOR_HEAD_LEN);
	case PIXLINK_NOTICE:
		if (msg->u.notice.len > PIXLINK_MAX_NOTICE ||
		    (msg->u.notice.len > 0 && !msg->u.notice.text))
			return false;
		return ckd_add_size(out, msg->u.notice.len, NOTICE_HEAD_LEN);
	case PIXLINK_CLIPBOARD_OUT:
	case PIXLINK_CLIPBOARD_IN:
		if (msg->u.clip.len > PIXLINK_MAX_CLIPBOARD ||
		    (msg->u.clip.len > 0 && !msg->u.clip.text))
			return false;
		*out = msg->u.clip.len;
		return true;
	default:
		*out = t->min_len;
		return true;
	}
}

size_t pixlink_encode(const struct pixlink_msg *msg, uint8_t *buf, size_t cap)
{
	const struct type_info *t = type_info(msg->type);
	struct pixlink_msg check;
	size_t plen, total;

	if (!t || !payload_len(msg, t, &plen))
		return 0;
	if (!ckd_add_size(&total, PIXLINK_HEADER_LEN, plen) || total > cap ||
	    total > PIXLINK_MAX_MSG)
		return 0;
	put_le16(buf, (uint16_t)msg->type);
	put_le16(buf + 2, 0);
	put_le32(buf + 4, (uint32_t)plen);
	t->encode(msg, buf + PIXLINK_HEADER_LEN, plen);
	if (pixlink_parse(buf, total, &check) != (ssize_t)total)
		return 0;
	return total;
}

bool pixlink_fb_geometry_ok(const struct pixlink_framebuffer *fb, uint32_t max_w, uint32_t max_h)
{
	size_t row, need, most;

	if (fb->format != PIXLINK_FORMAT_BGRX8888)
		return false;
	if (fb->width == 0 || fb->height == 0 || fb->width > max_w || fb->height > max_h)
		return false;
	if (!ckd_mul_size(&row, fb->width, 4) || fb->stride < row || fb->stride % 4 != 0 ||
	    fb->stride > (size_t)PIXLINK_MAX_DIM * 4)
		return false;
	if (!ckd_mul_size(&need, fb->stride, fb->height) ||
	    !ckd_add_size(&most, need, PIXLINK_FB_MAX_SLACK))
		return false;
	return fb->size >= need && fb->size <= most;
}

bool pixlink_damage_ok(const struct pixlink_damage *d, const struct pixlink_framebuffer *fb,
                       uint32_t expected_seq)
{
	if (d->generation != fb->generation || d->seq != expected_seq)
		return false;
	if (d->nrects == 0 || d->nrects > PIXLINK_MAX_RECTS)
		return false;
	for (size_t i = 0; i < d->nrects; i++) {
		const struct pixlink_rect *r = &d->rects[i];
		if (r->w == 0 || r->h == 0)
			return false;
		if ((uint32_t)r->x + r->w > fb->width || (uint32_t)r->y + r->h > fb->height)
			return false;
	}
	return true;
}
