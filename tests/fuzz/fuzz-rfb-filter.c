/*
 * libFuzzer target for the RFB client message whitelist. The input is a
 * viewer's stream after the handshake, parsed message after message as
 * shojid relays it, once with the fixed whitelist and once with the
 * extended clipboard allowed. Each accepted message must be within the
 * input, of an allowed type, with every decoded count and size inside its
 * maximum; one byte less must be "need more"; a SetEncodings must survive
 * being written back. An extended clipboard message is refused without
 * the option; a provide's text comes out bounded, and written again by
 * shojid it reads back the same; caps and notifies written again parse.
 * A refusal must carry a reason. Broken invariants abort.
 *
 * Handles untrusted input: it is nothing but untrusted input.
 * Seeds: tests/fuzz/corpus/rfb-filter/.
 */
#include "autoconfig.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rfb_filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "invariant failed: %s\n", #cond);                          \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static void check_encodings(const struct rfb_client_msg *msg, const uint8_t *bytes)
{
	uint8_t out[4 + 4 * RFB_MAX_ENCODINGS];
	struct rfb_client_msg again;

	CHECK(msg->u.encodings.count <= RFB_MAX_ENCODINGS);
	CHECK(msg->len == 4 + 4 * (size_t)msg->u.encodings.count);
	size_t n = rfb_encodings_write(msg, out, sizeof(out));
	CHECK(n == msg->len);
	CHECK(memcmp(out + 2, bytes + 2, n - 2) == 0); /* byte 1 is padding */
	CHECK(rfb_client_msg(out, n, &again) == (ssize_t)n);
	if (msg->u.encodings.count > 0) {
		int32_t first = msg->u.encodings.list[0];
		CHECK(rfb_encodings_has(msg, first));
		unsigned removed = rfb_encodings_remove(&again, first);
		CHECK(removed >= 1 && !rfb_encodings_has(&again, first));
		CHECK(again.u.encodings.count + removed == msg->u.encodings.count);
	}
}

static void check_desktop(const struct rfb_client_msg *msg)
{
	CHECK(msg->u.desktop.width >= 1 && msg->u.desktop.width <= RFB_MAX_DESKTOP_DIM);
	CHECK(msg->u.desktop.height >= 1 && msg->u.desktop.height <= RFB_MAX_DESKTOP_DIM);
	CHECK(msg->u.desktop.nscreens >= 1 && msg->u.desktop.nscreens <= RFB_MAX_SCREENS);
	CHECK(msg->len == 8 + 16 * (size_t)msg->u.desktop.nscreens);
	/* Screen layouts are not judged: the caller relays one screen at 0,0. */
}

#define TEXT_MAX 300 /* the bound fuzzed provides are inflated to */

/* A provide's text comes out bounded; written again by shojid, it reads back the same. */
static void check_provide(const uint8_t *payload, size_t len)
{
	static const struct rfb_filter_options ext = {.extended_clipboard = true};
	uint8_t text[TEXT_MAX + 1], again_text[TEXT_MAX + 1], out[2 * TEXT_MAX + 64];
	char why[RFB_FILTER_REASON_LEN];
	struct rfb_client_msg again;
	uint32_t declared, declared2;

	text[TEXT_MAX] = 0xa5; /* a guard byte: nothing is written past the bound */
	ssize_t n = rfb_ext_clip_text(payload, len, text, TEXT_MAX, &declared, why);
	CHECK(text[TEXT_MAX] == 0xa5);
	if (n < 0) {
		CHECK(why[0] != '\0' && memchr(why, 0, RFB_FILTER_REASON_LEN));
		return;
	}
	CHECK((size_t)n <= TEXT_MAX && (size_t)n <= declared);
	CHECK(declared <= RFB_MAX_EXT_CLIP_DECLARED);
	size_t m = rfb_ext_clip_provide(text, (size_t)n, out, sizeof(out));
	CHECK(m > 0);
	CHECK(rfb_client_msg_opt(out, m, &ext, &again) == (ssize_t)m);
	CHECK(again.u.cut_text.extended && again.u.cut_text.flags == (RFB_EXT_CLIP_PROVIDE | 1));
	ssize_t n2 = rfb_ext_clip_text(out + again.u.cut_text.offset, again.u.cut_text.len,
	                               again_text, TEXT_MAX + 1, &declared2, why);
	CHECK(n2 == n + 1 && declared2 == (uint32_t)n + 1);
	CHECK(memcmp(again_text, text, (size_t)n) == 0 && again_text[n] == 0);
}

static void check_ext_clip(const struct rfb_client_msg *msg, const uint8_t *bytes, size_t len)
{
	static const struct rfb_filter_options ext = {.extended_clipboard = true};
	uint32_t flags = msg->u.cut_text.flags, actions = flags & RFB_EXT_CLIP_ACTIONS;
	struct rfb_client_msg again;
	uint8_t out[16];

	CHECK(rfb_client_msg(bytes, len, &again) == -1); /* never without the option */
	CHECK((flags & ~(RFB_EXT_CLIP_FORMATS | RFB_EXT_CLIP_ACTIONS)) == 0 && actions != 0);
	CHECK(msg->u.cut_text.offset == 12 && msg->u.cut_text.offset + msg->u.cut_text.len == len);
	if (actions == RFB_EXT_CLIP_PROVIDE) {
		CHECK(flags & RFB_EXT_CLIP_TEXT);
		check_provide(bytes + msg->u.cut_text.offset, msg->u.cut_text.len);
		return;
	}
	if (!(flags & RFB_EXT_CLIP_CAPS))
		CHECK(msg->u.cut_text.len == 0);
	/* What shojid relays instead: the text format only. */
	uint32_t text_only = (flags & ~RFB_EXT_CLIP_FORMATS) | (flags & RFB_EXT_CLIP_TEXT);
	size_t n = rfb_ext_clip_write(text_only, msg->u.cut_text.text_size, out);
	CHECK(rfb_client_msg_opt(out, n, &ext, &again) == (ssize_t)n);
	CHECK(again.u.cut_text.flags == text_only);
	CHECK(again.u.cut_text.text_size == msg->u.cut_text.text_size);
}

static void check_message(const struct rfb_client_msg *msg, const uint8_t *bytes, size_t len,
                          const struct rfb_filter_options *opt)
{
	struct rfb_client_msg again;

	CHECK(msg->len == len && msg->type == bytes[0] && msg->reason[0] == '\0');
	CHECK(len <= RFB_MAX_CLIENT_MSG);
	CHECK(rfb_client_msg_opt(bytes, len - 1, opt, &again) == 0);
	switch (msg->type) {
	case RFB_MSG_SET_PIXEL_FORMAT:
		CHECK(len == 20);
		CHECK(msg->u.pixel_format.bpp == 8 || msg->u.pixel_format.bpp == 16 ||
		      msg->u.pixel_format.bpp == 32);
		break;
	case RFB_MSG_SET_ENCODINGS:
		check_encodings(msg, bytes);
		break;
	case RFB_MSG_UPDATE_REQUEST:
	case RFB_MSG_CONTINUOUS_UPDATES:
		CHECK(len == 10);
		break;
	case RFB_MSG_KEY:
		CHECK(len == 8);
		break;
	case RFB_MSG_POINTER:
		CHECK(len == 6);
		break;
	case RFB_MSG_CUT_TEXT:
		CHECK(msg->u.cut_text.len <= RFB_MAX_CUT_TEXT);
		if (msg->u.cut_text.extended) {
			CHECK(opt && opt->extended_clipboard);
			check_ext_clip(msg, bytes, len);
			break;
		}
		CHECK(msg->u.cut_text.offset + msg->u.cut_text.len == len);
		break;
	case RFB_MSG_FENCE:
		CHECK(msg->u.fence.len <= RFB_MAX_FENCE && len == 9 + (size_t)msg->u.fence.len);
		break;
	case RFB_MSG_SET_DESKTOP_SIZE:
		check_desktop(msg);
		break;
	default:
		abort(); /* a type outside the whitelist was accepted */
	}
}

static void parse_stream(const uint8_t *data, size_t size, const struct rfb_filter_options *opt)
{
	struct rfb_client_msg msg, again;
	size_t off = 0;

	while (off < size) {
		ssize_t n = rfb_client_msg_opt(data + off, size - off, opt, &msg);
		CHECK(n >= -1);
		if (n == 0)
			break;
		if (n < 0) {
			CHECK(msg.reason[0] != '\0' && msg.type == data[off]);
			CHECK(memchr(msg.reason, 0, sizeof(msg.reason)));
			/* Once refused, more bytes do not change the answer. */
			uint8_t *longer = malloc(size - off + 16);
			memcpy(longer, data + off, size - off);
			memset(longer + size - off, 0, 16);
			CHECK(rfb_client_msg_opt(longer, size - off + 16, opt, &again) == -1);
			CHECK(strcmp(again.reason, msg.reason) == 0);
			free(longer);
			break;
		}
		CHECK((size_t)n <= size - off);
		check_message(&msg, data + off, (size_t)n, opt);
		off += (size_t)n;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct rfb_filter_options ext = {.extended_clipboard = true};

	parse_stream(data, size, NULL);
	parse_stream(data, size, &ext);
	(void)rfb_client_msg_name(size ? data[0] : 0);
	return 0;
}
