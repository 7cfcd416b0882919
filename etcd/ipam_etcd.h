/* SPDX-License-Identifier: MIT */
#ifndef IPAM_ETCD_H
#define IPAM_ETCD_H

/*
 * The etcd store: many nodes share pool sets through an etcd v3 cluster,
 * installed as <ipam/etcd.h> and built as the separate static library
 * ipam_etcd (it needs libcurl and jansson; the core libipam does not). It
 * uses only libipam's public API, so a program links it with either the
 * shared or the static libipam.
 *
 * It talks to etcd's JSON gateway (POST /v3/kv/range, /v3/kv/txn,
 * /v3/auth/authenticate) over HTTP or HTTPS, with connections kept and
 * reused. Key layout: docs/etcd-layout.md. In short, each pool is split
 * into blocks of block_size consecutive addresses, one key per block holding
 * the lease records of that block, plus one owner index key per bound lease.
 * A commit is one etcd transaction whose compares are the mod_revisions of
 * exactly the block keys it touches (and the state of the owner keys), so
 * two writers in different blocks never conflict. The generation of a lease
 * is the etcd revision of the commit that wrote it.
 *
 * With options.coarse every pool is one key holding all its leases, and
 * every commit compares that key: the shape of Spiderpool's and Whereabouts'
 * pool objects, kept for comparison (bench/bench_etcd.c). One prefix holds
 * one mode: a pool set written in one mode is refused in the other.
 *
 * Errors: etcd unreachable at every endpoint (connection refused, timeout)
 * -> -EAGAIN ("etcd at ... unreachable: try again later") after one request
 * timeout, not retried as a conflict. A commit whose answer was lost may
 * have been applied: an allocate asked again for the same owner gets the
 * same addresses, and a release asked again releases nothing twice, so
 * retry either (the outcome is settled by the next refresh); a TLS certificate the client rejects, or a wrong user or password
 * -> -EACCES; a value under the prefix that does not parse -> -EBADMSG
 * naming its key; a change set needing more than 128 compares or 128 writes
 * (etcd's default --max-txn-ops) -> -E2BIG. The detail of the last failure
 * of this library on the calling thread: ipam_etcd_last_error_message().
 *
 * Threads: one store may serve many threads. Commits and refreshes of one
 * pool set are serialised by the store (they hold a per-set mutex across
 * the round trip to etcd); give each thread its own store handle for
 * parallel commits to one set. A reader does not hold the view's lock
 * across a round trip, but the context's lookups, walks and statistics
 * refresh from etcd first, so with etcd unreachable they too fail after a
 * request timeout.
 *
 * Memory: this library uses the C library's malloc (as jansson and libcurl
 * do), not libipam's allocator.
 */

#include <stddef.h>
#include <stdint.h>

#include <ipam/error.h>
#include <ipam/store.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IPAM_ETCD_BLOCK_MIN 64
#define IPAM_ETCD_BLOCK_MAX 256
#define IPAM_ETCD_BLOCK_DEFAULT 128
#define IPAM_ETCD_MAX_TXN_OPS 128 /* etcd's default --max-txn-ops */

typedef struct ipam_etcd_options {
	size_t size; /* sizeof(ipam_etcd_options) */
	/* Comma-separated client URLs, tried in order with failover:
	 * "http://10.0.0.1:2379,http://10.0.0.2:2379". Required. */
	const char *endpoints;
	/* Key prefix (default "/ipam"); a trailing '/' is ignored. */
	const char *prefix;
	/* Addresses per block key: 64, 128 (default, 0 selects it) or 256. */
	unsigned block_size;
	/* One key per pool instead of blocks (see above). */
	int coarse;
	/* TLS: CA bundle to verify the servers, client certificate and key
	 * (PEM files). NULL: system CAs, no client certificate. */
	const char *ca_file;
	const char *cert_file;
	const char *key_file;
	/* etcd authentication (user and password), or NULL. */
	const char *user;
	const char *password;
	/* Per endpoint: connect timeout (default 1000 ms) and whole-request
	 * timeout (default 5000 ms). */
	unsigned connect_timeout_ms;
	unsigned request_timeout_ms;
	/* Optional reports (failover to another endpoint, re-authentication).
	 * Called from the thread making the call, never with a lock held. */
	void (*log)(void *ud, int level, const char *msg);
	void *log_ud;
} ipam_etcd_options;

/* Fill *o with the defaults (size included; endpoints NULL). */
void ipam_etcd_options_init(ipam_etcd_options *o);

/* A store over the etcd cluster at opts->endpoints. Nothing is contacted
 * until a pool set is attached. -EINVAL for bad options (message in
 * ipam_etcd_last_error_message()). Free it with ipam_store_free(). */
int ipam_store_etcd_new(ipam_store **out, const ipam_etcd_options *opts);

typedef struct ipam_etcd_stats {
	uint64_t requests;       /* HTTP requests answered */
	uint64_t failovers;      /* requests moved to another endpoint */
	uint64_t txns;           /* transactions that succeeded */
	uint64_t txn_conflicts;  /* transactions whose compares failed */
	uint64_t unreachable;    /* calls that found no endpoint answering */
	uint64_t refreshed_keys; /* changed keys read by refreshes */
} ipam_etcd_stats;

/* Counters since the store was made. -ENOTSUP if st is not an etcd store. */
int ipam_etcd_stats_get(ipam_store *st, ipam_etcd_stats *out);

/*
 * Raw keys under the store's prefix, for what the store itself does not
 * manage: a front end's pool set definitions ("<set>/definition", see
 * docs/etcd-layout.md) and tools that inspect the layout (ipamctl check
 * lists "<set>/owners/"). Keys are given and returned relative to the
 * prefix and its '/': key "net/definition" is "<prefix>/net/definition" in
 * etcd. A key must be non-empty and must not start with '/'.
 *
 * Writing a set's "layout", "blocks/", "pools/" or "owners/" keys bypasses
 * every check of the store (a wrong value makes attach fail with -EBADMSG
 * or leaves an orphan owner key): only repair tools and tests should.
 * Errors as for the store (-EAGAIN unreachable, -EACCES, -EIO); -ENOTSUP if
 * st is not an etcd store; -EINVAL for a bad key.
 */
typedef struct ipam_etcd_kv {
	char *key;            /* relative to the prefix, NUL-terminated */
	char *value;          /* NUL-terminated (not counted in value_len); "" with keys only */
	size_t value_len;
	int64_t mod_revision; /* the etcd revision that last wrote the key */
} ipam_etcd_kv;

/* ipam_etcd_list() flag: leave every value empty (etcd sends keys only). */
#define IPAM_ETCD_KEYS_ONLY 1u

/* The value of key: 0 with *value malloc'ed (NUL-terminated; free() it)
 * and *len / *mod_revision set (either may be NULL), or -ENOENT if the key
 * does not exist. */
int ipam_etcd_get(ipam_store *st, const char *key, char **value, size_t *len,
		  int64_t *mod_revision);

/* Put key = value[0..len). */
int ipam_etcd_put(ipam_store *st, const char *key, const void *value, size_t len);

/* Delete key (0 whether or not it existed). */
int ipam_etcd_delete(ipam_store *st, const char *key);

/* Every key that starts with key_prefix ("" or NULL: every key under the
 * store's prefix), in key order: *out (free with ipam_etcd_kv_free()) and
 * *n. flags: 0 or IPAM_ETCD_KEYS_ONLY. */
int ipam_etcd_list(ipam_store *st, const char *key_prefix, unsigned flags, ipam_etcd_kv **out,
		   size_t *n);

/* Free what ipam_etcd_list() returned. Accepts NULL. */
void ipam_etcd_kv_free(ipam_etcd_kv *kv, size_t n);

/* The calling thread's last failure: the store records its failures in
 * libipam's record, so these equal ipam_last_error() and
 * ipam_last_error_message(), which also carry the store's messages. */
int ipam_etcd_last_error(ipam_error_info *out);
const char *ipam_etcd_last_error_message(void);

#ifdef __cplusplus
}
#endif

#endif /* IPAM_ETCD_H */
