/*
 * What an RDP client may send on the drdynvc static channel (dynamic
 * virtual channels, MS-RDPEDYC), checked before FreeRDP's server sees it:
 * a known command, a header that is all there, a channel-id and length
 * field of a defined size, and no message announced larger than
 * DVC_MAX_MESSAGE. A client that breaks this is disconnected, audited.
 *
 * Handles untrusted input: pure over (buf, len), no I/O.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The largest reassembled message a client may announce (graphics-pipeline
 * cache-import offers, the largest client PDUs shoji expects, are ~64 KiB). */
#define DVC_MAX_MESSAGE (4u << 20)

/* Commands (the high nibble of the first byte). */
enum dvc_cmd {
	DVC_CREATE = 0x01,
	DVC_DATA_FIRST = 0x02,
	DVC_DATA = 0x03,
	DVC_CLOSE = 0x04,
	DVC_CAPS = 0x05,
	DVC_DATA_FIRST_COMPRESSED = 0x06,
	DVC_DATA_COMPRESSED = 0x07,
	DVC_SOFT_SYNC_RESPONSE = 0x09,
};

/**
 * Checks one client PDU on drdynvc: buf/len are its first bytes (the first
 * chunk of the static channel, which holds the whole header), total its
 * whole length. The header's length (> 0) when it may pass; -1 when it is
 * refused, with *why a static description.
 */
ssize_t dvc_check(const uint8_t *buf, size_t len, size_t total, const char **why);
