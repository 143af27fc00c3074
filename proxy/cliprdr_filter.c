/*
 * The cliprdr header check (see cliprdr_filter.h). Untrusted input: the
 * client's bytes, read only within (buf, len).
 */
#include "cliprdr_filter.h"

static enum cliprdr_verdict verdict(enum cliprdr_verdict v, const char **why, const char *text)
{
	*why = text;
	return v;
}

enum cliprdr_verdict cliprdr_check(const uint8_t *buf, size_t len, size_t total, uint16_t *type,
                                   const char **why)
{
	*type = 0;
	*why = "";
	if (len < CLIPRDR_HEADER_LEN || total < len)
		return verdict(CLIPRDR_REFUSE, why, "a cliprdr PDU without a whole header");
	*type = (uint16_t)(buf[0] | buf[1] << 8);
	uint32_t data_len = (uint32_t)buf[4] | (uint32_t)buf[5] << 8 | (uint32_t)buf[6] << 16 |
	                    (uint32_t)buf[7] << 24;
	if (*type < CLIPRDR_FORMAT_LIST || *type > CLIPRDR_UNLOCK_CLIPDATA)
		return verdict(CLIPRDR_REFUSE, why, "an unknown cliprdr message type");
	if ((uint64_t)data_len + CLIPRDR_HEADER_LEN > total)
		return verdict(CLIPRDR_REFUSE, why, "a cliprdr dataLen beyond its PDU");
	if (total > CLIPRDR_MAX_PDU)
		return *type == CLIPRDR_FORMAT_DATA_RESPONSE
		           ? verdict(CLIPRDR_SKIP, why, "clipboard data longer than shoji takes")
		           : verdict(CLIPRDR_REFUSE, why, "a cliprdr PDU larger than any allowed");
	return CLIPRDR_PASS;
}
