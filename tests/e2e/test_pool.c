/*
 * End to end: the session pool and its administration. A real shojid with
 * short [pool] timeouts, logins over VNC (libvncclient) and RDP
 * (libfreerdp-client), and the built shojictl over the admin socket:
 * every timeout, each limit, takeover and refusal of a second login,
 * kill, drain, SIGHUP with a good and a bad config, an admin-group member
 * served and a non-admin refused on the admin socket, the JSON of `status`
 * and `sessions`, reattachment across protocols, the session's files gone
 * after it ended, the notice a refused login sees (VNC and RDP), the
 * Prometheus metrics, and the audit log reopened after a rename. Needs
 * root and is skipped otherwise.
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "rdp_client.h"
#include "util.h"
#include "viewer.h"

Suite *suite_pool(void);

#define SHOJICTL SHOJI_BUILDDIR "/proxy/shojictl"
#define DEMO_PASSWORD "demo-password-1"
#define CLERK_PASSWORD "clerk-password-2"
#define NOBODY_UID 65534

static struct shojid_proc d;

/*
 * The RDP port of the config: the harness's own listener, or, where the
 * harness turns RDP off ("listen =" empty), one added on a free port.
 */
static int enable_rdp(void)
{
	char conf[16384], port[64];
	FILE *f = fopen(d.config_path, "r");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(conf, 1, sizeof(conf) - 1, f);
	conf[n] = '\0';
	fclose(f);
	char *at = strstr(conf, "[rdp]\nlisten =");
	ck_assert_msg(at, "no [rdp] listen in %s", d.config_path);
	at += strlen("[rdp]\nlisten =");
	if (strncmp(at, " 127.0.0.1:", 11) == 0)
		return atoi(at + 11);
	ck_assert_msg(*at == '\n', "unexpected [rdp] listen in %s", d.config_path);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	int rdp_port = ntohs(sa.sin_port);
	snprintf(port, sizeof(port), " 127.0.0.1:%d", rdp_port);
	f = fopen(d.config_path, "w");
	ck_assert_ptr_nonnull(f);
	fwrite(conf, 1, (size_t)(at - conf), f);
	fputs(port, f);
	fputs(at, f);
	fclose(f);
	return rdp_port;
}

static void start(const char *ini)
{
	char log[160];

	ck_assert_msg(shojid_setup(&d, ini) == 0, "harness setup failed (%s)", d.root);
	fprintf(stderr, "pool: test files in %s\n", d.root);
	ck_assert_int_eq(shojid_add_user(&d, "demo", DEMO_PASSWORD), 0);
	ck_assert_int_eq(shojid_add_user(&d, "clerk", CLERK_PASSWORD), 0);
	viewer_log_to(shojid_path(&d, "vncclient.log", log, sizeof(log)));
	ck_assert_msg(shojid_launch(&d, 90000) == 0, "shojid did not get ready (%s)", d.log_path);
}

/* start(), with an RDP listener too; its port. */
static int start_with_rdp(const char *ini)
{
	char log[160];

	ck_assert_msg(shojid_setup(&d, ini) == 0, "harness setup failed (%s)", d.root);
	fprintf(stderr, "pool: test files in %s\n", d.root);
	int rdp_port = enable_rdp();
	ck_assert_int_eq(shojid_add_user(&d, "demo", DEMO_PASSWORD), 0);
	ck_assert_int_eq(shojid_add_user(&d, "clerk", CLERK_PASSWORD), 0);
	viewer_log_to(shojid_path(&d, "vncclient.log", log, sizeof(log)));
	rdp_client_log_to(d.root, "rdpclient.log");
	ck_assert_msg(shojid_launch(&d, 90000) == 0, "shojid did not get ready (%s)", d.log_path);
	return rdp_port;
}

static void finish(void)
{
	ck_assert_msg(shojid_alive(&d), "shojid died (%s)", d.log_path);
	int rc = shojid_stop(&d, 30000);
	ck_assert_msg(rc == 0, "shojid exited with %d (%s)", rc, d.log_path);
	viewer_log_to(NULL);
	shojid_cleanup(&d);
}

static struct viewer *vnc_login(const char *user, const char *password)
{
	struct viewer_options opt = {
	    .port = d.port, .ca_file = d.ca_path, .user = user, .password = password};
	return viewer_connect(&opt);
}

/* Runs shojictl with argv; its exit status, its stdout in out. */
static int run_ctl(char *out, size_t cap, const char *const *argv)
{
	int p[2], status;
	size_t len = 0;

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		execv(SHOJICTL, (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	for (ssize_t n; len < cap - 1 && (n = read(p[0], out + len, cap - 1 - len)) > 0;)
		len += (size_t)n;
	out[len] = '\0';
	close(p[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* shojictl -s SOCKET args... */
static int ctl(char *out, size_t cap, const char *a1, const char *a2, const char *a3,
               const char *a4, const char *a5)
{
	char sock[160];
	const char *argv[] = {SHOJICTL, "-s", shojid_path(&d, "admin.sock", sock, sizeof(sock)),
	                      a1,       a2,   a3,
	                      a4,       a5,   NULL};
	return run_ctl(out, cap, argv);
}

/* shojictl -c CONFIG audit args... */
static int ctl_audit(char *out, size_t cap, const char *a1, const char *a2)
{
	const char *argv[] = {SHOJICTL, "-c", d.config_path, "audit", a1, a2, NULL};
	return run_ctl(out, cap, argv);
}

/* The value of "name": in JSON text (the first), copied without quotes. */
static bool json_field(const char *json, const char *name, char *out, size_t cap)
{
	char key[64];
	snprintf(key, sizeof(key), "\"%s\":", name);
	const char *p = strstr(json, key);
	if (!p)
		return false;
	p += strlen(key);
	bool quoted = *p == '"';
	p += quoted;
	size_t n = quoted ? strcspn(p, "\"") : strcspn(p, ",}");
	snprintf(out, cap, "%.*s", (int)n, p);
	return true;
}

static long status_number(const char *name)
{
	char out[4096], v[64];
	ck_assert_int_eq(ctl(out, sizeof(out), "--json", "status", NULL, NULL, NULL), 0);
	ck_assert_msg(json_field(out, name, v, sizeof(v)), "no %s in %s", name, out);
	return strtol(v, NULL, 10);
}

/* The id of the user's session (the first listed). */
static void session_of(const char *user, char *id, size_t cap)
{
	char out[16384], key[80];
	ck_assert_int_eq(ctl(out, sizeof(out), "--json", "sessions", NULL, NULL, NULL), 0);
	snprintf(key, sizeof(key), "\"user\":\"%s\"", user);
	char *at = strstr(out, key);
	ck_assert_msg(at, "no session of %s in %s", user, out);
	while (at > out && *at != '{')
		at--;
	ck_assert(json_field(at, "id", id, cap));
}

static bool dir_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static void session_dir(const char *id, char *buf, size_t len)
{
	char sub[96];
	snprintf(sub, sizeof(sub), "state/sessions/%s", id);
	shojid_path(&d, sub, buf, len);
}

static bool wait_gone(const char *path, int timeout_ms)
{
	for (int t = 0; t < timeout_ms; t += 100) {
		if (!dir_exists(path))
			return true;
		usleep(100000);
	}
	return false;
}

/* Writes a file into the session's home, as its browser profile would. */
static void mark_home(const char *id, char *dir, size_t len)
{
	char path[256];
	session_dir(id, dir, len);
	snprintf(path, sizeof(path), "%s/home/profile-marker", dir);
	FILE *f = fopen(path, "w");
	ck_assert_msg(f, "cannot write %s", path);
	fputs("cookie\n", f);
	fclose(f);
}

static bool wait_closed(struct viewer *v, int timeout_ms)
{
	for (int t = 0; t < timeout_ms && !viewer_closed(v); t += 200)
		viewer_pump(v, 200);
	return viewer_closed(v);
}

/*
 * The refused-login notice (proxy/notice.c) on a viewer's screen: its
 * background, its panel and its red heading are all there, which neither a
 * blank screen nor a browser page has, and the logon form's blue is not.
 */
static bool near_rgb(uint32_t a, uint32_t b)
{
	int dist = 0;
	for (int sh = 0; sh < 24; sh += 8) {
		int x = (int)((a >> sh) & 0xff) - (int)((b >> sh) & 0xff);
		dist += x < 0 ? -x : x;
	}
	return dist <= 60;
}

typedef uint32_t (*pixel_at)(const void *c, int x, int y);

static bool looks_like_notice(pixel_at px, const void *c, int w, int h)
{
	int background = 0, panel = 0, red = 0, blue = 0;
	for (int y = 0; y < h; y += 2)
		for (int x = 0; x < w; x += 2) {
			uint32_t p = px(c, x, y);
			background += near_rgb(p, 0x1f3a5f);
			panel += near_rgb(p, 0xf4f4f4);
			red += near_rgb(p, 0xc00000);
			blue += near_rgb(p, 0x2a6fdb); /* the logon form's focus and button */
		}
	return background > 1000 && panel > 1000 && red > 20 && blue < 20;
}

static uint32_t vnc_px(const void *c, int x, int y)
{
	return viewer_pixel(c, x, y);
}

static uint32_t rdp_px(const void *c, int x, int y)
{
	return rdp_client_pixel(c, x, y);
}

/* A viewer whose login the pool refused: shows the notice, then is closed. */
static void expect_vnc_notice(const char *user, const char *password)
{
	struct viewer *v = vnc_login(user, password);
	ck_assert_msg(v, "%s: no notice, the connection was refused (%s)", user, d.log_path);
	bool seen = false;
	for (int t = 0; t < 150 && !seen && !viewer_closed(v); t++) {
		viewer_pump(v, 100);
		seen = looks_like_notice(vnc_px, v, viewer_width(v), viewer_height(v));
	}
	if (!seen) {
		char shot[160];
		viewer_dump_ppm(v, shojid_path(&d, "notice-vnc.ppm", shot, sizeof(shot)));
	}
	ck_assert_msg(seen, "%s: no notice on screen (%s)", user, d.root);
	ck_assert_msg(wait_closed(v, 30000), "%s: the notice stayed open", user);
	viewer_destroy(v);
}

/*
 * Asks the admin socket for status as uid nobody with primary group gid, in
 * a child; whether the answer began with expect.
 */
static bool admin_as(gid_t gid, const char *expect)
{
	char sock[100];
	int status;

	shojid_path(&d, "admin.sock", sock, sizeof(sock));
	pid_t pid = fork();
	if (pid == 0) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		char buf[256] = "";
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
		if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(NOBODY_UID) < 0)
			_exit(3);
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			_exit(4);
		/* The daemon may answer before reading: a failed write is fine. */
		ssize_t n = write(fd, "status\n", 7);
		n = read(fd, buf, sizeof(buf) - 1);
		_exit(n > 0 && !strncmp(buf, expect, strlen(expect)) ? 0 : 5);
	}
	waitpid(pid, &status, 0);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

START_TEST(status_json_and_admin_refusal)
{
	char out[4096], v[64];

	if (geteuid() != 0)
		return;
	/* staff (gid 50) is in Debian's base-passwd: an admin group no test has to create. */
	struct group *staff = getgrnam("staff");
	ck_assert_msg(staff, "no group staff on this machine");
	start("[pool]\nmax_sessions = 5\nidle_timeout = 600\n[server]\nadmin_group = staff\n");
	ck_assert_int_eq(ctl(out, sizeof(out), "--json", "status", NULL, NULL, NULL), 0);
	static const char *const fields[] = {
	    "version",        "uptime_s",       "drained",
	    "connections",    "sessions",       "warming",
	    "ready",          "attached",       "detached",
	    "ending",         "min_ready",      "max_sessions",
	    "max_per_user",   "idle_timeout_s", "reconnect_grace_s",
	    "max_lifetime_s", "on_second_login"};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		ck_assert_msg(json_field(out, fields[i], v, sizeof(v)), "no %s in %s", fields[i],
		              out);
	ck_assert_msg(out[0] == '{' && strstr(out, "\"drained\":false") &&
	                  strstr(out, "\"max_sessions\":5,") && strstr(out, "\"ready\":1,") &&
	                  strstr(out, "\"idle_timeout_s\":600,") &&
	                  strstr(out, "\"on_second_login\":\"takeover\""),
	              "%s", out);
	/* Human output: one aligned line per field. */
	ck_assert_int_eq(ctl(out, sizeof(out), "status", NULL, NULL, NULL, NULL), 0);
	ck_assert_msg(strstr(out, "max_sessions       5\n"), "%s", out);
	ck_assert_int_eq(ctl(out, sizeof(out), "show", "0123456789abcdef", NULL, NULL, NULL), 1);
	ck_assert_int_eq(ctl(out, sizeof(out), "pool", "set", "uid_range=1", NULL, NULL), 2);

	/* The socket is 0660 root:staff: a member of staff (not root) is served... */
	char sock[100];
	shojid_path(&d, "admin.sock", sock, sizeof(sock));
	struct stat st;
	ck_assert_int_eq(stat(sock, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0660);
	ck_assert_int_eq(st.st_gid, staff->gr_gid);
	ck_assert_msg(admin_as(staff->gr_gid, "ok\n"), "a member of staff was refused");
	ck_assert_int_eq(shojid_audit_count(&d, "\"event\":\"admin_refused\"", NULL), 0);
	/* ...another uid is not, even with the socket opened wide (SO_PEERCRED). */
	ck_assert_int_eq(chmod(sock, 0666), 0);
	ck_assert(admin_as(NOBODY_UID, "error permission denied"));
	ck_assert(
	    shojid_audit_wait(&d, "\"event\":\"admin_refused\"", "\"uid\":65534", NULL, 5000));
	ck_assert_int_eq(status_number("drained"), 0); /* "false": not drained by nobody */
	ck_assert_int_eq(ctl(out, sizeof(out), "--json", "status", NULL, NULL, NULL), 0);
	ck_assert(strstr(out, "\"drained\":false"));

	/* shojictl audit reads the audit log, filtered. */
	ck_assert_int_eq(ctl_audit(out, sizeof(out), NULL, NULL), 0);
	ck_assert_msg(strstr(out, "\"event\":\"daemon_start\"") &&
	                  strstr(out, "\"event\":\"admin_refused\""),
	              "%s", out);
	ck_assert_int_eq(ctl_audit(out, sizeof(out), "--since", "2000-01-01"), 0);
	ck_assert(strstr(out, "daemon_start"));
	ck_assert_int_eq(ctl_audit(out, sizeof(out), "--since", "2999-01-01"), 0);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(ctl_audit(out, sizeof(out), "--user", "nosuch"), 0);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(ctl_audit(out, sizeof(out), "stray", NULL), 2);
	finish();
}
END_TEST

START_TEST(reconnect_grace_and_wipe)
{
	char id[40], dir[256], out[16384], v[64];

	if (geteuid() != 0)
		return;
	start("[pool]\nreconnect_grace = 3\nidle_timeout = 600\n");
	struct viewer *vw = vnc_login("demo", DEMO_PASSWORD);
	ck_assert_msg(vw, "demo could not log in (%s)", d.log_path);
	viewer_pump(vw, 500);
	session_of("demo", id, sizeof(id));
	ck_assert_int_eq(ctl(out, sizeof(out), "--json", "show", id, NULL, NULL), 0);
	ck_assert_msg(json_field(out, "state", v, sizeof(v)) && !strcmp(v, "attached"), "%s", out);
	ck_assert(json_field(out, "protocol", v, sizeof(v)) && !strcmp(v, "vnc"));
	ck_assert(json_field(out, "started", v, sizeof(v)) && strlen(v) == 20);
	static const char *const fields[] = {
	    "id",         "user", "protocol", "address",  "state", "started",     "age_s", "idle_s",
	    "resolution", "uid",  "pid",      "kbps_out", "fps",   "cpu_percent", "rss_mb"};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		ck_assert_msg(json_field(out, fields[i], v, sizeof(v)), "no %s in %s", fields[i],
		              out);
	ck_assert_int_eq(ctl(out, sizeof(out), "sessions", NULL, NULL, NULL, NULL), 0);
	ck_assert_msg(strstr(out, "ID ") == out && strstr(out, id), "%s", out);
	mark_home(id, dir, sizeof(dir));

	viewer_destroy(vw);
	ck_assert(shojid_audit_wait(&d, "\"event\":\"session_detach\"", id, NULL, 10000));
	ck_assert(
	    shojid_audit_wait(&d, "\"event\":\"session_close\"", id, "reconnect_grace", 15000));
	ck_assert_msg(wait_gone(dir, 20000), "%s is still there", dir);
	finish();
}
END_TEST

START_TEST(idle_timeout_and_takeover)
{
	char id[40], id2[40], dir[256];

	if (geteuid() != 0)
		return;
	start("[pool]\nidle_timeout = 6\nreconnect_grace = 600\n");
	struct viewer *a = vnc_login("demo", DEMO_PASSWORD);
	ck_assert_msg(a, "demo could not log in (%s)", d.log_path);
	viewer_pump(a, 300);
	session_of("demo", id, sizeof(id));
	/* Input keeps it alive past the timeout... */
	for (int i = 0; i < 8; i++) {
		ck_assert_int_eq(viewer_click(a, 5 + i, 5), 0);
		viewer_pump(a, 1000);
	}
	ck_assert(!viewer_closed(a));
	/* ...a second login takes it over (the first viewer is told and closed)... */
	struct viewer *b = vnc_login("demo", DEMO_PASSWORD);
	ck_assert_msg(b, "second login failed (%s)", d.log_path);
	ck_assert(wait_closed(a, 10000));
	ck_assert(shojid_audit_wait(&d, "\"event\":\"session_detach\"", id, "taken over", 5000));
	session_of("demo", id2, sizeof(id2));
	ck_assert_str_eq(id, id2);
	viewer_destroy(a);
	/* ...and without input it ends. */
	mark_home(id, dir, sizeof(dir));
	ck_assert(wait_closed(b, 20000));
	ck_assert(shojid_audit_wait(&d, "\"event\":\"session_close\"", id, "idle_timeout", 5000));
	ck_assert_msg(wait_gone(dir, 20000), "%s is still there", dir);
	viewer_destroy(b);
	finish();
}
END_TEST

START_TEST(limits_refusal_kill_drain)
{
	char out[4096], id[40];

	if (geteuid() != 0)
		return;
	int rdp_port = start_with_rdp(
	    "[pool]\nmax_sessions = 1\non_second_login = refuse\nidle_timeout = 600\n");
	struct viewer *a = vnc_login("demo", DEMO_PASSWORD);
	ck_assert_msg(a, "demo could not log in (%s)", d.log_path);
	viewer_pump(a, 300);
	session_of("demo", id, sizeof(id));
	/* max_sessions: no room for clerk, who is shown why (VNC and RDP), audited. */
	expect_vnc_notice("clerk", CLERK_PASSWORD);
	ck_assert(shojid_audit_wait(&d, "\"event\":\"login_refused\"", "\"user\":\"clerk\"",
	                            "limit reached", 5000));
	struct rdp_client_options ro = {.port = rdp_port,
	                                .user = "clerk",
	                                .password = CLERK_PASSWORD,
	                                .width = 1024,
	                                .height = 768,
	                                .gfx = true};
	struct rdp_client *r = rdp_client_connect(&ro);
	ck_assert_msg(r, "clerk over RDP: no notice, the connection was refused (%s)", d.log_path);
	bool seen = false;
	for (int t = 0; t < 150 && !seen && !rdp_client_closed(r); t++) {
		rdp_client_pump(r, 100);
		seen = looks_like_notice(rdp_px, r, rdp_client_width(r), rdp_client_height(r));
	}
	if (!seen) {
		char shot[160];
		rdp_client_dump_ppm(r, shojid_path(&d, "notice-rdp.ppm", shot, sizeof(shot)));
	}
	ck_assert_msg(seen, "RDP: no notice on screen (%s)", d.root);
	for (int t = 0; t < 300 && !rdp_client_closed(r); t++)
		rdp_client_pump(r, 100);
	ck_assert_msg(rdp_client_closed(r), "RDP: the notice stayed open");
	rdp_client_destroy(r);
	ck_assert_int_eq(
	    shojid_audit_count(&d, "\"event\":\"login_refused\"", "\"protocol\":\"rdp\""), 1);
	/* The same from the logon screen (a client that sent no password). */
	ro.password = NULL;
	r = rdp_client_connect(&ro);
	ck_assert_msg(r, "clerk over RDP without a password: no logon screen (%s)", d.log_path);
	for (int t = 0; t < 100 && !rdp_client_closed(r); t++)
		rdp_client_pump(r, 100); /* the logon screen arrives */
	ck_assert(!looks_like_notice(rdp_px, r, rdp_client_width(r), rdp_client_height(r)));
	ck_assert_int_eq(rdp_client_type_unicode(r, CLERK_PASSWORD), 0);
	ck_assert_int_eq(rdp_client_key(r, 0x1c, true), 0); /* Enter */
	ck_assert_int_eq(rdp_client_key(r, 0x1c, false), 0);
	seen = false;
	for (int t = 0; t < 200 && !seen && !rdp_client_closed(r); t++) {
		rdp_client_pump(r, 100);
		seen = looks_like_notice(rdp_px, r, rdp_client_width(r), rdp_client_height(r));
	}
	if (!seen) {
		char shot[160];
		rdp_client_dump_ppm(r, shojid_path(&d, "notice-logon.ppm", shot, sizeof(shot)));
	}
	ck_assert_msg(seen, "RDP logon screen: no notice (%s)", d.root);
	rdp_client_destroy(r);
	ck_assert(shojid_audit_wait(&d, "\"event\":\"login_refused\"", "\"protocol\":\"rdp\"",
	                            "limit reached", 5000));
	ck_assert_int_eq(
	    shojid_audit_count(&d, "\"event\":\"login_refused\"", "\"protocol\":\"rdp\""), 2);
	/* on_second_login = refuse: the first viewer stays. */
	expect_vnc_notice("demo", DEMO_PASSWORD);
	ck_assert(shojid_audit_wait(&d, "\"event\":\"login_refused\"", "\"user\":\"demo\"",
	                            "already signed in", 5000));
	viewer_pump(a, 500);
	ck_assert(!viewer_closed(a));
	/* kill --user, audited with the reason. */
	ck_assert_int_eq(ctl(out, sizeof(out), "kill", "--reason", "end of day", "--user", "demo"),
	                 0);
	ck_assert(wait_closed(a, 10000));
	viewer_destroy(a);
	ck_assert(shojid_audit_wait(&d, "\"event\":\"admin_kill\"", id, "end of day", 5000));
	ck_assert(shojid_audit_wait(&d, "\"event\":\"session_close\"", id, "administrator", 5000));
	ck_assert_int_eq(ctl(out, sizeof(out), "kill", "--user", "demo", NULL, NULL), 1);
	/* drain: the warm session goes, logins are refused; undrain brings one back. */
	ck_assert(shojid_wait_ready(&d, 2, 90000));
	ck_assert_int_eq(ctl(out, sizeof(out), "drain", NULL, NULL, NULL, NULL), 0);
	ck_assert(shojid_audit_wait(&d, "\"event\":\"drain\"", NULL, NULL, 5000));
	for (int t = 0; t < 200 && status_number("sessions") != 0; t++)
		usleep(100000);
	ck_assert_int_eq(status_number("sessions"), 0);
	expect_vnc_notice("clerk", CLERK_PASSWORD);
	ck_assert(shojid_audit_wait(&d, "\"event\":\"login_refused\"", "\"user\":\"clerk\"",
	                            "maintenance", 5000));
	ck_assert_int_eq(ctl(out, sizeof(out), "undrain", NULL, NULL, NULL, NULL), 0);
	ck_assert(shojid_wait_ready(&d, 3, 90000));
	struct viewer *c = vnc_login("clerk", CLERK_PASSWORD);
	ck_assert_msg(c, "clerk could not log in after undrain (%s)", d.log_path);
	viewer_destroy(c);
	finish();
}
END_TEST

/* Appends text to the config; with replace, writes the config as text. */
static void write_config(const char *text, bool replace)
{
	FILE *f = fopen(d.config_path, replace ? "w" : "a");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

START_TEST(sighup_reload)
{
	char saved[16384], out[4096];

	if (geteuid() != 0)
		return;
	start(NULL);
	struct viewer *a = vnc_login("demo", DEMO_PASSWORD);
	ck_assert_msg(a, "demo could not log in (%s)", d.log_path);
	FILE *f = fopen(d.config_path, "r");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(saved, 1, sizeof(saved) - 1, f);
	saved[n] = '\0';
	fclose(f);

	write_config("[pool]\nidle_timeout = 1234\n", false);
	ck_assert_int_eq(kill(d.pid, SIGHUP), 0);
	ck_assert(shojid_audit_wait(&d, "\"event\":\"config_reload\"", "\"ok\":true", NULL, 5000));
	ck_assert_int_eq(status_number("idle_timeout_s"), 1234);

	write_config(saved, true);
	write_config("[pool]\nidle_timeout = soon\n", false);
	ck_assert_int_eq(kill(d.pid, SIGHUP), 0);
	ck_assert(
	    shojid_audit_wait(&d, "\"event\":\"config_reload\"", "\"ok\":false", "soon", 5000));
	ck_assert(shojid_log_wait(&d, "reload refused", 5000));
	ck_assert_int_eq(status_number("idle_timeout_s"), 1234);

	/* A certificate that does not load is refused too. */
	write_config(saved, true);
	char *cfg = strdup(saved);
	char *cert = strstr(cfg, "cert = ");
	ck_assert_ptr_nonnull(cert);
	memcpy(cert, "cert = /nonexisting/x.crt", 25);
	write_config(cfg, true);
	free(cfg);
	ck_assert_int_eq(kill(d.pid, SIGHUP), 0);
	ck_assert_int_eq(shojid_audit_count(&d, "\"event\":\"config_reload\"", NULL) >= 2, 1);
	for (int t = 0; t < 50 && shojid_audit_count(&d, "\"ok\":false", NULL) < 2; t++)
		usleep(100000);
	ck_assert_int_eq(shojid_audit_count(&d, "\"ok\":false", NULL), 2);
	ck_assert_int_eq(status_number("idle_timeout_s"), 1234);
	write_config(saved, true);

	/* The session went on through all of it. */
	viewer_pump(a, 500);
	ck_assert(!viewer_closed(a));
	ck_assert_int_eq(status_number("attached"), 1);
	ck_assert_int_eq(ctl(out, sizeof(out), "status", NULL, NULL, NULL, NULL), 0);
	viewer_destroy(a);
	finish();
}
END_TEST

START_TEST(reattach_vnc_then_rdp)
{
	char id[40], id2[40], log[160];

	if (geteuid() != 0)
		return;
	ck_assert_msg(shojid_setup(&d, "[pool]\nidle_timeout = 600\n") == 0, "setup (%s)", d.root);
	int rdp_port = enable_rdp();
	ck_assert_int_eq(shojid_add_user(&d, "demo", DEMO_PASSWORD), 0);
	viewer_log_to(shojid_path(&d, "vncclient.log", log, sizeof(log)));
	rdp_client_log_to(d.root, "rdpclient.log");
	ck_assert_msg(shojid_launch(&d, 90000) == 0, "shojid did not get ready (%s)", d.log_path);

	struct viewer *a = vnc_login("demo", DEMO_PASSWORD);
	ck_assert_msg(a, "demo could not log in over VNC (%s)", d.log_path);
	viewer_pump(a, 300);
	session_of("demo", id, sizeof(id));
	viewer_destroy(a);
	ck_assert(shojid_audit_wait(&d, "\"event\":\"session_detach\"", id, NULL, 10000));

	struct rdp_client_options opt = {.port = rdp_port,
	                                 .user = "demo",
	                                 .password = DEMO_PASSWORD,
	                                 .width = 1024,
	                                 .height = 768};
	struct rdp_client *r = rdp_client_connect(&opt);
	ck_assert_msg(r, "demo could not log in over RDP (%s)", d.log_path);
	ck_assert(shojid_audit_wait(&d, "\"event\":\"session_attach\"", id, "\"protocol\":\"rdp\"",
	                            20000));
	ck_assert(audit_has(d.audit_path, "\"event\":\"session_attach\"", id, "\"new\":false"));
	session_of("demo", id2, sizeof(id2));
	ck_assert_str_eq(id, id2);
	rdp_client_destroy(r);
	finish();
}
END_TEST

/* A free TCP port on 127.0.0.1 (free when asked; the daemon binds it soon after). */
static int free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

/* Sends request to 127.0.0.1:port with a plain socket; the whole answer into out. */
static void http(int port, const char *request, char *out, size_t cap)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	size_t len = 0;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(write(fd, request, strlen(request)), (ssize_t)strlen(request));
	struct timeval tv = {.tv_sec = 10};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (ssize_t n; len < cap - 1 && (n = read(fd, out + len, cap - 1 - len)) > 0;)
		len += (size_t)n;
	out[len] = '\0';
	close(fd);
}

/* The value of one sample line ("name{labels} value") in a scrape; -1 if absent. */
static double sample(const char *text, const char *series)
{
	char key[160];
	snprintf(key, sizeof(key), "\n%s ", series);
	const char *p = strstr(text, key);
	return p ? strtod(p + strlen(key), NULL) : -1;
}

static void scrape(int port, char *out, size_t cap)
{
	http(port, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", out, cap);
	ck_assert_msg(!strncmp(out, "HTTP/1.1 200 OK\r\n", 17), "%.200s", out);
	ck_assert_msg(strstr(out, "Content-Type: text/plain; version=0.0.4"), "%.300s", out);
}

/* The pid of the session's render process inside its sandbox ("shoji-render --inner"), or 0. */
static pid_t inner_render(const char *id)
{
	char path[64], cmd[4096];
	pid_t found = 0;
	DIR *proc = opendir("/proc");

	ck_assert_ptr_nonnull(proc);
	for (struct dirent *e; !found && (e = readdir(proc));) {
		pid_t pid = (pid_t)atoi(e->d_name);
		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, cmd, sizeof(cmd) - 1);
		close(fd);
		if (n <= 0)
			continue;
		cmd[n] = '\0';
		bool inner = false, session = false;
		for (char *a = cmd; a < cmd + n; a += strlen(a) + 1) {
			inner = inner || !strcmp(a, "--inner");
			session = session || !strcmp(a, id);
		}
		if (inner && session && strstr(cmd, "shoji-render"))
			found = pid;
	}
	closedir(proc);
	return found;
}

/*
 * [metrics]: scraped with a plain socket before and after a VNC login, the
 * counters moved; other paths and methods are refused. `shojictl sessions`
 * has the session's output rates and its sandbox's CPU and memory. The
 * audit log is reopened on SIGUSR1 after a rename, as logrotate does.
 */
START_TEST(metrics_usage_and_audit_reopen)
{
	static char before[32768], after[32768];
	char ini[160], out[16384], v[64], id[40];

	if (geteuid() != 0)
		return;
	int port = free_port();
	snprintf(ini, sizeof(ini), "[pool]\nidle_timeout = 600\n[metrics]\nlisten = 127.0.0.1:%d\n",
	         port);
	start(ini);
	scrape(port, before, sizeof(before));
	ck_assert_msg(sample(before, "shoji_sessions{state=\"ready\"}") == 1, "%s", before);
	ck_assert_msg(sample(before, "shoji_logins_total{result=\"accepted\"}") == 0, "%s", before);
	ck_assert_msg(sample(before, "shoji_render_crashes_total") == 0, "%s", before);
	http(port, "GET /other HTTP/1.1\r\n\r\n", out, sizeof(out));
	ck_assert_msg(!strncmp(out, "HTTP/1.1 404 ", 13), "%.100s", out);
	http(port, "POST /metrics HTTP/1.1\r\n\r\n", out, sizeof(out));
	ck_assert_msg(!strncmp(out, "HTTP/1.1 400 ", 13), "%.100s", out);
	http(port, "GET /metrics SPDY/9\r\n\r\n", out, sizeof(out));
	ck_assert_msg(!strncmp(out, "HTTP/1.1 400 ", 13), "%.100s", out);

	struct viewer *a = vnc_login("demo", DEMO_PASSWORD);
	ck_assert_msg(a, "demo could not log in (%s)", d.log_path);
	int x, y;
	ck_assert_msg(viewer_wait_block(a, 0xff0000, 200, 150, 60000, &x, &y), "no page");
	for (int i = 0; i < 8; i++) { /* some input and output, past a usage sample */
		viewer_click(a, 300 + i, 300);
		viewer_pump(a, 1000);
	}
	ck_assert(vnc_login("demo", "wrong password") == NULL);
	scrape(port, after, sizeof(after));
	ck_assert_msg(sample(after, "shoji_logins_total{result=\"accepted\"}") == 1, "%s", after);
	ck_assert_msg(sample(after, "shoji_logins_total{result=\"refused\"}") == 1, "%s", after);
	ck_assert_msg(sample(after, "shoji_sessions{state=\"attached\"}") == 1, "%s", after);
	ck_assert_msg(sample(after, "shoji_bytes_out_total{protocol=\"vnc\"}") > 100000, "%s",
	              after);
	ck_assert_msg(sample(after, "shoji_bytes_out_total{protocol=\"rdp\"}") == 0, "%s", after);
	double frames = sample(after, "shoji_frames_total{protocol=\"vnc\"}");
	ck_assert_msg(frames >= 1, "%s", after);
	ck_assert_msg(sample(after, "shoji_encode_seconds_count") == frames, "%s", after);
	ck_assert_msg(sample(after, "shoji_encode_seconds_bucket{le=\"+Inf\"}") == frames, "%s",
	              after);

	/* The session's row: output over the last 10 s, CPU and memory of its sandbox. */
	session_of("demo", id, sizeof(id));
	ck_assert_int_eq(ctl(out, sizeof(out), "--json", "show", id, NULL, NULL), 0);
	ck_assert_msg(json_field(out, "kbps_out", v, sizeof(v)) && strtod(v, NULL) > 0, "%s", out);
	ck_assert_msg(json_field(out, "fps", v, sizeof(v)) && strtod(v, NULL) > 0, "%s", out);
	ck_assert_msg(json_field(out, "cpu_percent", v, sizeof(v)) && strcmp(v, "null") &&
	                  strtod(v, NULL) >= 0,
	              "%s", out);
	ck_assert_msg(json_field(out, "rss_mb", v, sizeof(v)) && strtol(v, NULL, 10) > 10, "%s",
	              out);
	ck_assert_int_eq(ctl(out, sizeof(out), "sessions", NULL, NULL, NULL, NULL), 0);
	ck_assert_msg(strstr(out, "KBPS_OUT") && strstr(out, "RSS_MB"), "%s", out);
	fprintf(stderr, "pool: shojictl sessions:\n%s", out);

	/* logrotate: rename, signal, and the next event is in the new file. */
	char rotated[160];
	snprintf(rotated, sizeof(rotated), "%s.1", d.audit_path);
	ck_assert_int_eq(rename(d.audit_path, rotated), 0);
	ck_assert_int_eq(kill(d.pid, SIGUSR1), 0);
	ck_assert(shojid_audit_wait(&d, "\"event\":\"audit_reopen\"", NULL, NULL, 10000));
	viewer_destroy(a);
	ck_assert(shojid_audit_wait(&d, "\"event\":\"session_detach\"", id, NULL, 10000));
	ck_assert(!audit_has(rotated, "\"event\":\"session_detach\"", id, NULL));
	ck_assert(audit_has(rotated, "\"event\":\"session_attach\"", id, NULL));

	/* The browser side dies: a render crash, whose session_end its supervisor
	 * (passed the signal by shojid) writes to the new file. */
	pid_t inner = inner_render(id);
	ck_assert_msg(inner > 0, "no render process of session %s", id);
	ck_assert_int_eq(kill(inner, SIGKILL), 0);
	ck_assert(shojid_audit_wait(&d, "\"event\":\"session_end\"", id, NULL, 20000));
	ck_assert(!audit_has(rotated, "\"event\":\"session_end\"", id, NULL));
	for (int t = 0; t < 100; t++) {
		scrape(port, after, sizeof(after));
		if (sample(after, "shoji_render_crashes_total") == 1)
			break;
		usleep(100000);
	}
	ck_assert_msg(sample(after, "shoji_render_crashes_total") == 1, "%s", after);
	finish();
}
END_TEST

/*
 * [pool] max_per_user = 2: a second login of the same user gets a session
 * of its own while the first goes on; max_lifetime then ends both.
 */
START_TEST(per_user_and_lifetime)
{
	char out[16384], dir[256], id[40];

	if (geteuid() != 0)
		return;
	start("[pool]\nmin_ready = 2\nmax_per_user = 2\nmax_lifetime = 40\nidle_timeout = 600\n");
	ck_assert(shojid_wait_ready(&d, 2, 90000));
	struct viewer *a = vnc_login("demo", DEMO_PASSWORD);
	ck_assert_msg(a, "demo could not log in (%s)", d.log_path);
	struct viewer *b = vnc_login("demo", DEMO_PASSWORD);
	ck_assert_msg(b, "demo's second login failed (%s)", d.log_path);
	viewer_pump(a, 500);
	viewer_pump(b, 500);
	ck_assert(!viewer_closed(a) && !viewer_closed(b));
	ck_assert_int_eq(ctl(out, sizeof(out), "--json", "sessions", NULL, NULL, NULL), 0);
	int mine = 0;
	for (const char *p = out; (p = strstr(p, "\"user\":\"demo\"")); p++)
		mine++;
	ck_assert_msg(mine == 2, "%s", out);
	ck_assert_int_eq(shojid_audit_count(&d, "\"event\":\"session_detach\"", NULL), 0);
	session_of("demo", id, sizeof(id));
	mark_home(id, dir, sizeof(dir));
	/* Both end at max_lifetime, used or not. */
	for (int i = 0; i < 60 && !(viewer_closed(a) && viewer_closed(b)); i++) {
		viewer_click(a, 10, 10);
		viewer_pump(a, 500);
		viewer_click(b, 10, 10);
		viewer_pump(b, 500);
	}
	ck_assert(viewer_closed(a) && viewer_closed(b));
	ck_assert(shojid_audit_wait(&d, "\"event\":\"session_close\"", id, "max_lifetime", 5000));
	ck_assert_int_eq(shojid_audit_count(&d, "\"event\":\"session_close\"", "max_lifetime"), 2);
	ck_assert_msg(wait_gone(dir, 20000), "%s is still there", dir);
	viewer_destroy(a);
	viewer_destroy(b);
	finish();
}
END_TEST

/*
 * now_ms() of the latest login_accepted of user in the audit log (its
 * wall-clock "time", in ms, moved onto the monotonic clock); 0 if none.
 */
static uint64_t login_accepted_ms(const char *user)
{
	char line[4096], key[96];
	uint64_t found = 0;
	FILE *f = fopen(d.audit_path, "r");

	ck_assert_ptr_nonnull(f);
	snprintf(key, sizeof(key), "\"user\":\"%s\"", user);
	while (fgets(line, sizeof(line), f)) {
		struct tm tm = {0};
		int ms;
		const char *t = strstr(line, "\"time\":\"");
		if (!t || !strstr(line, "\"event\":\"login_accepted\"") || !strstr(line, key))
			continue;
		if (sscanf(t + 8, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		           &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
			continue;
		tm.tm_year -= 1900;
		tm.tm_mon -= 1;
		found = (uint64_t)timegm(&tm) * 1000 + (uint64_t)ms;
	}
	fclose(f);
	if (!found)
		return 0;
	struct timespec rt;
	clock_gettime(CLOCK_REALTIME, &rt);
	uint64_t real_now = (uint64_t)rt.tv_sec * 1000 + (uint64_t)rt.tv_nsec / 1000000;
	return now_ms() - (real_now - found);
}

struct connect_times {
	long page;           /* connect to the test page's red block on screen */
	long auth_to_frame;  /* credentials handed over to the first whole frame */
	long auth_to_page;   /* credentials handed over to the page on screen */
	long login_to_frame; /* shojid's login_accepted (password checked) to the first frame */
};

static struct connect_times time_to_page(const char *user, const char *password)
{
	struct connect_times t;
	int x, y;
	uint64_t t0 = now_ms();
	struct viewer *v = vnc_login(user, password);
	ck_assert_msg(v, "%s could not log in (%s)", user, d.log_path);
	ck_assert_msg(viewer_wait_block(v, 0xff0000, 200, 150, 60000, &x, &y),
	              "the page never appeared for %s", user);
	uint64_t now = now_ms();
	ck_assert(viewer_auth_ms(v) && viewer_first_update_ms(v));
	t.page = (long)(now - t0);
	t.auth_to_frame = (long)(viewer_first_update_ms(v) - viewer_auth_ms(v));
	t.auth_to_page = (long)(now - viewer_auth_ms(v));
	uint64_t accepted = login_accepted_ms(user);
	ck_assert_msg(accepted, "no login_accepted of %s", user);
	t.login_to_frame = (long)(viewer_first_update_ms(v) - accepted);
	viewer_destroy(v);
	return t;
}

/*
 * Connect-to-first-page time with a warm session, then with none warm
 * ([pool] min_ready = 0 through shojictl: the login waits for one to
 * start). Prints the numbers (scripts/connect-time collects them); asserts
 * only that both logins work.
 */
START_TEST(warm_vs_cold_connect)
{
	char out[4096];

	if (geteuid() != 0)
		return;
	start("[pool]\nidle_timeout = 600\n");
	struct connect_times warm = time_to_page("demo", DEMO_PASSWORD);
	ck_assert_int_eq(ctl(out, sizeof(out), "pool", "set", "min_ready=0", NULL, NULL), 0);
	ck_assert_int_eq(ctl(out, sizeof(out), "drain", NULL, NULL, NULL, NULL), 0);
	for (int t = 0; t < 200 && status_number("ready") + status_number("warming") > 0; t++)
		usleep(100000);
	ck_assert_int_eq(ctl(out, sizeof(out), "undrain", NULL, NULL, NULL, NULL), 0);
	ck_assert_int_eq(status_number("ready") + status_number("warming"), 0);
	struct connect_times cold = time_to_page("clerk", CLERK_PASSWORD);
	fprintf(stderr,
	        "pool: connect to first page: warm %ld ms, cold %ld ms; after authentication: "
	        "first frame warm %ld ms cold %ld ms, page warm %ld ms cold %ld ms; after "
	        "login_accepted: first frame warm %ld ms cold %ld ms\n",
	        warm.page, cold.page, warm.auth_to_frame, cold.auth_to_frame, warm.auth_to_page,
	        cold.auth_to_page, warm.login_to_frame, cold.login_to_frame);
	ck_assert_int_eq(status_number("ready") + status_number("warming"), 0);
	finish();
}
END_TEST

Suite *suite_pool(void)
{
	Suite *s = suite_create("pool");
	TCase *tc = tcase_create("pool");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, status_json_and_admin_refusal);
	tcase_add_test(tc, reconnect_grace_and_wipe);
	tcase_add_test(tc, idle_timeout_and_takeover);
	tcase_add_test(tc, limits_refusal_kill_drain);
	tcase_add_test(tc, sighup_reload);
	tcase_add_test(tc, reattach_vnc_then_rdp);
	tcase_add_test(tc, per_user_and_lifetime);
	suite_add_tcase(s, tc);
	TCase *observe = tcase_create("observe");
	tcase_set_timeout(observe, 300);
	tcase_add_test(observe, metrics_usage_and_audit_reopen);
	suite_add_tcase(s, observe);
	TCase *timing = tcase_create("timing");
	tcase_set_timeout(timing, 300);
	tcase_add_test(timing, warm_vs_cold_connect);
	suite_add_tcase(s, timing);
	return s;
}
