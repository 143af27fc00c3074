/*
 * The VNC front-end's connection handling: the RFB/VeNCrypt handshake with
 * the viewer (rfb_handshake.h, TLS by OpenSSL), login through the control
 * process, then a relay between the viewer and libvncserver
 * (vnc_session.h) in which every viewer message passes the whitelist
 * (rfb_filter.h). Handles untrusted input: everything the viewer sends.
 */
#include "autoconfig.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "cliptext.h"
#include "log.h"
#include "pixlink.h"
#include "rfb_filter.h"
#include "rfb_handshake.h"
#include "tls.h"
#include "token_bucket.h"
#include "util.h"
#include "vnc_session.h"
#include "worker.h"

#define HANDSHAKE_TIMEOUT_S 30
#define AUTH_TIMEOUT_MS 30000
#define S2C_CAP (1u << 20)                /* libvncserver -> viewer, bytes in flight */
#define C2S_CAP (RFB_MAX_CLIENT_MSG + 64) /* viewer -> libvncserver, one whole message */
/* Filtered messages for libvncserver: room for the longest cut text relayed. */
#define OUT_CAP (PIXLINK_MAX_CLIPBOARD + 4096)
#define CUT_TEXT_HEAD_LEN 8
/* A viewer that takes no byte of what waits for it this long is dropped. */
#define VIEWER_STALL_MS 30000
/* Under [display] max_kbps, the most written at once (a 1.5 Mbit/s budget's 20 ms). */
#define BUDGET_CHUNK 4096
#define LOGIN_NOTICE (-2) /* login() and handshake(): show w->refusal on screen, then close */

struct conn {
	int fd;
	SSL *ssl;
	bool want_write;  /* the last TLS call needs the socket writable */
	uint64_t in, out; /* application bytes read and written (TLS payload) */
};

struct buf {
	uint8_t *data;
	size_t len, cap;
};

/* Reads from the viewer: >0 bytes, 0 at end, -1 with errno (EAGAIN). */
static ssize_t conn_read(struct conn *c, void *p, size_t n)
{
	if (!c->ssl) {
		ssize_t r = read(c->fd, p, n);
		c->in += r > 0 ? (uint64_t)r : 0;
		return r;
	}
	int r = SSL_read(c->ssl, p, (int)MIN(n, (size_t)INT32_MAX));
	if (r > 0) {
		c->in += (uint64_t)r;
		return r;
	}
	int e = SSL_get_error(c->ssl, r);
	c->want_write = e == SSL_ERROR_WANT_WRITE;
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		errno = EAGAIN;
		return -1;
	}
	if (e == SSL_ERROR_ZERO_RETURN)
		return 0;
	errno = e == SSL_ERROR_SYSCALL && errno ? errno : EPROTO;
	return -1;
}

static ssize_t conn_write(struct conn *c, const void *p, size_t n)
{
	if (!c->ssl) {
		ssize_t r = send(c->fd, p, n, MSG_NOSIGNAL);
		c->out += r > 0 ? (uint64_t)r : 0;
		return r;
	}
	int r = SSL_write(c->ssl, p, (int)MIN(n, (size_t)INT32_MAX));
	if (r > 0) {
		c->out += (uint64_t)r;
		return r;
	}
	int e = SSL_get_error(c->ssl, r);
	c->want_write = e == SSL_ERROR_WANT_WRITE;
	errno = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? EAGAIN : EPIPE;
	return -1;
}

static int conn_write_all(struct conn *c, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = conn_write(c, p, n);
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int start_tls(struct worker *w, struct conn *c)
{
	char desc[128];

	if (!w->tls) {
		log_warn("%s: TLS requested but no certificate is loaded", w->peer);
		return -1;
	}
	c->ssl = SSL_new(w->tls);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1 || SSL_accept(c->ssl) != 1) {
		char err[256];
		ERR_error_string_n(ERR_get_error(), err, sizeof(err));
		worker_note(w, CTL_NOTE_HANDSHAKE_FAILED, "TLS handshake failed: %s", err);
		return -1;
	}
	tls_describe(c->ssl, desc, sizeof(desc));
	worker_note(w, CTL_NOTE_TLS, "%s", desc);
	return 0;
}

/*
 * Checks the credentials; the session's pixel link, -1, or LOGIN_NOTICE
 * when the pool refused a right password (host full): the handshake then
 * succeeds so that the viewer shows the notice (a viewer shows a failure
 * reason, if at all, in a dialog that is easy to miss).
 */
static int login(struct worker *w, struct rfb_handshake *hs)
{
	char reason[CTL_MAX_TEXT + 1];
	int link = worker_authenticate(w, CTL_PROTO_VNC, hs->user, hs->password, reason,
	                               sizeof(reason), AUTH_TIMEOUT_MS);
	rfb_hs_wipe_password(hs);
	if (link < 0 && w->notice) {
		rfb_hs_result(hs, true, NULL);
		return LOGIN_NOTICE;
	}
	rfb_hs_result(hs, link >= 0, reason);
	return link;
}

/* Feeds buffered viewer bytes to the handshake; -1 when refused. */
static int feed(struct rfb_handshake *hs, uint8_t *in, size_t *inlen)
{
	while (*inlen > 0) {
		ssize_t used = rfb_hs_input(hs, in, *inlen);
		if (used < 0)
			return -1;
		if (used == 0)
			break;
		memmove(in, in + used, *inlen - (size_t)used);
		OPENSSL_cleanse(in + *inlen - used, (size_t)used);
		*inlen -= (size_t)used;
	}
	return 0;
}

/*
 * The viewer's handshake up to a successful login. Returns the session's
 * pixel link (or LOGIN_NOTICE); bytes the viewer sent after the handshake (ClientInit) are
 * left in rest.
 */
static int handshake(struct worker *w, struct conn *c, struct buf *rest)
{
	struct rfb_hs_options opt = {.tls_available = w->tls != NULL,
	                             .allow_plaintext = w->cfg->vnc_allow_plaintext};
	struct rfb_handshake hs;
	uint8_t in[RFB_HS_MAX_INPUT + 64], out[RFB_HS_MAX_OUTPUT];
	size_t inlen = 0, n;
	int link = -1;

	rfb_hs_init(&hs, &opt);
	for (;;) {
		while ((n = rfb_hs_output(&hs, out, sizeof(out))) > 0)
			if (conn_write_all(c, out, n) < 0)
				goto fail;
		enum rfb_hs_state st = rfb_hs_state(&hs);
		if (st == RFB_HS_START_TLS) {
			if (inlen > 0 || start_tls(w, c) < 0 || rfb_hs_tls_done(&hs) < 0)
				goto fail;
			continue;
		}
		if (st == RFB_HS_CREDENTIALS) {
			link = login(w, &hs);
			continue;
		}
		if (st == RFB_HS_DONE && (link >= 0 || link == LOGIN_NOTICE))
			break;
		if (st == RFB_HS_DONE || st == RFB_HS_FAILED)
			goto fail;
		size_t before = inlen;
		if (feed(&hs, in, &inlen) < 0)
			continue; /* send the failure message, then RFB_HS_FAILED */
		if (rfb_hs_state(&hs) != RFB_HS_READ || inlen != before)
			continue;
		ssize_t r = conn_read(c, in + inlen, sizeof(in) - inlen);
		if (r <= 0)
			goto fail;
		inlen += (size_t)r;
	}
	memcpy(rest->data, in, inlen);
	rest->len = inlen;
	rfb_hs_finish(&hs);
	return link;
fail:
	if (hs.error[0])
		worker_note(w, CTL_NOTE_HANDSHAKE_FAILED, "%s", hs.error);
	rfb_hs_finish(&hs);
	OPENSSL_cleanse(in, sizeof(in));
	if (link >= 0)
		close(link);
	return -1;
}

/* Plays an RFB client to libvncserver up to its SecurityResult. */
static int inner_handshake(int fd, struct buf *s2c)
{
	struct rfb_inner in;
	uint8_t buf[RFB_INNER_MAX_INPUT], out[64];
	size_t len = 0, n;
	uint64_t end = now_ms() + 10000;

	rfb_inner_init(&in);
	while (rfb_inner_state(&in) != RFB_HS_DONE) {
		while ((n = rfb_inner_output(&in, out, sizeof(out))) > 0)
			if (write_all(fd, out, n) < 0)
				return -1;
		if (rfb_inner_state(&in) == RFB_HS_FAILED)
			goto refused;
		ssize_t used = len ? rfb_inner_input(&in, buf, len) : 0;
		if (used < 0)
			goto refused;
		if (used > 0) {
			memmove(buf, buf + used, len - (size_t)used);
			len -= (size_t)used;
			continue;
		}
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int left = (int)(end > now_ms() ? end - now_ms() : 0);
		if (left == 0 || poll(&p, 1, left) <= 0)
			return -1;
		ssize_t r = read(fd, buf + len, sizeof(buf) - len);
		if (r <= 0)
			return -1;
		len += (size_t)r;
	}
	memcpy(s2c->data, buf, len);
	s2c->len = len;
	return 0;
refused:
	log_error("libvncserver refused the connection: %s", in.error);
	return -1;
}

struct relay {
	struct worker *w;
	struct conn *c;
	int inner;
	struct buf c2s, out, s2c; /* viewer bytes, filtered bytes for libvncserver, its replies */
	bool client_init_sent;
	bool done;
	uint64_t viewer_read_ms; /* when the viewer last took bytes, or had none waiting */
	size_t init_left;        /* bytes of libvncserver's ServerInit not yet sent */
	/*
	 * [display] max_kbps over the bytes to the viewer. Holding them back
	 * holds back the viewer's next update request, and so libvncserver's
	 * next update and render's next capture: frames coalesce upstream,
	 * only the one update already written waits here.
	 */
	struct token_bucket budget;
};

static void take(struct buf *b, size_t n)
{
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

static bool put(struct buf *b, const uint8_t *p, size_t n)
{
	if (n > b->cap - b->len)
		return false;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return true;
}

/* The extended (UTF-8) clipboard passes when either direction of [policy] is text. */
static bool ext_clipboard_on(const struct shoji_config *cfg)
{
	return cfg->policy_clipboard_to_browser == SHOJI_CLIPBOARD_TEXT ||
	       cfg->policy_clipboard_to_terminal == SHOJI_CLIPBOARD_TEXT;
}

/*
 * SetEncodings without the extended clipboard, when the policy keeps it
 * closed: libvncserver would otherwise offer it, and the viewer would send
 * clipboard messages the whitelist refuses. Classic (ISO 8859-1) cut text
 * still passes where [policy] allows it.
 */
static bool put_encodings_without_clipboard(struct buf *b, struct rfb_client_msg *m)
{
	uint8_t msg[4 + 4 * RFB_MAX_ENCODINGS];

	rfb_encodings_remove(m, RFB_ENCODING_EXTENDED_CLIPBOARD);
	size_t n = rfb_encodings_write(m, msg, sizeof(msg));
	return n > 0 && put(b, msg, n);
}

/* SetDesktopSize as one screen at 0,0 of the size asked for. */
static bool put_desktop_size(struct buf *b, const struct rfb_client_msg *m)
{
	uint8_t msg[8 + 16] = {RFB_MSG_SET_DESKTOP_SIZE};
	uint16_t w = m->u.desktop.width, h = m->u.desktop.height;
	uint32_t id = m->u.desktop.screens[0].id;

	msg[2] = (uint8_t)(w >> 8), msg[3] = (uint8_t)w;
	msg[4] = (uint8_t)(h >> 8), msg[5] = (uint8_t)h;
	msg[6] = 1;
	msg[8] = (uint8_t)(id >> 24), msg[9] = (uint8_t)(id >> 16);
	msg[10] = (uint8_t)(id >> 8), msg[11] = (uint8_t)id;
	msg[16] = msg[2], msg[17] = msg[3], msg[18] = msg[4], msg[19] = msg[5];
	return put(b, msg, sizeof(msg));
}

/*
 * ClientCutText under [policy] clipboard_to_browser: dropped when it is
 * off; otherwise relayed cut to clipboard_max_bytes (ISO 8859-1 never gets
 * shorter as UTF-8, so nothing past that could pass the filter anyway) for
 * vnc_session's setXCutText hook, which filters it again and sends it to
 * the browser. Audited here either way, with what the viewer offered and
 * what the filter lets through. False if libvncserver is behind.
 */
static bool put_cut_text(struct relay *r, const struct rfb_client_msg *m)
{
	const struct shoji_config *cfg = r->w->cfg;
	uint32_t n = m->u.cut_text.len;
	const uint8_t *text = r->c2s.data + m->u.cut_text.offset;

	if (!r->w->session[0])
		return true; /* a notice after a refused login: no browser behind it */
	if (cfg->policy_clipboard_to_browser != SHOJI_CLIPBOARD_TEXT) {
		worker_note(r->w, CTL_NOTE_CLIPBOARD, "to_browser %u 0 refused", n);
		return true;
	}
	uint32_t keep = (uint32_t)MIN((uint64_t)n, (uint64_t)cfg->policy_clipboard_max_bytes);
	if ((size_t)keep + CUT_TEXT_HEAD_LEN > r->out.cap - r->out.len)
		return false;
	uint8_t head[CUT_TEXT_HEAD_LEN] = {RFB_MSG_CUT_TEXT,    0, 0, 0, (uint8_t)(keep >> 24),
	                                   (uint8_t)(keep >> 16), (uint8_t)(keep >> 8),
	                                   (uint8_t)keep};
	put(&r->out, head, sizeof(head));
	put(&r->out, text, keep);
	/* What the hook will pass, for the audit: the same filter over the same bytes. */
	uint8_t *scratch = xcalloc(1, (size_t)cfg->policy_clipboard_max_bytes);
	size_t passed = cliptext_filter(text, keep, CLIPTEXT_LATIN1, scratch,
	                                (size_t)cfg->policy_clipboard_max_bytes);
	free(scratch);
	worker_note(r->w, CTL_NOTE_CLIPBOARD, "to_browser %u %zu allowed", n, passed);
	return true;
}

/*
 * The connection_bytes channel of a viewer message: the framebuffer's
 * update requests, input, cut text, and the rest (pixel format,
 * encodings, fences, continuous updates, desktop size).
 */
static const char *channel_of(uint8_t type)
{
	switch (type) {
	case RFB_MSG_UPDATE_REQUEST:
		return "framebuffer";
	case RFB_MSG_KEY:
	case RFB_MSG_POINTER:
		return "input";
	case RFB_MSG_CUT_TEXT:
		return "cut_text";
	default:
		return "other";
	}
}

/* Takes a viewer message off c2s, counted by its channel. */
static void consume(struct relay *r, const struct rfb_client_msg *m, size_t n)
{
	take(&r->c2s, n);
	worker_bytes(r->w, channel_of(m->type), (int64_t)n, 0);
}

/* Ends the connection over a refused message, audited. */
static void refuse_msg(struct relay *r, const char *reason)
{
	log_warn("%s: %s", r->w->peer, reason);
	worker_note(r->w, CTL_NOTE_MESSAGE_REFUSED, "%s", reason);
	r->done = true;
}

/*
 * An extended clipboard provide: its text taken out of the zlib stream
 * (bounded: the inflated text stops at twice clipboard_max_bytes, room for
 * CRLF line ends, whatever the stream would give), filtered, and relayed
 * to libvncserver as a provide shojid compressed itself, for vnc_session's
 * setXCutTextUTF8 hook. Audited like classic cut text, with the size the
 * viewer gave as offered. 1 done, 0 libvncserver is behind, -1 refused.
 */
static int put_ext_provide(struct relay *r, const struct rfb_client_msg *m)
{
	const struct shoji_config *cfg = r->w->cfg;
	bool on = cfg->policy_clipboard_to_browser == SHOJI_CLIPBOARD_TEXT;
	size_t max = (size_t)cfg->policy_clipboard_max_bytes, raw_max = on ? 2 * max + 8 : 0;
	char why[RFB_FILTER_REASON_LEN];
	uint32_t declared;
	int rc = 1;

	uint8_t *raw = xcalloc(1, raw_max + 1);
	ssize_t got = rfb_ext_clip_text(r->c2s.data + m->u.cut_text.offset, m->u.cut_text.len, raw,
	                                raw_max, &declared, why);
	if (got < 0) {
		free(raw);
		refuse_msg(r, why);
		return -1;
	}
	if (!on) {
		free(raw);
		worker_note(r->w, CTL_NOTE_CLIPBOARD, "to_browser %u 0 refused", declared);
		return 1;
	}
	uint8_t *text = xcalloc(1, max);
	size_t passed = cliptext_filter(raw, (size_t)got, CLIPTEXT_UTF8, text, max);
	size_t cap = passed + passed / 8 + 64;
	uint8_t *msg = xcalloc(1, cap);
	size_t n = rfb_ext_clip_provide(text, passed, msg, cap);
	if (n == 0) {
		log_error("%s: cannot compress clipboard text for libvncserver; dropped",
		          r->w->peer);
		worker_note(r->w, CTL_NOTE_CLIPBOARD, "to_browser %u 0 refused", declared);
	} else if (!put(&r->out, msg, n)) {
		rc = 0;
	} else {
		worker_note(r->w, CTL_NOTE_CLIPBOARD, "to_browser %u %zu allowed", declared,
		            passed);
	}
	free(msg);
	free(text);
	free(raw);
	return rc;
}

/*
 * An extended clipboard message (the whitelist checked its form): only
 * the text format reaches libvncserver. Caps go on rewritten to text;
 * notify (the viewer has new text) only when clipboard_to_browser is
 * text, request and peek (the viewer asks for the browser's) only when
 * clipboard_to_terminal is. 1 done, 0 libvncserver is behind, -1 refused.
 */
static int put_ext_cut_text(struct relay *r, const struct rfb_client_msg *m)
{
	const struct shoji_config *cfg = r->w->cfg;
	uint32_t flags = m->u.cut_text.flags, action = flags & RFB_EXT_CLIP_ACTIONS;
	uint32_t text_only = (flags & ~RFB_EXT_CLIP_FORMATS) | (flags & RFB_EXT_CLIP_TEXT);
	uint8_t msg[16];

	if (!r->w->session[0])
		return 1; /* a notice after a refused login: no browser behind it */
	if (flags & RFB_EXT_CLIP_CAPS)
		return put(&r->out, msg,
		           rfb_ext_clip_write(text_only, m->u.cut_text.text_size, msg));
	if (action == RFB_EXT_CLIP_PROVIDE)
		return put_ext_provide(r, m);
	bool on = action == RFB_EXT_CLIP_NOTIFY
	              ? cfg->policy_clipboard_to_browser == SHOJI_CLIPBOARD_TEXT
	              : cfg->policy_clipboard_to_terminal == SHOJI_CLIPBOARD_TEXT;
	if (!on)
		return 1;
	return put(&r->out, msg, rfb_ext_clip_write(text_only, 0, msg));
}

/* Moves whole, allowed viewer messages from c2s to out. */
static void filter(struct relay *r)
{
	struct rfb_filter_options opt = {.extended_clipboard = ext_clipboard_on(r->w->cfg)};

	if (!r->client_init_sent && r->c2s.len > 0 && put(&r->out, r->c2s.data, 1)) {
		take(&r->c2s, 1); /* ClientInit: one byte, the shared flag */
		worker_bytes(r->w, "connect", 1, 0);
		r->client_init_sent = true;
	}
	while (r->client_init_sent && r->c2s.len > 0 && !r->done) {
		struct rfb_client_msg m;
		ssize_t n = rfb_client_msg_opt(r->c2s.data, r->c2s.len, &opt, &m);
		if (n == 0)
			return;
		if (n < 0) {
			refuse_msg(r, m.reason);
			return;
		}
		if (m.type == RFB_MSG_SET_ENCODINGS && !opt.extended_clipboard &&
		    rfb_encodings_has(&m, RFB_ENCODING_EXTENDED_CLIPBOARD)) {
			if (!put_encodings_without_clipboard(&r->out, &m))
				return;
			consume(r, &m, (size_t)n);
			continue;
		}
		if (m.type == RFB_MSG_SET_DESKTOP_SIZE) {
			if (!put_desktop_size(&r->out, &m))
				return;
			consume(r, &m, (size_t)n);
			continue;
		}
		if (m.type == RFB_MSG_CUT_TEXT && m.u.cut_text.extended) {
			if (put_ext_cut_text(r, &m) <= 0)
				return;
			consume(r, &m, (size_t)n);
			continue;
		}
		if (m.type == RFB_MSG_CUT_TEXT) {
			if (!put_cut_text(r, &m))
				return;
			consume(r, &m, (size_t)n);
			continue;
		}
		if (!put(&r->out, r->c2s.data, (size_t)n))
			return; /* libvncserver is behind; keep it for later */
		consume(r, &m, (size_t)n);
	}
}

/* Bytes to write at once: all there is, or under a budget a slice of it, so it flows evenly. */
static size_t budget_chunk(const struct relay *r)
{
	return r->budget.kbps ? MIN(r->s2c.len, BUDGET_CHUNK) : r->s2c.len;
}

static void pump_viewer(struct relay *r, short revents)
{
	ssize_t n = 1;

	if ((revents & (POLLIN | POLLHUP | POLLERR)) || (r->c->ssl && SSL_pending(r->c->ssl))) {
		while (r->c2s.len < r->c2s.cap &&
		       (n = conn_read(r->c, r->c2s.data + r->c2s.len, r->c2s.cap - r->c2s.len)) > 0)
			r->c2s.len += (size_t)n;
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			r->done = true;
		filter(r);
	}
	n = 1;
	while (r->s2c.len > 0 && token_bucket_ready(&r->budget, now_ms()) &&
	       (n = conn_write(r->c, r->s2c.data, budget_chunk(r))) > 0) {
		take(&r->s2c, (size_t)n);
		/* libvncserver's ServerInit, then its updates (cut text moves out: vnc_session.c). */
		size_t init = MIN(r->init_left, (size_t)n);
		r->init_left -= init;
		worker_bytes(r->w, "connect", 0, (int64_t)init);
		worker_bytes(r->w, "framebuffer", 0, (int64_t)((size_t)n - init));
		r->viewer_read_ms = now_ms();
		worker_stats_bytes(r->w, (uint64_t)n);
		token_bucket_charge(&r->budget, (uint64_t)n, now_ms());
	}
	if (r->s2c.len > 0 && n < 0 && errno != EAGAIN)
		r->done = true;
}

static void pump_inner(struct relay *r, short revents)
{
	ssize_t n = 1;

	if (revents & (POLLIN | POLLHUP | POLLERR)) {
		while (r->s2c.len < r->s2c.cap &&
		       (n = read(r->inner, r->s2c.data + r->s2c.len, r->s2c.cap - r->s2c.len)) > 0)
			r->s2c.len += (size_t)n;
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			r->done = true; /* libvncserver ended: link gone or kicked */
	}
	while (r->out.len > 0 && (n = write(r->inner, r->out.data, r->out.len)) > 0)
		take(&r->out, (size_t)n);
	filter(r);
}

/*
 * A viewer that stops reading: its bytes wait in s2c (bounded), then
 * libvncserver's writes block until its maxClientWait; after
 * VIEWER_STALL_MS without progress the connection is dropped.
 */
static bool viewer_stalled(struct relay *r)
{
	uint64_t now = now_ms();

	if (r->s2c.len == 0)
		r->viewer_read_ms = now;
	if (now - r->viewer_read_ms < VIEWER_STALL_MS)
		return false;
	log_warn("%s: the viewer has read nothing for %d s; dropping it", r->w->peer,
		 VIEWER_STALL_MS / 1000);
	return true;
}

static void relay(struct relay *r)
{
	set_nonblock(r->c->fd, true);
	set_nonblock(r->inner, true);
	filter(r);
	r->viewer_read_ms = now_ms();
	token_bucket_init(&r->budget, (unsigned)r->w->cfg->display_max_kbps, now_ms());
	while (!r->done && !viewer_stalled(r)) {
		struct pollfd p[2] = {
		    {.fd = r->c->fd},
		    {.fd = r->inner},
		};
		if (r->c2s.len < r->c2s.cap)
			p[0].events |= POLLIN;
		uint64_t wait = token_bucket_wait_ms(&r->budget, now_ms());
		if ((r->s2c.len > 0 && wait == 0) || r->c->want_write)
			p[0].events |= POLLOUT;
		if (r->s2c.len < r->s2c.cap)
			p[1].events |= POLLIN;
		if (r->out.len > 0)
			p[1].events |= POLLOUT;
		if (!p[1].events)
			p[1].fd = -1; /* full: a hang-up would wake poll at once, again and again */
		/* Wakes at least once a second: statistics, and a viewer that stopped reading. */
		int timeout = r->c->ssl && SSL_pending(r->c->ssl) ? 0 : CTL_STATS_INTERVAL_MS;
		if (r->s2c.len > 0 && wait > 0)
			timeout = (int)MIN((uint64_t)timeout, wait);
		if (poll(p, 2, timeout) < 0 && errno != EINTR)
			break;
		pump_inner(r, p[1].revents);
		pump_viewer(r, p[0].revents);
		worker_stats_flush(r->w, false);
	}
	worker_stats_flush(r->w, true);
}

static bool buf_init(struct buf *b, size_t cap)
{
	b->data = malloc(cap);
	b->len = 0;
	b->cap = cap;
	return b->data != NULL;
}

static int vnc_serve(struct worker *w)
{
	struct conn c = {.fd = w->client_fd};
	struct relay r = {.w = w, .c = &c, .inner = -1};
	struct vnc_session *s = NULL;
	struct timeval tv = {.tv_sec = HANDSHAKE_TIMEOUT_S};
	int rc = 1;

	if (!buf_init(&r.c2s, C2S_CAP) || !buf_init(&r.out, OUT_CAP) || !buf_init(&r.s2c, S2C_CAP))
		goto out;
	/* Every handshake step has a deadline: a silent viewer ends here. */
	setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	int link = handshake(w, &c, &r.c2s);
	/* What the viewer sent past the handshake (ClientInit...) is counted by filter(). */
	worker_bytes(w, "connect", (int64_t)(c.in - r.c2s.len), (int64_t)c.out);
	if (link == LOGIN_NOTICE)
		s = vnc_notice_start(w, w->refusal, &r.inner);
	else if (link >= 0)
		s = vnc_session_start(w, link, &r.inner);
	if (!s || inner_handshake(r.inner, &r.s2c) < 0)
		goto out;
	r.init_left = r.s2c.len;
	if (link == LOGIN_NOTICE)
		log_info("%s: showing the notice: %s", w->peer, w->refusal);
	else
		log_info("%s: session %s attached over VNC", w->peer, w->session);
	relay(&r);
	rc = 0;
out:
	worker_stats_flush(w, true); /* the bytes of a handshake that failed, too */
	/* Closing our end first unblocks libvncserver if it is writing. */
	if (r.inner >= 0)
		close(r.inner);
	vnc_session_stop(s);
	if (c.ssl) {
		SSL_shutdown(c.ssl);
		SSL_free(c.ssl);
	}
	free(r.c2s.data);
	free(r.out.data);
	free(r.s2c.data);
	return rc;
}

const struct frontend vnc_frontend = {
    .name = "vnc",
    .protocol = CTL_PROTO_VNC,
    .serve = vnc_serve,
};
