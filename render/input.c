/*
 * XTest injection (see input.h). A keysym the keymap lacks (a Japanese key
 * on a US map, a Unicode character) is bound to one of a few spare
 * keycodes (17 on jp106), reused least-recently first, as xdotool does.
 * Clients translate keycodes with their own copy of the keymap, at their
 * own pace: a rebinding is therefore fenced on both sides by a round trip
 * through the focused client, so that it has read the key events sent with
 * the old binding before the keymap changes, and the change before the
 * next key event.
 */
#include "autoconfig.h"

#include <X11/XKBlib.h>
#include <X11/extensions/XTest.h>
#include <X11/keysym.h>
#include <ctype.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include "input.h"
#include "log.h"
#include "pixlink.h"
#include "util.h"

#define SPARE_KEYCODES 64
#define REBIND_SETTLE_US 20000 /* when the focused client cannot be pinged */
#define PING_TIMEOUT_MS 2000
#define MAX_HELD 32

struct spare {
	KeyCode code;
	KeySym sym;
	uint64_t used;
	bool pressed; /* since the focused client last caught up */
};

struct input {
	Display *dpy;
	struct spare spare[SPARE_KEYCODES];
	size_t nspare;
	uint64_t clock;
	Atom wm_protocols, net_wm_ping;
	long ping_serial;
	KeyCode held[MAX_HELD];
	size_t nheld;
	uint32_t buttons;
	int width, height;
};

/* Finds keycodes that have no keysym at all, to bind spare keysyms to. */
static void find_spare_keycodes(struct input *in)
{
	int min, max, per;

	in->nspare = 0;
	XDisplayKeycodes(in->dpy, &min, &max);
	KeySym *map = XGetKeyboardMapping(in->dpy, (KeyCode)min, max - min + 1, &per);
	if (!map)
		return;
	for (int kc = max; kc >= min && in->nspare < SPARE_KEYCODES; kc--) {
		bool empty = true;
		for (int j = 0; j < per; j++)
			if (map[(kc - min) * per + j] != NoSymbol)
				empty = false;
		if (empty)
			in->spare[in->nspare++] = (struct spare){ .code = (KeyCode)kc };
	}
	XFree(map);
}

struct input *input_create(Display *dpy)
{
	int ev, err, major, minor;

	if (!XTestQueryExtension(dpy, &ev, &err, &major, &minor)) {
		log_error("the X server lacks XTEST");
		return NULL;
	}
	struct input *in = xcalloc(1, sizeof(*in));
	in->dpy = dpy;
	in->wm_protocols = XInternAtom(dpy, "WM_PROTOCOLS", False);
	in->net_wm_ping = XInternAtom(dpy, "_NET_WM_PING", False);
	find_spare_keycodes(in);
	return in;
}

void input_destroy(struct input *in)
{
	if (!in)
		return;
	input_release_all(in);
	free(in);
}

/* The top-level window holding the focus, if it answers _NET_WM_PING. */
static Window pingable_focus(struct input *in)
{
	Window focus, root = DefaultRootWindow(in->dpy), parent, *children;
	unsigned nchildren;
	int revert;

	XGetInputFocus(in->dpy, &focus, &revert);
	if (focus == None || focus == PointerRoot || focus == root)
		return None;
	for (;;) {
		if (!XQueryTree(in->dpy, focus, &root, &parent, &children, &nchildren))
			return None;
		if (children)
			XFree(children);
		if (parent == root || parent == None)
			break;
		focus = parent;
	}
	Atom *protocols;
	int n;
	bool pingable = false;
	if (XGetWMProtocols(in->dpy, focus, &protocols, &n)) {
		for (int i = 0; i < n; i++)
			pingable |= protocols[i] == in->net_wm_ping;
		XFree(protocols);
	}
	return pingable ? focus : None;
}

static Bool is_pong(Display *dpy, XEvent *ev, XPointer arg)
{
	const struct input *in = (const struct input *)arg;

	return ev->type == ClientMessage && ev->xclient.window == DefaultRootWindow(dpy) &&
	       ev->xclient.message_type == in->wm_protocols &&
	       (Atom)ev->xclient.data.l[0] == in->net_wm_ping &&
	       ev->xclient.data.l[1] == in->ping_serial;
}

/*
 * Waits until the focused client has read every event sent to it so far:
 * a _NET_WM_PING queued behind them comes back (to the root window, which
 * the window manager on this connection watches) once the client got to
 * it. Other events stay queued for the session's loop. False if there is
 * no such client or it did not answer in time.
 */
static bool focus_caught_up(struct input *in)
{
	Window top = pingable_focus(in);
	if (top == None)
		return false;
	XEvent ev = { .xclient = { .type = ClientMessage, .window = top,
				   .message_type = in->wm_protocols, .format = 32 } };
	ev.xclient.data.l[0] = (long)in->net_wm_ping;
	ev.xclient.data.l[1] = ++in->ping_serial;
	ev.xclient.data.l[2] = (long)top;
	XSendEvent(in->dpy, top, False, NoEventMask, &ev);
	XFlush(in->dpy);
	uint64_t end = now_ms() + PING_TIMEOUT_MS;
	XEvent pong;
	while (!XCheckIfEvent(in->dpy, &pong, is_pong, (XPointer)in)) {
		uint64_t now = now_ms();
		if (now >= end) {
			log_warn("the focused window did not answer a ping in %d ms",
				 PING_TIMEOUT_MS);
			return false;
		}
		struct pollfd pfd = { .fd = ConnectionNumber(in->dpy), .events = POLLIN };
		poll(&pfd, 1, (int)MIN(end - now, 50));
	}
	for (size_t i = 0; i < in->nspare; i++)
		in->spare[i].pressed = false;
	return true;
}

static bool is_spare(const struct input *in, KeyCode kc)
{
	for (size_t i = 0; i < in->nspare; i++)
		if (in->spare[i].code == kc)
			return true;
	return false;
}

/*
 * Whether the server's keymap still binds sp's keysym: one that was
 * loaded afresh (fcitx5 does so when it starts again) has none of ours.
 */
static bool still_bound(struct input *in, const struct spare *sp)
{
	int per;
	KeySym *map = XGetKeyboardMapping(in->dpy, sp->code, 1, &per);
	bool bound = map && per > 0 && map[0] == sp->sym;

	if (map)
		XFree(map);
	return bound;
}

/* A keycode for keysym, binding a spare one if the keymap has none. */
static KeyCode keycode_for(struct input *in, KeySym sym)
{
	if (sym == NoSymbol)
		return 0;
	if (in->nspare == 0)
		return XKeysymToKeycode(in->dpy, sym);
	/*
	 * The spare keycodes first, so that every use counts in the least
	 * recently used order: found through XKeysymToKeycode(), a spare
	 * never looked used, and the most frequent characters (the space)
	 * were rebound first, a few characters after they were typed, while
	 * a client could still be translating them ("fox jumps" arrived as
	 * "foxsjumps").
	 */
	for (size_t i = 0; i < in->nspare; i++) {
		if (in->spare[i].sym != sym || still_bound(in, &in->spare[i]))
			continue;
		log_info("the keyboard map was loaded afresh; binding spare keycodes again");
		XRefreshKeyboardMapping(&(XMappingEvent){.display = in->dpy,
		                                         .request = MappingKeyboard,
		                                         .first_keycode = 8,
		                                         .count = 248});
		find_spare_keycodes(in);
		break;
	}
	struct spare *lru = &in->spare[0];
	for (size_t i = 0; i < in->nspare; i++) {
		if (in->spare[i].sym == sym) {
			in->spare[i].used = ++in->clock;
			in->spare[i].pressed = true;
			return in->spare[i].code;
		}
		if (in->spare[i].used < lru->used)
			lru = &in->spare[i];
	}
	KeyCode kc = XKeysymToKeycode(in->dpy, sym);
	if (kc && !is_spare(in, kc))
		return kc;
	/*
	 * A client that rereads the keymap while a key event sent with the
	 * old binding still waits in its queue reads that event with the new
	 * one; and one that has not yet seen the change reads the next event
	 * with the old one. A fixed pause only makes that unlikely.
	 */
	if (lru->pressed)
		focus_caught_up(in);
	KeySym syms[2] = { sym, sym };
	XChangeKeyboardMapping(in->dpy, lru->code, 2, syms, 1);
	XSync(in->dpy, False);
	/*
	 * Twice: the first answer comes once the client has read the
	 * MappingNotify and asked for the new keymap, the second once it has
	 * also read the reply, which the server sent ahead of the second ping.
	 */
	if (!focus_caught_up(in) || !focus_caught_up(in))
		usleep(REBIND_SETTLE_US);
	lru->sym = sym;
	lru->used = ++in->clock;
	lru->pressed = true;
	return lru->code;
}

static void track_key(struct input *in, KeyCode kc, bool down)
{
	for (size_t i = 0; i < in->nheld; i++) {
		if (in->held[i] != kc)
			continue;
		if (!down)
			in->held[i] = in->held[--in->nheld];
		return;
	}
	if (down && in->nheld < MAX_HELD)
		in->held[in->nheld++] = kc;
}

static bool shift_held(struct input *in)
{
	KeyCode l = XKeysymToKeycode(in->dpy, XK_Shift_L);
	KeyCode r = XKeysymToKeycode(in->dpy, XK_Shift_R);
	for (size_t i = 0; i < in->nheld; i++)
		if (in->held[i] == l || in->held[i] == r)
			return true;
	return false;
}

/* Presses (down) or releases again every Shift key the viewer holds. */
static void press_held_shifts(struct input *in, bool down)
{
	KeyCode l = XKeysymToKeycode(in->dpy, XK_Shift_L);
	KeyCode r = XKeysymToKeycode(in->dpy, XK_Shift_R);
	for (size_t i = 0; i < in->nheld; i++)
		if (in->held[i] == l || in->held[i] == r)
			XTestFakeKeyEvent(in->dpy, in->held[i], down, CurrentTime);
}

void input_key(struct input *in, uint32_t keysym, bool down)
{
	KeyCode kc = keycode_for(in, keysym);
	if (!kc) {
		log_debug("no keycode for keysym 0x%x", keysym);
		return;
	}
	/*
	 * A viewer that sends an upper-case keysym without Shift held (some
	 * do for typed text) still gets the upper-case character.
	 */
	bool spare = is_spare(in, kc); /* bound by us, the same keysym on both levels */
	bool need_shift = down && !spare && XkbKeycodeToKeysym(in->dpy, kc, 0, 0) != keysym &&
			  XkbKeycodeToKeysym(in->dpy, kc, 0, 1) == keysym && !shift_held(in);
	/*
	 * And the other way round: a viewer holds Shift for a symbol that is
	 * shifted on its keyboard ("@" on a US one) but has an unshifted key
	 * in the session's Japanese layout.
	 */
	bool drop_shift = down && !spare && keysym > 0x20 && keysym < 0x7f && !isalnum((int)keysym) &&
			  XkbKeycodeToKeysym(in->dpy, kc, 0, 0) == keysym && shift_held(in);
	KeyCode shift = XKeysymToKeycode(in->dpy, XK_Shift_L);
	if (need_shift && shift)
		XTestFakeKeyEvent(in->dpy, shift, True, CurrentTime);
	if (drop_shift)
		press_held_shifts(in, false);
	XTestFakeKeyEvent(in->dpy, kc, down, CurrentTime);
	if (drop_shift)
		press_held_shifts(in, true);
	if (need_shift && shift)
		XTestFakeKeyEvent(in->dpy, shift, False, CurrentTime);
	track_key(in, kc, down);
	XFlush(in->dpy);
}

/*
 * PC/AT set-1 scancodes (RDP's; 0xe0xx for extended keys) to evdev key
 * codes. The X servers shoji runs use the evdev keymap, whose keycodes are
 * evdev + 8; which character a key gives is the keymap's business (jp106
 * in the sandbox), so one table serves every layout.
 */
static unsigned scancode_to_evdev(uint32_t scancode)
{
	static const struct {
		uint16_t scancode;
		uint8_t evdev;
	} table[] = {
		{ 0x54, 99 }, /* SysRq (Alt+Print Screen) */
		{ 0x59, 117 }, /* keypad = */
		{ 0x70, 93 }, /* Katakana/Hiragana */
		{ 0x73, 89 }, /* Ro (JP \ _) */
		{ 0x79, 92 }, /* Henkan */
		{ 0x7b, 94 }, /* Muhenkan */
		{ 0x7d, 124 }, /* Yen */
		{ 0x7e, 121 }, /* keypad , (Brazil) */
		{ 0xf1, 123 }, /* Hanja */
		{ 0xf2, 122 }, /* Hangeul */
		{ 0xe010, 165 }, /* previous track */
		{ 0xe019, 163 }, /* next track */
		{ 0xe01c, 96 }, /* keypad Enter */
		{ 0xe01d, 97 }, /* right Ctrl */
		{ 0xe020, 113 }, /* mute */
		{ 0xe022, 164 }, /* play/pause */
		{ 0xe024, 166 }, /* stop */
		{ 0xe02e, 114 }, /* volume down */
		{ 0xe030, 115 }, /* volume up */
		{ 0xe032, 172 }, /* browser home */
		{ 0xe035, 98 }, /* keypad / */
		{ 0xe037, 99 }, /* Print Screen */
		{ 0xe038, 100 }, /* right Alt */
		{ 0xe046, 119 }, /* Break (Ctrl+Pause) */
		{ 0xe047, 102 }, /* Home */
		{ 0xe048, 103 }, /* Up */
		{ 0xe049, 104 }, /* Page Up */
		{ 0xe04b, 105 }, /* Left */
		{ 0xe04d, 106 }, /* Right */
		{ 0xe04f, 107 }, /* End */
		{ 0xe050, 108 }, /* Down */
		{ 0xe051, 109 }, /* Page Down */
		{ 0xe052, 110 }, /* Insert */
		{ 0xe053, 111 }, /* Delete */
		{ 0xe05b, 125 }, /* left Windows */
		{ 0xe05c, 126 }, /* right Windows */
		{ 0xe05d, 127 }, /* Menu */
		{ 0xe065, 217 }, /* browser search */
		{ 0xe066, 156 }, /* browser favourites */
		{ 0xe067, 173 }, /* browser refresh */
		{ 0xe068, 128 }, /* browser stop */
		{ 0xe069, 159 }, /* browser forward */
		{ 0xe06a, 158 }, /* browser back */
	};

	/* Escape to F12 share their numbers, keypad included (0x47..0x53). */
	if (scancode >= 0x01 && scancode <= 0x58 && scancode != 0x54 && scancode != 0x55)
		return scancode;
	for (size_t i = 0; i < ARRAY_SIZE(table); i++)
		if (table[i].scancode == scancode)
			return table[i].evdev;
	return 0;
}

void input_scancode(struct input *in, uint32_t scancode, bool down)
{
	int min, max;
	unsigned evdev = scancode_to_evdev(scancode);

	XDisplayKeycodes(in->dpy, &min, &max);
	if (evdev == 0 || (int)evdev + 8 < min || (int)evdev + 8 > max) {
		log_debug("no keycode for scancode 0x%x", scancode);
		return;
	}
	KeyCode kc = (KeyCode)(evdev + 8);
	XTestFakeKeyEvent(in->dpy, kc, down, CurrentTime);
	track_key(in, kc, down);
	XFlush(in->dpy);
}

void input_unicode(struct input *in, uint32_t codepoint)
{
	/*
	 * Keysyms 0x01000000 + code point stand for any Unicode character;
	 * always that form, even for ASCII: no key of the layout carries it,
	 * so the input method passes the character through instead of
	 * composing it ("a" stays "a" in Japanese mode, not "あ").
	 */
	KeySym sym = 0x01000000 + codepoint;
	KeyCode kc = keycode_for(in, sym);
	if (!kc)
		return;
	XTestFakeKeyEvent(in->dpy, kc, True, CurrentTime);
	XTestFakeKeyEvent(in->dpy, kc, False, CurrentTime);
	XFlush(in->dpy);
}

static const struct {
	uint32_t bit;
	unsigned button;
} button_map[] = {
	{ PIXLINK_BUTTON_LEFT, 1 },  { PIXLINK_BUTTON_MIDDLE, 2 },   { PIXLINK_BUTTON_RIGHT, 3 },
	{ PIXLINK_BUTTON_BACK, 8 },  { PIXLINK_BUTTON_FORWARD, 9 },
};

void input_pointer(struct input *in, int x, int y, uint32_t buttons)
{
	int sw = DisplayWidth(in->dpy, DefaultScreen(in->dpy));
	int sh = DisplayHeight(in->dpy, DefaultScreen(in->dpy));
	Window root = DefaultRootWindow(in->dpy), r;
	int rx, ry;
	unsigned w, h, bw, d;

	/* Xlib's cached screen size lags RandR; ask the server. */
	if (XGetGeometry(in->dpy, root, &r, &rx, &ry, &w, &h, &bw, &d)) {
		sw = (int)w;
		sh = (int)h;
	}
	x = MAX(0, MIN(x, sw - 1));
	y = MAX(0, MIN(y, sh - 1));
	XTestFakeMotionEvent(in->dpy, -1, x, y, CurrentTime);
	for (size_t i = 0; i < ARRAY_SIZE(button_map); i++) {
		bool was = in->buttons & button_map[i].bit, is = buttons & button_map[i].bit;
		if (was != is)
			XTestFakeButtonEvent(in->dpy, button_map[i].button, is, CurrentTime);
	}
	in->buttons = buttons & PIXLINK_BUTTON_MASK;
	XFlush(in->dpy);
}

static void click_button(struct input *in, unsigned button, int times)
{
	for (int i = 0; i < times; i++) {
		XTestFakeButtonEvent(in->dpy, button, True, CurrentTime);
		XTestFakeButtonEvent(in->dpy, button, False, CurrentTime);
	}
}

void input_wheel(struct input *in, int dx, int dy)
{
	/* X buttons 4/5 scroll up/down, 6/7 left/right. */
	click_button(in, dy < 0 ? 4 : 5, MIN(abs(dy), 20));
	click_button(in, dx < 0 ? 6 : 7, MIN(abs(dx), 20));
	XFlush(in->dpy);
}

void input_release_all(struct input *in)
{
	for (size_t i = 0; i < in->nheld; i++)
		XTestFakeKeyEvent(in->dpy, in->held[i], False, CurrentTime);
	in->nheld = 0;
	for (size_t i = 0; i < ARRAY_SIZE(button_map); i++)
		if (in->buttons & button_map[i].bit)
			XTestFakeButtonEvent(in->dpy, button_map[i].button, False, CurrentTime);
	in->buttons = 0;
	XFlush(in->dpy);
}
