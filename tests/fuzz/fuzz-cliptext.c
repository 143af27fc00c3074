/*
 * libFuzzer target for the clipboard text filter. The first input byte
 * picks the charset (UTF-8, Latin-1, UTF-16LE) and the limit; the rest is
 * the text. Whatever goes in, the output must stay within the limit, pass
 * cliptext_ok(), be left unchanged by a second filtering (the filter is
 * idempotent on its own output), convert to Latin-1 without growing, and
 * convert to UTF-16LE within CLIPTEXT_UTF16_MAX, ending in its terminator,
 * and back through the filter unchanged. Any breach aborts.
 *
 * Seeds: tests/fuzz/corpus/cliptext/.
 */
#include "autoconfig.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cliptext.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_OUT 4096

static uint8_t out[MAX_OUT + 1], again[MAX_OUT + 1], latin1[MAX_OUT + 1];
static uint8_t utf16[CLIPTEXT_UTF16_MAX(MAX_OUT)];

static const enum cliptext_charset charsets[] = {CLIPTEXT_UTF8, CLIPTEXT_LATIN1, CLIPTEXT_UTF16LE,
                                                 CLIPTEXT_UTF16LE};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	enum cliptext_charset cs = charsets[data[0] & 3];
	/* Limits from 0 up, small ones often, so that truncation is exercised. */
	size_t max = data[0] & 0x80 ? MAX_OUT : (size_t)((data[0] & 0x7f) >> 2);

	out[max] = 0xa5;
	size_t n = cliptext_filter(data + 1, size - 1, cs, out, max);
	if (n > max || (max < MAX_OUT && out[max] != 0xa5))
		abort();
	if (!cliptext_ok(out, n))
		abort();
	if (cliptext_filter(out, n, CLIPTEXT_UTF8, again, max) != n || memcmp(out, again, n) != 0)
		abort();
	if (cliptext_to_latin1(out, n, latin1) > n)
		abort();
	size_t u = cliptext_to_utf16le(out, n, utf16, sizeof(utf16));
	if (u < 2 || u > CLIPTEXT_UTF16_MAX(n) || u % 2 || utf16[u - 2] || utf16[u - 1])
		abort();
	if (cliptext_filter(utf16, u, CLIPTEXT_UTF16LE, again, max) != n ||
	    memcmp(out, again, n) != 0)
		abort();
	return 0;
}
