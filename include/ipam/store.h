/* SPDX-License-Identifier: MIT */
#ifndef IPAM_STORE_H
#define IPAM_STORE_H

/*
 * Stores: where committed state lives, and how a commit is made atomic.
 *
 * A commit is a change set (ipam_op: put or delete lease records) plus the
 * preconditions it was decided under (ipam_cond): "the record at address A
 * of pool P has generation g (0: there is none)", "owner O/ifname of pool P
 * holds no bound lease (or holds one of generation g)", or, in coarse mode,
 * "pool P is at version v". A store applies all of a commit or none of it;
 * when a precondition fails it returns -EAGAIN and the caller decides again.
 *
 * Every store keeps a *view* of each attached pool set: the library's
 * in-memory state of that set (free-space indexes, lease records and their
 * indexes). The view is what lookups read and what allocation decides on;
 * it is also how built-in stores check preconditions. A store written by an
 * embedder uses the view functions below rather than re-implementing them.
 *
 * The interface is a versioned table of function pointers, SQLite style:
 * `version` comes first, methods are only ever appended, and a NULL method
 * means "not supported" (-ENOTSUP). Every call into a store goes through one
 * internal module of the library that checks this.
 *
 * Thread rules: attach, detach, refresh and commit may be called from many
 * threads at once (contexts in different threads may share a store), for
 * the same or different views; the store serialises what it must. destroy
 * is called once, when no context uses the store. A store never calls back
 * into an ipam_ctx.
 */

#include <stdint.h>

#include <ipam/error.h>
#include <ipam/lease.h>
#include <ipam/pool.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IPAM_STORE_VERSION 1

typedef struct ipam_store ipam_store;
typedef struct ipam_view ipam_view;

typedef enum ipam_op_kind {
	IPAM_OP_PUT = 1,   /* store lease (replacing any record at its address) */
	IPAM_OP_DELETE = 2 /* remove the record at lease.addr */
} ipam_op_kind;

typedef struct ipam_op {
	ipam_op_kind kind;
	unsigned pool; /* index of the pool in its set */
	/* PUT: the new record; its generation is set by the commit to the new
	 * revision. DELETE: the record being removed (at least addr). */
	ipam_lease lease;
	unsigned flags; /* IPAM_OP_F_* */
} ipam_op;

/* Keep lease.generation as given instead of the commit's revision: for
 * stores that load or replay records committed earlier. */
#define IPAM_OP_F_KEEP_GENERATION 1u

typedef enum ipam_cond_kind {
	IPAM_COND_ADDR = 1,  /* record at (pool, addr) has `generation` (0: none) */
	IPAM_COND_OWNER = 2, /* bound lease of (pool, owner, ifname) has `generation` (0: none) */
	IPAM_COND_POOL = 3   /* pool is at `generation` (its version: coarse mode) */
} ipam_cond_kind;

typedef struct ipam_cond {
	ipam_cond_kind kind;
	unsigned pool;
	ipam_addr addr;     /* ADDR */
	const char *owner;  /* OWNER */
	const char *ifname; /* OWNER */
	uint64_t generation;
} ipam_cond;

typedef struct ipam_txn {
	const ipam_op *ops;
	unsigned nops;
	const ipam_cond *conds;
	unsigned nconds;
	int64_t now_ms; /* when the commit was decided (unix milliseconds) */
	/* 0, or ipam_view_stamp() of the view the decision read its
	 * preconditions from (read under the view's read lock). While the view
	 * is still at that stamp nothing has changed since, so the
	 * preconditions, read from this very state, hold: ipam_view_check()
	 * does not look them up again (well-formedness is still checked). */
	uint64_t decided_at;
} ipam_txn;

typedef struct ipam_store_ops {
	int version; /* IPAM_STORE_VERSION the table was written for */
	const char *name;
	/* ---- version 1 ---- */
	/* Free the store and everything it holds. */
	void (*destroy)(ipam_store *st);
	/* Make set known to the store and return its view, loaded with the
	 * committed state. The view stays owned by the store. */
	int (*attach)(ipam_store *st, const ipam_poolset *set, ipam_view **view);
	/* Bring the view up to date with commits made elsewhere (other
	 * processes or nodes). May be NULL when nothing can change elsewhere. */
	int (*refresh)(ipam_store *st, ipam_view *view);
	/* Check txn's preconditions against the committed state and apply it
	 * (to the durable state and the view) atomically. 0 with *rev set to
	 * the new revision, -EAGAIN on a failed precondition (nothing changed,
	 * nothing recorded: the context refreshes and decides again), or
	 * another negative code (nothing changed). A store whose backend did
	 * not answer returns -EAGAIN too, recorded with ipam_error_set(): the
	 * context returns it at once, as "try again later", instead of
	 * deciding again; if the request may have reached the backend, the
	 * commit's outcome is unknown until a refresh. */
	int (*commit)(ipam_store *st, ipam_view *view, const ipam_txn *txn, uint64_t *rev);
	/* A context is done with a view it attached. The store frees the view
	 * when it sees fit: after detach, the view must not be used. (The
	 * memory store keeps it, and its leases, until it is destroyed or the
	 * set is defined anew while no context holds it; another attach of
	 * the set may return the same view.) */
	void (*detach)(ipam_store *st, ipam_view *view);
} ipam_store_ops;

/* The base of every store. A backend embeds it as its first member. */
struct ipam_store {
	const ipam_store_ops *ops;
	void *ud; /* free for the backend's use */
};

/* The in-memory store: the embedded default. Thread-safe; nothing on disk.
 * It keeps the leases of each pool set (by name, with its own copy of the
 * set's definition) until it is freed: contexts attaching the set share
 * them, and a context attaching it after another was freed finds them,
 * under the same definition or a new one (ipam_ctx_add_poolset()). So it
 * holds at most 64 pool sets, counting every name ever attached (-E2BIG).
 * Lookups never wait behind a slow decision: a commit holds the view's
 * write lock only to check preconditions and apply. (A context applies its
 * own change sets to this store without building public ipam_op records;
 * a txn given through the table is committed with ipam_view_commit().) */
int ipam_store_memory_new(ipam_store **out);

/* ---- the file store -------------------------------------------------------
 * One node, many processes (a CNI plugin is a new process per call): each
 * pool set is a snapshot file plus an append-only log of committed change
 * sets in one directory, shared through an flock()ed lock file. Format and
 * guarantees: docs/file-format.md. */

typedef enum ipam_durability {
	/* fdatasync the log before a commit returns, inside the lock:
	 * survives process crashes and power loss. */
	IPAM_DURABILITY_FSYNC = 0,
	/* fdatasync before returning, but after the lock is released, so one
	 * sync covers the commits of several processes: same guarantee for
	 * what was acknowledged, more throughput under concurrency. */
	IPAM_DURABILITY_GROUP,
	/* never sync: survives process crashes (the kernel has the data),
	 * not power loss. For tests and benchmarks. */
	IPAM_DURABILITY_NONE
} ipam_durability;

/*
 * A file store opened for one caller (a CNI plugin runs once per container):
 * only the leases of this owner, of this attachment and at these addresses
 * are loaded as records, with every quarantined or reserved one; every
 * other lease only marks its address used. Opening then costs one pass over
 * the snapshot instead of building every record, whatever the number of
 * leases. Calls that need another lease (another owner or attachment, an
 * address held by a lease left out, a listing, GC, verify) fail with
 * -ENOTSUP instead of answering from part of the state; allocation,
 * release, renewal and lookups of the scope's own keys work as on a whole
 * store. A commit that triggers a compaction loads everything first.
 */
typedef struct ipam_file_store_scope {
	const char *owner;      /* NULL: no owner */
	const char *attachment; /* NULL: no attachment */
	const ipam_addr *addrs; /* addresses the caller may ask for exactly */
	unsigned naddrs;        /* at most IPAM_FILE_SCOPE_ADDRS_MAX */
} ipam_file_store_scope;

#define IPAM_FILE_SCOPE_ADDRS_MAX 64

typedef struct ipam_file_store_options {
	size_t size; /* sizeof(ipam_file_store_options) */
	ipam_durability durability;
	/* Compact (write a new snapshot, empty the log) when the log grows
	 * past this many bytes; 0: 4 MiB. Small stores compact earlier, when
	 * replaying the log would cost more than rewriting the snapshot
	 * (docs/file-format.md). */
	uint64_t compact_bytes;
	/* Reports of recovered damage (a torn last record discarded, a stale
	 * temporary file removed) and of failed compactions. Called with the
	 * pool set's file lock held: it must not call back into the store. */
	void (*log)(void *ud, int level, const char *msg);
	void *log_ud;
	/* Load only what one caller needs (copied; NULL: everything). */
	const ipam_file_store_scope *scope;
} ipam_file_store_options;

void ipam_file_store_options_init(ipam_file_store_options *o);

/*
 * A file store in directory dir (created 0700 if missing; refused if it is
 * a symbolic link or writable by group or others). opts may be NULL.
 */
int ipam_store_file_new(ipam_store **out, const char *dir, const ipam_file_store_options *opts);

/* Compact the files of an attached pool set now. -ENOENT if not attached,
 * -ENOTSUP if st is not a file store. */
int ipam_store_file_compact(ipam_store *st, const char *poolset);

/* Destroy any store through its table. Accepts NULL. Returns NULL. */
ipam_store *ipam_store_free(ipam_store *st);

/* ---- views, for store implementations ----------------------------------- */

/* A new, empty view of set (the set must outlive the view). */
int ipam_view_new(ipam_view **out, const ipam_poolset *set);
ipam_view *ipam_view_free(ipam_view *v);
const ipam_poolset *ipam_view_poolset(const ipam_view *v);
/* The revision of the last commit applied to the view. */
uint64_t ipam_view_revision(const ipam_view *v);
/* A value that changes whenever the view's records change (each apply,
 * load or reset), never 0: see ipam_txn.decided_at. Read it with the view
 * locked (either way). */
uint64_t ipam_view_stamp(const ipam_view *v);

/* Exclusive access for a check-and-apply sequence (readers wait only for
 * that). Not recursive. */
void ipam_view_lock(ipam_view *v);
void ipam_view_unlock(ipam_view *v);

/* With the lock held: 0 if txn is well-formed for this view (pools,
 * addresses, strings within limits) and every precondition holds, -EAGAIN
 * if a precondition does not, -EINVAL (or -ENAMETOOLONG) if it is
 * malformed. After a 0, ipam_view_apply() can fail only with -ENOMEM. */
int ipam_view_check(const ipam_view *v, const ipam_txn *txn);

/* With the lock held: apply txn as revision rev (> the view's revision).
 * All or nothing: -ENOMEM (or -EINVAL for an op that does not fit the
 * view) leaves the view unchanged. Preconditions are not checked. */
int ipam_view_apply(ipam_view *v, const ipam_txn *txn, uint64_t rev);

/* Lock, check, apply as revision (view revision + 1), unlock: a whole
 * commit for a store whose durable state is the view itself. */
int ipam_view_commit(ipam_view *v, const ipam_txn *txn, uint64_t *rev);

#ifdef __cplusplus
}
#endif

#endif /* IPAM_STORE_H */
