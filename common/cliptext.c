/*
 * The clipboard text filter (the rules are in cliptext.h). Handles
 * untrusted input: yes. Pure: no I/O, no allocation; the output never
 * grows past the caller's limit, whatever the input.
 */
#include "autoconfig.h"

#include <string.h>

#include "cliptext.h"

size_t utf8_decode(const uint8_t *p, size_t len, uint32_t *cp)
{
	size_t n;
	uint32_t c = p[0], min;

	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if ((c & 0xe0) == 0xc0) {
		n = 2, c &= 0x1f, min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3, c &= 0x0f, min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		n = 4, c &= 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

bool cliptext_is_control(uint32_t cp)
{
	if (cp == '\t' || cp == '\n')
		return false;
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

/* UTF-8 of cp (a scalar value) into out; its length (1..4). */
static size_t utf8_encode(uint32_t cp, uint8_t out[4])
{
	if (cp < 0x80) {
		out[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (uint8_t)(0xc0 | cp >> 6);
		out[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (uint8_t)(0xe0 | cp >> 12);
		out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (uint8_t)(0xf0 | cp >> 18);
	out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}

static bool is_high_surrogate(uint32_t u)
{
	return u >= 0xd800 && u <= 0xdbff;
}

static bool is_low_surrogate(uint32_t u)
{
	return u >= 0xdc00 && u <= 0xdfff;
}

/*
 * The next UTF-16LE character at in[*i]; advances *i. False for what is
 * no character: a lone surrogate (its one unit skipped; what follows is
 * read on its own) or an odd last byte.
 */
static bool next_utf16(const uint8_t *in, size_t len, size_t *i, uint32_t *cp)
{
	if (len - *i < 2) {
		*i = len;
		return false;
	}
	uint32_t u = (uint32_t)in[*i] | (uint32_t)in[*i + 1] << 8;
	*i += 2;
	if (is_low_surrogate(u))
		return false;
	if (!is_high_surrogate(u)) {
		*cp = u;
		return true;
	}
	if (len - *i < 2)
		return false;
	uint32_t lo = (uint32_t)in[*i] | (uint32_t)in[*i + 1] << 8;
	if (!is_low_surrogate(lo))
		return false;
	*i += 2;
	*cp = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
	return true;
}

/*
 * The next input character at in[*i] in charset cs; advances *i. Returns
 * false for bytes that are no character (invalid UTF-8: one byte skipped).
 */
static bool next_char(const uint8_t *in, size_t len, size_t *i, enum cliptext_charset cs,
                      uint32_t *cp)
{
	if (cs == CLIPTEXT_LATIN1) {
		*cp = in[(*i)++];
		return true;
	}
	if (cs == CLIPTEXT_UTF16LE)
		return next_utf16(in, len, i, cp);
	size_t n = utf8_decode(in + *i, len - *i, cp);
	*i += n ? n : 1;
	return n != 0;
}

/* Whether the character at in[i] is LF (in any of the charsets, LF is unit 0x0a). */
static bool lf_at(const uint8_t *in, size_t len, size_t i, enum cliptext_charset cs)
{
	if (cs == CLIPTEXT_UTF16LE)
		return len - i >= 2 && in[i] == '\n' && in[i + 1] == 0;
	return i < len && in[i] == '\n';
}

size_t cliptext_filter(const uint8_t *in, size_t len, enum cliptext_charset cs, uint8_t *out,
                       size_t max)
{
	size_t i = 0, o = 0;
	uint8_t enc[4];

	while (i < len) {
		uint32_t cp;
		if (!next_char(in, len, &i, cs, &cp))
			continue;
		if (cp == 0 && cs == CLIPTEXT_UTF16LE)
			break; /* the terminator */
		if (cp == '\r') {
			if (lf_at(in, len, i, cs))
				continue; /* CRLF: the LF follows */
			cp = '\n';
		}
		if (cliptext_is_control(cp))
			continue;
		size_t n = utf8_encode(cp, enc);
		if (n > max - o)
			break;
		for (size_t k = 0; k < n; k++)
			out[o++] = enc[k];
	}
	return o;
}

/* Whether p is UTF-8 throughout and every character passes keep. */
static bool every_char(const uint8_t *p, size_t len, bool (*keep)(uint32_t cp))
{
	size_t i = 0;

	while (i < len) {
		uint32_t cp;
		size_t n = utf8_decode(p + i, len - i, &cp);
		if (n == 0 || !keep(cp))
			return false;
		i += n;
	}
	return true;
}

static bool filtered_char(uint32_t cp)
{
	return cp != '\r' && !cliptext_is_control(cp);
}

static bool latin1_char(uint32_t cp)
{
	return cp <= 0xff;
}

bool cliptext_ok(const uint8_t *p, size_t len)
{
	return every_char(p, len, filtered_char);
}

size_t cliptext_to_latin1(const uint8_t *in, size_t len, uint8_t *out)
{
	size_t i = 0, o = 0;

	uint32_t cp;
	while (i < len)
		if (next_char(in, len, &i, CLIPTEXT_UTF8, &cp))
			out[o++] = cp <= 0xff ? (uint8_t)cp : '?';
	return o;
}

/* UTF-16LE of cp (a scalar value) into out; its length in bytes (2 or 4). */
static size_t utf16_encode(uint32_t cp, uint8_t out[4])
{
	if (cp < 0x10000) {
		out[0] = (uint8_t)cp, out[1] = (uint8_t)(cp >> 8);
		return 2;
	}
	uint32_t hi = 0xd800 + ((cp - 0x10000) >> 10), lo = 0xdc00 + ((cp - 0x10000) & 0x3ff);
	out[0] = (uint8_t)hi, out[1] = (uint8_t)(hi >> 8);
	out[2] = (uint8_t)lo, out[3] = (uint8_t)(lo >> 8);
	return 4;
}

size_t cliptext_to_utf16le(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	size_t i = 0, o = 0;
	uint8_t enc[8];

	if (cap < 2)
		return 0;
	uint32_t cp;
	while (i < len) {
		if (!next_char(in, len, &i, CLIPTEXT_UTF8, &cp))
			continue;
		size_t m = 0;
		if (cp == '\n')
			m = utf16_encode('\r', enc);
		m += utf16_encode(cp, enc + m);
		if (m > cap - 2 - o)
			break; /* keep room for the terminator */
		memcpy(out + o, enc, m);
		o += m;
	}
	out[o++] = 0;
	out[o++] = 0;
	return o;
}

bool cliptext_is_latin1(const uint8_t *in, size_t len)
{
	return every_char(in, len, latin1_char);
}
