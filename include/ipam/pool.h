/* SPDX-License-Identifier: MIT */
#ifndef IPAM_POOL_H
#define IPAM_POOL_H

/*
 * Pool definitions and pool sets.
 *
 * A pool is one subnet of one family with the ranges that may be handed out,
 * excluded addresses, a gateway, routes, DNS settings and an optional VLAN.
 * A pool set (one CNI network, one DHCP scope) groups pools: a dual-stack
 * network is a set with an IPv4 and an IPv6 pool.
 *
 * Building a pool never fails half-way: each setter either records its value
 * or returns an error and leaves the pool as it was. ipam_pool_validate()
 * checks the whole definition and names the first problem through
 * ipam_last_error(). Pools are not thread-safe while being built; once added
 * to a set they are read-only and may be shared between threads.
 *
 * Decisions (documented in README.md, "Pool rules"):
 * - A subnet must be given as its network address ("10.0.0.0/24");
 *   "10.0.0.1/24" is refused, naming the network that was probably meant.
 * - Without explicit ranges an IPv4 pool hands out the subnet minus its
 *   network and broadcast addresses (a /31 or /32 hands out all of it, RFC
 *   3021), and an IPv6 pool the subnet minus its first address (the
 *   subnet-router anycast address), as host-local does; a /127 (RFC 6164)
 *   or /128 hands out all of it. An explicit range
 *   may include them.
 * - A gateway inside an allocatable range is accepted and never handed out,
 *   as host-local does, unless IPAM_POOL_STRICT_GATEWAY is set, in which case
 *   it is refused.
 */

#include <stdint.h>

#include <ipam/addr.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Longest pool or pool-set name, excluding the NUL. */
#define IPAM_NAME_MAX 63
/* Most ranges, exclusions, routes or DNS servers one pool may carry. */
#define IPAM_POOL_MAX_ITEMS 256
/* Default largest pool (allocatable addresses) for the bitmap index. */
#define IPAM_BITMAP_MAX_DEFAULT (UINT64_C(1) << 24)

typedef struct ipam_pool ipam_pool;
typedef struct ipam_poolset ipam_poolset;

typedef enum ipam_index_kind {
	IPAM_INDEX_AUTO = 0, /* bitmap up to the bitmap limit, sparse beyond */
	IPAM_INDEX_BITMAP,   /* always bitmap: larger pools are refused (-E2BIG) */
	IPAM_INDEX_SPARSE    /* always the sparse index */
} ipam_index_kind;

typedef enum ipam_policy {
	IPAM_POLICY_NEXT_FIT = 0, /* continue after the last allocation (default) */
	IPAM_POLICY_LOWEST,       /* the lowest free address */
	IPAM_POLICY_RANDOM        /* a uniformly random free address */
} ipam_policy;

/* Pool flags. */
#define IPAM_POOL_STRICT_GATEWAY 1u /* refuse a gateway inside a range */

/*
 * Names of pools and pool sets: 1..IPAM_NAME_MAX bytes of [A-Za-z0-9._-],
 * not starting with '.' or '-'. They become file names and etcd keys, so a
 * name outside these rules is refused rather than rewritten into another.
 */
int ipam_name_check(const char *name);

/* ---- pools ---------------------------------------------------------------- */

/* A new pool for subnet (a network address with its length). */
int ipam_pool_new(ipam_pool **out, const char *name, const ipam_prefix *subnet);

/* Convenience: parse the subnet text too. */
int ipam_pool_new_str(ipam_pool **out, const char *name, const char *subnet);

/* Free a pool that was not added to a set. Accepts NULL. Returns NULL. */
ipam_pool *ipam_pool_free(ipam_pool *p);

/* Add an allocatable range (inside the subnet, not overlapping another). */
int ipam_pool_add_range(ipam_pool *p, const ipam_range *r);
/* Add addresses that are never handed out (inside the subnet). */
int ipam_pool_add_exclude(ipam_pool *p, const ipam_range *r);
/* Set the gateway (inside the subnet). */
int ipam_pool_set_gateway(ipam_pool *p, const ipam_addr *gw);
/* Add a route; gw may be NULL (use the pool's gateway). */
int ipam_pool_add_route(ipam_pool *p, const ipam_prefix *dst, const ipam_addr *gw);
/* DNS: name servers, a domain and search domains (text is copied). */
int ipam_pool_add_dns_server(ipam_pool *p, const ipam_addr *server);
int ipam_pool_set_dns_domain(ipam_pool *p, const char *domain);
int ipam_pool_add_dns_search(ipam_pool *p, const char *domain);
/* VLAN id 1..4094, or 0 for none. */
int ipam_pool_set_vlan(ipam_pool *p, unsigned vlan);
/* Index choice and the bitmap limit (0 = IPAM_BITMAP_MAX_DEFAULT). */
int ipam_pool_set_index(ipam_pool *p, ipam_index_kind kind, uint64_t bitmap_max);
int ipam_pool_set_policy(ipam_pool *p, ipam_policy policy);
int ipam_pool_set_flags(ipam_pool *p, unsigned flags);

/* Quarantine flags. */
#define IPAM_QUARANTINE_HARD 1u /* never hand out a quarantined address to
				 * another owner, even when nothing else is free */

/*
 * Reuse quarantine: a released address goes to another owner only after
 * `seconds` have passed and/or `allocations` other allocations happened
 * (whichever the pool sets; 0 disables that condition, both 0 disables the
 * quarantine). Its previous owner may take it back at once. Soft by default:
 * when nothing else is free the oldest quarantined address is handed out, so
 * a pool at a 1:1 ratio never refuses a request because of the quarantine.
 */
int ipam_pool_set_quarantine(ipam_pool *p, uint32_t seconds, uint32_t allocations, unsigned flags);

/*
 * Check the whole definition: ranges inside the subnet and not overlapping,
 * exclusions inside the subnet, gateway inside the subnet (and, with
 * IPAM_POOL_STRICT_GATEWAY, outside every range), routes of the pool's
 * family or of the other one with no gateway mismatch, at least one
 * allocatable address, and a pool small enough for the chosen index.
 * Returns 0 or a negative code with ipam_last_error() naming the field.
 */
int ipam_pool_validate(const ipam_pool *p);

/* ---- reading a pool -------------------------------------------------------- */

const char *ipam_pool_name(const ipam_pool *p);
int ipam_pool_family(const ipam_pool *p);
const ipam_prefix *ipam_pool_subnet(const ipam_pool *p);
/* The gateway, or NULL if none was set. */
const ipam_addr *ipam_pool_gateway(const ipam_pool *p);
unsigned ipam_pool_vlan(const ipam_pool *p);
ipam_policy ipam_pool_policy(const ipam_pool *p);
void ipam_pool_quarantine(const ipam_pool *p, uint32_t *seconds, uint32_t *allocations,
			  unsigned *flags);
/* The index the pool will use (AUTO already resolved) or a negative code. */
int ipam_pool_index_kind(const ipam_pool *p);

/* The explicit ranges, or the default range when none was added. */
unsigned ipam_pool_range_count(const ipam_pool *p);
const ipam_range *ipam_pool_range(const ipam_pool *p, unsigned i);
unsigned ipam_pool_exclude_count(const ipam_pool *p);
const ipam_range *ipam_pool_exclude(const ipam_pool *p, unsigned i);
unsigned ipam_pool_route_count(const ipam_pool *p);
/* Route i: its destination and gateway (gw is NULL-family 0 if none). */
int ipam_pool_route(const ipam_pool *p, unsigned i, ipam_prefix *dst, ipam_addr *gw);
unsigned ipam_pool_dns_server_count(const ipam_pool *p);
const ipam_addr *ipam_pool_dns_server(const ipam_pool *p, unsigned i);
const char *ipam_pool_dns_domain(const ipam_pool *p);
unsigned ipam_pool_dns_search_count(const ipam_pool *p);
const char *ipam_pool_dns_search(const ipam_pool *p, unsigned i);

/* 1 if a would ever be handed out (in a range, not excluded, not the
 * gateway), else 0. */
int ipam_pool_is_allocatable(const ipam_pool *p, const ipam_addr *a);

/* Number of addresses that may be handed out: the ranges minus the
 * exclusions and the gateway. -EOVERFLOW only for the full IPv6 space. */
int ipam_pool_capacity(const ipam_pool *p, ipam_u128 *out);

/* ---- pool sets ------------------------------------------------------------- */

int ipam_poolset_new(ipam_poolset **out, const char *name);
/* Frees the set and every pool in it. Accepts NULL. Returns NULL. */
ipam_poolset *ipam_poolset_free(ipam_poolset *s);

/*
 * Validate p and add it. On success the set owns p; on failure the caller
 * still does. Refused: an invalid pool, a duplicate pool name, or ranges that
 * overlap a pool already in the set (one address, two pools).
 */
int ipam_poolset_add(ipam_poolset *s, ipam_pool *p);

const char *ipam_poolset_name(const ipam_poolset *s);
unsigned ipam_poolset_count(const ipam_poolset *s);
const ipam_pool *ipam_poolset_pool(const ipam_poolset *s, unsigned i);
/* The pool of that name, or NULL. */
const ipam_pool *ipam_poolset_find(const ipam_poolset *s, const char *name);
/* The pool whose allocatable ranges hold a, or NULL. */
const ipam_pool *ipam_poolset_find_addr(const ipam_poolset *s, const ipam_addr *a);

#ifdef __cplusplus
}
#endif

#endif /* IPAM_POOL_H */
