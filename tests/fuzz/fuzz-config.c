/*
 * libFuzzer target for the config parser: any bytes given to
 * config_parse_buf() must give a config or one error message, never a
 * crash, a leak or undefined behaviour. A parsed config also goes through
 * config_validate(), and its config_print_values() text must parse back to
 * the same values.
 *
 * Handles untrusted input: it is nothing but untrusted input.
 */
#include "autoconfig.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *values_of(const struct shoji_config *cfg, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (!f)
		abort();
	config_print_values(cfg, f);
	fclose(f);
	return buf;
}

/* Printed values must parse again, to the same values. */
static void check_round_trip(const struct shoji_config *cfg)
{
	char err[512];
	size_t len, len2;
	char *text = values_of(cfg, &len), *again;
	struct shoji_config *cfg2;

	if (len <= SHOJI_CONFIG_MAX_SIZE) {
		cfg2 = config_parse_buf(text, len, "values", err, sizeof(err));
		if (!cfg2) {
			fprintf(stderr, "printed values do not parse: %s\n", err);
			abort();
		}
		again = values_of(cfg2, &len2);
		if (len != len2 || memcmp(text, again, len) != 0) {
			fprintf(stderr, "printed values change when parsed again\n");
			abort();
		}
		free(again);
		config_destroy(cfg2);
	}
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	struct shoji_config *cfg;

	err[0] = '\0';
	cfg = config_parse_buf((const char *)data, size, "fuzz.conf", err, sizeof(err));
	if (!cfg) {
		/* a refusal always says why, on one line */
		if (err[0] == '\0' || strchr(err, '\n')) {
			fprintf(stderr, "bad error message: \"%s\"\n", err);
			abort();
		}
		return 0;
	}
	config_validate(cfg, err, sizeof(err));
	check_round_trip(cfg);
	config_destroy(cfg);
	return 0;
}
