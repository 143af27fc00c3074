/*
 * libFuzzer target: round trip of the ZGFX compressor through FreeRDP's
 * decompressor (the client's). The input is cut into PDUs (sizes from its
 * first bytes; one flag repeats it past a segment's size, for multipart
 * PDUs); every PDU must come back byte for byte. Not a parser of outside
 * bytes: this guards the compressor's output, which every RDP client
 * decodes.
 */
#include <freerdp/codec/zgfx.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zgfx_enc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(struct zgfx_enc *enc, ZGFX_CONTEXT *dec, const uint8_t *in, size_t len)
{
	uint8_t *out = malloc(zgfx_enc_bound(len));
	if (!out)
		return;
	size_t n = zgfx_enc_pdu(enc, in, len, out);
	BYTE *back = NULL;
	UINT32 back_len = 0;
	if (!n || n > zgfx_enc_bound(len) ||
	    zgfx_decompress(dec, out, (UINT32)n, &back, &back_len, 0) < 0 || back_len != len ||
	    (len && memcmp(back, in, len) != 0))
		__builtin_trap();
	free(back);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	static struct zgfx_enc *enc;
	if (!enc)
		enc = zgfx_enc_create();
	ZGFX_CONTEXT *dec = zgfx_context_new(FALSE);
	if (!enc || !dec)
		abort();
	zgfx_enc_reset(enc); /* a new client each input */
	unsigned piece = 1 + data[0] * 8u;
	bool big = data[1] & 1;
	data += 2;
	size -= 2;
	for (size_t at = 0; at < size; at += piece)
		round_trip(enc, dec, data + at, size - at < piece ? size - at : piece);
	if (big && size) {
		size_t len = ZGFX_SEGMENT_MAX + 1 + size * 3;
		uint8_t *rep = malloc(len);
		if (rep) {
			for (size_t i = 0; i < len; i++)
				rep[i] = data[(i * 7 / 5) % size] ^ (uint8_t)(i >> 12);
			round_trip(enc, dec, rep, len);
			free(rep);
		}
	}
	zgfx_context_free(dec);
	return 0;
}
