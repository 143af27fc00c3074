/*
 * libFuzzer target for the RFB client message whitelist. The input is a
 * viewer's stream after the handshake, parsed message after message as
 * shojid relays it. Each accepted message must be within the input, of an
 * allowed type, with every decoded count and size inside its maximum; one
 * byte less must be "need more"; a SetEncodings must survive being written
 * back. A refusal must carry a reason. Broken invariants abort.
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

static void check_message(const struct rfb_client_msg *msg, const uint8_t *bytes, size_t len)
{
	struct rfb_client_msg again;

	CHECK(msg->len == len && msg->type == bytes[0] && msg->reason[0] == '\0');
	CHECK(len <= RFB_MAX_CLIENT_MSG);
	CHECK(rfb_client_msg(bytes, len - 1, &again) == 0);
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rfb_client_msg msg, again;
	size_t off = 0;

	while (off < size) {
		ssize_t n = rfb_client_msg(data + off, size - off, &msg);
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
			CHECK(rfb_client_msg(longer, size - off + 16, &again) == -1);
			CHECK(strcmp(again.reason, msg.reason) == 0);
			free(longer);
			break;
		}
		CHECK((size_t)n <= size - off);
		check_message(&msg, data + off, (size_t)n);
		off += (size_t)n;
	}
	(void)rfb_client_msg_name(size ? data[0] : 0);
	return 0;
}
