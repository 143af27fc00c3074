/*
 * shoji's configuration: one INI file, every key declared once in
 * SHOJI_CONFIG_KEYS below. The struct, the parser, `--print-config`, the
 * example file and validation all come from that table.
 *
 * Handles untrusted input: the config file (an administrator's, but a typo
 * must give a clear error, never a crash). config_parse_buf() is pure.
 *
 * After start-up the config is read-only; a reload builds a new one and
 * swaps it only when it validated.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A comma-separated list of strings. */
struct shoji_strlist {
	size_t n;
	char **items;
};

/* An inclusive range of unsigned integers "LO-HI". */
struct shoji_range {
	uint32_t lo, hi;
};

/*
 * Value types. The C type each gives in struct shoji_config:
 *   STRING  char *            any text (may be empty)
 *   PATH    char *            absolute path, or empty where the help says so
 *   INT     long              decimal within [min, max]
 *   BOOL    bool              true/false, yes/no, on/off, 1/0
 *   SIZE    uint64_t          bytes; suffix K, M, G (powers of 1024); within [min, max]
 *   RANGE   struct shoji_range  "LO-HI", min <= LO <= HI <= max
 *   LIST    struct shoji_strlist  comma-separated, items trimmed, empty items refused
 *   ENUM    int               index into the '|'-separated words in `allowed`
 *   LISTEN  struct shoji_strlist  comma-separated HOST:PORT or [V6]:PORT; empty = off
 *   URL     char *            http:// or https:// URL, or about:blank
 *   HOSTPORT char *           HOST:PORT, or empty = none
 */
#define CFG_CTYPE_STRING char *
#define CFG_CTYPE_PATH char *
#define CFG_CTYPE_INT long
#define CFG_CTYPE_BOOL bool
#define CFG_CTYPE_SIZE uint64_t
#define CFG_CTYPE_RANGE struct shoji_range
#define CFG_CTYPE_LIST struct shoji_strlist
#define CFG_CTYPE_ENUM int
#define CFG_CTYPE_LISTEN struct shoji_strlist
#define CFG_CTYPE_URL char *
#define CFG_CTYPE_HOSTPORT char *

/*
 * X(section, key, TYPE, default, min, max, allowed, help)
 * min/max (non-negative) bound INT, SIZE and RANGE; `allowed` lists ENUM
 * words ("a|b|c") and is NULL for every other type.
 * Defaults are strings parsed like file values, so they are validated too.
 */
#define SHOJI_CONFIG_KEYS(X)                                                                       \
	X(server, state_dir, PATH, "/var/lib/shoji", 0, 0, NULL,                                   \
	  "directory for session homes and runtime state (root-owned, 0711)")                      \
	X(server, admin_socket, PATH, "/run/shoji/admin.sock", 0, 0, NULL,                         \
	  "UNIX socket shojictl talks to")                                                         \
	X(server, admin_group, STRING, "shoji-admin", 0, 0, NULL,                                  \
	  "group allowed to open the admin socket")                                                \
	X(server, log_level, ENUM, "info", 0, 0, "error|warn|info|debug",                          \
	  "least severe log level written to stderr")                                              \
	X(server, worker_user, STRING, "nobody", 0, 0, NULL,                                       \
	  "unprivileged user connection workers run as")                                           \
	X(server, render_path, PATH, SHOJI_DEFAULT_RENDER_PATH, 0, 0, NULL,                        \
	  "the shoji-render program started for each session")                                     \
	X(tls, cert, PATH, "/etc/shoji/tls/server.crt", 0, 0, NULL,                                \
	  "server certificate chain (PEM) shown to viewers")                                       \
	X(tls, key, PATH, "/etc/shoji/tls/server.key", 0, 0, NULL,                                 \
	  "private key of the server certificate (PEM, readable by root only)")                    \
	X(auth, users_file, PATH, "/etc/shoji/users", 0, 0, NULL,                                  \
	  "user database edited with `shojictl user`")                                             \
	X(auth, lockout_failures, INT, "20", 0, 100000, NULL,                                      \
	  "failed logins from one address within lockout_window that lock it out; 0 = never")      \
	X(auth, lockout_window, INT, "900", 1, 604800, NULL,                                       \
	  "seconds over which failed logins from one address are counted")                         \
	X(auth, lockout_seconds, INT, "900", 1, 604800, NULL,                                      \
	  "how long a locked-out address stays refused (its passwords are not even checked)")      \
	X(auth, backoff_max_seconds, INT, "15", 0, 20, NULL,                                       \
	  "longest wait before a user's next password is checked after failures (doubling from "   \
	  "1 s); a user is slowed down, never locked out")                                         \
	X(vnc, listen, LISTEN, "0.0.0.0:5900", 0, 0, NULL,                                         \
	  "addresses for VNC viewers (VeNCrypt X509Plain); empty = off")                           \
	X(vnc, allow_plaintext, BOOL, "false", 0, 0, NULL,                                         \
	  "also accept VNC without TLS (passwords in the clear; test networks only)")              \
	X(rdp, listen, LISTEN, "0.0.0.0:3389", 0, 0, NULL,                                         \
	  "addresses for RDP clients (TLS); empty = off")                                          \
	X(rdp, nla, BOOL, "false", 0, 0, NULL,                                                     \
	  "also offer NLA (NTLM): only users with an NT hash (shojictl --nt-hash) can use it")     \
	X(sandbox, uid_range, RANGE, "200000-200999", 1000, 4294967294u, NULL,                     \
	  "host uids given to sessions, one each; never used by anything else")                    \
	X(sandbox, memory_max, SIZE, "2G", 64 * 1024 * 1024ull, 1ull << 40, NULL,                  \
	  "memory limit of one session (browser, X server, IME)")                                  \
	X(sandbox, pids_max, INT, "512", 16, 65536, NULL,                                          \
	  "process and thread limit of one session")                                               \
	X(sandbox, cpu_max, INT, "100", 0, 100000, NULL,                                           \
	  "CPU limit of one session, percent of one CPU (200 = two CPUs); 0 = no limit")           \
	X(sandbox, cgroup_root, PATH, "", 0, 0, NULL,                                              \
	  "cgroup directory under which session cgroups are made; empty = detect")                 \
	X(browser, command, PATH, "/usr/bin/chromium", 0, 0, NULL,                                 \
	  "the browser (Debian's chromium)")                                                       \
	X(browser, start_url, URL, "about:blank", 0, 0, NULL,                                      \
	  "page a new session opens, and the home page")                                           \
	X(browser, upstream_proxy, HOSTPORT, "", 0, 0, NULL,                                       \
	  "the municipality's Internet proxy HOST:PORT the egress proxy chains to; empty = "       \
	  "direct")                                                                                \
	X(browser, bookmarks, LIST, "", 0, 0, NULL, "managed bookmarks, each NAME=URL")            \
	X(browser, locale, STRING, "ja", 0, 0, NULL, "browser UI and Accept-Language locale")      \
	X(browser, timezone, STRING, "Asia/Tokyo", 0, 0, NULL, "time zone inside the session")     \
	X(browser, policies_dir, PATH, "/etc/chromium/policies/managed", 0, 0, NULL,               \
	  "the administrator's own Chromium policy files (*.json), copied into every session; "    \
	  "where they set a policy shoji sets, shoji's value wins")                                \
	X(egress, allow, LIST, "", 0, 0, NULL,                                                     \
	  "destinations allowed although denied by default: CIDR, HOST or HOST:PORT")              \
	X(egress, deny, LIST, "", 0, 0, NULL,                                                      \
	  "extra destinations to refuse (e.g. the LGWAN ranges): CIDR, HOST or HOST:PORT")         \
	X(display, width, INT, "1280", 320, 8192, NULL,                                            \
	  "desktop width of a new session before a viewer says otherwise")                         \
	X(display, height, INT, "800", 200, 8192, NULL,                                            \
	  "desktop height of a new session before a viewer says otherwise")                        \
	X(display, max_width, INT, "3840", 320, 8192, NULL,                                        \
	  "largest desktop width a viewer may ask for")                                            \
	X(display, max_height, INT, "2160", 200, 8192, NULL,                                       \
	  "largest desktop height a viewer may ask for")                                           \
	X(display, h264_encoder, ENUM, "x264enc", 0, 0, "off|x264enc|openh264enc|vaapih264enc",    \
	  "GStreamer H.264 encoder for moving areas (video, animation) on RDP's graphics "         \
	  "pipeline; off: lossless only")                                                          \
	X(display, video_kbps, INT, "1000", 100, 100000, NULL,                                     \
	  "bit rate of the H.264 stream for moving areas, kbit/s (at most 3/4 of max_kbps "        \
	  "when that is set)")                                                                     \
	X(display, max_kbps, INT, "0", 0, 1000000, NULL,                                           \
	  "bandwidth budget of one viewer connection, kbit/s, RDP and VNC: frames wait and "       \
	  "coalesce while it is spent; 0 = no budget (the link and the viewer pace)")              \
	X(display, max_fps, INT, "30", 0, 240, NULL,                                               \
	  "frames a second at most over RDP: a smooth scroll or an animation painted faster "      \
	  "goes at this rate, its steps coalesced; 0 = as fast as the browser paints and the "     \
	  "client acknowledges")                                                                   \
	X(pool, min_ready, INT, "1", 0, 64, NULL,                                                  \
	  "warm sessions kept ready for the next login (0 = start one per login)")                 \
	X(pool, max_sessions, INT, "50", 1, 65536, NULL,                                           \
	  "most sessions at once, warm ones included (at most the size of [sandbox] uid_range)")   \
	X(pool, max_per_user, INT, "1", 1, 16, NULL,                                               \
	  "sessions one user may hold at once; a login beyond it reattaches or takes over")        \
	X(pool, idle_timeout, INT, "1800", 0, 604800, NULL,                                        \
	  "seconds without input from the viewer before a session is ended; 0 = never")            \
	X(pool, reconnect_grace, INT, "600", 0, 604800, NULL,                                      \
	  "seconds a detached session waits for its user to come back before it is ended")         \
	X(pool, max_lifetime, INT, "43200", 0, 2592000, NULL,                                      \
	  "seconds after its first login a session is ended however it is used; 0 = never")        \
	X(pool, on_second_login, ENUM, "takeover", 0, 0, "takeover|refuse",                        \
	  "a login of a user whose session has a viewer: take it over (the old viewer is told "    \
	  "why and disconnected) or refuse the new one")                                           \
	X(policy, clipboard_to_browser, ENUM, "off", 0, 0, "off|text",                             \
	  "the viewer's clipboard into the browser: off, or plain text (VNC cut text, RDP "        \
	  "cliprdr Unicode text; filtered, audited)")                                              \
	X(policy, clipboard_to_terminal, ENUM, "off", 0, 0, "off|text",                            \
	  "the browser's clipboard out to the viewer: off, or plain text (VNC cut text, RDP "      \
	  "cliprdr Unicode text; filtered, audited)")                                              \
	X(policy, clipboard_max_bytes, INT, "8192", 1, 65536, NULL,                                \
	  "longest clipboard text passed, in bytes of UTF-8; longer text is cut")                  \
	X(audit, file, PATH, "/var/log/shoji/audit.log", 0, 0, NULL,                               \
	  "audit log, one JSON object per line")                                                   \
	X(audit, max_repeats, INT, "20", 1, 100000, NULL,                                          \
	  "lines a minute one viewer connection may write of each repeated event (clipboard "      \
	  "transfers by direction and verdict, resize requests); the rest are counted in one "     \
	  "audit_suppressed line a minute and at the connection's end")                            \
	X(metrics, listen, LISTEN, "", 0, 0, NULL,                                                 \
	  "Prometheus text metrics at GET /metrics on these loopback addresses (127.0.0.1:9464); " \
	  "empty = off")

#ifndef SHOJI_DEFAULT_RENDER_PATH
#define SHOJI_DEFAULT_RENDER_PATH "/usr/local/libexec/shoji/shoji-render"
#endif

/* [pool] on_second_login values. */
enum shoji_on_second_login { SHOJI_ON_SECOND_LOGIN_TAKEOVER, SHOJI_ON_SECOND_LOGIN_REFUSE };
/* [display] h264_encoder: an index into "off|x264enc|openh264enc|vaapih264enc". */
enum shoji_h264_encoder { SHOJI_H264_OFF, SHOJI_H264_X264, SHOJI_H264_OPENH264, SHOJI_H264_VAAPI };

/* [policy] clipboard_to_browser and clipboard_to_terminal: "off|text". */
enum shoji_clipboard_policy { SHOJI_CLIPBOARD_OFF, SHOJI_CLIPBOARD_TEXT };

/* A config file larger than this is refused (it cannot be a real one). */
#define SHOJI_CONFIG_MAX_SIZE (1024 * 1024)
/* Most items one LIST value may hold, and one LISTEN value. */
#define SHOJI_CONFIG_MAX_LIST_ITEMS 4096
#define SHOJI_CONFIG_MAX_LISTEN 64

#define CFG_SECTION_FIELD(sec, key, type, ...) CFG_CTYPE_##type sec##_##key;
#define CFG_KEY_INDEX(sec, key, ...) SHOJI_CFG_##sec##_##key,

/* Each key's position in the table: SHOJI_CFG_display_width. */
enum shoji_config_key { SHOJI_CONFIG_KEYS(CFG_KEY_INDEX) SHOJI_CONFIG_NKEYS };

/* Fields are named section_key: cfg->browser_start_url. */
struct shoji_config {
	SHOJI_CONFIG_KEYS(CFG_SECTION_FIELD)
	char *source; /* file it came from, or "(defaults)" */
	/* Line of `source` that set each key, 0 where the default holds. */
	unsigned line[SHOJI_CONFIG_NKEYS];
};

/** A config holding every default. Never NULL (aborts on OOM). */
struct shoji_config *config_defaults(void);

/**
 * Parses INI text over the defaults. On error returns NULL and writes one
 * message "FILE:LINE: [section] key: problem; allowed: ..." into err.
 * `name` is the file name used in messages. Pure: no I/O. Input larger
 * than SHOJI_CONFIG_MAX_SIZE is refused.
 *
 * Syntax: `[section]` headers, `key = value` lines, blank lines, and
 * comments on lines of their own starting with '#' or ';' (a '#' later in
 * a line belongs to the value). Values are trimmed; double quotes around a
 * whole value are removed, keeping the spaces inside. CRLF line ends and a
 * UTF-8 byte order mark are accepted. A key given twice is an error.
 */
struct shoji_config *config_parse_buf(const char *buf, size_t len, const char *name, char *err,
                                      size_t errlen);

/**
 * Reads and parses a file; errors as config_parse_buf, and "PATH: problem"
 * for a file that cannot be read or is larger than SHOJI_CONFIG_MAX_SIZE.
 */
struct shoji_config *config_load(const char *path, char *err, size_t errlen);

void config_destroy(struct shoji_config *cfg);

/**
 * Checks that a single value cannot see: width <= max_width, height <=
 * max_height, at least one listener and no address:port given twice, each
 * bookmark NAME=URL, [metrics] listen on loopback addresses only. 0, or -1 with a message in err in
 * the format above (the line is the one that set the key, when a file did).
 */
int config_validate(const struct shoji_config *cfg, char *err, size_t errlen);

/** `shojid --print-config`: every key, its default and its help. */
void config_print_help(FILE *out);

/** The example config: every key commented out at its default, with help. */
void config_print_example(FILE *out);

/**
 * Writes the effective values as INI, one section after another (for logs
 * at start-up and tests). Parsing the output gives the same values.
 */
void config_print_values(const struct shoji_config *cfg, FILE *out);
