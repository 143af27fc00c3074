/*
 * Puts shoji's ZGFX compressor (zgfx_enc.c) under FreeRDP 2's graphics
 * pipeline server. The rdpgfx server in libfreerdp-server2 wraps each PDU
 * by calling zgfx_compress_to_stream, exported by libfreerdp2, whose 2.x
 * version only copies the bytes into uncompressed segments. shojid defines
 * a function of that public name and signature (freerdp/codec/zgfx.h) and
 * exports it (-Wl,--export-dynamic-symbol, proxy/Makefile.am), so the
 * dynamic linker binds the server's call to it. If a FreeRDP build ever
 * bound the call inside its own library, PDUs would simply go
 * uncompressed, as before; the end-to-end tests would show it in the
 * figures rdp_output logs.
 *
 * One connection per worker process, one graphics channel at a time: the
 * history is process-wide and starts afresh for every new ZGFX context
 * (every new channel; zgfx_hook_reset marks a reopen explicitly, since a
 * freed context's address can come back).
 */
#include "autoconfig.h"

#include <freerdp/codec/zgfx.h>
#include <pthread.h>
#include <string.h>
#include <winpr/stream.h>

#include "zgfx_enc.h"
#include "zgfx_hook.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct zgfx_enc *enc;
static const ZGFX_CONTEXT *owner;
static uint64_t bytes_in, bytes_out;

void zgfx_hook_reset(void)
{
	pthread_mutex_lock(&lock);
	owner = NULL;
	pthread_mutex_unlock(&lock);
}

void zgfx_hook_totals(uint64_t *in, uint64_t *out)
{
	pthread_mutex_lock(&lock);
	*in = bytes_in;
	*out = bytes_out;
	pthread_mutex_unlock(&lock);
}

/* Plain segments, as FreeRDP's own version writes them (no history kept). */
static size_t store(const uint8_t *in, size_t len, uint8_t *out)
{
	if (len > ZGFX_SEGMENT_MAX)
		return 0;
	out[0] = 0xE0; /* single */
	out[1] = 0x04; /* RDP 8.0, not compressed */
	memcpy(out + 2, in, len);
	return len + 2;
}

int zgfx_compress_to_stream(ZGFX_CONTEXT *zgfx, wStream *s, const BYTE *src, UINT32 len,
                            UINT32 *flags)
{
	int rc = -1;
	pthread_mutex_lock(&lock);
	if (!enc)
		enc = zgfx_enc_create();
	if (zgfx != owner && enc)
		zgfx_enc_reset(enc);
	owner = zgfx;
	size_t bound = zgfx_enc_bound(len);
	if (!Stream_EnsureRemainingCapacity(s, bound))
		goto out;
	size_t n = enc ? zgfx_enc_pdu(enc, src, len, Stream_Pointer(s))
	               : store(src, len, Stream_Pointer(s));
	if (!n)
		goto out;
	Stream_Seek(s, n);
	Stream_SealLength(s);
	*flags |= ZGFX_PACKET_COMPR_TYPE_RDP8;
	bytes_in += len;
	bytes_out += n;
	rc = 0;
out:
	pthread_mutex_unlock(&lock);
	return rc;
}
