/* SPDX-License-Identifier: MIT */
/*
 * One GC pass over 100 000 leases with 10 % dead, memory store, with the
 * valid-attachments oracle (batched through judge, one call per lease) and
 * with a judge_batch oracle: wall time of the pass, oracle calls, reclaims.
 * Target: <= 50 ms per pass. Prints figures; never fails on them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ipam/ipam.h>

#define LEASES 100000

static void die(const char *what)
{
	fprintf(stderr, "bench-gc: %s: %s\n", what, ipam_last_error_message());
	exit(1);
}

static int batch_judge(void *ud, const ipam_lease *l, unsigned n, int *v, int64_t now)
{
	(void)ud;
	(void)now;
	for (unsigned i = 0; i < n; i++) {
		unsigned k = (unsigned)strtoul(l[i].attachment + 1, NULL, 10);
		v[i] = k % 10 == 0 ? IPAM_GC_DEAD : IPAM_GC_ALIVE;
	}
	return 0;
}

static ipam_ctx *fill(ipam_store **st)
{
	ipam_ctx *ctx = NULL;
	ipam_poolset *set = NULL;
	ipam_pool *p = NULL;
	char owner[64], att[32];
	ipam_lease l;
	if (ipam_store_memory_new(st) < 0 || ipam_ctx_new(&ctx, *st, NULL) < 0 ||
	    ipam_poolset_new(&set, "net") < 0 || ipam_pool_new_str(&p, "v4", "10.0.0.0/15") < 0 ||
	    ipam_poolset_add(set, p) < 0 || ipam_ctx_add_poolset(ctx, set) < 0)
		die("setup");
	for (unsigned i = 0; i < LEASES; i++) {
		snprintf(owner, sizeof(owner), "ns-%u/pod-%u", i % 100, i);
		snprintf(att, sizeof(att), "c%u", i);
		ipam_request r = { .poolset = "net", .owner = owner, .ifname = "eth0", .attachment = att };
		unsigned n = 1;
		if (ipam_allocate(ctx, &r, &l, &n) < 0)
			die("fill");
	}
	return ctx;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void run(const char *label, ipam_gc_oracle *o)
{
	ipam_store *st;
	ipam_ctx *ctx = fill(&st);
	ipam_gc_policy p;
	ipam_gc_report *rep = NULL;
	ipam_gc_policy_init(&p);
	p.two_observations = 0;
	p.min_age = 0;
	double t0 = now_ms();
	if (ipam_gc(ctx, "net", o, &p, &rep) < 0)
		die("gc");
	double dt = now_ms() - t0;
	printf("  %-22s %8.1f ms per pass  %6llu judged  %6llu oracle calls  %5llu reclaimed  %6llu alive\n",
	       label, dt, (unsigned long long)rep->judged, (unsigned long long)rep->oracle_calls,
	       (unsigned long long)rep->counts[IPAM_GC_RECLAIMED],
	       (unsigned long long)rep->counts[IPAM_GC_KEPT_ALIVE]);
	ipam_gc_report_free(rep);
	ipam_ctx_free(ctx);
	ipam_store_free(st);
}

int main(void)
{
	ipam_gc_oracle *att = NULL;
	char name[32];
	ipam_gc_oracle batch = { IPAM_GC_ORACLE_VERSION, "batch", NULL, NULL, batch_judge, NULL, NULL };
	printf("GC pass over %d leases, 10 %% dead, memory store (target <= 50 ms):\n", LEASES);
	if (ipam_gc_attachments_new(&att) < 0)
		die("oracle");
	for (unsigned i = 0; i < LEASES; i++) {
		if (i % 10 == 0)
			continue;
		snprintf(name, sizeof(name), "c%u", i);
		if (ipam_gc_attachments_add(att, name, "eth0") < 0)
			die("oracle add");
	}
	run("valid-attachments", att);
	run("judge_batch (256)", &batch);
	ipam_gc_oracle_free(att);
	return 0;
}
