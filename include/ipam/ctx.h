/* SPDX-License-Identifier: MIT */
#ifndef IPAM_CTX_H
#define IPAM_CTX_H

/*
 * The allocation API: a context over a store, pool sets defined in it, and
 * allocate / release / renew / reserve / look up / iterate / statistics.
 *
 * Every write is an optimistic commit: read the current view, decide without
 * holding any lock, commit with per-address and per-owner preconditions; on
 * a conflict refresh, back off (jittered, exponential) and decide again, up
 * to a bounded number of attempts, then fail with -EAGAIN ("try again
 * later"). Two writers that take different addresses of one pool both
 * succeed. The coarse mode (options.coarse) uses whole-pool version
 * preconditions instead, as Spiderpool and Whereabouts do, for comparison.
 *
 * A context may be used from many threads at once. Lookups copy records out,
 * so nothing returned points into the library.
 *
 * Contexts over one store share its leases: what one commits, another sees
 * and cannot take, and a context's leases stay in the store when it is
 * freed. Several contexts over one store may be used, given pool sets and
 * freed from different threads at once. Each context defines a shared pool
 * set itself; the memory store refuses (-EEXIST) a set whose pools hand out
 * addresses otherwise than those defined under the same name before
 * (routes, DNS and VLAN may differ).
 */

#include <stddef.h>
#include <stdint.h>

#include <ipam/lease.h>
#include <ipam/pool.h>
#include <ipam/store.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ipam_ctx ipam_ctx;

typedef struct ipam_ctx_options {
	/* Set to sizeof(ipam_ctx_options); lets the struct grow compatibly. */
	size_t size;
	/* Whole-pool preconditions instead of per-address ones. */
	int coarse;
	/* Attempts before -EAGAIN (default 16) and the backoff between them:
	 * a random delay in [0, min(max, base * 2^attempt)) microseconds
	 * (defaults 50 and 20000). */
	unsigned max_attempts;
	unsigned backoff_base_us;
	unsigned backoff_max_us;
	/* Clock in unix milliseconds (default: CLOCK_REALTIME). Tests inject
	 * one to make quarantine and expiry exact. Called from any thread. */
	int64_t (*clock)(void *ud);
	void *clock_ud;
	/* Optional log sink; the library never prints on its own. Called from
	 * the thread that made the call, never with a lock held. */
	void (*log)(void *ud, int level, const char *msg);
	void *log_ud;
	/* Node name recorded in leases when a request gives none. */
	const char *node;
	/* Start each pool's next-fit cursor at a random position when a pool
	 * set is added, instead of at the first address: many clients of one
	 * shared store (processes or nodes on etcd) then decide in different
	 * parts of a pool and rarely meet. Off by default, so a fresh
	 * process allocates in order, as host-local does. On the memory
	 * store, whose contexts share one cursor per pool, only while the
	 * set has no commit yet. */
	int spread;
} ipam_ctx_options;

/* Fill *o with the defaults (size included). */
void ipam_ctx_options_init(ipam_ctx_options *o);

/* A context over store (which must outlive it). opts may be NULL. */
int ipam_ctx_new(ipam_ctx **out, ipam_store *store, const ipam_ctx_options *opts);

/* Free the context (the store and its data stay). Accepts NULL. */
ipam_ctx *ipam_ctx_free(ipam_ctx *ctx);

/*
 * Add a pool set (validated) and attach it to the store, which loads its
 * committed leases. On success the context owns set. -EEXIST if a set of
 * that name is already defined in this context.
 *
 * A set may be defined anew (a daemon reloading its configuration: ranges
 * widened or narrowed, pools added, removed or reordered, a quarantine
 * changed): the store's leases load into the pools of the same name, with
 * their generations and times. Refused, with nothing changed and a message
 * naming the lease, if a held lease (bound, suspect or reserved) would be
 * left in a pool the set no longer has or at an address its pool no longer
 * hands out: -EINVAL. (The etcd store's blocks layout numbers a pool's
 * blocks from its subnet's first address: a pool holding leases whose
 * subnet would start elsewhere, widened or narrowed, gets -EBADMSG, its
 * blocks no longer matching their keys; ranges may change freely within
 * the subnet.) Quarantined addresses that the new
 * definition does not keep (no quarantine, or no longer handed out) are
 * free. Leases released since do not count, even if a file store's log
 * still records them. On the memory store, whose contexts share one view
 * per set, a set is defined anew only while no other context holds it:
 * -EBUSY if one holds it defined otherwise (the same pools in the same
 * order, with the same ranges, exclusions, gateway, index, policy and
 * quarantine; routes, DNS and VLAN may differ); its next-fit cursors carry
 * over. (The store's view of the set is then a new one: see the detach
 * method in <ipam/store.h>.)
 */
int ipam_ctx_add_poolset(ipam_ctx *ctx, ipam_poolset *set);

/* The pool set of that name, or NULL. */
const ipam_poolset *ipam_ctx_poolset(const ipam_ctx *ctx, const char *name);

/* ---- allocate --------------------------------------------------------------- */

typedef struct ipam_request {
	const char *poolset;
	const char *owner;      /* required, not empty */
	const char *ifname;     /* required ("eth0"); "" allowed: one lease per owner and pool */
	const char *attachment; /* required, not empty: container/sandbox id (+ ifname) */
	const char *node;       /* NULL: the context's node */
	/* Pools to allocate from, by name; NULL/0: every pool of the set (one
	 * address each: dual-stack is a set with a v4 and a v6 pool). At most
	 * 16 pools per request (-E2BIG). */
	const char *const *pools;
	unsigned npools;
	/* Exact addresses wanted, at most one per pool: each goes to the
	 * requested pool that hands it out (pools of a set may share a subnet
	 * with their own ranges); refused if taken, quarantined for another
	 * owner, excluded or outside every pool. */
	const ipam_addr *exact;
	unsigned nexact;
	/* Preferred addresses (an owner's previous ones): used when free.
	 * Exact and preferred addresses must be well formed
	 * (ipam_addr_is_valid()), or the request is -EINVAL. */
	const ipam_addr *hints;
	unsigned nhints;
	/* Lease lifetime in seconds; 0: no expiry. */
	uint32_t ttl;
	/* Caller-defined attributes stored with the leases (pod UID, MAC);
	 * keys not empty, each at most once. */
	const ipam_attr *attrs;
	unsigned nattrs;
} ipam_request;

/*
 * Allocate one address from each requested pool for (owner, ifname),
 * atomically: every address or none.
 *
 * Idempotent: if (owner, ifname) already holds a bound lease in a pool, that
 * lease is returned. If it holds one under another attachment (the pod's
 * sandbox was recreated, e.g. after a node power-off), the lease is rebound
 * to the new attachment, keeping its address. Asked again under the same
 * attachment, the lease is returned unchanged (no commit), except that a
 * ttl reaching past its expiry renews it to now + ttl (a DHCP REQUEST), and
 * a suspect lease (see <ipam/gc.h>) is bound again: its owner is alive. If
 * the owner's address is quarantined (recently released), it gets it back.
 *
 * out receives one lease per requested pool, in pool order; *nout is its
 * capacity on entry and the count on return. Returns 0, or -ENOSPC (a pool
 * is exhausted), -EEXIST/-EBUSY/-EACCES/-ERANGE (an exact address cannot be
 * had), -ERANGE also when *nout is too small (*nout is then the room
 * needed), -EAGAIN (conflicts persisted: try again later), -ENAMETOOLONG,
 * -EINVAL, -ENOENT (no such pool set or pool), -ENOMEM, or a store error.
 */
int ipam_allocate(ipam_ctx *ctx, const ipam_request *req, ipam_lease *out, unsigned *nout);

/* ---- release -------------------------------------------------------------------- */

/*
 * Compare-and-release: release the leases of set whose attachment is
 * `attachment` (and, if generation != 0, whose generation is that). A late
 * release from an old sandbox after a rebind names the old attachment and
 * so releases nothing. Returns the number of leases released (0 is not an
 * error) or a negative code.
 */
int ipam_release_attachment(ipam_ctx *ctx, const char *set, const char *attachment,
			    uint64_t generation);

/* Release the bound leases of owner (of one ifname, or all if NULL). */
int ipam_release_owner(ipam_ctx *ctx, const char *set, const char *owner, const char *ifname);

/* Release the lease at addr, if its generation is `generation` (0: any).
 * Reserved addresses are left alone (use ipam_unreserve). Returns 1 or 0. */
int ipam_release_addr(ipam_ctx *ctx, const char *set, const ipam_addr *addr, uint64_t generation);

/* ---- renew, reserve ------------------------------------------------------------- */

/* Extend the bound leases of (owner, ifname) to now + ttl (0: no expiry).
 * Returns the number renewed, or -ENOENT if there is none. */
int ipam_renew(ipam_ctx *ctx, const char *set, const char *owner, const char *ifname,
	       uint32_t ttl);

/* Pin addr for an operator (never handed out) with a note as its owner.
 * -EEXIST if it is leased, -EACCES if it is not allocatable. */
int ipam_reserve(ipam_ctx *ctx, const char *set, const ipam_addr *addr, const char *note);
/* Unpin it; -ENOENT if it is not reserved, -EACCES if it is not
 * allocatable. */
int ipam_unreserve(ipam_ctx *ctx, const char *set, const ipam_addr *addr);

/* ---- look up, iterate, statistics ----------------------------------------------- */

/* The record at addr (any state). -ENOENT if there is none. */
int ipam_lookup_addr(ipam_ctx *ctx, const char *set, const ipam_addr *addr, ipam_lease *out);

/* Bound leases of owner (one ifname, or all if NULL) / of an attachment.
 * Fill up to *n records; *n becomes how many exist (may exceed the room). */
int ipam_lookup_owner(ipam_ctx *ctx, const char *set, const char *owner, const char *ifname,
		      ipam_lease *out, unsigned *n);
int ipam_lookup_attachment(ipam_ctx *ctx, const char *set, const char *attachment,
			   ipam_lease *out, unsigned *n);

typedef struct ipam_lease_filter {
	const char *pool;   /* NULL: every pool */
	const char *owner;  /* NULL: any */
	const char *node;   /* NULL: any */
	unsigned states;    /* bit (1 << state); 0: every state */
	int64_t older_than; /* created before this unix time; 0: any */
} ipam_lease_filter;

/* Call cb for each record matching filter (NULL: all), in no particular
 * order, on a copy taken under the view's read lock in batches: cb may call
 * the library, including writes. A record present for the whole walk is
 * seen exactly once, whatever commits run meanwhile; one added or removed
 * during the walk may or may not be seen. A non-zero return of cb stops
 * the walk and is returned. */
int ipam_foreach_lease(ipam_ctx *ctx, const char *set, const ipam_lease_filter *filter,
		       int (*cb)(void *ud, const ipam_lease *lease), void *ud);

typedef struct ipam_pool_stats {
	ipam_u128 total;       /* allocatable addresses */
	ipam_u128 used;        /* bound, suspect and reserved */
	ipam_u128 quarantined; /* released, waiting out the reuse delay */
	ipam_u128 free;        /* total - used - quarantined */
	uint64_t reserved;
	uint64_t version;      /* bumped by every commit that touches the pool */
} ipam_pool_stats;

/* Counts of one pool, O(1). */
int ipam_pool_stats_get(ipam_ctx *ctx, const char *set, const char *pool, ipam_pool_stats *out);

typedef struct ipam_ctx_stats {
	uint64_t allocations; /* leases created */
	uint64_t rebinds;     /* leases moved to a new attachment */
	uint64_t releases;    /* leases released */
	uint64_t commits;     /* successful commits */
	uint64_t conflicts;   /* commits refused on a precondition */
	uint64_t retries;     /* decisions made again after a conflict */
	uint64_t exhausted;   /* allocations refused with -ENOSPC */
	uint64_t gave_up;     /* calls that returned -EAGAIN */
} ipam_ctx_stats;

/*
 * Verify the consistency of a set's state: every record's address is in the
 * right state in the free-space index, the index's counts equal a recount
 * of the records, and no (pool, owner, ifname) holds two bound leases.
 * Returns 0, or -EBADMSG with the first finding in ipam_last_error().
 */
int ipam_verify(ipam_ctx *ctx, const char *set);

/* Counters of this context since it was made. */
void ipam_ctx_stats_get(const ipam_ctx *ctx, ipam_ctx_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* IPAM_CTX_H */
