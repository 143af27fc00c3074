/*
 * Admin socket protocol parsers (see admin_proto.h). Handles untrusted
 * input: a request from a local user (before or after the credential
 * check, the parser does not care), and the daemon's answer in shojictl.
 * Pure: no I/O, no allocation.
 */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "admin_proto.h"

static const struct {
	const char *name;
	enum admin_command command;
	size_t min_args, max_args;
	bool reason;
} commands[] = {
    {"status", ADMIN_STATUS, 0, 0, false},      {"sessions", ADMIN_SESSIONS, 0, 0, false},
    {"show", ADMIN_SHOW, 1, 1, false},          {"kill", ADMIN_KILL, 1, 1, true},
    {"kill-user", ADMIN_KILL_USER, 1, 1, true}, {"drain", ADMIN_DRAIN, 0, 0, false},
    {"undrain", ADMIN_UNDRAIN, 0, 0, false},    {"pool", ADMIN_POOL, 1, 2, false},
};

const char *admin_command_name(enum admin_command c)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (commands[i].command == c)
			return commands[i].name;
	return NULL;
}

/* Takes the next space-ended word of line[*pos..len) into out. */
static bool take_word(const char *line, size_t len, size_t *pos, char *out)
{
	size_t start = *pos, n;

	while (*pos < len && line[*pos] != ' ')
		(*pos)++;
	n = *pos - start;
	if (n == 0 || n > ADMIN_MAX_WORD)
		return false;
	for (size_t i = start; i < *pos; i++)
		if ((unsigned char)line[i] <= 0x20 || (unsigned char)line[i] >= 0x7f)
			return false;
	memcpy(out, line + start, n);
	out[n] = '\0';
	if (*pos < len)
		(*pos)++; /* the separating space */
	return *pos < len || line[len - 1] != ' ';
}

int admin_parse_pool_arg(const char *arg, long *value)
{
	static const char *const keys[] = {"min_ready=", "max_sessions="};

	for (int k = 0; k < 2; k++) {
		size_t kl = strlen(keys[k]);
		if (strncmp(arg, keys[k], kl))
			continue;
		const char *p = arg + kl;
		size_t n = strlen(p);
		if (n == 0 || n > 7 || strspn(p, "0123456789") != n)
			return -1;
		*value = strtol(p, NULL, 10);
		return *value <= 1000000 ? k : -1;
	}
	return -1;
}

static bool take_reason(const char *line, size_t len, size_t pos, char *out)
{
	size_t n = len - pos;
	if (n == 0 || n > ADMIN_MAX_REASON)
		return false;
	for (size_t i = pos; i < len; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			return false;
	memcpy(out, line + pos, n);
	out[n] = '\0';
	return true;
}

/* The words and reason of one line (no LF). */
static bool parse_line(const char *line, size_t len, struct admin_request *req)
{
	char word[ADMIN_MAX_WORD + 1];
	size_t pos = 0, c;

	if (len == 0 || !take_word(line, len, &pos, word))
		return false;
	for (c = 0; c < sizeof(commands) / sizeof(commands[0]); c++)
		if (!strcmp(word, commands[c].name))
			break;
	if (c == sizeof(commands) / sizeof(commands[0]))
		return false;
	req->command = commands[c].command;
	while (pos < len && req->nargs < commands[c].max_args)
		if (!take_word(line, len, &pos, req->args[req->nargs++]))
			return false;
	if (req->nargs < commands[c].min_args)
		return false;
	if (commands[c].reason)
		return take_reason(line, len, pos, req->reason);
	if (pos < len)
		return false;
	long v;
	int seen = 0;
	for (size_t i = 0; req->command == ADMIN_POOL && i < req->nargs; i++) {
		int k = admin_parse_pool_arg(req->args[i], &v);
		if (k < 0 || (seen & (1 << k)))
			return false;
		seen |= 1 << k;
	}
	return true;
}

ssize_t admin_parse_request(const char *buf, size_t len, struct admin_request *req)
{
	const char *lf = memchr(buf, '\n', len < ADMIN_MAX_LINE ? len : ADMIN_MAX_LINE);

	memset(req, 0, sizeof(*req));
	if (!lf)
		return len >= ADMIN_MAX_LINE ? -1 : 0;
	size_t n = (size_t)(lf - buf);
	if (!parse_line(buf, n, req)) {
		memset(req, 0, sizeof(*req));
		return -1;
	}
	return (ssize_t)(n + 1);
}

static bool valid_name(const char *p, size_t n)
{
	if (n == 0 || n > ADMIN_MAX_WORD)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '_'))
			return false;
	return true;
}

int admin_parse_record(const char *line, size_t len, struct admin_field *fields, size_t max)
{
	size_t nf = 0, pos = 0;

	if (len == 0 || len > ADMIN_MAX_LINE)
		return -1;
	while (pos <= len) {
		const char *tab = memchr(line + pos, '\t', len - pos);
		size_t end = tab ? (size_t)(tab - line) : len;
		const char *eq = memchr(line + pos, '=', end - pos);
		if (!eq || nf == max || !valid_name(line + pos, (size_t)(eq - line) - pos))
			return -1;
		size_t nl = (size_t)(eq - line) - pos, vl = end - nl - pos - 1;
		for (size_t i = 0; i < vl; i++)
			if ((unsigned char)eq[1 + i] < 0x20 || eq[1 + i] == 0x7f)
				return -1;
		memcpy(fields[nf].name, line + pos, nl);
		fields[nf].name[nl] = '\0';
		memcpy(fields[nf].value, eq + 1, vl);
		fields[nf].value[vl] = '\0';
		nf++;
		pos = end + 1;
	}
	return (int)nf;
}
