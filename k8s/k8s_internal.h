/* SPDX-License-Identifier: MIT */
#ifndef IPAM_K8S_INTERNAL_H
#define IPAM_K8S_INTERNAL_H

/*
 * Private declarations of the k8s oracle. Non-static helpers carry the
 * ipam_k8s__ prefix. This library links against libipam's public API only
 * (the core's internal helpers are hidden in the shared library), so it has
 * its own per-thread error record and uses malloc.
 */

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "ipam_k8s.h"

#if defined(__GNUC__)
#define K8S_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define K8S_PRINTF(a, b)
#endif

/* ---- errors (k8s_error.c) ----------------------------------------------
 * Record a failure in libipam's per-thread record (ipam_last_error()) and
 * return err (negative). */
int ipam_k8s__fail(int err, const char *field, const char *value, const char *fmt, ...)
	K8S_PRINTF(4, 5);

/* ---- interned names (k8s_names.c) --------------------------------------
 * An append-only set of strings with O(1) lookup, built once per loaded
 * list and then only read: open addressing over a power-of-two slot array
 * holding index + 1 of each name, strings packed in one arena. Lookups are
 * seeded XXH3 (names come from the cluster, not from us). */
typedef struct k8s_name {
	uint64_t hash;
	size_t off; /* into the arena; NUL-terminated there */
	size_t len;
} k8s_name;

typedef struct k8s_names {
	char *arena;
	size_t arena_len, arena_cap;
	k8s_name *names;
	size_t n, cap;
	uint32_t *slots; /* 0: empty, else index + 1 */
	size_t nslots;   /* power of two, >= 2 * n, or 0 */
	uint64_t seed;
} k8s_names;

void ipam_k8s__names_init(k8s_names *t, uint64_t seed);
void ipam_k8s__names_free(k8s_names *t);
/* Add s[0..len) as name number t->n. -EEXIST (with *idx the existing one)
 * if present, -ENOMEM, -E2BIG past 2^31 names. */
int ipam_k8s__names_add(k8s_names *t, const char *s, size_t len, uint32_t *idx);
/* Index of s[0..len), or -1. */
long ipam_k8s__names_find(const k8s_names *t, const char *s, size_t len);
/* Copy s[0..len) into the arena (not indexed); *off receives its offset. */
int ipam_k8s__names_store(k8s_names *t, const char *s, size_t len, size_t *off);
static inline const char *k8s_names_str(const k8s_names *t, size_t off)
{
	return t->arena + off;
}

/* ---- loaded lists ------------------------------------------------------- */

typedef enum k8s_phase {
	K8S_PHASE_PENDING = 0, /* also: no phase yet */
	K8S_PHASE_RUNNING,
	K8S_PHASE_SUCCEEDED,
	K8S_PHASE_FAILED,
	K8S_PHASE_UNKNOWN /* "Unknown" or a phase this code does not know */
} k8s_phase;

#define K8S_NO_OFF ((size_t)-1)

typedef struct k8s_pod {
	size_t uid_off;     /* in the names arena */
	int64_t delete_at;  /* deletionTimestamp + grace period; if terminating */
	uint8_t phase;      /* k8s_phase */
	uint8_t terminating;
} k8s_pod;

/* One loaded pod list: pods[i] is the pod named names.names[i] ("ns/name"). */
typedef struct k8s_pods {
	k8s_names names;
	k8s_pod *pods;
	uint64_t skipped;
	int64_t listed_at;
} k8s_pods;

typedef struct k8s_node {
	uint8_t ready;      /* Ready condition status is "True" */
	int64_t not_ready_since; /* lastTransitionTime; 0 if unknown */
} k8s_node;

typedef struct k8s_nodes {
	k8s_names names;
	k8s_node *nodes;
	uint64_t skipped;
	uint64_t not_ready;
} k8s_nodes;

void ipam_k8s__pods_free(k8s_pods *p);
void ipam_k8s__nodes_free(k8s_nodes *n);

/* Parse a document into a new list (k8s_load.c). On failure nothing is
 * left allocated and the error is recorded. */
int ipam_k8s__parse_pods(const char *json, size_t len, size_t max_input, uint64_t seed,
			 k8s_pods **out);
int ipam_k8s__parse_nodes(const char *json, size_t len, size_t max_input, uint64_t seed,
			  k8s_nodes **out);

/* ---- the oracle (k8s_oracle.c) ------------------------------------------ */

typedef struct k8s_oracle {
	ipam_gc_oracle base; /* first: ud points at the whole object */
	ipam_k8s_options opts;
	char uid_attr[IPAM_ATTR_KEY_MAX + 1];
	uint64_t seed;
	/* The current lists, swapped whole under the write lock by a load and
	 * read under the read lock by each judgement. */
	pthread_rwlock_t lock;
	k8s_pods *pods;
	k8s_nodes *nodes;
} k8s_oracle;

/* The k8s oracle behind o, or NULL if o is not one. */
k8s_oracle *ipam_k8s__oracle(const ipam_gc_oracle *o);

/* Point base's judge, judge_batch and node_alive at k8s_verdict.c's. */
void ipam_k8s__set_verdicts(ipam_gc_oracle *base);

#endif /* IPAM_K8S_INTERNAL_H */
