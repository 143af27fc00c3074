/*
 * What an RDP client may send on the cliprdr static channel (MS-RDPECLIP),
 * checked before FreeRDP's clipboard server reads it: a whole header, a
 * known message type, a dataLen that fits in the channel PDU, and no PDU
 * larger than CLIPRDR_MAX_PDU. FreeRDP's reader allocates what dataLen
 * announces and reads the next PDUs into a message announced too long, so
 * neither may reach it. A Format Data Response that is only too long (the
 * terminal copied a long text) is dropped whole, not refused.
 *
 * Handles untrusted input: pure over (buf, len), no I/O; fuzz target
 * tests/fuzz/fuzz-cliprdr.c.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* The longest channel PDU passed on: UTF-16 of the longest text allowed
 * ([policy] clipboard_max_bytes <= 64 KiB of UTF-8 is at most 128 KiB of
 * UTF-16, more with CR LF and controls the filter drops) with room to spare. */
#define CLIPRDR_MAX_PDU (1u << 20)
#define CLIPRDR_HEADER_LEN 8

/* msgType values (MS-RDPECLIP 2.2.1). */
enum cliprdr_msg {
	CLIPRDR_MONITOR_READY = 1,
	CLIPRDR_FORMAT_LIST = 2,
	CLIPRDR_FORMAT_LIST_RESPONSE = 3,
	CLIPRDR_FORMAT_DATA_REQUEST = 4,
	CLIPRDR_FORMAT_DATA_RESPONSE = 5,
	CLIPRDR_TEMP_DIRECTORY = 6,
	CLIPRDR_CLIP_CAPS = 7,
	CLIPRDR_FILECONTENTS_REQUEST = 8,
	CLIPRDR_FILECONTENTS_RESPONSE = 9,
	CLIPRDR_LOCK_CLIPDATA = 10,
	CLIPRDR_UNLOCK_CLIPDATA = 11,
};

enum cliprdr_verdict {
	CLIPRDR_PASS,   /* hand it to FreeRDP */
	CLIPRDR_SKIP,   /* drop the whole PDU: a Format Data Response too long to take */
	CLIPRDR_REFUSE, /* malformed or hostile: the client is disconnected */
};

/**
 * Checks one client PDU on cliprdr: buf/len are the first chunk of the
 * static channel PDU (chunks are at least 1600 bytes, so it holds the
 * header), total its announced whole length. *type is set to the message
 * type when the header is there (0 otherwise); *why says what is wrong
 * for anything but CLIPRDR_PASS.
 */
enum cliprdr_verdict cliprdr_check(const uint8_t *buf, size_t len, size_t total, uint16_t *type,
                                   const char **why);
