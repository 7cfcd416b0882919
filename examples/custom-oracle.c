/* SPDX-License-Identifier: MIT */
/*
 * A garbage-collection liveness oracle written by the embedder.
 *
 * The embedder's knowledge of the world here is a text file that lists the
 * owners that are alive, one per line (what a daemon could export from its
 * own process table, or a script from `kubectl get pods`). A lease whose
 * owner is not in the file is dead; a missing or unreadable file stops the
 * pass, because "I could not look" must never mean "everyone is dead".
 *
 * usage: custom-oracle DIR
 * Opens a file store in DIR, allocates addresses for pod-0..pod-5, writes
 * DIR/live-owners without pod-1 and pod-4 (their DELs were lost: zombies),
 * runs one GC pass and prints one line per lease acted on:
 *   reclaimed 10.44.0.3 default/pod-1
 * and then the pool's counts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ipam/ipam.h>

#define NPODS 6
#define LINE_MAX_LEN (IPAM_OWNER_MAX + 2)

/* ---- the oracle ------------------------------------------------------------ */

struct live_file {
	const char *path;
};

/* 1 if owner is a line of f, 0 if not. */
static int listed(FILE *f, const char *owner)
{
	char line[LINE_MAX_LEN + 1];

	rewind(f);
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (strcmp(line, owner) == 0)
			return 1;
	}
	return 0;
}

/* Read the file once per batch: the pass sees one consistent list per
 * batch, and the file may be rewritten between passes. Called outside
 * every library lock, so slow I/O here delays nobody's allocations. */
static int live_judge_batch(void *ud, const ipam_lease *leases, unsigned n, int *verdicts,
			    int64_t now)
{
	struct live_file *lf = ud;
	FILE *f = fopen(lf->path, "r");

	(void)now;
	if (!f)
		return -EIO; /* stops the pass: nothing is reclaimed on a guess */
	for (unsigned i = 0; i < n; i++)
		verdicts[i] = listed(f, leases[i].owner) ? IPAM_GC_ALIVE : IPAM_GC_DEAD;
	fclose(f);
	return 0;
}

/* ---- the program ---------------------------------------------------------- */

static void check(int r, const char *what)
{
	if (r < 0) {
		fprintf(stderr, "custom-oracle: %s: %s (%s)\n", what, ipam_strerror(r),
			ipam_last_error_message());
		exit(EXIT_FAILURE);
	}
}

static void write_live_list(const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(EXIT_FAILURE);
	}
	for (int i = 0; i < NPODS; i++)
		if (i != 1 && i != 4) /* pod-1 and pod-4 are gone */
			fprintf(f, "default/pod-%d\n", i);
	fclose(f);
}

static ipam_ctx *open_ctx(ipam_store **st, const char *dir)
{
	ipam_ctx *ctx;
	ipam_poolset *set;
	ipam_pool *pool;

	check(ipam_store_file_new(st, dir, NULL), "file store");
	check(ipam_ctx_new(&ctx, *st, NULL), "context");
	check(ipam_poolset_new(&set, "pods"), "pool set");
	check(ipam_pool_new_str(&pool, "v4", "10.44.0.0/24"), "pool");
	check(ipam_poolset_add(set, pool), "add pool");
	check(ipam_ctx_add_poolset(ctx, set), "add pool set");
	return ctx;
}

int main(int argc, char **argv)
{
	char owner[32], path[4096], a[IPAM_ADDR_STRLEN];
	struct live_file lf = { path };
	ipam_gc_oracle oracle = { .version = IPAM_GC_ORACLE_VERSION, .name = "live-file",
				  .ud = &lf, .judge_batch = live_judge_batch };
	ipam_gc_policy policy;
	ipam_gc_report *rep = NULL;
	ipam_pool_stats ps;
	ipam_store *st;
	ipam_ctx *ctx;

	if (argc != 2) {
		fprintf(stderr, "usage: custom-oracle DIR\n");
		return 2;
	}
	ctx = open_ctx(&st, argv[1]);
	for (int i = 0; i < NPODS; i++) {
		snprintf(owner, sizeof(owner), "default/pod-%d", i);
		ipam_request req = { .poolset = "pods", .owner = owner, .ifname = "eth0",
				     .attachment = owner };
		ipam_lease l;
		unsigned n = 1;
		check(ipam_allocate(ctx, &req, &l, &n), "allocate");
		ipam_addr_format(&l.addr, a, sizeof(a));
		printf("allocated %s %s\n", a, owner);
	}
	snprintf(path, sizeof(path), "%s/live-owners", argv[1]);
	write_live_list(path);

	/* The list is authoritative and complete (like CNI GC's valid
	 * attachments), so reclaim at once: no minimum age, no second look. */
	ipam_gc_policy_init(&policy);
	policy.min_age = 0;
	policy.two_observations = 0;
	check(ipam_gc(ctx, "pods", &oracle, &policy, &rep), "gc");
	for (unsigned i = 0; i < rep->nentries; i++) {
		const ipam_gc_entry *e = &rep->entries[i];
		ipam_addr_format(&e->addr, a, sizeof(a));
		printf("%s %s %s\n", ipam_gc_outcome_name(e->outcome), a, e->owner);
	}
	printf("judged %llu, reclaimed %llu, kept %llu\n", (unsigned long long)rep->judged,
	       (unsigned long long)rep->counts[IPAM_GC_RECLAIMED],
	       (unsigned long long)rep->counts[IPAM_GC_KEPT_ALIVE]);
	ipam_gc_report_free(rep);

	check(ipam_pool_stats_get(ctx, "pods", "v4", &ps), "stats");
	printf("v4: used %llu, quarantined %llu, free %llu\n", (unsigned long long)ps.used.lo,
	       (unsigned long long)ps.quarantined.lo, (unsigned long long)ps.free.lo);
	ipam_ctx_free(ctx);
	ipam_store_free(st);
	return 0;
}
