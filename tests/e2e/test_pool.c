/*
 * End to end: the session pool and its administration. A real shojid with
 * short [pool] timeouts, logins over VNC (libvncclient) and RDP
 * (libfreerdp-client), and the built shojictl over the admin socket:
 * every timeout, each limit, takeover and refusal of a second login,
 * kill, drain, SIGHUP with a good and a bad config, a non-admin refused
 * on the admin socket, the JSON of `status` and `sessions`, reattachment
 * across protocols, and the session's files gone after it ended. Needs
 * root and is skipped otherwise.
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <check.h>
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

START_TEST(status_json_and_admin_refusal)
{
	char out[4096], v[64];

	if (geteuid() != 0)
		return;
	start("[pool]\nmax_sessions = 5\nidle_timeout = 600\n");
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

	/* The socket is 0600 or 0660; opened wide, SO_PEERCRED still refuses nobody. */
	char sock[100];
	shojid_path(&d, "admin.sock", sock, sizeof(sock));
	struct stat st;
	ck_assert_int_eq(stat(sock, &st), 0);
	ck_assert_int_eq(st.st_mode & 0007, 0);
	ck_assert_int_eq(chmod(sock, 0666), 0);
	pid_t pid = fork();
	if (pid == 0) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		char buf[256] = "";
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
		if (setgroups(0, NULL) < 0 || setgid(NOBODY_UID) < 0 || setuid(NOBODY_UID) < 0)
			_exit(3);
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			_exit(4);
		/* The daemon may answer before reading: a failed write is fine. */
		ssize_t n = write(fd, "drain\n", 6);
		n = read(fd, buf, sizeof(buf) - 1);
		_exit(n > 0 && !strncmp(buf, "error permission denied", 23) ? 0 : 5);
	}
	int status;
	waitpid(pid, &status, 0);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "nobody: status %d", status);
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
	static const char *const fields[] = {"id",         "user",    "protocol", "address",
	                                     "state",      "started", "age_s",    "idle_s",
	                                     "resolution", "uid",     "pid"};
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
	start("[pool]\nmax_sessions = 1\non_second_login = refuse\nidle_timeout = 600\n");
	struct viewer *a = vnc_login("demo", DEMO_PASSWORD);
	ck_assert_msg(a, "demo could not log in (%s)", d.log_path);
	viewer_pump(a, 300);
	session_of("demo", id, sizeof(id));
	/* max_sessions: no room for clerk. */
	ck_assert_ptr_null(vnc_login("clerk", CLERK_PASSWORD));
	ck_assert(shojid_audit_wait(&d, "\"event\":\"login_refused\"", "\"user\":\"clerk\"",
	                            "limit reached", 5000));
	/* on_second_login = refuse: the first viewer stays. */
	ck_assert_ptr_null(vnc_login("demo", DEMO_PASSWORD));
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
	ck_assert_ptr_null(vnc_login("clerk", CLERK_PASSWORD));
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

/* Milliseconds from connecting to the test page's red block on screen. */
static long time_to_page(const char *user, const char *password)
{
	int x, y;
	uint64_t t0 = now_ms();
	struct viewer *v = vnc_login(user, password);
	ck_assert_msg(v, "%s could not log in (%s)", user, d.log_path);
	ck_assert_msg(viewer_wait_block(v, 0xff0000, 200, 150, 60000, &x, &y),
	              "the page never appeared for %s", user);
	long ms = (long)(now_ms() - t0);
	viewer_destroy(v);
	return ms;
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
	long warm = time_to_page("demo", DEMO_PASSWORD);
	ck_assert_int_eq(ctl(out, sizeof(out), "pool", "set", "min_ready=0", NULL, NULL), 0);
	ck_assert_int_eq(ctl(out, sizeof(out), "drain", NULL, NULL, NULL, NULL), 0);
	for (int t = 0; t < 200 && status_number("ready") + status_number("warming") > 0; t++)
		usleep(100000);
	ck_assert_int_eq(ctl(out, sizeof(out), "undrain", NULL, NULL, NULL, NULL), 0);
	ck_assert_int_eq(status_number("ready") + status_number("warming"), 0);
	long cold = time_to_page("clerk", CLERK_PASSWORD);
	fprintf(stderr, "pool: connect to first page: warm %ld ms, cold %ld ms\n", warm, cold);
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
	suite_add_tcase(s, tc);
	TCase *timing = tcase_create("timing");
	tcase_set_timeout(timing, 300);
	tcase_add_test(timing, warm_vs_cold_connect);
	suite_add_tcase(s, timing);
	return s;
}
