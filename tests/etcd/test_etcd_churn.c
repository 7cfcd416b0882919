/* SPDX-License-Identifier: MIT */
/*
 * Processes acting as nodes on one etcd: each allocates and releases
 * dual-stack leases from the same pool set with its own store and context,
 * keeping a model of what it holds. Afterwards a fresh process loads the
 * set: every model lease is there with its address, nothing else is, no
 * address is held twice, ipam_verify() is 0.
 *
 * The second test kills etcd in the middle of the churn and restarts it:
 * while it is down every call fails with -EAGAIN (nothing else), the
 * nodes retry the same request (allocation is idempotent, so a commit
 * whose answer was lost is found again, not duplicated), and work resumes
 * once etcd is back.
 */
#include <signal.h>
#include <sys/wait.h>

#include "etcd_test.h"

#define NET4 "10.2.0.0/24"
#define NET6 "fd00:2::/120"
#define MAX_HELD 30

struct held {
	char owner[32];
	char a4[IPAM_ADDR_STRLEN], a6[IPAM_ADDR_STRLEN];
};

struct node {
	int id;
	ipam_ctx *ctx;
	struct held held[MAX_HELD];
	int nheld;
	long ok, eagain, other, late_ok;
	int next_owner;
	char pending_owner[32]; /* an allocation to finish */
	int pending_release;    /* index in held of a release to finish, or -1 */
};

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* One step; returns the call's result. */
static int step(struct node *n, uint64_t *rng)
{
	ipam_lease l[2];
	unsigned cnt = 2;
	int r;

	if (n->pending_release < 0 && !n->pending_owner[0]) {
		if (n->nheld < MAX_HELD && (n->nheld == 0 || tu_splitmix(rng) % 3 != 0))
			snprintf(n->pending_owner, sizeof(n->pending_owner), "node%d/pod-%d", n->id,
				 n->next_owner++);
		else
			n->pending_release = (int)(tu_splitmix(rng) % (uint64_t)n->nheld);
	}
	if (n->pending_owner[0]) {
		ipam_request rq = et_req(n->pending_owner, n->pending_owner);
		r = ipam_allocate(n->ctx, &rq, l, &cnt);
		if (r == 0) {
			struct held *h = &n->held[n->nheld++];
			ck_assert_uint_eq(cnt, 2);
			snprintf(h->owner, sizeof(h->owner), "%s", n->pending_owner);
			ipam_addr_format(&l[0].addr, h->a4, sizeof(h->a4));
			ipam_addr_format(&l[1].addr, h->a6, sizeof(h->a6));
			n->pending_owner[0] = '\0';
		}
	} else {
		r = ipam_release_owner(n->ctx, "net", n->held[n->pending_release].owner, NULL);
		if (r >= 0) { /* 0: a release whose answer was lost went through */
			n->held[n->pending_release] = n->held[--n->nheld];
			n->pending_release = -1;
			r = 0;
		}
	}
	return r;
}

static void write_model(const struct node *n, const char *dir)
{
	char path[400];
	FILE *f;

	snprintf(path, sizeof(path), "%s/node-%d", dir, n->id);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "%ld %ld %ld %ld %d\n", n->ok, n->eagain, n->other, n->late_ok, n->nheld);
	for (int i = 0; i < n->nheld; i++)
		fprintf(f, "%s %s %s\n", n->held[i].owner, n->held[i].a4, n->held[i].a6);
	fclose(f);
}

/* A node process: churn for `seconds` (or `steps` successful calls), then
 * finish what is pending, write the model, exit. */
static void run_node(int id, const char *prefix, const char *dir, double seconds, long steps)
{
	struct node n;
	ipam_store *st = et_store(prefix, 0);
	uint64_t rng = (uint64_t)id * 7919 + (uint64_t)getpid();
	double start = mono(), end = start + seconds;

	memset(&n, 0, sizeof(n));
	n.id = id;
	n.pending_release = -1;
	n.ctx = et_ctx(st, "node", NET4, NET6);
	for (;;) {
		int pending = n.pending_owner[0] || n.pending_release >= 0;
		int r;
		if (!pending && (seconds > 0 ? mono() >= end : n.ok >= steps))
			break;
		if (pending && mono() > end + 30)
			break; /* etcd never came back: the model check fails */
		r = step(&n, &rng);
		if (r == 0) {
			n.ok++;
			if (seconds > 0 && mono() > end - 1.5)
				n.late_ok++;
		} else if (r == -EAGAIN) {
			n.eagain++;
			pause_ms(20);
		} else if (r == -ENOSPC) {
			n.pending_owner[0] = '\0';
		} else {
			n.other++;
			printf("node %d: unexpected %d (%s / %s)\n", id, r, ipam_last_error_message(),
			       ipam_etcd_last_error_message());
			break;
		}
	}
	write_model(&n, dir);
	ipam_ctx_free(n.ctx);
	ipam_store_free(st);
}

static pid_t spawn_node(int id, const char *prefix, const char *dir, double seconds, long steps)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		run_node(id, prefix, dir, seconds, steps);
		fflush(NULL);
		_exit(0);
	}
	return pid;
}

struct totals {
	long ok, eagain, other, late_ok_min;
};

static int count_cb(void *ud, const ipam_lease *l)
{
	(void)l;
	(*(long *)ud)++;
	return 0;
}

/* Load the set fresh and compare it with the nodes' models. */
static struct totals check_models(const char *prefix, const char *dir, int nodes)
{
	char seen[2 * 4 * MAX_HELD][64];
	struct totals t = { 0, 0, 0, 1L << 30 };
	ipam_store *st = et_store(prefix, 0);
	ipam_ctx *ctx = et_ctx(st, "checker", NET4, NET6);
	long expected = 0, in_store = 0;
	int nseen = 0;

	for (int id = 0; id < nodes; id++) {
		char path[400], owner[64], a4[64], a6[64];
		long ok, eagain, other, late;
		int nheld;
		FILE *f;

		snprintf(path, sizeof(path), "%s/node-%d", dir, id);
		f = fopen(path, "r");
		ck_assert_msg(f != NULL, "node %d wrote no model", id);
		ck_assert_int_eq(fscanf(f, "%ld %ld %ld %ld %d", &ok, &eagain, &other, &late, &nheld), 5);
		t.ok += ok;
		t.eagain += eagain;
		t.other += other;
		if (late < t.late_ok_min)
			t.late_ok_min = late;
		for (int i = 0; i < nheld; i++) {
			ipam_lease l[2];
			unsigned n = 2;
			ck_assert_int_eq(fscanf(f, "%63s %63s %63s", owner, a4, a6), 3);
			ck_assert_int_eq(ipam_lookup_owner(ctx, "net", owner, "eth0", l, &n), 0);
			ck_assert_msg(n == 2, "%s holds %u leases", owner, n);
			for (int k = 0; k < 2; k++) {
				char got[IPAM_ADDR_STRLEN];
				ipam_addr_format(&l[k].addr, got, sizeof(got));
				ck_assert_msg(strcmp(got, l[k].addr.family == IPAM_AF_INET ? a4 : a6) == 0,
					      "%s: store has %s", owner, got);
			}
			for (int k = 0; k < nseen; k++)
				ck_assert_msg(strcmp(seen[k], a4) && strcmp(seen[k], a6),
					      "address held twice: %s/%s", a4, a6);
			snprintf(seen[nseen++], sizeof(seen[0]), "%s", a4);
			snprintf(seen[nseen++], sizeof(seen[0]), "%s", a6);
			expected += 2;
		}
		fclose(f);
	}
	ipam_foreach_lease(ctx, "net", NULL, count_cb, &in_store);
	ck_assert_int_eq(in_store, expected);
	ck_assert_int_eq(ipam_verify(ctx, "net"), 0);
	ipam_ctx_free(ctx);
	ipam_store_free(st);
	return t;
}

static int wait_all(pid_t *pids, int n)
{
	int bad = 0;

	for (int i = 0; i < n; i++) {
		int st;
		ck_assert_int_eq(waitpid(pids[i], &st, 0), pids[i]);
		bad += !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	return bad;
}

START_TEST(four_nodes_dual_stack)
{
	char prefix[96], dir[300];
	pid_t pids[4];
	struct totals t;

	et_prefix(prefix, sizeof(prefix), "nodes");
	snprintf(dir, sizeof(dir), "%s", et_etcd.dir);
	for (int i = 0; i < 4; i++)
		pids[i] = spawn_node(i, prefix, dir, 0, tu_scale(200));
	ck_assert_int_eq(wait_all(pids, 4), 0);
	t = check_models(prefix, dir, 4);
	printf("4 nodes: %ld calls ok, %ld -EAGAIN, %ld other errors\n", t.ok, t.eagain, t.other);
	ck_assert_int_eq(t.other, 0);
	ck_assert_int_ge(t.ok, 4 * tu_scale(200));
}
END_TEST

START_TEST(etcd_killed_and_restarted)
{
	char prefix[96], dir[300];
	pid_t pids[3];
	struct totals t;

	et_prefix(prefix, sizeof(prefix), "restart");
	snprintf(dir, sizeof(dir), "%s", et_etcd.dir);
	for (int i = 0; i < 3; i++)
		pids[i] = spawn_node(i, prefix, dir, 9.0, 0);
	pause_ms(2500);
	/* A crash, not a clean stop. (etcd is the test runner's child: it
	 * reaps it; the restarted one is ours.) */
	kill(et_etcd.pid, SIGKILL);
	et_etcd.pid = 0;
	pause_ms(2000);
	ck_assert_int_eq(fx_etcd_restart(&et_etcd), 0);
	ck_assert_int_eq(wait_all(pids, 3), 0);
	t = check_models(prefix, dir, 3);
	fx_etcd_stop(&et_etcd); /* the one this process restarted */
	printf("restart: %ld calls ok, %ld -EAGAIN while down, %ld other errors, "
	       "at least %ld ok per node in the last 1.5 s\n",
	       t.ok, t.eagain, t.other, t.late_ok_min);
	ck_assert_int_eq(t.other, 0);
	ck_assert_int_gt(t.eagain, 0);
	ck_assert_int_gt(t.late_ok_min, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("etcd-churn");
	TCase *tc = tcase_create("nodes");

	et_require_etcd();
	tcase_add_unchecked_fixture(tc, et_start_plain, et_stop);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, four_nodes_dual_stack);
	tcase_add_test(tc, etcd_killed_and_restarted);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
