/*
 * The control process's sessions: one shoji-render each, under a uid of
 * its own from [sandbox] uid_range. States (DESIGN.md §5): warming (render
 * starting), ready (warm, no user yet), attached (a viewer's worker holds
 * the pixel link), detached (the user's viewer went away; kept for
 * reattachment). The control process keeps a duplicate of each pixel-link
 * socket so a session outlives the workers that use it.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"

enum session_state { SESSION_WARMING, SESSION_READY, SESSION_ATTACHED, SESSION_DETACHED };

struct conn;

struct session {
	char id[17];
	char user[65]; /* "" until assigned */
	uint32_t uid;
	pid_t pid;     /* the session supervisor (shoji-render) */
	int link;      /* our duplicate of the pixel-link socket */
	struct pixlink_client *probe; /* reads the link while warming */
	enum session_state state;
	struct conn *conn; /* the attached worker */
	uint64_t since_ms;
	struct session *next;
};

struct session_table {
	const struct shoji_config *cfg;
	struct session *head;
};

const char *session_state_name(enum session_state st);

/** Starts a warming session; NULL if no uid is free or the fork failed. */
struct session *session_spawn(struct session_table *t);

/** Handles the probe's readable link; true if the session just became ready. */
bool session_probe(struct session *s);

struct session *session_find_pid(struct session_table *t, pid_t pid);
struct session *session_find_user(struct session_table *t, const char *user);
struct session *session_find_ready(struct session_table *t);
size_t session_count(struct session_table *t, enum session_state st);

/** Removes the session from the table and frees it (render already gone). */
void session_remove(struct session_table *t, struct session *s);

/** Ends every session: closes the links, waits up to timeout_ms, then kills. */
void session_stop_all(struct session_table *t, int timeout_ms);
