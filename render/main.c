/*
 * shoji-render: one browser session.
 *
 *   shoji-render -c FILE --session ID --uid UID --link-fd FD [--size WxH]
 *       (as root) supervises one session: sandbox, limits, egress proxy.
 *   shoji-render --inner ...
 *       what the supervisor runs inside the sandbox (see session.h).
 *
 * Command-line values are checked here; nothing else is parsed.
 */
#include "autoconfig.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "pixlink.h"
#include "session.h"
#include "supervisor.h"

struct args {
	bool inner;
	const char *config;
	const char *session;
	long uid;
	int link_fd, egress_fd;
	unsigned width, height, max_width, max_height;
	bool clip_to_browser, clip_to_terminal;
	unsigned long clip_max;
	int log_level;
	const char *browser, *start_url, *locale;
};

static void usage(FILE *out)
{
	fputs("usage: shoji-render -c FILE --session ID --uid UID --link-fd FD [--size WxH]\n"
	      "Runs one browser session in its sandbox; started by shojid.\n",
	      out);
}

static bool parse_size(const char *s, unsigned *w, unsigned *h)
{
	char *end;
	unsigned long a = strtoul(s, &end, 10);
	if (*end != 'x')
		return false;
	unsigned long b = strtoul(end + 1, &end, 10);
	if (*end || a < 64 || b < 64 || a > 8192 || b > 8192)
		return false;
	*w = (unsigned)a;
	*h = (unsigned)b;
	return true;
}

static int parse_args(int argc, char **argv, struct args *a)
{
	enum { O_INNER = 256, O_SESSION, O_UID, O_LINK, O_EGRESS, O_SIZE, O_MAXSIZE, O_LOG,
	       O_BROWSER, O_URL, O_LOCALE, O_CLIP_BROWSER, O_CLIP_TERMINAL, O_CLIP_MAX };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "inner", no_argument, NULL, O_INNER },
		{ "session", required_argument, NULL, O_SESSION },
		{ "uid", required_argument, NULL, O_UID },
		{ "link-fd", required_argument, NULL, O_LINK },
		{ "egress-fd", required_argument, NULL, O_EGRESS },
		{ "size", required_argument, NULL, O_SIZE },
		{ "max-size", required_argument, NULL, O_MAXSIZE },
		{ "log-level", required_argument, NULL, O_LOG },
		{ "browser", required_argument, NULL, O_BROWSER },
		{ "start-url", required_argument, NULL, O_URL },
		{ "locale", required_argument, NULL, O_LOCALE },
		{ "clipboard-to-browser", no_argument, NULL, O_CLIP_BROWSER },
		{ "clipboard-to-terminal", no_argument, NULL, O_CLIP_TERMINAL },
		{ "clipboard-max-bytes", required_argument, NULL, O_CLIP_MAX },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': a->config = optarg; break;
		case O_INNER: a->inner = true; break;
		case O_SESSION: a->session = optarg; break;
		case O_UID: a->uid = strtol(optarg, NULL, 10); break;
		case O_LINK: a->link_fd = atoi(optarg); break;
		case O_EGRESS: a->egress_fd = atoi(optarg); break;
		case O_SIZE:
			if (!parse_size(optarg, &a->width, &a->height))
				goto bad_size;
			break;
		case O_MAXSIZE:
			if (!parse_size(optarg, &a->max_width, &a->max_height))
				goto bad_size;
			break;
		case O_LOG: a->log_level = atoi(optarg); break;
		case O_BROWSER: a->browser = optarg; break;
		case O_URL: a->start_url = optarg; break;
		case O_LOCALE: a->locale = optarg; break;
		case O_CLIP_BROWSER: a->clip_to_browser = true; break;
		case O_CLIP_TERMINAL: a->clip_to_terminal = true; break;
		case O_CLIP_MAX:
			a->clip_max = strtoul(optarg, NULL, 10);
			if (a->clip_max < 1 || a->clip_max > PIXLINK_MAX_CLIPBOARD) {
				fprintf(stderr, "shoji-render: --clipboard-max-bytes must be 1..%d\n",
					PIXLINK_MAX_CLIPBOARD);
				return -1;
			}
			break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	return 0;
bad_size:
	fprintf(stderr, "shoji-render: size must be WxH, each 64..8192, not '%s'\n", optarg);
	return -1;
}

static int run_inner(const struct args *a)
{
	char ident[32];
	snprintf(ident, sizeof(ident), "render[%.8s]", a->session ? a->session : "?");
	shoji_log_init(ident, (enum shoji_log_level)a->log_level);
	if (!a->browser || !a->start_url || !a->locale || a->link_fd < 3 || a->egress_fd < 3 ||
	    !a->width || !a->max_width) {
		log_error("--inner needs --link-fd, --egress-fd, --size, --max-size, --browser, "
			  "--start-url and --locale");
		return 2;
	}
	struct session_opts o = {
		.link_fd = a->link_fd,
		.egress_fd = a->egress_fd,
		.max_width = (uint16_t)a->max_width,
		.max_height = (uint16_t)a->max_height,
		.clipboard_to_browser = a->clip_to_browser,
		.clipboard_to_terminal = a->clip_to_terminal,
		.clipboard_max_bytes = a->clip_max ? (uint32_t)a->clip_max : 1,
		.browser = { .command = a->browser, .start_url = a->start_url,
			     .locale = a->locale, .profile_dir = "/home/shoji/profile",
			     .log_path = "/tmp/browser.log", .width = (uint16_t)a->width,
			     .height = (uint16_t)a->height },
	};
	return session_run(&o);
}

static int run_supervisor(const struct args *a)
{
	char err[1024];

	if (!a->config || !a->session || a->uid <= 0 || a->link_fd < 3) {
		usage(stderr);
		return 2;
	}
	struct shoji_config *cfg = config_load(a->config, err, sizeof(err));
	if (!cfg || config_validate(cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		config_destroy(cfg);
		return 2;
	}
	char ident[32];
	snprintf(ident, sizeof(ident), "session[%.8s]", a->session);
	shoji_log_init(ident, (enum shoji_log_level)cfg->server_log_level);
	int rc = 2;
	if (!supervisor_valid_id(a->session))
		log_error("session id '%s' is not 1..64 of A-Z a-z 0-9 - _", a->session);
	else if ((uint64_t)a->uid < cfg->sandbox_uid_range.lo ||
		 (uint64_t)a->uid > cfg->sandbox_uid_range.hi)
		log_error("uid %ld is outside [sandbox] uid_range %u-%u", a->uid,
			  cfg->sandbox_uid_range.lo, cfg->sandbox_uid_range.hi);
	else if (geteuid() != 0)
		log_error("must start as root to give the session its own uid");
	else {
		struct supervisor_args sa = {
			.session_id = a->session, .uid = (uint32_t)a->uid, .link_fd = a->link_fd,
			.width = (uint16_t)(a->width ? a->width : (unsigned)cfg->display_width),
			.height = (uint16_t)(a->height ? a->height : (unsigned)cfg->display_height),
			.log_level = cfg->server_log_level,
		};
		rc = supervisor_run(cfg, &sa);
	}
	config_destroy(cfg);
	return rc;
}

int main(int argc, char **argv)
{
	struct args a = { .link_fd = -1, .egress_fd = -1, .log_level = SHOJI_LOG_INFO };

	if (parse_args(argc, argv, &a) < 0)
		return 2;
	return a.inner ? run_inner(&a) : run_supervisor(&a);
}
