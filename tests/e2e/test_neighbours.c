/*
 * One session's processes cannot starve another: a fork bomb and a memory
 * hog run in one session's cgroup (as code that broke out of the browser
 * would, under an unprivileged uid) while the other session's viewer goes
 * on clicking and seeing the page react. The bomb stops at [sandbox]
 * pids_max, the hog is killed at memory_max, and the neighbour is served
 * throughout.
 */
#include "autoconfig.h"

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup_limits.h"
#include "daemon.h"
#include "util.h"
#include "viewer.h"

Suite *suite_neighbours(void);

#define A_PASSWORD "tenant-a-password"
#define B_PASSWORD "tenant-b-password"
#define RED 0xff0000
#define BLUE 0x0000ff
#define YELLOW 0xffff00
#define PIDS_MAX 128
#define MEMORY_MAX_MIB 384
#define NOBODY 65534

static struct shojid_proc d;

static struct viewer *login_ok(const char *user, const char *password)
{
	struct viewer_options opt = {
	    .port = d.port, .ca_file = d.ca_path, .user = user, .password = password};
	struct viewer *v = viewer_connect(&opt);
	ck_assert_msg(v, "%s could not log in (%s)", user, d.log_path);
	return v;
}

static void page_origin(struct viewer *v, int *x, int *y)
{
	ck_assert_msg(viewer_wait_block(v, RED, 200, 150, 90000, x, y), "no test page");
}

/* The session the audit log says user was given. */
static void session_of(const char *user, char *id, size_t len)
{
	char line[1024], want[64];
	FILE *f = fopen(d.audit_path, "r");

	ck_assert_ptr_nonnull(f);
	snprintf(want, sizeof(want), "\"user\":\"%s\"", user);
	id[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		const char *s = strstr(line, "\"event\":\"session_attach\",\"session\":\"");
		if (!s || !strstr(line, want))
			continue;
		s += strlen("\"event\":\"session_attach\",\"session\":\"");
		snprintf(id, len, "%.*s", (int)strcspn(s, "\""), s);
	}
	fclose(f);
	ck_assert_msg(id[0], "no session_attach for %s in %s", user, d.audit_path);
}

/*
 * A child in session's cgroup, as nobody, running fn. The parent attaches
 * it before it starts (it waits on a pipe).
 */
static pid_t spawn_in(struct limits *l, const char *session, void (*fn)(void))
{
	int go[2];

	ck_assert_int_eq(pipe(go), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char c;
		close(go[1]);
		setpgid(0, 0);
		/* Gone with the test, whatever becomes of it; and never for long. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		alarm(300);
		if (read(go[0], &c, 1) != 1 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
			_exit(2);
		fn();
		_exit(0);
	}
	close(go[0]);
	ck_assert_int_eq(limits_session_attach(l, session, pid), 0);
	ck_assert_int_eq(write(go[1], "x", 1), 1);
	close(go[1]);
	return pid;
}

static void fork_bomb(void)
{
	for (;;) {
		pid_t p = fork();
		if (p == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			for (;;)
				pause();
		}
		if (p < 0)
			usleep(1000); /* at the limit: keep pressing */
	}
}

static void memory_hog(void)
{
	for (;;) {
		char *p = malloc(16 << 20);
		if (p)
			memset(p, 0xa5, 16 << 20);
	}
}

/* The neighbour clicks the blue block; it turns yellow. */
static void neighbour_served(struct viewer *v, int ox, int oy, int round)
{
	char path[160];

	ck_assert_msg(!viewer_closed(v), "the neighbour was cut off (round %d)", round);
	if (viewer_click_until(v, ox + 200, oy + 200, ox + 350, oy + 230, YELLOW, 30000))
		return;
	viewer_dump_ppm(v, shojid_path(&d, "neighbour.ppm", path, sizeof(path)));
	ck_abort_msg("the neighbour's click was not served in round %d (screen in %s)", round,
	             path);
}

START_TEST(fork_bomb_and_hog_spare_the_neighbour)
{
	char ini[256], log[160], sa[64], sb[64];
	int ax, ay, bx, by;

	snprintf(ini, sizeof(ini), "[sandbox]\nmemory_max = %dM\npids_max = %d\n", MEMORY_MAX_MIB,
	         PIDS_MAX);
	ck_assert_msg(shojid_setup(&d, ini) == 0, "harness setup failed (%s)", d.root);
	ck_assert_int_eq(shojid_add_user(&d, "tenant-a", A_PASSWORD), 0);
	ck_assert_int_eq(shojid_add_user(&d, "tenant-b", B_PASSWORD), 0);
	viewer_log_to(shojid_path(&d, "vncclient.log", log, sizeof(log)));
	ck_assert_msg(shojid_launch(&d, 120000) == 0, "shojid did not get ready (%s)", d.log_path);

	struct viewer *va = login_ok("tenant-a", A_PASSWORD);
	page_origin(va, &ax, &ay);
	ck_assert(shojid_wait_ready(&d, 2, 120000));
	struct viewer *vb = login_ok("tenant-b", B_PASSWORD);
	page_origin(vb, &bx, &by);
	/* Blue, not navy: the page's script is in place to answer the first click. */
	ck_assert_msg(viewer_wait_pixel(vb, bx + 200, by + 200, BLUE, 8, 30000),
	              "tenant-b's page script never ran");
	session_of("tenant-a", sa, sizeof(sa));
	session_of("tenant-b", sb, sizeof(sb));
	ck_assert_str_ne(sa, sb);

	struct limits *l = limits_open("/sys/fs/cgroup", NULL);
	ck_assert_ptr_nonnull(l);
	pid_t bomb = spawn_in(l, sa, fork_bomb);
	pid_t hog = spawn_in(l, sa, memory_hog);

	struct limits_usage u = {0};
	uint64_t most_pids = 0;
	int hog_status = -1;
	for (int round = 0; round < 6; round++) {
		neighbour_served(vb, bx, by, round);
		ck_assert_int_eq(viewer_pump(vb, 300), 0);
		ck_assert_int_eq(viewer_click(vb, bx + 300, by + 75), 0); /* elsewhere: no change */
		ck_assert_int_eq(limits_session_usage(l, sa, &u), 0);
		most_pids = MAX(most_pids, u.pids);
		/* Forks stop at the limit; the two processes moved in come on top of it. */
		ck_assert_uint_le(u.pids, PIDS_MAX + 2);
		ck_assert_uint_le(u.memory_bytes, (uint64_t)MEMORY_MAX_MIB << 20);
		if (hog_status < 0 && waitpid(hog, &hog_status, WNOHANG) != hog)
			hog_status = -1;
		/* The next round needs the block blue again: reload with F5. */
		ck_assert_int_eq(viewer_key(vb, 0xffc2 /* F5 */, true), 0);
		ck_assert_int_eq(viewer_key(vb, 0xffc2, false), 0);
		ck_assert_msg(viewer_wait_pixel(vb, bx + 350, by + 230, BLUE, 8, 30000),
		              "the neighbour's page did not reload (round %d)", round);
	}
	fprintf(stderr,
	        "neighbours: session %s held at %llu of %d processes; hog %s; "
	        "%llu OOM kill(s)\n",
	        sa, (unsigned long long)most_pids, PIDS_MAX,
	        hog_status >= 0 && WIFSIGNALED(hog_status) ? "killed" : "still running",
	        (unsigned long long)u.oom_kills);
	ck_assert_msg(most_pids >= PIDS_MAX - 16, "the fork bomb never reached the limit (%llu)",
	              (unsigned long long)most_pids);
	ck_assert_msg(u.oom_kills > 0 || (hog_status >= 0 && WIFSIGNALED(hog_status)),
	              "the memory hog was never stopped");

	kill(-bomb, SIGKILL);
	kill(-hog, SIGKILL);
	waitpid(bomb, NULL, 0);
	if (hog_status < 0)
		waitpid(hog, NULL, 0);
	limits_close(l);
	viewer_destroy(va);
	viewer_destroy(vb);
	ck_assert_msg(shojid_alive(&d), "shojid died (%s)", d.log_path);
	ck_assert_int_eq(shojid_stop(&d, 60000), 0);
	viewer_log_to(NULL);
	shojid_cleanup(&d);
}
END_TEST

Suite *suite_neighbours(void)
{
	Suite *s = suite_create("neighbours");
	TCase *tc = tcase_create("neighbours");

	tcase_set_timeout(tc, 600);
	suite_add_tcase(s, tc);
	if (geteuid() != 0) {
		fprintf(stderr, "neighbours: skipped, needs root\n");
		return s;
	}
	tcase_add_test(tc, fork_bomb_and_hog_spare_the_neighbour);
	return s;
}
