/*
 * The RFB handshake of shojid's VNC front-end, as two pure state machines.
 *
 * struct rfb_handshake is the server side toward the viewer: the RFB
 * version exchange, security type VeNCrypt (19) and nothing else, VeNCrypt
 * 0.2 with subtype X509Plain (262, TLS then user name and password) and,
 * only when plaintext is allowed, Plain (256, the password in the clear),
 * and the SecurityResult. It never touches a socket: the caller moves the
 * bytes (over TCP, then over TLS once the machine says so), runs the TLS
 * handshake itself, and checks the credentials.
 *
 * struct rfb_inner is the client side toward libvncserver, over the
 * socketpair that hands it the connection: version 3.8 and security type
 * None, up to libvncserver's SecurityResult. After both are done, the caller
 * relays the viewer's ClientInit and everything after it (client messages
 * through rfb_filter.h).
 *
 * Handles untrusted input: yes, rfb_hs_input() parses what the viewer
 * sends before it has authenticated; it has a fuzz target
 * (tests/fuzz/fuzz-rfb-handshake.c). rfb_inner_input() parses libvncserver's
 * bytes with the same care.
 *
 * Wire format (RFB 3.8, the community rfbproto; all integers big-endian).
 * S is shojid, C the viewer:
 *
 *   S: "RFB 003.008\n"
 *   C: "RFB xxx.yyy\n"        3.8 and above is taken as 3.8, 3.7 as 3.7; a
 *                             version below 3.7 (3.3 has no security
 *                             negotiation, so no VeNCrypt) or a major other
 *                             than 3 is refused in the 3.3 form: u32 0,
 *                             u32 n, reason; bytes that are not an RFB
 *                             version are refused silently, from the first
 *                             wrong byte
 *   S: u8 1, u8 19            one security type, VeNCrypt (or u8 0, u32 n,
 *                             reason when no subtype can be offered)
 *   C: u8 19                  anything else: SecurityResult failure
 *   S: u8 0, u8 2             VeNCrypt version 0.2
 *   C: u8 0, u8 2             anything else: u8 255 and close
 *   S: u8 0, u8 n, n*u32      version accepted; subtypes: 262 when TLS is
 *                             available, then 256 when plaintext is allowed
 *   C: u32 subtype            one not offered: SecurityResult failure
 *   X509Plain only:
 *   S: u8 1                   accepted; then the TLS handshake (START_TLS)
 *   C: u32 ulen, u32 plen, user, password   (over TLS for X509Plain)
 *   S: u32 0 (OK) | u32 1, u32 n, reason (3.7: u32 1 alone)
 *
 * Plain (256) gets no accept byte: TigerVNC's viewer and server, the
 * reference for the Plain subtype, go from the subtype straight to the
 * credentials; the byte belongs to the TLS subtypes (libvncclient reads it
 * but never chooses Plain).
 *
 * A SecurityResult failure sent where the viewer expects the VeNCrypt
 * accept byte starts with byte 0, which VeNCrypt viewers read as "refused".
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RFB_VERSION_LEN 12 /* "RFB 003.008\n" */
#define RFB_SECTYPE_NONE 1
#define RFB_SECTYPE_VNC_AUTH 2
#define RFB_SECTYPE_VENCRYPT 19
#define RFB_VENCRYPT_PLAIN 256
#define RFB_VENCRYPT_X509_PLAIN 262

#define RFB_MAX_USER 64       /* bytes of user name in Plain credentials */
#define RFB_MAX_PASSWORD 1024 /* bytes of password */
#define RFB_MAX_REASON 255    /* bytes of a failure reason, either direction */

/* The longest single unit rfb_hs_input() needs at once (the credentials):
 * a caller whose input buffer holds this many bytes never stalls. */
#define RFB_HS_MAX_INPUT (8 + RFB_MAX_USER + RFB_MAX_PASSWORD)

/* Everything the server can have queued at once, with a failure reason. */
#define RFB_HS_MAX_OUTPUT (RFB_VERSION_LEN + 2 + 2 + 2 + 4 * 2 + 1 + 8 + RFB_MAX_REASON)

enum rfb_hs_state {
	RFB_HS_SEND,        /* rfb_hs_output() has bytes: send them first */
	RFB_HS_READ,        /* feed the peer's bytes to the input function */
	RFB_HS_START_TLS,   /* run the TLS handshake, then call rfb_hs_tls_done() */
	RFB_HS_CREDENTIALS, /* check hs->user and hs->password, then rfb_hs_result() */
	RFB_HS_DONE,        /* handshake complete; the next peer byte is not ours */
	RFB_HS_FAILED,      /* refused, any failure message sent: close */
};

struct rfb_hs_options {
	bool tls_available;   /* a certificate is loaded: offer X509Plain */
	bool allow_plaintext; /* also offer Plain, the password without TLS */
};

/*
 * Embedded by the caller; rfb_hs_init() and rfb_hs_finish(). The fields
 * below "results" may be read at any time (for the audit log); the rest is
 * private to rfb_handshake.c.
 */
struct rfb_handshake {
	/* results */
	unsigned client_major, client_minor; /* as the viewer sent them (0 until then) */
	unsigned minor;                      /* the version spoken: 7 or 8 (0 until known) */
	uint32_t subtype;                    /* chosen VeNCrypt subtype, 0 until chosen */
	bool tls;                            /* the TLS handshake was completed */
	char user[RFB_MAX_USER + 1];         /* NUL-terminated, from RFB_HS_CREDENTIALS on */
	char password[RFB_MAX_PASSWORD + 1]; /* until rfb_hs_wipe_password() */
	char error[RFB_MAX_REASON + 1];      /* why it failed, for the log; "" otherwise */

	/* private */
	struct rfb_hs_options opt;
	int phase;
	uint32_t offered[2];
	unsigned noffered;
	uint8_t out[RFB_HS_MAX_OUTPUT];
	size_t out_off, out_len;
};

/** Starts a handshake; the greeting is queued for rfb_hs_output(). */
void rfb_hs_init(struct rfb_handshake *hs, const struct rfb_hs_options *opt);

/** Wipes the whole struct, credentials included. */
void rfb_hs_finish(struct rfb_handshake *hs);

/** What the caller must do next (see enum rfb_hs_state). */
enum rfb_hs_state rfb_hs_state(const struct rfb_handshake *hs);

/**
 * Moves up to cap queued bytes that must be sent to the viewer into out and
 * returns how many; 0 when nothing is queued.
 */
size_t rfb_hs_output(struct rfb_handshake *hs, uint8_t *out, size_t cap);

/**
 * Consumes the viewer's bytes. Returns the bytes consumed (one protocol
 * unit; call again with the rest), 0 if a unit is incomplete (read more;
 * at most RFB_HS_MAX_INPUT bytes are ever needed), or -1 when the viewer is
 * refused: hs->error says why and the failure message, if the protocol has
 * one at that point, is queued for rfb_hs_output(); send it, then close.
 * Input may be fed while output is still queued.
 *
 * Bytes in RFB_HS_START_TLS are refused: they came in the clear where only
 * TLS may follow, and would otherwise be taken as if sent over TLS. Bytes
 * in RFB_HS_CREDENTIALS are refused too (a viewer waits for the result). In
 * RFB_HS_DONE nothing is consumed (returns 0): that is ClientInit, the
 * caller's. In RFB_HS_FAILED, -1.
 *
 * The credentials pass through buf: wipe it (OPENSSL_cleanse) once consumed.
 */
ssize_t rfb_hs_input(struct rfb_handshake *hs, const uint8_t *buf, size_t len);

/**
 * The TLS handshake the machine asked for has succeeded; reading and
 * writing continue over TLS. 0, or -1 (EINVAL) when not in RFB_HS_START_TLS.
 */
int rfb_hs_tls_done(struct rfb_handshake *hs);

/**
 * The caller's verdict on hs->user and hs->password: queues SecurityResult
 * OK (then RFB_HS_DONE) or failure with reason (then RFB_HS_FAILED; the
 * reason is cut to RFB_MAX_REASON bytes, and only RFB 3.8 carries it).
 * Wipes the password. 0, or -1 (EINVAL) when not in RFB_HS_CREDENTIALS.
 */
int rfb_hs_result(struct rfb_handshake *hs, bool ok, const char *reason);

/** Overwrites hs->password (OPENSSL_cleanse); call as soon as it is checked. */
void rfb_hs_wipe_password(struct rfb_handshake *hs);

/** "X509Plain", "Plain", or "unknown" for a VeNCrypt subtype, for logs. */
const char *rfb_vencrypt_subtype_name(uint32_t subtype);

/* The longest unit rfb_inner_input() needs at once (SecurityResult failure
 * with the longest reason read): size the caller's buffer at least so. */
#define RFB_INNER_MAX_INPUT (8 + RFB_MAX_REASON)

/*
 * The client side toward libvncserver (RFB 3.8, security type None):
 *
 *   L: "RFB 003.008\n"        anything else is refused
 *   S: "RFB 003.008\n"
 *   L: u8 n, n*u8 types       must list None (1); n = 0: u32 len, reason
 *   S: u8 1
 *   L: u32 0                  u32 1, u32 len, reason: refused
 *
 * Same conventions as rfb_hs_input()/rfb_hs_output(); states are
 * RFB_HS_SEND, RFB_HS_READ, RFB_HS_DONE and RFB_HS_FAILED. In RFB_HS_DONE
 * the next bytes from libvncserver (ServerInit) are the caller's.
 */
struct rfb_inner {
	char error[RFB_MAX_REASON + 1]; /* why it failed, with libvncserver's reason */

	/* private */
	int phase;
	uint8_t out[RFB_VERSION_LEN + 1];
	size_t out_off, out_len;
};

void rfb_inner_init(struct rfb_inner *in);
enum rfb_hs_state rfb_inner_state(const struct rfb_inner *in);
size_t rfb_inner_output(struct rfb_inner *in, uint8_t *out, size_t cap);
ssize_t rfb_inner_input(struct rfb_inner *in, const uint8_t *buf, size_t len);
