/*
 * libFuzzer target: the [metrics] listener's request-head parser, as any
 * local client could write it.
 */
#include <stdint.h>
#include <string.h>

#include "http_get.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_get req;

	ssize_t n = http_get_parse((const char *)data, size, &req);
	if (n > (ssize_t)size || n > HTTP_GET_MAX_REQUEST)
		__builtin_trap();
	if (n > 0 && (strlen(req.method) == 0 || strlen(req.method) > HTTP_GET_MAX_METHOD ||
	              req.path[0] != '/' || strlen(req.path) > HTTP_GET_MAX_PATH ||
	              (req.minor != 0 && req.minor != 1)))
		__builtin_trap();
	if (n == 0 && size >= HTTP_GET_MAX_REQUEST)
		__builtin_trap();
	return 0;
}
