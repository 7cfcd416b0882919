/* SPDX-License-Identifier: MIT */
/*
 * Using a store written by the embedder (journal-store.c): the context
 * cannot tell it from a built-in store. The same store passes the library's
 * store-contract suite (tests/test_ctx.c, registered as ctx-journal).
 *
 * usage: custom-store JOURNAL
 * Allocates for two owners, re-runs one allocation (idempotent: no commit,
 * so no journal line), rebinds one owner to a new sandbox, releases the
 * other, then prints the journal.
 */
#include <stdio.h>
#include <stdlib.h>

#include <ipam/ipam.h>

#include "journal-store.h"

static void check(int r, const char *what)
{
	if (r < 0) {
		fprintf(stderr, "custom-store: %s: %s (%s)\n", what, ipam_strerror(r),
			ipam_last_error_message());
		exit(EXIT_FAILURE);
	}
}

static void allocate(ipam_ctx *ctx, const char *owner, const char *attachment)
{
	ipam_request req = { .poolset = "net", .owner = owner, .ifname = "eth0",
			     .attachment = attachment };
	ipam_lease l;
	unsigned n = 1;
	char a[IPAM_ADDR_STRLEN];

	check(ipam_allocate(ctx, &req, &l, &n), "allocate");
	ipam_addr_format(&l.addr, a, sizeof(a));
	printf("%s (%s): %s generation %llu\n", owner, attachment, a,
	       (unsigned long long)l.generation);
}

int main(int argc, char **argv)
{
	ipam_store *st;
	ipam_ctx *ctx;
	ipam_poolset *set;
	ipam_pool *pool;
	char line[512];
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: custom-store JOURNAL\n");
		return 2;
	}
	check(journal_store_new(&st, argv[1]), "journal store");
	check(ipam_ctx_new(&ctx, st, NULL), "context");
	check(ipam_poolset_new(&set, "net"), "pool set");
	check(ipam_pool_new_str(&pool, "v4", "10.33.0.0/28"), "pool");
	check(ipam_pool_set_quarantine(pool, 60, 0, 0), "quarantine");
	check(ipam_poolset_add(set, pool), "add pool");
	check(ipam_ctx_add_poolset(ctx, set), "add pool set");

	allocate(ctx, "default/web-0", "sandbox-a");
	allocate(ctx, "default/web-1", "sandbox-b");
	allocate(ctx, "default/web-0", "sandbox-a"); /* the same lease, nothing committed */
	allocate(ctx, "default/web-0", "sandbox-c"); /* rebind: same address */
	check(ipam_release_attachment(ctx, "net", "sandbox-b", 0), "release");
	check(ipam_verify(ctx, "net"), "verify");
	ipam_ctx_free(ctx);
	ipam_store_free(st);

	f = fopen(argv[1], "r");
	if (!f) {
		perror(argv[1]);
		return EXIT_FAILURE;
	}
	printf("journal:\n");
	while (fgets(line, sizeof(line), f))
		fputs(line, stdout);
	fclose(f);
	return 0;
}
