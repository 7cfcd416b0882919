/* SPDX-License-Identifier: MIT */
/*
 * The set-up script's main job until the churn benchmark exists: define a
 * dual-stack pool set, allocate addresses for a few owners from each pool's
 * free-space index, release one and show the reuse quarantine at work.
 *
 * It uses the internal index interface (lib/index/index.h) because the
 * public allocate/release API arrives with the lease layer; the pool
 * definitions go through the public API.
 */
#include <stdio.h>
#include <stdlib.h>

#include <ipam/ipam.h>

#include "index/index.h"

static int die(const char *what)
{
	fprintf(stderr, "demo: %s: %s\n", what, ipam_last_error_message());
	return EXIT_FAILURE;
}

static void show_counts(const ipam_pool *p, const ipam__index *idx)
{
	struct ipam__index_counts c;
	ipam__index_counts(idx, &c);
	printf("  %-3s total %llu, used %llu, quarantined %llu, free %llu\n", ipam_pool_name(p),
	       (unsigned long long)c.total, (unsigned long long)c.used,
	       (unsigned long long)c.quarantined, (unsigned long long)c.free);
}

int main(void)
{
	static const char *owners[] = { "default/web-0", "default/web-1", "default/db-0" };
	ipam_poolset *set = NULL;
	ipam_pool *v4 = NULL, *v6 = NULL;
	ipam__index *idx[2] = { NULL, NULL };
	ipam_addr gw, got[2][3];
	ipam_range r;
	char buf[IPAM_ADDR_STRLEN], buf2[IPAM_ADDR_STRLEN];
	int64_t now = 0;

	printf("libipam %s, allocator %s\n", ipam_version(), ipam_default_allocator_name());
	if (ipam_poolset_new(&set, "demo-net") < 0)
		return die("pool set");
	if (ipam_pool_new_str(&v4, "v4", "10.22.0.0/24") < 0 ||
	    ipam_range_parse("10.22.0.10-10.22.0.200", &r) < 0 || ipam_pool_add_range(v4, &r) < 0 ||
	    ipam_addr_parse("10.22.0.1", &gw) < 0 || ipam_pool_set_gateway(v4, &gw) < 0 ||
	    ipam_pool_set_quarantine(v4, 30, 0, 0) < 0 || ipam_poolset_add(set, v4) < 0)
		return die("IPv4 pool");
	if (ipam_pool_new_str(&v6, "v6", "fd00:22::/64") < 0 ||
	    ipam_addr_parse("fd00:22::1", &gw) < 0 || ipam_pool_set_gateway(v6, &gw) < 0 ||
	    ipam_poolset_add(set, v6) < 0)
		return die("IPv6 pool");

	for (unsigned i = 0; i < 2; i++) {
		const ipam_pool *p = ipam_poolset_pool(set, i);
		if (ipam__index_new(&idx[i], p) < 0)
			return die("index");
		printf("pool %s: %s index\n", ipam_pool_name(p),
		       ipam__index_kind(idx[i]) == IPAM_INDEX_BITMAP ? "bitmap" : "sparse");
	}
	for (unsigned k = 0; k < 3; k++) {
		for (unsigned i = 0; i < 2; i++)
			if (ipam__index_alloc(idx[i], k + 1, NULL, now, &got[i][k]) < 0)
				return die("allocate");
		ipam_addr_format(&got[0][k], buf, sizeof(buf));
		ipam_addr_format(&got[1][k], buf2, sizeof(buf2));
		printf("allocate %-14s -> %-12s %s\n", owners[k], buf, buf2);
	}
	ipam_addr_format(&got[0][1], buf, sizeof(buf));
	if (ipam__index_release(idx[0], &got[0][1], 2, now) < 0)
		return die("release");
	printf("release  %-14s -> %s is quarantined for 30 s\n", owners[1], buf);
	ipam_addr again;
	if (ipam__index_alloc(idx[0], 4, NULL, now, &again) < 0)
		return die("allocate");
	ipam_addr_format(&again, buf2, sizeof(buf2));
	printf("allocate %-14s -> %s (not the quarantined %s)\n", "default/api-0", buf2, buf);
	if (ipam__index_alloc(idx[0], 2, &got[0][1], now, &again) < 0)
		return die("allocate");
	ipam_addr_format(&again, buf2, sizeof(buf2));
	printf("allocate %-14s -> %s (its own address back, sticky)\n", owners[1], buf2);
	for (unsigned i = 0; i < 2; i++)
		show_counts(ipam_poolset_pool(set, i), idx[i]);
	for (unsigned i = 0; i < 2; i++)
		ipam__index_free(idx[i]);
	ipam_poolset_free(set);
	return EXIT_SUCCESS;
}
