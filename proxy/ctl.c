/*
 * Control-link codec (see ctl.h). Handles untrusted input: a worker's
 * messages. Pure apart from ctl_send.
 */
#include "autoconfig.h"

#include <errno.h>
#include <openssl/crypto.h>

#include "ctl.h"
#include "pixlink.h"
#include "util.h"

#define HEADER 8

/* Copies a counted string, refusing NUL and control characters. */
static bool take_string(char *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] == 0x7f)
			return false;
	memcpy(out, p, n);
	out[n] = '\0';
	return true;
}

static bool parse_auth(const uint8_t *p, size_t len, struct ctl_msg *m)
{
	if (len < 5)
		return false;
	size_t ul = p[1], pl = get_le16(p + 2), al = p[4];
	m->u.auth.protocol = p[0];
	if ((p[0] != CTL_PROTO_VNC && p[0] != CTL_PROTO_RDP) || ul > CTL_MAX_USER ||
	    pl > CTL_MAX_PASSWORD || al > CTL_MAX_ADDR || len != 5 + ul + pl + al)
		return false;
	/* Passwords may hold any byte but NUL; names and addresses are text. */
	if (memchr(p + 5 + ul, '\0', pl))
		return false;
	memcpy(m->u.auth.password, p + 5 + ul, pl);
	m->u.auth.password[pl] = '\0';
	return take_string(m->u.auth.user, p + 5, ul) &&
	       take_string(m->u.auth.addr, p + 5 + ul + pl, al);
}

static bool parse_note(const uint8_t *p, size_t len, struct ctl_msg *m)
{
	if (len < 4)
		return false;
	size_t n = get_le16(p + 2);
	m->u.note.code = get_le16(p);
	return m->u.note.code >= 1 && m->u.note.code <= CTL_NOTE_MAX && n <= CTL_MAX_TEXT &&
	       len == 4 + n && take_string(m->u.note.text, p + 4, n);
}

const uint32_t ctl_encode_bounds_us[CTL_ENCODE_BUCKETS - 1] = {
    1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000,
};

unsigned ctl_encode_bucket(uint64_t us)
{
	unsigned i = 0;
	while (i < CTL_ENCODE_BUCKETS - 1 && us > ctl_encode_bounds_us[i])
		i++;
	return i;
}

static bool parse_stats(const uint8_t *p, size_t len, struct ctl_msg *m)
{
	if (len != 20 + 4 * CTL_ENCODE_BUCKETS)
		return false;
	m->u.stats.bytes = get_le64(p);
	m->u.stats.frames = get_le32(p + 8);
	m->u.stats.encode_us = get_le64(p + 12);
	for (size_t i = 0; i < CTL_ENCODE_BUCKETS; i++)
		m->u.stats.encode[i] = get_le32(p + 20 + 4 * i);
	return true;
}

bool ctl_channel_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > CTL_MAX_CHANNEL_NAME)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
		      strchr("_./-", name[i])))
			return false;
	return true;
}

/* Cumulative byte counters per channel; names checked, none twice. */
static bool parse_bytes(const uint8_t *p, size_t len, struct ctl_msg *m)
{
	if (len < 17 || p[16] > CTL_MAX_CHANNELS)
		return false;
	m->u.bytes.tcp_in = get_le64(p);
	m->u.bytes.tcp_out = get_le64(p + 8);
	m->u.bytes.count = p[16];
	size_t at = 17;
	for (size_t i = 0; i < m->u.bytes.count; i++) {
		struct ctl_channel_bytes *c = &m->u.bytes.ch[i];
		if (at >= len)
			return false;
		size_t n = p[at++];
		if (n == 0 || n > CTL_MAX_CHANNEL_NAME || len - at < n + 16)
			return false;
		memcpy(c->name, p + at, n);
		c->name[n] = '\0';
		if (memchr(p + at, '\0', n) || !ctl_channel_name_ok(c->name))
			return false;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(m->u.bytes.ch[j].name, c->name))
				return false;
		c->in = get_le64(p + at + n);
		c->out = get_le64(p + at + n + 8);
		at += n + 16;
	}
	return at == len;
}

static bool parse_result(const uint8_t *p, size_t len, struct ctl_msg *m)
{
	if (len < 3 || p[0] > 2)
		return false;
	size_t rl = p[1], sl = p[2];
	m->u.result.ok = p[0] == 1;
	m->u.result.notice = p[0] == 2;
	return rl <= CTL_MAX_TEXT && sl <= CTL_MAX_SESSION && len == 3 + rl + sl &&
	       take_string(m->u.result.reason, p + 3, rl) &&
	       take_string(m->u.result.session, p + 3 + rl, sl);
}

static bool parse_kick(const uint8_t *p, size_t len, struct ctl_msg *m)
{
	if (len < 2)
		return false;
	size_t n = get_le16(p);
	return n <= CTL_MAX_TEXT && len == 2 + n && take_string(m->u.kick.reason, p + 2, n);
}

static bool parse_nt_req(const uint8_t *p, size_t len, struct ctl_msg *m)
{
	return len >= 1 && p[0] <= CTL_MAX_USER && len == 1 + (size_t)p[0] && p[0] > 0 &&
	       take_string(m->u.nt_req.user, p + 1, p[0]);
}

static bool parse_nt(const uint8_t *p, size_t len, struct ctl_msg *m)
{
	if (len != 1 + CTL_NT_HASH_LEN || p[0] > 1)
		return false;
	m->u.nt.ok = p[0];
	memcpy(m->u.nt.hash, p + 1, CTL_NT_HASH_LEN);
	return true;
}

ssize_t ctl_parse(const uint8_t *buf, size_t len, struct ctl_msg *msg)
{
	if (len < HEADER)
		return 0;
	uint16_t type = get_le16(buf);
	size_t plen = get_le32(buf + 4);
	if (get_le16(buf + 2) != 0 || plen > CTL_MAX_MSG - HEADER)
		return -1;
	if (len < HEADER + plen)
		return 0;
	const uint8_t *p = buf + HEADER;
	bool ok;
	memset(msg, 0, sizeof(*msg));
	msg->type = (enum ctl_type)type;
	switch (type) {
	case CTL_AUTH:
		ok = parse_auth(p, plen, msg);
		break;
	case CTL_NOTE:
		ok = parse_note(p, plen, msg);
		break;
	case CTL_ACTIVITY:
		ok = plen == 0;
		break;
	case CTL_STATS:
		ok = parse_stats(p, plen, msg);
		break;
	case CTL_BYTES:
		ok = parse_bytes(p, plen, msg);
		break;
	case CTL_AUTH_RESULT:
		ok = parse_result(p, plen, msg);
		break;
	case CTL_KICK:
		ok = parse_kick(p, plen, msg);
		break;
	case CTL_NT_HASH_REQ:
		ok = parse_nt_req(p, plen, msg);
		break;
	case CTL_NT_HASH:
		ok = parse_nt(p, plen, msg);
		break;
	default:
		ok = false;
	}
	return ok ? (ssize_t)(HEADER + plen) : -1;
}

struct writer {
	uint8_t *buf;
	size_t cap, len;
	bool overflow;
};

static void put(struct writer *w, const void *data, size_t n)
{
	if (w->overflow || n > w->cap - w->len) {
		w->overflow = true;
		return;
	}
	memcpy(w->buf + w->len, data, n);
	w->len += n;
}

static void put_u8(struct writer *w, size_t v)
{
	uint8_t b = (uint8_t)v;
	put(w, &b, 1);
}

static void put_u16(struct writer *w, size_t v)
{
	uint8_t b[2];
	put_le16(b, (uint16_t)v);
	put(w, b, 2);
}

static void put_u32(struct writer *w, uint32_t v)
{
	uint8_t b[4];
	put_le32(b, v);
	put(w, b, 4);
}

static void put_u64(struct writer *w, uint64_t v)
{
	uint8_t b[8];
	put_le64(b, v);
	put(w, b, 8);
}

static bool encode_payload(const struct ctl_msg *m, struct writer *w)
{
	size_t a, b, c;

	switch (m->type) {
	case CTL_AUTH:
		a = strlen(m->u.auth.user), b = strlen(m->u.auth.password);
		c = strlen(m->u.auth.addr);
		put_u8(w, m->u.auth.protocol), put_u8(w, a), put_u16(w, b), put_u8(w, c);
		put(w, m->u.auth.user, a), put(w, m->u.auth.password, b), put(w, m->u.auth.addr, c);
		return a <= CTL_MAX_USER && b <= CTL_MAX_PASSWORD && c <= CTL_MAX_ADDR;
	case CTL_NOTE:
		a = strlen(m->u.note.text);
		put_u16(w, m->u.note.code), put_u16(w, a), put(w, m->u.note.text, a);
		return a <= CTL_MAX_TEXT;
	case CTL_ACTIVITY:
		return true;
	case CTL_STATS:
		put_u64(w, m->u.stats.bytes), put_u32(w, m->u.stats.frames);
		put_u64(w, m->u.stats.encode_us);
		for (size_t i = 0; i < CTL_ENCODE_BUCKETS; i++)
			put_u32(w, m->u.stats.encode[i]);
		return true;
	case CTL_BYTES:
		if (m->u.bytes.count > CTL_MAX_CHANNELS)
			return false;
		put_u64(w, m->u.bytes.tcp_in), put_u64(w, m->u.bytes.tcp_out);
		put_u8(w, m->u.bytes.count);
		for (size_t i = 0; i < m->u.bytes.count; i++) {
			a = strlen(m->u.bytes.ch[i].name);
			put_u8(w, a), put(w, m->u.bytes.ch[i].name, a);
			put_u64(w, m->u.bytes.ch[i].in), put_u64(w, m->u.bytes.ch[i].out);
		}
		return true;
	case CTL_AUTH_RESULT:
		if (m->u.result.ok && m->u.result.notice)
			return false;
		a = strlen(m->u.result.reason), b = strlen(m->u.result.session);
		put_u8(w, m->u.result.ok       ? 1
		          : m->u.result.notice ? 2
		                               : 0),
		    put_u8(w, a), put_u8(w, b);
		put(w, m->u.result.reason, a), put(w, m->u.result.session, b);
		return a <= CTL_MAX_TEXT && b <= CTL_MAX_SESSION;
	case CTL_KICK:
		a = strlen(m->u.kick.reason);
		put_u16(w, a), put(w, m->u.kick.reason, a);
		return a <= CTL_MAX_TEXT;
	case CTL_NT_HASH_REQ:
		a = strlen(m->u.nt_req.user);
		put_u8(w, a), put(w, m->u.nt_req.user, a);
		return a <= CTL_MAX_USER;
	case CTL_NT_HASH:
		put_u8(w, m->u.nt.ok), put(w, m->u.nt.hash, CTL_NT_HASH_LEN);
		return true;
	}
	return false;
}

size_t ctl_encode(const struct ctl_msg *msg, uint8_t *buf, size_t cap)
{
	struct writer w = {.buf = buf, .cap = cap, .len = HEADER};
	struct ctl_msg check;

	if (cap < HEADER || !encode_payload(msg, &w) || w.overflow)
		return 0;
	put_le16(buf, (uint16_t)msg->type);
	put_le16(buf + 2, 0);
	put_le32(buf + 4, (uint32_t)(w.len - HEADER));
	/* What we send must be what the other side accepts. */
	if (ctl_parse(buf, w.len, &check) != (ssize_t)w.len) {
		OPENSSL_cleanse(&check, sizeof(check));
		return 0;
	}
	OPENSSL_cleanse(&check, sizeof(check));
	return w.len;
}

int ctl_send(int sock, const struct ctl_msg *msg, int fd)
{
	uint8_t buf[CTL_MAX_MSG];
	size_t n = ctl_encode(msg, buf, sizeof(buf));
	if (n == 0) {
		errno = EINVAL;
		return -1;
	}
	int rc = pixlink_send(sock, buf, n, fd);
	OPENSSL_cleanse(buf, n);
	return rc;
}

void ctl_wipe(struct ctl_msg *msg)
{
	if (msg->type == CTL_AUTH)
		OPENSSL_cleanse(msg->u.auth.password, sizeof(msg->u.auth.password));
	if (msg->type == CTL_NT_HASH)
		OPENSSL_cleanse(msg->u.nt.hash, sizeof(msg->u.nt.hash));
}
