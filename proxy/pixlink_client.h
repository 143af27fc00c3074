/*
 * shojid's end of one pixel link: reads what one session's shoji-render
 * sends, enforces the protocol's order and flow control, maps the
 * framebuffer, and sends input and credit. Handles untrusted input: yes,
 * everything. A render process may be running an exploited browser, so any
 * violation ends the link with a reason the caller logs and audits, and the
 * caller then kills that render and ends its session; shojid itself goes on.
 *
 * Rules enforced on top of pixlink_parse():
 *   - the first message is HELLO with PIXLINK_VERSION, and it comes once;
 *   - render sends only render -> shojid types;
 *   - only FRAMEBUFFER carries a descriptor, and it must: a memfd that passes
 *     pixlink_fb_fd_check(), with geometry within the client's maximum and a
 *     generation greater than the previous one;
 *   - DAMAGE needs a framebuffer and outstanding credit, names the current
 *     generation, has seq one more than the previous DAMAGE (the first is 1,
 *     across framebuffers), and every rectangle lies inside the framebuffer.
 *
 * Not thread-safe: one thread owns a client.
 */
#pragma once

#include <stdint.h>

#include "pixlink.h"

struct pixlink_client;

enum pixlink_event_type {
	PIXLINK_EV_HELLO,
	PIXLINK_EV_FRAMEBUFFER, /* a new framebuffer is mapped: see pixlink_client_fb() */
	PIXLINK_EV_DAMAGE,      /* checked rectangles; one credit was used */
	PIXLINK_EV_CURSOR,
	PIXLINK_EV_PONG,
	PIXLINK_EV_NOTICE,
	PIXLINK_EV_CLIPBOARD, /* the browser's clipboard text (filtered); the caller applies policy */
};

struct pixlink_event {
	enum pixlink_event_type type;
	/* The parsed message; it and the cursor pixels and notice text it points
	 * to stay valid until the next pixlink_client_read() or destroy. */
	const struct pixlink_msg *msg;
};

/**
 * Creates the client for one link. Takes ownership of sock (a SOCK_SEQPACKET
 * socket; it is closed on failure too) and makes it non-blocking. max_w and
 * max_h bound the framebuffer render may announce (at most PIXLINK_MAX_DIM).
 * Returns NULL with errno set (EPROTOTYPE if sock is not SOCK_SEQPACKET).
 */
struct pixlink_client *pixlink_client_create(int sock, uint32_t max_w, uint32_t max_h);

/**
 * Takes over a link another reader used before (a viewer reattaching):
 * sends RESYNC with a fresh random token, forgets the framebuffer, credit
 * and sequence numbers, and from then on discards every message until
 * render's HELLO carrying that token; FRAMEBUFFER follows it as at start.
 * 0 or -1 (errno).
 */
int pixlink_client_resync(struct pixlink_client *c);

/** Unmaps the framebuffer and closes the socket. Accepts NULL. */
void pixlink_client_destroy(struct pixlink_client *c);

/** The socket, for the caller's poll loop (readable: call pixlink_client_read). */
int pixlink_client_fd(const struct pixlink_client *c);

/**
 * Reads and checks one message. Returns 1 with *ev filled, 0 if nothing is
 * available now (the socket would block), or -1 at end of stream or on a
 * protocol violation; pixlink_client_error() then says why, and the client
 * is dead: every later read returns -1 at once. Violations are also logged
 * at warn level. EINTR is retried.
 */
int pixlink_client_read(struct pixlink_client *c, struct pixlink_event *ev);

/**
 * Why the link ended, for logs and audit, e.g. "damage rectangle 3
 * (5000,0 10x10) outside the 1280x800 framebuffer"; "" while it is alive.
 */
const char *pixlink_client_error(const struct pixlink_client *c);

/** The current framebuffer's geometry, or NULL before the first FRAMEBUFFER. */
const struct pixlink_framebuffer *pixlink_client_fb(const struct pixlink_client *c);

/**
 * The current framebuffer's pixels (fb->size bytes, mapped read-only and
 * shared), or NULL before the first FRAMEBUFFER. Render may still write to
 * it, except between a DAMAGE and the next credit; a new FRAMEBUFFER unmaps
 * the previous one, so do not keep the pointer across reads.
 */
const uint8_t *pixlink_client_pixels(const struct pixlink_client *c);

/**
 * Lets render send n more DAMAGE by sending CREDIT, but never lets the
 * outstanding credit exceed PIXLINK_MAX_CREDIT: n is reduced to fit, and
 * nothing is sent if nothing fits. 0 or -1 (errno; EAGAIN if the socket is
 * full, EPIPE if the link is dead).
 */
int pixlink_client_grant(struct pixlink_client *c, uint32_t n);

/** Credit granted and not yet used by a DAMAGE. */
uint32_t pixlink_client_credit(const struct pixlink_client *c);

/**
 * Sends KEY, UNICODE, POINTER, WHEEL, RESIZE, PING or REFRESH. Refuses
 * (errno EINVAL) render -> shojid types, CREDIT (use pixlink_client_grant,
 * which keeps the count) and invalid messages. 0 or -1 (errno; EAGAIN if
 * the socket is full, EPIPE if the link is dead).
 */
int pixlink_client_send(struct pixlink_client *c, const struct pixlink_msg *msg);
