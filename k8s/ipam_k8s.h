/* SPDX-License-Identifier: MIT */
#ifndef IPAM_K8S_H
#define IPAM_K8S_H

/*
 * A GC liveness oracle fed with Kubernetes pod and node lists, installed as
 * <ipam/k8s.h> and built as the separate static library ipam_k8s (it needs
 * jansson; the core libipam does not).
 *
 * The caller fetches the lists (`kubectl get pods -A -o json`,
 * `kubectl get nodes -o json`, or the same documents from the API server)
 * and loads them; ipam_gc() then asks the oracle about each lease. Leases
 * are expected to be owned by "namespace/name" (the CNI plugin sets owner
 * to K8S_POD_NAMESPACE "/" K8S_POD_NAME) and to carry the pod UID in the
 * attribute named by options.uid_attr ("k8s.pod.uid").
 *
 * Verdicts, for a bound or suspect lease, in this order:
 * - owner not of the form "namespace/name" (RFC 1123 names)  -> unknown
 * - pod absent from the list                                  -> dead
 * - pod UID differs from the lease's UID attribute (both known,
 *   check_uid on): the lease belongs to an earlier incarnation of a pod
 *   recreated under the same name (a StatefulSet pod). Its successor
 *   rebinds the lease at its CNI ADD, keeping the address, and a rebind
 *   rewrites the UID attribute. So while the successor is Pending (its ADD
 *   may not have run yet) the lease is kept: alive
 *   (uid_mismatch_keep_pending, default on); once the successor is past
 *   Pending without having rebound the lease, the lease is dead.
 * - phase Succeeded or Failed                                 -> dead
 * - phase Pending (or no phase): its ADD may be in progress    -> alive
 * - terminating (deletionTimestamp set): dead once now is past
 *   deletionTimestamp + deletionGracePeriodSeconds + terminating_extra_delay,
 *   alive until then (the sum is Spiderpool's; it waits out the grace
 *   period twice, which errs on the side of keeping the address)
 * - Running, Unknown, or an unrecognised phase                -> alive
 * A list cannot know about a pod created after it was taken: a lease created
 * at or after the list's time (see ipam_k8s_oracle_set_listed_at) is never
 * judged dead by it, only unknown. Leases in other states (reserved,
 * quarantined) are unknown.
 *
 * Node liveness (node_alive, used with policy.dead_node_suspects): with no
 * node list loaded every node is alive. A node absent from the list is dead
 * only with missing_node_is_dead; a node whose Ready condition is not "True"
 * (False, Unknown, or no Ready condition) is dead only with
 * node_not_ready_is_dead, and only once it has been so for
 * node_not_ready_delay seconds (by the condition's lastTransitionTime).
 *
 * Loading is all or nothing: malformed JSON, a document of the wrong kind,
 * a missing or mistyped required field, a duplicate, an over-long name or
 * an input over options.max_input fails with a negative code and a message
 * naming the item and field (ipam_k8s_last_error_message()), and the oracle
 * keeps what it had. Names that are valid Kubernetes names but cannot occur
 * in a lease ("namespace/name" longer than IPAM_OWNER_MAX, node names longer
 * than IPAM_NODE_MAX) are skipped and counted (ipam_k8s_stats).
 *
 * Threads: judge, judge_batch, node_alive, ipam_k8s_oracle_explain and
 * ipam_k8s_oracle_stats may run on any number of threads at once, and
 * concurrently with loads; each call (each batch) sees one complete list.
 * Freeing must not race with anything. The library never prints, never
 * aborts on bad input, and records failure details per thread.
 *
 * Memory: this library uses the C library's malloc (as jansson does), not
 * libipam's allocator.
 */

#include <stddef.h>
#include <stdint.h>

#include <ipam/error.h>
#include <ipam/gc.h>
#include <ipam/lease.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IPAM_K8S_ORACLE_NAME "k8s-pods"
#define IPAM_K8S_DEFAULT_UID_ATTR "k8s.pod.uid"
#define IPAM_K8S_DEFAULT_MAX_INPUT ((size_t)256 << 20) /* bytes */

/* Kubernetes limits, enforced on load. */
#define IPAM_K8S_NAMESPACE_MAX 63 /* RFC 1123 label */
#define IPAM_K8S_NAME_MAX 253     /* RFC 1123 subdomain: pod and node names */
#define IPAM_K8S_UID_MAX IPAM_ATTR_VALUE_MAX

typedef struct ipam_k8s_options {
	size_t size;                     /* sizeof(ipam_k8s_options) */
	int check_uid;                   /* compare pod UIDs (default 1) */
	int uid_mismatch_keep_pending;   /* see above (default 1) */
	int64_t terminating_extra_delay; /* seconds, >= 0 (default 0) */
	int node_not_ready_is_dead;      /* default 0 */
	int64_t node_not_ready_delay;    /* seconds, >= 0 (default 0) */
	int missing_node_is_dead;        /* default 0 */
	const char *uid_attr;            /* lease attribute with the pod UID; copied */
	size_t max_input;                /* bytes per document (default 256 MiB) */
} ipam_k8s_options;

/* Fill *o with the defaults (size included). */
void ipam_k8s_options_init(ipam_k8s_options *o);

/*
 * A new oracle with no lists loaded (opts NULL: defaults). Until a pod list
 * is loaded, judge and judge_batch fail with -ENOENT, which stops a GC pass
 * rather than reclaiming everything. Returns 0, -EINVAL (bad size, negative
 * delay, zero max_input), -ENAMETOOLONG (uid_attr longer than
 * IPAM_ATTR_KEY_MAX or empty) or -ENOMEM. Free with ipam_k8s_oracle_free().
 */
int ipam_k8s_oracle_new(ipam_gc_oracle **out, const ipam_k8s_options *opts);

/*
 * Free an oracle made by ipam_k8s_oracle_new(). Accepts NULL. Equivalent to
 * o->destroy(o->ud) and to ipam_gc_oracle_free(o): destroy frees the oracle
 * structure itself too (it is the first member of the oracle's state).
 */
void ipam_k8s_oracle_free(ipam_gc_oracle *o);

/*
 * Replace the pod list with the one in json[0..len): a v1 List (kubectl) or
 * PodList (API server) whose items have metadata.namespace, .name and .uid
 * (required), metadata.deletionTimestamp and .deletionGracePeriodSeconds,
 * spec.nodeName and status.phase (optional). The list's time becomes the
 * wall clock at the call. Returns the number of pods loaded, or -EINVAL
 * (not a pod list, missing or mistyped field, duplicate pod), -EBADMSG
 * (malformed JSON), -EPROTO (apiVersion not v1), -E2BIG (len over
 * max_input), -ENAMETOOLONG, -ERANGE (bad timestamp or grace period),
 * -ENOMEM. On failure the previous list stays.
 */
int ipam_k8s_oracle_load_pods(ipam_gc_oracle *o, const char *json, size_t len);

/*
 * Replace the node list: a v1 List or NodeList whose items have
 * metadata.name (required) and status.conditions[] (optional). Returns the
 * number of nodes loaded or a code as for pods. On failure the previous
 * list stays.
 */
int ipam_k8s_oracle_load_nodes(ipam_gc_oracle *o, const char *json, size_t len);

/* The same, reading the document from a file (at most max_input bytes).
 * Adds -errno codes of open/read (-ENOENT, -EACCES, -EIO). */
int ipam_k8s_oracle_load_pods_file(ipam_gc_oracle *o, const char *path);
int ipam_k8s_oracle_load_nodes_file(ipam_gc_oracle *o, const char *path);

/*
 * Set the time (unix seconds) at which the loaded pod list was requested,
 * when the caller knows it better than the load's wall clock (an old file,
 * a list fetched a while ago, an injected clock). Leases created at or
 * after it are never judged dead. 0 turns that guard off. -ENOENT if no pod
 * list is loaded, -EINVAL if t is negative.
 */
int ipam_k8s_oracle_set_listed_at(ipam_gc_oracle *o, int64_t t);

typedef struct ipam_k8s_stats {
	size_t size;            /* sizeof(ipam_k8s_stats), set by the caller */
	int pods_loaded;        /* a pod list is loaded */
	int nodes_loaded;       /* a node list is loaded */
	uint64_t pods;          /* pods in the loaded list */
	uint64_t pods_skipped;  /* namespace/name too long for a lease owner */
	uint64_t nodes;
	uint64_t nodes_skipped; /* name too long for a lease's node */
	uint64_t nodes_not_ready;
	int64_t listed_at;      /* the pod list's time; 0: guard off */
} ipam_k8s_stats;

/* Counts of the loaded lists. -EINVAL if o is not a k8s oracle or
 * out->size is not sizeof(ipam_k8s_stats). */
int ipam_k8s_oracle_stats(const ipam_gc_oracle *o, ipam_k8s_stats *out);

/*
 * The verdict for lease at now, as judge gives it, with a short reason
 * ("pod missing", "uid mismatch, successor pending", ...) in buf (optional).
 * Returns an ipam_gc_verdict or a negative code.
 */
int ipam_k8s_oracle_explain(const ipam_gc_oracle *o, const ipam_lease *lease, int64_t now,
			    char *buf, size_t buflen);

/*
 * Parse an RFC 3339 date-time (s[0..len), not NUL-terminated): e.g.
 * "2026-11-26T19:58:53Z", "2026-11-26T19:58:53.5+01:00". Fractional
 * seconds round up (a deadline is never brought forward). Independent of
 * TZ. Returns 0 and *out in unix seconds, or -ERANGE.
 */
int ipam_k8s_parse_time(const char *s, size_t len, int64_t *out);

/*
 * The calling thread's last failure. This library records its failures in
 * libipam's record, so these are ipam_last_error() and
 * ipam_last_error_message() under another name, kept for callers of this
 * library. Returns its code.
 */
int ipam_k8s_last_error(ipam_error_info *out);
const char *ipam_k8s_last_error_message(void);

#ifdef __cplusplus
}
#endif

#endif /* IPAM_K8S_H */
