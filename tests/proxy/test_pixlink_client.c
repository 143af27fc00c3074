/*
 * Tests of shojid's pixel-link client against a hostile render: the test
 * plays shoji-render over a real SOCK_SEQPACKET socketpair, first following
 * the protocol (HELLO, a sealed memfd framebuffer with known pixels, credit,
 * DAMAGE), then breaking it in every way the client must refuse. Each attack
 * must end the link with -1 and a reason, and leak no descriptor.
 */
#include "autoconfig.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "pixlink_client.h"
#include "util.h"

Suite *suite_pixlink_client(void);

#define FB_W 1280
#define FB_H 800

struct link {
	int fds_before;
	int render; /* the test's end, playing shoji-render */
	struct pixlink_client *c;
};

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Mappings of framebuffer memfds in this process, and whether any is writable. */
static int count_fb_maps(bool *writable)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;

	ck_assert_ptr_nonnull(f);
	*writable = false;
	while (fgets(line, sizeof(line), f)) {
		if (!strstr(line, "memfd:shoji-fb"))
			continue;
		char perms[8] = "";
		ck_assert_int_eq(sscanf(line, "%*s %7s", perms), 1);
		if (perms[1] == 'w')
			*writable = true;
		n++;
	}
	fclose(f);
	return n;
}

static void link_open(struct link *l)
{
	int sv[2];

	shoji_log_set_level(SHOJI_LOG_ERROR);
	l->fds_before = count_fds();
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	l->c = pixlink_client_create(sv[0], FB_W, FB_H);
	ck_assert_ptr_nonnull(l->c);
	ck_assert_int_eq(pixlink_client_fd(l->c), sv[0]);
	l->render = sv[1];
}

static void link_close(struct link *l)
{
	pixlink_client_destroy(l->c);
	close(l->render);
	ck_assert_int_eq(count_fds(), l->fds_before);
}

static void render_send(struct link *l, const struct pixlink_msg *m, int fd)
{
	ck_assert_int_eq(pixlink_send_msg(l->render, m, fd), 0);
}

static void render_send_raw(struct link *l, const void *buf, size_t len, int fd)
{
	ck_assert_int_eq(pixlink_send(l->render, buf, len, fd), 0);
}

static void expect_event(struct link *l, enum pixlink_event_type type)
{
	struct pixlink_event ev;
	int r = pixlink_client_read(l->c, &ev);
	ck_assert_msg(r == 1, "read gave %d: %s", r, pixlink_client_error(l->c));
	ck_assert_int_eq(ev.type, type);
	ck_assert_ptr_nonnull(ev.msg);
}

/* The link must be refused with a reason containing `reason`, and stay dead. */
static void expect_refused(struct link *l, const char *reason)
{
	struct pixlink_event ev;
	struct pixlink_msg ping = {.type = PIXLINK_PING, .u.seq = 1};

	ck_assert_int_eq(pixlink_client_read(l->c, &ev), -1);
	const char *err = pixlink_client_error(l->c);
	ck_assert_msg(strstr(err, reason), "reason \"%s\" does not say \"%s\"", err, reason);
	ck_assert_int_eq(pixlink_client_read(l->c, &ev), -1);
	ck_assert_str_eq(pixlink_client_error(l->c), err);
	ck_assert_int_eq(pixlink_client_grant(l->c, 1), -1);
	ck_assert_int_eq(errno, EPIPE);
	ck_assert_int_eq(pixlink_client_send(l->c, &ping), -1);
	ck_assert_int_eq(errno, EPIPE);
}

static void send_hello(struct link *l)
{
	struct pixlink_msg m = {.type = PIXLINK_HELLO, .u.hello = {PIXLINK_VERSION, 4321, 0}};
	render_send(l, &m, -1);
	expect_event(l, PIXLINK_EV_HELLO);
}

static uint8_t pattern(size_t i, uint32_t gen)
{
	return (uint8_t)(i * 31 + (i >> 11) + gen);
}

static struct pixlink_framebuffer fb_geometry(uint32_t gen, uint32_t w, uint32_t h)
{
	struct pixlink_framebuffer fb = {
	    .generation = gen,
	    .width = w,
	    .height = h,
	    .stride = w * 4,
	    .format = PIXLINK_FORMAT_BGRX8888,
	    .size = (uint64_t)w * 4 * h,
	};
	return fb;
}

/* A sealed memfd holding fb with pattern pixels, as render makes it. */
static int make_fb(const struct pixlink_framebuffer *fb)
{
	int fd = pixlink_fb_create((size_t)fb->size);
	ck_assert_int_ge(fd, 0);
	uint8_t *p = mmap(NULL, (size_t)fb->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	for (size_t i = 0; i < fb->size; i++)
		p[i] = pattern(i, fb->generation);
	munmap(p, (size_t)fb->size);
	return fd;
}

static void send_fb(struct link *l, uint32_t gen, uint32_t w, uint32_t h)
{
	struct pixlink_msg m = {.type = PIXLINK_FRAMEBUFFER, .u.fb = fb_geometry(gen, w, h)};
	int fd = make_fb(&m.u.fb);
	render_send(l, &m, fd);
	close(fd);
	expect_event(l, PIXLINK_EV_FRAMEBUFFER);
}

/* Reads the CREDIT that the client sent to render. */
static uint32_t render_recv_credit(struct link *l)
{
	uint8_t buf[PIXLINK_MAX_MSG];
	struct pixlink_msg m;
	int fd;

	ssize_t n = pixlink_recv(l->render, buf, sizeof(buf), &fd);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(fd, -1);
	ck_assert_int_eq(pixlink_parse(buf, (size_t)n, &m), n);
	ck_assert_int_eq(m.type, PIXLINK_CREDIT);
	return m.u.credit;
}

static void grant(struct link *l, uint32_t n)
{
	ck_assert_int_eq(pixlink_client_grant(l->c, n), 0);
	ck_assert_uint_eq(render_recv_credit(l), n);
}

static struct pixlink_msg damage(uint32_t seq, uint32_t gen, uint16_t x, uint16_t y, uint16_t w,
                                 uint16_t h)
{
	struct pixlink_msg m = {.type = PIXLINK_DAMAGE};
	m.u.damage.seq = seq;
	m.u.damage.generation = gen;
	m.u.damage.nrects = 1;
	m.u.damage.rects[0] = (struct pixlink_rect){x, y, w, h};
	return m;
}

/* HELLO, a framebuffer, and n credits: the state most attacks start from. */
static void link_ready(struct link *l, uint32_t credit)
{
	link_open(l);
	send_hello(l);
	send_fb(l, 1, FB_W, FB_H);
	if (credit)
		grant(l, credit);
}

static bool render_has_nothing(struct link *l)
{
	uint8_t b[16];
	return recv(l->render, b, sizeof(b), MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

START_TEST(good_sequence)
{
	struct link l;
	struct pixlink_event ev;
	bool writable;

	link_open(&l);
	ck_assert_int_eq(pixlink_client_read(l.c, &ev), 0); /* nothing yet */
	ck_assert_ptr_null(pixlink_client_fb(l.c));
	ck_assert_ptr_null(pixlink_client_pixels(l.c));
	ck_assert_str_eq(pixlink_client_error(l.c), "");
	send_hello(&l);

	/* The framebuffer: known pixels, read back through the read-only mapping. */
	struct pixlink_msg fbm = {.type = PIXLINK_FRAMEBUFFER, .u.fb = fb_geometry(1, FB_W, FB_H)};
	int memfd = make_fb(&fbm.u.fb);
	render_send(&l, &fbm, memfd);
	expect_event(&l, PIXLINK_EV_FRAMEBUFFER);
	const struct pixlink_framebuffer *fb = pixlink_client_fb(l.c);
	ck_assert_ptr_nonnull(fb);
	ck_assert_uint_eq(fb->generation, 1);
	ck_assert_uint_eq(fb->width, FB_W);
	ck_assert_uint_eq(fb->height, FB_H);
	ck_assert_uint_eq(fb->stride, FB_W * 4);
	ck_assert_uint_eq(fb->size, fbm.u.fb.size);
	const uint8_t *px = pixlink_client_pixels(l.c);
	ck_assert_ptr_nonnull(px);
	for (size_t i = 0; i < fb->size; i++)
		if (px[i] != pattern(i, 1))
			ck_abort_msg("pixel byte %zu differs", i);
	ck_assert_int_eq(count_fb_maps(&writable), 1);
	ck_assert(!writable);

	/* Credit, then render draws and reports the damage. */
	ck_assert_uint_eq(pixlink_client_credit(l.c), 0);
	grant(&l, 2);
	ck_assert_uint_eq(pixlink_client_credit(l.c), 2);
	uint8_t *draw =
	    mmap(NULL, (size_t)fbm.u.fb.size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	ck_assert_ptr_ne(draw, MAP_FAILED);
	size_t at = 20 * (size_t)fbm.u.fb.stride + 10 * 4;
	memcpy(draw + at, "\x11\x22\x33\x00", 4);
	munmap(draw, (size_t)fbm.u.fb.size);
	close(memfd);
	struct pixlink_msg d = damage(1, 1, 10, 20, 1, 1);
	render_send(&l, &d, -1);
	ck_assert_int_eq(pixlink_client_read(l.c, &ev), 1);
	ck_assert_int_eq(ev.type, PIXLINK_EV_DAMAGE);
	ck_assert_uint_eq(ev.msg->u.damage.nrects, 1);
	ck_assert_uint_eq(ev.msg->u.damage.rects[0].x, 10);
	ck_assert_mem_eq(pixlink_client_pixels(l.c) + at, "\x11\x22\x33\x00", 4);
	ck_assert_uint_eq(pixlink_client_credit(l.c), 1);
	d = damage(2, 1, 0, 0, FB_W, FB_H);
	render_send(&l, &d, -1);
	expect_event(&l, PIXLINK_EV_DAMAGE);
	ck_assert_uint_eq(pixlink_client_credit(l.c), 0);

	/* Cursor, pong and notice pass through. */
	static uint8_t cursor_px[16 * 16 * 4];
	memset(cursor_px, 0xab, sizeof(cursor_px));
	struct pixlink_msg m = {.type = PIXLINK_CURSOR};
	m.u.cursor = (struct pixlink_cursor){3, 16, 16, 1, 2, cursor_px};
	render_send(&l, &m, -1);
	ck_assert_int_eq(pixlink_client_read(l.c, &ev), 1);
	ck_assert_int_eq(ev.type, PIXLINK_EV_CURSOR);
	ck_assert_mem_eq(ev.msg->u.cursor.pixels, cursor_px, sizeof(cursor_px));
	m = (struct pixlink_msg){.type = PIXLINK_PONG, .u.seq = 9};
	render_send(&l, &m, -1);
	expect_event(&l, PIXLINK_EV_PONG);
	m = (struct pixlink_msg){.type = PIXLINK_NOTICE};
	m.u.notice = (struct pixlink_notice){PIXLINK_NOTICE_BROWSER_RESTARTED, 9, "restarted"};
	render_send(&l, &m, -1);
	ck_assert_int_eq(pixlink_client_read(l.c, &ev), 1);
	ck_assert_int_eq(ev.type, PIXLINK_EV_NOTICE);
	ck_assert_mem_eq(ev.msg->u.notice.text, "restarted", 9);
	ck_assert_int_eq(pixlink_client_read(l.c, &ev), 0);

	/* Credit never exceeds the maximum; nothing is sent when none fits. */
	ck_assert_int_eq(pixlink_client_grant(l.c, 100), 0);
	ck_assert_uint_eq(render_recv_credit(&l), PIXLINK_MAX_CREDIT);
	ck_assert_uint_eq(pixlink_client_credit(l.c), PIXLINK_MAX_CREDIT);
	ck_assert_int_eq(pixlink_client_grant(l.c, 1), 0);
	ck_assert_uint_eq(pixlink_client_credit(l.c), PIXLINK_MAX_CREDIT);
	ck_assert(render_has_nothing(&l));

	/* A new framebuffer replaces the old mapping; seq carries on. */
	send_fb(&l, 5, 800, 600);
	ck_assert_uint_eq(pixlink_client_fb(l.c)->width, 800);
	ck_assert_uint_eq(pixlink_client_pixels(l.c)[12345], pattern(12345, 5));
	ck_assert_int_eq(count_fb_maps(&writable), 1);
	d = damage(3, 5, 799, 599, 1, 1);
	render_send(&l, &d, -1);
	expect_event(&l, PIXLINK_EV_DAMAGE);

	link_close(&l);
	ck_assert_int_eq(count_fb_maps(&writable), 0);
}
END_TEST

START_TEST(sends_input_refuses_render_types)
{
	struct link l;
	uint8_t buf[PIXLINK_MAX_MSG];
	struct pixlink_msg m, got;
	int fd;

	link_ready(&l, 0);
	const struct pixlink_msg ok[] = {
	    {.type = PIXLINK_KEY, .u.key = {0x61, 0x1e, true}},
	    {.type = PIXLINK_UNICODE, .u.codepoint = 0x3042},
	    {.type = PIXLINK_POINTER, .u.pointer = {5, 6, PIXLINK_BUTTON_LEFT}},
	    {.type = PIXLINK_WHEEL, .u.wheel = {0, -1}},
	    {.type = PIXLINK_RESIZE, .u.size = {1024, 768}},
	    {.type = PIXLINK_PING, .u.seq = 3},
	    {.type = PIXLINK_REFRESH},
	    {.type = PIXLINK_CLIPBOARD_IN, .u.clip = {2, (const uint8_t *)"hi"}},
	};
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		ck_assert_int_eq(pixlink_client_send(l.c, &ok[i]), 0);
		ssize_t n = pixlink_recv(l.render, buf, sizeof(buf), &fd);
		ck_assert_int_gt(n, 0);
		ck_assert_int_eq(pixlink_parse(buf, (size_t)n, &got), n);
		ck_assert_int_eq(got.type, ok[i].type);
	}
	static const enum pixlink_type refused[] = {
	    PIXLINK_HELLO, PIXLINK_FRAMEBUFFER, PIXLINK_DAMAGE, PIXLINK_CURSOR,
	    PIXLINK_PONG,  PIXLINK_NOTICE,      PIXLINK_CREDIT,
	};
	for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
		memset(&m, 0, sizeof(m));
		m.type = refused[i];
		m.u.credit = 1;
		ck_assert_int_eq(pixlink_client_send(l.c, &m), -1);
		ck_assert_int_eq(errno, EINVAL);
	}
	m = (struct pixlink_msg){.type = PIXLINK_RESIZE, .u.size = {0, 768}};
	ck_assert_int_eq(pixlink_client_send(l.c, &m), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert(render_has_nothing(&l));
	ck_assert_uint_eq(pixlink_client_credit(l.c), 0);
	link_close(&l);
}
END_TEST

START_TEST(create_refuses_stream_socket)
{
	int sv[2];
	int before = count_fds();

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	errno = 0;
	ck_assert_ptr_null(pixlink_client_create(sv[0], FB_W, FB_H));
	ck_assert_int_eq(errno, EPROTOTYPE);
	close(sv[1]);
	ck_assert_int_eq(count_fds(), before); /* sv[0] was closed by create */
	pixlink_client_destroy(NULL);
}
END_TEST

/* --- Order and version --- */

START_TEST(refuses_first_message_not_hello)
{
	struct link l;
	struct pixlink_msg m = {.type = PIXLINK_PONG, .u.seq = 1};

	link_open(&l);
	render_send(&l, &m, -1);
	expect_refused(&l, "first message was PONG, not HELLO");
	link_close(&l);

	/* A framebuffer before HELLO: refused, and its memfd closed. */
	link_open(&l);
	m = (struct pixlink_msg){.type = PIXLINK_FRAMEBUFFER, .u.fb = fb_geometry(1, 64, 64)};
	int fd = make_fb(&m.u.fb);
	render_send(&l, &m, fd);
	close(fd);
	expect_refused(&l, "not HELLO");
	link_close(&l);
}
END_TEST

START_TEST(refuses_wrong_version_and_second_hello)
{
	struct link l;
	struct pixlink_msg m = {.type = PIXLINK_HELLO, .u.hello = {PIXLINK_VERSION + 1, 1, 0}};

	link_open(&l);
	render_send(&l, &m, -1);
	expect_refused(&l, "version 2");
	link_close(&l);

	link_open(&l);
	send_hello(&l);
	m.u.hello.version = PIXLINK_VERSION;
	render_send(&l, &m, -1);
	expect_refused(&l, "HELLO sent twice");
	link_close(&l);
}
END_TEST

START_TEST(refuses_shojid_types)
{
	static const struct pixlink_msg sent[] = {
	    {.type = PIXLINK_CREDIT, .u.credit = 4},
	    {.type = PIXLINK_PING, .u.seq = 1},
	    {.type = PIXLINK_KEY, .u.key = {0x61, 0, true}},
	    {.type = PIXLINK_REFRESH},
	};
	for (size_t i = 0; i < ARRAY_SIZE(sent); i++) {
		struct link l;
		link_ready(&l, 0);
		render_send(&l, &sent[i], -1);
		expect_refused(&l, "which only shojid may send");
		link_close(&l);
	}
}
END_TEST

/* The browser's clipboard arrives as an event with the filtered text; unfiltered text kills the link. */
START_TEST(clipboard_from_render)
{
	struct pixlink_msg m = {.type = PIXLINK_CLIPBOARD_OUT};
	struct pixlink_event ev;
	struct link l;

	link_ready(&l, 0);
	m.u.clip = (struct pixlink_clipboard){9, (const uint8_t *)"日本\tz\n"};
	render_send(&l, &m, -1);
	ck_assert_int_eq(pixlink_client_read(l.c, &ev), 1);
	ck_assert_int_eq(ev.type, PIXLINK_EV_CLIPBOARD);
	ck_assert_uint_eq(ev.msg->u.clip.len, 9);
	ck_assert_mem_eq(ev.msg->u.clip.text, "日本\tz\n", 9);

	static const uint8_t raw[] = {PIXLINK_CLIPBOARD_OUT, 0, 0, 0, 3, 0, 0, 0, 'a', '\r', 'b'};
	render_send_raw(&l, raw, sizeof(raw), -1);
	expect_refused(&l, "malformed");
	link_close(&l);
}
END_TEST

START_TEST(reports_end_of_stream)
{
	struct link l;
	struct pixlink_event ev;

	link_ready(&l, 1);
	close(l.render);
	l.render = -1;
	ck_assert_int_eq(pixlink_client_read(l.c, &ev), -1);
	ck_assert_str_eq(pixlink_client_error(l.c), "render closed the pixel link");
	ck_assert_int_eq(pixlink_client_read(l.c, &ev), -1);
	pixlink_client_destroy(l.c);
	ck_assert_int_eq(count_fds(), l.fds_before);
}
END_TEST

/* --- Framebuffer attacks --- */

START_TEST(refuses_unsealed_memfd)
{
	struct link l;
	struct pixlink_msg m = {.type = PIXLINK_FRAMEBUFFER, .u.fb = fb_geometry(1, 64, 64)};

	link_open(&l);
	send_hello(&l);
	int fd = memfd_create("shoji-fb", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)m.u.fb.size), 0);
	render_send(&l, &m, fd);
	close(fd);
	expect_refused(&l, "not sealed");
	ck_assert_ptr_null(pixlink_client_pixels(l.c));
	link_close(&l);
}
END_TEST

START_TEST(refuses_memfd_smaller_than_declared)
{
	struct link l;
	struct pixlink_msg m = {.type = PIXLINK_FRAMEBUFFER, .u.fb = fb_geometry(1, 64, 64)};

	/* The message says stride*height bytes; the sealed memfd holds half. */
	link_open(&l);
	send_hello(&l);
	int fd = pixlink_fb_create((size_t)m.u.fb.size / 2);
	ck_assert_int_ge(fd, 0);
	render_send(&l, &m, fd);
	close(fd);
	expect_refused(&l, "size differs");
	link_close(&l);

	/* The message admits the small size: its geometry is refused by the parser. */
	link_open(&l);
	send_hello(&l);
	uint8_t raw[PIXLINK_HEADER_LEN + 28];
	/* Encode a valid one, then halve the size field. */
	ck_assert_uint_eq(pixlink_encode(&m, raw, sizeof(raw)), sizeof(raw));
	put_le64(raw + PIXLINK_HEADER_LEN + 20, m.u.fb.size / 2);
	fd = pixlink_fb_create((size_t)m.u.fb.size / 2);
	render_send_raw(&l, raw, sizeof(raw), fd);
	close(fd);
	expect_refused(&l, "malformed message: type 2 (FRAMEBUFFER)");
	link_close(&l);
}
END_TEST

START_TEST(refuses_plain_descriptors_as_framebuffer)
{
	struct link l;
	struct pixlink_msg m = {.type = PIXLINK_FRAMEBUFFER, .u.fb = fb_geometry(1, 64, 64)};

	link_open(&l);
	send_hello(&l);
	int fd = open("/dev/zero", O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	render_send(&l, &m, fd);
	close(fd);
	expect_refused(&l, "not a memfd");
	link_close(&l);

	link_open(&l);
	send_hello(&l);
	int p[2];
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	render_send(&l, &m, p[0]);
	close(p[0]);
	close(p[1]);
	expect_refused(&l, "not a memfd");
	link_close(&l);

	/* A regular file of the right size is not sealed memory either. */
	link_open(&l);
	send_hello(&l);
	char path[] = "/tmp/shoji-fb-test-XXXXXX";
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	unlink(path);
	ck_assert_int_eq(ftruncate(fd, (off_t)m.u.fb.size), 0);
	render_send(&l, &m, fd);
	close(fd);
	expect_refused(&l, "not a memfd");
	link_close(&l);
}
END_TEST

START_TEST(refuses_framebuffer_without_memfd)
{
	struct link l;
	struct pixlink_msg m = {.type = PIXLINK_FRAMEBUFFER, .u.fb = fb_geometry(1, 64, 64)};

	link_open(&l);
	send_hello(&l);
	render_send(&l, &m, -1);
	expect_refused(&l, "FRAMEBUFFER without a memfd");
	link_close(&l);
}
END_TEST

START_TEST(refuses_framebuffer_over_limit)
{
	struct link l;
	/* Valid for the protocol, larger than this client allows. */
	struct pixlink_msg m = {.type = PIXLINK_FRAMEBUFFER,
	                        .u.fb = fb_geometry(1, FB_W + 4, FB_H)};

	link_open(&l);
	send_hello(&l);
	int fd = make_fb(&m.u.fb);
	render_send(&l, &m, fd);
	close(fd);
	expect_refused(&l, "larger than 1280x800");
	link_close(&l);
}
END_TEST

START_TEST(refuses_generation_not_increasing)
{
	struct link l;
	bool writable;

	link_ready(&l, 0);
	struct pixlink_msg m = {.type = PIXLINK_FRAMEBUFFER, .u.fb = fb_geometry(1, 64, 64)};
	int fd = make_fb(&m.u.fb);
	render_send(&l, &m, fd);
	close(fd);
	expect_refused(&l, "generation 1 does not follow 1");
	/* The refused one was not mapped; the old one stays until destroy. */
	ck_assert_int_eq(count_fb_maps(&writable), 1);
	link_close(&l);
	ck_assert_int_eq(count_fb_maps(&writable), 0);
}
END_TEST

/* --- Damage attacks --- */

START_TEST(refuses_rect_outside)
{
	struct link l;

	link_ready(&l, 1);
	struct pixlink_msg d = damage(1, 1, 0, 0, 10, 10);
	d.u.damage.nrects = 5;
	d.u.damage.rects[1] = (struct pixlink_rect){1270, 790, 10, 10};
	d.u.damage.rects[2] = (struct pixlink_rect){0, 0, FB_W, FB_H};
	d.u.damage.rects[3] = (struct pixlink_rect){5000, 0, 10, 10};
	d.u.damage.rects[4] = (struct pixlink_rect){1, 1, 1, 1};
	render_send(&l, &d, -1);
	expect_refused(&l, "damage rectangle 3 (5000,0 10x10) outside the 1280x800 framebuffer");
	link_close(&l);

	/* One pixel past the edge, and u16 sums that would wrap. */
	static const struct pixlink_rect over[] = {
	    {1271, 0, 10, 1},
	    {0, 791, 1, 10},
	    {65535, 0, 65535, 1},
	    {0, 65000, 1, 1000},
	};
	for (size_t i = 0; i < ARRAY_SIZE(over); i++) {
		link_ready(&l, 1);
		d = damage(1, 1, over[i].x, over[i].y, over[i].w, over[i].h);
		render_send(&l, &d, -1);
		expect_refused(&l, "outside the 1280x800 framebuffer");
		link_close(&l);
	}

	link_ready(&l, 1);
	d = damage(1, 1, 10, 10, 0, 5);
	render_send(&l, &d, -1);
	expect_refused(&l, "damage rectangle 0 (10,10 0x5) is empty");
	link_close(&l);
}
END_TEST

START_TEST(refuses_oversized_rect_count)
{
	struct link l;
	static uint8_t raw[PIXLINK_HEADER_LEN + 12 + 8 * (PIXLINK_MAX_RECTS + 1)];
	size_t plen = 12 + 8 * (PIXLINK_MAX_RECTS + 1);

	/* 257 rectangles, all inside, with the length to match. */
	link_ready(&l, 1);
	put_le16(raw, PIXLINK_DAMAGE);
	put_le32(raw + 4, (uint32_t)plen);
	put_le32(raw + 8, 1);
	put_le32(raw + 12, 1);
	put_le16(raw + 16, PIXLINK_MAX_RECTS + 1);
	for (size_t i = 0; i <= PIXLINK_MAX_RECTS; i++) {
		put_le16(raw + 20 + i * 8 + 4, 1);
		put_le16(raw + 20 + i * 8 + 6, 1);
	}
	render_send_raw(&l, raw, sizeof(raw), -1);
	expect_refused(&l, "malformed message: type 3 (DAMAGE)");
	link_close(&l);

	/* A huge count with the length of one rectangle. */
	link_ready(&l, 1);
	put_le32(raw + 4, 12 + 8);
	put_le16(raw + 16, 0xffff);
	render_send_raw(&l, raw, PIXLINK_HEADER_LEN + 12 + 8, -1);
	expect_refused(&l, "malformed message: type 3 (DAMAGE)");
	link_close(&l);
}
END_TEST

START_TEST(refuses_unexpected_descriptors)
{
	struct link l;
	int p[2];

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);

	/* On HELLO. */
	link_open(&l);
	struct pixlink_msg m = {.type = PIXLINK_HELLO, .u.hello = {PIXLINK_VERSION, 1}};
	render_send(&l, &m, p[0]);
	expect_refused(&l, "unexpected descriptor on HELLO");
	link_close(&l);

	/* On DAMAGE, even a valid sealed memfd. */
	link_ready(&l, 1);
	struct pixlink_framebuffer fb = fb_geometry(2, 64, 64);
	int memfd = make_fb(&fb);
	m = damage(1, 1, 0, 0, 1, 1);
	render_send(&l, &m, memfd);
	close(memfd);
	expect_refused(&l, "unexpected descriptor on DAMAGE");
	link_close(&l);

	/* Two descriptors on a FRAMEBUFFER. */
	link_open(&l);
	send_hello(&l);
	m = (struct pixlink_msg){.type = PIXLINK_FRAMEBUFFER, .u.fb = fb_geometry(1, 64, 64)};
	memfd = make_fb(&m.u.fb);
	uint8_t raw[PIXLINK_HEADER_LEN + 28];
	ck_assert_uint_eq(pixlink_encode(&m, raw, sizeof(raw)), sizeof(raw));
	char control[CMSG_SPACE(2 * sizeof(int))];
	struct iovec iov = {.iov_base = raw, .iov_len = sizeof(raw)};
	struct msghdr mh = {.msg_iov = &iov,
	                    .msg_iovlen = 1,
	                    .msg_control = control,
	                    .msg_controllen = sizeof(control)};
	memset(control, 0, sizeof(control));
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(2 * sizeof(int));
	int two[2] = {memfd, p[1]};
	memcpy(CMSG_DATA(cm), two, sizeof(two));
	ck_assert_int_eq(sendmsg(l.render, &mh, 0), (ssize_t)sizeof(raw));
	close(memfd);
	expect_refused(&l, "refused a packet");
	link_close(&l);

	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(refuses_damage_without_credit)
{
	struct link l;

	link_ready(&l, 0);
	struct pixlink_msg d = damage(1, 1, 0, 0, 1, 1);
	render_send(&l, &d, -1);
	expect_refused(&l, "DAMAGE seq 1 without credit");
	link_close(&l);

	/* Credit used up. */
	link_ready(&l, 1);
	render_send(&l, &d, -1);
	expect_event(&l, PIXLINK_EV_DAMAGE);
	d.u.damage.seq = 2;
	render_send(&l, &d, -1);
	expect_refused(&l, "without credit");
	link_close(&l);
}
END_TEST

START_TEST(refuses_damage_before_framebuffer)
{
	struct link l;

	link_open(&l);
	send_hello(&l);
	grant(&l, 1);
	struct pixlink_msg d = damage(1, 0, 0, 0, 1, 1);
	render_send(&l, &d, -1);
	expect_refused(&l, "DAMAGE before any framebuffer");
	link_close(&l);
}
END_TEST

START_TEST(refuses_wrong_seq_and_generation)
{
	struct link l;
	struct pixlink_msg d;

	link_ready(&l, 2);
	d = damage(0, 1, 0, 0, 1, 1);
	render_send(&l, &d, -1);
	expect_refused(&l, "DAMAGE seq 0, expected 1");
	link_close(&l);

	link_ready(&l, 2);
	d = damage(1, 1, 0, 0, 1, 1);
	render_send(&l, &d, -1);
	expect_event(&l, PIXLINK_EV_DAMAGE);
	d.u.damage.seq = 3;
	render_send(&l, &d, -1);
	expect_refused(&l, "DAMAGE seq 3, expected 2");
	link_close(&l);

	link_ready(&l, 2);
	d = damage(1, 1, 0, 0, 1, 1);
	render_send(&l, &d, -1);
	expect_event(&l, PIXLINK_EV_DAMAGE);
	render_send(&l, &d, -1); /* replayed */
	expect_refused(&l, "DAMAGE seq 1, expected 2");
	link_close(&l);

	link_ready(&l, 2);
	d = damage(1, 2, 0, 0, 1, 1);
	render_send(&l, &d, -1);
	expect_refused(&l, "DAMAGE for framebuffer generation 2, the current one is 1");
	link_close(&l);
}
END_TEST

/* --- Bytes that are not messages --- */

START_TEST(refuses_garbage)
{
	struct link l;
	static const uint8_t garbage[] = {0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x02, 0x03,
	                                  0xff, 0xfe, 0xfd, 0xfc, 0x7f, 0x80, 0x81, 0x82};

	link_open(&l);
	render_send_raw(&l, garbage, sizeof(garbage), -1);
	expect_refused(&l, "malformed message");
	link_close(&l);

	link_ready(&l, 1);
	render_send_raw(&l, garbage, 3, -1);
	expect_refused(&l, "shorter than a message header");
	link_close(&l);

	/* A valid message with bytes after it, and one cut short. */
	link_ready(&l, 1);
	uint8_t buf[64];
	struct pixlink_msg d = damage(1, 1, 0, 0, 1, 1);
	size_t len = pixlink_encode(&d, buf, sizeof(buf));
	ck_assert_uint_gt(len, 0);
	buf[len] = 0;
	render_send_raw(&l, buf, len + 1, -1);
	expect_refused(&l, "1 stray bytes after a DAMAGE message");
	link_close(&l);

	link_ready(&l, 1);
	render_send_raw(&l, buf, len - 1, -1);
	expect_refused(&l, "DAMAGE message truncated");
	link_close(&l);

	/* Flags set on an otherwise good message. */
	link_ready(&l, 1);
	buf[2] = 1;
	render_send_raw(&l, buf, len, -1);
	expect_refused(&l, "flags 1");
	link_close(&l);
}
END_TEST

START_TEST(refuses_oversized_packet)
{
	struct link l;
	static uint8_t big[PIXLINK_MAX_MSG + 100];

	link_ready(&l, 1);
	memset(big, 0x41, sizeof(big));
	ck_assert_int_eq(send(l.render, big, sizeof(big), 0), (ssize_t)sizeof(big));
	expect_refused(&l, "refused a packet");
	link_close(&l);
}
END_TEST

/* A reattaching reader: stale messages are skipped until HELLO with its token. */
START_TEST(resync_skips_stale_messages)
{
	struct link l;
	struct pixlink_event ev;
	uint8_t buf[PIXLINK_MAX_MSG];
	struct pixlink_msg m;
	int fd;

	link_ready(&l, 1);
	/* Meant for the previous reader: a damage, a framebuffer, an old HELLO. */
	struct pixlink_msg stale = damage(1, 1, 0, 0, 4, 4);
	render_send(&l, &stale, -1);
	struct pixlink_msg fbm = {.type = PIXLINK_FRAMEBUFFER, .u.fb = fb_geometry(2, FB_W, FB_H)};
	int memfd = make_fb(&fbm.u.fb);
	render_send(&l, &fbm, memfd);
	close(memfd);
	struct pixlink_msg old = {.type = PIXLINK_HELLO, .u.hello = {PIXLINK_VERSION, 4321, 0}};
	render_send(&l, &old, -1);

	ck_assert_int_eq(pixlink_client_resync(l.c), 0);
	ck_assert_ptr_null(pixlink_client_fb(l.c));
	ck_assert_uint_eq(pixlink_client_credit(l.c), 0);
	ssize_t n = pixlink_recv(l.render, buf, sizeof(buf), &fd);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(pixlink_parse(buf, (size_t)n, &m), n);
	ck_assert_int_eq(m.type, PIXLINK_RESYNC);
	ck_assert_uint_ne(m.u.seq, 0);

	ck_assert_int_eq(pixlink_client_read(l.c, &ev), 0); /* all skipped, nothing yet */
	struct pixlink_msg hello = {.type = PIXLINK_HELLO,
	                            .u.hello = {PIXLINK_VERSION, 4321, m.u.seq}};
	render_send(&l, &hello, -1);
	expect_event(&l, PIXLINK_EV_HELLO);
	/* The same generation as before the resync is accepted afresh. */
	send_fb(&l, 1, FB_W, FB_H);
	grant(&l, 1);
	struct pixlink_msg d = damage(1, 1, 0, 0, 8, 8);
	render_send(&l, &d, -1);
	expect_event(&l, PIXLINK_EV_DAMAGE);
	link_close(&l);
}
END_TEST

START_TEST(refuses_hello_with_wrong_token)
{
	struct link l;

	link_open(&l);
	struct pixlink_msg m = {.type = PIXLINK_HELLO, .u.hello = {PIXLINK_VERSION, 1, 77}};
	render_send(&l, &m, -1);
	expect_refused(&l, "token");
	link_close(&l);
}
END_TEST

Suite *suite_pixlink_client(void)
{
	Suite *s = suite_create("pixlink_client");
	TCase *tc = tcase_create("protocol");
	tcase_add_test(tc, good_sequence);
	tcase_add_test(tc, sends_input_refuses_render_types);
	tcase_add_test(tc, create_refuses_stream_socket);
	tcase_add_test(tc, refuses_first_message_not_hello);
	tcase_add_test(tc, refuses_wrong_version_and_second_hello);
	tcase_add_test(tc, refuses_shojid_types);
	tcase_add_test(tc, clipboard_from_render);
	tcase_add_test(tc, reports_end_of_stream);
	tcase_add_test(tc, resync_skips_stale_messages);
	tcase_add_test(tc, refuses_hello_with_wrong_token);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostile_render");
	tcase_add_test(tc, refuses_unsealed_memfd);
	tcase_add_test(tc, refuses_memfd_smaller_than_declared);
	tcase_add_test(tc, refuses_plain_descriptors_as_framebuffer);
	tcase_add_test(tc, refuses_framebuffer_without_memfd);
	tcase_add_test(tc, refuses_framebuffer_over_limit);
	tcase_add_test(tc, refuses_generation_not_increasing);
	tcase_add_test(tc, refuses_rect_outside);
	tcase_add_test(tc, refuses_oversized_rect_count);
	tcase_add_test(tc, refuses_unexpected_descriptors);
	tcase_add_test(tc, refuses_damage_without_credit);
	tcase_add_test(tc, refuses_damage_before_framebuffer);
	tcase_add_test(tc, refuses_wrong_seq_and_generation);
	tcase_add_test(tc, refuses_garbage);
	tcase_add_test(tc, refuses_oversized_packet);
	suite_add_tcase(s, tc);
	return s;
}
