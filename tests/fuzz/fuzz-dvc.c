/*
 * libFuzzer target: a PDU an RDP client sends on drdynvc, first chunk and
 * announced total both from the input. An accepted header must lie within
 * the chunk; a refusal must say why.
 */
#include <stdint.h>
#include <string.h>

#include "dvc_filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why = NULL;
	uint32_t extra = 0;

	if (size >= 4) {
		memcpy(&extra, data, 4);
		data += 4;
		size -= 4;
	}
	ssize_t n = dvc_check(data, size, size + (extra & 0xffffff), &why);
	if (n == 0 || (n > 0 && (size_t)n > size) || (n < 0 && (!why || !why[0])))
		__builtin_trap();
	return 0;
}
