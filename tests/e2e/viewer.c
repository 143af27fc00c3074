/*
 * The libvncclient viewer of the end-to-end tests (see viewer.h). It talks
 * to a real shojid over TCP; what shojid sends is checked by libvncclient
 * and by the tests' assertions, nothing here trusts it further.
 */
#include "autoconfig.h"

#include <rfb/rfbclient.h>
#include <stdarg.h>
#include <zlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "click.h"
#include "util.h"
#include "viewer.h"

#define READ_TIMEOUT_S 30
#define EXT_CLIP_MAX (1u << 20) /* the longest extended clipboard message taken */
#define EXT_TEXT 1u
#define EXT_CAPS (1u << 24)
#define EXT_REQUEST (1u << 25)
#define EXT_PEEK (1u << 26)
#define EXT_NOTIFY (1u << 27)
#define EXT_PROVIDE (1u << 28)

struct viewer {
	rfbClient *cl;
	char *ca_file, *user, *password;
	unsigned updates; /* complete framebuffer updates since the last resize */
	struct viewer_stats stats;
	GotCopyRectProc copy_rect; /* libvncclient's own */
	bool closed;
	uint64_t auth_ms;         /* when libvncclient took the user name and password */
	uint64_t first_update_ms; /* when the first framebuffer update was complete */
	char *cut_text;           /* the last ServerCutText, NUL added; NULL before one */
	size_t cut_len;
	unsigned cut_count;
	bool cut_utf8;        /* the last one came over the extended clipboard */
	bool utf8_clipboard;  /* this viewer speaks the extended clipboard */
	uint32_t server_caps; /* the server's extended clipboard caps; 0 before them */
	char *clip;           /* our clipboard (UTF-8), provided when the server asks */
	size_t clip_len;
};

static FILE *client_log;
static int viewer_tag; /* its address tags our data in the rfbClient */

static void __attribute__((format(printf, 1, 2))) log_line(const char *fmt, ...)
{
	va_list ap;

	if (!client_log)
		return;
	va_start(ap, fmt);
	vfprintf(client_log, fmt, ap);
	va_end(ap);
	fflush(client_log);
}

static void keep_cut_text(struct viewer *v, const char *text, int len, bool utf8)
{
	char *copy = malloc((size_t)MAX(len, 0) + 1);

	if (!copy)
		return;
	memcpy(copy, text, (size_t)MAX(len, 0));
	copy[MAX(len, 0)] = '\0';
	free(v->cut_text);
	v->cut_text = copy;
	v->cut_len = (size_t)MAX(len, 0);
	v->cut_count++;
	v->cut_utf8 = utf8;
}

static void got_cut_text(rfbClient *cl, const char *text, int len)
{
	keep_cut_text(rfbClientGetClientData(cl, &viewer_tag), text, len, false);
}

void viewer_log_to(const char *path)
{
	if (client_log)
		fclose(client_log);
	client_log = path ? fopen(path, "a") : NULL;
	rfbClientLog = log_line;
	rfbClientErr = log_line;
}

/* libvncclient frees what this returns, each string and the struct. */
static rfbCredential *get_credential(rfbClient *cl, int type)
{
	struct viewer *v = rfbClientGetClientData(cl, &viewer_tag);
	rfbCredential *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	if (type == rfbCredentialTypeX509) {
		c->x509Credential.x509CACertFile = strdup(v->ca_file);
		c->x509Credential.x509CrlVerifyMode = rfbX509CrlVerifyNone;
	} else if (type == rfbCredentialTypeUser) {
		v->auth_ms = now_ms();
		c->userCredential.username = strdup(v->user);
		c->userCredential.password = strdup(v->password);
	} else {
		free(c);
		return NULL;
	}
	return c;
}

/* Zeroed, so nothing is seen before the server has drawn it. */
static rfbBool alloc_framebuffer(rfbClient *cl)
{
	struct viewer *v = rfbClientGetClientData(cl, &viewer_tag);
	size_t n;

	free(cl->frameBuffer);
	cl->frameBuffer = NULL;
	if (cl->width <= 0 || cl->height <= 0 ||
	    !ckd_mul_size(&n, (size_t)cl->width * 4, (size_t)cl->height))
		return FALSE;
	cl->frameBuffer = calloc(1, n);
	v->updates = 0;
	return cl->frameBuffer != NULL;
}

static void update_done(rfbClient *cl)
{
	struct viewer *v = rfbClientGetClientData(cl, &viewer_tag);
	v->updates++;
	v->stats.updates++;
	if (!v->first_update_ms)
		v->first_update_ms = now_ms();
}

/* Every rectangle of pixels (CopyRect included), whatever its encoding. */
static void got_rect(rfbClient *cl, int x, int y, int w, int h)
{
	struct viewer *v = rfbClientGetClientData(cl, &viewer_tag);
	(void)x;
	(void)y;
	v->stats.rects++;
	v->stats.pixels += (uint64_t)MAX(w, 0) * (uint64_t)MAX(h, 0);
}

static void got_copy_rect(rfbClient *cl, int sx, int sy, int w, int h, int dx, int dy)
{
	struct viewer *v = rfbClientGetClientData(cl, &viewer_tag);
	v->stats.copy_rects++;
	v->stats.copied_pixels += (uint64_t)MAX(w, 0) * (uint64_t)MAX(h, 0);
	v->copy_rect(cl, sx, sy, w, h, dx, dy);
}

/*
 * 32 bits per pixel, little-endian, red in the low byte: libvncclient's
 * usual choice, and not the byte order shojid's framebuffer has, so the
 * server translates.
 */
static void set_format(rfbClient *cl)
{
	cl->format.bitsPerPixel = 32;
	cl->format.depth = 24;
	cl->format.bigEndian = FALSE;
	cl->format.trueColour = TRUE;
	cl->format.redMax = cl->format.greenMax = cl->format.blueMax = 255;
	cl->format.redShift = 0;
	cl->format.greenShift = 8;
	cl->format.blueShift = 16;
}

/*
 * The extended clipboard (UTF-8), which libvncclient 0.9.14 does not
 * speak: its pseudo-encoding is listed through an extension, and
 * ServerCutText is read here before libvncclient sees the message (it
 * would take a negative length for a huge one and give up). Behaves as
 * TigerVNC's viewer does: caps answered with its own, the server's notify
 * answered with a request, the server's request with a provide.
 */
static int ext_clipboard_encodings[] = {(int)0xc0a1e5ceu, 0};
/* The list rfbClientRegisterExtension() adds to: exported, not declared in rfbclient.h. */
extern rfbClientProtocolExtension *rfbClientExtensions;
static rfbClientProtocolExtension ext_clipboard = {.encodings = ext_clipboard_encodings};

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* An extended ClientCutText: flags, then n bytes of payload. */
static int write_ext(struct viewer *v, uint32_t flags, const void *payload, size_t n)
{
	uint8_t *m = xcalloc(1, 12 + n);

	m[0] = rfbClientCutText;
	put_be32(m + 4, 0u - (uint32_t)(4 + n));
	put_be32(m + 8, flags);
	if (n > 0)
		memcpy(m + 12, payload, n);
	int rc = viewer_write_raw(v, m, 12 + n);
	free(m);
	return rc;
}

/* A zlib stream of u32 size, then text and its NUL, flushed as TigerVNC does. */
static size_t deflate_text(const char *text, size_t len, uint8_t **out)
{
	size_t cap = compressBound((uLong)len + 5) + 16, plain_len = 4 + len + 1;
	uint8_t *plain = xcalloc(1, plain_len);
	z_stream zs = {0};

	*out = xcalloc(1, cap);
	put_be32(plain, (uint32_t)len + 1);
	memcpy(plain + 4, text, len);
	if (deflateInit(&zs, Z_DEFAULT_COMPRESSION) != Z_OK)
		return 0;
	zs.next_in = plain;
	zs.avail_in = (uInt)plain_len;
	zs.next_out = *out;
	zs.avail_out = (uInt)cap;
	int rc = deflate(&zs, Z_SYNC_FLUSH);
	size_t n = rc == Z_OK && zs.avail_in == 0 ? zs.total_out : 0;
	deflateEnd(&zs);
	free(plain);
	return n;
}

static int provide(struct viewer *v)
{
	uint8_t *z;
	size_t n = deflate_text(v->clip ? v->clip : "", v->clip_len, &z);
	int rc = n ? write_ext(v, EXT_PROVIDE | EXT_TEXT, z, n) : -1;
	free(z);
	return rc;
}

/* The server's provide: the text format's size, then the text (its NUL dropped). */
static bool got_provide(struct viewer *v, const uint8_t *z, size_t n)
{
	uint8_t *plain = xcalloc(1, EXT_CLIP_MAX + 1);
	uLongf len = EXT_CLIP_MAX;
	int rc = uncompress(plain, &len, z, (uLong)n);

	/* The stream is flushed, not finished: uncompress() then says Z_BUF_ERROR. */
	bool ok = (rc == Z_OK || rc == Z_BUF_ERROR) && len >= 4 && get_be32(plain) <= len - 4;
	if (ok) {
		uint32_t size = get_be32(plain);
		if (size > 0 && plain[4 + size - 1] == '\0')
			size--;
		keep_cut_text(v, (const char *)plain + 4, (int)size, true);
	} else
		log_line("a broken extended clipboard provide (zlib %d, %lu bytes)\n", rc,
		         (unsigned long)len);
	free(plain);
	return ok;
}

static bool handle_ext(struct viewer *v, uint32_t flags, const uint8_t *p, size_t n)
{
	static const uint8_t our_size[4] = {0, 0x10, 0, 0}; /* 1 MiB of text */

	log_line("extended clipboard from the server: flags 0x%08x, %zu bytes\n", flags, n);
	if (flags & EXT_CAPS) {
		v->server_caps = flags;
		return write_ext(v,
		                 EXT_CAPS | EXT_REQUEST | EXT_PEEK | EXT_NOTIFY | EXT_PROVIDE |
		                     EXT_TEXT,
		                 our_size, sizeof(our_size)) == 0;
	}
	if ((flags & EXT_NOTIFY) && (flags & EXT_TEXT))
		return write_ext(v, EXT_REQUEST | EXT_TEXT, NULL, 0) == 0;
	if ((flags & EXT_REQUEST) && (flags & EXT_TEXT) && v->clip)
		return provide(v) == 0;
	if (flags & EXT_PEEK)
		return write_ext(v, EXT_NOTIFY | (v->clip ? EXT_TEXT : 0), NULL, 0) == 0;
	if ((flags & EXT_PROVIDE) && (flags & EXT_TEXT))
		return got_provide(v, p, n);
	return true;
}

/*
 * A ServerCutText, its type byte already read: classic text goes where
 * libvncclient would put it, extended messages to handle_ext().
 */
static bool handle_cut_text(struct viewer *v)
{
	uint8_t head[7];

	if (!ReadFromRFBServer(v->cl, (char *)head, sizeof(head)))
		return false;
	uint32_t len = get_be32(head + 3);
	bool ext = len & 0x80000000u;
	if (ext)
		len = 0u - len;
	if (len > EXT_CLIP_MAX || (ext && len < 4)) {
		log_line("ServerCutText of %u bytes: not taken\n", len);
		return false;
	}
	uint8_t *buf = xcalloc(1, (size_t)len + 1);
	bool ok = len == 0 || ReadFromRFBServer(v->cl, (char *)buf, len);
	if (ok && ext)
		ok = handle_ext(v, get_be32(buf), buf + 4, len - 4);
	else if (ok)
		keep_cut_text(v, (const char *)buf, (int)len, false);
	free(buf);
	return ok;
}

/*
 * One server message. With the extended clipboard the type byte is read
 * here; any other type is put back into libvncclient's buffer (a byte just
 * read always sits right before bufoutptr) for HandleRFBServerMessage.
 */
static bool handle_message(struct viewer *v)
{
	uint8_t type;

	if (!v->utf8_clipboard)
		return HandleRFBServerMessage(v->cl);
	if (!ReadFromRFBServer(v->cl, (char *)&type, 1))
		return false;
	if (type == rfbServerCutText)
		return handle_cut_text(v);
	v->cl->bufoutptr--;
	v->cl->buffered++;
	return HandleRFBServerMessage(v->cl);
}

struct viewer *viewer_connect(const struct viewer_options *opt)
{
	struct viewer *v = xcalloc(1, sizeof(*v));

	v->ca_file = xstrdup(opt->ca_file);
	v->user = xstrdup(opt->user);
	v->password = xstrdup(opt->password);
	if (!client_log)
		viewer_log_to(NULL);
	rfbClient *cl = rfbGetClient(8, 3, 4);
	if (!cl)
		goto fail;
	set_format(cl);
	cl->serverHost = strdup("127.0.0.1");
	cl->serverPort = opt->port;
	cl->GetCredential = get_credential;
	cl->MallocFrameBuffer = alloc_framebuffer;
	cl->FinishedFrameBufferUpdate = update_done;
	cl->GotFrameBufferUpdate = got_rect;
	v->copy_rect = cl->GotCopyRect;
	cl->GotCopyRect = got_copy_rect;
	cl->readTimeout = READ_TIMEOUT_S;
	cl->appData.encodingsString = opt->encodings;
	/* Lossless unless asked: the tests compare exact colours. */
	cl->appData.enableJPEG = opt->jpeg_quality > 0;
	if (opt->jpeg_quality > 0)
		cl->appData.qualityLevel = MIN(opt->jpeg_quality, 9);
	cl->appData.useRemoteCursor = opt->cursor_shape;
	cl->GotXCutText = got_cut_text;
	rfbClientSetClientData(cl, &viewer_tag, v);
	log_line("connecting to 127.0.0.1:%d as %s\n", opt->port, opt->user);
	v->utf8_clipboard = opt->utf8_clipboard;
	/* libvncclient lists the encodings of registered extensions: ours, for this connection
	 * only. */
	rfbClientProtocolExtension *saved = rfbClientExtensions;
	if (opt->utf8_clipboard)
		rfbClientRegisterExtension(&ext_clipboard);
	rfbBool ok = rfbInitClient(cl, NULL, NULL);
	rfbClientExtensions = saved;
	if (!ok)
		goto fail; /* it has freed cl */
	v->cl = cl;
	return v;
fail:
	viewer_destroy(v);
	return NULL;
}

void viewer_destroy(struct viewer *v)
{
	if (!v)
		return;
	if (v->cl) {
		free(v->cl->frameBuffer);
		v->cl->frameBuffer = NULL;
		rfbClientCleanup(v->cl);
	}
	free(v->cut_text);
	free(v->clip);
	free(v->ca_file);
	free(v->user);
	free(v->password);
	free(v);
}

int viewer_pump(struct viewer *v, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)MAX(timeout_ms, 0);

	do {
		if (v->closed)
			return -1;
		uint64_t now = now_ms();
		unsigned wait_us = (unsigned)MIN(end > now ? end - now : 0, 50) * 1000;
		/* A whole message may already sit in libvncclient's buffer. */
		int n = v->cl->buffered > 0 ? 1 : WaitForMessage(v->cl, wait_us);
		if (n < 0 || (n > 0 && !handle_message(v))) {
			log_line("connection ended\n");
			v->closed = true;
			return -1;
		}
	} while (now_ms() < end);
	return 0;
}

uint64_t viewer_auth_ms(const struct viewer *v)
{
	return v->auth_ms;
}

uint64_t viewer_first_update_ms(const struct viewer *v)
{
	return v->first_update_ms;
}

bool viewer_closed(const struct viewer *v)
{
	return v->closed;
}

int viewer_width(const struct viewer *v)
{
	return v->cl->width;
}

int viewer_height(const struct viewer *v)
{
	return v->cl->height;
}

static unsigned channel(uint32_t px, unsigned shift, unsigned max)
{
	return max ? ((px >> shift) & max) * 255 / max : 0;
}

uint32_t viewer_pixel(const struct viewer *v, int x, int y)
{
	const rfbClient *cl = v->cl;
	const rfbPixelFormat *f = &cl->format;

	if (!cl->frameBuffer || x < 0 || y < 0 || x >= cl->width || y >= cl->height)
		return 0xff000000u;
	const uint8_t *p = cl->frameBuffer + ((size_t)y * (size_t)cl->width + (size_t)x) * 4;
	uint32_t px = f->bigEndian
	                  ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
	                  : get_le32(p);
	return channel(px, f->redShift, f->redMax) << 16 |
	       channel(px, f->greenShift, f->greenMax) << 8 | channel(px, f->blueShift, f->blueMax);
}

static bool near(uint32_t a, uint32_t b, int tol)
{
	if (a & 0xff000000u)
		return false;
	for (int shift = 0; shift <= 16; shift += 8) {
		int d = (int)((a >> shift) & 0xff) - (int)((b >> shift) & 0xff);
		if (abs(d) > tol)
			return false;
	}
	return true;
}

bool viewer_wait_pixel(struct viewer *v, int x, int y, uint32_t rgb, int tol, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;

	do {
		if (near(viewer_pixel(v, x, y), rgb, tol))
			return true;
		if (viewer_pump(v, 50) < 0)
			break;
	} while (now_ms() < end);
	return near(viewer_pixel(v, x, y), rgb, tol);
}

/* Whether x, y is the top-left corner of a w x h block of rgb (checked at its corners). */
static bool block_at(const struct viewer *v, int x, int y, uint32_t rgb, int w, int h)
{
	return viewer_pixel(v, x, y) == rgb && viewer_pixel(v, x - 1, y) != rgb &&
	       viewer_pixel(v, x, y - 1) != rgb && viewer_pixel(v, x + w - 1, y) == rgb &&
	       viewer_pixel(v, x, y + h - 1) == rgb &&
	       viewer_pixel(v, x + w - 1, y + h - 1) == rgb && viewer_pixel(v, x + w, y) != rgb &&
	       viewer_pixel(v, x, y + h) != rgb;
}

static bool find_block(const struct viewer *v, uint32_t rgb, int w, int h, int *x, int *y)
{
	if (v->updates == 0)
		return false;
	for (int j = 0; j < v->cl->height; j++)
		for (int i = 0; i < v->cl->width; i++)
			if (block_at(v, i, j, rgb, w, h)) {
				*x = i;
				*y = j;
				return true;
			}
	return false;
}

bool viewer_wait_block(struct viewer *v, uint32_t rgb, int w, int h, int timeout_ms, int *x, int *y)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;

	do {
		if (find_block(v, rgb, w, h, x, y))
			return true;
		if (viewer_pump(v, 200) < 0)
			break;
	} while (now_ms() < end);
	return find_block(v, rgb, w, h, x, y);
}

bool viewer_wait_size(struct viewer *v, int w, int h, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;

	while (v->cl->width != w || v->cl->height != h || v->updates == 0) {
		if (now_ms() >= end || viewer_pump(v, 50) < 0)
			return false;
	}
	return true;
}

int viewer_click(struct viewer *v, int x, int y)
{
	static const int masks[] = {0, rfbButton1Mask, 0};

	for (size_t i = 0; i < ARRAY_SIZE(masks); i++) {
		if (!SendPointerEvent(v->cl, x, y, masks[i]))
			return -1;
		viewer_pump(v, 50);
	}
	return 0;
}

static int click_viewer(void *v, int x, int y)
{
	return viewer_click(v, x, y);
}

static bool wait_viewer(void *v, int x, int y, uint32_t rgb, int timeout_ms)
{
	return viewer_wait_pixel(v, x, y, rgb, 8, timeout_ms);
}

bool viewer_click_until(struct viewer *v, int x, int y, int px, int py, uint32_t rgb,
                        int timeout_ms)
{
	return click_until(v, click_viewer, wait_viewer, x, y, px, py, rgb, timeout_ms);
}

int viewer_wheel(struct viewer *v, int x, int y, int notches)
{
	int mask = notches > 0 ? rfbWheelDownMask : rfbWheelUpMask;

	for (int i = 0; i < abs(notches); i++) {
		if (!SendPointerEvent(v->cl, x, y, mask) || !SendPointerEvent(v->cl, x, y, 0))
			return -1;
		viewer_pump(v, 20);
	}
	return 0;
}

struct viewer_stats viewer_stats(const struct viewer *v)
{
	return v->stats;
}

uint32_t *viewer_snapshot(const struct viewer *v)
{
	size_t n;

	if (!ckd_mul_size(&n, (size_t)MAX(v->cl->width, 0), (size_t)MAX(v->cl->height, 0)))
		return NULL;
	uint32_t *px = malloc(MAX(n, 1) * sizeof(*px));
	if (!px)
		return NULL;
	for (int y = 0; y < v->cl->height; y++)
		for (int x = 0; x < v->cl->width; x++)
			px[(size_t)y * (size_t)v->cl->width + (size_t)x] = viewer_pixel(v, x, y);
	return px;
}

int viewer_key(struct viewer *v, uint32_t keysym, bool down)
{
	return SendKeyEvent(v->cl, keysym, down) ? 0 : -1;
}

int viewer_type(struct viewer *v, const char *text)
{
	for (const char *c = text; *c; c++) {
		uint32_t sym = (unsigned char)*c;
		if (*c == '\n')
			sym = XK_Return;
		if (!SendKeyEvent(v->cl, sym, TRUE) || !SendKeyEvent(v->cl, sym, FALSE))
			return -1;
		viewer_pump(v, 30);
	}
	return 0;
}

static void put_be16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/*
 * SetDesktopSize with one screen at 0,0 of the new size, as TigerVNC's
 * viewer sends it. libvncclient's SendExtDesktopSize (0.9.14 and later)
 * leaves the screen's position, id and flags uninitialised, and shojid
 * refuses a screen outside the desktop.
 */
int viewer_resize(struct viewer *v, int w, int h)
{
	uint8_t m[8 + 16] = {rfbSetDesktopSize};

	if (w <= 0 || h <= 0 || w > UINT16_MAX || h > UINT16_MAX)
		return -1;
	put_be16(m + 2, (unsigned)w);
	put_be16(m + 4, (unsigned)h);
	m[6] = 1;                            /* one screen */
	memcpy(m + 8, &v->cl->screen.id, 4); /* the server's id, as it sent it */
	put_be16(m + 16, (unsigned)w);       /* x and y stay 0 */
	put_be16(m + 18, (unsigned)h);
	return viewer_write_raw(v, m, sizeof(m));
}

int viewer_send_cut_text(struct viewer *v, const void *text, size_t len)
{
	if (len > INT32_MAX)
		return -1;
	return SendClientCutText(v->cl, (char *)text, (int)len) ? 0 : -1;
}

int viewer_send_clipboard_utf8(struct viewer *v, const char *text, size_t len)
{
	if (!v->utf8_clipboard || !v->server_caps || len >= EXT_CLIP_MAX)
		return -1;
	free(v->clip);
	v->clip = xcalloc(1, len + 1);
	memcpy(v->clip, text, len);
	v->clip_len = len;
	/* As TigerVNC: announce it when the server takes notifies, else provide it at once. */
	if (v->server_caps & EXT_NOTIFY)
		return write_ext(v, EXT_NOTIFY | EXT_TEXT, NULL, 0);
	return v->server_caps & EXT_PROVIDE ? provide(v) : -1;
}

int viewer_send_ext_provide(struct viewer *v, const char *text, size_t len)
{
	uint8_t *z;
	size_t n = deflate_text(text, len, &z);
	int rc = n ? write_ext(v, EXT_PROVIDE | EXT_TEXT, z, n) : -1;
	free(z);
	return rc;
}

uint32_t viewer_ext_clipboard_caps(const struct viewer *v)
{
	return v->server_caps;
}

bool viewer_cut_text_utf8(const struct viewer *v)
{
	return v->cut_utf8;
}

const char *viewer_cut_text(const struct viewer *v, size_t *len, unsigned *count)
{
	*len = v->cut_len;
	*count = v->cut_count;
	return v->cut_text;
}

int viewer_write_raw(struct viewer *v, const void *buf, size_t len)
{
	if (len > INT32_MAX)
		return -1;
	return WriteToRFBServer(v->cl, buf, (unsigned)len) ? 0 : -1;
}

void viewer_dump_ppm(const struct viewer *v, const char *path)
{
	FILE *f = fopen(path, "wb");

	if (!f)
		return;
	fprintf(f, "P6\n%d %d\n255\n", v->cl->width, v->cl->height);
	for (int y = 0; y < v->cl->height; y++)
		for (int x = 0; x < v->cl->width; x++) {
			uint32_t c = viewer_pixel(v, x, y);
			uint8_t rgb[3] = {(uint8_t)(c >> 16), (uint8_t)(c >> 8), (uint8_t)c};
			fwrite(rgb, 1, 3, f);
		}
	fclose(f);
}
