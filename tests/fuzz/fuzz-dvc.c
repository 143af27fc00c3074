/*
 * libFuzzer target: a PDU an RDP client sends on drdynvc, first chunk and
 * announced total both from the input. An accepted header must lie within
 * the chunk; a refusal must say why. The same bytes are counted by
 * rdp_bytes (its header reading stays within the chunk too).
 */
#include <stdint.h>
#include <string.h>

#include "dvc_filter.h"
#include "rdp_bytes.h"
#include "worker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct worker w = {.ctl_fd = -1, .client_fd = -1};
	static struct rdp_bytes b;
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
	if (!b.w) {
		static const uint8_t create[] = "\x10\x03Microsoft::Windows::RDS::Graphics";
		rdp_bytes_init(&b, &w);
		rdp_bytes_sent(&b, "drdynvc", create, sizeof(create), sizeof(create) + 20);
	}
	rdp_bytes_received(&b, "drdynvc", data, size, (extra >> 24) & 1);
	return 0;
}
