/*
 * shojictl: the administrator's command-line tool. Commands come in groups
 * (`shojictl GROUP COMMAND ...`), each group a row in `groups` below; today
 * there is `user`, which edits the users file directly through userdb.c
 * (locked and crash-safe, so it is safe while shojid runs: shojid rereads
 * the file when it changes), and the commands that ask a running shojid
 * over its admin socket (admin_client.c).
 *
 * Untrusted input: the command line, and the password, which is read from
 * the terminal without echo or from standard input, never from argv
 * (argv is visible to every user in ps and /proc). The config and users
 * files are parsed by config.c and userdb.c. Password buffers are wiped
 * after use.
 *
 * Exit status: 0 on success, 1 on an error, 2 on bad usage.
 */
#include "autoconfig.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "admin_client.h"
#include "config.h"
#include "userdb.h"
#include "util.h"

#define SHOJICTL_DEFAULT_CONFIG "/etc/shoji/shoji.conf"
#define EXIT_USAGE 2
/* A password, a possible CR, and the NUL; one byte more shows it is too long. */
#define PASSWORD_BUF (USERDB_MAX_PASSWORD + 3)

struct ctl {
	const char *prog;
	const char *config_path;
	const char *users_file; /* -u: overrides [auth] users_file */
	const char *socket;     /* -s: overrides [server] admin_socket */
	bool json;              /* --json */
};

struct group {
	const char *name;
	int (*run)(struct ctl *ctl, int argc, char **argv); /* argv[0] is the group */
	const char *synopsis;                               /* lines for the usage text */
	const char *help;
};

static int group_user(struct ctl *ctl, int argc, char **argv);
static int group_admin(struct ctl *ctl, int argc, char **argv);

static const struct group groups[] = {
    {"user", group_user,
     "user add [--nt-hash] NAME\n"
     "user passwd [--nt-hash] NAME\n"
     "user del NAME\n"
     "user list\n",
     "Edit the users file ([auth] users_file). Passwords are read from the terminal\n"
     "(asked twice, not echoed) or, when standard input is not a terminal, as one line\n"
     "from it; never from the command line. At least 8 characters, at most 1024 bytes,\n"
     "UTF-8. --nt-hash also stores the MD4 NT hash RDP NLA needs; it is a password\n"
     "equivalent (whoever reads it can log in over NLA), so give it only to users who\n"
     "need NLA. `passwd` without --nt-hash removes a stored NT hash.\n"},
    {"status", group_admin, "status\n",
     "The running shojid: sessions by state, limits, drained or not, uptime, version.\n"},
    {"sessions", group_admin, "sessions\n", "A row per session.\n"},
    {"show", group_admin, "show ID\n", "One session.\n"},
    {"kill", group_admin, "kill [--reason TEXT] ID\nkill [--reason TEXT] --user NAME\n",
     "End a session, or every session of a user (audited with the reason).\n"},
    {"drain", group_admin, "drain\n",
     "Start no new sessions (warm ones end); sessions in use go on.\n"},
    {"undrain", group_admin, "undrain\n", "Start new sessions again.\n"},
    {"pool", group_admin, "pool set [min_ready=N] [max_sessions=N]\n",
     "Change pool limits until the next reload (SIGHUP) or restart.\n"},
    {"audit", group_admin, "audit [--since TIME] [--user NAME]\n",
     "Print audit log lines ([audit] file), from TIME (2026-11-28T09:00, UTC) on.\n"},
};

static void usage(FILE *out, const char *prog)
{
	fprintf(out,
	        "Usage: %s [-c FILE] [-u FILE] [-s SOCKET] [--json] COMMAND...\n"
	        "\n"
	        "shoji's administration tool.\n"
	        "\n"
	        "  -c, --config FILE      configuration file (default " SHOJICTL_DEFAULT_CONFIG
	        ")\n"
	        "  -u, --users-file FILE  users file to edit, instead of [auth] users_file\n"
	        "  -s, --socket SOCKET    shojid's admin socket, instead of [server] admin_socket\n"
	        "      --json             answers of shojid as JSON (see README.md)\n"
	        "  -h, --help             show this help\n"
	        "  -V, --version          show the version\n"
	        "\n"
	        "Commands:\n",
	        prog);
	for (size_t i = 0; i < ARRAY_SIZE(groups); i++) {
		const char *s = groups[i].synopsis;
		while (*s) {
			const char *nl = strchr(s, '\n');
			int len = nl ? (int)(nl - s) : (int)strlen(s);
			fprintf(out, "  %s %.*s\n", prog, len, s);
			s += len + (nl ? 1 : 0);
		}
		fprintf(out, "\n%s\n", groups[i].help);
	}
	fprintf(out, "Exit status: 0 on success, 1 on an error, 2 on bad usage.\n");
}

static int usage_error(const struct ctl *ctl, const char *what)
{
	fprintf(stderr, "%s: %s (see %s --help)\n", ctl->prog, what, ctl->prog);
	return EXIT_USAGE;
}

/* Names the option getopt refused, without any value given with it. */
static int bad_option(const struct ctl *ctl, char **argv)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "";

	if (strncmp(arg, "--", 2) == 0 || !optopt)
		fprintf(stderr, "%s: unknown option or missing value: %.*s (see %s --help)\n",
		        ctl->prog, (int)strcspn(arg, "="), arg, ctl->prog);
	else
		fprintf(stderr, "%s: unknown option or missing value: -%c (see %s --help)\n",
		        ctl->prog, optopt, ctl->prog);
	return EXIT_USAGE;
}

/* ---- reading a password ------------------------------------------------- */

static struct termios saved_tio;

/* Gives the terminal its echo back when a signal ends the prompt. */
static void restore_tty_and_die(int sig)
{
	tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * Reads one line from fd into buf without its newline (or CR LF). 0 when a
 * line (possibly ended by end of file) was read; -1 with a message in err
 * on end of file before anything, a read error, a NUL byte, or a line that
 * does not fit.
 */
static int read_line(int fd, char *buf, size_t cap, char *err, size_t errlen)
{
	size_t len = 0;

	for (;;) {
		char c;
		ssize_t n = read(fd, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "cannot read the password: %s", strerror(errno));
			return -1;
		}
		if (n == 0 && len == 0) {
			snprintf(err, errlen, "no password given on standard input");
			return -1;
		}
		if (n == 0 || c == '\n')
			break;
		if (c == '\0' || len + 1 >= cap) {
			snprintf(err, errlen,
			         c ? "password longer than %d bytes"
			           : "password contains a NUL byte",
			         USERDB_MAX_PASSWORD);
			return -1;
		}
		buf[len++] = c;
	}
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	buf[len] = '\0';
	return 0;
}

/* Prompts on stderr and reads a line from the terminal on stdin, not echoed. */
static int prompt_tty(const char *prompt, char *buf, size_t cap, char *err, size_t errlen)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP};
	struct sigaction sa = {.sa_handler = restore_tty_and_die}, old[ARRAY_SIZE(sigs)];
	struct termios quiet;
	int ret;

	if (tcgetattr(STDIN_FILENO, &saved_tio) < 0) {
		snprintf(err, errlen, "cannot read the terminal settings: %s", strerror(errno));
		return -1;
	}
	quiet = saved_tio;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	quiet.c_lflag |= ECHONL;
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		sigaction(sigs[i], &sa, &old[i]);
	fputs(prompt, stderr);
	fflush(stderr);
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) < 0) {
		snprintf(err, errlen, "cannot turn off echo: %s", strerror(errno));
		ret = -1;
	} else {
		ret = read_line(STDIN_FILENO, buf, cap, err, errlen);
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
	}
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		sigaction(sigs[i], &old[i], NULL);
	return ret;
}

/* The new password for USER into pw (PASSWORD_BUF bytes), checked. */
static int read_password(const char *user, char *pw, char *err, size_t errlen)
{
	char again[PASSWORD_BUF], prompt[128];
	int ret = -1;

	if (!isatty(STDIN_FILENO)) {
		ret = read_line(STDIN_FILENO, pw, PASSWORD_BUF, err, errlen);
	} else {
		snprintf(prompt, sizeof(prompt), "New password for %s: ", user);
		if (prompt_tty(prompt, pw, PASSWORD_BUF, err, errlen) < 0 ||
		    prompt_tty("Retype the new password: ", again, sizeof(again), err, errlen) < 0)
			goto out;
		if (strcmp(pw, again) != 0) {
			snprintf(err, errlen, "the two passwords do not match; nothing changed");
			goto out;
		}
		ret = 0;
	}
	if (ret == 0)
		ret = userdb_check_password(pw, err, errlen);
out:
	OPENSSL_cleanse(again, sizeof(again));
	return ret;
}

/* ---- the user group -------------------------------------------------------- */

struct user_args {
	const char *name;
	bool nt_hash;
};

/* The users file: -u, or [auth] users_file of the config. Caller frees. */
static char *users_path(const struct ctl *ctl)
{
	struct shoji_config *cfg;
	char err[1024], *path;

	if (ctl->users_file)
		return strdup(ctl->users_file);
	cfg = config_load(ctl->config_path, err, sizeof(err));
	if (!cfg) {
		fprintf(stderr,
		        "%s: %s\n%s: give the config with -c FILE or the users file with -u FILE\n",
		        ctl->prog, err, ctl->prog);
		return NULL;
	}
	path =
	    cfg->auth_users_file && cfg->auth_users_file[0] ? strdup(cfg->auth_users_file) : NULL;
	if (!path)
		fprintf(stderr, "%s: %s: [auth] users_file is not set\n", ctl->prog,
		        ctl->config_path);
	config_destroy(cfg);
	return path;
}

static int user_change(const struct ctl *ctl, const struct user_args *a, enum userdb_op op,
                       const char *done)
{
	char err[1024], pw[PASSWORD_BUF];
	char *path = users_path(ctl);
	int ret = EXIT_FAILURE;

	if (!path)
		return EXIT_FAILURE;
	if (op != USERDB_DEL && read_password(a->name, pw, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", ctl->prog, err);
		goto out;
	}
	if (userdb_edit(path, op, a->name, op == USERDB_DEL ? NULL : pw, a->nt_hash, err,
	                sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", ctl->prog, err);
		goto out;
	}
	fprintf(stderr, "%s: user %s %s %s\n", ctl->prog, a->name, done, path);
	if (a->nt_hash)
		fprintf(stderr, "%s: stored an NT hash for RDP NLA: it is a password equivalent\n",
		        ctl->prog);
	ret = EXIT_SUCCESS;
out:
	OPENSSL_cleanse(pw, sizeof(pw));
	free(path);
	return ret;
}

static int user_add(const struct ctl *ctl, const struct user_args *a)
{
	return user_change(ctl, a, USERDB_ADD, "added to");
}

static int user_passwd(const struct ctl *ctl, const struct user_args *a)
{
	return user_change(ctl, a, USERDB_PASSWD, "given a new password in");
}

static int user_del(const struct ctl *ctl, const struct user_args *a)
{
	return user_change(ctl, a, USERDB_DEL, "deleted from");
}

static void print_warning(void *ctx, const char *msg)
{
	const struct ctl *ctl = ctx;

	fprintf(stderr, "%s: warning: %s\n", ctl->prog, msg);
}

static int user_list(const struct ctl *ctl, const struct user_args *a)
{
	char err[1024], *path = users_path(ctl);
	struct userdb *db;
	uint8_t nt[USERDB_NT_HASH_LEN];

	if (!path)
		return EXIT_FAILURE;
	db = userdb_load(path, print_warning, (void *)ctl, err, sizeof(err));
	free(path);
	if (!db) {
		fprintf(stderr, "%s: %s\n", ctl->prog, err);
		return EXIT_FAILURE;
	}
	for (size_t i = 0; i < userdb_count(db); i++) {
		const char *name = userdb_name(db, i);
		printf("%s%s\n", name, userdb_nt_hash(db, name, nt) ? " (nt-hash)" : "");
	}
	OPENSSL_cleanse(nt, sizeof(nt));
	userdb_destroy(db);
	return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

struct user_command {
	const char *name;
	int (*run)(const struct ctl *ctl, const struct user_args *a);
	bool takes_name, takes_nt_hash;
};

static const struct user_command user_commands[] = {
    {"add", user_add, true, true},
    {"passwd", user_passwd, true, true},
    {"del", user_del, true, false},
    {"list", user_list, false, false},
};

#define HELP_SHOWN (-1)

/* Options and operands after `user COMMAND`; 0, HELP_SHOWN, or an exit status. */
static int parse_user_args(struct ctl *ctl, const struct user_command *uc, int argc, char **argv,
                           struct user_args *a)
{
	static const struct option options[] = {
	    {"nt-hash", no_argument, NULL, 'n'},
	    {"users-file", required_argument, NULL, 'u'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	optind = 0; /* GNU getopt: start afresh on this argv */
	while ((c = getopt_long(argc, argv, "u:h", options, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (!uc->takes_nt_hash)
				return usage_error(ctl,
				                   "--nt-hash goes with user add and user passwd");
			a->nt_hash = true;
			break;
		case 'u':
			ctl->users_file = optarg;
			break;
		case 'h':
			usage(stdout, ctl->prog);
			return HELP_SHOWN;
		default:
			return bad_option(ctl, argv);
		}
	}
	if (uc->takes_name && optind >= argc)
		return usage_error(ctl, "missing the user NAME");
	if (uc->takes_name)
		a->name = argv[optind++];
	/* Never echo a stray operand: it may be a password typed in the wrong place. */
	if (optind < argc)
		return usage_error(ctl, "unexpected argument (passwords are read from standard "
		                        "input or the terminal, never from the command line)");
	if (a->name && !userdb_valid_name(a->name))
		return usage_error(ctl, "bad user name; allowed: 1-64 of A-Z a-z 0-9 . _ -, not "
		                        "starting with '-' or '.'");
	return 0;
}

static int group_user(struct ctl *ctl, int argc, char **argv)
{
	struct user_args a = {0};
	int ret;

	if (argc < 2)
		return usage_error(ctl, "missing the user command: add, passwd, del or list");
	for (size_t i = 0; i < ARRAY_SIZE(user_commands); i++) {
		const struct user_command *uc = &user_commands[i];
		if (strcmp(argv[1], uc->name) != 0)
			continue;
		ret = parse_user_args(ctl, uc, argc - 1, argv + 1, &a);
		if (ret != 0)
			return ret == HELP_SHOWN ? EXIT_SUCCESS : ret;
		return uc->run(ctl, &a);
	}
	return usage_error(ctl, "unknown user command; use add, passwd, del or list");
}

/* ---- commands for the running shojid ------------------------------------ */

static int group_admin(struct ctl *ctl, int argc, char **argv)
{
	struct admin_target t = {.prog = ctl->prog, .socket = ctl->socket, .json = ctl->json};
	bool audit = strcmp(argv[0], "audit") == 0;
	struct shoji_config *cfg = NULL;
	char err[1024];
	int rc;

	if (audit || !t.socket) {
		cfg = config_load(ctl->config_path, err, sizeof(err));
		if (!cfg) {
			fprintf(stderr, "%s: %s\n%s: give the config with -c FILE%s\n", ctl->prog,
			        err, ctl->prog, audit ? "" : " or the socket with -s SOCKET");
			return 1;
		}
		if (!t.socket)
			t.socket = cfg->server_admin_socket;
		t.audit_file = cfg->audit_file;
	}
	rc = audit ? admin_client_audit(&t, argc, argv) : admin_client_run(&t, argc, argv);
	config_destroy(cfg);
	return rc;
}

/* ---- main ---------------------------------------------------------------- */

/* Global options; the index of the command group, or -(exit status + 1). */
static int parse_global(int argc, char **argv, struct ctl *ctl)
{
	static const struct option options[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"users-file", required_argument, NULL, 'u'},
	    {"socket", required_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	/* '+': stop at the command group, whose options are its own */
	while ((c = getopt_long(argc, argv, "+c:u:s:hV", options, NULL)) != -1) {
		if (c == 'c') {
			ctl->config_path = optarg;
		} else if (c == 'u') {
			ctl->users_file = optarg;
		} else if (c == 's') {
			ctl->socket = optarg;
		} else if (c == 'j') {
			ctl->json = true;
		} else if (c == 'h') {
			usage(stdout, ctl->prog);
			return -(EXIT_SUCCESS + 1);
		} else if (c == 'V') {
			printf("shojictl %s\n", PACKAGE_VERSION);
			return -(EXIT_SUCCESS + 1);
		} else {
			return -(bad_option(ctl, argv) + 1);
		}
	}
	if (optind >= argc)
		return -(usage_error(ctl, "missing a command") + 1);
	return optind;
}

int main(int argc, char **argv)
{
	struct ctl ctl = {.prog = "shojictl", .config_path = SHOJICTL_DEFAULT_CONFIG};
	int first;

	/* Files made here (the users file, its lock) are for root's eyes. */
	umask(077);
	opterr = 0;
	first = parse_global(argc, argv, &ctl);
	if (first < 0)
		return -first - 1;
	for (size_t i = 0; i < ARRAY_SIZE(groups); i++)
		if (strcmp(argv[first], groups[i].name) == 0)
			return groups[i].run(&ctl, argc - first, argv + first);
	return usage_error(&ctl, "unknown command");
}
