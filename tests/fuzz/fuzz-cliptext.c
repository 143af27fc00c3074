/*
 * libFuzzer target for the clipboard text filter. The first input byte
 * picks the charset and the limit; the rest is the text. Whatever goes in,
 * the output must stay within the limit, pass cliptext_ok(), be left
 * unchanged by a second filtering (the filter is idempotent on its own
 * output), and convert to Latin-1 without growing. Any breach aborts.
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	enum cliptext_charset cs = data[0] & 1 ? CLIPTEXT_LATIN1 : CLIPTEXT_UTF8;
	/* Limits from 0 up, small ones often, so that truncation is exercised. */
	size_t max = data[0] & 0x80 ? MAX_OUT : (size_t)(data[0] >> 1);

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
	return 0;
}
