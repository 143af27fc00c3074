/*
 * shojid's end of one pixel link (see pixlink_client.h). Handles untrusted
 * input: yes. Every packet from render is parsed by pixlink_parse() and then
 * checked here against the link's state (HELLO first, credit, sequence,
 * generation, the framebuffer's bounds); the first violation ends the link
 * with a reason. A received memfd is mapped only after its seals and size
 * are checked, so a hostile render cannot make shojid fault by shrinking it.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "pixlink_client.h"
#include "util.h"

struct pixlink_client {
	int sock;
	uint32_t max_w, max_h;
	bool dead;
	bool hello_seen;
	bool resyncing;  /* discarding what was meant for a previous reader */
	uint32_t token;  /* the HELLO we wait for carries this token */
	uint32_t render_pid;
	char error[192];

	uint32_t credit;   /* granted and not yet used */
	uint32_t next_seq; /* the seq the next DAMAGE must carry */

	bool have_fb;
	struct pixlink_framebuffer fb;
	uint8_t *pixels; /* read-only MAP_SHARED mapping of fb.size bytes */

	struct pixlink_msg msg; /* the last message read; pointers go into buf */
	uint8_t buf[PIXLINK_MAX_MSG];
};

struct pixlink_client *pixlink_client_create(int sock, uint32_t max_w, uint32_t max_h)
{
	struct pixlink_client *c = NULL;
	int type, saved;
	socklen_t len = sizeof(type);

	if (max_w == 0 || max_h == 0) {
		errno = EINVAL;
		goto err_close;
	}
	if (getsockopt(sock, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		goto err_close;
	if (type != SOCK_SEQPACKET) {
		errno = EPROTOTYPE;
		goto err_close;
	}
	if (set_nonblock(sock, true) < 0)
		goto err_close;
	c = calloc(1, sizeof(*c));
	if (!c)
		goto err_close;
	c->sock = sock;
	c->max_w = MIN(max_w, PIXLINK_MAX_DIM);
	c->max_h = MIN(max_h, PIXLINK_MAX_DIM);
	c->next_seq = 1;
	return c;

err_close:
	saved = errno;
	close(sock);
	errno = saved;
	return NULL;
}

static void unmap_fb(struct pixlink_client *c)
{
	if (c->pixels)
		munmap(c->pixels, (size_t)c->fb.size);
	c->pixels = NULL;
	c->have_fb = false;
}

void pixlink_client_destroy(struct pixlink_client *c)
{
	if (!c)
		return;
	unmap_fb(c);
	close(c->sock);
	free(c);
}

int pixlink_client_fd(const struct pixlink_client *c)
{
	return c->sock;
}

const char *pixlink_client_error(const struct pixlink_client *c)
{
	return c->error;
}

const struct pixlink_framebuffer *pixlink_client_fb(const struct pixlink_client *c)
{
	return c->have_fb ? &c->fb : NULL;
}

const uint8_t *pixlink_client_pixels(const struct pixlink_client *c)
{
	return c->have_fb ? c->pixels : NULL;
}

uint32_t pixlink_client_credit(const struct pixlink_client *c)
{
	return c->credit;
}

static int fail(struct pixlink_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Ends the link: records and logs why. Always returns -1. */
static int fail(struct pixlink_client *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->error, sizeof(c->error), fmt, ap);
	va_end(ap);
	c->dead = true;
	log_warn("pixel link to render (pid %u): %s", c->render_pid, c->error);
	return -1;
}

static const char *fd_check_reason(int err)
{
	switch (err) {
	case EINVAL:
		return "geometry refused";
	case ENOTSUP:
		return "not a memfd that can be sealed";
	case EPERM:
		return "not sealed against shrinking, growing and unsealing";
	case ERANGE:
		return "its size differs from the size announced";
	default:
		return strerror(err);
	}
}

static int handle_hello(struct pixlink_client *c)
{
	const struct pixlink_hello *h = &c->msg.u.hello;

	if (c->hello_seen)
		return fail(c, "HELLO sent twice");
	if (h->token != c->token)
		return fail(c, "HELLO answers token %u, expected %u", h->token, c->token);
	if (h->version != PIXLINK_VERSION)
		return fail(c, "render speaks pixel-link version %u, shojid speaks %u", h->version,
		            PIXLINK_VERSION);
	c->hello_seen = true;
	c->render_pid = h->pid;
	return 0;
}

static int handle_framebuffer(struct pixlink_client *c, int fd)
{
	const struct pixlink_framebuffer *fb = &c->msg.u.fb;

	if (fd < 0)
		return fail(c, "FRAMEBUFFER without a memfd");
	if (!pixlink_fb_geometry_ok(fb, c->max_w, c->max_h))
		return fail(c,
		            "framebuffer %ux%u (stride %u, format %u, %llu bytes) refused: "
		            "inconsistent or larger than %ux%u",
		            fb->width, fb->height, fb->stride, fb->format,
		            (unsigned long long)fb->size, c->max_w, c->max_h);
	if (c->have_fb && fb->generation <= c->fb.generation)
		return fail(c, "framebuffer generation %u does not follow %u", fb->generation,
		            c->fb.generation);
	if (pixlink_fb_fd_check(fd, fb) < 0)
		return fail(c, "framebuffer memfd refused: %s", fd_check_reason(errno));
	if (fb->size > SIZE_MAX)
		return fail(c, "framebuffer of %llu bytes cannot be mapped",
		            (unsigned long long)fb->size);

	void *p = mmap(NULL, (size_t)fb->size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return fail(c, "cannot map the framebuffer: %s", strerror(errno));
	unmap_fb(c);
	c->pixels = p;
	c->fb = *fb;
	c->have_fb = true;
	return 0;
}

/* Why d fails pixlink_damage_ok(), for the error message. */
static int damage_refused(struct pixlink_client *c, const struct pixlink_damage *d)
{
	if (d->generation != c->fb.generation)
		return fail(c, "DAMAGE for framebuffer generation %u, the current one is %u",
		            d->generation, c->fb.generation);
	if (d->seq != c->next_seq)
		return fail(c, "DAMAGE seq %u, expected %u", d->seq, c->next_seq);
	for (size_t i = 0; i < d->nrects; i++) {
		const struct pixlink_rect *r = &d->rects[i];
		if (r->w == 0 || r->h == 0)
			return fail(c, "damage rectangle %zu (%u,%u %ux%u) is empty", i, r->x, r->y,
			            r->w, r->h);
		if ((uint32_t)r->x + r->w > c->fb.width || (uint32_t)r->y + r->h > c->fb.height)
			return fail(c,
			            "damage rectangle %zu (%u,%u %ux%u) outside the %ux%u "
			            "framebuffer",
			            i, r->x, r->y, r->w, r->h, c->fb.width, c->fb.height);
	}
	return fail(c, "DAMAGE with %u rectangles refused", d->nrects);
}

static int handle_damage(struct pixlink_client *c)
{
	const struct pixlink_damage *d = &c->msg.u.damage;

	if (!c->have_fb)
		return fail(c, "DAMAGE before any framebuffer");
	if (c->credit == 0)
		return fail(c, "DAMAGE seq %u without credit", d->seq);
	if (!pixlink_damage_ok(d, &c->fb, c->next_seq))
		return damage_refused(c, d);
	c->credit--;
	c->next_seq++;
	return 0;
}

/* Says why a packet of len bytes did not parse as exactly one message. */
static int malformed(struct pixlink_client *c, size_t len, ssize_t used)
{
	if (len < PIXLINK_HEADER_LEN)
		return fail(c, "packet of %zu bytes is shorter than a message header", len);

	unsigned type = get_le16(c->buf), flags = get_le16(c->buf + 2);
	unsigned long plen = get_le32(c->buf + 4);

	if (used == 0)
		return fail(c, "%s message truncated: %zu bytes for a payload of %lu",
		            pixlink_type_name(type), len - PIXLINK_HEADER_LEN, plen);
	if (used > 0)
		return fail(c, "%zu stray bytes after a %s message", len - (size_t)used,
		            pixlink_type_name(type));
	return fail(c, "malformed message: type %u (%s), flags %u, payload %lu bytes", type,
	            pixlink_type_name(type), flags, plen);
}

static int dispatch(struct pixlink_client *c, size_t len, int fd, struct pixlink_event *ev)
{
	ssize_t used = pixlink_parse(c->buf, len, &c->msg);
	if (used != (ssize_t)len)
		return malformed(c, len, used);

	enum pixlink_type type = c->msg.type;
	const char *name = pixlink_type_name(type);
	int ret = 0;

	if (!pixlink_from_render(type))
		return fail(c, "render sent %s, which only shojid may send", name);
	if (fd >= 0 && type != PIXLINK_FRAMEBUFFER)
		return fail(c, "unexpected descriptor on %s", name);
	if (c->resyncing) {
		if (type != PIXLINK_HELLO || c->msg.u.hello.token != c->token)
			return 2; /* meant for the previous reader: skip */
		c->resyncing = false;
	}
	if (!c->hello_seen && type != PIXLINK_HELLO)
		return fail(c, "first message was %s, not HELLO", name);

	switch (type) {
	case PIXLINK_HELLO:
		ret = handle_hello(c);
		ev->type = PIXLINK_EV_HELLO;
		break;
	case PIXLINK_FRAMEBUFFER:
		ret = handle_framebuffer(c, fd);
		ev->type = PIXLINK_EV_FRAMEBUFFER;
		break;
	case PIXLINK_DAMAGE:
		ret = handle_damage(c);
		ev->type = PIXLINK_EV_DAMAGE;
		break;
	case PIXLINK_CURSOR:
		ev->type = PIXLINK_EV_CURSOR;
		break;
	case PIXLINK_PONG:
		ev->type = PIXLINK_EV_PONG;
		break;
	case PIXLINK_NOTICE:
		ev->type = PIXLINK_EV_NOTICE;
		break;
	case PIXLINK_CLIPBOARD_OUT:
		ev->type = PIXLINK_EV_CLIPBOARD;
		break;
	default:
		return fail(c, "render sent %s, which only shojid may send", name);
	}
	if (ret < 0)
		return -1;
	ev->msg = &c->msg;
	return 1;
}

/* One packet: 1 event, 2 skipped (stale, during a resync), 0 none, -1 dead. */
static int read_one(struct pixlink_client *c, struct pixlink_event *ev)
{
	int fd = -1;

	if (c->dead)
		return -1;

	ssize_t n = pixlink_recv(c->sock, c->buf, sizeof(c->buf), &fd);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		if (errno == EBADMSG)
			return fail(c, "refused a packet that was truncated or carried "
			               "descriptors or control data it may not");
		return fail(c, "receive failed: %s", strerror(errno));
	}
	if (n == 0) {
		snprintf(c->error, sizeof(c->error), "render closed the pixel link");
		c->dead = true;
		log_info("pixel link to render (pid %u): closed", c->render_pid);
		return -1;
	}

	int ret = dispatch(c, (size_t)n, fd, ev);
	/* The memfd is mapped (or refused) by now; the mapping outlives it. */
	if (fd >= 0)
		close(fd);
	return ret;
}

int pixlink_client_read(struct pixlink_client *c, struct pixlink_event *ev)
{
	int ret;

	while ((ret = read_one(c, ev)) == 2)
		;
	return ret;
}

int pixlink_client_resync(struct pixlink_client *c)
{
	struct pixlink_msg m = { .type = PIXLINK_RESYNC };

	if (c->dead) {
		errno = EPIPE;
		return -1;
	}
	do {
		if (random_bytes(&c->token, sizeof(c->token)) < 0)
			return -1;
	} while (c->token == 0);
	m.u.seq = c->token;
	unmap_fb(c);
	c->have_fb = false;
	c->hello_seen = false;
	c->resyncing = true;
	c->credit = 0;
	c->next_seq = 1;
	return pixlink_send_msg(c->sock, &m, -1);
}

int pixlink_client_grant(struct pixlink_client *c, uint32_t n)
{
	struct pixlink_msg m = {.type = PIXLINK_CREDIT};

	if (c->dead) {
		errno = EPIPE;
		return -1;
	}
	n = MIN(n, PIXLINK_MAX_CREDIT - c->credit);
	if (n == 0)
		return 0;
	m.u.credit = n;
	if (pixlink_send_msg(c->sock, &m, -1) < 0)
		return -1;
	c->credit += n;
	return 0;
}

int pixlink_client_send(struct pixlink_client *c, const struct pixlink_msg *msg)
{
	if (c->dead) {
		errno = EPIPE;
		return -1;
	}
	if (pixlink_from_render(msg->type) || msg->type == PIXLINK_CREDIT) {
		errno = EINVAL;
		return -1;
	}
	return pixlink_send_msg(c->sock, msg, -1);
}
