/*
 * Listening sockets from [vnc] listen and [rdp] listen entries
 * ("HOST:PORT", "[V6]:PORT"). No untrusted input: the config validated them.
 */
#pragma once

#include <stddef.h>

/** A non-blocking, close-on-exec listening socket; -1 with err filled. */
int listen_open(const char *entry, char *err, size_t errlen);

/** "ip:port" of a connected socket's peer. */
void peer_name(int fd, char *out, size_t len);
