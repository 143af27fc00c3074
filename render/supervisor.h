/*
 * The session supervisor: runs as root outside the sandbox, once per
 * session. It creates the session's cgroup and private directories, starts
 * the sandbox under the session's own unprivileged uid, runs the egress
 * proxy for it, and when the sandbox ends kills whatever is left, wipes
 * the session's files and audits the end.
 */
#pragma once

#include <stdint.h>

#include "config.h"

struct supervisor_args {
	const char *session_id;
	uint32_t uid;
	int link_fd;
	uint16_t width, height;
	int log_level;
};

/** True if id is a valid session id: 1..64 of [A-Za-z0-9_-]. */
bool supervisor_valid_id(const char *id);

/** Runs one session to its end; the process exit status. */
int supervisor_run(const struct shoji_config *cfg, const struct supervisor_args *a);
