/*
 * The RFB client message whitelist (the rules are in rfb_filter.h).
 * Handles untrusted input: yes, everything an authenticated viewer sends.
 * Pure: no I/O, no allocation. One parser per allowed message type; each
 * refuses a bad header as soon as the header is there, so a viewer cannot
 * make shojid wait for (or buffer) a message that will be refused anyway.
 */
#include "autoconfig.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "rfb_filter.h"
#include "util.h"

#define PIXEL_FORMAT_MSG_LEN 20
#define SET_ENCODINGS_HEAD_LEN 4
#define UPDATE_REQUEST_LEN 10
#define KEY_LEN 8
#define POINTER_LEN 6
#define CUT_TEXT_HEAD_LEN 8
#define CONTINUOUS_LEN 10
#define FENCE_HEAD_LEN 9
#define DESKTOP_HEAD_LEN 8
#define SCREEN_LEN 16

/* ClientCutText's length is an s32 in the extended clipboard extension. */
#define CUT_TEXT_EXTENDED 0x80000000u
#define EXT_FLAGS_LEN 4
#define EXT_ALLOWED_FLAGS (RFB_EXT_CLIP_FORMATS | RFB_EXT_CLIP_ACTIONS)

static uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static ssize_t refuse(struct rfb_client_msg *msg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static ssize_t refuse(struct rfb_client_msg *msg, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg->reason, sizeof(msg->reason), fmt, ap);
	va_end(ap);
	return -1;
}

/* --- names --- */

static const struct {
	uint8_t type;
	const char *name;
} names[] = {
    {RFB_MSG_SET_PIXEL_FORMAT, "SetPixelFormat"},
    {1, "FixColourMapEntries"},
    {RFB_MSG_SET_ENCODINGS, "SetEncodings"},
    {RFB_MSG_UPDATE_REQUEST, "FramebufferUpdateRequest"},
    {RFB_MSG_KEY, "KeyEvent"},
    {RFB_MSG_POINTER, "PointerEvent"},
    {RFB_MSG_CUT_TEXT, "ClientCutText"},
    {7, "file transfer"},
    {8, "SetScale"},
    {9, "SetServerInput"},
    {10, "SetSW, single-window sharing"},
    {11, "TextChat"},
    {12, "KeyFrameRequest"},
    {13, "KeepAlive"},
    {15, "PalmVNC SetScaleFactor"},
    {20, "RequestSession"},
    {21, "SetSession"},
    {80, "NotifyPluginStreaming"},
    {127, "VMware"},
    {140, "car connectivity"},
    {RFB_MSG_CONTINUOUS_UPDATES, "EnableContinuousUpdates"},
    {RFB_MSG_FENCE, "Fence"},
    {249, "OLIVE call control"},
    {250, "xvp, power control"},
    {RFB_MSG_SET_DESKTOP_SIZE, "SetDesktopSize"},
    {252, "tight"},
    {253, "GII, general input interface"},
    {254, "VMware"},
    {255, "QEMU"},
};

const char *rfb_client_msg_name(uint8_t type)
{
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (names[i].type == type)
			return names[i].name;
	return "unknown";
}

/* --- one parser per allowed type: each returns the length, 0 or -1 --- */

/* bits in a maximum of the form 2^k - 1 */
static unsigned max_bits(uint16_t max)
{
	unsigned n = 0;

	while (max & 1) {
		max >>= 1;
		n++;
	}
	return n;
}

static bool channel_ok(const struct rfb_pixel_format *pf, uint16_t max, uint8_t shift)
{
	/* a maximum that is not 2^k - 1 leaves bits above its lowest zero */
	return max != 0 && (max & (max + 1u)) == 0 && max_bits(max) + shift <= pf->bpp;
}

static bool pixel_format_ok(const struct rfb_pixel_format *pf)
{
	if (pf->bpp != 8 && pf->bpp != 16 && pf->bpp != 32)
		return false;
	if (pf->depth == 0 || pf->depth > pf->bpp)
		return false;
	if (!pf->true_colour)
		return pf->bpp == 8;
	if (!channel_ok(pf, pf->red_max, pf->red_shift) ||
	    !channel_ok(pf, pf->green_max, pf->green_shift) ||
	    !channel_ok(pf, pf->blue_max, pf->blue_shift))
		return false;
	uint32_t r = (uint32_t)pf->red_max << pf->red_shift;
	uint32_t g = (uint32_t)pf->green_max << pf->green_shift;
	uint32_t b = (uint32_t)pf->blue_max << pf->blue_shift;
	return (r & g) == 0 && (r & b) == 0 && (g & b) == 0;
}

static ssize_t parse_pixel_format(const uint8_t *buf, size_t len, struct rfb_client_msg *msg)
{
	struct rfb_pixel_format *pf = &msg->u.pixel_format;
	const uint8_t *p = buf + 4;

	if (len < PIXEL_FORMAT_MSG_LEN)
		return 0;
	pf->bpp = p[0];
	pf->depth = p[1];
	pf->big_endian = p[2] != 0;
	pf->true_colour = p[3] != 0;
	pf->red_max = get_be16(p + 4);
	pf->green_max = get_be16(p + 6);
	pf->blue_max = get_be16(p + 8);
	pf->red_shift = p[10];
	pf->green_shift = p[11];
	pf->blue_shift = p[12];
	if (!pixel_format_ok(pf))
		return refuse(msg,
		              "SetPixelFormat with an unusable format (%u bpp, depth %u, %s, "
		              "max %u/%u/%u, shift %u/%u/%u)",
		              pf->bpp, pf->depth, pf->true_colour ? "true colour" : "colour map",
		              pf->red_max, pf->green_max, pf->blue_max, pf->red_shift,
		              pf->green_shift, pf->blue_shift);
	return PIXEL_FORMAT_MSG_LEN;
}

static ssize_t parse_encodings(const uint8_t *buf, size_t len, struct rfb_client_msg *msg)
{
	if (len < SET_ENCODINGS_HEAD_LEN)
		return 0;
	uint16_t n = get_be16(buf + 2);
	if (n > RFB_MAX_ENCODINGS)
		return refuse(msg, "SetEncodings lists %u encodings, at most %d are allowed", n,
		              RFB_MAX_ENCODINGS);
	size_t total = SET_ENCODINGS_HEAD_LEN + 4 * (size_t)n;
	if (len < total)
		return 0;
	msg->u.encodings.count = n;
	for (uint16_t i = 0; i < n; i++)
		msg->u.encodings.list[i] = (int32_t)get_be32(buf + SET_ENCODINGS_HEAD_LEN + 4 * i);
	return (ssize_t)total;
}

static ssize_t parse_update_request(const uint8_t *buf, size_t len, struct rfb_client_msg *msg)
{
	if (len < UPDATE_REQUEST_LEN)
		return 0;
	msg->u.update.incremental = buf[1] != 0;
	msg->u.update.x = get_be16(buf + 2);
	msg->u.update.y = get_be16(buf + 4);
	msg->u.update.w = get_be16(buf + 6);
	msg->u.update.h = get_be16(buf + 8);
	return UPDATE_REQUEST_LEN;
}

static ssize_t parse_key(const uint8_t *buf, size_t len, struct rfb_client_msg *msg)
{
	if (len < KEY_LEN)
		return 0;
	msg->u.key.down = buf[1] != 0;
	msg->u.key.keysym = get_be32(buf + 4);
	return KEY_LEN;
}

static ssize_t parse_pointer(const uint8_t *buf, size_t len, struct rfb_client_msg *msg)
{
	if (len < POINTER_LEN)
		return 0;
	msg->u.pointer.buttons = buf[1];
	msg->u.pointer.x = get_be16(buf + 2);
	msg->u.pointer.y = get_be16(buf + 4);
	return POINTER_LEN;
}

static unsigned popcount32(uint32_t v)
{
	unsigned n = 0;

	for (; v; v &= v - 1)
		n++;
	return n;
}

/* The flags and the payload's length of an extended clipboard message; -1 if they do not fit. */
static ssize_t check_ext_flags(struct rfb_client_msg *msg, uint32_t flags, uint32_t payload)
{
	uint32_t actions = flags & RFB_EXT_CLIP_ACTIONS;

	if (flags & ~EXT_ALLOWED_FLAGS)
		return refuse(msg, "extended ClientCutText with unknown flags 0x%08x", flags);
	if (flags & RFB_EXT_CLIP_CAPS) {
		uint32_t want = 4 * popcount32(flags & RFB_EXT_CLIP_FORMATS);
		if (payload != want)
			return refuse(msg, "extended clipboard caps with %u bytes of sizes, not %u",
			              payload, want);
		return 0;
	}
	if (popcount32(actions) != 1)
		return refuse(msg, "extended ClientCutText with flags 0x%08x: not one action",
		              flags);
	if (actions == RFB_EXT_CLIP_PROVIDE) {
		if (!(flags & RFB_EXT_CLIP_TEXT))
			return refuse(msg,
			              "extended clipboard provide without text (flags 0x%08x); "
			              "only text is allowed",
			              flags);
		if (payload == 0)
			return refuse(msg, "extended clipboard provide without data");
		return 0;
	}
	if (payload != 0)
		return refuse(msg,
		              "extended clipboard request, peek or notify with %u bytes of data",
		              payload);
	return 0;
}

static ssize_t parse_ext_cut_text(const uint8_t *buf, size_t len, uint32_t n,
                                  struct rfb_client_msg *msg)
{
	uint32_t size = 0u - n; /* n read as an s32 is negative: -n is 1..2^31 */

	if (size < EXT_FLAGS_LEN)
		return refuse(msg, "extended ClientCutText of %u bytes, shorter than its flags",
		              size);
	if (size > RFB_MAX_CUT_TEXT)
		return refuse(msg,
		              "extended ClientCutText of %u bytes is longer than the %d allowed",
		              size, RFB_MAX_CUT_TEXT);
	if (len < CUT_TEXT_HEAD_LEN + EXT_FLAGS_LEN)
		return 0;
	uint32_t flags = get_be32(buf + CUT_TEXT_HEAD_LEN);
	uint32_t payload = size - EXT_FLAGS_LEN;
	if (check_ext_flags(msg, flags, payload) < 0)
		return -1;
	if (len < CUT_TEXT_HEAD_LEN + (size_t)size)
		return 0;
	msg->u.cut_text.extended = true;
	msg->u.cut_text.flags = flags;
	msg->u.cut_text.offset = CUT_TEXT_HEAD_LEN + EXT_FLAGS_LEN;
	msg->u.cut_text.len = payload;
	if ((flags & RFB_EXT_CLIP_CAPS) && (flags & RFB_EXT_CLIP_TEXT))
		msg->u.cut_text.text_size = get_be32(buf + CUT_TEXT_HEAD_LEN + EXT_FLAGS_LEN);
	return (ssize_t)(CUT_TEXT_HEAD_LEN + size);
}

static ssize_t parse_cut_text(const uint8_t *buf, size_t len, const struct rfb_filter_options *opt,
                              struct rfb_client_msg *msg)
{
	if (len < CUT_TEXT_HEAD_LEN)
		return 0;
	uint32_t n = get_be32(buf + 4);
	if (n & CUT_TEXT_EXTENDED) {
		if (!opt || !opt->extended_clipboard)
			return refuse(
			    msg, "ClientCutText in the extended clipboard format is not allowed");
		return parse_ext_cut_text(buf, len, n, msg);
	}
	if (n > RFB_MAX_CUT_TEXT)
		return refuse(msg, "ClientCutText of %u bytes is longer than the %d allowed", n,
		              RFB_MAX_CUT_TEXT);
	if (len < CUT_TEXT_HEAD_LEN + (size_t)n)
		return 0;
	msg->u.cut_text.offset = CUT_TEXT_HEAD_LEN;
	msg->u.cut_text.len = n;
	return (ssize_t)(CUT_TEXT_HEAD_LEN + n);
}

static ssize_t parse_continuous(const uint8_t *buf, size_t len, struct rfb_client_msg *msg)
{
	if (len < CONTINUOUS_LEN)
		return 0;
	msg->u.continuous.enable = buf[1] != 0;
	msg->u.continuous.x = get_be16(buf + 2);
	msg->u.continuous.y = get_be16(buf + 4);
	msg->u.continuous.w = get_be16(buf + 6);
	msg->u.continuous.h = get_be16(buf + 8);
	return CONTINUOUS_LEN;
}

static ssize_t parse_fence(const uint8_t *buf, size_t len, struct rfb_client_msg *msg)
{
	if (len < FENCE_HEAD_LEN)
		return 0;
	uint8_t n = buf[8];
	if (n > RFB_MAX_FENCE)
		return refuse(msg, "Fence with %u bytes of payload, at most %d are allowed", n,
		              RFB_MAX_FENCE);
	if (len < FENCE_HEAD_LEN + (size_t)n)
		return 0;
	msg->u.fence.flags = get_be32(buf + 4);
	msg->u.fence.len = n;
	memcpy(msg->u.fence.payload, buf + FENCE_HEAD_LEN, n);
	return FENCE_HEAD_LEN + n;
}

static bool dim_ok(uint16_t v)
{
	return v >= 1 && v <= RFB_MAX_DESKTOP_DIM;
}

/*
 * The screen layout is recorded but not judged: shoji has one screen and
 * the caller relays a single screen at 0,0 of the asked size, whatever
 * layout came (libvncclient 0.9.14 leaves id, position and flags unset).
 */
static void parse_screens(const uint8_t *buf, struct rfb_client_msg *msg)
{
	for (unsigned i = 0; i < msg->u.desktop.nscreens; i++) {
		const uint8_t *p = buf + DESKTOP_HEAD_LEN + SCREEN_LEN * i;
		struct rfb_screen *s = &msg->u.desktop.screens[i];
		s->id = get_be32(p);
		s->x = get_be16(p + 4);
		s->y = get_be16(p + 6);
		s->w = get_be16(p + 8);
		s->h = get_be16(p + 10);
		s->flags = get_be32(p + 12);
	}
}

static ssize_t parse_desktop_size(const uint8_t *buf, size_t len, struct rfb_client_msg *msg)
{
	if (len < DESKTOP_HEAD_LEN)
		return 0;
	uint16_t w = get_be16(buf + 2), h = get_be16(buf + 4);
	uint8_t n = buf[6];
	if (!dim_ok(w) || !dim_ok(h))
		return refuse(msg, "SetDesktopSize to %ux%u; each side must be 1 to %d", w, h,
		              RFB_MAX_DESKTOP_DIM);
	if (n < 1 || n > RFB_MAX_SCREENS)
		return refuse(msg, "SetDesktopSize with %u screens; 1 to %d are allowed", n,
		              RFB_MAX_SCREENS);
	size_t total = DESKTOP_HEAD_LEN + SCREEN_LEN * (size_t)n;
	if (len < total)
		return 0;
	msg->u.desktop.width = w;
	msg->u.desktop.height = h;
	msg->u.desktop.nscreens = n;
	parse_screens(buf, msg);
	return (ssize_t)total;
}

/* --- the whitelist --- */

ssize_t rfb_client_msg(const uint8_t *buf, size_t len, struct rfb_client_msg *msg)
{
	return rfb_client_msg_opt(buf, len, NULL, msg);
}

ssize_t rfb_client_msg_opt(const uint8_t *buf, size_t len, const struct rfb_filter_options *opt,
                           struct rfb_client_msg *msg)
{
	ssize_t n;

	memset(msg, 0, sizeof(*msg));
	if (len < 1)
		return 0;
	msg->type = buf[0];
	switch (buf[0]) {
	case RFB_MSG_SET_PIXEL_FORMAT:
		n = parse_pixel_format(buf, len, msg);
		break;
	case RFB_MSG_SET_ENCODINGS:
		n = parse_encodings(buf, len, msg);
		break;
	case RFB_MSG_UPDATE_REQUEST:
		n = parse_update_request(buf, len, msg);
		break;
	case RFB_MSG_KEY:
		n = parse_key(buf, len, msg);
		break;
	case RFB_MSG_POINTER:
		n = parse_pointer(buf, len, msg);
		break;
	case RFB_MSG_CUT_TEXT:
		n = parse_cut_text(buf, len, opt, msg);
		break;
	case RFB_MSG_CONTINUOUS_UPDATES:
		n = parse_continuous(buf, len, msg);
		break;
	case RFB_MSG_FENCE:
		n = parse_fence(buf, len, msg);
		break;
	case RFB_MSG_SET_DESKTOP_SIZE:
		n = parse_desktop_size(buf, len, msg);
		break;
	default:
		return refuse(msg, "client message %u (%s) is not allowed", buf[0],
		              rfb_client_msg_name(buf[0]));
	}
	if (n > 0)
		msg->len = (size_t)n;
	return n;
}

/* --- SetEncodings helpers --- */

bool rfb_encodings_has(const struct rfb_client_msg *msg, int32_t encoding)
{
	if (msg->type != RFB_MSG_SET_ENCODINGS)
		return false;
	for (unsigned i = 0; i < msg->u.encodings.count; i++)
		if (msg->u.encodings.list[i] == encoding)
			return true;
	return false;
}

unsigned rfb_encodings_remove(struct rfb_client_msg *msg, int32_t encoding)
{
	unsigned kept = 0, removed = 0;

	if (msg->type != RFB_MSG_SET_ENCODINGS)
		return 0;
	for (unsigned i = 0; i < msg->u.encodings.count; i++) {
		if (msg->u.encodings.list[i] == encoding)
			removed++;
		else
			msg->u.encodings.list[kept++] = msg->u.encodings.list[i];
	}
	msg->u.encodings.count = (uint16_t)kept;
	return removed;
}

size_t rfb_encodings_write(const struct rfb_client_msg *msg, uint8_t *out, size_t cap)
{
	if (msg->type != RFB_MSG_SET_ENCODINGS || msg->u.encodings.count > RFB_MAX_ENCODINGS)
		return 0;
	size_t total = SET_ENCODINGS_HEAD_LEN + 4 * (size_t)msg->u.encodings.count;
	if (cap < total)
		return 0;
	out[0] = RFB_MSG_SET_ENCODINGS;
	out[1] = 0;
	put_be16(out + 2, msg->u.encodings.count);
	for (unsigned i = 0; i < msg->u.encodings.count; i++)
		put_be32(out + SET_ENCODINGS_HEAD_LEN + 4 * i, (uint32_t)msg->u.encodings.list[i]);
	return total;
}

/* --- extended clipboard helpers --- */

/*
 * Inflates into out[0..want) from where zs stands; the bytes written, or
 * -1 if the stream is broken. Fewer than want means the stream ended.
 */
static ssize_t inflate_some(z_stream *zs, uint8_t *out, size_t want)
{
	zs->next_out = out;
	zs->avail_out = (uInt)want;
	while (zs->avail_out > 0) {
		uInt before = zs->avail_out;
		int rc = inflate(zs, Z_SYNC_FLUSH);
		if (rc == Z_STREAM_END)
			break;
		if (rc == Z_BUF_ERROR && zs->avail_out == before)
			break; /* no more input: the stream was flushed, not finished */
		if (rc != Z_OK)
			return -1;
	}
	return (ssize_t)(want - zs->avail_out);
}

static ssize_t clip_fail(char *why, z_stream *zs, const char *text)
{
	snprintf(why, RFB_FILTER_REASON_LEN, "extended clipboard provide: %s", text);
	inflateEnd(zs);
	return -1;
}

ssize_t rfb_ext_clip_text(const uint8_t *payload, size_t len, uint8_t *out, size_t max,
                          uint32_t *declared, char *why)
{
	z_stream zs = {0};
	uint8_t size_be[4];

	*declared = 0;
	why[0] = '\0';
	if (len > UINT32_MAX || inflateInit(&zs) != Z_OK) {
		snprintf(why, RFB_FILTER_REASON_LEN, "extended clipboard provide: cannot inflate");
		return -1;
	}
	zs.next_in = (Bytef *)(uintptr_t)payload; /* zlib does not write through next_in */
	zs.avail_in = (uInt)len;
	ssize_t got = inflate_some(&zs, size_be, sizeof(size_be));
	if (got < 0)
		return clip_fail(why, &zs, "broken zlib stream");
	if (got < (ssize_t)sizeof(size_be))
		return clip_fail(why, &zs, "the stream ends before the text's size");
	*declared = get_be32(size_be);
	if (*declared > RFB_MAX_EXT_CLIP_DECLARED) {
		snprintf(
		    why, RFB_FILTER_REASON_LEN,
		    "extended clipboard provide says its text is %u bytes; at most %u are allowed",
		    *declared, RFB_MAX_EXT_CLIP_DECLARED);
		inflateEnd(&zs);
		return -1;
	}
	size_t want = MIN((size_t)*declared, max);
	got = want ? inflate_some(&zs, out, want) : 0;
	if (got < 0)
		return clip_fail(why, &zs, "broken zlib stream");
	if ((size_t)got < want)
		return clip_fail(why, &zs, "the stream ends before the text it announced");
	inflateEnd(&zs);
	return got;
}

size_t rfb_ext_clip_write(uint32_t flags, uint32_t text_size, uint8_t *out)
{
	size_t n = CUT_TEXT_HEAD_LEN + EXT_FLAGS_LEN;
	bool size = (flags & RFB_EXT_CLIP_CAPS) && (flags & RFB_EXT_CLIP_TEXT);

	if (size)
		n += 4;
	memset(out, 0, CUT_TEXT_HEAD_LEN);
	out[0] = RFB_MSG_CUT_TEXT;
	put_be32(out + 4, 0u - (uint32_t)(n - CUT_TEXT_HEAD_LEN));
	put_be32(out + CUT_TEXT_HEAD_LEN, flags);
	if (size)
		put_be32(out + CUT_TEXT_HEAD_LEN + EXT_FLAGS_LEN, text_size);
	return n;
}

size_t rfb_ext_clip_provide(const uint8_t *text, size_t len, uint8_t *out, size_t cap)
{
	const size_t head = CUT_TEXT_HEAD_LEN + EXT_FLAGS_LEN;
	uint8_t size_be[4], nul = 0;
	z_stream zs = {0};
	bool ok;

	if (len >= RFB_MAX_CUT_TEXT || cap <= head || cap - head > UINT32_MAX ||
	    deflateInit(&zs, Z_DEFAULT_COMPRESSION) != Z_OK)
		return 0;
	put_be32(size_be, (uint32_t)len + 1);
	zs.next_out = out + head;
	zs.avail_out = (uInt)(cap - head);
	zs.next_in = size_be;
	zs.avail_in = sizeof(size_be);
	ok = deflate(&zs, Z_NO_FLUSH) == Z_OK;
	zs.next_in = (Bytef *)(uintptr_t)text;
	zs.avail_in = (uInt)len;
	/* Without input deflate() says Z_BUF_ERROR: empty text skips the call. */
	ok = ok && (len == 0 || deflate(&zs, Z_NO_FLUSH) == Z_OK);
	zs.next_in = &nul;
	zs.avail_in = 1;
	ok = ok && deflate(&zs, Z_SYNC_FLUSH) == Z_OK && zs.avail_in == 0 && zs.avail_out > 0;
	size_t n = head + zs.total_out;
	deflateEnd(&zs);
	if (!ok || n - CUT_TEXT_HEAD_LEN > RFB_MAX_CUT_TEXT)
		return 0;
	memset(out, 0, CUT_TEXT_HEAD_LEN);
	out[0] = RFB_MSG_CUT_TEXT;
	put_be32(out + 4, 0u - (uint32_t)(n - CUT_TEXT_HEAD_LEN));
	put_be32(out + CUT_TEXT_HEAD_LEN, RFB_EXT_CLIP_PROVIDE | RFB_EXT_CLIP_TEXT);
	return n;
}
