/*
 * Japanese input inside a session's sandbox: the X keyboard set to the
 * Japanese 106/109-key layout, a private D-Bus session bus, and fcitx5 with
 * Mozc, which Chromium reaches through GTK's input-method module
 * (GTK_IM_MODULE=fcitx). 半角/全角 (Zenkaku_Hankaku) switches between direct
 * input and Japanese; a session starts in direct input. The configuration
 * is written into the session's home at start, so what Mozc learns is
 * deleted with the session.
 *
 * No untrusted input: the paths come from the session, keysyms are plain
 * numbers that only select a key.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct ime;

struct ime_opts {
	const char *home;    /* the session's home: ~/.config/fcitx5 and ~/.config/mozc go here */
	const char *run_dir; /* a private directory for the bus socket and the IME's logs */
};

/*
 * The programs, Debian's: setxkbmap (x11-xkb-utils), dbus-daemon, dbus-send
 * (dbus-bin) and fcitx5 with fcitx5-mozc and fcitx5-frontend-gtk3.
 */
#define IME_SETXKBMAP "/usr/bin/setxkbmap"
#define IME_DBUS_DAEMON "/usr/bin/dbus-daemon"
#define IME_DBUS_SEND "/usr/bin/dbus-send"
#define IME_FCITX5 "/usr/bin/fcitx5"

/**
 * On the X server named by $DISPLAY: sets the Japanese keyboard layout,
 * writes the configuration (ime_write_config), starts the session bus and
 * fcitx5, and sets in this process's environment what the browser needs
 * to find them (DBUS_SESSION_BUS_ADDRESS, GTK_IM_MODULE, QT_IM_MODULE,
 * XMODIFIERS), so children started afterwards inherit it. Waits for the
 * bus, then for fcitx5 to answer on it (it loads Mozc first, a second or
 * more on a busy machine): a browser started earlier creates its input
 * context only once fcitx5 answers, and the keys typed until then bypass
 * the IME (半角/全角 among them). If fcitx5 does not answer in time, the
 * session goes on (logged) and GTK's module connects when it does. NULL on
 * failure, logged, with nothing left running and the environment
 * untouched; the session then has no Japanese input but works otherwise.
 * Free with ime_stop.
 */
struct ime *ime_start(const struct ime_opts *o);

/** Stops fcitx5 (and with it Mozc's server) and the bus. Accepts NULL. */
void ime_stop(struct ime *ime);

/**
 * To be called for every child that exited. True if pid was one of the
 * IME's processes; it has then been started again, unless the IME failed
 * too often lately, in which case it stays off (logged).
 */
bool ime_child_exited(struct ime *ime, pid_t pid, int status);

/**
 * Writes fcitx5's configuration under home/.config/fcitx5 (keyboard-jp and
 * Mozc, 半角/全角 the only switch, nothing that needs more services) and
 * makes Mozc's directory home/.config/mozc. 0 or -1 with errno.
 */
int ime_write_config(const char *home);

/**
 * The keysym to inject for one a viewer sent. The ¥ key of a Japanese
 * keyboard types U+005C, as it does on Windows: a VNC viewer that sends
 * XK_yen for it gets the key that carries backslash on the jp layout
 * (README, "Japanese keyboards"). Every other keysym is returned as is.
 */
uint32_t ime_keysym(uint32_t keysym);
