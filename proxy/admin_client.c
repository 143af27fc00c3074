/*
 * shojictl's admin commands (see admin_client.h). Untrusted input: the
 * command line, and the daemon's answer, parsed with admin_parse_record.
 * The JSON printed by --json is documented in README.md ("shojictl
 * --json"); field names are the protocol's, numbers and booleans typed
 * by the lists below.
 */
#include "autoconfig.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "admin_client.h"
#include "admin_proto.h"
#include "util.h"

#define ANSWER_MAX (64 * 1024)
#define MAX_ROWS 1024

static const char *const numeric[] = {
    "uptime_s",
    "connections",
    "sessions",
    "warming",
    "ready",
    "attached",
    "detached",
    "ending",
    "min_ready",
    "max_sessions",
    "max_per_user",
    "idle_timeout_s",
    "reconnect_grace_s",
    "max_lifetime_s",
    "age_s",
    "idle_s",
    "uid",
    "pid",
    "ended",
    "kbps_out",
    "fps",
    "cpu_percent",
    "rss_mb",
};

/* The columns of `sessions` in human output: field, heading, width (negative: left-aligned). */
static const struct {
	const char *field, *heading;
	int width;
} columns[] = {
    {"id", "ID", -16},           {"user", "USER", -12},
    {"protocol", "PROT", -4},    {"address", "ADDRESS", -21},
    {"state", "STATE", -8},      {"started", "STARTED", -20},
    {"idle_s", "IDLE_S", 6},     {"resolution", "RESOLUTION", -10},
    {"kbps_out", "KBPS_OUT", 8}, {"fps", "FPS", 5},
    {"cpu_percent", "CPU%", 6},  {"rss_mb", "RSS_MB", 6},
};

static void print_row(const char *const *v)
{
	for (size_t c = 0; c < ARRAY_SIZE(columns); c++)
		printf(c + 1 < ARRAY_SIZE(columns) ? "%*s  " : "%*s\n", columns[c].width,
		       v[c] ? v[c] : "");
}

static bool is_numeric(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(numeric); i++)
		if (!strcmp(numeric[i], name))
			return true;
	return false;
}

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* Digits with at most one '.' inside: printed as a JSON number, anything else as a string. */
static bool looks_numeric(const char *v)
{
	size_t n = strspn(v, "0123456789");
	if (n == 0)
		return false;
	if (v[n] == '.')
		n += 1 + strspn(v + n + 1, "0123456789");
	return v[n] == '\0' && v[n - 1] != '.';
}

static void json_record(const struct admin_field *f, int n)
{
	putchar('{');
	for (int i = 0; i < n; i++) {
		printf("%s", i ? "," : "");
		json_string(f[i].name);
		putchar(':');
		if (is_numeric(f[i].name) && looks_numeric(f[i].value))
			printf("%s", f[i].value);
		else if (is_numeric(f[i].name) && !f[i].value[0])
			printf(
			    "null"); /* not known (e.g. no cgroup to read a session's CPU from) */
		else if (!strcmp(f[i].name, "drained"))
			printf("%s", strcmp(f[i].value, "true") ? "false" : "true");
		else
			json_string(f[i].value);
	}
	putchar('}');
}

/* Sends line, reads the whole answer into buf (NUL-terminated); its length or -1. */
static ssize_t exchange(const struct admin_target *t, const char *line, char *buf, size_t cap)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len = 0;

	if (strlen(t->socket) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", t->socket);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    send(fd, line, strlen(line), MSG_NOSIGNAL) < 0) {
		close(fd);
		return -1;
	}
	for (ssize_t n; len < cap - 1; len += (size_t)n) {
		n = recv(fd, buf + len, cap - 1 - len, 0);
		if (n < 0 && errno == EINTR)
			n = 0;
		else if (n <= 0)
			break;
	}
	close(fd);
	buf[len] = '\0';
	return (ssize_t)len;
}

static int print_rows(const struct admin_target *t, enum admin_command cmd, char *body)
{
	static struct admin_field f[ADMIN_MAX_FIELDS];
	bool list = cmd == ADMIN_SESSIONS;
	int rows = 0;

	if (list && t->json)
		putchar('[');
	else if (list) {
		const char *h[ARRAY_SIZE(columns)];
		for (size_t c = 0; c < ARRAY_SIZE(columns); c++)
			h[c] = columns[c].heading;
		print_row(h);
	}
	for (char *line = body, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		int n = admin_parse_record(line, nl ? (size_t)(nl - line) : strlen(line), f,
		                           ADMIN_MAX_FIELDS);
		if (n < 0) {
			fprintf(stderr, "%s: malformed answer from shojid\n", t->prog);
			return 1;
		}
		if (t->json) {
			printf("%s", rows ? "," : "");
			json_record(f, n);
		} else if (list) {
			const char *v[ARRAY_SIZE(columns)] = {0};
			for (size_t c = 0; c < ARRAY_SIZE(columns); c++)
				for (int i = 0; i < n; i++)
					if (!strcmp(f[i].name, columns[c].field))
						v[c] = f[i].value[0] ? f[i].value : "-";
			print_row(v);
		} else {
			for (int i = 0; i < n; i++)
				printf("%-18s %s\n", f[i].name, f[i].value);
		}
		rows++;
	}
	if (list && t->json)
		putchar(']');
	if (t->json)
		putchar('\n');
	return 0;
}

/* The request line for argv, or a usage problem in *bad. */
static int build_request(int argc, char **argv, char *line, size_t cap, const char **bad)
{
	static const struct option opts[] = {
	    {"reason", required_argument, NULL, 'r'},
	    {"user", required_argument, NULL, 'U'},
	    {NULL, 0, NULL, 0},
	};
	const char *reason = "no reason given", *user = NULL;
	int c;

	optind = 0; /* GNU getopt: start afresh on this argv */
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (c == 'r')
			reason = optarg;
		else if (c == 'U')
			user = optarg;
		else
			return (*bad = "unknown option"), -1;
	}
	const char *cmd = argv[0];
	int rest = argc - optind;
	char **a = argv + optind;
	if (!strcmp(cmd, "kill") && user && rest == 0)
		snprintf(line, cap, "kill-user %s %s\n", user, reason);
	else if (!strcmp(cmd, "kill") && !user && rest == 1)
		snprintf(line, cap, "kill %s %s\n", a[0], reason);
	else if (!strcmp(cmd, "show") && rest == 1)
		snprintf(line, cap, "show %s\n", a[0]);
	else if (!strcmp(cmd, "pool") && rest >= 2 && rest <= 3 && !strcmp(a[0], "set"))
		snprintf(line, cap, "pool %s%s%s\n", a[1], rest == 3 ? " " : "",
		         rest == 3 ? a[2] : "");
	else if (rest == 0 && !user &&
	         (!strcmp(cmd, "status") || !strcmp(cmd, "sessions") || !strcmp(cmd, "drain") ||
	          !strcmp(cmd, "undrain")))
		snprintf(line, cap, "%s\n", cmd);
	else
		return (*bad = "wrong arguments"), -1;
	return 0;
}

int admin_client_run(const struct admin_target *t, int argc, char **argv)
{
	static char answer[ANSWER_MAX];
	char line[ADMIN_MAX_LINE + 64];
	struct admin_request req;
	const char *bad = NULL;

	if (build_request(argc, argv, line, sizeof(line), &bad) < 0 ||
	    admin_parse_request(line, strlen(line), &req) != (ssize_t)strlen(line)) {
		fprintf(stderr, "%s: %s: %s (see %s --help)\n", t->prog, argv[0],
		        bad ? bad : "malformed arguments", t->prog);
		return 2;
	}
	if (exchange(t, line, answer, sizeof(answer)) < 0) {
		fprintf(stderr, "%s: cannot reach shojid at %s: %s\n", t->prog, t->socket,
		        strerror(errno));
		return 1;
	}
	if (!strncmp(answer, "error ", 6)) {
		fprintf(stderr, "%s: %s", t->prog, answer + 6);
		return 1;
	}
	if (strncmp(answer, "ok\n", 3)) {
		fprintf(stderr, "%s: no answer from shojid at %s\n", t->prog, t->socket);
		return 1;
	}
	return print_rows(t, req.command, answer + 3);
}

int admin_client_audit(const struct admin_target *t, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"since", required_argument, NULL, 's'},
	    {"user", required_argument, NULL, 'U'},
	    {NULL, 0, NULL, 0},
	};
	const char *since = NULL;
	char user[128] = "", line[16384];
	int c;

	optind = 0; /* GNU getopt: start afresh on this argv */
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (c == 's')
			since = optarg;
		else if (c == 'U')
			snprintf(user, sizeof(user), "\"user\":\"%s\"", optarg);
		else
			return fprintf(stderr, "%s: audit: unknown option\n", t->prog), 2;
	}
	if (optind != argc)
		return fprintf(stderr, "%s: audit: unexpected argument\n", t->prog), 2;
	FILE *f = fopen(t->audit_file, "re");
	if (!f) {
		fprintf(stderr, "%s: %s: %s\n", t->prog, t->audit_file, strerror(errno));
		return 1;
	}
	/* Lines start {"time":"2026-11-28T10:00:00Z": times compare as text. */
	while (fgets(line, sizeof(line), f)) {
		if (since && (strncmp(line, "{\"time\":\"", 9) ||
		              strncmp(line + 9, since, strlen(since)) < 0))
			continue;
		if (user[0] && !strstr(line, user))
			continue;
		fputs(line, stdout);
	}
	fclose(f);
	return 0;
}
