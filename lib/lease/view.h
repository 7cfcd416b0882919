/* SPDX-License-Identifier: MIT */
#ifndef IPAM_VIEW_H
#define IPAM_VIEW_H

/*
 * The view: the in-memory state of one pool set (see <ipam/store.h>).
 *
 * Built for a read-mostly, write-often workload where decisions are made
 * without a lock: lookups and allocation decisions take the read lock for
 * nanoseconds to microseconds; commits take the write lock only to check
 * preconditions and apply. Records are linked in three intrusive hash
 * chains (address, owner, attachment) keyed by seeded XXH3, so an owner id
 * chosen by an attacker cannot aim at one bucket.
 */

#include <pthread.h>

#include <ipam/store.h>

#include "index/index.h"
#include "lease/record.h"

/* Hash chains. A record's bucket is the top log2(nb) bits of its hash, so
 * a bucket holds one contiguous range of hash values at any size: a walk
 * that remembers the hash value it stopped at resumes at the same place
 * after a resize (ipam_foreach_lease()). */
struct ipam__chains {
	ipam__rid *b;
	size_t nb;    /* power of two, >= 2 */
	unsigned shift; /* 64 - log2(nb) */
	size_t count;
};

static inline size_t ipam__bucket(const struct ipam__chains *t, uint64_t h)
{
	return (size_t)(h >> t->shift);
}

struct ipam__pool_state {
	const ipam_pool *pool;
	ipam__index *idx;
	uint64_t version;  /* revision of the last commit touching the pool */
	uint64_t reserved; /* records in state RESERVED */
	int quarantine;    /* the pool has a reuse quarantine */
	/* Next-fit cursor shared by concurrent deciders: each decision moves
	 * it past its pick, so two writers rarely pick the same address. */
	pthread_mutex_t cursor_lock;
	ipam__u128 cursor;
	uint64_t rng; /* random policy's generator state, under cursor_lock */
};

/*
 * The record heap: records live in chunks of IPAM__HEAP_CHUNK bytes and are
 * named by 32-bit ids (chunk, 8-byte unit). Free space is kept as free
 * blocks, merged with free neighbours as soon as a record is given back
 * (so space freed by records of one size serves records of any other) and
 * split to fit: free blocks of up to 255 units on a list per size, larger
 * ones on one list. A chunk whose records are all gone is given back to
 * the allocator, except one kept for the next records. Each chunk ends with
 * a bitmap marking the last unit of every free block, so a block given back
 * finds a free block before it. Changed only under the view's write lock;
 * readers turn ids into records under the read lock.
 */
#define IPAM__HEAP_UNIT_BITS 15 /* 32768 units of 8 bytes: 256 KiB chunks */
#define IPAM__HEAP_CHUNK ((size_t)8 << IPAM__HEAP_UNIT_BITS)
#define IPAM__HEAP_MAX_CHUNKS ((size_t)1 << (32 - IPAM__HEAP_UNIT_BITS))
/* Units for blocks in a chunk: the rest holds the bitmap (a bit a unit). */
#define IPAM__HEAP_UNITS (((size_t)1 << IPAM__HEAP_UNIT_BITS) - ((size_t)1 << IPAM__HEAP_UNIT_BITS) / 64)
struct ipam__heap {
	char **chunks;   /* NULL: a slot whose chunk was given back */
	uint32_t nchunks, cap; /* slots used, allocated */
	uint32_t holes;  /* NULL slots below nchunks */
	uint32_t spare;  /* chunks with no record (at most one is kept) */
	ipam__rid free_head[256]; /* free blocks by size (units), 7..255 */
	ipam__rid large_head;     /* free blocks of 256 units and more */
	uint64_t nonempty[4];     /* bit s: free_head[s] is not 0 */
	size_t live;     /* records allocated */
	size_t free_units; /* in free blocks */
};

/*
 * Interned strings (ifnames and node names: few distinct values, each on
 * many records), reference-counted by the records that use them. Id 0 is
 * the empty string. Changed only under the write lock.
 */
struct ipam__istr {
	uint64_t hash;
	uint32_t next; /* bucket chain; free list when refs is 0 */
	uint32_t refs;
	uint8_t len;
	char s[IPAM_NODE_MAX + 1];
};
struct ipam__intern {
	struct ipam__istr *e;
	uint32_t n, cap;    /* entries used (with id 0) and allocated */
	uint32_t free_head; /* an entry to reuse, 0 if none */
	uint32_t *b;        /* buckets */
	uint32_t nb, count;
	uint32_t last[2];   /* the last ifname and node interned: the usual next ones */
};

/*
 * A partial view: a file store opened for one caller's keys
 * (ipam_file_store_scope) loads the records of that owner, of that
 * attachment and at those addresses, and every record not held by an owner
 * (quarantined, reserved). Every other lease is a "ghost": its address is
 * used in the index, with no record. A lookup the view cannot answer (a
 * key outside the scope, an address held by a ghost) counts a miss on the
 * calling thread; the context turns a miss into -ENOTSUP rather than act
 * on part of the state, and walks over every record are refused.
 */
struct ipam__scope {
	const char *owner, *attach; /* NULL: none */
	size_t owner_len, attach_len;
	const ipam_addr *addrs;
	unsigned naddrs;
};

extern _Thread_local unsigned long ipam__scope_misses;

/*
 * A held lease that a load or a replay met at an address its pool, defined
 * anew, no longer hands out (taken under an older definition): kept aside,
 * in neither the index nor the chains, until a later op of the same replay
 * removes it (the lease was released since). A store refuses a load that
 * ends with any (ipam__view_stranded()).
 */
#define IPAM__POOL_GONE 0xffffffffu
struct ipam__stranded {
	unsigned pool; /* IPAM__POOL_GONE: a pool the set no longer defines */
	int family;
	ipam__u128 addr;
	uint32_t next; /* hash chain: index + 1, 0 ends it */
	int live;      /* 0: released since (kept until the load ends) */
	char gone[IPAM_NAME_MAX + 1]; /* that pool's name */
	char owner[64]; /* its start, for the message */
};
struct ipam__strandset {
	struct ipam__stranded *e;
	uint32_t n, cap, live; /* entries, allocated, live ones */
	uint32_t *b;           /* buckets (index + 1), cap of them */
};

struct ipam_view {
	const ipam_poolset *set;
	const struct ipam__scope *scope; /* NULL: every record is loaded */
	unsigned npools;
	struct ipam__pool_state *pools;
	pthread_rwlock_t lock;
	uint64_t revision;
	uint64_t stamp; /* ipam_view_stamp(): new at every change of records */
	uint64_t seed; /* hash seed, random per view */
	struct ipam__chains tab[IPAM__NLINKS];
	struct ipam__heap heap;
	struct ipam__intern strs;
	struct ipam__strandset stranded; /* empty outside loads (write lock) */
};

/* The block of a non-zero id; the caller holds a lock. */
static inline struct ipam__rec *ipam__rec_block(const ipam_view *v, ipam__rid id)
{
	return (struct ipam__rec *)(void *)(v->heap.chunks[id >> IPAM__HEAP_UNIT_BITS] +
					    ((size_t)(id & ((1u << IPAM__HEAP_UNIT_BITS) - 1)) << 3));
}
/* The record of an id (0: NULL). */
static inline struct ipam__rec *ipam__rec_of(const ipam_view *v, ipam__rid id)
{
	return id ? ipam__rec_block(v, id) : NULL;
}
/* The next record in chain `link`, or NULL. */
static inline struct ipam__rec *ipam__rec_next(const ipam_view *v, const struct ipam__rec *r,
					       int link)
{
	return ipam__rec_of(v, r->next[link]);
}
/* The first record of a bucket. */
static inline struct ipam__rec *ipam__chain_head(const ipam_view *v, int link, size_t bucket)
{
	return ipam__rec_of(v, v->tab[link].b[bucket]);
}
/* An interned string (NUL-terminated). */
static inline const char *ipam__view_str(const ipam_view *v, uint32_t id)
{
	return v->strs.e[id].s;
}
static inline const char *ipam__rec_ifname(const ipam_view *v, const struct ipam__rec *r)
{
	return ipam__view_str(v, r->ifname);
}
static inline const char *ipam__rec_node(const ipam_view *v, const struct ipam__rec *r)
{
	return ipam__view_str(v, r->node);
}
static inline unsigned ipam__rec_family(const ipam_view *v, const struct ipam__rec *r)
{
	return ipam_pool_family(v->pools[r->pool].pool);
}

/*
 * An op of a change set as the library's own decisions build it: strings
 * borrowed (from the request, or from the record the op rewrites), nothing
 * copied. A store other than the memory store gets the public ipam_op made
 * from it (ipam__dop_export(), under the read lock the decision held); the
 * memory store applies it as it is (ipam__view_commit_dops()).
 */
struct ipam__dop {
	ipam_op_kind kind;
	unsigned pool;
	ipam__u128 addr;
	/* The record at addr this op rewrites or removes, as the decision
	 * read it (NULL: none, or a PUT made only from the fields below). A
	 * commit checks the op's precondition before it reads this. */
	const struct ipam__rec *base;
	/* PUT: the new record. A NULL string, or attrs NULL, is base's. */
	unsigned state;
	int64_t created, updated, expires, suspect_since;
	const char *owner, *ifname, *attach, *node;
	size_t owner_len, ifname_len, attach_len, node_len;
	const ipam_attr *attrs;
	unsigned nattrs;
	/* Chain hashes the decision already has (0: not known, computed by
	 * the commit): of the new record's owner and attachment, and of
	 * base's. attach_packed: the new attachment is a container id, packed
	 * into bin. */
	uint64_t h_owner, h_attach, hb_owner, hb_attach;
	int attach_packed;
	uint8_t bin[32];
};

/* The public op of d (the pool's name filled in); the caller holds a lock
 * under which d->base is alive. */
void ipam__dop_export(const ipam_view *v, const struct ipam__dop *d, ipam_op *op);

/*
 * Commit ops decided by the library, for a store whose durable state is
 * the view (the memory store): lock, check
 * the preconditions unless the view is still at `decided_at`, apply as the
 * next revision, unlock. The ops are well-formed by construction (the
 * decision built them from checked requests and the view), so only the
 * preconditions are checked. 0 with *rev, -EAGAIN, or -ENOMEM (nothing
 * changed).
 */
int ipam__view_commit_dops(ipam_view *v, const struct ipam__dop *ops, unsigned nops,
			   const ipam_cond *conds, unsigned nconds, int64_t now_ms,
			   uint64_t decided_at, uint64_t *rev);

/* The same with the write lock held since the decision was made (it read
 * this very state): nothing to check. */
int ipam__view_apply_dops(ipam_view *v, const struct ipam__dop *ops, unsigned nops,
			  int64_t now_ms, uint64_t *rev);

/* ---- records (lease/heap.c); every call with the write lock held ---- */

/* A new record from a public one (pool index given, generation as given),
 * not linked: -ENOMEM. */
int ipam__rec_new(ipam_view *v, struct ipam__rec **out, const ipam_lease *l, unsigned pool);
/* The same from a decoded lease; packed: its attachment's 32 bytes if
 * the caller packed it already (ipam__view_hash_attach_packed), else NULL. */
int ipam__rec_new_ref(ipam_view *v, struct ipam__rec **out, const struct ipam__lease_ref *l,
		      unsigned pool, const uint8_t *packed);
/* The same for a PUT op (generation 0): strings and attributes not given
 * come from d->base, interned ones by id. */
int ipam__rec_new_dop(ipam_view *v, struct ipam__rec **out, const struct ipam__dop *d);
/* Give back a record (unlinked, or never linked). */
void ipam__rec_free(ipam_view *v, struct ipam__rec *r);
/* Room in the chunk table for about `bytes` more of records, so a large
 * load does not grow it step by step (the chunks come as they fill). */
int ipam__heap_reserve(ipam_view *v, size_t bytes);
/* Free every record and interned string: the view holds none. */
void ipam__heap_clear(ipam_view *v);
int ipam__heap_init(ipam_view *v);
void ipam__heap_fini(ipam_view *v);
/* Bytes held by the heap and intern table (for the tests). */
size_t ipam__heap_bytes(const ipam_view *v);
/* The heap's own bookkeeping (blocks tile every chunk, free blocks merged
 * and on the right lists, counts): 0 or -EBADMSG with the detail. */
int ipam__heap_verify(const ipam_view *v);
/* A block of at least `units` units (7 to 255) and giving one back: the
 * record heap's allocator, for ipam__rec_new*() and the tests. The block's
 * units and self are set; NULL when no chunk can be had. */
struct ipam__rec *ipam__heap_alloc(ipam_view *v, unsigned units);
void ipam__heap_free(ipam_view *v, struct ipam__rec *b);

/* Fill a public record (pool name given); the caller holds a lock. */
void ipam__rec_export(const ipam_view *v, const struct ipam__rec *r, const char *pool_name,
		      ipam_lease *out);
/* Owner tag of a record (its quarantine owner in the index). */
uint64_t ipam__rec_owner_tag(const ipam_view *v, const struct ipam__rec *r);

/* A new stamp (write lock held): after every change of records. The
 * loaders (ipam__view_load_ref, the pipelined loader, load_ghost) leave it
 * to their caller, once the load is done. */
void ipam__view_touch(ipam_view *v);

void ipam__view_rdlock(ipam_view *v);
void ipam__view_rdunlock(ipam_view *v);

/* Whether a lease of a snapshot is loaded into a view with this scope. */
int ipam__scope_wants(const struct ipam__scope *s, const struct ipam__lease_ref *l);
/* The same for a lease of a change set (replayed or committed). */
int ipam__scope_wants_lease(const struct ipam__scope *s, const ipam_lease *l);
/* For an address where no record was found: 1 if a partial view holds it
 * by a lease it did not load (a ghost). */
int ipam__view_ghost(const ipam_view *v, unsigned pool, ipam__u128 addr);
/* Load a lease as a ghost: its address only (write lock held). */
int ipam__view_load_ghost(ipam_view *v, const struct ipam__lease_ref *l, unsigned pool,
			  uint64_t rev);
/* The loaded record at an address, if any, without counting a miss: for
 * the paths that handle ghosts themselves (check, apply). */
struct ipam__rec *ipam__view_rec_at(const ipam_view *v, unsigned pool, ipam__u128 addr,
				    uint64_t h_addr);
/* ipam__view_find_bound_h() without counting a miss (loading). */
struct ipam__rec *ipam__view_find_bound_raw_h(const ipam_view *v, unsigned pool,
					      const char *owner, size_t owner_len,
					      const char *ifname, size_t ifname_len, uint64_t h_owner);

/* Lookups; the caller holds a lock. In a partial view they count a miss
 * when they cannot answer. */
struct ipam__rec *ipam__view_find_addr(const ipam_view *v, unsigned pool, ipam__u128 addr);
/* The bound (or suspect) record of (pool, owner, ifname), or NULL. */
struct ipam__rec *ipam__view_find_bound(const ipam_view *v, unsigned pool, const char *owner,
					const char *ifname);
/* The most recent quarantined record of (pool, owner, ifname), or NULL. */
struct ipam__rec *ipam__view_find_quarantined(const ipam_view *v, unsigned pool,
					      const char *owner, const char *ifname);
/* First record in the attachment chain bucket of `attachment`; walk with
 * r->next[IPAM__LINK_ATTACH] and compare (other attachments may share it). */
struct ipam__rec *ipam__view_attach_chain(const ipam_view *v, const char *attachment);
/* First record of an owner chain bucket (compare owner yourself). */
struct ipam__rec *ipam__view_owner_chain(const ipam_view *v, const char *owner);

/* Make room for `extra` more records in chain `link` (0 or -ENOMEM). */
int ipam__view_grow(ipam_view *v, int link, size_t extra);
static inline int ipam__view_reserve(ipam_view *v, int link, size_t extra)
{
	const struct ipam__chains *t = &v->tab[link];

	return t->count + extra <= t->nb ? 0 : ipam__view_grow(v, link, extra);
}

/* The hash a record is chained by in table `link`. */
uint64_t ipam__view_rec_hash(const ipam_view *v, const struct ipam__rec *r, int link);

/* Consistency of records, chains and indexes (read lock held): 0 or
 * -EBADMSG with the finding recorded. */
int ipam__view_verify(ipam_view *v);

/* ipam_view_apply() for a change set that ipam_view_check() accepted with
 * the view unchanged since (write lock held): the well-formedness checks
 * are not run a second time on the commit path. */
int ipam__view_apply_checked(ipam_view *v, const ipam_txn *txn, uint64_t rev);

/* Before loading about `nrecs` records of `bytes` in all (write lock
 * held): size the chains and the record heap once. A hint: 0 or -ENOMEM, and a
 * load goes on either way. */
int ipam__view_presize(ipam_view *v, size_t nrecs, size_t bytes);

/* ipam_view_apply() for a change set decoded from a file, whose leases
 * already passed the checks of ipam__lease_check() (write lock held). */
int ipam__view_apply_decoded(ipam_view *v, const ipam_txn *txn, uint64_t rev);

/* Add one decoded record while loading a snapshot (write lock held). */
int ipam__view_load_ref(ipam_view *v, const struct ipam__lease_ref *l, unsigned pool, uint64_t rev);

/*
 * The same for a stream of records, pipelined: each record's hashes are
 * computed and its buckets prefetched some records before it is added, so
 * the cache misses of a large load overlap. Records are added in order;
 * an error is the one ipam__view_load_ref() would give, possibly returned
 * by a later add or by the flush. The strings of a record must stay valid
 * until the flush.
 */
#define IPAM__LOAD_RING 16
struct ipam__view_loader {
	ipam_view *v;
	uint64_t rev;
	unsigned head, n;
	struct {
		struct ipam__lease_ref ref;
		unsigned pool;
		int packed;
		uint64_t h[IPAM__NLINKS];
		uint8_t bin[32]; /* the attachment packed, if it is a container id */
	} ent[IPAM__LOAD_RING];
};
void ipam__view_loader_init(struct ipam__view_loader *ld, ipam_view *v, uint64_t rev);
int ipam__view_loader_add(struct ipam__view_loader *ld, const struct ipam__lease_ref *l,
			  unsigned pool);
int ipam__view_loader_flush(struct ipam__view_loader *ld);

/* Hashes for the chains (seeded, per view). */
uint64_t ipam__view_hash_addr(const ipam_view *v, unsigned pool, ipam__u128 addr);
uint64_t ipam__view_hash_owner(const ipam_view *v, const char *owner, size_t len);
uint64_t ipam__view_hash_attach(const ipam_view *v, const char *attachment, size_t len);
/* The same, leaving the 32 bytes in bin and *packed set if it packs. */
uint64_t ipam__view_hash_attach_packed(const ipam_view *v, const char *attachment, size_t len,
				       uint8_t bin[32], int *packed);
/* Link r with its three chain hashes already known. */
void ipam__view_link_h(ipam_view *v, struct ipam__rec *r, const uint64_t h[IPAM__NLINKS]);
/* Unlink r with its chain hashes given (0: compute that one). */
void ipam__view_unlink_h(ipam_view *v, struct ipam__rec *r, const uint64_t h[IPAM__NLINKS]);
/* ipam__view_attach_chain() with the key's hash given. */
struct ipam__rec *ipam__view_attach_chain_h(const ipam_view *v, const char *attachment, size_t len,
					    uint64_t h_attach);
/* ipam__view_find_bound() with counted strings and the owner's hash. */
struct ipam__rec *ipam__view_find_bound_h(const ipam_view *v, unsigned pool, const char *owner,
					  size_t owner_len, const char *ifname, size_t ifname_len,
					  uint64_t h_owner);
/* Seeded tag of (owner, ifname), the quarantine owner in the index, from
 * the owner's chain hash and the ifname. */
uint64_t ipam__view_owner_tag_h(const ipam_view *v, uint64_t h_owner, const char *ifname,
				size_t ifname_len);

/* After a load or replay (write lock held): 0 if no held lease was left at
 * an address its pool no longer hands out; else -EINVAL with a message
 * naming the first, and the list emptied (the caller drops the load). */
int ipam__view_stranded(ipam_view *v);
/* Forget what was set aside (a failed load). */
void ipam__view_stranded_clear(ipam_view *v);

/* A lease of a load or a replay in a pool the set no longer defines (by
 * name, from a file): a held one is set aside (as one at an address its
 * pool no longer hands out), anything else removes what was at its address
 * (write lock held). 0 or -ENOMEM. */
int ipam__view_strand_gone(ipam_view *v, const char *pool, size_t pool_len, const ipam_addr *a,
			   unsigned state, const char *owner, size_t owner_len);

/* Empty the view (write lock held), as if just made: for a full reload.
 * -ENOMEM leaves it unchanged. */
int ipam__view_reset(ipam_view *v);

/* Index of pool name in the view, or -ENOENT. */
int ipam__view_pool_index(const ipam_view *v, const char *name);

#endif /* IPAM_VIEW_H */
