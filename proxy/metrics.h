/*
 * shojid's Prometheus endpoint: [metrics] listen (loopback only, off by
 * default), served from the control loop. One request per connection:
 * GET /metrics gets the text exposition format (version 0.0.4); a
 * malformed request or another method gets 400, another path 404; a
 * client that says nothing within METRICS_TIMEOUT_MS is dropped.
 *
 * Handles untrusted input: request heads, parsed by http_get_parse.
 */
#pragma once

#include <stddef.h>

struct shojid;
struct metrics_server;

#define METRICS_TIMEOUT_MS 5000

/** Opens every [metrics] listen address; NULL if none is set or on error (logged, *failed). */
struct metrics_server *metrics_open(const struct shojid *d, int *failed);

/** Closes the listeners and clients. Accepts NULL. */
void metrics_destroy(struct metrics_server *m);

/**
 * The descriptors to poll for reading, at most cap: fds[i] with ptrs[i]
 * to hand back to metrics_on_ready. Their number.
 */
size_t metrics_fds(struct metrics_server *m, int *fds, void **ptrs, size_t cap);

/** A descriptor from metrics_fds is readable. */
void metrics_on_ready(struct shojid *d, void *ptr);

/** Drops silent clients; lowers *timeout to the next deadline. */
void metrics_timeouts(struct metrics_server *m, int *timeout);

/** The exposition text into buf (at most cap); its length, or 0 if it did not fit. */
size_t metrics_render(const struct shojid *d, char *buf, size_t cap);
