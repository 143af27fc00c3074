/*
 * The clipboard text filter (the rules are in cliptext.h). Handles
 * untrusted input: yes. Pure: no I/O, no allocation; the output never
 * grows past the caller's limit, whatever the input.
 */
#include "autoconfig.h"

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
	size_t n = utf8_decode(in + *i, len - *i, cp);
	*i += n ? n : 1;
	return n != 0;
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
		if (cp == '\r') {
			if (i < len && in[i] == '\n')
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

bool cliptext_ok(const uint8_t *p, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint32_t cp;
		size_t n = utf8_decode(p + i, len - i, &cp);
		if (n == 0 || cp == '\r' || cliptext_is_control(cp))
			return false;
		i += n;
	}
	return true;
}

size_t cliptext_to_latin1(const uint8_t *in, size_t len, uint8_t *out)
{
	size_t i = 0, o = 0;

	while (i < len) {
		uint32_t cp;
		size_t n = utf8_decode(in + i, len - i, &cp);
		if (n == 0) {
			i++;
			continue;
		}
		out[o++] = cp <= 0xff ? (uint8_t)cp : '?';
		i += n;
	}
	return o;
}

bool cliptext_is_latin1(const uint8_t *in, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint32_t cp;
		size_t n = utf8_decode(in + i, len - i, &cp);
		if (n == 0 || cp > 0xff)
			return false;
		i += n;
	}
	return true;
}
