/*
 * The test RDP client (see rdp_client.h): libfreerdp-client 2 with its
 * software gdi, the graphics pipeline hooked to it when shojid opens it.
 * Everything runs on the calling thread: rdp_client_pump() waits on
 * FreeRDP's handles and lets it decode.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Before FreeRDP's headers, whose MIN and MAX give way to ours. */
#include "click.h"
#include "util.h"

#include <freerdp/addin.h>
#include <freerdp/channels/channels.h>
#include <freerdp/channels/rdpgfx.h>
#include <freerdp/client/channels.h>
#include <freerdp/client/cmdline.h>
#include <freerdp/client/disp.h>
#include <freerdp/client/rdpgfx.h>
#include <freerdp/event.h>
#include <freerdp/freerdp.h>
#include <freerdp/gdi/gdi.h>
#include <freerdp/gdi/gfx.h>
#include <freerdp/graphics.h>
#include <winpr/synch.h>
#include <winpr/wlog.h>

#include "rdp_client.h"

#define PUMP_SLICE_MS 20
#define FIRST_PAINT_TIMEOUT_MS 30000

struct rdp_client {
	freerdp *instance;
	bool connected, closed, gfx;
	int codecs[16]; /* surface commands by codec id (they are below 16) */
	pcRdpgfxSurfaceCommand gdi_surface_command;
	int moves;                                   /* SurfaceToSurface copies the server sent */
	int frames;                                  /* graphics pipeline frames ended */
	pcRdpgfxSurfaceToSurface surface_to_surface; /* gdi's own */
	int cache_draws;                             /* CacheToSurface the server sent */
	pcRdpgfxCacheToSurface cache_to_surface;     /* gdi's own */
	pcRdpgfxEndFrame gdi_end_frame;
	int ack_delay_ms; /* a slow client: its frame acknowledgements come this much later */
	DispClientContext *disp; /* Display Control, once the server opened it */
	bool disp_caps;          /* and sent its capabilities */
	int resizes;             /* desktop resizes the server made */
	int paints;              /* updates drawn */
	int pointers;            /* pointer shapes the server set */
	bool raw_cliprdr;        /* list cliprdr without FreeRDP's clipboard: raw PDUs only */
	pReceiveChannelData receive_channel_data; /* FreeRDP's, for every other channel */
};

/* FreeRDP's context with a way back to the client; rdpContext comes first. */
struct client_context {
	rdpContext ctx;
	struct rdp_client *owner;
};

void rdp_client_log_to(const char *dir, const char *name)
{
	wLog *root = WLog_GetRoot();

	WLog_SetLogAppenderType(root, WLOG_APPENDER_FILE);
	wLogAppender *app = WLog_GetLogAppender(root);
	WLog_ConfigureAppender(app, "outputfilepath", (void *)dir);
	WLog_ConfigureAppender(app, "outputfilename", (void *)name);
	WLog_OpenAppender(root);
}

/* Counts each surface command's codec, then lets FreeRDP's gdi decode it. */
static UINT count_surface_command(RdpgfxClientContext *g, const RDPGFX_SURFACE_COMMAND *cmd)
{
	rdpGdi *gdi = g->custom;
	struct rdp_client *c = ((struct client_context *)gdi->context)->owner;

	if (cmd->codecId < ARRAY_SIZE(c->codecs))
		c->codecs[cmd->codecId]++;
	return c->gdi_surface_command(g, cmd);
}

/* Counts the copies, then lets gdi do them. */
static UINT surface_to_surface(RdpgfxClientContext *gfx, const RDPGFX_SURFACE_TO_SURFACE_PDU *pdu)
{
	rdpGdi *gdi = gfx->custom;
	struct client_context *cc = (struct client_context *)gdi->context;

	cc->owner->moves++;
	return cc->owner->surface_to_surface(gfx, pdu);
}

/* Counts the bands drawn from the client's cache, then lets gdi draw them. */
static UINT cache_to_surface(RdpgfxClientContext *gfx, const RDPGFX_CACHE_TO_SURFACE_PDU *pdu)
{
	rdpGdi *gdi = gfx->custom;
	struct client_context *cc = (struct client_context *)gdi->context;

	cc->owner->cache_draws += pdu->destPtsCount;
	return cc->owner->cache_to_surface(gfx, pdu);
}

/*
 * A slow client: FreeRDP acknowledges a frame when EndFrame returns, on the
 * channel's thread, so waiting here delays every acknowledgement.
 */
static UINT end_frame(RdpgfxClientContext *gfx, const RDPGFX_END_FRAME_PDU *pdu)
{
	rdpGdi *gdi = gfx->custom;
	struct client_context *cc = (struct client_context *)gdi->context;
	UINT rc = cc->owner->gdi_end_frame(gfx, pdu);

	cc->owner->frames++;

	if (cc->owner->ack_delay_ms > 0)
		usleep((useconds_t)cc->owner->ack_delay_ms * 1000);
	return rc;
}

static UINT on_disp_caps(DispClientContext *disp, UINT32 monitors, UINT32 factor_a, UINT32 factor_b)
{
	struct rdp_client *c = disp->custom;

	(void)monitors, (void)factor_a, (void)factor_b;
	c->disp_caps = true;
	return CHANNEL_RC_OK;
}

static void on_channel_connected(void *context, ChannelConnectedEventArgs *e)
{
	struct client_context *cc = context;
	RdpgfxClientContext *gfx = e->pInterface;

	if (strcmp(e->name, RDPGFX_DVC_CHANNEL_NAME) == 0 &&
	    gdi_graphics_pipeline_init(cc->ctx.gdi, gfx)) {
		cc->owner->gfx = true;
		cc->owner->gdi_surface_command = gfx->SurfaceCommand;
		gfx->SurfaceCommand = count_surface_command;
		cc->owner->surface_to_surface = gfx->SurfaceToSurface;
		gfx->SurfaceToSurface = surface_to_surface;
		cc->owner->cache_to_surface = gfx->CacheToSurface;
		gfx->CacheToSurface = cache_to_surface;
		cc->owner->gdi_end_frame = gfx->EndFrame;
		gfx->EndFrame = end_frame;
	}
	if (strcmp(e->name, DISP_DVC_CHANNEL_NAME) == 0) {
		cc->owner->disp = e->pInterface;
		cc->owner->disp->custom = cc->owner;
		cc->owner->disp->DisplayControlCaps = on_disp_caps;
	}
}

static void on_channel_disconnected(void *context, ChannelDisconnectedEventArgs *e)
{
	struct client_context *cc = context;

	if (strcmp(e->name, RDPGFX_DVC_CHANNEL_NAME) == 0) {
		gdi_graphics_pipeline_uninit(cc->ctx.gdi, (RdpgfxClientContext *)e->pInterface);
		cc->owner->gfx = false;
	}
	if (strcmp(e->name, DISP_DVC_CHANNEL_NAME) == 0) {
		cc->owner->disp = NULL;
		cc->owner->disp_caps = false;
	}
}

/* With raw_cliprdr, what the server sends on cliprdr is read by nobody. */
static BOOL on_channel_data(freerdp *instance, UINT16 id, const BYTE *data, size_t size,
                            UINT32 flags, size_t total)
{
	struct rdp_client *c = ((struct client_context *)instance->context)->owner;

	if (id == freerdp_channels_get_id_by_name(instance, "cliprdr"))
		return TRUE;
	return c->receive_channel_data(instance, id, data, size, flags, total);
}

static BOOL pre_connect(freerdp *instance)
{
	rdpContext *ctx = instance->context;

	/* FreeRDP's channels are built into libfreerdp-client, not loaded as modules. */
	freerdp_register_addin_provider(freerdp_channels_load_static_addin_entry, 0);
	PubSub_SubscribeChannelConnected(ctx->pubSub, on_channel_connected);
	PubSub_SubscribeChannelDisconnected(ctx->pubSub, on_channel_disconnected);
	if (!freerdp_client_load_addins(ctx->channels, instance->settings))
		return FALSE;
	/* A static channel no addin serves: the test sends what it likes on it. */
	rdpSettings *st = instance->settings;
	if (((struct client_context *)ctx)->owner->raw_cliprdr) {
		if (st->ChannelCount >= st->ChannelDefArraySize)
			return FALSE;
		CHANNEL_DEF *def = &st->ChannelDefArray[st->ChannelCount++];
		memset(def, 0, sizeof(*def));
		strcpy(def->name, "cliprdr");
		def->options = CHANNEL_OPTION_INITIALIZED | CHANNEL_OPTION_ENCRYPT_RDP |
		               CHANNEL_OPTION_COMPRESS_RDP | CHANNEL_OPTION_SHOW_PROTOCOL;
	}
	return TRUE;
}

/* Pointer shapes are only counted: the test client draws no cursor. */
static BOOL pointer_new(rdpContext *ctx, rdpPointer *pointer)
{
	(void)ctx;
	(void)pointer;
	return TRUE;
}

static void pointer_free(rdpContext *ctx, rdpPointer *pointer)
{
	(void)ctx;
	(void)pointer;
}

static BOOL pointer_set(rdpContext *ctx, const rdpPointer *pointer)
{
	(void)pointer;
	((struct client_context *)ctx)->owner->pointers++;
	return TRUE;
}

static BOOL pointer_set_other(rdpContext *ctx)
{
	(void)ctx;
	return TRUE;
}

static BOOL pointer_set_position(rdpContext *ctx, UINT32 x, UINT32 y)
{
	(void)ctx;
	(void)x;
	(void)y;
	return TRUE;
}

/* Updates are drawn straight into gdi's buffer; a paint needs no more than this. */
static BOOL begin_paint(rdpContext *ctx)
{
	ctx->gdi->primary->hdc->hwnd->invalid->null = TRUE;
	return TRUE;
}

static BOOL end_paint(rdpContext *ctx)
{
	((struct client_context *)ctx)->owner->paints++;
	return TRUE;
}

/* The server changed the desktop size (reactivation, or a graphics reset). */
static BOOL desktop_resize(rdpContext *ctx)
{
	((struct client_context *)ctx)->owner->resizes++;
	return gdi_resize(ctx->gdi, ctx->settings->DesktopWidth, ctx->settings->DesktopHeight);
}

static BOOL post_connect(freerdp *instance)
{
	rdpPointer pointer = {
	    .size = sizeof(rdpPointer),
	    .New = pointer_new,
	    .Free = pointer_free,
	    .Set = pointer_set,
	    .SetNull = pointer_set_other,
	    .SetDefault = pointer_set_other,
	    .SetPosition = pointer_set_position,
	};

	if (!gdi_init(instance, PIXEL_FORMAT_BGRX32))
		return FALSE;
	graphics_register_pointer(instance->context->graphics, &pointer);
	instance->update->BeginPaint = begin_paint;
	instance->update->EndPaint = end_paint;
	instance->update->DesktopResize = desktop_resize;
	return TRUE;
}

static void post_disconnect(freerdp *instance)
{
	gdi_free(instance);
}

static bool set_string(char **field, const char *value)
{
	free(*field);
	*field = value ? strdup(value) : NULL;
	return !value || *field;
}

static bool configure(rdpSettings *st, const struct rdp_client_options *opt)
{
	if (!set_string(&st->ServerHostname, "127.0.0.1") ||
	    !set_string(&st->Username, opt->user) || !set_string(&st->Password, opt->password))
		return false;
	st->ServerPort = (UINT32)opt->port;
	st->DesktopWidth = (UINT32)opt->width;
	st->DesktopHeight = (UINT32)opt->height;
	st->ColorDepth = 32;
	st->SoftwareGdi = TRUE;
	st->IgnoreCertificate = TRUE;
	st->AutoLogonEnabled = opt->password && opt->password[0];
	st->SupportGraphicsPipeline = opt->gfx;
	st->GfxH264 = opt->gfx && opt->h264;
	st->GfxAVC444 = FALSE;
	st->GfxAVC444v2 = FALSE;
	st->SupportDisplayControl = TRUE;
	st->DynamicResolutionUpdate = TRUE;
	/* Only what the tests need: no device, clipboard or sound channels. */
	st->DeviceRedirection = FALSE;
	st->RedirectClipboard = FALSE;
	st->AudioPlayback = FALSE;
	st->AudioCapture = FALSE;
	st->RdpSecurity = opt->rdp_security_only;
	st->TlsSecurity = !opt->rdp_security_only && !opt->nla;
	st->NlaSecurity = opt->nla;
	st->ExtSecurity = FALSE;
	if (opt->japanese_keyboard) {
		st->KeyboardType = 7;
		st->KeyboardSubType = 2;
		st->KeyboardFunctionKey = 12;
		st->KeyboardLayout = 0x411;
	}
	return true;
}

struct rdp_client *rdp_client_connect(const struct rdp_client_options *opt)
{
	struct rdp_client *c = xcalloc(1, sizeof(*c));

	c->ack_delay_ms = opt->ack_delay_ms;
	c->instance = freerdp_new();
	if (!c->instance)
		goto fail;
	c->instance->ContextSize = sizeof(struct client_context);
	c->instance->PreConnect = pre_connect;
	c->instance->PostConnect = post_connect;
	c->instance->PostDisconnect = post_disconnect;
	if (!freerdp_context_new(c->instance))
		goto fail_instance;
	((struct client_context *)c->instance->context)->owner = c;
	c->raw_cliprdr = opt->raw_cliprdr;
	if (c->raw_cliprdr) {
		c->receive_channel_data = c->instance->ReceiveChannelData;
		c->instance->ReceiveChannelData = on_channel_data;
	}
	if (!configure(c->instance->settings, opt) || !freerdp_connect(c->instance))
		goto fail_context;
	c->connected = true;
	/*
	 * The server checks the password after the connection sequence, so a
	 * refused login is dropped only then (after its refusal delay); an
	 * accepted one, or the logon screen, draws something first.
	 */
	uint64_t end = now_ms() + FIRST_PAINT_TIMEOUT_MS;
	while (c->paints == 0 && now_ms() < end)
		if (rdp_client_pump(c, 100) < 0)
			goto fail_context;
	if (c->paints == 0)
		goto fail_context;
	return c;

fail_context:
	rdp_client_destroy(c);
	return NULL;
fail_instance:
	freerdp_free(c->instance);
fail:
	free(c);
	return NULL;
}

void rdp_client_destroy(struct rdp_client *c)
{
	if (!c)
		return;
	if (c->connected)
		freerdp_disconnect(c->instance);
	freerdp_context_free(c->instance);
	freerdp_free(c->instance);
	free(c);
}

int rdp_client_pump(struct rdp_client *c, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;
	HANDLE h[MAXIMUM_WAIT_OBJECTS];

	do {
		if (c->closed)
			return -1;
		DWORD n = freerdp_get_event_handles(c->instance->context, h, ARRAY_SIZE(h));
		uint64_t now = now_ms();
		DWORD left = (DWORD)(end > now ? MIN(end - now, PUMP_SLICE_MS) : 0);
		if (n == 0 || WaitForMultipleObjects(n, h, FALSE, left) == WAIT_FAILED ||
		    !freerdp_check_event_handles(c->instance->context) ||
		    freerdp_shall_disconnect(c->instance)) {
			c->closed = true;
			return -1;
		}
	} while (now_ms() < end);
	return 0;
}

bool rdp_client_closed(const struct rdp_client *c)
{
	return c->closed;
}

int rdp_client_pointers(const struct rdp_client *c)
{
	return c->pointers;
}

int rdp_client_codec_count(const struct rdp_client *c, unsigned codec_id)
{
	return codec_id < ARRAY_SIZE(c->codecs) ? c->codecs[codec_id] : 0;
}

bool rdp_client_gfx_open(const struct rdp_client *c)
{
	return c->gfx;
}

bool rdp_client_disp_open(const struct rdp_client *c)
{
	return c->disp && c->disp_caps;
}

int rdp_client_resizes(const struct rdp_client *c)
{
	return c->resizes;
}

int rdp_client_resize(struct rdp_client *c, int width, int height)
{
	DISPLAY_CONTROL_MONITOR_LAYOUT m = {
	    .Flags = DISPLAY_CONTROL_MONITOR_PRIMARY,
	    .Width = (UINT32)width,
	    .Height = (UINT32)height,
	    .Orientation = ORIENTATION_LANDSCAPE,
	    .DesktopScaleFactor = 100,
	    .DeviceScaleFactor = 100,
	};

	if (!rdp_client_disp_open(c))
		return -1;
	return c->disp->SendMonitorLayout(c->disp, 1, &m) == CHANNEL_RC_OK ? 0 : -1;
}

int rdp_client_width(const struct rdp_client *c)
{
	rdpGdi *gdi = c->instance->context->gdi;
	return gdi ? (int)gdi->width : 0;
}

int rdp_client_height(const struct rdp_client *c)
{
	rdpGdi *gdi = c->instance->context->gdi;
	return gdi ? (int)gdi->height : 0;
}

uint32_t rdp_client_pixel(const struct rdp_client *c, int x, int y)
{
	rdpGdi *gdi = c->instance->context->gdi;

	if (!gdi || !gdi->primary_buffer || x < 0 || y < 0 || x >= (int)gdi->width ||
	    y >= (int)gdi->height)
		return 0xff000000u;
	const BYTE *p = gdi->primary_buffer + (size_t)y * gdi->stride + (size_t)x * 4;
	return (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static bool near(uint32_t a, uint32_t b, int tol)
{
	if (a & 0xff000000u)
		return false;
	for (int shift = 0; shift <= 16; shift += 8) {
		int d = (int)((a >> shift) & 0xff) - (int)((b >> shift) & 0xff);
		if (d > tol || d < -tol)
			return false;
	}
	return true;
}

bool rdp_client_wait_pixel(struct rdp_client *c, int x, int y, uint32_t rgb, int tol,
                           int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;

	while (!near(rdp_client_pixel(c, x, y), rgb, tol)) {
		if (now_ms() >= end || rdp_client_pump(c, 50) < 0)
			return near(rdp_client_pixel(c, x, y), rgb, tol);
	}
	return true;
}

static bool find_color(const struct rdp_client *c, uint32_t rgb, int *x, int *y)
{
	for (int j = 0; j < rdp_client_height(c); j++)
		for (int i = 0; i < rdp_client_width(c); i++)
			if (rdp_client_pixel(c, i, j) == rgb) {
				*x = i;
				*y = j;
				return true;
			}
	return false;
}

bool rdp_client_wait_color(struct rdp_client *c, uint32_t rgb, int timeout_ms, int *x, int *y)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;

	while (!find_color(c, rgb, x, y)) {
		if (now_ms() >= end || rdp_client_pump(c, 200) < 0)
			return find_color(c, rgb, x, y);
	}
	return true;
}

/* A whole w x h block of rgb with its top-left corner at x,y, and no more of it right or below. */
static bool block_at(const struct rdp_client *c, uint32_t rgb, int w, int h, int x, int y)
{
	return rdp_client_pixel(c, x + w - 1, y) == rgb &&
	       rdp_client_pixel(c, x, y + h - 1) == rgb &&
	       rdp_client_pixel(c, x + w - 1, y + h - 1) == rgb &&
	       rdp_client_pixel(c, x + w, y) != rgb && rdp_client_pixel(c, x, y + h) != rgb;
}

bool rdp_client_wait_block(struct rdp_client *c, uint32_t rgb, int w, int h, int timeout_ms, int *x,
                           int *y)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;
	int px = -1, py = -1;

	while (now_ms() < end) {
		int bx, by;
		bool whole = find_color(c, rgb, &bx, &by) && block_at(c, rgb, w, h, bx, by);
		if (whole && bx == px && by == py) {
			*x = bx;
			*y = by;
			return true;
		}
		px = whole ? bx : -1;
		py = whole ? by : -1;
		if (rdp_client_pump(c, whole ? BLOCK_STABLE_MS : 100) < 0)
			return false;
	}
	return false;
}

int rdp_client_click(struct rdp_client *c, int x, int y)
{
	rdpInput *in = c->instance->input;
	UINT16 px = (UINT16)x, py = (UINT16)y;

	if (!freerdp_input_send_mouse_event(in, PTR_FLAGS_MOVE, px, py) ||
	    rdp_client_pump(c, 50) < 0 ||
	    !freerdp_input_send_mouse_event(in, PTR_FLAGS_DOWN | PTR_FLAGS_BUTTON1, px, py) ||
	    rdp_client_pump(c, 50) < 0 ||
	    !freerdp_input_send_mouse_event(in, PTR_FLAGS_BUTTON1, px, py))
		return -1;
	return rdp_client_pump(c, 50);
}

static int click_rdp(void *c, int x, int y)
{
	return rdp_client_click(c, x, y);
}

static bool wait_rdp(void *c, int x, int y, uint32_t rgb, int timeout_ms)
{
	return rdp_client_wait_pixel(c, x, y, rgb, 8, timeout_ms);
}

bool rdp_client_click_until(struct rdp_client *c, int x, int y, int px, int py, uint32_t rgb,
                            int timeout_ms)
{
	return click_until(c, click_rdp, wait_rdp, x, y, px, py, rgb, timeout_ms);
}

int rdp_client_wheel(struct rdp_client *c, int x, int y, int notches)
{
	UINT16 flags = PTR_FLAGS_WHEEL | 0x0078; /* one notch, 120 units */

	if (notches > 0)
		flags = PTR_FLAGS_WHEEL | PTR_FLAGS_WHEEL_NEGATIVE | (0x100 - 0x78);
	for (int i = 0; i < abs(notches); i++) {
		if (!freerdp_input_send_mouse_event(c->instance->input, flags, (UINT16)x,
		                                    (UINT16)y) ||
		    rdp_client_pump(c, 20) < 0)
			return -1;
	}
	return 0;
}

int rdp_client_moves(const struct rdp_client *c)
{
	return c->moves;
}

int rdp_client_cache_draws(const struct rdp_client *c)
{
	return c->cache_draws;
}

int rdp_client_frames(const struct rdp_client *c)
{
	return c->frames;
}

uint32_t *rdp_client_snapshot(const struct rdp_client *c)
{
	int w = rdp_client_width(c), h = rdp_client_height(c);
	uint32_t *px = malloc((size_t)MAX(w, 1) * (size_t)MAX(h, 1) * sizeof(*px));

	if (!px)
		return NULL;
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++)
			px[(size_t)y * (size_t)w + (size_t)x] = rdp_client_pixel(c, x, y);
	return px;
}

int rdp_client_key(struct rdp_client *c, uint16_t scancode, bool down)
{
	UINT16 flags = down ? KBD_FLAGS_DOWN : KBD_FLAGS_RELEASE;

	if ((scancode & 0xff00) == 0xe000)
		flags |= KBD_FLAGS_EXTENDED;
	if (!freerdp_input_send_keyboard_event(c->instance->input, flags, scancode & 0xff))
		return -1;
	return rdp_client_pump(c, 20);
}

/* Set-1 scancodes of a US keyboard: letters a..z, digits 0..9 and '-'. */
static uint16_t us_scancode(char ch)
{
	static const uint8_t letters[26] = {
	    0x1e, 0x30, 0x2e, 0x20, 0x12, 0x21, 0x22, 0x23, 0x17, 0x24, 0x25, 0x26, 0x32,
	    0x31, 0x18, 0x19, 0x10, 0x13, 0x1f, 0x14, 0x16, 0x2f, 0x11, 0x2d, 0x15, 0x2c,
	};

	if (ch >= 'a' && ch <= 'z')
		return letters[ch - 'a'];
	if (ch >= '1' && ch <= '9')
		return (uint16_t)(0x02 + (ch - '1'));
	if (ch == '-')
		return 0x0c;
	if (ch == '.')
		return 0x34;
	if (ch == '/')
		return 0x35;
	return ch == '0' ? 0x0b : 0;
}

int rdp_client_type_scancodes(struct rdp_client *c, const char *text)
{
	for (const char *p = text; *p; p++) {
		uint16_t sc = us_scancode(*p);
		if (sc == 0 || rdp_client_key(c, sc, true) < 0 || rdp_client_key(c, sc, false) < 0)
			return -1;
	}
	return 0;
}

int rdp_client_type_unicode(struct rdp_client *c, const char *text)
{
	rdpInput *in = c->instance->input;

	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		/* UTF-8 to UTF-16 code units; the tests send only the BMP. */
		UINT16 ch = *p;
		if (*p >= 0xe0 && p[1] && p[2]) {
			ch = (UINT16)((*p & 0x0f) << 12 | (p[1] & 0x3f) << 6 | (p[2] & 0x3f));
			p += 2;
		} else if (*p >= 0xc0 && p[1]) {
			ch = (UINT16)((*p & 0x1f) << 6 | (p[1] & 0x3f));
			p += 1;
		}
		if (!freerdp_input_send_unicode_keyboard_event(in, 0, ch) ||
		    !freerdp_input_send_unicode_keyboard_event(in, KBD_FLAGS_RELEASE, ch) ||
		    rdp_client_pump(c, 20) < 0)
			return -1;
	}
	return 0;
}

void rdp_client_dump_ppm(const struct rdp_client *c, const char *path)
{
	FILE *f = fopen(path, "wb");
	int w = rdp_client_width(c), h = rdp_client_height(c);

	if (!f)
		return;
	fprintf(f, "P6\n%d %d\n255\n", w, h);
	for (int y = 0; y < h; y++) {
		for (int x = 0; x < w; x++) {
			uint32_t p = rdp_client_pixel(c, x, y);
			unsigned char rgb[3] = {(unsigned char)(p >> 16), (unsigned char)(p >> 8),
			                        (unsigned char)p};
			fwrite(rgb, 1, 3, f);
		}
	}
	fclose(f);
}

int rdp_client_send_channel(struct rdp_client *c, const char *channel, const void *buf, size_t len)
{
	UINT16 id = freerdp_channels_get_id_by_name(c->instance, channel);

	if (!c->connected || c->closed || !id || len > INT32_MAX)
		return -1;
	return c->instance->SendChannelData(c->instance, id, buf, len) ? 0 : -1;
}
