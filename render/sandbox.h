/*
 * The bubblewrap command line of a session's sandbox: new user, PID, IPC,
 * network, UTS and cgroup namespaces; /usr read-only; a tmpfs /etc holding
 * only what the browser and X server need, plus the session's own passwd,
 * group, hosts and browser policy; a private /tmp; the session's home. The
 * network namespace has loopback only.
 */
#pragma once

struct sandbox_spec {
	const char *session_dir;   /* holds home/ and etc/ */
	const char *render_binary; /* this program, bound read-only into the sandbox */
	const char *timezone;
	char *const *inner_args;   /* arguments after the program, NULL-terminated */
};

/* Where the render binary appears inside the sandbox. */
#define SANDBOX_RENDER_PATH "/run/shoji/shoji-render"
#define SANDBOX_HOME "/home/shoji"
#define SANDBOX_BWRAP "/usr/bin/bwrap"

/** The argv for execv(SANDBOX_BWRAP, ...): NULL-terminated, malloc'ed; free with sandbox_argv_free. */
char **sandbox_argv(const struct sandbox_spec *s);
void sandbox_argv_free(char **argv);

/**
 * Writes the session's etc/ files (passwd, group, hosts, policies/) under
 * session_dir for uid. 0 or -1.
 */
struct shoji_config;
int sandbox_write_etc(const char *session_dir, unsigned uid, const struct shoji_config *cfg);
