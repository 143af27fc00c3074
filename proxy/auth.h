/*
 * Password checks off the control process's event loop: a slow hash
 * (scrypt) takes tens of milliseconds, so checks run on one thread of
 * their own and results come back through a descriptor the loop polls.
 * The thread rereads the user database whenever the file changes.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct auth_service;

struct auth_result {
	uint64_t cookie; /* the caller's, from auth_submit */
	bool ok;
	char user[65];
	bool nt;            /* the answer to auth_submit_nt_hash */
	uint8_t nt_hash[16]; /* when nt and ok: a password equivalent, wipe after use */
};

struct auth_service *auth_create(const char *users_file);
void auth_destroy(struct auth_service *a);

/** Readable when results are waiting. */
int auth_fd(const struct auth_service *a);

/** Queues a check; the password is copied and wiped after use. */
void auth_submit(struct auth_service *a, uint64_t cookie, const char *user, const char *password);

/**
 * Queues a look-up of user's NT hash (for RDP NLA); the result has nt set,
 * and ok with the hash when the user exists and has one stored.
 */
void auth_submit_nt_hash(struct auth_service *a, uint64_t cookie, const char *user);

/** Takes one finished result; false when none is left. */
bool auth_take(struct auth_service *a, struct auth_result *r);
