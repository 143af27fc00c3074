/*
 * A TCP relay on 127.0.0.1 that counts the bytes shojid sends: a test's
 * client connects to its port instead of shojid's, and the relay passes
 * one connection through both ways on a thread of its own. For bandwidth
 * bounds (bytes over a period), never for timing.
 */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct byte_counter {
	int listen_fd, port; /* port: where the client connects */
	int target;          /* shojid's port */
	atomic_ullong down;  /* bytes from shojid to the client so far */
	atomic_bool stop;
	pthread_t thread;
};

/** Listens on an ephemeral port for one client to relay to 127.0.0.1:target. 0 or -1. */
int byte_counter_start(struct byte_counter *k, int target);

/** Bytes shojid sent through the relay so far. */
uint64_t byte_counter_down(struct byte_counter *k);

/** Ends the relay and its connection. */
void byte_counter_stop(struct byte_counter *k);
