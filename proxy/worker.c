/*
 * Worker process plumbing (see worker.h): privilege drop and the worker's
 * side of the control link. Messages from the control process are parsed
 * with ctl_parse like everything else.
 */
#include "autoconfig.h"

#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "log.h"
#include "pixlink.h"
#include "util.h"
#include "worker.h"

static int drop_privileges(const char *user)
{
	struct passwd *pw = getpwnam(user);
	if (!pw) {
		log_error("[server] worker_user %s does not exist", user);
		return -1;
	}
	if (setgroups(0, NULL) < 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0) {
		log_error("cannot become %s: %s", user, strerror(errno));
		return -1;
	}
	/* No way back, no core dumps with credentials, no ptrace by peers. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_DUMPABLE, 0) < 0)
		return -1;
	return 0;
}

void worker_main(struct worker *w, const struct frontend *fe)
{
	char ident[32];

	snprintf(ident, sizeof(ident), "%s-worker", fe->name);
	shoji_log_init(ident, (enum shoji_log_level)w->cfg->server_log_level);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	if (fe->prepare && fe->prepare(w) < 0)
		_exit(1);
	if (drop_privileges(w->cfg->server_worker_user) < 0)
		_exit(1);
	int rc = fe->serve(w);
	_exit(rc);
}

int worker_authenticate(struct worker *w, enum ctl_protocol proto, const char *user,
                        const char *password, char *reason, size_t reason_len, int timeout_ms)
{
	struct ctl_msg m = {.type = CTL_AUTH};
	uint8_t buf[CTL_MAX_MSG];
	int fd = -1;

	m.u.auth.protocol = (uint8_t)proto;
	snprintf(m.u.auth.user, sizeof(m.u.auth.user), "%s", user);
	snprintf(m.u.auth.password, sizeof(m.u.auth.password), "%s", password);
	snprintf(m.u.auth.addr, sizeof(m.u.auth.addr), "%s", w->peer);
	int rc = ctl_send(w->ctl_fd, &m, -1);
	ctl_wipe(&m);
	snprintf(reason, reason_len, "authentication is not available");
	w->notice = false;
	if (rc < 0)
		return -1;
	struct pollfd p = {.fd = w->ctl_fd, .events = POLLIN};
	if (poll(&p, 1, timeout_ms) <= 0)
		return -1;
	ssize_t n = pixlink_recv(w->ctl_fd, buf, sizeof(buf), &fd);
	if (n <= 0 || ctl_parse(buf, (size_t)n, &m) != n || m.type != CTL_AUTH_RESULT ||
	    m.u.result.ok != (fd >= 0)) {
		if (fd >= 0)
			close(fd);
		log_warn("bad answer from the control process");
		return -1;
	}
	snprintf(reason, reason_len, "%s", m.u.result.reason);
	w->notice = m.u.result.notice;
	snprintf(w->refusal, sizeof(w->refusal), "%s", m.u.result.reason);
	if (!m.u.result.ok)
		return -1;
	snprintf(w->session, sizeof(w->session), "%s", m.u.result.session);
	return fd;
}

bool worker_nt_hash(struct worker *w, const char *user, uint8_t out[CTL_NT_HASH_LEN],
		    int timeout_ms)
{
	struct ctl_msg m = { .type = CTL_NT_HASH_REQ };
	uint8_t buf[CTL_MAX_MSG];
	int fd = -1;
	bool ok = false;

	snprintf(m.u.nt_req.user, sizeof(m.u.nt_req.user), "%s", user);
	struct pollfd p = { .fd = w->ctl_fd, .events = POLLIN };
	if (ctl_send(w->ctl_fd, &m, -1) < 0 || poll(&p, 1, timeout_ms) <= 0)
		return false;
	ssize_t n = pixlink_recv(w->ctl_fd, buf, sizeof(buf), &fd);
	if (fd >= 0)
		close(fd);
	if (n > 0 && ctl_parse(buf, (size_t)n, &m) == n && m.type == CTL_NT_HASH && fd < 0) {
		ok = m.u.nt.ok;
		memcpy(out, m.u.nt.hash, CTL_NT_HASH_LEN);
		ctl_wipe(&m);
	} else {
		log_warn("bad answer from the control process");
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	return ok;
}

void worker_note(struct worker *w, enum ctl_note_code code, const char *fmt, ...)
{
	struct ctl_msg m = {.type = CTL_NOTE};
	va_list ap;

	m.u.note.code = (uint16_t)code;
	va_start(ap, fmt);
	vsnprintf(m.u.note.text, sizeof(m.u.note.text), fmt, ap);
	va_end(ap);
	/* Notes are text: replace what the parser would refuse. */
	for (char *p = m.u.note.text; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	ctl_send(w->ctl_fd, &m, -1);
}
