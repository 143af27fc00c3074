/*
 * The pixel link: the only channel between shojid (LGWAN side) and one
 * session's shoji-render (inside the sandbox). Both processes include this
 * header; nothing else is shared between proxy/ and render/ but small pure
 * helpers.
 *
 * Transport: a SOCK_SEQPACKET socketpair, one message per packet, at most
 * PIXLINK_MAX_MSG bytes, little-endian. Each message starts with
 *   u16 type, u16 flags (0), u32 payload length
 * followed by the payload. The framebuffer is a memfd that render creates,
 * seals against shrinking and growing (F_SEAL_SHRINK | F_SEAL_GROW |
 * F_SEAL_SEAL), and passes with PIXLINK_FRAMEBUFFER; it is the only message
 * that may carry a descriptor.
 *
 * Flow control: render may send one DAMAGE per credit that shojid granted
 * (PIXLINK_CREDIT). Between sending DAMAGE and receiving the next credit,
 * render does not write the framebuffer, so shojid reads a stable picture;
 * damage that happens meanwhile is coalesced and sent with the next credit.
 *
 * shojid treats everything render sends as hostile: pixlink_parse() checks
 * every length, count and range; pixlink_damage_ok() checks rectangles
 * against the framebuffer, and pixlink_fb_fd_check() the memfd's seals and
 * size. proxy/pixlink_client.h adds the rules about order (HELLO first,
 * credit, sequence numbers, generations).
 *
 * Handles untrusted input: yes (pixlink_parse is a pure function over
 * bytes and has a fuzz target, tests/fuzz/fuzz-pixlink.c).
 *
 * Payloads. All integers little-endian; "0" fields are reserved and must be
 * zero; the payload length in the header must be exactly the length given
 * here, or the message is malformed.
 *
 *   type         len          payload
 *   HELLO        12           u32 version, u32 pid, u32 token (0 at start; the
 *                             token of the RESYNC it answers)
 *   FRAMEBUFFER  28           u32 generation, u32 width, u32 height, u32 stride,
 *                             u32 format, u64 size          (+ the memfd)
 *   DAMAGE       12 + 8*n     u32 seq, u32 generation, u16 n (1..PIXLINK_MAX_RECTS),
 *                             u16 0, then n times u16 x, u16 y, u16 w, u16 h
 *   CURSOR       12 + 4*w*h   u32 serial, u16 w, u16 h (1..PIXLINK_MAX_CURSOR),
 *                             u16 hot_x (< w), u16 hot_y (< h), then w*h*4 bytes
 *   PONG         4            u32 seq
 *   NOTICE       8 + n        u32 code (a pixlink_notice_code), u16 n
 *                             (0..PIXLINK_MAX_NOTICE), u16 0, then n bytes of
 *                             UTF-8 without control characters
 *   CREDIT       4            u32 count (1..PIXLINK_MAX_CREDIT)
 *   KEY          12           u32 keysym, u32 scancode, u32 down (0 or 1)
 *   UNICODE      4            u32 code point (a Unicode scalar value: not a
 *                             surrogate, at most 0x10FFFF)
 *   POINTER      8            u16 x, u16 y, u32 buttons (within PIXLINK_BUTTON_MASK)
 *   WHEEL        4            s16 dx, s16 dy
 *   RESIZE       4            u16 width, u16 height (1..PIXLINK_MAX_DIM)
 *   PING         4            u32 seq
 *   REFRESH      0
 *   RESYNC       4            u32 token (non-zero)
 *   CLIPBOARD_OUT, CLIPBOARD_IN
 *                0..PIXLINK_MAX_CLIPBOARD
 *                             clipboard text, already filtered (cliptext.h):
 *                             UTF-8 without control characters but tab and
 *                             LF; anything else is malformed
 *
 * FRAMEBUFFER geometry must pass pixlink_fb_geometry_ok() with
 * PIXLINK_MAX_DIM; DAMAGE rectangles are checked against the framebuffer
 * only by pixlink_damage_ok(), since the parser does not know it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PIXLINK_VERSION 1
#define PIXLINK_HEADER_LEN 8
#define PIXLINK_MAX_RECTS 256
#define PIXLINK_MAX_CURSOR 128 /* pixels, each side */
#define PIXLINK_MAX_MSG (PIXLINK_HEADER_LEN + 16 + PIXLINK_MAX_CURSOR * PIXLINK_MAX_CURSOR * 4)
#define PIXLINK_MAX_DIM 8192
#define PIXLINK_MAX_CREDIT 4
#define PIXLINK_MAX_NOTICE 200 /* bytes of UTF-8 text */
/* Bytes of clipboard text in one message ([policy] clipboard_max_bytes is at most this). */
#define PIXLINK_MAX_CLIPBOARD 65536
/* Bytes a framebuffer memfd may hold beyond stride*height (page rounding). */
#define PIXLINK_FB_MAX_SLACK 65536

/* The only pixel format: 32 bits per pixel, bytes B, G, R, X in memory. */
#define PIXLINK_FORMAT_BGRX8888 1

enum pixlink_type {
	/* render -> shojid */
	PIXLINK_HELLO = 1,       /* version, render's pid */
	PIXLINK_FRAMEBUFFER = 2, /* new framebuffer (start, resize); carries the memfd */
	PIXLINK_DAMAGE = 3,      /* these rectangles changed; uses one credit */
	PIXLINK_CURSOR = 4,      /* cursor image changed */
	PIXLINK_PONG = 5,        /* answer to PING */
	PIXLINK_NOTICE = 6,      /* something the viewer should be told (browser restarted) */
	PIXLINK_CLIPBOARD_OUT = 7, /* the browser's clipboard, for the terminal */

	/* shojid -> render */
	PIXLINK_CREDIT = 64,  /* render may send `count` more DAMAGE */
	PIXLINK_KEY = 65,     /* key press or release by keysym (and scancode if known) */
	PIXLINK_UNICODE = 66, /* type this character (bypasses the keymap) */
	PIXLINK_POINTER = 67, /* pointer position and button mask */
	PIXLINK_WHEEL = 68,   /* wheel notches */
	PIXLINK_RESIZE = 69,  /* please make the desktop this size */
	PIXLINK_PING = 70,
	PIXLINK_REFRESH = 71, /* send the whole framebuffer as damage with the next credit */
	PIXLINK_RESYNC = 72,  /* a new reader took the link over: start afresh (see below) */
	PIXLINK_CLIPBOARD_IN = 73, /* the viewer's clipboard, for the browser */
};

/* Reasons in PIXLINK_NOTICE. */
enum pixlink_notice_code {
	PIXLINK_NOTICE_BROWSER_RESTARTED = 1,
	PIXLINK_NOTICE_BROWSER_FAILING = 2, /* restarts too often; session will end */
	PIXLINK_NOTICE_RESIZE_REFUSED = 3,
};

/* Pointer buttons in PIXLINK_POINTER's mask. */
#define PIXLINK_BUTTON_LEFT (1u << 0)
#define PIXLINK_BUTTON_MIDDLE (1u << 1)
#define PIXLINK_BUTTON_RIGHT (1u << 2)
#define PIXLINK_BUTTON_BACK (1u << 3)
#define PIXLINK_BUTTON_FORWARD (1u << 4)
#define PIXLINK_BUTTON_MASK 0x1fu

struct pixlink_rect {
	uint16_t x, y, w, h;
};

/*
 * RESYNC: when a viewer reattaches, a new process (a fresh pixlink_client)
 * reads a link that may still hold messages for the previous reader. It
 * sends RESYNC with a random token; render forgets its credit and sequence
 * numbers, releases held keys, and answers HELLO with that token, then
 * FRAMEBUFFER (the current memfd) and damage of the whole screen. The new
 * reader discards everything before that HELLO.
 */
struct pixlink_hello {
	uint32_t version;
	uint32_t pid;
	uint32_t token;
};

struct pixlink_framebuffer {
	uint32_t generation; /* increases with every new framebuffer */
	uint32_t width, height, stride, format;
	uint64_t size; /* bytes of the memfd */
};

struct pixlink_damage {
	uint32_t seq;        /* increases by one with every DAMAGE */
	uint32_t generation; /* framebuffer the rectangles refer to */
	uint16_t nrects;
	struct pixlink_rect rects[PIXLINK_MAX_RECTS];
};

struct pixlink_cursor {
	uint32_t serial;
	uint16_t width, height, hot_x, hot_y;
	/* width*height*4 bytes, B G R A premultiplied; points into the parsed buffer */
	const uint8_t *pixels;
};

struct pixlink_notice {
	uint32_t code;
	uint16_t len;
	const char *text; /* not NUL-terminated; points into the parsed buffer */
};

struct pixlink_key {
	uint32_t keysym;   /* X keysym, 0 if only the scancode is known */
	uint32_t scancode; /* PC/AT set 1, 0xe0xx for extended keys; 0 if unknown */
	bool down;
};

struct pixlink_pointer {
	uint16_t x, y;
	uint32_t buttons; /* PIXLINK_BUTTON_* */
};

struct pixlink_wheel {
	int16_t dx, dy; /* notches; positive = right, down */
};

struct pixlink_size {
	uint16_t width, height;
};

/*
 * Clipboard text. Each side sends it only when its own copy of [policy]
 * allows that direction, and each side refuses (drops) it when its own copy
 * does not: a compromised render cannot open the clipboard towards the
 * terminal, nor shojid towards the browser.
 */
struct pixlink_clipboard {
	uint32_t len;
	const uint8_t *text; /* not NUL-terminated; points into the parsed buffer */
};

struct pixlink_msg {
	enum pixlink_type type;
	union {
		struct pixlink_hello hello;
		struct pixlink_framebuffer fb;
		struct pixlink_damage damage;
		struct pixlink_cursor cursor;
		struct pixlink_notice notice;
		uint32_t seq;    /* PING, PONG; RESYNC's token */
		uint32_t credit; /* CREDIT */
		struct pixlink_key key;
		uint32_t codepoint; /* UNICODE */
		struct pixlink_pointer pointer;
		struct pixlink_wheel wheel;
		struct pixlink_size size; /* RESIZE */
		struct pixlink_clipboard clip; /* CLIPBOARD_OUT, CLIPBOARD_IN */
	} u;
};

/**
 * Parses one message from buf. Returns the bytes consumed, 0 if buf holds
 * less than one whole message, -1 if the message is malformed (unknown
 * type, bad length, count over a maximum, value out of range). Pure.
 * Pointers in *msg (cursor pixels, notice text) point into buf.
 */
ssize_t pixlink_parse(const uint8_t *buf, size_t len, struct pixlink_msg *msg);

/**
 * Encodes msg into buf. Returns the length, or 0 if cap is too small or the
 * message is invalid (same rules as the parser). Pure.
 */
size_t pixlink_encode(const struct pixlink_msg *msg, uint8_t *buf, size_t cap);

/** Name of a message type as on the wire ("DAMAGE"), or "unknown". */
const char *pixlink_type_name(uint32_t type);

/** True if the message type may travel render -> shojid. */
bool pixlink_from_render(enum pixlink_type type);

/**
 * Checks a FRAMEBUFFER message's geometry: format known, width and height in
 * 1..max, stride a multiple of 4 with width*4 <= stride <= PIXLINK_MAX_DIM*4,
 * stride*height <= size <= stride*height + PIXLINK_FB_MAX_SLACK, all
 * without overflow. The upper bound on size keeps a hostile render from
 * making shojid map far more than it will ever read.
 */
bool pixlink_fb_geometry_ok(const struct pixlink_framebuffer *fb, uint32_t max_w, uint32_t max_h);

/**
 * Checks a DAMAGE message against the current framebuffer: generation
 * matches, seq == expected_seq, nrects in 1..PIXLINK_MAX_RECTS, every
 * rectangle non-empty and inside.
 */
bool pixlink_damage_ok(const struct pixlink_damage *d, const struct pixlink_framebuffer *fb,
                       uint32_t expected_seq);

/* --- Transport (pixlink_io.c): sendmsg/recvmsg with descriptors --- */

/**
 * Sends one encoded message (1..PIXLINK_MAX_MSG bytes, else EMSGSIZE) as
 * one packet; fd >= 0 is attached with SCM_RIGHTS and stays the caller's.
 * MSG_NOSIGNAL, EINTR retried; 0 or -1 (errno; EAGAIN on a full
 * non-blocking socket, EPIPE when the peer is gone).
 */
int pixlink_send(int sock, const uint8_t *buf, size_t len, int fd);

/** Encodes and sends. 0 or -1 (errno; EINVAL if msg does not encode). */
int pixlink_send_msg(int sock, const struct pixlink_msg *msg, int fd);

/**
 * Receives one packet into buf (cap >= PIXLINK_MAX_MSG). Descriptors are
 * received with MSG_CMSG_CLOEXEC. Returns the length, 0 at end of stream,
 * -1 on error; EINTR is retried, EAGAIN returned. A truncated packet or
 * control message, more than one descriptor, anything but SCM_RIGHTS, or a
 * descriptor on an empty packet is refused: every descriptor that arrived
 * is closed and -1 returned with errno EBADMSG. *fd is the one descriptor
 * received, or -1; the caller owns it. An empty packet counts as end of
 * stream (no message is empty: the header alone is 8 bytes).
 */
ssize_t pixlink_recv(int sock, uint8_t *buf, size_t cap, int *fd);

/**
 * Checks a received framebuffer memfd: its seals include SHRINK, GROW and
 * SEAL, its size equals fb->size, and the geometry is ok (with
 * PIXLINK_MAX_DIM). 0, or -1 with errno saying which check failed:
 *   EINVAL      geometry refused by pixlink_fb_geometry_ok()
 *   EBADF       fd is not an open descriptor (or fstat failed: its errno)
 *   ENOTSUP     not a regular file that can carry seals (pipe, device, plain file)
 *   EPERM       seals missing: the file could still shrink, grow or be unsealed
 *   ERANGE      its size differs from fb->size
 */
int pixlink_fb_fd_check(int fd, const struct pixlink_framebuffer *fb);

/**
 * Creates a memfd of `size` (> 0) bytes for a framebuffer, close-on-exec and
 * sealed with F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL (still writable).
 * fd or -1 (errno).
 */
int pixlink_fb_create(size_t size);
