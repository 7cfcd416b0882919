/* SPDX-License-Identifier: MIT */
/*
 * The smallest complete use of libipam: an in-memory store, a dual-stack
 * pool set, two owners allocating (one IPv4 and one IPv6 address each, in
 * one atomic commit), one release, and the pool counts. Every call's error
 * is checked: the library never prints, so the program says what failed.
 */
#include <stdio.h>
#include <stdlib.h>

#include <ipam/ipam.h>

#define CHECK(call)                                                                     \
	do {                                                                            \
		int r_ = (call);                                                        \
		if (r_ < 0) {                                                           \
			fprintf(stderr, "%s: %s (%s)\n", #call, ipam_strerror(r_),       \
				ipam_last_error_message());                             \
			exit(EXIT_FAILURE);                                             \
		}                                                                       \
	} while (0)

int main(void)
{
	static const char *owners[] = { "default/web-0", "default/web-1" };
	ipam_store *st;
	ipam_ctx *ctx;
	ipam_poolset *set;
	ipam_pool *v4, *v6;
	ipam_pool_stats ps;
	char a[IPAM_ADDR_STRLEN], b[IPAM_ADDR_STRLEN];

	CHECK(ipam_store_memory_new(&st));
	CHECK(ipam_ctx_new(&ctx, st, NULL));
	CHECK(ipam_poolset_new(&set, "net"));
	CHECK(ipam_pool_new_str(&v4, "v4", "10.22.0.0/24"));
	CHECK(ipam_pool_new_str(&v6, "v6", "fd00:22::/64"));
	CHECK(ipam_poolset_add(set, v4));
	CHECK(ipam_poolset_add(set, v6));
	CHECK(ipam_ctx_add_poolset(ctx, set)); /* the context owns the set now */

	for (int i = 0; i < 2; i++) {
		ipam_request req = { .poolset = "net", .owner = owners[i], .ifname = "eth0",
				     .attachment = owners[i] /* a container id in real use */ };
		ipam_lease out[2];
		unsigned n = 2;
		CHECK(ipam_allocate(ctx, &req, out, &n)); /* both families, or neither */
		ipam_addr_format(&out[0].addr, a, sizeof(a));
		ipam_addr_format(&out[1].addr, b, sizeof(b));
		printf("allocated %s %s to %s\n", a, b, owners[i]);
	}
	CHECK(ipam_release_owner(ctx, "net", owners[0], NULL));
	printf("released %s\n", owners[0]);
	CHECK(ipam_pool_stats_get(ctx, "net", "v4", &ps));
	printf("v4: used %llu, free %llu\n", (unsigned long long)ps.used.lo,
	       (unsigned long long)ps.free.lo);
	ipam_ctx_free(ctx);
	ipam_store_free(st);
	return 0;
}
