/*
 * The whitelist of RFB client-to-server messages that shojid relays from a
 * viewer to libvncserver. libvncserver 0.9.14 also acts on UltraVNC file
 * transfer, SetScale, TextChat and other messages no shoji session may
 * carry; only the message types below pass, each checked whole before any
 * byte of it is relayed. A refused message ends the connection: the stream
 * cannot be resynchronised past a message whose length is unknown.
 *
 * Handles untrusted input: yes, every byte a viewer sends after the
 * handshake. rfb_client_msg() is pure and has a fuzz target
 * (tests/fuzz/fuzz-rfb-filter.c).
 *
 * Allowed (all integers big-endian; "pad" bytes are not looked at):
 *
 *   type  name                     length      checks
 *   0     SetPixelFormat           20          pixel format below
 *   2     SetEncodings             4 + 4n      n <= RFB_MAX_ENCODINGS
 *   3     FramebufferUpdateRequest 10
 *   4     KeyEvent                 8
 *   5     PointerEvent             6
 *   6     ClientCutText            8 + n       n <= RFB_MAX_CUT_TEXT; a negative
 *                                              n (extended clipboard) only with
 *                                              rfb_filter_options, see below
 *   150   EnableContinuousUpdates  10
 *   248   Fence                    9 + n       n <= RFB_MAX_FENCE
 *   251   SetDesktopSize           8 + 16n     1 <= n <= RFB_MAX_SCREENS; width
 *                                              and height 1..RFB_MAX_DESKTOP_DIM;
 *                                              each screen non-empty and inside
 *
 * A pixel format must have 8, 16 or 32 bits per pixel and a depth of 1 up
 * to that; in true colour each maximum is 2^k - 1 (k >= 1) and each channel
 * (maximum << shift) fits in the pixel without overlapping another; colour
 * map formats must be 8 bits per pixel (what libvncserver supports).
 *
 * ClientCutText is allowed by the parser but carries the viewer's clipboard:
 * the caller applies the clipboard policy (drop it by default; the text is
 * msg->u.cut_text.len bytes at msg->u.cut_text.offset in the message).
 *
 * Extended clipboard (pseudo-encoding RFB_ENCODING_EXTENDED_CLIPBOARD,
 * UTF-8 text): ClientCutText whose length n, read as an s32, is negative;
 * -n bytes follow, a u32 of flags first. rfb_client_msg() refuses it
 * (then the caller removes the pseudo-encoding from SetEncodings with
 * rfb_encodings_remove() and rfb_encodings_write(), so that libvncserver
 * never offers it); rfb_client_msg_opt() with extended_clipboard allows it:
 *
 *   -n <= RFB_MAX_CUT_TEXT, -n >= 4 (the flags); no flag outside the
 *   formats (bits 0..4: text, rtf, html, dib, files) and actions
 *   (bits 24..28: caps, request, peek, notify, provide);
 *   caps: any actions; a u32 size per format listed, nothing else;
 *   request, peek, notify: exactly one action, no payload;
 *   provide: exactly one action, the text format listed, a zlib stream.
 *
 * The provide's stream is not inflated by rfb_client_msg_opt();
 * rfb_ext_clip_text() takes its text out, bounded (see there). Only the
 * text format ever crosses: the caller rewrites caps, request, notify and
 * peek to the text format and rebuilds a provide from the filtered text
 * (rfb_ext_clip_write(), rfb_ext_clip_provide()), so libvncserver never
 * inflates a stream a viewer made, nor sees a format other than text.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RFB_MAX_ENCODINGS 64
#define RFB_MAX_CUT_TEXT (1024 * 1024) /* bytes of ClientCutText */
#define RFB_MAX_FENCE 64               /* bytes of Fence payload */
#define RFB_MAX_SCREENS 16             /* in SetDesktopSize */
#define RFB_MAX_DESKTOP_DIM 8192       /* pixels, width or height */
#define RFB_FILTER_REASON_LEN 128
/* The text an extended clipboard provide may say it carries: more ends the connection. */
#define RFB_MAX_EXT_CLIP_DECLARED (16u * 1024 * 1024)

/* The longest message rfb_client_msg() can accept: a caller whose buffer
 * holds this many bytes never stalls. */
#define RFB_MAX_CLIENT_MSG (8 + RFB_MAX_CUT_TEXT)

enum rfb_client_msg_type {
	RFB_MSG_SET_PIXEL_FORMAT = 0,
	RFB_MSG_SET_ENCODINGS = 2,
	RFB_MSG_UPDATE_REQUEST = 3,
	RFB_MSG_KEY = 4,
	RFB_MSG_POINTER = 5,
	RFB_MSG_CUT_TEXT = 6,
	RFB_MSG_CONTINUOUS_UPDATES = 150,
	RFB_MSG_FENCE = 248,
	RFB_MSG_SET_DESKTOP_SIZE = 251,
};

/* Encodings and pseudo-encodings a caller may look for in SetEncodings. */
#define RFB_ENCODING_RAW 0
#define RFB_ENCODING_COPY_RECT 1
#define RFB_ENCODING_TIGHT 7
#define RFB_ENCODING_ZRLE 16
#define RFB_ENCODING_RICH_CURSOR (-239)
#define RFB_ENCODING_DESKTOP_SIZE (-223)
#define RFB_ENCODING_EXTENDED_DESKTOP_SIZE (-308)
#define RFB_ENCODING_XVP (-309)
#define RFB_ENCODING_FENCE (-312)
#define RFB_ENCODING_CONTINUOUS_UPDATES (-313)
#define RFB_ENCODING_EXTENDED_CLIPBOARD ((int32_t)0xc0a1e5ceu)

/* Extended clipboard flags: formats in the low bits, actions from bit 24. */
#define RFB_EXT_CLIP_TEXT 1u
#define RFB_EXT_CLIP_FORMATS 0x1fu /* text, rtf, html, dib, files */
#define RFB_EXT_CLIP_CAPS (1u << 24)
#define RFB_EXT_CLIP_REQUEST (1u << 25)
#define RFB_EXT_CLIP_PEEK (1u << 26)
#define RFB_EXT_CLIP_NOTIFY (1u << 27)
#define RFB_EXT_CLIP_PROVIDE (1u << 28)
#define RFB_EXT_CLIP_ACTIONS (0x1fu << 24)

/* What the caller's policy lets through beyond the fixed whitelist. */
struct rfb_filter_options {
	bool extended_clipboard; /* negative-length ClientCutText (see above) */
};

struct rfb_pixel_format {
	uint8_t bpp, depth;
	bool big_endian, true_colour;
	uint16_t red_max, green_max, blue_max;
	uint8_t red_shift, green_shift, blue_shift;
};

struct rfb_screen {
	uint32_t id;
	uint16_t x, y, w, h;
	uint32_t flags;
};

/* One parsed message; the member of u that type names is filled in. */
struct rfb_client_msg {
	uint8_t type;                       /* also set when the type is refused */
	size_t len;                         /* bytes of the whole message */
	char reason[RFB_FILTER_REASON_LEN]; /* why it was refused; "" otherwise */
	union {
		struct rfb_pixel_format pixel_format;
		struct {
			uint16_t count;
			int32_t list[RFB_MAX_ENCODINGS];
		} encodings;
		struct {
			bool incremental;
			uint16_t x, y, w, h;
		} update;
		struct {
			bool down;
			uint32_t keysym;
		} key;
		struct {
			uint8_t buttons;
			uint16_t x, y;
		} pointer;
		struct {
			size_t offset; /* of the text (extended: the payload after the flags) */
			uint32_t len;  /* its bytes */
			bool extended; /* extended clipboard: flags and text_size are set */
			uint32_t flags;
			uint32_t text_size; /* caps listing text: the size given for it; else 0 */
		} cut_text;
		struct {
			bool enable;
			uint16_t x, y, w, h;
		} continuous;
		struct {
			uint32_t flags;
			uint8_t len;
			uint8_t payload[RFB_MAX_FENCE];
		} fence;
		struct {
			uint16_t width, height;
			uint8_t nscreens;
			struct rfb_screen screens[RFB_MAX_SCREENS];
		} desktop;
	} u;
};

/**
 * Parses the one client message at the start of buf. Returns its length
 * (> 0) when it is whole and allowed, 0 if more bytes are needed (never
 * more than RFB_MAX_CLIENT_MSG in all), or -1 when it is refused: a type
 * not on the whitelist (refused from its first byte) or a malformed or
 * oversized allowed one (refused as soon as the bytes showing it are
 * there). msg is filled in when > 0; on -1, msg->type and msg->reason say
 * what and why. Pure.
 */
ssize_t rfb_client_msg(const uint8_t *buf, size_t len, struct rfb_client_msg *msg);

/** rfb_client_msg() with what opt allows beyond the fixed whitelist (NULL: nothing). */
ssize_t rfb_client_msg_opt(const uint8_t *buf, size_t len, const struct rfb_filter_options *opt,
                           struct rfb_client_msg *msg);

/**
 * The text of an extended clipboard provide (payload and len: the zlib
 * stream, as msg->u.cut_text gives them). Inflates the text format's u32
 * size and then at most max bytes of its text into out (which holds max),
 * so a message of a megabyte that would inflate to gigabytes costs no
 * more than one that would not. Returns the bytes written (the first
 * bytes of the text, still to be filtered) with the size the viewer gave
 * in *declared, or -1 with a reason in why (RFB_FILTER_REASON_LEN bytes)
 * when the stream is broken, ends before that text, or gives a size over
 * RFB_MAX_EXT_CLIP_DECLARED. Pure but for zlib's own allocations.
 */
ssize_t rfb_ext_clip_text(const uint8_t *payload, size_t len, uint8_t *out, size_t max,
                          uint32_t *declared, char *why);

/**
 * Writes an extended ClientCutText without a stream: flags, and with
 * RFB_EXT_CLIP_CAPS and RFB_EXT_CLIP_TEXT the one size text_size. Returns
 * its length (at most 16, which out must hold).
 */
size_t rfb_ext_clip_write(uint32_t flags, uint32_t text_size, uint8_t *out);

/**
 * Writes an extended ClientCutText provide of text (len bytes, sent with a
 * NUL after it, as viewers do) into out; returns its length, or 0 if cap
 * is too small or zlib fails. The stream is flushed, not finished:
 * libvncserver and TigerVNC read one stream per message that way.
 */
size_t rfb_ext_clip_provide(const uint8_t *text, size_t len, uint8_t *out, size_t cap);

/** A short name for any client message type, for logs ("SetEncodings"). */
const char *rfb_client_msg_name(uint8_t type);

/** Whether a parsed SetEncodings lists encoding. */
bool rfb_encodings_has(const struct rfb_client_msg *msg, int32_t encoding);

/** Drops every occurrence of encoding from a parsed SetEncodings; returns how many. */
unsigned rfb_encodings_remove(struct rfb_client_msg *msg, int32_t encoding);

/**
 * Writes msg's SetEncodings (as changed by rfb_encodings_remove()) into
 * out; returns its length, or 0 if msg is not a SetEncodings or cap is too
 * small (4 + 4 * RFB_MAX_ENCODINGS always suffices).
 */
size_t rfb_encodings_write(const struct rfb_client_msg *msg, uint8_t *out, size_t cap);
