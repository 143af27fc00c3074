/*
 * The session's event loop inside the sandbox (see session.h). It reads
 * input and control messages from shojid (parsed with pixlink_parse), X
 * events from the private X server, connections from the browser to the
 * egress listener, and child exits. Damage is sent only against credit.
 */
#include "autoconfig.h"

#include <X11/extensions/Xfixes.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "browser.h"
#include "capture.h"
#include "clipboard.h"
#include "ime.h"
#include "input.h"
#include "log.h"
#include "pixlink.h"
#include "sandbox.h"
#include "session.h"
#include "util.h"
#include "wm.h"
#include "xserver.h"

#define RESTART_WINDOW_MS 60000
#define MAX_RESTARTS 5
#define SANDBOX_CHECK_DELAY_MS 8000
#define SESSION_IME_DIR "/tmp/ime" /* the sandbox's private /tmp */

struct session {
	const struct session_opts *o;
	struct xserver xs;
	struct ime *ime;
	Display *dpy;
	struct wm *wm;
	struct capture *cap;
	struct input *in;
	struct clipboard *clip;
	int xfixes_event;
	unsigned long cursor_serial;
	pid_t browser;
	uint64_t restarts[MAX_RESTARTS];
	uint64_t sandbox_check_at;
	int listen_fd, sig_fd;
	uint32_t credit, seq;
	bool link_full; /* a send found the link full: wait until it can take one */
	bool done;
	int status;
};

static int send_msg(struct session *s, const struct pixlink_msg *m, int fd)
{
	s->link_full = false;
	if (pixlink_send_msg(s->o->link_fd, m, fd) == 0)
		return 0;
	if (errno == EAGAIN) {
		s->link_full = true;
		/* Nobody reads (a detached session): the next reader resyncs. */
		log_debug("pixel link full; %s dropped", pixlink_type_name(m->type));
		return -1;
	}
	log_warn("pixel link send failed: %s", strerror(errno));
	s->done = true;
	s->status = 1;
	return -1;
}

static int send_framebuffer(struct session *s)
{
	struct pixlink_msg m = { .type = PIXLINK_FRAMEBUFFER };
	m.u.fb = *capture_framebuffer(s->cap);
	return send_msg(s, &m, capture_framebuffer_fd(s->cap));
}

static void send_notice(struct session *s, uint32_t code, const char *text)
{
	struct pixlink_msg m = { .type = PIXLINK_NOTICE };
	m.u.notice.code = code;
	m.u.notice.text = text;
	m.u.notice.len = (uint16_t)strlen(text);
	send_msg(s, &m, -1);
}

static void flush_damage(struct session *s)
{
	if (s->credit == 0 || !capture_pending(s->cap))
		return;
	struct pixlink_msg *m = xcalloc(1, sizeof(*m));
	m->type = PIXLINK_DAMAGE;
	if (capture_grab(s->cap, &m->u.damage) == 0) {
		m->u.damage.seq = s->seq + 1;
		if (send_msg(s, m, -1) == 0) {
			s->seq++;
			s->credit--;
		} else {
			capture_damage_all(s->cap); /* whatever was lost, send it all again */
		}
	}
	free(m);
}

static void send_cursor(struct session *s)
{
	XFixesCursorImage *img = XFixesGetCursorImage(s->dpy);
	if (!img)
		return;
	if (img->cursor_serial != s->cursor_serial) {
		s->cursor_serial = img->cursor_serial;
		uint16_t w = (uint16_t)MIN(img->width, PIXLINK_MAX_CURSOR);
		uint16_t h = (uint16_t)MIN(img->height, PIXLINK_MAX_CURSOR);
		uint8_t *px = xcalloc((size_t)w * h, 4);
		for (size_t y = 0; y < h; y++)
			for (size_t x = 0; x < w; x++)
				put_le32(px + (y * w + x) * 4,
					 (uint32_t)img->pixels[y * img->width + x]);
		struct pixlink_msg m = { .type = PIXLINK_CURSOR };
		m.u.cursor = (struct pixlink_cursor){ .serial = (uint32_t)img->cursor_serial,
						      .width = w, .height = h,
						      .hot_x = (uint16_t)MIN(img->xhot, w - 1u),
						      .hot_y = (uint16_t)MIN(img->yhot, h - 1u),
						      .pixels = px };
		send_msg(s, &m, -1);
		free(px);
	}
	XFree(img);
}

static void handle_x_events(struct session *s)
{
	while (XPending(s->dpy)) {
		XEvent ev;
		XNextEvent(s->dpy, &ev);
		if (capture_handle_event(s->cap, &ev) || wm_handle_event(s->wm, &ev) ||
		    clipboard_handle_event(s->clip, &ev))
			continue;
		if (ev.type == s->xfixes_event + XFixesCursorNotify)
			send_cursor(s);
	}
}

static void do_resize(struct session *s, uint16_t w, uint16_t h)
{
	if (w > s->o->max_width || h > s->o->max_height || w < 64 || h < 64) {
		log_warn("refusing desktop size %ux%u (allowed up to %ux%u)", w, h,
			 s->o->max_width, s->o->max_height);
		send_notice(s, PIXLINK_NOTICE_RESIZE_REFUSED, "desktop size out of range");
		return;
	}
	if (capture_resize(s->cap, w, h) < 0) {
		send_notice(s, PIXLINK_NOTICE_RESIZE_REFUSED, "the X server refused the size");
		return;
	}
	wm_relayout(s->wm);
	send_framebuffer(s);
}

/* A new reader took the link over: start the conversation afresh. */
static void resync(struct session *s, uint32_t token)
{
	struct pixlink_msg hello = { .type = PIXLINK_HELLO };

	s->credit = 0;
	s->seq = 0;
	s->cursor_serial = 0;
	input_release_all(s->in);
	hello.u.hello = (struct pixlink_hello){ .version = PIXLINK_VERSION,
						.pid = (uint32_t)getpid(),
						.token = token };
	if (send_msg(s, &hello, -1) == 0 && send_framebuffer(s) == 0) {
		capture_damage_all(s->cap);
		send_cursor(s);
	}
}

/* The browser's clipboard changed (and [policy] clipboard_to_terminal allows it). */
static void send_clipboard(void *arg, const uint8_t *text, size_t len)
{
	struct session *s = arg;
	struct pixlink_msg m = { .type = PIXLINK_CLIPBOARD_OUT };

	m.u.clip = (struct pixlink_clipboard){ .len = (uint32_t)len, .text = text };
	send_msg(s, &m, -1);
}

/* The viewer's clipboard; refused here too when [policy] keeps it out. */
static void receive_clipboard(struct session *s, const struct pixlink_clipboard *c)
{
	if (clipboard_set(s->clip, c->text, c->len) < 0)
		log_warn("clipboard text of %u bytes from shojid refused: %s", c->len,
			 errno == EPERM ? "[policy] clipboard_to_browser is off" : "too long");
}

static void handle_link_msg(struct session *s, const struct pixlink_msg *m)
{
	switch (m->type) {
	case PIXLINK_CREDIT:
		s->credit = MIN(s->credit + m->u.credit, (uint32_t)PIXLINK_MAX_CREDIT);
		break;
	case PIXLINK_KEY:
		if (m->u.key.keysym == 0 && m->u.key.scancode != 0)
			input_scancode(s->in, m->u.key.scancode, m->u.key.down);
		else
			input_key(s->in, ime_keysym(m->u.key.keysym), m->u.key.down);
		break;
	case PIXLINK_UNICODE:
		input_unicode(s->in, m->u.codepoint);
		break;
	case PIXLINK_POINTER:
		input_pointer(s->in, m->u.pointer.x, m->u.pointer.y, m->u.pointer.buttons);
		break;
	case PIXLINK_WHEEL:
		input_wheel(s->in, m->u.wheel.dx, m->u.wheel.dy);
		break;
	case PIXLINK_RESIZE:
		do_resize(s, m->u.size.width, m->u.size.height);
		break;
	case PIXLINK_PING: {
		struct pixlink_msg pong = { .type = PIXLINK_PONG, .u.seq = m->u.seq };
		send_msg(s, &pong, -1);
		break;
	}
	case PIXLINK_REFRESH:
		capture_damage_all(s->cap);
		break;
	case PIXLINK_RESYNC:
		resync(s, m->u.seq);
		break;
	case PIXLINK_CLIPBOARD_IN:
		receive_clipboard(s, &m->u.clip);
		break;
	default:
		log_warn("unexpected pixel-link message type %d from shojid", m->type);
		s->done = true;
		s->status = 1;
	}
}

static void handle_link(struct session *s)
{
	uint8_t *buf = xcalloc(1, PIXLINK_MAX_MSG);
	int fd = -1;
	ssize_t n = pixlink_recv(s->o->link_fd, buf, PIXLINK_MAX_MSG, &fd);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		/* A reset only means shojid closed with our messages unread. */
		bool clean = n == 0 || errno == ECONNRESET;
		log_info("pixel link closed%s%s", clean ? "" : ": ", clean ? "" : strerror(errno));
		s->done = true;
		s->status = clean ? 0 : 1;
	} else if (n > 0) {
		struct pixlink_msg m;
		if (fd >= 0 || pixlink_parse(buf, (size_t)n, &m) != n) {
			log_warn("malformed pixel-link message from shojid");
			s->done = true;
			s->status = 1;
		} else {
			handle_link_msg(s, &m);
		}
	}
	if (fd >= 0)
		close(fd);
	free(buf);
}

/* Hands a browser connection to the supervisor's egress proxy. */
static void handle_egress(struct session *s)
{
	for (;;) {
		int c = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			return;
		static const uint8_t tag = 'c';
		if (pixlink_send(s->o->egress_fd, &tag, 1, c) < 0)
			log_warn("cannot pass a browser connection to the egress proxy: %s",
				 strerror(errno));
		close(c);
	}
}

static bool restart_allowed(struct session *s)
{
	uint64_t now = now_ms();
	memmove(s->restarts + 1, s->restarts, sizeof(s->restarts[0]) * (MAX_RESTARTS - 1));
	s->restarts[0] = now;
	return s->restarts[MAX_RESTARTS - 1] == 0 ||
	       now - s->restarts[MAX_RESTARTS - 1] > RESTART_WINDOW_MS;
}

static void start_browser(struct session *s)
{
	struct browser_opts b = s->o->browser;
	b.width = (uint16_t)capture_framebuffer(s->cap)->width;
	b.height = (uint16_t)capture_framebuffer(s->cap)->height;
	s->browser = browser_start(&b);
	s->sandbox_check_at = now_ms() + SANDBOX_CHECK_DELAY_MS;
	log_info("browser started (pid %d)", (int)s->browser);
}

static void handle_child_exit(struct session *s, pid_t pid, int status)
{
	if (ime_child_exited(s->ime, pid, status))
		return;
	if (pid == s->xs.pid) {
		log_error("the X server exited (status 0x%x); ending the session", status);
		s->xs.pid = -1;
		s->done = true;
		s->status = 1;
		return;
	}
	if (pid != s->browser)
		return;
	browser_stop(pid); /* the rest of its process group */
	s->browser = -1;
	if (!restart_allowed(s)) {
		log_error("the browser exited %d times within %d s; ending the session",
			  MAX_RESTARTS, RESTART_WINDOW_MS / 1000);
		send_notice(s, PIXLINK_NOTICE_BROWSER_FAILING, "the browser keeps failing");
		s->done = true;
		s->status = 1;
		return;
	}
	log_info("the browser exited (status 0x%x); starting it again", status);
	send_notice(s, PIXLINK_NOTICE_BROWSER_RESTARTED, "the browser was restarted");
	start_browser(s);
}

static void handle_signals(struct session *s)
{
	struct signalfd_siginfo si;

	while (read(s->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			s->done = true;
			continue;
		}
	}
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		handle_child_exit(s, pid, status);
}

static int open_egress_listener(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(BROWSER_PROXY_PORT) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
		log_error("cannot listen on 127.0.0.1:%d: %s", BROWSER_PROXY_PORT, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int open_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* Windows vanish between an event and our request about them: not fatal. */
static int on_x_error(Display *dpy, XErrorEvent *e)
{
	char text[128];
	XGetErrorText(dpy, e->error_code, text, sizeof(text));
	log_debug("X error ignored: %s (request %d)", text, e->request_code);
	return 0;
}

static int on_x_io_error(Display *dpy)
{
	(void)dpy;
	log_error("lost the connection to the session's X server");
	_exit(1);
}

static int setup(struct session *s)
{
	const struct session_opts *o = s->o;

	s->listen_fd = open_egress_listener();
	s->sig_fd = open_signals();
	if (s->listen_fd < 0 || s->sig_fd < 0)
		return -1;
	if (xserver_start(&s->xs, SESSION_X_SERVER, o->browser.width, o->browser.height, 10000) < 0)
		return -1;
	/* Before anything reads the keymap: the IME sets the Japanese layout. */
	struct ime_opts io = { .home = SANDBOX_HOME, .run_dir = SESSION_IME_DIR };
	s->ime = ime_start(&io);
	s->dpy = XOpenDisplay(NULL);
	if (!s->dpy) {
		log_error("cannot open the session's display %s", s->xs.display_name);
		return -1;
	}
	XSetErrorHandler(on_x_error);
	XSetIOErrorHandler(on_x_io_error);
	int err, major = 5, minor = 0;
	if (!XFixesQueryExtension(s->dpy, &s->xfixes_event, &err))
		return -1;
	XFixesQueryVersion(s->dpy, &major, &minor);
	s->wm = wm_create(s->dpy);
	s->cap = capture_create(s->dpy);
	s->in = input_create(s->dpy);
	struct clipboard_opts co = { .to_browser = o->clipboard_to_browser,
				     .to_terminal = o->clipboard_to_terminal,
				     .max_bytes = o->clipboard_max_bytes,
				     .on_text = send_clipboard,
				     .arg = s };
	s->clip = clipboard_create(s->dpy, s->xfixes_event, &co);
	if (!s->wm || !s->cap || !s->in || !s->clip)
		return -1;
	XFixesSelectCursorInput(s->dpy, DefaultRootWindow(s->dpy), XFixesDisplayCursorNotifyMask);
	XSync(s->dpy, False);

	struct pixlink_msg hello = { .type = PIXLINK_HELLO };
	hello.u.hello = (struct pixlink_hello){ .version = PIXLINK_VERSION, .pid = (uint32_t)getpid() };
	if (send_msg(s, &hello, -1) < 0 || send_framebuffer(s) < 0)
		return -1;
	start_browser(s);
	return 0;
}

static void teardown(struct session *s)
{
	browser_stop(s->browser);
	ime_stop(s->ime);
	clipboard_destroy(s->clip);
	input_destroy(s->in);
	capture_destroy(s->cap);
	wm_destroy(s->wm);
	if (s->dpy)
		XCloseDisplay(s->dpy);
	xserver_stop(&s->xs);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->sig_fd >= 0)
		close(s->sig_fd);
}

/*
 * Damage the link had no room for: flush_damage tries again once the
 * link can take it, not only when the next X event or message comes
 * (after the last change on the page none would).
 */
static bool damage_waits(struct session *s)
{
	return s->link_full && s->credit > 0 && capture_pending(s->cap);
}

static void loop(struct session *s)
{
	while (!s->done) {
		handle_x_events(s);
		flush_damage(s);
		int timeout = -1;
		if (s->sandbox_check_at) {
			uint64_t now = now_ms();
			timeout = now >= s->sandbox_check_at ? 0 : (int)(s->sandbox_check_at - now);
		}
		/*
		 * Events that came while flush_damage waited for the X server's
		 * replies are in Xlib's queue, where poll() does not see them. The
		 * damage is reported only when it turns non-empty: one left there
		 * held the capture, the page still playing, until a message on the
		 * pixel link woke the loop. XPending also flushes.
		 */
		if (XPending(s->dpy) > 0)
			timeout = 0;
		struct pollfd p[4] = {
			{ .fd = s->o->link_fd, .events = POLLIN | (damage_waits(s) ? POLLOUT : 0) },
			{ .fd = ConnectionNumber(s->dpy), .events = POLLIN },
			{ .fd = s->listen_fd, .events = POLLIN },
			{ .fd = s->sig_fd, .events = POLLIN },
		};
		if (poll(p, 4, timeout) < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			handle_link(s);
		if (p[2].revents)
			handle_egress(s);
		if (p[3].revents)
			handle_signals(s);
		if (s->sandbox_check_at && now_ms() >= s->sandbox_check_at) {
			s->sandbox_check_at = 0;
			browser_check_sandbox();
		}
	}
}

int session_run(const struct session_opts *o)
{
	struct session s = { .o = o, .browser = -1, .listen_fd = -1, .sig_fd = -1 };

	s.xs.pid = -1;
	set_nonblock(o->link_fd, true);
	if (setup(&s) < 0) {
		teardown(&s);
		return 1;
	}
	loop(&s);
	teardown(&s);
	log_info("session ends (status %d)", s.status);
	return s.status;
}
