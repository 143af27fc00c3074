/*
 * libFuzzer target: the admin socket protocol, as a local user would write
 * a request and as shojictl reads a record of the answer.
 */
#include <stdint.h>
#include <string.h>

#include "admin_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct admin_field fields[ADMIN_MAX_FIELDS];
	struct admin_request req;

	ssize_t n = admin_parse_request((const char *)data, size, &req);
	if (n > (ssize_t)size || (n > 0 && !admin_command_name(req.command)))
		__builtin_trap();
	if (n > 0 && (strlen(req.reason) > ADMIN_MAX_REASON || req.nargs > ADMIN_MAX_ARGS))
		__builtin_trap();
	int nf = admin_parse_record((const char *)data, size, fields, ADMIN_MAX_FIELDS);
	if (nf > ADMIN_MAX_FIELDS)
		__builtin_trap();
	return 0;
}
