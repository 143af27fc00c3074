/*
 * The RFB 3.7/3.8 + VeNCrypt handshake state machines (wire format in
 * rfb_handshake.h). Handles untrusted input: yes, the viewer's bytes before
 * it has authenticated, and libvncserver's. Pure: no I/O, no allocation;
 * every unit of input is checked whole (or refused from the first bytes
 * that show it is wrong) before the state moves on.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "rfb_handshake.h"
#include "util.h"

static const char server_version[RFB_VERSION_LEN + 1] = "RFB 003.008\n";

enum phase {
	P_VERSION,          /* waiting for the viewer's version */
	P_SECTYPE,          /* waiting for its security type */
	P_VENCRYPT_VERSION, /* waiting for its VeNCrypt version */
	P_SUBTYPE,          /* waiting for its VeNCrypt subtype */
	P_TLS,              /* the caller runs the TLS handshake */
	P_CREDS,            /* waiting for the Plain credentials */
	P_VERDICT,          /* the caller checks the credentials */
	P_DONE,
	P_FAILED,
};

/* How a refusal is told to the viewer, depending on where it happens. */
enum fail_form {
	FAIL_SILENT,   /* not an RFB peer, or nothing may be sent in the clear */
	FAIL_V33,      /* u32 0, u32 n, reason: in place of the 3.3 security type */
	FAIL_NO_TYPES, /* u8 0, u32 n, reason: an empty security type list */
	FAIL_VENCRYPT, /* u8 255: VeNCrypt version refused */
	FAIL_RESULT,   /* SecurityResult failure (with the reason in 3.8) */
};

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* --- output queue --- */

static bool queue(uint8_t *out, size_t cap, size_t *out_len, const void *p, size_t n)
{
	if (n > cap - *out_len)
		return false;
	memcpy(out + *out_len, p, n);
	*out_len += n;
	return true;
}

static size_t dequeue(uint8_t *q, size_t *off, size_t *len, uint8_t *out, size_t cap)
{
	size_t n = MIN(cap, *len - *off);

	memcpy(out, q + *off, n);
	*off += n;
	if (*off == *len)
		*off = *len = 0;
	return n;
}

static bool hs_queue(struct rfb_handshake *hs, const void *p, size_t n)
{
	return queue(hs->out, sizeof(hs->out), &hs->out_len, p, n);
}

static bool hs_queue_u32(struct rfb_handshake *hs, uint32_t v)
{
	uint8_t b[4];

	put_be32(b, v);
	return hs_queue(hs, b, sizeof(b));
}

/* u32 length and the text of hs->error, as RFB strings are sent. */
static bool hs_queue_reason(struct rfb_handshake *hs)
{
	size_t n = strlen(hs->error);

	return hs_queue_u32(hs, (uint32_t)n) && hs_queue(hs, hs->error, n);
}

/* --- names for reasons and logs --- */

static const char *sectype_name(unsigned type)
{
	switch (type) {
	case 0:
		return "invalid";
	case RFB_SECTYPE_NONE:
		return "None, no authentication";
	case RFB_SECTYPE_VNC_AUTH:
		return "VNC authentication";
	case 16:
		return "Tight";
	case 17:
		return "Ultra";
	case 18:
		return "TLS";
	case RFB_SECTYPE_VENCRYPT:
		return "VeNCrypt";
	case 20:
		return "SASL";
	case 30:
		return "Diffie-Hellman";
	case 113:
		return "MS-Logon II";
	case 129:
	case 130:
		return "RSA-AES";
	default:
		return "unknown";
	}
}

const char *rfb_vencrypt_subtype_name(uint32_t subtype)
{
	static const char *const names[] = {"Plain",    "TLSNone", "TLSVnc",   "TLSPlain",
	                                    "X509None", "X509Vnc", "X509Plain"};

	if (subtype >= RFB_VENCRYPT_PLAIN && subtype - RFB_VENCRYPT_PLAIN < ARRAY_SIZE(names))
		return names[subtype - RFB_VENCRYPT_PLAIN];
	return "unknown";
}

/* --- server side --- */

void rfb_hs_wipe_password(struct rfb_handshake *hs)
{
	OPENSSL_cleanse(hs->password, sizeof(hs->password));
}

/*
 * Refuses the viewer: records why, queues the message `form` calls for,
 * and returns -1 for rfb_hs_input() to pass on.
 */
static ssize_t fail(struct rfb_handshake *hs, enum fail_form form, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static ssize_t fail(struct rfb_handshake *hs, enum fail_form form, const char *fmt, ...)
{
	va_list ap;
	bool ok = true;

	va_start(ap, fmt);
	vsnprintf(hs->error, sizeof(hs->error), fmt, ap);
	va_end(ap);
	rfb_hs_wipe_password(hs);
	hs->phase = P_FAILED;

	switch (form) {
	case FAIL_SILENT:
		break;
	case FAIL_V33:
		ok = hs_queue_u32(hs, 0) && hs_queue_reason(hs);
		break;
	case FAIL_NO_TYPES:
		ok = hs_queue(hs, (const uint8_t[]){0}, 1) && hs_queue_reason(hs);
		break;
	case FAIL_VENCRYPT:
		ok = hs_queue(hs, (const uint8_t[]){0xff}, 1);
		break;
	case FAIL_RESULT:
		ok = hs_queue_u32(hs, 1) && (hs->minor < 8 || hs_queue_reason(hs));
		break;
	}
	/* The queue is sized for the longest exchange, so this cannot happen;
	 * if it did, closing without a message is still a refusal. */
	if (!ok)
		hs->out_off = hs->out_len = 0;
	return -1;
}

/* An internal inconsistency (queue overflow): refuse rather than go on. */
static ssize_t queue_failed(struct rfb_handshake *hs)
{
	hs->out_off = hs->out_len = 0;
	return fail(hs, FAIL_SILENT, "internal error: RFB output queue full");
}

void rfb_hs_init(struct rfb_handshake *hs, const struct rfb_hs_options *opt)
{
	memset(hs, 0, sizeof(*hs));
	hs->opt = *opt;
	/* Order is preference: viewers that honour it take X509Plain. */
	if (opt->tls_available)
		hs->offered[hs->noffered++] = RFB_VENCRYPT_X509_PLAIN;
	if (opt->allow_plaintext)
		hs->offered[hs->noffered++] = RFB_VENCRYPT_PLAIN;
	hs->phase = P_VERSION;
	(void)hs_queue(hs, server_version, RFB_VERSION_LEN);
}

void rfb_hs_finish(struct rfb_handshake *hs)
{
	OPENSSL_cleanse(hs, sizeof(*hs));
}

enum rfb_hs_state rfb_hs_state(const struct rfb_handshake *hs)
{
	if (hs->out_len > hs->out_off)
		return RFB_HS_SEND;
	switch (hs->phase) {
	case P_TLS:
		return RFB_HS_START_TLS;
	case P_VERDICT:
		return RFB_HS_CREDENTIALS;
	case P_DONE:
		return RFB_HS_DONE;
	case P_FAILED:
		return RFB_HS_FAILED;
	default:
		return RFB_HS_READ;
	}
}

size_t rfb_hs_output(struct rfb_handshake *hs, uint8_t *out, size_t cap)
{
	return dequeue(hs->out, &hs->out_off, &hs->out_len, out, cap);
}

/*
 * "RFB xxx.yyy\n" with decimal digits. Checks each byte as it arrives, so
 * a peer that is not a VNC viewer is refused at once rather than waited
 * for. 12, 0 or -1.
 */
static ssize_t parse_version(const uint8_t *buf, size_t len, unsigned *major, unsigned *minor)
{
	static const char pattern[RFB_VERSION_LEN + 1] = "RFB 999.999\n";

	for (size_t i = 0; i < MIN(len, (size_t)RFB_VERSION_LEN); i++) {
		bool digit = pattern[i] == '9';
		if (digit ? (buf[i] < '0' || buf[i] > '9') : buf[i] != (uint8_t)pattern[i])
			return -1;
	}
	if (len < RFB_VERSION_LEN)
		return 0;
	*major = (buf[4] - '0') * 100u + (buf[5] - '0') * 10u + (buf[6] - '0');
	*minor = (buf[8] - '0') * 100u + (buf[9] - '0') * 10u + (buf[10] - '0');
	return RFB_VERSION_LEN;
}

static ssize_t on_version(struct rfb_handshake *hs, const uint8_t *buf, size_t len)
{
	unsigned major, minor;
	ssize_t n = parse_version(buf, len, &major, &minor);

	if (n < 0)
		return fail(hs, FAIL_SILENT, "peer did not send an RFB protocol version");
	if (n == 0)
		return 0;
	hs->client_major = major;
	hs->client_minor = minor;
	if (major != 3)
		return fail(hs, FAIL_V33, "viewer speaks RFB %u.%u; this server speaks 3.8 and 3.7",
		            major, minor);
	if (minor < 7)
		return fail(hs, FAIL_V33,
		            "viewer speaks RFB 3.%u, which cannot negotiate VeNCrypt (TLS); "
		            "RFB 3.7 or later is needed",
		            minor);
	/* A minor above 8 (Apple's 3.889) speaks 3.8, as TigerVNC's server
	 * also assumes. */
	hs->minor = minor >= 8 ? 8 : 7;
	if (hs->noffered == 0)
		return fail(hs, FAIL_NO_TYPES,
		            "no security type can be offered: TLS is not configured and plaintext "
		            "passwords are not allowed");
	if (!hs_queue(hs, (const uint8_t[]){1, RFB_SECTYPE_VENCRYPT}, 2))
		return queue_failed(hs);
	hs->phase = P_SECTYPE;
	return n;
}

static ssize_t on_sectype(struct rfb_handshake *hs, const uint8_t *buf, size_t len)
{
	if (len < 1)
		return 0;
	if (buf[0] != RFB_SECTYPE_VENCRYPT)
		return fail(hs, FAIL_RESULT,
		            "viewer chose security type %u (%s); only VeNCrypt (19) is offered",
		            buf[0], sectype_name(buf[0]));
	if (!hs_queue(hs, (const uint8_t[]){0, 2}, 2))
		return queue_failed(hs);
	hs->phase = P_VENCRYPT_VERSION;
	return 1;
}

static ssize_t on_vencrypt_version(struct rfb_handshake *hs, const uint8_t *buf, size_t len)
{
	uint8_t list[2 + 4 * ARRAY_SIZE(hs->offered)] = {0, (uint8_t)hs->noffered};

	if (len < 2)
		return 0;
	if (buf[0] == 0 && buf[1] == 0)
		return fail(hs, FAIL_VENCRYPT, "viewer cannot use VeNCrypt 0.2");
	if (buf[0] != 0 || buf[1] != 2)
		return fail(hs, FAIL_VENCRYPT,
		            "viewer asked for VeNCrypt %u.%u; only 0.2 is supported", buf[0],
		            buf[1]);
	for (unsigned i = 0; i < hs->noffered; i++)
		put_be32(list + 2 + 4 * i, hs->offered[i]);
	if (!hs_queue(hs, list, 2 + 4 * (size_t)hs->noffered))
		return queue_failed(hs);
	hs->phase = P_SUBTYPE;
	return 2;
}

static bool offered(const struct rfb_handshake *hs, uint32_t subtype)
{
	for (unsigned i = 0; i < hs->noffered; i++)
		if (hs->offered[i] == subtype)
			return true;
	return false;
}

static ssize_t refuse_subtype(struct rfb_handshake *hs, uint32_t subtype)
{
	if (subtype == 0)
		return fail(hs, FAIL_RESULT,
		            "viewer supports none of the offered VeNCrypt subtypes");
	if (subtype == RFB_VENCRYPT_PLAIN)
		return fail(hs, FAIL_RESULT,
		            "viewer chose VeNCrypt Plain (256), a password without TLS; "
		            "plaintext passwords are not allowed");
	if (subtype == RFB_VENCRYPT_X509_PLAIN)
		return fail(hs, FAIL_RESULT,
		            "viewer chose VeNCrypt X509Plain (262), but no TLS certificate is "
		            "configured");
	return fail(hs, FAIL_RESULT, "viewer chose VeNCrypt subtype %u (%s), which is not offered",
	            subtype, rfb_vencrypt_subtype_name(subtype));
}

static ssize_t on_subtype(struct rfb_handshake *hs, const uint8_t *buf, size_t len)
{
	if (len < 4)
		return 0;
	hs->subtype = get_be32(buf);
	if (!offered(hs, hs->subtype))
		return refuse_subtype(hs, hs->subtype);
	if (hs->subtype == RFB_VENCRYPT_X509_PLAIN) {
		if (!hs_queue(hs, (const uint8_t[]){1}, 1))
			return queue_failed(hs);
		hs->phase = P_TLS;
	} else {
		hs->phase = P_CREDS;
	}
	return 4;
}

static ssize_t on_credentials(struct rfb_handshake *hs, const uint8_t *buf, size_t len)
{
	if (len < 8)
		return 0;
	uint32_t ulen = get_be32(buf), plen = get_be32(buf + 4);
	if (ulen > RFB_MAX_USER)
		return fail(hs, FAIL_RESULT, "user name of %u bytes is longer than the %d allowed",
		            ulen, RFB_MAX_USER);
	if (plen > RFB_MAX_PASSWORD)
		return fail(hs, FAIL_RESULT, "password of %u bytes is longer than the %d allowed",
		            plen, RFB_MAX_PASSWORD);
	if (len < 8 + (size_t)ulen + plen)
		return 0;
	if (memchr(buf + 8, 0, ulen))
		return fail(hs, FAIL_RESULT, "user name contains a NUL byte");
	if (memchr(buf + 8 + ulen, 0, plen))
		return fail(hs, FAIL_RESULT, "password contains a NUL byte");
	memcpy(hs->user, buf + 8, ulen);
	hs->user[ulen] = '\0';
	memcpy(hs->password, buf + 8 + ulen, plen);
	hs->password[plen] = '\0';
	hs->phase = P_VERDICT;
	return (ssize_t)(8 + ulen + plen);
}

ssize_t rfb_hs_input(struct rfb_handshake *hs, const uint8_t *buf, size_t len)
{
	switch (hs->phase) {
	case P_VERSION:
		return on_version(hs, buf, len);
	case P_SECTYPE:
		return on_sectype(hs, buf, len);
	case P_VENCRYPT_VERSION:
		return on_vencrypt_version(hs, buf, len);
	case P_SUBTYPE:
		return on_subtype(hs, buf, len);
	case P_TLS:
		if (len == 0)
			return 0;
		return fail(hs, FAIL_SILENT,
		            "viewer sent %zu bytes in the clear where the TLS handshake must start",
		            len);
	case P_CREDS:
		return on_credentials(hs, buf, len);
	case P_VERDICT:
		if (len == 0)
			return 0;
		return fail(hs, FAIL_RESULT, "viewer sent data before the security result");
	case P_DONE:
		return 0;
	default:
		return -1;
	}
}

int rfb_hs_tls_done(struct rfb_handshake *hs)
{
	if (hs->phase != P_TLS || hs->out_len > hs->out_off) {
		errno = EINVAL;
		return -1;
	}
	hs->tls = true;
	hs->phase = P_CREDS;
	return 0;
}

int rfb_hs_result(struct rfb_handshake *hs, bool ok, const char *reason)
{
	if (hs->phase != P_VERDICT) {
		errno = EINVAL;
		return -1;
	}
	rfb_hs_wipe_password(hs);
	if (!ok) {
		(void)fail(hs, FAIL_RESULT, "%s", reason ? reason : "authentication failed");
		return 0;
	}
	if (!hs_queue_u32(hs, 0)) {
		(void)queue_failed(hs);
		return 0;
	}
	hs->phase = P_DONE;
	return 0;
}

/* --- client side toward libvncserver --- */

enum inner_phase {
	I_VERSION, /* waiting for libvncserver's version */
	I_TYPES,   /* waiting for its security types */
	I_RESULT,  /* waiting for its SecurityResult */
	I_DONE,
	I_FAILED,
};

static ssize_t inner_fail(struct rfb_inner *in, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static ssize_t inner_fail(struct rfb_inner *in, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(in->error, sizeof(in->error), fmt, ap);
	va_end(ap);
	in->phase = I_FAILED;
	return -1;
}

/*
 * A failure reason from libvncserver ("u32 n, text" at buf) into the error
 * message, printable ASCII only. Returns the bytes it takes, 0 or -1.
 */
static ssize_t inner_reason(struct rfb_inner *in, const uint8_t *buf, size_t len, const char *what)
{
	char text[RFB_MAX_REASON + 1];

	if (len < 4)
		return 0;
	uint32_t n = get_be32(buf);
	if (n > RFB_MAX_REASON)
		return inner_fail(in, "libvncserver %s (a reason of %u bytes)", what, n);
	if (len < 4 + (size_t)n)
		return 0;
	for (uint32_t i = 0; i < n; i++)
		text[i] = buf[4 + i] >= 0x20 && buf[4 + i] < 0x7f ? (char)buf[4 + i] : '?';
	text[n] = '\0';
	return inner_fail(in, "libvncserver %s: %s", what, text);
}

void rfb_inner_init(struct rfb_inner *in)
{
	memset(in, 0, sizeof(*in));
	in->phase = I_VERSION;
}

enum rfb_hs_state rfb_inner_state(const struct rfb_inner *in)
{
	if (in->out_len > in->out_off)
		return RFB_HS_SEND;
	if (in->phase == I_DONE)
		return RFB_HS_DONE;
	if (in->phase == I_FAILED)
		return RFB_HS_FAILED;
	return RFB_HS_READ;
}

size_t rfb_inner_output(struct rfb_inner *in, uint8_t *out, size_t cap)
{
	return dequeue(in->out, &in->out_off, &in->out_len, out, cap);
}

static ssize_t inner_version(struct rfb_inner *in, const uint8_t *buf, size_t len)
{
	size_t n = MIN(len, (size_t)RFB_VERSION_LEN);

	if (memcmp(buf, server_version, n) != 0)
		return inner_fail(in, "libvncserver did not offer RFB 3.8");
	if (len < RFB_VERSION_LEN)
		return 0;
	if (!queue(in->out, sizeof(in->out), &in->out_len, server_version, RFB_VERSION_LEN))
		return inner_fail(in, "internal error: RFB output queue full");
	in->phase = I_TYPES;
	return RFB_VERSION_LEN;
}

static ssize_t inner_types(struct rfb_inner *in, const uint8_t *buf, size_t len)
{
	if (len < 1)
		return 0;
	if (buf[0] == 0) {
		ssize_t n = inner_reason(in, buf + 1, len - 1, "refused the connection");
		return n == 0 ? 0 : -1;
	}
	if (len < 1 + (size_t)buf[0])
		return 0;
	if (!memchr(buf + 1, RFB_SECTYPE_NONE, buf[0]))
		return inner_fail(in, "libvncserver does not offer security type None");
	if (!queue(in->out, sizeof(in->out), &in->out_len, (const uint8_t[]){RFB_SECTYPE_NONE}, 1))
		return inner_fail(in, "internal error: RFB output queue full");
	in->phase = I_RESULT;
	return 1 + (ssize_t)buf[0];
}

static ssize_t inner_result(struct rfb_inner *in, const uint8_t *buf, size_t len)
{
	if (len < 4)
		return 0;
	uint32_t result = get_be32(buf);
	if (result == 1) {
		ssize_t n = inner_reason(in, buf + 4, len - 4, "refused security type None");
		return n == 0 ? 0 : -1;
	}
	if (result != 0)
		return inner_fail(in, "libvncserver sent SecurityResult %u", result);
	in->phase = I_DONE;
	return 4;
}

ssize_t rfb_inner_input(struct rfb_inner *in, const uint8_t *buf, size_t len)
{
	switch (in->phase) {
	case I_VERSION:
		return inner_version(in, buf, len);
	case I_TYPES:
		return inner_types(in, buf, len);
	case I_RESULT:
		return inner_result(in, buf, len);
	case I_DONE:
		return 0;
	default:
		return -1;
	}
}
