/*
 * The control link: between shojid's control process and one connection
 * worker. A SOCK_SEQPACKET socketpair, one message per packet, framed like
 * the pixel link (u16 type, u16 flags = 0, u32 payload length,
 * little-endian).
 *
 *   type               dir   payload
 *   CTL_AUTH           w->c  u8 protocol, u8 user_len, u16 pass_len, u8 addr_len,
 *                            user, password, client address ("ip:port")
 *   CTL_NOTE           w->c  u16 code, u16 len, text (what the worker saw, for the audit log)
 *   CTL_ACTIVITY       w->c  empty (the viewer sent input; at most one per
 *                            CTL_ACTIVITY_INTERVAL_MS, for [pool] idle_timeout)
 *   CTL_NT_HASH_REQ    w->c  u8 user_len, user (RDP NLA: the client says it is user)
 *   CTL_STATS          w->c  u64 bytes, u32 frames, u64 encode_us,
 *                            u32 encode[CTL_ENCODE_BUCKETS]: what went to the viewer
 *                            since the last one (at most one per CTL_STATS_INTERVAL_MS);
 *                            encode[i] counts frames whose encoding took at most
 *                            ctl_encode_bounds_us[i] (the last bucket: longer)
 *   CTL_BYTES          w->c  u64 tcp_in, u64 tcp_out (the socket's TCP payload, TLS
 *                            included), u8 count, count times: u8 name_len, name, u64 in,
 *                            u64 out: the application bytes (before TLS) of each channel
 *                            of the connection so far, cumulative (at most one per
 *                            CTL_STATS_INTERVAL_MS, and one at the end)
 *   CTL_AUTH_RESULT    c->w  u8 flags (1 = ok, 2 = show the reason on screen; not both),
 *                            u8 reason_len, u8 session_len, reason, session id;
 *                            carries the session's pixel-link socket when ok
 *   CTL_KICK           c->w  u16 len, reason (end the connection, e.g. taken over)
 *   CTL_NT_HASH        c->w  u8 ok, 16 bytes: that user's NT hash (zeros when not ok: no
 *                            such user, no NT hash stored, or [rdp] nla off). A
 *                            password equivalent, handed only to the worker that
 *                            verifies that user's NLA logon, and wiped after use.
 *
 * The control process treats everything from a worker as hostile (a worker
 * runs a protocol library facing the LGWAN): ctl_parse() is pure, checks
 * every length, and has a fuzz target. Strings are copied NUL-terminated.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CTL_MAX_USER 64
#define CTL_MAX_PASSWORD 1024
#define CTL_MAX_ADDR 64
#define CTL_MAX_TEXT 256
#define CTL_MAX_SESSION 32
#define CTL_ACTIVITY_INTERVAL_MS 1000 /* [pool] idle_timeout is then kept to within a second */
#define CTL_NT_HASH_LEN 16
#define CTL_STATS_INTERVAL_MS 1000
#define CTL_ENCODE_BUCKETS 9
#define CTL_MAX_CHANNELS 16     /* byte counters a worker reports (CTL_BYTES) */
#define CTL_MAX_CHANNEL_NAME 24 /* [a-z0-9_./-]: "framebuffer", "drdynvc/rdpgfx" */
#define CTL_MAX_MSG (8 + 8 + CTL_MAX_USER + CTL_MAX_PASSWORD + CTL_MAX_ADDR + CTL_MAX_TEXT)

enum ctl_type {
	CTL_AUTH = 1,
	CTL_NOTE = 2,
	CTL_ACTIVITY = 3,
	CTL_NT_HASH_REQ = 4,
	CTL_STATS = 5,
	CTL_BYTES = 6,
	CTL_AUTH_RESULT = 64,
	CTL_KICK = 65,
	CTL_NT_HASH = 66,
};

enum ctl_protocol { CTL_PROTO_VNC = 1, CTL_PROTO_RDP = 2 };

/* What a worker reports for the audit log. */
enum ctl_note_code {
	CTL_NOTE_HANDSHAKE_FAILED = 1, /* text: why */
	CTL_NOTE_MESSAGE_REFUSED = 2,  /* text: which client message */
	CTL_NOTE_TLS = 3,              /* text: "TLSv1.3 TLS_AES_256_GCM_SHA384" */
	CTL_NOTE_RESIZE = 4,           /* text: "WxH" the viewer asked for */
	CTL_NOTE_RDP_REQUEST = 5,      /* text: "cookie=alice protocols=ssl,hybrid" */
	CTL_NOTE_RDP_CHANNELS = 6,     /* text: "security=tls listed=rdpdr,drdynvc opened=..." */
	CTL_NOTE_CLIPBOARD = 7,        /* text: "to_browser|to_terminal OFFERED BYTES allowed|refused" */
	CTL_NOTE_MAX = 7,
};

struct ctl_msg {
	enum ctl_type type;
	union {
		struct {
			uint8_t protocol;
			char user[CTL_MAX_USER + 1];
			char password[CTL_MAX_PASSWORD + 1];
			char addr[CTL_MAX_ADDR + 1];
		} auth;
		struct {
			uint16_t code;
			char text[CTL_MAX_TEXT + 1];
		} note;
		struct {
			uint64_t bytes, encode_us;
			uint32_t frames;
			uint32_t encode[CTL_ENCODE_BUCKETS];
		} stats;
		struct {
			uint64_t tcp_in, tcp_out;
			uint8_t count;
			struct ctl_channel_bytes {
				char name[CTL_MAX_CHANNEL_NAME + 1];
				uint64_t in, out;
			} ch[CTL_MAX_CHANNELS];
		} bytes;
		struct {
			bool ok;
			bool notice; /* refused: the viewer should see the reason drawn on screen */
			char reason[CTL_MAX_TEXT + 1];
			char session[CTL_MAX_SESSION + 1];
		} result;
		struct {
			char reason[CTL_MAX_TEXT + 1];
		} kick;
		struct {
			char user[CTL_MAX_USER + 1];
		} nt_req;
		struct {
			bool ok;
			uint8_t hash[CTL_NT_HASH_LEN];
		} nt;
	} u;
};

/* Upper bounds of the encode-time buckets in microseconds; the last is unbounded. */
extern const uint32_t ctl_encode_bounds_us[CTL_ENCODE_BUCKETS - 1];

/** The bucket of an encode time. Pure. */
unsigned ctl_encode_bucket(uint64_t us);

/**
 * Parses one message: bytes consumed, 0 if incomplete, -1 if malformed
 * (unknown type, lengths that do not add up or exceed a maximum, a NUL or
 * control character in a string, unknown protocol or note code). Pure.
 */
ssize_t ctl_parse(const uint8_t *buf, size_t len, struct ctl_msg *msg);

/** Whether name may name a channel in CTL_BYTES: 1 to CTL_MAX_CHANNEL_NAME of [a-z0-9_./-]. Pure. */
bool ctl_channel_name_ok(const char *name);

/** Encodes msg; its length, or 0 if it does not fit or is invalid. Pure. */
size_t ctl_encode(const struct ctl_msg *msg, uint8_t *buf, size_t cap);

/** Encodes and sends (fd >= 0 is attached). 0 or -1. */
int ctl_send(int sock, const struct ctl_msg *msg, int fd);

/** Wipes the password or NT hash in msg (after use). */
void ctl_wipe(struct ctl_msg *msg);
