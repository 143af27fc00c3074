/*
 * A per-connection limit on repeated audit events of one kind, so that a
 * hostile viewer cannot fill the audit disk (shojid refuses new sessions
 * when it cannot write the audit log): within a window of
 * AUDIT_LIMIT_WINDOW_MS, at most `max` lines of each kind are written; the
 * rest are counted with their bytes, and one summary per kind says how many
 * were left out when the window ends and at the connection's end.
 *
 * Pure: the caller passes the time in. No untrusted input beyond numbers.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define AUDIT_LIMIT_WINDOW_MS 60000
#define AUDIT_LIMIT_MAX_KINDS 8

struct audit_limit {
	unsigned max; /* lines per kind per window */
	struct audit_limit_kind {
		uint64_t start_ms; /* of the window; 0 = none open */
		uint32_t lines;    /* written in it */
		uint64_t suppressed, bytes;
		uint64_t first_ms; /* when the first suppressed one came */
	} k[AUDIT_LIMIT_MAX_KINDS];
};

/* What was left out of one kind. */
struct audit_limit_summary {
	unsigned kind;
	uint64_t suppressed, bytes;
	uint64_t first_ms, last_ms; /* from the first left out to when this was taken */
};

/** Sets up a limit of max (>= 1) lines per kind per window. */
void audit_limit_init(struct audit_limit *l, unsigned max);

/**
 * Whether an event of kind (< AUDIT_LIMIT_MAX_KINDS) may be written at
 * now_ms; when not, it is counted with its bytes for the summary. Take
 * due summaries first (audit_limit_take), so a window that ended is
 * summed up before a new one opens.
 */
bool audit_limit_admit(struct audit_limit *l, unsigned kind, uint64_t bytes, uint64_t now_ms);

/**
 * One summary that is due: a kind whose window ended by now_ms with
 * events left out, or, with all (the connection ends), any kind with
 * events left out. True and *out filled (that kind's count is reset), or
 * false when none is due. Call until false.
 */
bool audit_limit_take(struct audit_limit *l, uint64_t now_ms, bool all,
                      struct audit_limit_summary *out);

/** When the next summary falls due; 0 when none is pending. */
uint64_t audit_limit_next_due(const struct audit_limit *l);
