/*
 * shojid's command line: reads the configuration, answers the modes that
 * only look at it (--check-config, --print-config, --example-config), and
 * hands a validated, from then on read-only config to shojid_run().
 *
 * Untrusted input: only the config file, parsed by common/config.c.
 */
#include "autoconfig.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "daemon.h"
#include "log.h"
#include "tls.h"
#include "worker.h"

#define SHOJID_DEFAULT_CONFIG "/etc/shoji/shoji.conf"
#define SHOJID_EXIT_USAGE 2

enum shojid_mode {
	MODE_RUN,
	MODE_CHECK,
	MODE_PRINT_CONFIG,
	MODE_EXAMPLE,
	MODE_HELP,
	MODE_VERSION,
	MODE_WORKER,
};

enum { OPT_CHECK = 0x100, OPT_PRINT_CONFIG, OPT_EXAMPLE, OPT_WORKER, OPT_PEER };

/* Set by --worker and --peer: shojid runs itself once per viewer connection. */
static const char *worker_name;
static const char *worker_peer = "?";

static void usage(const char *prog)
{
	printf("Usage: %s [-c FILE] [--check-config | --print-config | --example-config]\n"
	       "\n"
	       "shoji's daemon on the LGWAN side: accepts RDP and VNC viewers and shows each\n"
	       "user a browser that runs sandboxed on this host.\n"
	       "\n"
	       "  -c, --config FILE     configuration file (default " SHOJID_DEFAULT_CONFIG ")\n"
	       "      --check-config    check the configuration, print \"FILE: ok\" and exit\n"
	       "      --print-config    list every key with its default, help and allowed values\n"
	       "      --example-config  print a complete example configuration file\n"
	       "  -h, --help            show this help\n"
	       "  -V, --version         show the version\n"
	       "\n"
	       "Exit status: 0 on success, 1 on a configuration or run-time error, 2 on bad\n"
	       "usage.\n",
	       prog);
}

/* Loads and validates; prints the one-line reason to stderr on failure. */
static struct shoji_config *load_config(const char *path)
{
	char err[1024];
	struct shoji_config *cfg = config_load(path, err, sizeof(err));

	if (!cfg)
		goto err_print;
	if (config_validate(cfg, err, sizeof(err)) < 0)
		goto err_destroy;
	return cfg;

err_destroy:
	config_destroy(cfg);
err_print:
	fprintf(stderr, "%s\n", err);
	return NULL;
}

static int parse_args(int argc, char **argv, const char **config_path, enum shojid_mode *mode)
{
	static const struct option options[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"check-config", no_argument, NULL, OPT_CHECK},
	    {"print-config", no_argument, NULL, OPT_PRINT_CONFIG},
	    {"example-config", no_argument, NULL, OPT_EXAMPLE},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {"worker", required_argument, NULL, OPT_WORKER},
	    {"peer", required_argument, NULL, OPT_PEER},
	    {NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:hV", options, NULL)) != -1) {
		switch (c) {
		case 'c':
			*config_path = optarg;
			break;
		case OPT_CHECK:
			*mode = MODE_CHECK;
			break;
		case OPT_PRINT_CONFIG:
			*mode = MODE_PRINT_CONFIG;
			break;
		case OPT_EXAMPLE:
			*mode = MODE_EXAMPLE;
			break;
		case 'h':
			*mode = MODE_HELP;
			break;
		case 'V':
			*mode = MODE_VERSION;
			break;
		case OPT_WORKER:
			*mode = MODE_WORKER;
			worker_name = optarg;
			break;
		case OPT_PEER:
			worker_peer = optarg;
			break;
		default:
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument \"%s\"\n", argv[0], argv[optind]);
		return -1;
	}
	return 0;
}

/*
 * A connection worker, exec'd by the control process with the viewer's
 * connection on fd 3 and the control link on fd 4: a fresh process that
 * holds nothing of the control process's memory (no password hashes).
 * It loads the TLS key as root, then drops privileges in worker_main().
 */
static void run_worker(const struct shoji_config *cfg)
{
	static const struct frontend *const frontends[] = { &vnc_frontend, &rdp_frontend };
	const struct frontend *fe = NULL;
	char err[512];

	for (size_t i = 0; i < sizeof(frontends) / sizeof(frontends[0]); i++)
		if (!strcmp(frontends[i]->name, worker_name))
			fe = frontends[i];
	if (!fe) {
		log_error("unknown front-end '%s'", worker_name);
		exit(EXIT_FAILURE);
	}
	struct worker w = { .cfg = cfg, .client_fd = 3, .ctl_fd = 4 };
	snprintf(w.peer, sizeof(w.peer), "%s", worker_peer);
	w.tls = tls_server_create(cfg->tls_cert, cfg->tls_key, err, sizeof(err));
	if (!w.tls)
		log_error("%s", err);
	worker_main(&w, fe);
}

int main(int argc, char **argv)
{
	const char *config_path = SHOJID_DEFAULT_CONFIG;
	enum shojid_mode mode = MODE_RUN;
	struct shoji_config *cfg;
	int rc;

	if (parse_args(argc, argv, &config_path, &mode) < 0) {
		fprintf(stderr, "Try '%s --help'.\n", argv[0]);
		return SHOJID_EXIT_USAGE;
	}
	switch (mode) {
	case MODE_HELP:
		usage(argv[0]);
		return EXIT_SUCCESS;
	case MODE_VERSION:
		printf("shojid %s\n", PACKAGE_VERSION);
		return EXIT_SUCCESS;
	case MODE_PRINT_CONFIG:
		config_print_help(stdout);
		return EXIT_SUCCESS;
	case MODE_EXAMPLE:
		config_print_example(stdout);
		return EXIT_SUCCESS;
	case MODE_CHECK:
	case MODE_RUN:
	case MODE_WORKER:
		break;
	}
	cfg = load_config(config_path);
	if (!cfg)
		return EXIT_FAILURE;
	if (mode == MODE_CHECK) {
		printf("%s: ok\n", config_path);
		config_destroy(cfg);
		return EXIT_SUCCESS;
	}
	/* [server] log_level's words are in enum shoji_log_level's order. */
	shoji_log_init("shojid", (enum shoji_log_level)cfg->server_log_level);
	if (mode == MODE_WORKER)
		run_worker(cfg); /* does not return */
	rc = shojid_run(cfg);
	config_destroy(cfg);
	return rc;
}
