/*
 * shojictl's commands that talk to a running shojid over [server]
 * admin_socket (admin_proto.h), and `audit`, which reads the audit log.
 * Each returns shojictl's exit status: 0, 1 on an error, 2 on bad usage.
 */
#pragma once

#include <stdbool.h>

struct admin_target {
	const char *prog;
	const char *socket;     /* [server] admin_socket or -s */
	const char *audit_file; /* [audit] file */
	bool json;              /* --json */
};

/** `status`, `sessions`, `show ID`, `kill ...`, `drain`, `undrain`, `pool set ...`. */
int admin_client_run(const struct admin_target *t, int argc, char **argv);

/** `audit [--since TIME] [--user NAME]`. */
int admin_client_audit(const struct admin_target *t, int argc, char **argv);
