/*
 * libFuzzer target: the first bytes of an RDP connection, as any client
 * that reaches the port may send them. Whatever parses must lie within the
 * input, keep its cookie printable and within its maximum, and describe
 * itself without overrunning the buffer.
 */
#include <stdint.h>
#include <string.h>

#include "x224.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct x224_cr cr;
	char text[64];

	ssize_t n = x224_parse_cr(data, size, &cr);
	if (n <= 0)
		return 0;
	if ((size_t)n > size || n > X224_MAX_CR)
		__builtin_trap();
	size_t clen = strlen(cr.cookie);
	if (clen > X224_MAX_COOKIE || (clen > 0 && !cr.has_cookie))
		__builtin_trap();
	for (size_t i = 0; i < clen; i++)
		if (cr.cookie[i] < 0x20 || cr.cookie[i] >= 0x7f)
			__builtin_trap();
	if (!cr.has_neg_req && (cr.protocols || cr.neg_flags))
		__builtin_trap();
	if (x224_describe(&cr, text, sizeof(text)) >= sizeof(text) || strlen(text) >= sizeof(text))
		__builtin_trap();
	return 0;
}
