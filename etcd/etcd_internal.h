/* SPDX-License-Identifier: MIT */
#ifndef IPAM_ETCD_INTERNAL_H
#define IPAM_ETCD_INTERNAL_H

/*
 * Internals of the etcd store, in layers: error record (etcd_error.c),
 * base64 (etcd_b64.c), the HTTP client with failover, TLS and auth
 * (etcd_http.c), range and txn requests (etcd_kv.c), block values and key
 * names (etcd_codec.c), the per-set cache of block keys and how it updates
 * a view (etcd_cache.c), commits (etcd_commit.c), the store table
 * (etcd_store.c). Everything here is prefixed ipam_etcd__ and hidden.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ipam_etcd.h"
#include <ipam/ipam.h>

#if defined(__GNUC__)
#define ETCD_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define ETCD_PRINTF(a, b)
#endif

/* ---- etcd_error.c ---- */

/* Record a failure in libipam's per-thread record (ipam_last_error()) and
 * return err (negative).
 * field/value may be NULL; fmt NULL uses ipam_strerror(err). */
int ipam_etcd__fail(int err, const char *field, const char *value, const char *fmt, ...)
	ETCD_PRINTF(4, 5);

/* ---- etcd_b64.c ---- */

/* Standard base64 of p[0..n), malloc'ed and NUL-terminated; NULL: no memory. */
char *ipam_etcd__b64_encode(const void *p, size_t n);
/* Decode text; *out is malloc'ed and NUL-terminated (not counted in *n).
 * -EBADMSG for bad input, -ENOMEM. */
int ipam_etcd__b64_decode(const char *text, char **out, size_t *n);

/* ---- etcd_http.c ---- */

typedef struct ipam_etcd__client ipam_etcd__client;

struct ipam_etcd__counters {
	atomic_uint_fast64_t requests, failovers, txns, txn_conflicts, unreachable, refreshed_keys;
};

int ipam_etcd__client_new(ipam_etcd__client **out, const ipam_etcd_options *o);
void ipam_etcd__client_free(ipam_etcd__client *c);
struct ipam_etcd__counters *ipam_etcd__client_counters(ipam_etcd__client *c);
/* POST body (JSON) to path ("/v3/kv/range") on the first endpoint that
 * answers; *resp is the parsed JSON answer of an HTTP 200. -EAGAIN when no
 * endpoint answers, -EACCES for TLS or authentication refusals, -E2BIG for
 * "too many operations", -EIO for other etcd errors (message recorded). */
int ipam_etcd__call(ipam_etcd__client *c, const char *path, json_t *body, json_t **resp);

/* ---- etcd_kv.c ---- */

struct ipam_etcd__kv {
	char *key, *value; /* NUL-terminated (decoded from base64) */
	size_t klen, vlen;
	int64_t mod_rev;
};

struct ipam_etcd__kvs {
	struct ipam_etcd__kv *v;
	size_t n;
	int64_t revision; /* the header revision of the answer */
};

void ipam_etcd__kvs_free(struct ipam_etcd__kvs *k);
/* The keys in [key, range_end) (range_end NULL: key alone) whose
 * mod_revision >= min_mod_rev (0: all). */
int ipam_etcd__range(ipam_etcd__client *c, const char *key, const char *range_end,
		     int64_t min_mod_rev, struct ipam_etcd__kvs *out);
/* As ipam_etcd__range(); keys_only leaves every value empty. */
int ipam_etcd__range_ex(ipam_etcd__client *c, const char *key, const char *range_end,
			int64_t min_mod_rev, int keys_only, struct ipam_etcd__kvs *out);
/* The kvs of a range answer (key: for the message): -EBADMSG for a kv
 * without a key or with bad base64, -EIO without a header revision. */
int ipam_etcd__range_answer(json_t *resp, const char *key, struct ipam_etcd__kvs *out);
/* An int64 that the gateway writes as a string (or, leniently, a number);
 * absent is 0 (proto3 leaves zero values out). */
int64_t ipam_etcd__json_i64(json_t *o, const char *name);
/* The smallest key after every key starting with prefix (malloc'ed). */
char *ipam_etcd__prefix_end(const char *prefix);

/* A transaction being built: compares and writes (the success branch). */
struct ipam_etcd__txn {
	json_t *compare, *success;
	int oom;
};

void ipam_etcd__txn_init(struct ipam_etcd__txn *t);
void ipam_etcd__txn_fini(struct ipam_etcd__txn *t);
/* key's mod_revision == rev (0: the key does not exist). */
void ipam_etcd__txn_cmp_mod(struct ipam_etcd__txn *t, const char *key, int64_t rev);
/* key's value == value (the key exists). */
void ipam_etcd__txn_cmp_value(struct ipam_etcd__txn *t, const char *key, const char *value);
void ipam_etcd__txn_put(struct ipam_etcd__txn *t, const char *key, const char *value, size_t len);
void ipam_etcd__txn_del(struct ipam_etcd__txn *t, const char *key);
/* Run it: 0 with *ok (1: compares held and the writes are done) and *rev
 * (the header revision); -E2BIG past IPAM_ETCD_MAX_TXN_OPS; or a call error. */
int ipam_etcd__txn_run(ipam_etcd__client *c, struct ipam_etcd__txn *t, int *ok, int64_t *rev);

/* ---- etcd_codec.c ---- */

/* The leases of one block key, sorted by address. */
struct ipam_etcd__block {
	ipam_lease *l;
	unsigned n, cap;
};

void ipam_etcd__block_fini(struct ipam_etcd__block *b);
/* Decode a block value of pool p written at mod_rev (the generation of the
 * leases that carry none). Every address must be allocatable in p and fall
 * in block idx (shift: log2 of the block size; 0 = coarse, one block),
 * except a quarantined one, which is left out (a wait the pool, defined
 * anew, has no quarantine for or can no longer place). -EBADMSG naming key (also for a lease outside block idx, as when
 * p's subnet moved), -EINVAL for a lease at an address p does not hand
 * out, -ENOMEM. An empty value is an empty block. */
int ipam_etcd__block_decode(const ipam_pool *p, unsigned shift, ipam_u128 idx, const char *key,
			    const char *val, size_t len, int64_t mod_rev, struct ipam_etcd__block *out);
/* A block value of a pool the set no longer defines: 0 if it holds no
 * lease but quarantined ones (waits the set dropped with the pool), else
 * -EINVAL naming the first lease, or -EBADMSG. */
int ipam_etcd__block_gone(const char *key, const char *pool, const char *val, size_t len);
/* Encode; a lease with generation 0 is written without one (it takes the
 * revision of the commit that writes the value). malloc'ed text or NULL. */
char *ipam_etcd__block_encode(const struct ipam_etcd__block *b);
/* 0 if every string of l is UTF-8 (block values are JSON text), else
 * -EINVAL with the field named. */
int ipam_etcd__lease_utf8(const ipam_lease *l);
/* Index of the record at a, or -1 (*pos: where it would go). */
int ipam_etcd__block_find(const struct ipam_etcd__block *b, const ipam_addr *a, unsigned *pos);
/* Insert or replace (by address) / remove. */
int ipam_etcd__block_put(struct ipam_etcd__block *b, const ipam_lease *l);
void ipam_etcd__block_del(struct ipam_etcd__block *b, const ipam_addr *a);

/* Block index of address a in pool p (shift 0: always 0). */
ipam_u128 ipam_etcd__block_index(const ipam_pool *p, const ipam_addr *a, unsigned shift);
/* "<base>blocks/<pool>/<32 hex>" or, coarse, "<base>pools/<pool>". */
char *ipam_etcd__block_key(const char *base, const ipam_pool *p, unsigned shift, ipam_u128 idx);
/* "<base>owners/<pool>/<owner>/<ifname, '/' and '%' escaped>". */
char *ipam_etcd__owner_key(const char *base, const char *pool, const char *owner,
			   const char *ifname);
/* Parse the part of a block key after "<base>blocks/" (or "pools/"): the
 * pool name (written to pool, size IPAM_NAME_MAX + 1) and the index.
 * -EBADMSG if it is not a block key. */
int ipam_etcd__block_key_parse(const char *rest, unsigned shift, char *pool, size_t pool_size,
			       ipam_u128 *idx);

/* ---- etcd_cache.c ---- */

/* One block key as last read or written by this process. */
struct ipam_etcd__centry {
	unsigned pool;
	ipam_u128 idx;
	int64_t mod_rev;
	char *val; /* the raw value, NUL-terminated */
	size_t len;
};

struct ipam_etcd__set {
	ipam_view *view;
	const ipam_poolset *set;
	char *base;          /* "<prefix>/<set>/" */
	char *blocks_prefix; /* "<base>blocks/" or "<base>pools/" */
	pthread_mutex_t mu;  /* the cache, synced; held across round trips */
	int64_t synced;      /* every key changed at or before it is in the cache */
	struct ipam_etcd__centry *c;
	size_t n, cap; /* sorted by (pool, idx) */
};

struct ipam_etcd__store;

struct ipam_etcd__centry *ipam_etcd__cache_find(struct ipam_etcd__set *s, unsigned pool,
						ipam_u128 idx);
/* Set (insert or replace) the entry; takes ownership of val. */
int ipam_etcd__cache_set(struct ipam_etcd__set *s, unsigned pool, ipam_u128 idx, int64_t mod_rev,
			 char *val, size_t len);
void ipam_etcd__cache_free(struct ipam_etcd__set *s);
/* Decode the cached block (empty if none). */
int ipam_etcd__cache_decode(struct ipam_etcd__store *es, struct ipam_etcd__set *s, unsigned pool,
			    ipam_u128 idx, struct ipam_etcd__block *out);
/* With s->mu held: read every block key changed since s->synced and bring
 * the cache and the view up to date. */
int ipam_etcd__sync(struct ipam_etcd__store *es, struct ipam_etcd__set *s);

/* ---- etcd_store.c / etcd_commit.c ---- */

struct ipam_etcd__store {
	ipam_store base;
	ipam_etcd__client *client;
	char *prefix;   /* without a trailing '/' */
	unsigned shift; /* log2(block size); 0 in coarse mode */
	int coarse;
	void (*log)(void *ud, int level, const char *msg);
	void *log_ud;
	pthread_mutex_t lock; /* sets[] */
	struct ipam_etcd__set **sets;
	unsigned nsets;
};

/* 1 if st is an etcd store (of this library). */
int ipam_etcd__is_store(const ipam_store *st);
struct ipam_etcd__set *ipam_etcd__find_set(struct ipam_etcd__store *es, const ipam_view *v);
int ipam_etcd__commit(ipam_store *st, ipam_view *v, const ipam_txn *txn, uint64_t *rev);

#endif /* IPAM_ETCD_INTERNAL_H */
