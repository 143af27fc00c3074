/*
 * shojid's control process: one event loop that owns the sessions (and,
 * as front-ends arrive, the listeners, the user database and the admin
 * socket). It never blocks: children report through descriptors and
 * SIGCHLD, read from a signalfd.
 */
#pragma once

#include "config.h"

/** Runs the daemon until SIGTERM or SIGINT; the process exit status. */
int shojid_run(const struct shoji_config *cfg);
