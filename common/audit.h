/*
 * The audit log: one JSON object per line, appended with O_APPEND so
 * shojid and each session's supervisor can write to the same file. Each
 * line has "time" (RFC 3339 UTC) and "event", then event fields.
 *
 * Events so far (each later feature adds its own; docs/audit.md lists all):
 *   session_start  session, uid, width, height
 *   session_end    session, reason
 *   egress         session, host, port, method ("CONNECT" | "GET"), allowed, reason
 *
 * Secrets are never written here.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct audit_log;

/** Opens (creates 0640) path for appending; NULL on error (errno). */
struct audit_log *audit_open(const char *path);
void audit_close(struct audit_log *log);

/**
 * Opens path again (after logrotate renamed the file) and writes there
 * from now on; on error the old file stays in use. 0 or -1 (errno).
 */
int audit_reopen(struct audit_log *log, const char *path);

/* Field kinds for audit_event(). */
enum audit_field_kind { AUDIT_STR, AUDIT_INT, AUDIT_BOOL, AUDIT_COUNTERS, AUDIT_END };

/* One entry of an AUDIT_COUNTERS field: "name":{"in":in,"out":out}. */
struct audit_counter {
	const char *name;
	uint64_t in, out;
};

/**
 * Writes one event: audit_event(log, "egress", AUDIT_STR, "host", h,
 * AUDIT_INT, "port", (long long)p, AUDIT_BOOL, "allowed", (int)ok, AUDIT_END).
 * AUDIT_COUNTERS takes a name, a const struct audit_counter * and a size_t
 * count, and writes an object of {"in","out"} objects by counter name.
 * Strings are JSON-escaped (control and invalid UTF-8 bytes as \uXXXX or
 * U+FFFD). 0, or -1 if the line could not be written whole (disk full):
 * the caller decides whether it may go on unaudited.
 */
int audit_event(struct audit_log *log, const char *event, ...);

/** Formats the same line into buf without writing; returns its length or -1. Pure. */
int audit_format(char *buf, size_t cap, const char *time, const char *event, ...);
