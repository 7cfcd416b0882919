/* SPDX-License-Identifier: MIT */
/*
 * The verdicts: one lease against the loaded pod list, one node against the
 * node list. Called by a GC pass once per lease (in batches), so a verdict
 * is a hash lookup plus a few comparisons under a shared read lock; the
 * rules are listed in ipam_k8s.h and each has a reason for explain().
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "k8s_internal.h"

typedef enum reason {
	R_NOT_BOUND,
	R_OWNER_FORMAT,
	R_MISSING,
	R_MISSING_FRESH,
	R_UID_PENDING,
	R_UID_MISMATCH,
	R_UID_FRESH,
	R_SUCCEEDED,
	R_FAILED,
	R_PENDING,
	R_TERMINATING,
	R_TERMINATED,
	R_TERMINATED_FRESH,
	R_PHASE_FRESH,
	R_RUNNING,
	R_UNKNOWN_PHASE,
} reason;

static const char *const reason_text[] = {
	[R_NOT_BOUND] = "lease not bound",
	[R_OWNER_FORMAT] = "owner is not namespace/name",
	[R_MISSING] = "pod missing",
	[R_MISSING_FRESH] = "pod missing, lease newer than the list",
	[R_UID_PENDING] = "uid mismatch, successor pending",
	[R_UID_MISMATCH] = "uid mismatch",
	[R_UID_FRESH] = "uid mismatch, lease newer than the list",
	[R_SUCCEEDED] = "pod succeeded",
	[R_FAILED] = "pod failed",
	[R_PENDING] = "pod pending",
	[R_TERMINATING] = "pod terminating, within grace",
	[R_TERMINATED] = "pod terminating, grace over",
	[R_TERMINATED_FRESH] = "pod terminating, lease newer than the list",
	[R_PHASE_FRESH] = "pod finished, lease newer than the list",
	[R_RUNNING] = "pod running",
	[R_UNKNOWN_PHASE] = "pod phase unknown",
};

/* RFC 1123: a label is [a-z0-9-], a subdomain adds '.', both start and end
 * with an alphanumeric. */
static bool k8s_name_ok(const char *s, size_t len, size_t max, bool dots)
{
	size_t i;

	if (len == 0 || len > max)
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (!alnum && c != '-' && !(dots && c == '.'))
			return false;
		if (!alnum && (i == 0 || i == len - 1))
			return false;
	}
	return true;
}

/* Owner "namespace/name" (a pod's key in the list), or false. */
static bool owner_is_pod(const char *owner, size_t *len)
{
	size_t n = strnlen(owner, IPAM_OWNER_MAX + 1);
	const char *slash = memchr(owner, '/', n);

	if (!slash || n > IPAM_OWNER_MAX)
		return false;
	*len = n;
	return k8s_name_ok(owner, (size_t)(slash - owner), IPAM_K8S_NAMESPACE_MAX, false) &&
	       k8s_name_ok(slash + 1, n - (size_t)(slash - owner) - 1, IPAM_K8S_NAME_MAX, true);
}

static const char *lease_uid(const k8s_oracle *k, const ipam_lease *l)
{
	unsigned i, n = l->nattrs < IPAM_ATTRS_MAX ? l->nattrs : IPAM_ATTRS_MAX;

	for (i = 0; i < n; i++)
		if (strncmp(l->attrs[i].key, k->uid_attr, sizeof(l->attrs[i].key)) == 0)
			return l->attrs[i].value[0] ? l->attrs[i].value : NULL;
	return NULL;
}

/* The verdict for l against pods (not NULL), and why. */
static int judge_one(const k8s_oracle *k, const k8s_pods *pods, const ipam_lease *l,
		     int64_t now, reason *why)
{
	/* A list taken before the lease was made cannot have seen its pod. */
	bool fresh = pods->listed_at && l->created >= pods->listed_at;
	const k8s_pod *pod;
	const char *uid;
	size_t len;
	long idx;

	if (l->state != IPAM_LEASE_BOUND && l->state != IPAM_LEASE_SUSPECT)
		return *why = R_NOT_BOUND, IPAM_GC_UNKNOWN;
	if (!owner_is_pod(l->owner, &len))
		return *why = R_OWNER_FORMAT, IPAM_GC_UNKNOWN;
	idx = ipam_k8s__names_find(&pods->names, l->owner, len);
	if (idx < 0)
		return fresh ? (*why = R_MISSING_FRESH, IPAM_GC_UNKNOWN)
			     : (*why = R_MISSING, IPAM_GC_DEAD);
	pod = &pods->pods[idx];
	uid = k->opts.check_uid ? lease_uid(k, l) : NULL;
	if (uid && strncmp(uid, k8s_names_str(&pods->names, pod->uid_off), IPAM_K8S_UID_MAX + 1)) {
		if (fresh)
			return *why = R_UID_FRESH, IPAM_GC_UNKNOWN;
		if (k->opts.uid_mismatch_keep_pending && pod->phase == K8S_PHASE_PENDING)
			return *why = R_UID_PENDING, IPAM_GC_ALIVE;
		return *why = R_UID_MISMATCH, IPAM_GC_DEAD;
	}
	switch ((k8s_phase)pod->phase) {
	case K8S_PHASE_SUCCEEDED:
	case K8S_PHASE_FAILED:
		if (fresh)
			return *why = R_PHASE_FRESH, IPAM_GC_UNKNOWN;
		*why = pod->phase == K8S_PHASE_SUCCEEDED ? R_SUCCEEDED : R_FAILED;
		return IPAM_GC_DEAD;
	case K8S_PHASE_PENDING:
		return *why = R_PENDING, IPAM_GC_ALIVE;
	case K8S_PHASE_RUNNING:
	case K8S_PHASE_UNKNOWN:
		break;
	}
	if (pod->terminating) {
		if (now <= pod->delete_at + k->opts.terminating_extra_delay)
			return *why = R_TERMINATING, IPAM_GC_ALIVE;
		if (fresh)
			return *why = R_TERMINATED_FRESH, IPAM_GC_UNKNOWN;
		return *why = R_TERMINATED, IPAM_GC_DEAD;
	}
	*why = pod->phase == K8S_PHASE_RUNNING ? R_RUNNING : R_UNKNOWN_PHASE;
	return IPAM_GC_ALIVE;
}

static int no_pods(void)
{
	return ipam_k8s__fail(-ENOENT, "pods", NULL,
			      "no pod list loaded: refusing to judge (everything would look dead)");
}

static int k8s_judge(void *ud, const ipam_lease *lease, int64_t now)
{
	k8s_oracle *k = ud;
	reason why;
	int v;

	if (!lease)
		return ipam_k8s__fail(-EINVAL, "lease", NULL, "NULL lease");
	pthread_rwlock_rdlock(&k->lock);
	v = k->pods ? judge_one(k, k->pods, lease, now, &why) : no_pods();
	pthread_rwlock_unlock(&k->lock);
	return v;
}

static int k8s_judge_batch(void *ud, const ipam_lease *leases, unsigned n, int *verdicts,
			   int64_t now)
{
	k8s_oracle *k = ud;
	reason why;
	unsigned i;
	int r = 0;

	if (n && (!leases || !verdicts))
		return ipam_k8s__fail(-EINVAL, "leases", NULL, "NULL array");
	pthread_rwlock_rdlock(&k->lock);
	if (!k->pods)
		r = no_pods();
	for (i = 0; r == 0 && i < n; i++)
		verdicts[i] = judge_one(k, k->pods, &leases[i], now, &why);
	pthread_rwlock_unlock(&k->lock);
	return r;
}

static int node_verdict(const k8s_oracle *k, const char *node, int64_t now)
{
	const k8s_nodes *nodes = k->nodes;
	const k8s_node *nd;
	long idx;

	if (!nodes || !node || !*node)
		return 1; /* nothing known: alive */
	idx = ipam_k8s__names_find(&nodes->names, node, strnlen(node, IPAM_NODE_MAX + 1));
	if (idx < 0)
		return k->opts.missing_node_is_dead ? 0 : 1;
	nd = &nodes->nodes[idx];
	if (nd->ready || !k->opts.node_not_ready_is_dead)
		return 1;
	if (k->opts.node_not_ready_delay == 0)
		return 0;
	/* Not ready for long enough? Unknown since when: not established. */
	return nd->not_ready_since && now - nd->not_ready_since >= k->opts.node_not_ready_delay
		       ? 0
		       : 1;
}

static int k8s_node_alive(void *ud, const char *node, int64_t now)
{
	k8s_oracle *k = ud;
	int v;

	pthread_rwlock_rdlock(&k->lock);
	v = node_verdict(k, node, now);
	pthread_rwlock_unlock(&k->lock);
	return v;
}

void ipam_k8s__set_verdicts(ipam_gc_oracle *base)
{
	base->judge = k8s_judge;
	base->judge_batch = k8s_judge_batch;
	base->node_alive = k8s_node_alive;
}

int ipam_k8s_oracle_explain(const ipam_gc_oracle *o, const ipam_lease *lease, int64_t now,
			    char *buf, size_t buflen)
{
	k8s_oracle *k = ipam_k8s__oracle(o);
	reason why = R_NOT_BOUND;
	int v;

	if (!k || !lease || (!buf && buflen))
		return ipam_k8s__fail(-EINVAL, "oracle", NULL, "not a k8s oracle, or NULL argument");
	pthread_rwlock_rdlock(&k->lock);
	v = k->pods ? judge_one(k, k->pods, lease, now, &why) : no_pods();
	pthread_rwlock_unlock(&k->lock);
	if (v >= 0 && buflen)
		snprintf(buf, buflen, "%s", reason_text[why]);
	return v;
}
