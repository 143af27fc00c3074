/*
 * The cliprdr channel under the clipboard policy (see rdp_clip.h).
 * Untrusted input: the client's clipboard messages, already parsed by
 * FreeRDP; their text only through cliptext_filter().
 */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "rdp_clip.h"

#include <freerdp/server/cliprdr.h>
#include <winpr/user.h>

#include "cliptext.h"
#include "config.h"
#include "log.h"
#include "rdp_session.h"
#include "worker.h"

#define MAX_POLL_PDUS 16 /* client PDUs handled per rdp_clip_poll */
#define MAX_REQUESTS 4   /* our Format Data Requests unanswered at once */
/*
 * The text is asked for this long after the client's last Format List
 * with text: xfreerdp sends two per copy (all its formats at once, then
 * those the X selection's owner has), and asked at once it reads the
 * selection for us and for itself into one property, and one of the two
 * fails (seen with xfreerdp 2.11 and xclip).
 */
#define REQUEST_SETTLE_MS 300

struct rdp_clip {
	CliprdrServerContext *ctx;
	struct worker *w;
	struct rdp_session *session;
	bool opened;
	bool ready;         /* the client's first Format List came: the server may announce */
	unsigned requested; /* our Format Data Requests (CF_UNICODETEXT) unanswered */
	uint64_t ask_at;    /* when to ask for the client's text; 0 = no need */
	bool announced; /* the client was told of the browser's text (and not since of its own) */
	uint8_t *text;  /* the browser's text, filtered and cut; NULL = none */
	size_t len;
	uint32_t offered; /* bytes of it render sent, for the audit */
};

static struct rdp_clip *clip_of(CliprdrServerContext *ctx)
{
	return ctx->custom;
}

static const struct shoji_config *cfg_of(const struct rdp_clip *c)
{
	return c->w->cfg;
}

static bool to_browser(const struct rdp_clip *c)
{
	return cfg_of(c)->policy_clipboard_to_browser == SHOJI_CLIPBOARD_TEXT;
}

static bool to_terminal(const struct rdp_clip *c)
{
	return cfg_of(c)->policy_clipboard_to_terminal == SHOJI_CLIPBOARD_TEXT;
}

/* Capabilities (no file lists, no locking) and Monitor Ready: the client then sends its own. */
static UINT start(struct rdp_clip *c)
{
	CLIPRDR_GENERAL_CAPABILITY_SET general = {
	    .capabilitySetType = CB_CAPSTYPE_GENERAL,
	    .capabilitySetLength = CB_CAPSTYPE_GENERAL_LEN,
	    .version = CB_CAPS_VERSION_2,
	    .generalFlags = CB_USE_LONG_FORMAT_NAMES,
	};
	CLIPRDR_CAPABILITIES caps = {.msgType = CB_CLIP_CAPS,
	                             .dataLen = 4 + CB_CAPSTYPE_GENERAL_LEN,
	                             .cCapabilitiesSets = 1,
	                             .capabilitySets = (CLIPRDR_CAPABILITY_SET *)&general};
	CLIPRDR_MONITOR_READY ready = {.msgType = CB_MONITOR_READY};
	UINT rc = c->ctx->ServerCapabilities(c->ctx, &caps);

	return rc ? rc : c->ctx->MonitorReady(c->ctx, &ready);
}

/* Tells the client the browser has text: one format, CF_UNICODETEXT. */
static UINT announce(struct rdp_clip *c)
{
	CLIPRDR_FORMAT format = {.formatId = CF_UNICODETEXT, .formatName = NULL};
	CLIPRDR_FORMAT_LIST list = {.msgType = CB_FORMAT_LIST, .numFormats = 1, .formats = &format};

	c->announced = true;
	return c->ctx->ServerFormatList(c->ctx, &list);
}

static UINT on_format_list(CliprdrServerContext *ctx, const CLIPRDR_FORMAT_LIST *list)
{
	struct rdp_clip *c = clip_of(ctx);
	CLIPRDR_FORMAT_LIST_RESPONSE answer = {.msgType = CB_FORMAT_LIST_RESPONSE,
	                                       .msgFlags = CB_RESPONSE_OK};
	bool text = false, first = !c->ready;

	c->ask_at = 0; /* a list without text: nothing to ask for any more */
	for (UINT32 i = 0; i < list->numFormats; i++)
		text |= list->formats[i].formatId == CF_UNICODETEXT;
	UINT rc = ctx->ServerFormatListResponse(ctx, &answer);
	c->ready = true;
	/* The terminal's clipboard now owns the shared one, ours is void ... */
	c->announced = false;
	/* ... except on connecting with an empty one: then the browser's text is offered. */
	if (first && !text && c->text && !rc)
		return announce(c);
	if (text && !rc)
		c->ask_at = now_ms() + REQUEST_SETTLE_MS; /* a later list moves it on */
	return rc;
}

/* Asks for the client's text once its Format Lists have settled. */
static UINT ask_for_text(struct rdp_clip *c)
{
	CLIPRDR_FORMAT_DATA_REQUEST ask = {
	    .msgType = CB_FORMAT_DATA_REQUEST, .dataLen = 4, .requestedFormatId = CF_UNICODETEXT};

	c->ask_at = 0;
	if (!to_browser(c)) {
		worker_note(c->w, CTL_NOTE_CLIPBOARD, "to_browser 0 0 refused");
		return CHANNEL_RC_OK;
	}
	/* A client may take its time to answer; no more than a few requests stay open. */
	if (c->requested >= MAX_REQUESTS)
		return CHANNEL_RC_OK;
	c->requested++;
	return c->ctx->ServerFormatDataRequest(c->ctx, &ask);
}

static UINT on_format_list_response(CliprdrServerContext *ctx,
                                    const CLIPRDR_FORMAT_LIST_RESPONSE *r)
{
	if (r->msgFlags & CB_RESPONSE_FAIL)
		log_info("%s: the client did not take the browser's clipboard",
		         clip_of(ctx)->w->peer);
	return CHANNEL_RC_OK;
}

/* The client pastes: the browser's text as UTF-16LE, if it was announced. */
static UINT on_data_request(CliprdrServerContext *ctx, const CLIPRDR_FORMAT_DATA_REQUEST *r)
{
	struct rdp_clip *c = clip_of(ctx);
	CLIPRDR_FORMAT_DATA_RESPONSE answer = {.msgType = CB_FORMAT_DATA_RESPONSE,
	                                       .msgFlags = CB_RESPONSE_FAIL};

	if (r->requestedFormatId != CF_UNICODETEXT || !c->announced || !c->text ||
	    !to_terminal(c)) {
		if (r->requestedFormatId != CF_UNICODETEXT || !c->announced)
			worker_note(c->w, CTL_NOTE_MESSAGE_REFUSED,
			            "cliprdr: clipboard format %u requested, which was not offered",
			            r->requestedFormatId);
		return ctx->ServerFormatDataResponse(ctx, &answer);
	}
	size_t cap = CLIPTEXT_UTF16_MAX(c->len);
	uint8_t *utf16 = xcalloc(1, cap);
	answer.dataLen = (UINT32)cliptext_to_utf16le(c->text, c->len, utf16, cap);
	answer.msgFlags = CB_RESPONSE_OK;
	answer.requestedFormatData = utf16;
	UINT rc = ctx->ServerFormatDataResponse(ctx, &answer);
	free(utf16);
	worker_note(c->w, CTL_NOTE_CLIPBOARD, "to_terminal %u %zu allowed", c->offered, c->len);
	return rc;
}

/* The terminal's text, which we asked for: filtered, cut, to the browser. */
static UINT on_data_response(CliprdrServerContext *ctx, const CLIPRDR_FORMAT_DATA_RESPONSE *r)
{
	struct rdp_clip *c = clip_of(ctx);
	size_t max = (size_t)cfg_of(c)->policy_clipboard_max_bytes;

	if (c->requested == 0) {
		worker_note(c->w, CTL_NOTE_MESSAGE_REFUSED,
		            "cliprdr: clipboard data nobody asked for (%u bytes): dropped",
		            r->dataLen);
		return CHANNEL_RC_OK;
	}
	c->requested--;
	if ((r->msgFlags & CB_RESPONSE_FAIL) || !r->requestedFormatData) {
		log_info("%s: the client did not give its clipboard text", c->w->peer);
		return CHANNEL_RC_OK;
	}
	if (!to_browser(c))
		return CHANNEL_RC_OK; /* never asked then; kept as a second lock */
	uint8_t *text = xcalloc(1, max);
	size_t n = cliptext_filter(r->requestedFormatData, r->dataLen, CLIPTEXT_UTF16LE, text, max);
	rdp_session_clipboard_in(c->session, text, n);
	free(text);
	worker_note(c->w, CTL_NOTE_CLIPBOARD, "to_browser %u %zu allowed", r->dataLen, n);
	return CHANNEL_RC_OK;
}

/* File contents were never offered: refused per the protocol, audited. */
static UINT on_file_request(CliprdrServerContext *ctx, const CLIPRDR_FILE_CONTENTS_REQUEST *r)
{
	CLIPRDR_FILE_CONTENTS_RESPONSE answer = {.msgType = CB_FILECONTENTS_RESPONSE,
	                                         .msgFlags = CB_RESPONSE_FAIL,
	                                         .streamId = r->streamId};

	worker_note(clip_of(ctx)->w, CTL_NOTE_MESSAGE_REFUSED,
	            "cliprdr: file contents requested, which shoji never offers: refused");
	return ctx->ServerFileContentsResponse(ctx, &answer);
}

static UINT on_file_response(CliprdrServerContext *ctx, const CLIPRDR_FILE_CONTENTS_RESPONSE *r)
{
	worker_note(clip_of(ctx)->w, CTL_NOTE_MESSAGE_REFUSED,
	            "cliprdr: file contents nobody asked for (%u bytes): dropped", r->dataLen);
	return CHANNEL_RC_OK;
}

static UINT on_lock(CliprdrServerContext *ctx, const CLIPRDR_LOCK_CLIPBOARD_DATA *r)
{
	(void)r;
	worker_note(clip_of(ctx)->w, CTL_NOTE_MESSAGE_REFUSED,
	            "cliprdr: clipboard locking, which shoji never offers: ignored");
	return CHANNEL_RC_OK;
}

static UINT on_unlock(CliprdrServerContext *ctx, const CLIPRDR_UNLOCK_CLIPBOARD_DATA *r)
{
	(void)r;
	worker_note(clip_of(ctx)->w, CTL_NOTE_MESSAGE_REFUSED,
	            "cliprdr: clipboard unlocking, which shoji never offers: ignored");
	return CHANNEL_RC_OK;
}

struct rdp_clip *rdp_clip_create(HANDLE vcm, struct worker *w, struct rdp_session *session)
{
	struct rdp_clip *c = xcalloc(1, sizeof(*c));
	UINT rc;

	c->w = w;
	c->session = session;
	c->ctx = cliprdr_server_context_new(vcm);
	if (!c->ctx)
		goto fail;
	c->ctx->custom = c;
	c->ctx->useLongFormatNames = TRUE;
	c->ctx->streamFileClipEnabled = FALSE;
	c->ctx->fileClipNoFilePaths = FALSE;
	c->ctx->canLockClipData = FALSE;
	c->ctx->autoInitializationSequence = FALSE; /* start() does it, on this thread */
	c->ctx->ClientFormatList = on_format_list;
	c->ctx->ClientFormatListResponse = on_format_list_response;
	c->ctx->ClientFormatDataRequest = on_data_request;
	c->ctx->ClientFormatDataResponse = on_data_response;
	c->ctx->ClientFileContentsRequest = on_file_request;
	c->ctx->ClientFileContentsResponse = on_file_response;
	c->ctx->ClientLockClipboardData = on_lock;
	c->ctx->ClientUnlockClipboardData = on_unlock;
	if ((rc = c->ctx->Open(c->ctx)) != CHANNEL_RC_OK)
		goto fail;
	c->opened = true;
	if ((rc = start(c)) != CHANNEL_RC_OK)
		goto fail;
	return c;
fail:
	log_warn("%s: cannot open the clipboard channel", w->peer);
	rdp_clip_destroy(c);
	return NULL;
}

void rdp_clip_destroy(struct rdp_clip *c)
{
	if (!c)
		return;
	if (c->opened)
		c->ctx->Close(c->ctx);
	cliprdr_server_context_free(c->ctx);
	free(c->text);
	free(c);
}

HANDLE rdp_clip_event(struct rdp_clip *c)
{
	return c->ctx->GetEventHandle(c->ctx);
}

int rdp_clip_poll(struct rdp_clip *c)
{
	HANDLE ev = rdp_clip_event(c);

	for (int i = 0; i < MAX_POLL_PDUS && WaitForSingleObject(ev, 0) == WAIT_OBJECT_0; i++) {
		UINT rc = c->ctx->CheckEventHandle(c->ctx);
		if (rc != CHANNEL_RC_OK) {
			log_warn("%s: clipboard channel: error %u", c->w->peer, rc);
			worker_note(c->w, CTL_NOTE_MESSAGE_REFUSED,
			            "cliprdr: a malformed clipboard message (error %u)", rc);
			return -1;
		}
	}
	if (c->ask_at && now_ms() >= c->ask_at && ask_for_text(c) != CHANNEL_RC_OK) {
		log_warn("%s: cannot ask for the client's clipboard", c->w->peer);
		return -1;
	}
	return 0;
}

void rdp_clip_browser_text(struct rdp_clip *c, const uint8_t *text, size_t len)
{
	size_t max = (size_t)cfg_of(c)->policy_clipboard_max_bytes;

	free(c->text);
	c->text = xcalloc(1, max);
	c->len = cliptext_filter(text, len, CLIPTEXT_UTF8, c->text, max);
	c->offered = (uint32_t)len;
	if (c->ready && announce(c) != CHANNEL_RC_OK)
		log_warn("%s: cannot announce the browser's clipboard", c->w->peer);
}

void rdp_clip_skipped(struct rdp_clip *c, size_t total)
{
	log_info("%s: clipboard text of %zu bytes dropped: longer than taken", c->w->peer, total);
	if (c->requested > 0) {
		c->requested--;
		worker_note(c->w, CTL_NOTE_CLIPBOARD, "to_browser %zu 0 refused", total);
	} else {
		worker_note(c->w, CTL_NOTE_MESSAGE_REFUSED,
		            "cliprdr: clipboard data nobody asked for (%zu bytes): dropped", total);
	}
}
