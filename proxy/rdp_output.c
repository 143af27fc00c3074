/*
 * Encoding and sending pixels to an RDP client (see rdp_output.h).
 * Untrusted input: the client's graphics capability sets and frame
 * acknowledgements, as FreeRDP parsed them.
 */
#include "autoconfig.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Before FreeRDP's headers, whose MIN and MAX give way to ours. */
#include "util.h"

#include <freerdp/channels/wtsvc.h>
#include <freerdp/codec/color.h>
#include <freerdp/codec/planar.h>
#include <freerdp/server/disp.h>
#include <freerdp/server/rdpgfx.h>
#include <freerdp/update.h>

#include "gfx_cache.h"
#include "h264_encoder.h"
#include "log.h"
#include "rdp_output.h"
#include "rdp_session.h"
#include "util.h"
#include "video_detect.h"
#include "zgfx_hook.h"

#define TILE 64
/*
 * Graphics pipeline tiles are up to this wide (and TILE high): each tile
 * is a PDU of its own, about 75 bytes of headers before its pixels, and a
 * scrolled strip of text in 64-pixel tiles cost more in headers than in
 * pixels (docs/encoding.md).
 */
#define GFX_TILE_W 1024
/* FreeRDP 2's planar codec fails on tiles 1 or 2 pixels wide (encoder and decoder). */
#define MIN_TILE_WIDTH 4
#define GFX_SURFACE_ID 0
/*
 * Moving areas are encoded on an offscreen surface of their own, the size
 * of their bounding box, and copied onto the desktop's surface: the
 * picture H.264 encodes and the client decodes is that box, not the whole
 * desktop (the FreeRDP client ignores AVC420's destination rectangle, so
 * a picture is always its surface's size).
 */
#define GFX_VIDEO_SURFACE_ID 1
#define GFX_SETUP_TIMEOUT_MS 10000 /* then bitmap updates */
#define MAX_FRAMES_IN_FLIGHT 2
/*
 * While an area goes as H.264 its frames are small (a few KiB at the
 * session's bit rate) and each is the newest picture. A frame's round trip
 * with the client's decoding of the whole surface was about 100 ms at
 * 1920x1080 on 1.5 Mbit/s, 20 ms (docs/encoding.md): two in flight gave a
 * video 14-20 frames a second, three gave 30-35.
 */
#define MAX_FRAMES_IN_FLIGHT_VIDEO 3
/*
 * After a key press or a click while an area goes as H.264: how long
 * frames of nothing but that area wait for the answer to go first.
 */
#define ANSWER_HOLD_MS 150
/*
 * A client that acknowledges nothing for this long (Windows 7's mstsc
 * while minimised, a client whose decoder gave up) is paced by TCP alone.
 */
#define ACK_TIMEOUT_MS 5000
#define BITMAP_DATA_OVERHEAD 32 /* wire bytes per rectangle besides its data */
#define UPDATE_MARGIN 1024
#define MAX_TILES_PER_UPDATE 256
#define MAX_POINTER 96 /* the largest pointer a plain (not large) pointer update carries */
#define AVC_QP 22      /* the quantizer the client is told (it does not change decoding) */
/* MS-RDPEDISP 2.2.2.2.1: a monitor is 200..8192 pixels each way, its width even. */
#define DISP_MIN 200
#define DISP_MAX 8192
/* MS-RDPEGFX 3.3.1.4: the client's bitmap cache, small (thin client) or not. */
#define CACHE_SMALL_BYTES (16u << 20)
#define CACHE_SMALL_SLOTS 4096
#define CACHE_BYTES (100u << 20)
#define CACHE_SLOTS 25600
#define MAX_CACHE_HITS 128 /* bands drawn from the cache in one frame */
#define MAX_CACHE_OPS 128  /* evictions and stores in one frame */

enum output_mode {
	OUT_INACTIVE,  /* before activation */
	OUT_GFX_SETUP, /* waiting for the channel and the client's capabilities */
	OUT_GFX,       /* surface created; frames flow */
	OUT_BITMAP,    /* bitmap updates */
};

struct rdp_output {
	freerdp_peer *peer;
	char who[64]; /* the client's address, for logs */
	HANDLE vcm;
	HANDLE wake;
	enum output_mode mode;
	RdpgfxServerContext *gfx;
	uint64_t gfx_deadline;
	DispServerContext *disp;
	uint16_t max_width, max_height; /* what Display Control may ask for */
	uint16_t surface_w, surface_h;  /* the graphics pipeline surface */
	BITMAP_PLANAR_CONTEXT *planar;
	uint32_t frame_id; /* last frame sent */
	bool suppressed;
	bool full_refresh;
	BITMAP_DATA tiles[MAX_TILES_PER_UPDATE];
	uint8_t *flipped; /* GFX_TILE_W x TILE */
	char h264[32]; /* encoder for moving areas; "" = lossless only */
	unsigned kbps;
	struct video_detect *moving;  /* with H.264 on the current surface */
	struct h264_encoder *encoder; /* made at the first moving area */
	bool key_next;
	uint64_t avc_pictures, avc_keys, avc_bytes; /* H.264 sent, for the log */
	struct rect video_box; /* where GFX_VIDEO_SURFACE_ID's picture goes; w = 0: none */
	uint64_t input_ms;     /* the latest key press or click */
	bool answer_due;       /* no frame with a change outside the moving area since */
	struct gfx_cache *cache; /* scrolled text the client keeps; NULL: none */

	pthread_mutex_t lock; /* guards what the rdpgfx thread writes: */
	bool caps_confirmed, gfx_failed;
	bool avc;                /* the client takes AVC420 and we offered it */
	bool small_cache;        /* its bitmap cache holds 16 MB (else 100 MB) */
	bool cache_new;          /* the client's cache is empty again */
	uint32_t acked;          /* last frame the client acknowledged */
	uint64_t ack_ms;         /* when, or when the first unacknowledged frame went */
	bool acks_suspended;     /* the client said it will not acknowledge */
	uint16_t want_w, want_h; /* the size Display Control last asked for; 0 = none new */
};

/* ---- callbacks on FreeRDP's rdpgfx thread: record and wake ---- */

/*
 * The highest version both sides speak; *avc says whether AVC420 was agreed
 * (want_avc: we have an encoder; the client did not disable it).
 */
static uint32_t pick_caps(const RDPGFX_CAPS_ADVERTISE_PDU *adv, bool want_avc, RDPGFX_CAPSET *out,
                          bool *avc)
{
	static const uint32_t preferred[] = {
	    RDPGFX_CAPVERSION_107, RDPGFX_CAPVERSION_106, RDPGFX_CAPVERSION_105,
	    RDPGFX_CAPVERSION_104, RDPGFX_CAPVERSION_103, RDPGFX_CAPVERSION_102,
	    RDPGFX_CAPVERSION_10,  RDPGFX_CAPVERSION_81,  RDPGFX_CAPVERSION_8,
	};

	for (size_t p = 0; p < ARRAY_SIZE(preferred); p++) {
		for (UINT16 i = 0; i < adv->capsSetCount; i++) {
			if (adv->capsSets[i].version != preferred[p])
				continue;
			*out = adv->capsSets[i];
			uint32_t flags = out->flags;
			bool v10 = out->version >= RDPGFX_CAPVERSION_10;
			*avc = want_avc && (v10 ? !(flags & RDPGFX_CAPS_FLAG_AVC_DISABLED)
			                        : out->version == RDPGFX_CAPVERSION_81 &&
			                              (flags & RDPGFX_CAPS_FLAG_AVC420_ENABLED));
			/* Keep the cache hints; say whether H.264 will come. */
			out->flags &= RDPGFX_CAPS_FLAG_THINCLIENT | RDPGFX_CAPS_FLAG_SMALL_CACHE;
			if (v10 && !*avc)
				out->flags |= RDPGFX_CAPS_FLAG_AVC_DISABLED;
			if (!v10 && *avc)
				out->flags |= RDPGFX_CAPS_FLAG_AVC420_ENABLED;
			return out->version;
		}
	}
	return 0;
}

static UINT on_caps_advertise(RdpgfxServerContext *g, const RDPGFX_CAPS_ADVERTISE_PDU *adv)
{
	struct rdp_output *o = g->custom;
	RDPGFX_CAPSET set = {0};
	RDPGFX_CAPS_CONFIRM_PDU confirm = {.capsSet = &set};
	UINT rc = CHANNEL_RC_UNSUPPORTED_VERSION;
	bool avc = false;

	if (pick_caps(adv, o->h264[0] != 0, &set, &avc))
		rc = g->CapsConfirm(g, &confirm);
	pthread_mutex_lock(&o->lock);
	o->avc = avc && rc == CHANNEL_RC_OK;
	o->small_cache = set.version == RDPGFX_CAPVERSION_103 ||
	                 (set.flags & (RDPGFX_CAPS_FLAG_THINCLIENT | RDPGFX_CAPS_FLAG_SMALL_CACHE));
	o->cache_new = true;
	o->caps_confirmed = rc == CHANNEL_RC_OK;
	o->gfx_failed = rc != CHANNEL_RC_OK;
	pthread_mutex_unlock(&o->lock);
	SetEvent(o->wake);
	return rc;
}

static UINT on_frame_ack(RdpgfxServerContext *g, const RDPGFX_FRAME_ACKNOWLEDGE_PDU *ack)
{
	struct rdp_output *o = g->custom;

	log_debug("frame %u acknowledged (queue depth %u)", ack->frameId, ack->queueDepth);
	pthread_mutex_lock(&o->lock);
	o->acks_suspended = ack->queueDepth == SUSPEND_FRAME_ACKNOWLEDGEMENT;
	/* Only a frame that was sent can be acknowledged. */
	if ((int32_t)(ack->frameId - o->acked) > 0 && (int32_t)(o->frame_id - ack->frameId) >= 0)
		o->acked = ack->frameId;
	o->ack_ms = now_ms();
	pthread_mutex_unlock(&o->lock);
	SetEvent(o->wake);
	return CHANNEL_RC_OK;
}

/*
 * Display Control: the client's new monitor layout. Only the primary
 * monitor's size is taken (one screen is served); a layout outside the
 * protocol's bounds is ignored. The RDP thread applies it.
 */
static UINT on_monitor_layout(DispServerContext *disp,
                              const DISPLAY_CONTROL_MONITOR_LAYOUT_PDU *pdu)
{
	struct rdp_output *o = disp->custom;
	const DISPLAY_CONTROL_MONITOR_LAYOUT *m = NULL;

	for (UINT32 i = 0; pdu->Monitors && i < pdu->NumMonitors; i++)
		if (!m || (pdu->Monitors[i].Flags & DISPLAY_CONTROL_MONITOR_PRIMARY))
			m = &pdu->Monitors[i];
	if (!m || m->Width < DISP_MIN || m->Width > DISP_MAX || m->Height < DISP_MIN ||
	    m->Height > DISP_MAX) {
		log_info("%s: display control layout without a usable monitor: ignored", o->who);
		return CHANNEL_RC_OK;
	}
	pthread_mutex_lock(&o->lock);
	o->want_w = (uint16_t)(m->Width & ~1u);
	o->want_h = (uint16_t)m->Height;
	pthread_mutex_unlock(&o->lock);
	SetEvent(o->wake);
	return CHANNEL_RC_OK;
}

/* ---- set-up, on the RDP thread ---- */

struct rdp_output *rdp_output_create(freerdp_peer *peer, HANDLE vcm, const char *who,
                                     const char *h264, unsigned kbps, uint16_t max_width,
                                     uint16_t max_height)
{
	struct rdp_output *o = xcalloc(1, sizeof(*o));

	snprintf(o->who, sizeof(o->who), "%s", who);
	snprintf(o->h264, sizeof(o->h264), "%s", h264 ? h264 : "");
	o->kbps = kbps;
	o->max_width = max_width;
	o->max_height = max_height;
	o->peer = peer;
	o->vcm = vcm;
	pthread_mutex_init(&o->lock, NULL);
	o->wake = CreateEvent(NULL, TRUE, FALSE, NULL);
	o->planar = freerdp_bitmap_planar_context_new(
	    PLANAR_FORMAT_HEADER_RLE | PLANAR_FORMAT_HEADER_NA, GFX_TILE_W, TILE);
	o->flipped = malloc((size_t)GFX_TILE_W * TILE * 4);
	if (!o->wake || !o->planar || !o->flipped) {
		rdp_output_destroy(o);
		return NULL;
	}
	return o;
}

void rdp_output_destroy(struct rdp_output *o)
{
	if (!o)
		return;
	if (o->disp) {
		o->disp->Close(o->disp);
		disp_server_context_free(o->disp);
	}
	if (o->gfx) {
		uint64_t in, out;
		zgfx_hook_totals(&in, &out);
		log_info("%s: graphics pipeline: %" PRIu64 " bytes of PDUs sent as %" PRIu64
		         " after bulk compression",
		         o->who, in, out);
		o->gfx->Close(o->gfx);
		rdpgfx_server_context_free(o->gfx);
	}
	if (o->avc_pictures)
		log_info("%s: H.264: %" PRIu64 " pictures (%" PRIu64
		         " key frames asked for), %" PRIu64 " bytes",
		         o->who, o->avc_pictures, o->avc_keys, o->avc_bytes);
	if (o->cache) {
		struct gfx_cache_stats st;
		gfx_cache_stats(o->cache, &st);
		log_info("%s: bitmap cache: %" PRIu64 " scrolled bands kept, %" PRIu64
		         " drawn again from it (%" PRIu64 " pixels not sent again)",
		         o->who, st.stored, st.hits, st.hit_pixels);
		gfx_cache_free(o->cache);
	}
	freerdp_bitmap_planar_context_free(o->planar);
	free(o->flipped);
	video_detect_destroy(o->moving);
	h264_encoder_destroy(o->encoder);
	if (o->wake)
		CloseHandle(o->wake);
	pthread_mutex_destroy(&o->lock);
	free(o);
}

HANDLE rdp_output_event(struct rdp_output *o)
{
	return o->wake;
}

void rdp_output_activate(struct rdp_output *o)
{
	rdpSettings *settings = o->peer->settings;

	if (o->mode == OUT_INACTIVE) {
		o->mode = settings->SupportGraphicsPipeline ? OUT_GFX_SETUP : OUT_BITMAP;
		o->gfx_deadline = now_ms() + GFX_SETUP_TIMEOUT_MS;
		log_info("%s: %s, %ux%u, multifragment limit %u", o->who,
		         o->mode == OUT_GFX_SETUP ? "graphics pipeline offered" : "bitmap updates",
		         settings->DesktopWidth, settings->DesktopHeight,
		         settings->MultifragMaxRequestSize);
	}
	o->full_refresh = true;
}

static int open_gfx(struct rdp_output *o)
{
	o->gfx = rdpgfx_server_context_new(o->vcm);
	if (!o->gfx)
		return -1;
	o->gfx->rdpcontext = o->peer->context;
	o->gfx->custom = o;
	o->gfx->CapsAdvertise = on_caps_advertise;
	o->gfx->FrameAcknowledge = on_frame_ack;
	zgfx_hook_reset(); /* the client's decompressor starts with this channel */
	if (!o->gfx->Open(o->gfx)) {
		rdpgfx_server_context_free(o->gfx);
		o->gfx = NULL;
		return -1;
	}
	return 0;
}

/*
 * Display Control, so the client can ask for another desktop size. A
 * client without it answers the channel's creation with a failure and
 * nothing else happens.
 */
static void open_disp(struct rdp_output *o)
{
	o->disp = disp_server_context_new(o->vcm);
	if (!o->disp)
		return;
	o->disp->rdpcontext = o->peer->context;
	o->disp->custom = o;
	o->disp->MaxNumMonitors = 1;
	o->disp->MaxMonitorAreaFactorA = o->max_width;
	o->disp->MaxMonitorAreaFactorB = o->max_height;
	o->disp->DispMonitorLayout = on_monitor_layout;
	if (o->disp->Open(o->disp) != CHANNEL_RC_OK ||
	    o->disp->DisplayControlCaps(o->disp) != CHANNEL_RC_OK) {
		log_warn("%s: cannot open the display control channel", o->who);
		o->disp->Close(o->disp);
		disp_server_context_free(o->disp);
		o->disp = NULL;
	}
}

/* Deletes the moving areas' surface and its encoder, if there are. */
static int drop_video_surface(struct rdp_output *o)
{
	h264_encoder_destroy(o->encoder);
	o->encoder = NULL;
	if (o->video_box.w == 0)
		return 0;
	o->video_box.w = 0;
	RDPGFX_DELETE_SURFACE_PDU del = {GFX_VIDEO_SURFACE_ID};
	return o->gfx->DeleteSurface(o->gfx, &del) == CHANNEL_RC_OK ? 0 : -1;
}

/* An empty cache, as the client's is after its capabilities (small: 16 MB). */
static void renew_cache(struct rdp_output *o, bool small)
{
	gfx_cache_free(o->cache);
	o->cache = small ? gfx_cache_new(CACHE_SMALL_BYTES, CACHE_SMALL_SLOTS)
	                 : gfx_cache_new(CACHE_BYTES, CACHE_SLOTS);
}

static int create_surface(struct rdp_output *o, uint16_t width, uint16_t height)
{
	MONITOR_DEF monitor = {0, 0, width - 1, height - 1, 1 /* primary */};
	RDPGFX_RESET_GRAPHICS_PDU reset = {width, height, 1, &monitor};
	RDPGFX_CREATE_SURFACE_PDU create = {GFX_SURFACE_ID, width, height,
	                                    GFX_PIXEL_FORMAT_XRGB_8888};
	RDPGFX_MAP_SURFACE_TO_OUTPUT_PDU map = {GFX_SURFACE_ID, 0, 0, 0};

	if (drop_video_surface(o) < 0 || o->gfx->ResetGraphics(o->gfx, &reset) != CHANNEL_RC_OK ||
	    o->gfx->CreateSurface(o->gfx, &create) != CHANNEL_RC_OK ||
	    o->gfx->MapSurfaceToOutput(o->gfx, &map) != CHANNEL_RC_OK)
		return -1;
	o->mode = OUT_GFX;
	o->full_refresh = true;
	o->surface_w = width;
	o->surface_h = height;
	pthread_mutex_lock(&o->lock);
	bool avc = o->avc, small = o->small_cache, cache_new = o->cache_new;
	o->cache_new = false;
	pthread_mutex_unlock(&o->lock);
	if (cache_new || !o->cache)
		renew_cache(o, small);
	video_detect_destroy(o->moving);
	o->moving = NULL;
	/* H.264 pictures have even sides. */
	if (avc && width % 2 == 0 && height % 2 == 0)
		o->moving = video_detect_create(width, height);
	log_info("%s: graphics pipeline surface %ux%u, %s", o->who, width, height,
	         o->moving ? "H.264 (AVC420) for moving areas" : "lossless only");
	return 0;
}

static void fall_back_to_bitmaps(struct rdp_output *o, const char *why)
{
	log_warn("%s: %s; using bitmap updates", o->who, why);
	if (o->gfx) {
		o->gfx->Close(o->gfx);
		rdpgfx_server_context_free(o->gfx);
		o->gfx = NULL;
	}
	o->mode = OUT_BITMAP;
	o->full_refresh = true;
}

int rdp_output_poll(struct rdp_output *o, uint16_t width, uint16_t height)
{
	bool confirmed, failed;

	ResetEvent(o->wake);
	if (!o->disp && o->mode != OUT_INACTIVE &&
	    WTSVirtualChannelManagerGetDrdynvcState(o->vcm) == DRDYNVC_STATE_READY)
		open_disp(o);
	if (o->mode != OUT_GFX_SETUP)
		return 0;
	if (!o->gfx && WTSVirtualChannelManagerGetDrdynvcState(o->vcm) == DRDYNVC_STATE_READY &&
	    open_gfx(o) < 0) {
		fall_back_to_bitmaps(o, "cannot open the graphics pipeline");
		return 0;
	}
	pthread_mutex_lock(&o->lock);
	confirmed = o->caps_confirmed;
	failed = o->gfx_failed;
	pthread_mutex_unlock(&o->lock);
	if (confirmed)
		return create_surface(o, width, height);
	if (failed)
		fall_back_to_bitmaps(o, "no graphics capability set in common");
	else if (now_ms() >= o->gfx_deadline)
		fall_back_to_bitmaps(o, "the graphics pipeline did not come up");
	return 0;
}

bool rdp_output_gfx_opened(const struct rdp_output *o)
{
	return o->gfx != NULL;
}

bool rdp_output_disp_opened(const struct rdp_output *o)
{
	return o->disp != NULL;
}

bool rdp_output_take_resize(struct rdp_output *o, uint16_t *width, uint16_t *height)
{
	pthread_mutex_lock(&o->lock);
	bool got = o->want_w != 0;
	*width = o->want_w;
	*height = o->want_h;
	o->want_w = o->want_h = 0;
	pthread_mutex_unlock(&o->lock);
	return got;
}

int rdp_output_resize(struct rdp_output *o, uint16_t width, uint16_t height)
{
	rdpSettings *st = o->peer->settings;
	rdpContext *ctx = o->peer->context;

	st->DesktopWidth = width;
	st->DesktopHeight = height;
	o->full_refresh = true;
	if (o->mode == OUT_GFX) {
		RDPGFX_DELETE_SURFACE_PDU del = {GFX_SURFACE_ID};
		if (o->gfx->DeleteSurface(o->gfx, &del) != CHANNEL_RC_OK)
			return -1;
		return create_surface(o, width, height);
	}
	/* Bitmap updates: a reactivation at the new size. */
	if (o->mode == OUT_BITMAP && !ctx->update->DesktopResize(ctx))
		return -1;
	return 0;
}

bool rdp_output_can_resize(const struct rdp_output *o)
{
	return o->mode == OUT_GFX || o->mode == OUT_GFX_SETUP ||
	       (o->mode == OUT_BITMAP && o->peer->settings->DesktopResize);
}

/* Input came while an area goes as H.264, and its answer has not gone yet. */
static bool answering(const struct rdp_output *o)
{
	return o->answer_due && rdp_output_busy(o) && now_ms() - o->input_ms < ANSWER_HOLD_MS;
}

void rdp_output_input(struct rdp_output *o)
{
	o->input_ms = now_ms();
	o->answer_due = true;
}

/* Whether a frame of these changes and moves holds more than the moving area's own. */
static bool beyond_moving(const struct rdp_output *o, const struct region *changes, size_t nmoves)
{
	if (nmoves > 0 || !o->moving)
		return true;
	for (size_t i = 0; i < changes->n; i++)
		if (!video_detect_covers(o->moving, &changes->r[i]))
			return true;
	return false;
}

bool rdp_output_holds(const struct rdp_output *o, const struct region *changes, size_t nmoves)
{
	return answering(o) && !beyond_moving(o, changes, nmoves);
}

bool rdp_output_can_send(struct rdp_output *o)
{
	bool ok;

	if (o->suppressed)
		return false;
	if (o->mode == OUT_BITMAP)
		return true;
	if (o->mode != OUT_GFX)
		return false;
	pthread_mutex_lock(&o->lock);
	uint32_t most = rdp_output_busy(o) ? MAX_FRAMES_IN_FLIGHT_VIDEO : MAX_FRAMES_IN_FLIGHT;
	most += answering(o); /* the answer goes without waiting for an acknowledgement */
	ok = o->acks_suspended || o->frame_id - o->acked < most ||
	     now_ms() - o->ack_ms > ACK_TIMEOUT_MS;
	pthread_mutex_unlock(&o->lock);
	return ok;
}

bool rdp_output_take_full_refresh(struct rdp_output *o)
{
	bool r = o->full_refresh && (o->mode == OUT_GFX || o->mode == OUT_BITMAP);

	if (r)
		o->full_refresh = false;
	return r;
}

void rdp_output_refresh(struct rdp_output *o)
{
	o->full_refresh = true;
}

void rdp_output_suppress(struct rdp_output *o, bool suppress)
{
	if (o->suppressed && !suppress)
		o->full_refresh = true;
	o->suppressed = suppress;
}

/* ---- frames ---- */

/*
 * Planar-compresses one tile; the buffer is the caller's to free. The
 * encoder writes rows bottom-up, as bitmap updates want; the graphics
 * pipeline decodes top-down, so its tiles are turned over first.
 */
static BYTE *compress_tile(struct rdp_output *o, const uint8_t *pixels, size_t stride,
                           const struct rect *t, bool flip, UINT32 *size)
{
	const uint8_t *src = pixels + (size_t)t->y * stride + (size_t)t->x * 4;

	*size = 0;
	if (flip) {
		for (int32_t y = 0; y < t->h; y++)
			memcpy(o->flipped + (size_t)(t->h - 1 - y) * GFX_TILE_W * 4,
			       src + (size_t)y * stride, (size_t)t->w * 4);
		src = o->flipped;
		stride = GFX_TILE_W * 4;
	}
	return freerdp_bitmap_compress_planar(o->planar, src, PIXEL_FORMAT_BGRX32, (UINT32)t->w,
	                                      (UINT32)t->h, (UINT32)stride, NULL, size);
}

/*
 * Width of the next tile in a run of `left` pixels: at most max, and
 * never leaving a sliver narrower than MIN_TILE_WIDTH behind.
 */
static int32_t tile_width(int32_t left, int32_t max)
{
	if (left <= max)
		return left;
	return left - max < MIN_TILE_WIDTH ? left - MIN_TILE_WIDTH : max;
}

/* Calls fn for each tile of at most max_w x TILE covering the changes; stops on -1. */
static int for_each_tile(const struct region *changes, int32_t max_w,
                         int (*fn)(void *, const struct rect *), void *arg)
{
	for (size_t i = 0; i < changes->n; i++) {
		const struct rect *r = &changes->r[i];
		for (int32_t y = r->y; y < r->y + r->h; y += TILE) {
			int32_t w;
			for (int32_t x = r->x; x < r->x + r->w; x += w) {
				w = tile_width(r->x + r->w - x, max_w);
				struct rect t = {x, y, w, MIN(TILE, r->y + r->h - y)};
				if (fn(arg, &t) < 0)
					return -1;
			}
		}
	}
	return 0;
}

struct frame {
	struct rdp_output *o;
	const uint8_t *pixels;
	size_t stride;
	uint16_t width, height;
	const struct region *lossy; /* sent as H.264 in this frame: no planar tiles there */
	size_t batch_bytes, limit;  /* bitmap updates */
	UINT32 ntiles;
};

/* Whether the (non-overlapping) rectangles of reg cover all of t. */
static bool covers(const struct region *reg, const struct rect *t)
{
	int64_t area = 0;

	for (size_t i = 0; reg && i < reg->n; i++) {
		struct rect in = rect_intersect(&reg->r[i], t);
		area += rect_area(&in);
	}
	return area == rect_area(t);
}

/* Whether every pixel of tile t has the same colour; that colour in *bgrx. */
static bool solid_tile(const uint8_t *pixels, size_t stride, const struct rect *t, uint32_t *bgrx)
{
	const uint8_t *row = pixels + (size_t)t->y * stride + (size_t)t->x * 4;
	uint32_t first, p;

	memcpy(&first, row, 4);
	first &= 0x00ffffffu;
	for (int32_t y = 0; y < t->h; y++, row += stride) {
		for (int32_t x = 0; x < t->w; x++) {
			memcpy(&p, row + (size_t)x * 4, 4);
			if ((p & 0x00ffffffu) != first)
				return false;
		}
	}
	*bgrx = first;
	return true;
}

/* A tile of one colour (a page's background, a block): SolidFill, a few bytes. */
static int gfx_fill(struct rdp_output *o, const struct rect *t, uint32_t bgrx)
{
	RECTANGLE_16 r = {(UINT16)t->x, (UINT16)t->y, (UINT16)(t->x + t->w), (UINT16)(t->y + t->h)};
	RDPGFX_SOLID_FILL_PDU pdu = {
	    .surfaceId = GFX_SURFACE_ID,
	    .fillPixel = {(BYTE)bgrx, (BYTE)(bgrx >> 8), (BYTE)(bgrx >> 16), 0xff},
	    .fillRectCount = 1,
	    .fillRects = &r,
	};

	return o->gfx->SolidFill(o->gfx, &pdu) == CHANNEL_RC_OK ? 0 : -1;
}

static int gfx_tile(void *arg, const struct rect *t)
{
	struct frame *f = arg;
	UINT32 size;
	uint32_t bgrx;

	/* Under the H.264 area first: a SolidFill there would paint over the video. */
	if (f->lossy && covers(f->lossy, t))
		return 0;
	if (solid_tile(f->pixels, f->stride, t, &bgrx))
		return gfx_fill(f->o, t, bgrx);
	BYTE *data = compress_tile(f->o, f->pixels, f->stride, t, true, &size);
	RDPGFX_SURFACE_COMMAND cmd = {
	    .surfaceId = GFX_SURFACE_ID,
	    .codecId = RDPGFX_CODECID_PLANAR,
	    .format = PIXEL_FORMAT_BGRX32,
	    .left = (UINT32)t->x,
	    .top = (UINT32)t->y,
	    .right = (UINT32)(t->x + t->w),
	    .bottom = (UINT32)(t->y + t->h),
	    .width = (UINT32)t->w,
	    .height = (UINT32)t->h,
	    .length = size,
	    .data = data,
	};

	if (!data)
		return -1;
	UINT rc = f->o->gfx->SurfaceCommand(f->o->gfx, &cmd);
	free(data);
	return rc == CHANNEL_RC_OK ? 0 : -1;
}

/* The bounding box of the moving areas, with even sides (the surface's are). */
static struct rect moving_box(const struct region *moving)
{
	int32_t x0 = INT32_MAX, y0 = INT32_MAX, x1 = 0, y1 = 0;

	for (size_t i = 0; i < moving->n; i++) {
		const struct rect *r = &moving->r[i];
		x0 = MIN(x0, r->x), y0 = MIN(y0, r->y);
		x1 = MAX(x1, r->x + r->w), y1 = MAX(y1, r->y + r->h);
	}
	x0 &= ~1, y0 &= ~1;
	x1 += x1 & 1, y1 += y1 & 1;
	return (struct rect){x0, y0, x1 - x0, y1 - y0};
}

static bool box_within(const struct rect *in, const struct rect *out)
{
	return in->x >= out->x && in->y >= out->y && in->x + in->w <= out->x + out->w &&
	       in->y + in->h <= out->y + out->h;
}

/*
 * The moving areas' surface and encoder for this box: kept while the
 * areas stay inside the box it was made for, made anew (a key frame)
 * when they leave it.
 */
static int video_surface(struct rdp_output *o, const struct rect *box)
{
	char err[256];

	if (o->encoder && o->video_box.w && box_within(box, &o->video_box))
		return 0;
	if (drop_video_surface(o) < 0)
		return -2;
	RDPGFX_CREATE_SURFACE_PDU create = {GFX_VIDEO_SURFACE_ID, (UINT16)box->w, (UINT16)box->h,
	                                    GFX_PIXEL_FORMAT_XRGB_8888};
	if (o->gfx->CreateSurface(o->gfx, &create) != CHANNEL_RC_OK)
		return -2;
	o->video_box = *box;
	o->encoder = h264_encoder_create(o->h264, (unsigned)box->w, (unsigned)box->h, o->kbps, err,
	                                 sizeof(err));
	if (!o->encoder) {
		log_warn("%s: %s; moving areas go lossless", o->who, err);
		return -1;
	}
	log_info("%s: H.264 encoder %s at %u kbit/s for %dx%d at %d,%d", o->who, o->h264, o->kbps,
	         box->w, box->h, box->x, box->y);
	o->key_next = true;
	return 0;
}

/*
 * The moving areas as one H.264 picture of their bounding box on the
 * offscreen surface, then each area copied to its place on the desktop's
 * surface. 0, -1 when H.264 failed (the areas then go lossless), -2 when
 * the channel did.
 */
static int send_avc(struct rdp_output *o, struct frame *f, const struct region *moving)
{
	RECTANGLE_16 rects[REGION_MAX_RECTS];
	RDPGFX_H264_QUANT_QUALITY quality[REGION_MAX_RECTS];
	const uint8_t *au;
	size_t len;
	char err[256];
	struct rect want = moving_box(moving);

	int rc = video_surface(o, &want);
	if (rc < 0)
		return rc;
	const struct rect *box = &o->video_box;
	const uint8_t *origin = f->pixels + (size_t)box->y * f->stride + (size_t)box->x * 4;
	if (h264_encoder_encode(o->encoder, origin, f->stride, o->key_next, &au, &len, err,
	                        sizeof(err)) < 0) {
		log_warn("%s: H.264: %s; moving areas go lossless", o->who, err);
		return -1;
	}
	o->avc_pictures++;
	o->avc_keys += o->key_next;
	o->avc_bytes += len;
	o->key_next = false;
	for (size_t i = 0; i < moving->n; i++) {
		const struct rect *r = &moving->r[i];
		int32_t x = r->x - box->x, y = r->y - box->y;
		rects[i] = (RECTANGLE_16){.left = (UINT16)x,
		                          .top = (UINT16)y,
		                          .right = (UINT16)(x + r->w),
		                          .bottom = (UINT16)(y + r->h)};
		quality[i] = (RDPGFX_H264_QUANT_QUALITY){.qp = AVC_QP, .qualityVal = 100};
	}
	RDPGFX_AVC420_BITMAP_STREAM avc = {
	    .meta = {(UINT32)moving->n, rects, quality},
	    .length = (UINT32)len,
	    .data = (BYTE *)au,
	};
	RDPGFX_SURFACE_COMMAND cmd = {
	    .surfaceId = GFX_VIDEO_SURFACE_ID,
	    .codecId = RDPGFX_CODECID_AVC420,
	    .format = PIXEL_FORMAT_BGRX32,
	    .right = (UINT32)box->w,
	    .bottom = (UINT32)box->h,
	    .width = (UINT32)box->w,
	    .height = (UINT32)box->h,
	    .extra = &avc,
	};
	if (o->gfx->SurfaceCommand(o->gfx, &cmd) != CHANNEL_RC_OK)
		return -2;
	for (size_t i = 0; i < moving->n; i++) {
		const struct rect *r = &moving->r[i];
		RDPGFX_POINT16 dest = {(INT16)r->x, (INT16)r->y};
		RDPGFX_SURFACE_TO_SURFACE_PDU copy = {
		    .surfaceIdSrc = GFX_VIDEO_SURFACE_ID,
		    .surfaceIdDest = GFX_SURFACE_ID,
		    .rectSrc = rects[i],
		    .destPtsCount = 1,
		    .destPts = &dest,
		};
		if (o->gfx->SurfaceToSurface(o->gfx, &copy) != CHANNEL_RC_OK)
			return -2;
	}
	return 0;
}

/*
 * Sorts a frame's changes: moving areas to H.264 (when on), the rest and
 * the areas that just stopped moving (their lossless refresh) to planar.
 */
static void split_changes(struct rdp_output *o, const struct region *changes, uint16_t width,
                          uint16_t height, struct region *lossless, struct region *lossy)
{
	struct rect bounds = {0, 0, width, height};
	struct region moving, settled;

	*lossless = *changes;
	region_init(lossy);
	if (!o->moving)
		return;
	video_detect_classify(o->moving, now_ms(), &moving, &settled);
	/*
	 * Only the moving areas this frame changed: a frame can go whenever the
	 * client acknowledges (hundreds a second on a LAN), and a still video
	 * encoded again each time cost 8 Mbit/s.
	 */
	for (size_t i = 0; i < moving.n; i++)
		if (region_meets(changes, &moving.r[i]))
			region_add(lossy, &moving.r[i], &bounds, 0);
	for (size_t i = 0; i < settled.n; i++)
		region_add(lossless, &settled.r[i], &bounds, 0);
}

/* A scroll within the surface, as SurfaceToSurface. */
static int gfx_move(struct rdp_output *o, const struct fbdiff_move *m)
{
	RDPGFX_POINT16 dest = {(INT16)m->src.x, (INT16)(m->src.y + m->dy)};
	RDPGFX_SURFACE_TO_SURFACE_PDU pdu = {
	    .surfaceIdSrc = GFX_SURFACE_ID,
	    .surfaceIdDest = GFX_SURFACE_ID,
	    .rectSrc = {(UINT16)m->src.x, (UINT16)m->src.y, (UINT16)(m->src.x + m->src.w),
	                (UINT16)(m->src.y + m->src.h)},
	    .destPtsCount = 1,
	    .destPts = &dest,
	};

	return o->gfx->SurfaceToSurface(o->gfx, &pdu) == CHANNEL_RC_OK ? 0 : -1;
}

/*
 * in, its rectangles at least MIN_TILE_WIDTH wide, clipped to width x
 * height, into *out (which may be in).
 */
static void widen_narrow(const struct region *in, uint16_t width, uint16_t height,
                         struct region *out)
{
	struct rect bounds = {0, 0, width, height};
	struct region copy = *in;

	region_init(out);
	for (size_t i = 0; i < copy.n; i++) {
		struct rect r = copy.r[i];
		if (r.w < MIN_TILE_WIDTH && width >= MIN_TILE_WIDTH) {
			r.x = MAX(0, MIN(r.x, width - MIN_TILE_WIDTH));
			r.w = MIN_TILE_WIDTH;
		}
		region_add(out, &r, &bounds, 0);
	}
}

/*
 * The columns each scroll of a frame moved, with the rows it touched;
 * scrolls over the same columns make one.
 */
static size_t scroll_spans(const struct fbdiff_move *moves, size_t nmoves, struct rect *spans,
                           size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < nmoves && n < max; i++) {
		struct rect d = fbdiff_move_dest(&moves[i]);
		struct rect a = rect_union(&moves[i].src, &d);
		size_t k = 0;
		while (k < n && (spans[k].x != a.x || spans[k].w != a.w))
			k++;
		spans[k] = k < n ? rect_union(&spans[k], &a) : a;
		n += k == n;
	}
	return n;
}

/* Draws from the client's cache the bands the scrolled areas show again; they leave todo. */
static int cache_draw(struct rdp_output *o, const struct fbdiff_image *img,
                      const struct rect *spans, size_t nspans, struct region *todo)
{
	struct gfx_cache_hit hits[MAX_CACHE_HITS];
	size_t n = 0;

	for (size_t i = 0; i < nspans; i++)
		n += gfx_cache_find(o->cache, img, &spans[i], todo, hits + n, ARRAY_SIZE(hits) - n);
	for (size_t i = 0; i < n; i++) {
		RDPGFX_POINT16 at = {(INT16)hits[i].r.x, (INT16)hits[i].r.y};
		RDPGFX_CACHE_TO_SURFACE_PDU pdu = {
		    .cacheSlot = hits[i].slot,
		    .surfaceId = GFX_SURFACE_ID,
		    .destPtsCount = 1,
		    .destPts = &at,
		};
		if (o->gfx->CacheToSurface(o->gfx, &pdu) != CHANNEL_RC_OK)
			return -1;
	}
	return 0;
}

/* Has the client keep the scrolled bands just painted. */
static int cache_keep(struct rdp_output *o, const struct fbdiff_image *img,
                      const struct rect *spans, size_t nspans, const struct region *painted)
{
	struct gfx_cache_op ops[MAX_CACHE_OPS];
	size_t n = 0;

	for (size_t i = 0; i < nspans; i++)
		n += gfx_cache_add(o->cache, img, &spans[i], painted, ops + n, ARRAY_SIZE(ops) - n);
	for (size_t i = 0; i < n; i++) {
		const struct rect *r = &ops[i].r;
		UINT rc;
		if (ops[i].kind == GFX_CACHE_EVICT) {
			RDPGFX_EVICT_CACHE_ENTRY_PDU evict = {.cacheSlot = ops[i].slot};
			rc = o->gfx->EvictCacheEntry(o->gfx, &evict);
		} else {
			RDPGFX_SURFACE_TO_CACHE_PDU keep = {
			    .surfaceId = GFX_SURFACE_ID,
			    .cacheKey = ops[i].key,
			    .cacheSlot = ops[i].slot,
			    .rectSrc = {(UINT16)r->x, (UINT16)r->y, (UINT16)(r->x + r->w),
			                (UINT16)(r->y + r->h)},
			};
			rc = o->gfx->SurfaceToCache(o->gfx, &keep);
		}
		if (rc != CHANNEL_RC_OK)
			return -1;
	}
	return 0;
}

static int send_gfx(struct rdp_output *o, struct frame *f, const struct fbdiff_move *moves,
                    size_t nmoves, const struct region *changes)
{
	RDPGFX_START_FRAME_PDU start = {.timestamp = (UINT32)now_ms()};
	RDPGFX_END_FRAME_PDU end;
	struct region lossless, lossy;

	split_changes(o, changes, f->width, f->height, &lossless, &lossy);
	if (lossless.n == 0 && lossy.n == 0 && nmoves == 0)
		return 0;
	/* The client sent its capabilities again: it has emptied its cache. */
	pthread_mutex_lock(&o->lock);
	bool cache_new = o->cache_new, small = o->small_cache;
	o->cache_new = false;
	pthread_mutex_unlock(&o->lock);
	if (cache_new)
		renew_cache(o, small);
	bool answer = false; /* this frame answers input: the moving area follows in the next */
	if (o->answer_due) {
		answer = beyond_moving(o, changes, nmoves);
		o->answer_due = !answer;
	}

	pthread_mutex_lock(&o->lock);
	if (o->frame_id == o->acked)
		o->ack_ms = now_ms(); /* nothing was in flight: the wait starts now */
	start.frameId = ++o->frame_id;
	pthread_mutex_unlock(&o->lock);
	end.frameId = start.frameId;
	if (o->gfx->StartFrame(o->gfx, &start) != CHANNEL_RC_OK)
		return -1;
	for (size_t i = 0; i < nmoves; i++)
		if (gfx_move(o, &moves[i]) < 0)
			return -1;
	/*
	 * A scroll's newly exposed rows may be text the client has kept; what
	 * it is drawn from must be exact, so not while H.264 pixels are about.
	 */
	struct rect spans[RDP_SESSION_MAX_MOVES];
	size_t nspans = 0;
	struct fbdiff_image img = {(uint8_t *)f->pixels, f->stride, f->width, f->height, NULL};
	if (o->cache && nmoves > 0 && lossy.n == 0 &&
	    !(o->moving && video_detect_busy(o->moving))) {
		nspans = scroll_spans(moves, nmoves, spans, ARRAY_SIZE(spans));
		if (cache_draw(o, &img, spans, nspans, &lossless) < 0)
			return -1;
		widen_narrow(&lossless, f->width, f->height, &lossless);
	}
	if (lossy.n && answer) {
		f->lossy = &lossy;
	} else if (lossy.n) {
		int rc = send_avc(o, f, &lossy);
		if (rc == -2)
			return -1;
		if (rc < 0) { /* no H.264 from now on; this frame's moving areas go planar */
			video_detect_destroy(o->moving);
			o->moving = NULL;
			for (size_t i = 0; i < lossy.n; i++)
				region_add(&lossless, &lossy.r[i],
				           &(struct rect){0, 0, f->width, f->height}, 0);
		} else {
			f->lossy = &lossy;
		}
	}
	/* Beside H.264, tiles of TILE: those the video covers are left out, not painted over. */
	if (for_each_tile(&lossless, lossy.n ? TILE : GFX_TILE_W, gfx_tile, f) < 0 ||
	    (nspans > 0 && cache_keep(o, &img, spans, nspans, &lossless) < 0) ||
	    o->gfx->EndFrame(o->gfx, &end) != CHANNEL_RC_OK)
		return -1;
	return 0;
}

static void free_batch(struct frame *f)
{
	for (UINT32 i = 0; i < f->ntiles; i++)
		free(f->o->tiles[i].bitmapDataStream);
	f->ntiles = 0;
	f->batch_bytes = 0;
}

static int flush_batch(struct frame *f)
{
	rdpContext *ctx = f->o->peer->context;
	BITMAP_UPDATE update = {
	    .count = f->ntiles,
	    .number = f->ntiles,
	    .rectangles = f->o->tiles,
	    .skipCompression = TRUE, /* planar data does not shrink further */
	};
	BOOL ok = f->ntiles == 0 || ctx->update->BitmapUpdate(ctx, &update);

	free_batch(f);
	return ok ? 0 : -1;
}

static int bitmap_tile(void *arg, const struct rect *t)
{
	struct frame *f = arg;
	UINT32 size;
	BYTE *data = compress_tile(f->o, f->pixels, f->stride, t, false, &size);

	if (!data)
		return -1;
	if (f->ntiles == MAX_TILES_PER_UPDATE ||
	    (f->ntiles > 0 && f->batch_bytes + size + BITMAP_DATA_OVERHEAD > f->limit)) {
		if (flush_batch(f) < 0) {
			free(data);
			return -1;
		}
	}
	f->o->tiles[f->ntiles++] = (BITMAP_DATA){
	    .destLeft = (UINT32)t->x,
	    .destTop = (UINT32)t->y,
	    .destRight = (UINT32)(t->x + t->w - 1),
	    .destBottom = (UINT32)(t->y + t->h - 1),
	    .width = (UINT32)t->w,
	    .height = (UINT32)t->h,
	    .bitsPerPixel = 32,
	    .compressed = TRUE,
	    .bitmapLength = size,
	    .bitmapDataStream = data,
	};
	f->batch_bytes += size + BITMAP_DATA_OVERHEAD;
	return 0;
}

static int send_bitmaps(struct rdp_output *o, struct frame *f, const struct region *changes)
{
	UINT32 max = o->peer->settings->MultifragMaxRequestSize;

	/* Without a usable multifragment limit, one fast-path PDU (about 16 KiB). */
	f->limit = (max > 0x3f80 ? max : 0x3f80) - UPDATE_MARGIN;
	if (for_each_tile(changes, TILE, bitmap_tile, f) < 0) {
		free_batch(f);
		return -1;
	}
	return flush_batch(f);
}

int rdp_output_send(struct rdp_output *o, const uint8_t *pixels, size_t stride, uint16_t width,
                    uint16_t height, const struct fbdiff_move *moves, size_t nmoves,
                    const struct region *changes)
{
	struct frame f = {
	    .o = o, .pixels = pixels, .stride = stride, .width = width, .height = height};
	struct region clipped;
	struct rect bounds = {0, 0, width, height};

	widen_narrow(changes, width, height, &clipped);
	/*
	 * The graphics pipeline copies scrolls within its surface; without it,
	 * or for a move that leaves the picture, every destination is painted.
	 */
	bool copy = o->mode == OUT_GFX;
	for (size_t i = 0; i < nmoves; i++) {
		struct rect d = fbdiff_move_dest(&moves[i]), src = moves[i].src;
		struct rect in_d = rect_intersect(&d, &bounds),
		            in_s = rect_intersect(&src, &bounds);
		copy = copy && rect_area(&in_d) == rect_area(&d) &&
		       rect_area(&in_s) == rect_area(&src);
	}
	size_t nm = copy ? nmoves : 0;
	for (size_t i = 0; !copy && i < nmoves; i++) {
		struct rect d = fbdiff_move_dest(&moves[i]);
		region_add(&clipped, &d, &bounds, 0);
	}
	if (clipped.n == 0 && nmoves == 0 && !rdp_output_busy(o))
		return 0;
	struct rect ext = region_extents(&clipped);
	log_debug("frame %u: %zu moves, %zu rectangles within %d,%d %dx%d", o->frame_id + 1, nm,
	          clipped.n, ext.x, ext.y, ext.w, ext.h);
	if (o->mode == OUT_GFX)
		return send_gfx(o, &f, moves, nm, &clipped);
	if (o->mode == OUT_BITMAP)
		return send_bitmaps(o, &f, &clipped);
	return 0;
}

bool rdp_output_busy(const struct rdp_output *o)
{
	return o->mode == OUT_GFX && o->moving && video_detect_busy(o->moving);
}

bool rdp_output_observing(const struct rdp_output *o)
{
	return o->mode == OUT_GFX && o->moving;
}

void rdp_output_observe(struct rdp_output *o, const struct region *changes)
{
	if (rdp_output_observing(o))
		video_detect_observe(o->moving, changes, now_ms());
}

/* ---- pointer ---- */

int rdp_output_cursor(struct rdp_output *o, const struct rdp_cursor *c)
{
	rdpContext *ctx = o->peer->context;
	uint16_t w = MIN(c->width, MAX_POINTER), h = MIN(c->height, MAX_POINTER);
	size_t and_stride = ((size_t)w + 15) / 16 * 2;
	uint8_t xor_mask[MAX_POINTER * MAX_POINTER * 4];
	uint8_t and_mask[MAX_POINTER * ((MAX_POINTER + 15) / 16 * 2)];
	POINTER_NEW_UPDATE p = {.xorBpp = 32};

	if (o->mode == OUT_INACTIVE || w == 0 || h == 0)
		return 0;
	/* Rows bottom-up; the alpha channel carries the shape, so the AND mask is clear. */
	for (uint16_t y = 0; y < h; y++)
		memcpy(xor_mask + (size_t)(h - 1 - y) * w * 4, c->pixels + (size_t)y * c->width * 4,
		       (size_t)w * 4);
	memset(and_mask, 0, and_stride * h);
	p.colorPtrAttr = (POINTER_COLOR_UPDATE){
	    .cacheIndex = 0,
	    .xPos = MIN(c->hot_x, (uint16_t)(w - 1)),
	    .yPos = MIN(c->hot_y, (uint16_t)(h - 1)),
	    .width = w,
	    .height = h,
	    .lengthAndMask = (UINT32)(and_stride * h),
	    .lengthXorMask = (UINT32)w * h * 4,
	    .xorMaskData = xor_mask,
	    .andMaskData = and_mask,
	};
	return ctx->update->pointer->PointerNew(ctx, &p) ? 0 : -1;
}
