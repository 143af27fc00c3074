/*
 * libFuzzer target: a PDU an RDP client sends on cliprdr, first chunk and
 * announced total both from the input. A PDU that passes must hold a whole
 * header whose dataLen fits in the total, within CLIPRDR_MAX_PDU; anything
 * else must say why.
 *
 * Seeds: tests/fuzz/corpus/cliprdr/.
 */
#include <stdint.h>
#include <string.h>

#include "cliprdr_filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why = NULL;
	uint32_t extra = 0;
	uint16_t type;

	if (size >= 4) {
		memcpy(&extra, data, 4);
		data += 4;
		size -= 4;
	}
	size_t total = size + (extra & 0x1fffff);
	enum cliprdr_verdict v = cliprdr_check(data, size, total, &type, &why);
	if (v != CLIPRDR_PASS && (!why || !why[0]))
		__builtin_trap();
	if (v == CLIPRDR_PASS) {
		if (size < CLIPRDR_HEADER_LEN)
			__builtin_trap();
		uint32_t data_len = (uint32_t)data[4] | (uint32_t)data[5] << 8 |
		                    (uint32_t)data[6] << 16 | (uint32_t)data[7] << 24;
		if ((uint64_t)data_len + CLIPRDR_HEADER_LEN > total || total > CLIPRDR_MAX_PDU ||
		    type < CLIPRDR_FORMAT_LIST || type > CLIPRDR_UNLOCK_CLIPDATA)
			__builtin_trap();
	}
	return 0;
}
