/*
 * RDP 8.0 bulk compression (ZGFX, MS-RDPEGFX 2.2.5 and 3.1.9.1) of the
 * graphics pipeline's PDUs. Every PDU of the RDPGFX channel is wrapped in
 * ZGFX segments; FreeRDP 2's server writes them uncompressed ("not
 * implemented"), so planar tiles of text cross the link at their raw size.
 * This is an LZ77 compressor that speaks the format the client's
 * decompressor reads: a 2.5 MB history shared by all PDUs of the channel,
 * matches as distance and length codes, literals with their short codes
 * for common bytes. Text a user scrolls back to, a repeated glyph or a
 * caret's blink then costs a few bits instead of a tile.
 *
 * The history must stay in step with the client's: zgfx_enc_reset() whenever
 * the channel is opened anew. Pure code over caller's buffers, no I/O.
 * Input is shojid's own PDUs, not bytes from outside.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* The most uncompressed bytes in one segment. */
#define ZGFX_SEGMENT_MAX 65535
/* Farthest back a match may reach; the client keeps 2,500,000 bytes. */
#define ZGFX_WINDOW (2u * 1024 * 1024)
/* Bytes zgfx_enc_segment may write for len bytes of input, at most. */
#define ZGFX_SEGMENT_BOUND(len) ((size_t)(len) + 2)

struct zgfx_enc;

struct zgfx_enc *zgfx_enc_create(void);
void zgfx_enc_destroy(struct zgfx_enc *z);

/** Forgets the history (a new channel; the client starts afresh too). */
void zgfx_enc_reset(struct zgfx_enc *z);

/**
 * Writes one segment (its header byte, then the compressed or, when that
 * would be larger, the plain bytes) for len <= ZGFX_SEGMENT_MAX bytes of
 * in to out, which has room for ZGFX_SEGMENT_BOUND(len) bytes, and adds
 * them to the history. Returns the bytes written, or 0 when len is too big
 * or memory ran out (the history is then reset: start a new channel or
 * send everything uncompressed).
 */
size_t zgfx_enc_segment(struct zgfx_enc *z, const uint8_t *in, size_t len, uint8_t *out);

/**
 * The whole ZGFX framing for one PDU of len bytes: a single segment or, above
 * ZGFX_SEGMENT_MAX, a multipart one. out needs zgfx_enc_bound(len) bytes.
 * Returns the bytes written, 0 on error as above.
 */
size_t zgfx_enc_pdu(struct zgfx_enc *z, const uint8_t *in, size_t len, uint8_t *out);
size_t zgfx_enc_bound(size_t len);
