/* SPDX-License-Identifier: MIT */
#ifndef IPAM_INDEX_H
#define IPAM_INDEX_H

/*
 * The free-space index of one pool: which of its allocatable addresses are
 * free, used or quarantined, and which free one to hand out next.
 *
 * Addresses at this interface are ipam_addr values of the pool's family.
 * Inside, every allocatable address has an *ordinal*: its position among the
 * pool's allocatable addresses (ipam__pool_allocatable(): ranges minus
 * exclusions minus gateway, sorted), 0 .. total-1. Excluded addresses, the
 * gateway and IPv4 network/broadcast addresses outside an explicit range
 * have no ordinal, so they can never be handed out.
 *
 * Two implementations, chosen from the pool when the index is made:
 * - bitmap (bitmap.c): a multi-level bitmap, for pools of at most
 *   pool->bitmap_max allocatable addresses (2^24 by default);
 * - sparse (sparse.c): a hash set of taken ordinals, memory proportional to
 *   the number of taken addresses, for anything up to 2^128 - 1 addresses.
 *
 * Each address is in exactly one state: free, used, or quarantined (released
 * recently; see quarantine.c). Counts of each are O(1) to read.
 *
 * Owners are 64-bit tags chosen by the caller (e.g. a hash of the lease
 * owner). Owner 0 means "anonymous": it never matches a quarantined entry.
 *
 * Time is passed in by the caller as `now_ms`, milliseconds on any clock that
 * does not go backwards (the index never reads a clock); tests are exact.
 *
 * Every function returns 0 (or a documented non-negative value) or a negative
 * errno code, never aborts on bad input and never prints. Failures that a
 * caller may show to a person also record a message for ipam_last_error()
 * naming the address and the reason. An -ENOMEM leaves the index unchanged.
 * An index is not thread-safe: the caller serialises access.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ipam/addr.h>
#include <ipam/pool.h>

#include "u128.h"

typedef struct ipam__index ipam__index;

/* States reported by ipam__index_state(). */
#define IPAM__ADDR_FREE 0
#define IPAM__ADDR_USED 1
#define IPAM__ADDR_QUARANTINED 2

/* free == total - used - quarantined, always. */
struct ipam__index_counts {
	ipam__u128 total;
	ipam__u128 used;
	ipam__u128 quarantined;
	ipam__u128 free;
};

/*
 * Build the index of pool p (which need not stay alive afterwards): all
 * addresses free, policy and quarantine taken from the pool. The kind is
 * pool->index_kind; AUTO means bitmap when the allocatable count is at most
 * pool->bitmap_max (0: IPAM_BITMAP_MAX_DEFAULT), sparse otherwise.
 * -EINVAL: no allocatable address or a malformed pool; -E2BIG: BITMAP forced
 * on a pool larger than bitmap_max, or 2^128 addresses (the whole IPv6 space
 * as one range); -ENOMEM.
 */
int ipam__index_new(ipam__index **out, const ipam_pool *p);

/* Free the index. Accepts NULL. Returns NULL. */
ipam__index *ipam__index_free(ipam__index *idx);

/* Reseed the generator behind IPAM_POLICY_RANDOM (by default seeded from the
 * clock and the index's address). Same seed, same calls: same addresses. */
void ipam__index_seed(ipam__index *idx, uint64_t seed);

/* Change the policy of this index (the pool's is the default). -EINVAL if
 * unknown. */
int ipam__index_set_policy(ipam__index *idx, ipam_policy policy);

/*
 * Allocate one address for `owner` into *out.
 * 1. Quarantined entries whose delay has passed at now_ms are freed.
 * 2. If hint is not NULL (the owner's previous address: stickiness) and is
 *    free, or quarantined with this same owner, it is taken.
 * 3. Otherwise the pool's policy picks among the free addresses:
 *    next-fit: the first free at or after the cursor (the ordinal after the
 *    previous allocation of any kind), wrapping; lowest: the lowest free;
 *    random: uniformly among the free ones.
 *    A quarantined address whose delay is over counts as free here.
 * 4. If none is free: with a soft quarantine the oldest quarantined address
 *    is taken; otherwise -ENOSPC, in time independent of the pool size.
 * A hint that is taken, quarantined for another owner or not allocatable is
 * silently ignored. The cursor moves after every allocation of any kind
 * (policy, hint, exact, soft-quarantine fallback). Returns 0 or -ENOSPC, -EINVAL (NULL arguments,
 * hint of the wrong family), -ENOMEM (sparse index growth).
 */
int ipam__index_alloc(ipam__index *idx, uint64_t owner, const ipam_addr *hint, int64_t now_ms,
		      ipam_addr *out);

/*
 * The decision of ipam__index_alloc() without making it: for optimistic
 * concurrency, where deciders share a read-only index and a commit applies
 * the result later (ipam__index_acquire()). Changes nothing in the index;
 * the next-fit cursor and the random generator's state are the caller's
 * (*cursor becomes the ordinal after the answer; *rng advances). Quarantined
 * entries whose delay is over count as free without being expired (call
 * ipam__index_expire() on the writer side to release them for the searches).
 * *out may be a quarantined address: the hint's own, an expired one, or,
 * with a soft quarantine and nothing free, the oldest. -ENOSPC, -EINVAL.
 */
int ipam__index_peek(const ipam__index *idx, uint64_t owner, const ipam_addr *hint,
		     int64_t now_ms, ipam__u128 *cursor, uint64_t *rng, ipam_addr *out);

/*
 * Apply a decision: make a (free or quarantined, whoever its previous owner)
 * used, after expiring the quarantine at now_ms. count_alloc: count it as an
 * allocation for the quarantine's allocation condition and move the index's
 * own next-fit cursor after it (false for operator reservations and state
 * loading). -EEXIST if a is already used; -ERANGE/-EACCES as for
 * ipam__index_alloc_exact(); -ENOMEM unless room was reserved.
 */
int ipam__index_acquire(ipam__index *idx, const ipam_addr *a, int64_t now_ms, bool count_alloc);

/*
 * Make room so that the next n calls that take or release an address
 * (alloc, alloc_exact, acquire, take, release) cannot fail with -ENOMEM,
 * whatever is freed in between: a commit reserves, then applies changes
 * that must not fail half-way. 0 or -ENOMEM (nothing changed).
 */
int ipam__index_reserve(ipam__index *idx, size_t n);

/*
 * Allocate exactly address a for owner. Expires the quarantine first as
 * ipam__index_alloc() does. Errors (each with a message naming the address):
 * -ERANGE  a is of the wrong family or outside the pool's subnet;
 * -EACCES  a is inside the subnet but never handed out (excluded, the
 *          gateway, the network or broadcast address, outside the ranges);
 * -EEXIST  a is in use;
 * -EBUSY   a is quarantined for another owner (its previous owner may take
 *          it back at once);
 * -EINVAL  NULL arguments; -ENOMEM.
 */
int ipam__index_alloc_exact(ipam__index *idx, const ipam_addr *a, uint64_t owner, int64_t now_ms);

/*
 * Release a used address. With a quarantine configured it becomes
 * quarantined for `owner`, released at now_ms; otherwise free at once.
 * Release times should not decrease from one call to the next (the
 * quarantine is a FIFO; an out-of-order time only delays later entries).
 * -ENOENT if a is free or already quarantined; -ERANGE/-EACCES as for
 * ipam__index_alloc_exact(); -ENOMEM (quarantine growth).
 */
int ipam__index_release(ipam__index *idx, const ipam_addr *a, uint64_t owner, int64_t now_ms);

/*
 * Mark a used directly, bypassing policy, quarantine and the allocation
 * counter: loading state from a store, operator reservations. A quarantined
 * address leaves the quarantine. -EEXIST if already used; -ERANGE/-EACCES
 * as above; -ENOMEM.
 */
int ipam__index_take(ipam__index *idx, const ipam_addr *a);

/*
 * Mark a free address used as a loaded lease holds it (counted as an
 * allocation when count_alloc), in one lookup: -EEXIST if not free
 * (used or quarantined: nothing changes), -ERANGE/-EACCES as above,
 * -ENOMEM. For loading leases a partial view leaves out.
 */
int ipam__index_load_held(ipam__index *idx, const ipam_addr *a, bool count_alloc);

/*
 * Mark a free directly, bypassing the quarantine (the counterpart of
 * ipam__index_take()). A quarantined address leaves the quarantine too.
 * -ENOENT if already free; -ERANGE/-EACCES as above.
 */
int ipam__index_untake(ipam__index *idx, const ipam_addr *a);

/* IPAM__ADDR_FREE, _USED or _QUARANTINED, or -ERANGE/-EACCES/-EINVAL. */
int ipam__index_state(const ipam__index *idx, const ipam_addr *a);
/* The same for an exact request of owner at now_ms: IPAM__ADDR_FREE if
 * owner may take a (free, quarantined for owner, or its quarantine over by
 * time or by allocations), else _USED or _QUARANTINED; -ERANGE/-EACCES
 * with a message naming the address recorded; -EINVAL. */
int ipam__index_exact_state(const ipam__index *idx, const ipam_addr *a, uint64_t owner,
			    int64_t now_ms);

/* 1 if a is used or quarantined, 0 if free, or a negative code. */
int ipam__index_is_taken(const ipam__index *idx, const ipam_addr *a);

/* The four counts, O(1). */
void ipam__index_counts(const ipam__index *idx, struct ipam__index_counts *out);

/* Free every quarantined entry that has expired at now_ms (allocation calls
 * do this themselves). Returns the number freed (capped at INT_MAX). */
int ipam__index_expire(ipam__index *idx, int64_t now_ms);

/*
 * Call cb for every used or quarantined address with its state. Bitmap:
 * ascending order; sparse: unspecified order. A non-zero return of cb stops
 * the walk and is returned. The index must not be modified meanwhile.
 */
typedef int (*ipam__index_visit_fn)(void *ud, const ipam_addr *a, int state);
int ipam__index_foreach(const ipam__index *idx, ipam__index_visit_fn cb, void *ud);

/* IPAM_INDEX_BITMAP or IPAM_INDEX_SPARSE: the kind actually built. */
ipam_index_kind ipam__index_kind(const ipam__index *idx);

/* Bytes of memory held by the index (its own accounting of what it asked
 * the allocator for). */
size_t ipam__index_bytes(const ipam__index *idx);

/* Ordinal <-> address. -ERANGE/-EACCES as above; -ERANGE past the end. */
int ipam__index_ordinal(const ipam__index *idx, const ipam_addr *a, ipam__u128 *ord);
int ipam__index_address(const ipam__index *idx, ipam__u128 ord, ipam_addr *out);

#endif /* IPAM_INDEX_H */
