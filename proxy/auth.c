/*
 * The password-checking thread (see auth.h). Input: user names and
 * passwords from viewers, already parsed; the user database through
 * userdb.c, which reports corrupt lines and carries on.
 */
#include "autoconfig.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "auth.h"
#include "log.h"
#include "userdb.h"
#include "util.h"

#define AUTH_QUEUE_MAX 256

struct job {
	uint64_t cookie;
	bool nt; /* look up the NT hash; no password */
	char user[65];
	char password[1025];
};

struct auth_service {
	char *path;
	struct userdb *db;
	struct userdb_stamp stamp;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;
	int efd;
	struct job *jobs[AUTH_QUEUE_MAX];
	size_t njobs;
	struct auth_result results[AUTH_QUEUE_MAX];
	size_t nresults;
};

static void warn_line(void *ctx, const char *msg)
{
	(void)ctx;
	log_warn("user database: %s", msg);
}

/* Rereads the database if the file changed since the last read. */
static void refresh(struct auth_service *a)
{
	char err[256];

	bool changed = userdb_changed(a->path, &a->stamp);
	if (a->db && !changed)
		return;
	struct userdb *db = userdb_load(a->path, warn_line, NULL, err, sizeof(err));
	if (!db) {
		memset(&a->stamp, 0, sizeof(a->stamp)); /* try again next time */
		log_error("user database: %s%s", err, a->db ? "; keeping the previous one" : "");
		return;
	}
	userdb_destroy(a->db);
	a->db = db;
	log_info("user database %s: %zu user(s)", a->path, userdb_count(db));
}

static void *auth_main(void *arg)
{
	struct auth_service *a = arg;

	pthread_mutex_lock(&a->lock);
	for (;;) {
		while (!a->stop && a->njobs == 0)
			pthread_cond_wait(&a->wake, &a->lock);
		if (a->stop)
			break;
		struct job *j = a->jobs[0];
		memmove(a->jobs, a->jobs + 1, --a->njobs * sizeof(a->jobs[0]));
		pthread_mutex_unlock(&a->lock);

		refresh(a);
		struct auth_result r = { .cookie = j->cookie, .nt = j->nt };
		if (j->nt)
			r.ok = a->db && userdb_nt_hash(a->db, j->user, r.nt_hash);
		else
			r.ok = a->db && userdb_verify(a->db, j->user, j->password);
		snprintf(r.user, sizeof(r.user), "%s", j->user);
		OPENSSL_cleanse(j, sizeof(*j));
		free(j);

		pthread_mutex_lock(&a->lock);
		if (a->nresults < AUTH_QUEUE_MAX)
			a->results[a->nresults++] = r;
		OPENSSL_cleanse(&r, sizeof(r));
		uint64_t one = 1;
		if (write(a->efd, &one, sizeof(one)) < 0)
			log_warn("auth: eventfd: %s", strerror(errno));
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

struct auth_service *auth_create(const char *users_file)
{
	struct auth_service *a = xcalloc(1, sizeof(*a));

	a->path = xstrdup(users_file);
	a->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->wake, NULL);
	refresh(a);
	if (a->efd < 0 || pthread_create(&a->thread, NULL, auth_main, a) != 0) {
		log_error("cannot start the authentication thread");
		if (a->efd >= 0)
			close(a->efd);
		userdb_destroy(a->db);
		free(a->path);
		free(a);
		return NULL;
	}
	return a;
}

void auth_destroy(struct auth_service *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	a->stop = true;
	pthread_cond_signal(&a->wake);
	pthread_mutex_unlock(&a->lock);
	pthread_join(a->thread, NULL);
	for (size_t i = 0; i < a->njobs; i++) {
		OPENSSL_cleanse(a->jobs[i], sizeof(*a->jobs[i]));
		free(a->jobs[i]);
	}
	userdb_destroy(a->db);
	close(a->efd);
	free(a->path);
	free(a);
}

int auth_fd(const struct auth_service *a)
{
	return a->efd;
}

static void queue(struct auth_service *a, struct job *j, uint64_t cookie, const char *user)
{
	pthread_mutex_lock(&a->lock);
	if (a->njobs < AUTH_QUEUE_MAX) {
		a->jobs[a->njobs++] = j;
		j = NULL;
		pthread_cond_signal(&a->wake);
	} else if (a->nresults < AUTH_QUEUE_MAX) {
		/* Flooded: refuse rather than queue without bound. */
		struct auth_result r = { .cookie = cookie, .ok = false, .nt = j->nt };
		snprintf(r.user, sizeof(r.user), "%s", user);
		a->results[a->nresults++] = r;
		uint64_t one = 1;
		if (write(a->efd, &one, sizeof(one)) < 0)
			log_warn("auth: eventfd: %s", strerror(errno));
	}
	pthread_mutex_unlock(&a->lock);
	if (j) {
		OPENSSL_cleanse(j, sizeof(*j));
		free(j);
	}
}

void auth_submit(struct auth_service *a, uint64_t cookie, const char *user, const char *password)
{
	struct job *j = xcalloc(1, sizeof(*j));

	j->cookie = cookie;
	snprintf(j->user, sizeof(j->user), "%s", user);
	snprintf(j->password, sizeof(j->password), "%s", password);
	queue(a, j, cookie, user);
}

void auth_submit_nt_hash(struct auth_service *a, uint64_t cookie, const char *user)
{
	struct job *j = xcalloc(1, sizeof(*j));

	j->cookie = cookie;
	j->nt = true;
	snprintf(j->user, sizeof(j->user), "%s", user);
	queue(a, j, cookie, user);
}

bool auth_take(struct auth_service *a, struct auth_result *r)
{
	uint64_t v;
	bool got = false;

	pthread_mutex_lock(&a->lock);
	if (a->nresults > 0) {
		*r = a->results[0];
		memmove(a->results, a->results + 1, --a->nresults * sizeof(a->results[0]));
		OPENSSL_cleanse(&a->results[a->nresults], sizeof(a->results[0]));
		got = true;
	}
	if (a->nresults == 0 && read(a->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("auth: eventfd: %s", strerror(errno));
	pthread_mutex_unlock(&a->lock);
	return got;
}
