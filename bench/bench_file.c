/* SPDX-License-Identifier: MIT */
/*
 * Benchmarks of the file store (lib/store/file.c), through the public API:
 *  1. open time (ipam_store_file_new + ipam_ctx_new + ipam_ctx_add_poolset)
 *     of a store holding 100 000 leases, as a compacted snapshot and as left
 *     by 100 000 commits (target: <= 50 ms); and of a store holding 1 000
 *     leases (what a CNI plugin opens at every call), as a snapshot alone
 *     and as a snapshot plus a log at its compaction threshold, in
 *     microseconds and nanoseconds per lease;
 *  2. allocate+release per operation with durability fsync, group and none,
 *     from 1 process and from 2 processes (fork) on one store, beside the
 *     bare cost of appending 100 bytes and fdatasync()ing them in the same
 *     directory (targets: a committed allocation <= 1.5x one fdatasync;
 *     none <= 5 us);
 *  3. the cost of an allocation with 1 000 and with 100 000 leases already
 *     in the store, durability none and fsync (target: within 20 %).
 * Works in a fresh directory under TMPDIR (or /tmp), removed at the end.
 * Prints figures; never fails on them (benchmarks are not tests).
 * `bench-file open` runs the open figures only.
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ipam/ipam.h>

#define BIG 100000
#define SMALL 1000

static char root[256];

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n ? v[n / 2] : 0;
}

static double mean(const double *v, size_t n)
{
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += v[i];
	return n ? s / (double)n : 0;
}

static void die(const char *what)
{
	fprintf(stderr, "bench-file: %s: %s\n", what, ipam_last_error_message());
	exit(1);
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void subdir(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", root, name);
	if (mkdir(buf, 0700) < 0)
		die(buf);
}

static const char *durability_name(ipam_durability d)
{
	return d == IPAM_DURABILITY_FSYNC ? "fsync" : d == IPAM_DURABILITY_GROUP ? "group" : "none";
}

/* A handle on the store in dir: one v4 pool of 131 070 addresses. */
struct handle {
	ipam_store *st;
	ipam_ctx *ctx;
};

static ipam_poolset *make_set(void)
{
	ipam_poolset *s = NULL;
	ipam_pool *p = NULL;

	if (ipam_pool_new_str(&p, "v4", "10.0.0.0/15") < 0 || ipam_poolset_new(&s, "bench") < 0 ||
	    ipam_poolset_add(s, p) < 0)
		die("pool set");
	return s;
}

/* When set, handles open scoped to one new pod (what ipam-cni's ADD does). */
static const ipam_file_store_scope *open_scope;

static const ipam_file_store_scope one_pod = { "default/pod-new-5f7c9d8b6-x2k4q",
					       "0123456789abcdef0123456789abcdef", NULL, 0 };

/* Open; returns the seconds taken by store_new + ctx_new + add_poolset. */
static double open_handle(struct handle *h, const char *dir, ipam_durability d, uint64_t compact)
{
	ipam_file_store_options fo;
	ipam_ctx_options co;
	ipam_poolset *set = make_set();
	double t0;

	ipam_file_store_options_init(&fo);
	fo.durability = d;
	fo.compact_bytes = compact;
	fo.scope = open_scope;
	ipam_ctx_options_init(&co);
	co.node = "bench";
	t0 = now_s();
	if (ipam_store_file_new(&h->st, dir, &fo) < 0)
		die("store");
	if (ipam_ctx_new(&h->ctx, h->st, &co) < 0)
		die("ctx");
	if (ipam_ctx_add_poolset(h->ctx, set) < 0)
		die("add pool set");
	return now_s() - t0;
}

static void close_handle(struct handle *h)
{
	ipam_ctx_free(h->ctx);
	ipam_store_free(h->st);
	memset(h, 0, sizeof(*h));
}

static void allocate(struct handle *h, const char *owner)
{
	ipam_request r;
	ipam_lease out;
	unsigned n = 1;

	memset(&r, 0, sizeof(r));
	r.poolset = "bench";
	r.owner = owner;
	r.ifname = "eth0";
	r.attachment = owner;
	if (ipam_allocate(h->ctx, &r, &out, &n) < 0)
		die("allocate");
}

static void release(struct handle *h, const char *owner)
{
	if (ipam_release_owner(h->ctx, "bench", owner, NULL) != 1)
		die("release");
}

/* A store with n leases, left in the log (no compaction). */
static void fill(const char *dir, long n)
{
	struct handle h;
	char owner[64];

	open_handle(&h, dir, IPAM_DURABILITY_NONE, UINT64_C(1) << 40);
	for (long i = 0; i < n; i++) {
		snprintf(owner, sizeof(owner), "default/pod-%08ld-5f7c9d8b6-x2k4q", i);
		allocate(&h, owner);
	}
	close_handle(&h);
}

static double open_time_ms(const char *dir)
{
	double t[7];
	struct handle h;

	for (int i = 0; i < 7; i++) {
		t[i] = open_handle(&h, dir, IPAM_DURABILITY_FSYNC, 0) * 1e3;
		close_handle(&h);
	}
	return median(t, 7);
}

static off_t file_size(const char *dir, const char *name)
{
	char path[512];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &sb) < 0 ? 0 : sb.st_size;
}

/* ---- 1. open ----------------------------------------------------------------- */

static void bench_open(const char *big)
{
	struct handle h;
	struct stat sb;
	char path[512];
	double log_ms, snap_ms;

	fill(big, BIG);
	log_ms = open_time_ms(big);
	/* The store compacts on its own as the log grows: what is left is a
	 * snapshot and the commits made since. */
	printf("open, %d leases by %d commits (snapshot %.1f MB + log %.2f MB): %8.2f ms (median of 7; "
	       "target <= 50 ms)\n",
	       BIG, BIG, (double)file_size(big, "bench.snap") / 1e6,
	       (double)file_size(big, "bench.log") / 1e6, log_ms);
	open_handle(&h, big, IPAM_DURABILITY_NONE, 0);
	if (ipam_store_file_compact(h.st, "bench") < 0)
		die("compact");
	close_handle(&h);
	snprintf(path, sizeof(path), "%s/bench.snap", big);
	stat(path, &sb);
	snap_ms = open_time_ms(big);
	printf("open, %d leases in a snapshot (%.1f MB):   %8.2f ms (median of 7; target <= 50 ms)\n",
	       BIG, (double)sb.st_size / 1e6, snap_ms);
	printf("      %.0f ns per lease\n", snap_ms * 1e6 / BIG);
	open_scope = &one_pod;
	snap_ms = open_time_ms(big);
	open_scope = NULL;
	printf("  the same, scoped to one new pod: %8.2f ms (median of 7), %.0f ns per lease\n", snap_ms,
	       snap_ms * 1e6 / BIG);
}

static double open_time_us(const char *dir, int reps)
{
	double t[51];
	struct handle h;

	for (int i = 0; i < reps; i++) {
		t[i] = open_handle(&h, dir, IPAM_DURABILITY_FSYNC, 0) * 1e6;
		close_handle(&h);
	}
	return median(t, (size_t)reps);
}

/* What a CNI plugin pays per call: opening a store of 1 000 leases, as a
 * snapshot alone, then with a log as long as the store lets it grow
 * before it compacts (release + allocate pairs, stopped just short). */
static void bench_open_small(void)
{
	char dir[300], owner[64];
	struct handle h;
	off_t max = 0, sz, prev;
	long ops = 0, commits = 0;
	double us;

	subdir(dir, sizeof(dir), "open-small");
	fill(dir, SMALL);
	open_handle(&h, dir, IPAM_DURABILITY_NONE, 0);
	if (ipam_store_file_compact(h.st, "bench") < 0)
		die("compact");
	close_handle(&h);
	us = open_time_us(dir, 51);
	printf("open, %d leases in a snapshot (%.0f KB):       %8.1f us (median of 51), %.0f ns per lease\n",
	       SMALL, (double)file_size(dir, "bench.snap") / 1e3, us, us * 1e3 / SMALL);
	open_scope = &one_pod;
	us = open_time_us(dir, 51);
	open_scope = NULL;
	printf("  the same, scoped to one new pod (ipam-cni ADD): %8.1f us (median of 51), %.0f ns per lease\n",
	       us, us * 1e3 / SMALL);
	/* Find the log size at which the store compacts, then refill to
	 * just below it. */
	open_handle(&h, dir, IPAM_DURABILITY_NONE, 0);
	prev = file_size(dir, "bench.log");
	for (int pass = 0; pass < 2; pass++) {
		for (commits = 0;; ops++) {
			snprintf(owner, sizeof(owner), "default/pod-%08ld-5f7c9d8b6-x2k4q", ops % SMALL);
			release(&h, owner);
			allocate(&h, owner);
			commits += 2;
			sz = file_size(dir, "bench.log");
			if (sz < prev) /* compacted */
				break;
			if (pass == 1 && sz + 2 * (sz - prev) >= max)
				break;
			if (sz > max)
				max = sz;
			prev = sz;
		}
		prev = file_size(dir, "bench.log");
	}
	close_handle(&h);
	sz = file_size(dir, "bench.log");
	us = open_time_us(dir, 51);
	printf("open, %d leases in a snapshot + a full log (%.0f KB, %ld commits): %8.1f us (median of "
	       "51), %.0f ns per lease\n",
	       SMALL, (double)sz / 1e3, commits, us, us * 1e3 / SMALL);
	open_scope = &one_pod;
	us = open_time_us(dir, 51);
	open_scope = NULL;
	printf("  the same, scoped to one new pod (ipam-cni ADD): %8.1f us (median of 51), %.0f ns per lease\n",
	       us, us * 1e3 / SMALL);
}

/* ---- 2. allocate + release, by durability and processes ------------------------ */

/* Median seconds of appending 100 bytes to a file in dir and fdatasync(). */
static double bare_fdatasync(const char *dir, int n)
{
	char path[512], rec[100];
	double *t = malloc(sizeof(double) * (size_t)n), m;
	int fd;

	snprintf(path, sizeof(path), "%s/bare.dat", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0 || !t)
		die("bare file");
	memset(rec, 'x', sizeof(rec));
	for (int i = 0; i < n; i++) {
		double t0 = now_s();
		if (write(fd, rec, sizeof(rec)) != (ssize_t)sizeof(rec) || fdatasync(fd) < 0)
			die("bare append");
		t[i] = now_s() - t0;
	}
	close(fd);
	unlink(path);
	m = median(t, (size_t)n);
	free(t);
	return m;
}

struct churn {
	double alloc_med, alloc_mean, pair_med, pair_mean;
};

/* n allocate+release pairs of fresh owners on an open handle; the seconds
 * of each allocation and each pair go to ta[first..] and tp[first..]. */
static void churn_into(struct handle *h, const char *tag, long first, long n, double *ta, double *tp)
{
	char owner[64];

	for (long i = first; i < first + n; i++) {
		double t0, t1;
		snprintf(owner, sizeof(owner), "churn/%s-%ld", tag, i);
		t0 = now_s();
		allocate(h, owner);
		t1 = now_s();
		release(h, owner);
		ta[i] = t1 - t0;
		tp[i] = now_s() - t0;
	}
}

static struct churn summarize(double *ta, double *tp, long n)
{
	struct churn c;

	c.alloc_mean = mean(ta, (size_t)n);
	c.pair_mean = mean(tp, (size_t)n);
	c.alloc_med = median(ta, (size_t)n);
	c.pair_med = median(tp, (size_t)n);
	return c;
}

static struct churn churn(struct handle *h, const char *tag, long n)
{
	double *ta = malloc(sizeof(double) * (size_t)n), *tp = malloc(sizeof(double) * (size_t)n);
	struct churn c;

	if (!ta || !tp)
		die("oom");
	churn_into(h, tag, 0, n, ta, tp);
	c = summarize(ta, tp, n);
	free(ta);
	free(tp);
	return c;
}

/* Seconds for `procs` processes to make n pairs each, started together. */
static double churn_procs(const char *dir, ipam_durability d, int procs, long n)
{
	int go[2];
	pid_t pid[2];
	double t0;

	if (pipe(go) < 0)
		die("pipe");
	for (int p = 0; p < procs; p++) {
		pid[p] = fork();
		if (pid[p] < 0)
			die("fork");
		if (pid[p] == 0) {
			struct handle h;
			char tag[16], c;
			close(go[1]);
			open_handle(&h, dir, d, 0);
			if (read(go[0], &c, 1) < 0) /* EOF: go */
				_exit(1);
			snprintf(tag, sizeof(tag), "p%d", p);
			churn(&h, tag, n);
			close_handle(&h);
			_exit(0);
		}
	}
	close(go[0]);
	usleep(200000); /* let both open their handles */
	t0 = now_s();
	close(go[1]);
	for (int p = 0; p < procs; p++) {
		int status;
		if (waitpid(pid[p], &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			die("child failed");
	}
	return now_s() - t0;
}

static void bench_durability(void)
{
	static const ipam_durability modes[] = { IPAM_DURABILITY_FSYNC, IPAM_DURABILITY_GROUP,
						 IPAM_DURABILITY_NONE };
	char dir[300];
	double sync_s, alloc_fsync = 0;

	subdir(dir, sizeof(dir), "churn");
	fill(dir, SMALL);
	sync_s = bare_fdatasync(dir, 400);
	printf("bare append of 100 bytes + fdatasync:      %8.1f us (median of 400)\n", sync_s * 1e6);
	for (unsigned m = 0; m < 3; m++) {
		long n = modes[m] == IPAM_DURABILITY_NONE ? 20000 : 300;
		struct handle h;
		struct churn c;
		double two;

		open_handle(&h, dir, modes[m], 0);
		c = churn(&h, durability_name(modes[m]), n);
		close_handle(&h);
		two = churn_procs(dir, modes[m], 2, n);
		printf("%-5s 1 process:  allocate %8.1f us (median; mean %.1f), allocate+release %8.1f us "
		       "(median; mean %.1f)\n",
		       durability_name(modes[m]), c.alloc_med * 1e6, c.alloc_mean * 1e6, c.pair_med * 1e6,
		       c.pair_mean * 1e6);
		printf("%-5s 2 processes: allocate+release %8.1f us per pair (wall time / %ld pairs)\n",
		       durability_name(modes[m]), two / (2.0 * (double)n) * 1e6, 2 * n);
		if (modes[m] == IPAM_DURABILITY_FSYNC)
			alloc_fsync = c.alloc_med;
		if (modes[m] == IPAM_DURABILITY_NONE)
			printf("none: allocate %.2f us, allocate+release %.2f us per pair (target <= 5 us)\n",
			       c.alloc_med * 1e6, c.pair_med * 1e6);
	}
	printf("ratio: committed allocation (fsync) / bare fdatasync = %.2f (target <= 1.5)\n",
	       alloc_fsync / sync_s);
}

/* ---- 3. cost against the number of leases ------------------------------------- */

static void bench_scaling(const char *big)
{
	static const ipam_durability modes[] = { IPAM_DURABILITY_NONE, IPAM_DURABILITY_FSYNC };
	char small[300];

	subdir(small, sizeof(small), "small");
	fill(small, SMALL);
	for (unsigned m = 0; m < 2; m++) {
		/* Both stores open at once, worked in alternating rounds, so a
		 * drift in the machine's (or the disk's) speed hits both alike. */
		enum { ROUNDS = 10 };
		long n = modes[m] == IPAM_DURABILITY_NONE ? 20000 : 300, per = n / ROUNDS;
		const char *dirs[2] = { small, big }, *tags[2] = { "small", "big" };
		struct handle h[2];
		double *ta[2], *tp[2];
		struct churn c[2];
		for (int k = 0; k < 2; k++) {
			open_handle(&h[k], dirs[k], modes[m], 0);
			ta[k] = malloc(sizeof(double) * (size_t)n);
			tp[k] = malloc(sizeof(double) * (size_t)n);
			if (!ta[k] || !tp[k])
				die("oom");
		}
		for (int round = 0; round < ROUNDS; round++)
			for (int k = 0; k < 2; k++)
				churn_into(&h[k], tags[k], round * per, per, ta[k], tp[k]);
		for (int k = 0; k < 2; k++) {
			c[k] = summarize(ta[k], tp[k], per * ROUNDS);
			free(ta[k]);
			free(tp[k]);
			close_handle(&h[k]);
		}
		printf("%-5s %6d leases: allocate+release %8.2f us (median; mean %.2f)\n",
		       durability_name(modes[m]), SMALL, c[0].pair_med * 1e6, c[0].pair_mean * 1e6);
		printf("%-5s %6d leases: allocate+release %8.2f us (median; mean %.2f)\n",
		       durability_name(modes[m]), BIG, c[1].pair_med * 1e6, c[1].pair_mean * 1e6);
		printf("%-5s ratio %d/%d leases: %.2f median, %.2f mean (target within 20 %%; the mean "
		       "includes compactions)\n",
		       durability_name(modes[m]), BIG, SMALL, c[1].pair_med / c[0].pair_med,
		       c[1].pair_mean / c[0].pair_mean);
	}
}

int main(int argc, char **argv)
{
	const char *t = getenv("TMPDIR");
	char big[300];

	snprintf(root, sizeof(root), "%s/ipam-bench-file-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(root))
		die("mkdtemp");
	printf("file store benchmark in %s\n", root);
	subdir(big, sizeof(big), "big");
	bench_open_small();
	bench_open(big);
	if (argc > 1 && strcmp(argv[1], "open") == 0) {
		nftw(root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
		return 0;
	}
	bench_durability();
	bench_scaling(big);
	nftw(root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
