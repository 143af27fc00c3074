/*
 * X.224 Connection Request parser and Negotiation Failure encoder (see
 * x224.h). Handles untrusted input: the first bytes of every RDP
 * connection. Pure: no I/O, no allocation.
 */
#include "autoconfig.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util.h"
#include "x224.h"

#define TPKT_HEADER 4
#define CR_FIXED 7 /* LI, CR|CDT, DST-REF, SRC-REF, class option */
#define X224_TPDU_CR 0xe0
#define X224_TPDU_CC 0xd0
#define TYPE_RDP_NEG_REQ 0x01
#define TYPE_RDP_NEG_FAILURE 0x03
#define TYPE_RDP_CORRELATION_INFO 0x06
#define NEG_REQ_LEN 8
#define CORRELATION_INFO_LEN 36

static const char cookie_prefix[] = "Cookie: mstshash=";

/* Offset of the first CR LF in p[0..n), or -1. */
static ssize_t find_crlf(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++)
		if (p[i] == '\r' && p[i + 1] == '\n')
			return (ssize_t)i;
	return -1;
}

/* The cookie or routing token at p; bytes taken (CR LF included), or -1. */
static ssize_t parse_token(const uint8_t *p, size_t n, struct x224_cr *out)
{
	size_t plen = sizeof(cookie_prefix) - 1;
	ssize_t end = find_crlf(p, n);

	if (end < 0)
		return -1;
	if ((size_t)end >= plen && !memcmp(p, cookie_prefix, plen)) {
		size_t idlen = (size_t)end - plen;
		if (idlen > X224_MAX_COOKIE)
			return -1;
		for (size_t i = 0; i < idlen; i++)
			if (p[plen + i] < 0x20 || p[plen + i] >= 0x7f)
				return -1;
		memcpy(out->cookie, p + plen, idlen);
		out->cookie[idlen] = '\0';
		out->has_cookie = true;
	} else {
		out->has_routing_token = true;
		out->routing_token_len = (size_t)end;
	}
	return end + 2;
}

/* The negotiation request and correlation info at p; bytes taken, or -1. */
static ssize_t parse_neg_req(const uint8_t *p, size_t n, struct x224_cr *out)
{
	if (n < NEG_REQ_LEN || p[0] != TYPE_RDP_NEG_REQ || get_le16(p + 2) != NEG_REQ_LEN)
		return -1;
	out->has_neg_req = true;
	out->neg_flags = p[1];
	out->protocols = get_le32(p + 4);
	if (!(out->neg_flags & X224_CORRELATION_INFO_PRESENT))
		return NEG_REQ_LEN;
	p += NEG_REQ_LEN;
	n -= NEG_REQ_LEN;
	if (n < CORRELATION_INFO_LEN || p[0] != TYPE_RDP_CORRELATION_INFO || p[1] != 0 ||
	    get_le16(p + 2) != CORRELATION_INFO_LEN)
		return -1;
	out->has_correlation = true;
	memcpy(out->correlation_id, p + 4, X224_CORRELATION_ID_LEN);
	return NEG_REQ_LEN + CORRELATION_INFO_LEN;
}

ssize_t x224_parse_cr(const uint8_t *buf, size_t len, struct x224_cr *out)
{
	memset(out, 0, sizeof(*out));
	if (len >= 1 && buf[0] != 3)
		return -1;
	if (len < TPKT_HEADER)
		return 0;
	size_t total = (size_t)buf[2] << 8 | buf[3];
	if (buf[1] != 0 || total < TPKT_HEADER + CR_FIXED || total > X224_MAX_CR)
		return -1;
	if (len < total)
		return 0;
	const uint8_t *t = buf + TPKT_HEADER;
	/* LI counts the TPDU's bytes after itself; RDP puts everything in the header. */
	if (t[0] != total - TPKT_HEADER - 1 || t[1] != X224_TPDU_CR || get_le16(t + 2) != 0 ||
	    t[6] != 0)
		return -1;
	out->src_ref = (uint16_t)(t[4] << 8 | t[5]);
	const uint8_t *p = t + CR_FIXED;
	size_t n = total - TPKT_HEADER - CR_FIXED;
	if (n > 0 && p[0] != TYPE_RDP_NEG_REQ) {
		ssize_t used = parse_token(p, n, out);
		if (used < 0)
			return -1;
		p += used;
		n -= (size_t)used;
	}
	if (n > 0) {
		ssize_t used = parse_neg_req(p, n, out);
		if (used < 0 || (size_t)used != n)
			return -1;
	}
	return (ssize_t)total;
}

static const struct {
	uint32_t bit;
	const char *name;
} protocol_names[] = {
    {X224_PROTOCOL_SSL, "ssl"},       {X224_PROTOCOL_HYBRID, "hybrid"},
    {X224_PROTOCOL_RDSTLS, "rdstls"}, {X224_PROTOCOL_HYBRID_EX, "hybrid_ex"},
    {X224_PROTOCOL_RDSAAD, "rdsaad"},
};

/* Appends to buf at *at, never past cap, always NUL-terminated. */
__attribute__((format(printf, 4, 5))) static void appendf(char *buf, size_t cap, size_t *at,
                                                          const char *fmt, ...)
{
	va_list ap;

	if (*at >= cap - 1)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *at, cap - *at, fmt, ap);
	va_end(ap);
	if (n > 0)
		*at = MIN(*at + (size_t)n, cap - 1);
}

static void describe_protocols(uint32_t protocols, char *buf, size_t cap, size_t *at)
{
	const char *sep = "";
	uint32_t rest = protocols;

	if (protocols == X224_PROTOCOL_RDP) {
		appendf(buf, cap, at, "rdp");
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(protocol_names); i++) {
		if (!(protocols & protocol_names[i].bit))
			continue;
		appendf(buf, cap, at, "%s%s", sep, protocol_names[i].name);
		rest &= ~protocol_names[i].bit;
		sep = ",";
	}
	if (rest)
		appendf(buf, cap, at, "%s0x%x", sep, rest);
}

size_t x224_describe(const struct x224_cr *cr, char *buf, size_t cap)
{
	size_t at = 0;

	if (cap == 0)
		return 0;
	buf[0] = '\0';
	if (cr->has_cookie)
		appendf(buf, cap, &at, "cookie=%s ", cr->cookie);
	if (cr->has_routing_token)
		appendf(buf, cap, &at, "routing_token=%zu bytes ", cr->routing_token_len);
	if (!cr->has_neg_req) {
		appendf(buf, cap, &at, "protocols=rdp (no negotiation request)");
		return at;
	}
	appendf(buf, cap, &at, "protocols=");
	describe_protocols(cr->protocols, buf, cap, &at);
	if (cr->neg_flags & X224_RESTRICTED_ADMIN_MODE_REQUIRED)
		appendf(buf, cap, &at, " restricted_admin");
	if (cr->neg_flags & X224_REDIRECTED_AUTHENTICATION_MODE_REQUIRED)
		appendf(buf, cap, &at, " redirected_authentication");
	return at;
}

size_t x224_encode_neg_failure(uint8_t *buf, size_t cap, enum x224_failure code)
{
	if (cap < X224_NEG_FAILURE_LEN)
		return 0;
	buf[0] = 3; /* TPKT version */
	buf[1] = 0;
	buf[2] = 0;
	buf[3] = X224_NEG_FAILURE_LEN;
	buf[4] = X224_NEG_FAILURE_LEN - TPKT_HEADER - 1; /* LI */
	buf[5] = X224_TPDU_CC;
	memset(buf + 6, 0, 5); /* DST-REF, SRC-REF, class 0 */
	buf[11] = TYPE_RDP_NEG_FAILURE;
	buf[12] = 0;
	put_le16(buf + 13, 8);
	put_le32(buf + 15, (uint32_t)code);
	return X224_NEG_FAILURE_LEN;
}
