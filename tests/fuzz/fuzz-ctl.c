/*
 * libFuzzer target: the control link as a hostile worker would write it.
 * Whatever parses must encode back to the same bytes.
 */
#include <stdint.h>
#include <string.h>

#include "ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t again[CTL_MAX_MSG];
	struct ctl_msg m;

	ssize_t n = ctl_parse(data, size, &m);
	if (n > 0) {
		if ((size_t)n > size)
			__builtin_trap();
		size_t len = ctl_encode(&m, again, sizeof(again));
		if (len != (size_t)n || memcmp(again, data, len) != 0)
			__builtin_trap();
	}
	return 0;
}
