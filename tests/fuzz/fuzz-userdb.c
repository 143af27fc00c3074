/*
 * libFuzzer target for the users-file parser: any bytes given to
 * userdb_parse_buf() must give a db (skipping what is corrupt), never a
 * crash, a leak or undefined behaviour. Each warning must be one line that
 * names the file and a line number within the input, and every user loaded
 * must have a valid name and be found by name. Passwords are not checked:
 * scrypt is far too slow for a fuzzer.
 *
 * Handles untrusted input: it is nothing but untrusted input.
 */
#include "autoconfig.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "userdb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	unsigned long lines; /* lines in the input */
	unsigned long warnings;
};

static void check_warning(void *ctx, const char *msg)
{
	struct seen *seen = ctx;
	unsigned long line;
	char *end;

	seen->warnings++;
	if (strncmp(msg, "fuzz:", 5) != 0 || strchr(msg, '\n')) {
		fprintf(stderr, "bad warning: \"%s\"\n", msg);
		abort();
	}
	line = strtoul(msg + 5, &end, 10);
	if (line < 1 || line > seen->lines || strncmp(end, ": ", 2) != 0) {
		fprintf(stderr, "warning with a bad line number: \"%s\"\n", msg);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen seen = {0};
	struct userdb *db;
	uint8_t nt[USERDB_NT_HASH_LEN];

	for (size_t i = 0; i < size; i++)
		seen.lines += data[i] == '\n';
	seen.lines += size > 0 && data[size - 1] != '\n';
	db = userdb_parse_buf((const char *)data, size, "fuzz", check_warning, &seen);
	if (!db)
		abort(); /* only out of memory may give NULL */
	if (userdb_count(db) + seen.warnings > seen.lines || userdb_name(db, userdb_count(db))) {
		fprintf(stderr, "more users and warnings than lines\n");
		abort();
	}
	for (size_t i = 0; i < userdb_count(db); i++) {
		const char *name = userdb_name(db, i);
		if (!userdb_valid_name(name) || !userdb_exists(db, name)) {
			fprintf(stderr, "user %zu not valid or not found\n", i);
			abort();
		}
		userdb_nt_hash(db, name, nt);
	}
	userdb_destroy(db);
	return 0;
}
