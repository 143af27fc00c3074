/*
 * The admin socket's protocol, between shojictl and shojid's control
 * process over [server] admin_socket (a UNIX stream socket; only root and
 * [server] admin_group may connect, checked with SO_PEERCRED).
 *
 * One request per connection: a line of at most ADMIN_MAX_LINE bytes,
 * "COMMAND [ARG...]\n", words separated by single spaces, each word
 * printable ASCII; a kill's REASON is the rest of the line and may hold
 * spaces and UTF-8.
 *
 *   status                          one record: the pool
 *   sessions                        one record per session
 *   show ID                         one record: that session
 *   kill ID REASON...               ends a session; REASON is the rest of the line
 *   kill-user NAME REASON...        ends every session of NAME
 *   drain | undrain                 stop / resume new sessions
 *   pool KEY=N [KEY=N]              min_ready, max_sessions (until reload/restart)
 *
 * The answer, then the server closes: "ok\n" or "error MESSAGE\n", then for
 * "ok" zero or more records, one a line, fields "name=value" separated by
 * tabs (values hold no tab, CR or LF). shojictl renders them as a table or
 * as JSON.
 *
 * Handles untrusted input on both sides (a local user's request; the
 * server's answer): the parsers here are pure and have a fuzz target.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define ADMIN_MAX_LINE 512
#define ADMIN_MAX_ARGS 4
#define ADMIN_MAX_WORD 64
#define ADMIN_MAX_REASON 200
#define ADMIN_MAX_FIELDS 32

enum admin_command {
	ADMIN_STATUS = 1,
	ADMIN_SESSIONS,
	ADMIN_SHOW,
	ADMIN_KILL,
	ADMIN_KILL_USER,
	ADMIN_DRAIN,
	ADMIN_UNDRAIN,
	ADMIN_POOL,
};

struct admin_request {
	enum admin_command command;
	size_t nargs;
	char args[ADMIN_MAX_ARGS][ADMIN_MAX_WORD + 1];
	char reason[ADMIN_MAX_REASON + 1]; /* kill, kill-user */
};

/**
 * Parses one request line: bytes consumed (the line and its LF), 0 if no
 * LF yet within ADMIN_MAX_LINE bytes, -1 if malformed (unknown command,
 * wrong number of arguments, a control or non-ASCII byte, an empty
 * word, a word or reason too long, a pool argument not "min_ready=N" or
 * "max_sessions=N"). Pure.
 */
ssize_t admin_parse_request(const char *buf, size_t len, struct admin_request *req);

/** The command's word ("kill-user"), or NULL. */
const char *admin_command_name(enum admin_command c);

struct admin_field {
	char name[ADMIN_MAX_WORD + 1];
	char value[ADMIN_MAX_LINE + 1];
};

/**
 * Splits one record line (without its LF) into fields: their number, or
 * -1 if malformed (a field without '=', an empty or non-[a-z0-9_] name,
 * more than max fields, a control byte). Pure.
 */
int admin_parse_record(const char *line, size_t len, struct admin_field *fields, size_t max);

/**
 * Reads "min_ready=N" / "max_sessions=N": the key's index (0, 1) and *value
 * (0..1000000), or -1. Pure.
 */
int admin_parse_pool_arg(const char *arg, long *value);
