/* SPDX-License-Identifier: MIT */
/*
 * The etcd store under concurrent writers: 1, 2, 4 and 8 clients (threads,
 * each with its own store handle and context, as separate nodes would
 * have) allocate and then release 1000 addresses of one pool between them,
 * in block mode and in coarse mode (one key per pool, the Spiderpool /
 * Whereabouts shape), against the same etcd in the same run.
 *
 * Printed per run: operations per second (allocations + releases over the
 * wall time), failed compares per successful allocation (the contexts'
 * conflicts over their commits), p50 and p99 latency of one call.
 *
 * Placement: "blocks" lets every client pick with its own view's next-fit
 * cursor (they all start at the pool's first address, so they meet in one
 * block); "blocks+spread" gives client k hints starting at its own share
 * of the pool (a per-client cursor), which is what the store needs to keep
 * writers apart. Coarse mode gets the same hints (they do not help it).
 *
 * etcd: IPAM_ETCD_ENDPOINTS if set, else a throwaway one started here.
 * Usage: bench-etcd [addresses] (default 1000).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ipam/ipam.h>

#include "etcd_launch.h"
#include "ipam_etcd.h"

#define NET "10.9.0.0/22" /* 1022 addresses: 8 blocks of 128 */

struct client {
	pthread_t t;
	int id, nclients, spread, coarse;
	unsigned count;
	const char *endpoints, *prefix;
	pthread_barrier_t *start;
	double *lat; /* seconds, 2 * count */
	unsigned nlat;
	ipam_ctx_stats stats;
	int failed;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static ipam_ctx *client_ctx(struct client *c, ipam_store **st)
{
	ipam_etcd_options eo;
	ipam_ctx_options co;
	ipam_poolset *set = NULL;
	ipam_pool *p = NULL;
	ipam_ctx *ctx = NULL;

	ipam_etcd_options_init(&eo);
	eo.endpoints = c->endpoints;
	eo.prefix = c->prefix;
	eo.coarse = c->coarse;
	ipam_ctx_options_init(&co);
	co.node = "bench";
	co.max_attempts = 64;
	if (ipam_store_etcd_new(st, &eo) < 0 || ipam_ctx_new(&ctx, *st, &co) < 0 ||
	    ipam_poolset_new(&set, "net") < 0 || ipam_pool_new_str(&p, "v4", NET) < 0 ||
	    ipam_poolset_add(set, p) < 0 || ipam_ctx_add_poolset(ctx, set) < 0) {
		fprintf(stderr, "client %d: set-up failed: %s / %s\n", c->id, ipam_last_error_message(),
			ipam_etcd_last_error_message());
		exit(1);
	}
	return ctx;
}

static void *client_main(void *arg)
{
	struct client *c = arg;
	ipam_store *st = NULL;
	ipam_ctx *ctx = client_ctx(c, &st);
	ipam_addr base, hint;
	char owner[64];

	ipam_addr_parse("10.9.0.1", &base);
	pthread_barrier_wait(c->start);
	for (unsigned i = 0; i < c->count; i++) {
		ipam_request rq;
		ipam_lease l;
		unsigned n = 1;
		double t0 = now();
		int r;

		snprintf(owner, sizeof(owner), "c%d/pod-%u", c->id, i);
		memset(&rq, 0, sizeof(rq));
		rq.poolset = "net";
		rq.owner = owner;
		rq.ifname = "eth0";
		rq.attachment = owner;
		if (c->spread) {
			ipam_addr_add(&base, ipam_u128_make(0, (uint64_t)c->id * c->count + i), &hint);
			rq.hints = &hint;
			rq.nhints = 1;
		}
		r = ipam_allocate(ctx, &rq, &l, &n);
		c->lat[c->nlat++] = now() - t0;
		if (r < 0) {
			fprintf(stderr, "client %d: allocate: %s\n", c->id, ipam_last_error_message());
			c->failed++;
		}
	}
	for (unsigned i = 0; i < c->count; i++) {
		double t0 = now();
		snprintf(owner, sizeof(owner), "c%d/pod-%u", c->id, i);
		if (ipam_release_owner(ctx, "net", owner, NULL) < 0)
			c->failed++;
		c->lat[c->nlat++] = now() - t0;
	}
	ipam_ctx_stats_get(ctx, &c->stats);
	ipam_ctx_free(ctx);
	ipam_store_free(st);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct result {
	double ops_s, fail_per_alloc, p50_ms, p99_ms;
};

static struct result run(const char *endpoints, const char *mode, int nclients, unsigned total)
{
	struct client *c = calloc((size_t)nclients, sizeof(*c));
	pthread_barrier_t start;
	char prefix[96];
	double *all, t0, wall;
	unsigned nall = 0;
	uint64_t conflicts = 0, commits = 0, allocs = 0;
	struct result res;
	int failed = 0;

	snprintf(prefix, sizeof(prefix), "/bench/%s-%d-%ld", mode, nclients, (long)getpid());
	pthread_barrier_init(&start, NULL, (unsigned)nclients + 1);
	for (int i = 0; i < nclients; i++) {
		c[i].id = i;
		c[i].nclients = nclients;
		c[i].coarse = strcmp(mode, "coarse") == 0;
		c[i].spread = strcmp(mode, "blocks") != 0;
		c[i].count = total / (unsigned)nclients;
		c[i].endpoints = endpoints;
		c[i].prefix = prefix;
		c[i].start = &start;
		c[i].lat = calloc(2 * c[i].count, sizeof(double));
		pthread_create(&c[i].t, NULL, client_main, &c[i]);
	}
	pthread_barrier_wait(&start);
	t0 = now();
	for (int i = 0; i < nclients; i++)
		pthread_join(c[i].t, NULL);
	wall = now() - t0;
	all = calloc(2 * total, sizeof(double));
	for (int i = 0; i < nclients; i++) {
		memcpy(all + nall, c[i].lat, c[i].nlat * sizeof(double));
		nall += c[i].nlat;
		conflicts += c[i].stats.conflicts;
		commits += c[i].stats.commits;
		allocs += c[i].stats.allocations;
		failed += c[i].failed;
		free(c[i].lat);
	}
	qsort(all, nall, sizeof(double), cmp_double);
	res.ops_s = nall / wall;
	res.fail_per_alloc = allocs ? (double)conflicts / (double)(commits ? commits : 1) : 0;
	res.p50_ms = all[nall / 2] * 1e3;
	res.p99_ms = all[(size_t)((double)nall * 0.99)] * 1e3;
	printf("%-14s %2d clients  %8.0f ops/s  %6.3f failed compares/commit  "
	       "(%" PRIu64 " conflicts / %" PRIu64 " commits)  p50 %6.2f ms  p99 %7.2f ms%s\n",
	       mode, nclients, res.ops_s, res.fail_per_alloc, conflicts, commits, res.p50_ms,
	       res.p99_ms, failed ? "  (SOME CALLS FAILED)" : "");
	fflush(stdout);
	free(all);
	free(c);
	pthread_barrier_destroy(&start);
	return res;
}

int main(int argc, char **argv)
{
	static const char *const modes[] = { "blocks+spread", "blocks", "coarse" };
	static const int clients[] = { 1, 2, 4, 8 };
	unsigned total = argc > 1 ? (unsigned)atoi(argv[1]) : 1000;
	const char *ep = getenv("IPAM_ETCD_ENDPOINTS");
	struct result r[3][4];
	struct fx_etcd e;
	int own = 0;

	if (total < 8 || total > 1000) {
		fprintf(stderr, "usage: bench-etcd [addresses: 8..1000]\n");
		return 2;
	}
	if (!ep || !*ep) {
		if (!fx_etcd_binary()) {
			printf("SKIP: no etcd (set IPAM_ETCD_ENDPOINTS or install etcd-server)\n");
			return 77;
		}
		if (fx_etcd_start(&e, 0) < 0)
			return 1;
		ep = e.url;
		own = 1;
	}
	printf("etcd at %s; %u addresses allocated then released per run\n", ep, total);
	for (int k = 0; k < 4; k++)
		for (int m = 0; m < 3; m++)
			r[m][k] = run(ep, modes[m], clients[k], total);
	printf("\nblock (spread) vs coarse throughput:");
	for (int k = 0; k < 4; k++)
		printf("  %d clients %.2fx", clients[k], r[0][k].ops_s / r[2][k].ops_s);
	printf("\n");
	if (own)
		fx_etcd_destroy(&e);
	return 0;
}
