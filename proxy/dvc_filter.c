/*
 * The drdynvc whitelist (see dvc_filter.h). Untrusted input: the client's
 * bytes, read only within (buf, len).
 */
#include "dvc_filter.h"

/* Bytes of a field coded in two bits (cbChId or Sp / Len): 1, 2 or 4; 0 = invalid. */
static size_t field_size(unsigned code)
{
	static const size_t sizes[4] = {1, 2, 4, 0};
	return sizes[code & 3];
}

static uint32_t read_le(const uint8_t *p, size_t n)
{
	uint32_t v = 0;
	for (size_t i = n; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

static ssize_t refuse(const char **why, const char *text)
{
	*why = text;
	return -1;
}

/* DATA_FIRST: the announced length follows the channel id. */
static ssize_t check_first(const uint8_t *buf, size_t len, size_t total, size_t at,
                           const char **why)
{
	size_t n = field_size(buf[0] >> 2);

	if (n == 0)
		return refuse(why, "a DATA_FIRST with an invalid length field");
	if (len < at + n)
		return refuse(why, "a truncated DATA_FIRST header");
	uint32_t announced = read_le(buf + at, n);
	if (announced > DVC_MAX_MESSAGE)
		return refuse(why, "a DATA_FIRST announcing an oversized message");
	if (total - (at + n) > announced)
		return refuse(why, "a DATA_FIRST carrying more than it announced");
	return (ssize_t)(at + n);
}

ssize_t dvc_check(const uint8_t *buf, size_t len, size_t total, const char **why)
{
	if (len == 0 || total < len)
		return refuse(why, "an empty or inconsistent PDU");
	if (total > DVC_MAX_MESSAGE + 16)
		return refuse(why, "an oversized PDU");
	unsigned cmd = buf[0] >> 4;
	if (cmd == DVC_CAPS)
		return len >= 4 ? 4 : refuse(why, "a truncated capabilities response");
	if (cmd == DVC_SOFT_SYNC_RESPONSE)
		return len >= 8 ? 8 : refuse(why, "a truncated soft-sync response");
	size_t id = field_size(buf[0]);
	if (id == 0)
		return refuse(why, "an invalid channel-id size");
	size_t at = 1 + id;
	switch (cmd) {
	case DVC_CREATE:
		/* The channel id, then a 4-byte creation status. */
		return len >= at + 4 ? (ssize_t)(at + 4)
		                     : refuse(why, "a truncated create response");
	case DVC_DATA_FIRST:
	case DVC_DATA_FIRST_COMPRESSED:
		return check_first(buf, len, total, at, why);
	case DVC_DATA:
	case DVC_DATA_COMPRESSED:
	case DVC_CLOSE:
		return len >= at ? (ssize_t)at : refuse(why, "a truncated header");
	default:
		return refuse(why, "an unknown dynamic-channel command");
	}
}
