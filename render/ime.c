/*
 * Japanese input in the sandbox (see ime.h): setxkbmap for the layout, a
 * dbus-daemon of the session's own that activates no services, and fcitx5
 * restricted to the addons Japanese input through GTK needs. No untrusted
 * input.
 */
#include "autoconfig.h"

#include <X11/keysym.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ime.h"
#include "log.h"
#include "util.h"

#define LAYOUT_TIMEOUT_MS 5000
#define BUS_TIMEOUT_MS 5000
#define FCITX_READY_TIMEOUT_MS 20000
#define FCITX_POLL_MS 50
#define STOP_TIMEOUT_MS 1000
#define RESTART_WINDOW_MS 60000
#define MAX_RESTARTS 5

/*
 * X connection, the bus and its GTK front-end, the layout, Mozc, and the
 * candidate window. Left out: XIM (Chromium does not use it), the
 * clipboard history, the tray icon, notifications, emoji and quick phrase.
 */
#define FCITX5_ADDONS "xcb,dbus,dbusfrontend,keyboard,mozc,classicui"

struct ime {
	char bus_path[300];
	char bus_address[320];
	char bus_conf[300];
	char log_path[300];
	pid_t bus, fcitx;
	uint64_t restarts[MAX_RESTARTS];
};

/* The first item is what a session starts with: direct input, as on Windows. */
static const char fcitx_profile[] = "[Groups/0]\n"
                                    "Name=Default\n"
                                    "Default Layout=jp\n"
                                    "DefaultIM=mozc\n"
                                    "\n"
                                    "[Groups/0/Items/0]\n"
                                    "Name=keyboard-jp\n"
                                    "Layout=\n"
                                    "\n"
                                    "[Groups/0/Items/1]\n"
                                    "Name=mozc\n"
                                    "Layout=\n"
                                    "\n"
                                    "[GroupOrder]\n"
                                    "0=Default\n";

/*
 * 半角/全角 is the only switch: fcitx5's other default hot keys would take
 * keys from web pages (Control+Space, Control+Shift, Control+Alt+P) or
 * switch on a lone Shift. One input state for the whole session, as
 * Windows has by default. With no task bar to show the mode, its name
 * ("あ" or "ja") appears briefly at the caret when it changes. Password
 * fields always get direct input. Mozc is loaded when 半角/全角 first
 * switches to it, not a second after start (PreloadInputMethod): loading
 * blocks fcitx5 for a second or more on a busy machine, and a browser whose
 * input context waited on it meanwhile typed its keys past the IME; keys
 * sent after the switch wait in order.
 */
static const char fcitx_config[] = "[Hotkey]\n"
                                   "EnumerateWithTriggerKeys=False\n"
                                   "EnumerateSkipFirst=False\n"
                                   "\n"
                                   "[Hotkey/TriggerKeys]\n"
                                   "0=Zenkaku_Hankaku\n"
                                   "\n"
                                   "[Hotkey/AltTriggerKeys]\n"
                                   "\n"
                                   "[Hotkey/EnumerateForwardKeys]\n"
                                   "\n"
                                   "[Hotkey/EnumerateBackwardKeys]\n"
                                   "\n"
                                   "[Hotkey/EnumerateGroupForwardKeys]\n"
                                   "\n"
                                   "[Hotkey/EnumerateGroupBackwardKeys]\n"
                                   "\n"
                                   "[Hotkey/ActivateKeys]\n"
                                   "\n"
                                   "[Hotkey/DeactivateKeys]\n"
                                   "\n"
                                   "[Hotkey/TogglePreedit]\n"
                                   "\n"
                                   "[Behavior]\n"
                                   "ActiveByDefault=False\n"
                                   "ShareInputState=All\n"
                                   "PreeditEnabledByDefault=True\n"
                                   "ShowInputMethodInformation=True\n"
                                   "showInputMethodInformationWhenFocusIn=False\n"
                                   "CompactInputMethodInformation=True\n"
                                   "ShowFirstInputMethodInformation=True\n"
                                   "AllowInputMethodForPassword=False\n"
                                   "PreloadInputMethod=False\n";

static int write_file(const char *dir, const char *name, const char *text)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "we");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

int ime_write_config(const char *home)
{
	char fcitx[400], mozc[400];

	snprintf(fcitx, sizeof(fcitx), "%s/.config/fcitx5", home);
	/* Mozc keeps its learning here; its defaults (MS-IME keys, romaji) are kept. */
	snprintf(mozc, sizeof(mozc), "%s/.config/mozc", home);
	if (mkdir_p(fcitx, 0700) < 0 || mkdir_p(mozc, 0700) < 0)
		return -1;
	if (write_file(fcitx, "profile", fcitx_profile) < 0 ||
	    write_file(fcitx, "config", fcitx_config) < 0)
		return -1;
	return 0;
}

/* A session bus that starts nothing by itself: no service directories. */
static int write_bus_config(const struct ime *ime)
{
	FILE *f = fopen(ime->bus_conf, "we");
	if (!f)
		return -1;
	fprintf(
	    f,
	    "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
	    " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
	    "<busconfig>\n"
	    "  <type>session</type>\n"
	    "  <listen>unix:path=%s</listen>\n"
	    "  <auth>EXTERNAL</auth>\n"
	    "  <policy context=\"default\">\n"
	    "    <allow send_destination=\"*\"/>\n"
	    "    <allow receive_sender=\"*\"/>\n"
	    "    <allow own=\"*\"/>\n"
	    "  </policy>\n"
	    "</busconfig>\n",
	    ime->bus_path);
	return fclose(f);
}

/*
 * Runs argv in a process group of its own with an empty signal mask (this
 * process blocks the signals it reads through a signalfd), output appended
 * to log_path. keep_fd, if >= 0, stays open across exec.
 */
static pid_t spawn(char *const argv[], const char *log_path, int keep_fd)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setpgid(0, 0);
	int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0) {
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
	}
	if (keep_fd >= 0)
		fcntl(keep_fd, F_SETFD, 0);
	execv(argv[0], argv);
	_exit(127);
}

/* Waits up to timeout_ms for pid to end; true if it was reaped. */
static bool reap(pid_t pid, int timeout_ms, int *status)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;
	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid || (r < 0 && errno == ECHILD))
			return true;
		if (now_ms() >= end)
			return false;
		usleep(5000);
	}
}

/* SIGTERM to the process group, SIGKILL after a while; reaps the leader. */
static void stop_process(pid_t *pid)
{
	int status;

	if (*pid <= 0)
		return;
	kill(-*pid, SIGTERM);
	if (!reap(*pid, STOP_TIMEOUT_MS, &status)) {
		kill(-*pid, SIGKILL);
		waitpid(*pid, &status, 0);
	}
	kill(-*pid, SIGKILL); /* what is left of the group */
	*pid = -1;
}

static int set_layout(const struct ime *ime)
{
	char *const argv[] = {IME_SETXKBMAP, "-model", "jp106", "-layout", "jp", NULL};
	int status = 0;

	pid_t pid = spawn(argv, ime->log_path, -1);
	if (pid < 0)
		return -1;
	if (!reap(pid, LAYOUT_TIMEOUT_MS, &status)) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		errno = ETIMEDOUT;
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		errno = EIO;
		return -1;
	}
	return 0;
}

/* Reads what dbus-daemon prints once it listens: its address and a newline. */
static int wait_bus_ready(int rfd, int timeout_ms)
{
	char buf[256];
	size_t got = 0;
	uint64_t end = now_ms() + (uint64_t)timeout_ms;

	while (got < sizeof(buf) - 1) {
		uint64_t now = now_ms();
		if (now >= end)
			return -1;
		struct pollfd pfd = {.fd = rfd, .events = POLLIN};
		if (poll(&pfd, 1, (int)(end - now)) <= 0)
			continue;
		ssize_t n = read(rfd, buf + got, sizeof(buf) - 1 - got);
		if (n <= 0)
			return -1; /* the daemon exited */
		got += (size_t)n;
		buf[got] = '\0';
		if (strchr(buf, '\n'))
			return strncmp(buf, "unix:", 5) == 0 ? 0 : -1;
	}
	return -1;
}

static int start_bus(struct ime *ime)
{
	char conf[320], print[32];
	int pfd[2];

	unlink(ime->bus_path); /* left over if the previous daemon was killed */
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	snprintf(conf, sizeof(conf), "--config-file=%s", ime->bus_conf);
	snprintf(print, sizeof(print), "--print-address=%d", pfd[1]);
	char *const argv[] = {IME_DBUS_DAEMON, "--nofork", "--nopidfile", conf, print, NULL};
	ime->bus = spawn(argv, ime->log_path, pfd[1]);
	close(pfd[1]);
	int rc = ime->bus > 0 ? wait_bus_ready(pfd[0], BUS_TIMEOUT_MS) : -1;
	close(pfd[0]);
	if (rc < 0) {
		log_error("the session bus (%s) did not start; see %s", IME_DBUS_DAEMON,
		          ime->log_path);
		stop_process(&ime->bus);
	}
	return rc;
}

static int start_fcitx(struct ime *ime)
{
	char *const argv[] = {IME_FCITX5, "--disable=all", "--enable=" FCITX5_ADDONS, NULL};

	ime->fcitx = spawn(argv, ime->log_path, -1);
	if (ime->fcitx < 0) {
		log_error("cannot start %s: %s", IME_FCITX5, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Whether fcitx5 answers a method call on the session bus: before it owns
 * its name the bus refuses at once (it activates nothing), and it owns it
 * before it has loaded all its addons and read the keymap.
 */
static bool fcitx_answers(const struct ime *ime, int timeout_ms)
{
	char bus[340], reply_timeout[48];
	int status = 0;

	snprintf(bus, sizeof(bus), "--bus=%s", ime->bus_address);
	snprintf(reply_timeout, sizeof(reply_timeout), "--reply-timeout=%d", timeout_ms);
	char *const argv[] = {IME_DBUS_SEND, bus, "--print-reply", reply_timeout,
	                      "--dest=org.fcitx.Fcitx5", "/controller",
	                      "org.fcitx.Fcitx.Controller1.CurrentInputMethod", NULL};
	pid_t pid = spawn(argv, "/dev/null", -1);
	if (pid < 0)
		return false;
	if (!reap(pid, timeout_ms + 1000, &status)) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return false;
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Waits until fcitx5 answers on the bus (see fcitx_answers); false after timeout_ms. */
static bool wait_fcitx_ready(const struct ime *ime, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;

	for (;;) {
		uint64_t now = now_ms();
		if (now >= end)
			return false;
		if (fcitx_answers(ime, (int)(end - now)))
			return true;
		usleep(FCITX_POLL_MS * 1000);
	}
}

/* What GTK (Chromium), Qt and X clients read to find fcitx5. */
static void set_im_environment(void)
{
	setenv("GTK_IM_MODULE", "fcitx", 1);
	setenv("QT_IM_MODULE", "fcitx", 1);
	setenv("XMODIFIERS", "@im=fcitx", 1);
}

struct ime *ime_start(const struct ime_opts *o)
{
	struct ime *ime = xcalloc(1, sizeof(*ime));
	uint64_t t0 = now_ms();

	ime->bus = ime->fcitx = -1;
	snprintf(ime->bus_path, sizeof(ime->bus_path), "%s/bus", o->run_dir);
	snprintf(ime->bus_address, sizeof(ime->bus_address), "unix:path=%s", ime->bus_path);
	snprintf(ime->bus_conf, sizeof(ime->bus_conf), "%s/bus.conf", o->run_dir);
	snprintf(ime->log_path, sizeof(ime->log_path), "%s/ime.log", o->run_dir);
	if (mkdir_p(o->run_dir, 0700) < 0 || write_bus_config(ime) < 0 ||
	    ime_write_config(o->home) < 0) {
		log_error("cannot write the input method's configuration: %s", strerror(errno));
		goto fail_config;
	}
	/* The layout does not depend on the rest: keys work without the IME. */
	if (set_layout(ime) < 0)
		log_error("cannot set the Japanese keyboard layout with %s: %s (see %s)",
		          IME_SETXKBMAP, strerror(errno), ime->log_path);
	if (start_bus(ime) < 0)
		goto fail_bus;
	setenv("DBUS_SESSION_BUS_ADDRESS", ime->bus_address, 1);
	if (start_fcitx(ime) < 0)
		goto fail_fcitx;
	set_im_environment();
	bool ready = wait_fcitx_ready(ime, FCITX_READY_TIMEOUT_MS);
	if (!ready)
		log_warn("fcitx5 did not answer on its bus within %d ms: keys typed before it "
		         "does bypass the IME",
		         FCITX_READY_TIMEOUT_MS);
	log_info("Japanese input: fcitx5 (pid %d) with Mozc, bus %s, jp106 layout; %s in %llu ms",
	         (int)ime->fcitx, ime->bus_address, ready ? "ready" : "started",
	         (unsigned long long)(now_ms() - t0));
	return ime;

fail_fcitx:
	unsetenv("DBUS_SESSION_BUS_ADDRESS");
	stop_process(&ime->bus);
fail_bus:
fail_config:
	log_error("the session has no Japanese input");
	free(ime);
	return NULL;
}

void ime_stop(struct ime *ime)
{
	if (!ime)
		return;
	stop_process(&ime->fcitx);
	stop_process(&ime->bus);
	free(ime);
}

static bool restart_allowed(struct ime *ime)
{
	uint64_t now = now_ms();
	memmove(ime->restarts + 1, ime->restarts, sizeof(ime->restarts[0]) * (MAX_RESTARTS - 1));
	ime->restarts[0] = now;
	return ime->restarts[MAX_RESTARTS - 1] == 0 ||
	       now - ime->restarts[MAX_RESTARTS - 1] > RESTART_WINDOW_MS;
}

bool ime_child_exited(struct ime *ime, pid_t pid, int status)
{
	if (!ime || pid <= 0 || (pid != ime->bus && pid != ime->fcitx))
		return false;
	bool bus = pid == ime->bus;
	log_warn("%s exited (status 0x%x)", bus ? "the IME's session bus" : "fcitx5", status);
	if (bus)
		ime->bus = -1;
	else
		ime->fcitx = -1;
	if (!restart_allowed(ime)) {
		log_error("the input method failed %d times within %d s; the session has no "
		          "Japanese input from now on",
		          MAX_RESTARTS, RESTART_WINDOW_MS / 1000);
		stop_process(&ime->fcitx);
		stop_process(&ime->bus);
		return true;
	}
	if (bus) {
		/* fcitx5 lost its bus: start both afresh, in order. */
		stop_process(&ime->fcitx);
		if (start_bus(ime) < 0)
			return true;
	}
	if (start_fcitx(ime) == 0)
		log_info("fcitx5 started again (pid %d)", (int)ime->fcitx);
	return true;
}

uint32_t ime_keysym(uint32_t keysym)
{
	return keysym == XK_yen ? XK_backslash : keysym;
}
