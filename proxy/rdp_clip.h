/*
 * The RDP clipboard of one connection: FreeRDP 2's cliprdr server
 * (MS-RDPECLIP), opened by rdp.c only when [policy] clipboard_to_browser
 * or clipboard_to_terminal is text and the client listed the channel.
 * Only CF_UNICODETEXT crosses: the browser's text is announced to the
 * client as that one format when clipboard_to_terminal is text and sent
 * as UTF-16LE with CR LF and a terminator; a client's Format List is
 * always answered, and its text requested (CF_UNICODETEXT only) and
 * passed through cliptext_filter() to the browser only when
 * clipboard_to_browser is text. No file lists, locking or file contents
 * (never announced in the capabilities): such requests are answered with
 * a failure and audited, as is data nobody asked for. Every transfer and
 * every refused one is audited (event clipboard) with sizes, never text.
 *
 * Threads: none of FreeRDP's own; the worker's RDP thread calls
 * rdp_clip_poll() when rdp_clip_event() is set, and the callbacks run in
 * it.
 *
 * Untrusted input: the client's clipboard PDUs, parsed by FreeRDP after
 * cliprdr_filter.c checked their headers; the text through cliptext.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Before FreeRDP's headers, whose MIN and MAX give way to ours. */
#include "util.h"

#include <freerdp/peer.h>

struct rdp_clip;
struct rdp_session;
struct worker;

/**
 * Opens cliprdr on vcm and sends the server's capabilities and Monitor
 * Ready; text for the browser goes to session. NULL on error (logged).
 */
struct rdp_clip *rdp_clip_create(HANDLE vcm, struct worker *w, struct rdp_session *session);

/** Closes the channel and frees. Accepts NULL. */
void rdp_clip_destroy(struct rdp_clip *c);

/** Set while the client's PDUs wait to be read. */
HANDLE rdp_clip_event(struct rdp_clip *c);

/**
 * Handles what the client sent, and asks for its text when due; call it
 * at least every 100 ms. 0, or -1 when the channel failed (the caller
 * disconnects).
 */
int rdp_clip_poll(struct rdp_clip *c);

/**
 * The browser's clipboard text (len bytes of filtered UTF-8; the caller
 * checked clipboard_to_terminal): cut to clipboard_max_bytes and
 * announced to the client as soon as its clipboard is ready.
 */
void rdp_clip_browser_text(struct rdp_clip *c, const uint8_t *text, size_t len);

/**
 * A Format Data Response of total bytes was dropped unread (longer than
 * cliprdr_filter takes): audited as refused; the request is over.
 */
void rdp_clip_skipped(struct rdp_clip *c, size_t total);
