/*
 * Tests of the RDP front-end's pixel-link side: the test plays shoji-render
 * over a real SOCK_SEQPACKET socketpair and checks what the session asks
 * for (RESYNC, RESIZE, credit), how it keeps its picture (cropped to the
 * desktop, damage copied and reported, nothing outside it), and the input
 * it forwards (scancodes, surrogate pairs joined, positions clamped, held
 * keys and buttons released at the end).
 */
#include "autoconfig.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "fbdiff.h"
#include "log.h"
#include "pixlink.h"
#include "rdp_session.h"
#include "util.h"
#include "worker.h"

Suite *suite_rdp_session(void);

#define DESK_W 320
#define DESK_H 200

struct fake_render {
	int fd;
	uint32_t generation, seq;
	uint8_t *px; /* the last framebuffer, mapped */
	size_t size;
	uint32_t width;
	uint8_t buf[PIXLINK_MAX_MSG];
	struct pixlink_msg msg;
};

static struct shoji_config cfg = {.display_max_width = 1920, .display_max_height = 1080};
static struct worker w = {.cfg = &cfg, .client_fd = -1, .ctl_fd = -1};

/* The next message the session sent; NULL if there is none (or the link is closed). */
static const struct pixlink_msg *next_msg(struct fake_render *r)
{
	ssize_t n = recv(r->fd, r->buf, sizeof(r->buf), MSG_DONTWAIT);

	if ((n < 0 && errno == EAGAIN) || n == 0)
		return NULL;
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(pixlink_parse(r->buf, (size_t)n, &r->msg), n);
	return &r->msg;
}

static const struct pixlink_msg *expect_msg(struct fake_render *r, enum pixlink_type type)
{
	const struct pixlink_msg *m = next_msg(r);

	ck_assert_msg(m, "no %s came", pixlink_type_name(type));
	ck_assert_msg(m->type == type, "%s came, not %s", pixlink_type_name(m->type),
	              pixlink_type_name(type));
	return m;
}

static void send_msg(struct fake_render *r, const struct pixlink_msg *m, int fd)
{
	ck_assert_int_eq(pixlink_send_msg(r->fd, m, fd), 0);
}

/* A framebuffer of w x h where pixel (x, y) is B=x, G=y, R=generation. */
static void send_framebuffer(struct fake_render *r, uint32_t width, uint32_t height)
{
	struct pixlink_msg m = {.type = PIXLINK_FRAMEBUFFER};
	size_t size = (size_t)width * 4 * height;
	int fd = pixlink_fb_create(size);

	ck_assert_int_ge(fd, 0);
	uint8_t *px = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert(px != MAP_FAILED);
	r->generation++;
	for (uint32_t y = 0; y < height; y++)
		for (uint32_t x = 0; x < width; x++) {
			uint8_t *p = px + ((size_t)y * width + x) * 4;
			p[0] = (uint8_t)x, p[1] = (uint8_t)y, p[2] = (uint8_t)r->generation,
			p[3] = 0;
		}
	if (r->px)
		munmap(r->px, r->size);
	r->px = px;
	r->size = size;
	r->width = width;
	m.u.fb = (struct pixlink_framebuffer){r->generation,           width, height, width * 4,
	                                      PIXLINK_FORMAT_BGRX8888, size};
	send_msg(r, &m, fd);
	close(fd);
}

static struct rdp_session *start(struct fake_render *r, uint32_t fb_w, uint32_t fb_h)
{
	int sv[2];

	shoji_log_set_level(SHOJI_LOG_ERROR);
	memset(r, 0, sizeof(*r));
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	r->fd = sv[1];
	struct rdp_session *s = rdp_session_create(&w, sv[0], DESK_W, DESK_H);
	ck_assert_ptr_nonnull(s);
	uint32_t token = expect_msg(r, PIXLINK_RESYNC)->u.seq;
	struct pixlink_msg hello = {.type = PIXLINK_HELLO};
	hello.u.hello = (struct pixlink_hello){PIXLINK_VERSION, 1234, token};
	send_msg(r, &hello, -1);
	send_framebuffer(r, fb_w, fb_h);
	ck_assert_int_eq(rdp_session_read(s), 0);
	return s;
}

static uint32_t pixel(struct rdp_session *s, int x, int y)
{
	size_t stride;
	const uint8_t *p = rdp_session_pixels(s, &stride) + (size_t)y * stride + (size_t)x * 4;

	return get_le32(p);
}

START_TEST(picture_follows_the_desktop)
{
	struct fake_render r;
	struct region changes;

	/* Render is bigger than the desktop: cropped, and asked to resize. */
	struct rdp_session *s = start(&r, 400, 300);
	const struct pixlink_msg *m = expect_msg(&r, PIXLINK_RESIZE);
	ck_assert_uint_eq(m->u.size.width, DESK_W);
	ck_assert_uint_eq(m->u.size.height, DESK_H);
	ck_assert(!rdp_session_ready(s));
	ck_assert_uint_eq(pixel(s, 319, 199), 0x0001c73fu); /* R=1, G=199, B=319 & 0xff */
	/* Damage only where the desktop does not reach changes nothing. */
	rdp_session_want_frame(s);
	ck_assert_uint_eq(expect_msg(&r, PIXLINK_CREDIT)->u.credit, 1);
	ck_assert(rdp_session_take_changes(s, &changes));
	struct pixlink_msg d = {.type = PIXLINK_DAMAGE};
	d.u.damage =
	    (struct pixlink_damage){.seq = ++r.seq, .generation = r.generation, .nrects = 1};
	d.u.damage.rects[0] = (struct pixlink_rect){330, 210, 50, 50};
	send_msg(&r, &d, -1);
	ck_assert_int_eq(rdp_session_read(s), 0);
	ck_assert(!rdp_session_take_changes(s, &changes));

	/* The desktop's size arrives: ready, all of it changed. */
	send_framebuffer(&r, DESK_W, DESK_H);
	ck_assert_int_eq(rdp_session_read(s), 0);
	ck_assert(rdp_session_ready(s));
	ck_assert_ptr_null(next_msg(&r)); /* no second RESIZE */
	ck_assert(rdp_session_take_changes(s, &changes));
	struct rect all = region_extents(&changes);
	ck_assert(all.x == 0 && all.y == 0 && all.w == DESK_W && all.h == DESK_H);
	ck_assert_uint_eq(pixel(s, 10, 20), 0x0002140au);
	ck_assert(!rdp_session_take_changes(s, &changes));

	/* Damage over pixels that did not change is not reported. */
	rdp_session_want_frame(s);
	expect_msg(&r, PIXLINK_CREDIT);
	d.u.damage =
	    (struct pixlink_damage){.seq = ++r.seq, .generation = r.generation, .nrects = 1};
	d.u.damage.rects[0] = (struct pixlink_rect){0, 0, DESK_W, DESK_H};
	send_msg(&r, &d, -1);
	ck_assert_int_eq(rdp_session_read(s), 0);
	ck_assert(!rdp_session_take_changes(s, &changes));

	/* One credit at a time; what changed inside the damage is copied and reported. */
	rdp_session_want_frame(s);
	expect_msg(&r, PIXLINK_CREDIT);
	rdp_session_want_frame(s);
	ck_assert_ptr_null(next_msg(&r));
	for (int y = 50; y < 60; y++)
		for (int x = 100; x < 120; x++)
			put_le32(r.px + ((size_t)y * r.width + (size_t)x) * 4, 0x00ff8000u);
	d.u.damage =
	    (struct pixlink_damage){.seq = ++r.seq, .generation = r.generation, .nrects = 1};
	d.u.damage.rects[0] = (struct pixlink_rect){90, 40, 40, 30};
	send_msg(&r, &d, -1);
	ck_assert_int_eq(rdp_session_read(s), 0);
	ck_assert(rdp_session_take_changes(s, &changes));
	ck_assert_uint_eq(changes.n, 1);
	ck_assert(changes.r[0].x == 100 && changes.r[0].y == 50 && changes.r[0].w == 20 &&
	          changes.r[0].h == 10);
	ck_assert_uint_eq(pixel(s, 110, 55), 0x00ff8000u);
	rdp_session_mark_all(s);
	ck_assert(rdp_session_take_changes(s, &changes));
	ck_assert_int_eq(rect_area(&changes.r[0]), DESK_W * DESK_H);

	/* A hostile render (damage without credit) ends the session's link. */
	d.u.damage.seq = ++r.seq;
	send_msg(&r, &d, -1);
	ck_assert_int_eq(rdp_session_read(s), -1);
	rdp_session_destroy(s);
	close(r.fd);
}
END_TEST

/* Render's picture: an article of distinct rows, scrolled down by top pixels. */
static void paint_article(struct fake_render *r, int top)
{
	for (uint32_t y = 0; y < DESK_H; y++)
		for (uint32_t x = 0; x < DESK_W; x++) {
			uint32_t line = y + (uint32_t)top;
			uint32_t c = line % 20 >= 16 ? 0xffffff
			                             : (line * 2654435761u ^ (x / 5) * 40503u) >> 8;
			put_le32(r->px + ((size_t)y * r->width + x) * 4, c & 0xffffff);
		}
}

static void send_damage_all(struct fake_render *r, struct rdp_session *s)
{
	struct pixlink_msg d = {.type = PIXLINK_DAMAGE};

	rdp_session_want_frame(s);
	expect_msg(r, PIXLINK_CREDIT);
	d.u.damage = (struct pixlink_damage){.seq = ++r->seq, .generation = r->generation, .nrects = 1};
	d.u.damage.rects[0] = (struct pixlink_rect){0, 0, DESK_W, DESK_H};
	send_msg(r, &d, -1);
	ck_assert_int_eq(rdp_session_read(s), 0);
}

/* What a client does with a frame: moves in order, then the changed rectangles painted. */
static int64_t client_frame(struct rdp_session *s, uint8_t *client, struct fbdiff_move *moves,
                            size_t *nmoves)
{
	struct fbdiff_image img = {client, DESK_W * 4, DESK_W, DESK_H, NULL};
	struct region changes;
	size_t stride;
	const uint8_t *px = rdp_session_pixels(s, &stride);

	*nmoves = rdp_session_take_moves(s, moves, RDP_SESSION_MAX_MOVES);
	for (size_t i = 0; i < *nmoves; i++)
		fbdiff_apply_move(&img, &moves[i]);
	region_init(&changes);
	rdp_session_take_changes(s, &changes);
	for (size_t i = 0; i < changes.n; i++) {
		const struct rect *c = &changes.r[i];
		for (int32_t y = c->y; y < c->y + c->h; y++)
			memcpy(client + (size_t)y * DESK_W * 4 + (size_t)c->x * 4,
			       px + (size_t)y * stride + (size_t)c->x * 4, (size_t)c->w * 4);
	}
	return region_area(&changes);
}

/* Whether the client's picture is render's. */
static bool client_matches(const struct fake_render *r, const uint8_t *client)
{
	for (uint32_t y = 0; y < DESK_H; y++)
		if (memcmp(client + (size_t)y * DESK_W * 4, r->px + (size_t)y * r->width * 4,
		           DESK_W * 4) != 0)
			return false;
	return true;
}

START_TEST(scroll_becomes_a_move)
{
	struct fake_render r;
	struct fbdiff_move moves[RDP_SESSION_MAX_MOVES];
	size_t nmoves;
	uint8_t *client = calloc(DESK_W * DESK_H, 4);
	struct rdp_session *s = start(&r, DESK_W, DESK_H);

	ck_assert_ptr_nonnull(client);
	ck_assert(rdp_session_ready(s));
	paint_article(&r, 0);
	send_damage_all(&r, s);
	client_frame(s, client, moves, &nmoves);
	ck_assert(client_matches(&r, client));

	/* Scrolled by 24 rows: one move up; only the new strip and the edge are painted. */
	paint_article(&r, 24);
	send_damage_all(&r, s);
	int64_t painted = client_frame(s, client, moves, &nmoves);
	ck_assert_uint_eq(nmoves, 1);
	ck_assert_int_eq(moves[0].dy, -24);
	/* (rectangles are merged when that wastes at most 64x64 pixels) */
	ck_assert_int_le(painted, 24 * DESK_W + DESK_H * FBDIFF_SCROLL_EDGE + 2 * 64 * 64);
	ck_assert(client_matches(&r, client));

	/* A change, then a scroll before the client got a frame: the change moves too. */
	for (int y = 100; y < 110; y++)
		for (int x = 10; x < 30; x++)
			put_le32(r.px + ((size_t)y * r.width + (size_t)x) * 4, 0x00ff0000u);
	send_damage_all(&r, s);
	memmove(r.px, r.px + (size_t)40 * r.width * 4, (size_t)(DESK_H - 40) * r.width * 4);
	for (uint32_t y = DESK_H - 40; y < DESK_H; y++)
		memset(r.px + (size_t)y * r.width * 4, 0x40 + (int)y, (size_t)r.width * 4);
	send_damage_all(&r, s);
	client_frame(s, client, moves, &nmoves);
	ck_assert_uint_eq(nmoves, 1);
	ck_assert_int_eq(moves[0].dy, -40);
	ck_assert(client_matches(&r, client));

	/* A full refresh drops the moves: everything is painted anyway. */
	paint_article(&r, 30);
	send_damage_all(&r, s);
	rdp_session_mark_all(s);
	ck_assert_int_eq(client_frame(s, client, moves, &nmoves), DESK_W * DESK_H);
	ck_assert_uint_eq(nmoves, 0);
	ck_assert(client_matches(&r, client));
	free(client);
	rdp_session_destroy(s);
	close(r.fd);
}
END_TEST

/* Sends one damage report of the whole desktop, using the credit render has. */
static void damage_once(struct fake_render *r, struct rdp_session *s)
{
	struct pixlink_msg d = {.type = PIXLINK_DAMAGE};

	d.u.damage =
	    (struct pixlink_damage){.seq = ++r->seq, .generation = r->generation, .nrects = 1};
	d.u.damage.rects[0] = (struct pixlink_rect){0, 0, DESK_W, DESK_H};
	send_msg(r, &d, -1);
	ck_assert_int_eq(rdp_session_read(s), 0);
}

/*
 * [display] max_fps 2: credits keep to a schedule of one per 500 ms. Two
 * go at once after a pause (a key answered at once); then a frame wanted
 * early waits for its time, and rdp_session_read gives it then.
 */
START_TEST(frames_keep_to_max_fps)
{
	struct fake_render r;

	cfg.display_max_fps = 2;
	struct rdp_session *s = start(&r, DESK_W, DESK_H);
	ck_assert(rdp_session_ready(s));
	ck_assert_int_eq(rdp_session_frame_wait_ms(s), -1);
	for (int i = 0; i < 2; i++) {
		rdp_session_want_frame(s);
		expect_msg(&r, PIXLINK_CREDIT);
		damage_once(&r, s);
	}
	uint64_t t0 = now_ms();
	rdp_session_want_frame(s);
	ck_assert_ptr_null(next_msg(&r));
	int64_t wait = rdp_session_frame_wait_ms(s);
	ck_assert_int_gt(wait, 0);
	ck_assert_int_le(wait, 500);
	ck_assert_int_eq(rdp_session_read(s), 0);
	ck_assert_ptr_null(next_msg(&r)); /* not before its time */
	usleep((useconds_t)wait * 1000 + 5000);
	ck_assert_int_eq(rdp_session_frame_wait_ms(s), 0);
	ck_assert_int_eq(rdp_session_read(s), 0);
	expect_msg(&r, PIXLINK_CREDIT);
	ck_assert_int_ge(now_ms() - t0, (uint64_t)wait);
	ck_assert_int_eq(rdp_session_frame_wait_ms(s), -1);
	damage_once(&r, s);

	/* The next one waits a whole gap, not less: the schedule is not behind. */
	rdp_session_want_frame(s);
	ck_assert_ptr_null(next_msg(&r));
	ck_assert_int_gt(rdp_session_frame_wait_ms(s), 250);
	rdp_session_destroy(s);
	close(r.fd);
	cfg.display_max_fps = 0;
}
END_TEST

START_TEST(render_refusing_the_size_is_shown_anyway)
{
	struct fake_render r;
	struct pixlink_msg n = {.type = PIXLINK_NOTICE};
	struct rdp_session *s = start(&r, 200, 100);

	expect_msg(&r, PIXLINK_RESIZE);
	ck_assert(!rdp_session_ready(s));
	n.u.notice = (struct pixlink_notice){PIXLINK_NOTICE_RESIZE_REFUSED, 4, "size"};
	send_msg(&r, &n, -1);
	ck_assert_int_eq(rdp_session_read(s), 0);
	ck_assert(rdp_session_ready(s));
	ck_assert_uint_eq(pixel(s, 199, 99), 0x000163c7u);
	ck_assert_uint_eq(pixel(s, 200, 100), 0); /* padded with black */
	rdp_session_destroy(s);
	close(r.fd);
}
END_TEST

static void expect_key(struct fake_render *r, uint32_t scancode, bool down)
{
	const struct pixlink_msg *m = expect_msg(r, PIXLINK_KEY);

	ck_assert_uint_eq(m->u.key.keysym, 0);
	ck_assert_uint_eq(m->u.key.scancode, scancode);
	ck_assert_int_eq(m->u.key.down, down);
}

static void expect_pointer(struct fake_render *r, uint16_t x, uint16_t y, uint32_t buttons)
{
	const struct pixlink_msg *m = expect_msg(r, PIXLINK_POINTER);

	ck_assert_uint_eq(m->u.pointer.x, x);
	ck_assert_uint_eq(m->u.pointer.y, y);
	ck_assert_uint_eq(m->u.pointer.buttons, buttons);
}

START_TEST(input_is_forwarded_and_released)
{
	struct fake_render r;
	struct rdp_session *s = start(&r, DESK_W, DESK_H);

	ck_assert_ptr_null(next_msg(&r));
	rdp_session_key(s, 0x2a, true); /* left Shift */
	expect_key(&r, 0x2a, true);
	rdp_session_key(s, 0xe04b, true); /* Left, extended */
	expect_key(&r, 0xe04b, true);
	rdp_session_key(s, 0xe04b, false);
	expect_key(&r, 0xe04b, false);
	rdp_session_key(s, 0x1e, false); /* never pressed: not forwarded */
	ck_assert_ptr_null(next_msg(&r));

	rdp_session_utf16(s, 0xd83d); /* U+1F600 as a surrogate pair */
	ck_assert_ptr_null(next_msg(&r));
	rdp_session_utf16(s, 0xde00);
	ck_assert_uint_eq(expect_msg(&r, PIXLINK_UNICODE)->u.codepoint, 0x1f600);
	rdp_session_utf16(s, 0xde00); /* a lone low surrogate */
	rdp_session_utf16(s, 0x0d);   /* a control character */
	ck_assert_ptr_null(next_msg(&r));
	rdp_session_utf16(s, 0x65e5); /* 日 */
	ck_assert_uint_eq(expect_msg(&r, PIXLINK_UNICODE)->u.codepoint, 0x65e5);

	rdp_session_move(s, 5000, -3);
	expect_pointer(&r, DESK_W - 1, 0, 0);
	rdp_session_button(s, PIXLINK_BUTTON_RIGHT, true);
	expect_pointer(&r, DESK_W - 1, 0, PIXLINK_BUTTON_RIGHT);
	rdp_session_button(s, PIXLINK_BUTTON_RIGHT, true); /* no change: nothing sent */
	ck_assert_ptr_null(next_msg(&r));
	rdp_session_wheel(s, 0, 1000);
	const struct pixlink_msg *m = expect_msg(&r, PIXLINK_WHEEL);
	ck_assert_int_eq(m->u.wheel.dx, 0);
	ck_assert_int_eq(m->u.wheel.dy, 100);
	rdp_session_wheel(s, 0, 0);
	ck_assert_ptr_null(next_msg(&r));

	/* The client goes: Shift and the right button are let go. */
	rdp_session_destroy(s);
	expect_key(&r, 0x2a, false);
	expect_pointer(&r, DESK_W - 1, 0, 0);
	ck_assert_ptr_null(next_msg(&r));
	close(r.fd);
}
END_TEST

START_TEST(cursor_is_kept_once)
{
	struct fake_render r;
	struct pixlink_msg c = {.type = PIXLINK_CURSOR};
	uint8_t pixels[4 * 4 * 4];
	struct rdp_session *s = start(&r, DESK_W, DESK_H);

	ck_assert_ptr_null(rdp_session_take_cursor(s));
	memset(pixels, 0x7f, sizeof(pixels));
	c.u.cursor = (struct pixlink_cursor){1, 4, 4, 1, 2, pixels};
	send_msg(&r, &c, -1);
	ck_assert_int_eq(rdp_session_read(s), 0);
	const struct rdp_cursor *cur = rdp_session_take_cursor(s);
	ck_assert_ptr_nonnull(cur);
	ck_assert(cur->width == 4 && cur->height == 4 && cur->hot_x == 1 && cur->hot_y == 2);
	ck_assert_uint_eq(cur->pixels[63], 0x7f);
	ck_assert_ptr_null(rdp_session_take_cursor(s));
	rdp_session_destroy(s);
	close(r.fd);
}
END_TEST

Suite *suite_rdp_session(void)
{
	Suite *s = suite_create("rdp_session");
	TCase *tc = tcase_create("rdp_session");
	tcase_add_test(tc, picture_follows_the_desktop);
	tcase_add_test(tc, render_refusing_the_size_is_shown_anyway);
	tcase_add_test(tc, scroll_becomes_a_move);
	tcase_add_test(tc, frames_keep_to_max_fps);
	tcase_add_test(tc, input_is_forwarded_and_released);
	tcase_add_test(tc, cursor_is_kept_once);
	suite_add_tcase(s, tc);
	return s;
}
