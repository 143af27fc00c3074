/*
 * The first bytes an RDP client sends: the X.224 Connection Request
 * ([MS-RDPBCGR] 2.2.1.1) inside a TPKT, with the optional
 * "Cookie: mstshash=NAME\r\n" or routing token, the optional RDP
 * Negotiation Request (which security protocols the client asks for) and
 * correlation info. shojid peeks at it before FreeRDP sees the socket, to
 * audit what the client asked for and to refuse standard RDP security
 * itself; and answers a refusal with an X.224 Connection Confirm carrying
 * an RDP Negotiation Failure.
 *
 * Handles untrusted input: yes, bytes from any client that can reach the
 * port. x224_parse_cr() is pure over (buf, len) and has a fuzz target
 * (tests/fuzz/fuzz-x224.c).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * The longest Connection Request: TPKT header, then the one-byte length
 * indicator, which X.224 limits to 254.
 */
#define X224_MAX_CR (4 + 1 + 254)
/* Longest mstshash identifier kept; a longer one is refused. */
#define X224_MAX_COOKIE 127
#define X224_CORRELATION_ID_LEN 16
/* Bytes of a Connection Confirm with a Negotiation Failure. */
#define X224_NEG_FAILURE_LEN 19

/* requestedProtocols ([MS-RDPBCGR] 2.2.1.1.1); standard RDP security is 0. */
#define X224_PROTOCOL_RDP 0x00000000u
#define X224_PROTOCOL_SSL 0x00000001u
#define X224_PROTOCOL_HYBRID 0x00000002u
#define X224_PROTOCOL_RDSTLS 0x00000004u
#define X224_PROTOCOL_HYBRID_EX 0x00000008u
#define X224_PROTOCOL_RDSAAD 0x00000010u

/* RDP Negotiation Request flags. */
#define X224_RESTRICTED_ADMIN_MODE_REQUIRED 0x01u
#define X224_REDIRECTED_AUTHENTICATION_MODE_REQUIRED 0x02u
#define X224_CORRELATION_INFO_PRESENT 0x08u

/* RDP Negotiation Failure codes ([MS-RDPBCGR] 2.2.1.2.2). */
enum x224_failure {
	X224_SSL_REQUIRED_BY_SERVER = 1,
	X224_SSL_NOT_ALLOWED_BY_SERVER = 2,
	X224_SSL_CERT_NOT_ON_SERVER = 3,
	X224_INCONSISTENT_FLAGS = 4,
	X224_HYBRID_REQUIRED_BY_SERVER = 5,
	X224_SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER = 6,
};

struct x224_cr {
	uint16_t src_ref;
	bool has_cookie;
	char cookie[X224_MAX_COOKIE + 1]; /* the mstshash identifier, printable ASCII */
	bool has_routing_token;
	size_t routing_token_len; /* bytes before its CR LF */
	bool has_neg_req;         /* without it the client speaks standard RDP security only */
	uint8_t neg_flags;
	uint32_t protocols; /* X224_PROTOCOL_*; 0 when there is no negotiation request */
	bool has_correlation;
	uint8_t correlation_id[X224_CORRELATION_ID_LEN];
};

/**
 * Parses one TPKT-framed X.224 Connection Request. Returns the bytes it
 * takes (the TPKT length), 0 if buf holds less than that, or -1 if it is
 * malformed: not TPKT version 3, a TPKT length under 11 or over
 * X224_MAX_CR, a length indicator that does not match the TPKT length, not a CR TPDU of
 * class 0, a cookie without CR LF or with control characters or longer
 * than X224_MAX_COOKIE, a routing token without CR LF, a negotiation
 * request or correlation info of the wrong type or length, or bytes left
 * over. Pure.
 */
ssize_t x224_parse_cr(const uint8_t *buf, size_t len, struct x224_cr *out);

/**
 * Describes a parsed request for the audit log, e.g.
 * "cookie=alice protocols=ssl,hybrid" or "protocols=rdp (no negotiation
 * request)". Always NUL-terminates (cap > 0); returns strlen. Pure.
 */
size_t x224_describe(const struct x224_cr *cr, char *buf, size_t cap);

/**
 * Writes an X.224 Connection Confirm carrying an RDP Negotiation Failure
 * with code into buf. Returns X224_NEG_FAILURE_LEN, or 0 if cap is too
 * small. Pure.
 */
size_t x224_encode_neg_failure(uint8_t *buf, size_t cap, enum x224_failure code);
