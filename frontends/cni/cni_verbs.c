/* SPDX-License-Identifier: MIT */
/*
 * ADD, DEL, CHECK, GC and STATUS against libipam's file store.
 *
 * Identity: the lease owner is "namespace/name" when CNI_ARGS names a
 * Kubernetes pod (ipam.owner "pod", the default), else the container id;
 * the attachment is the container id and the ifname is CNI_IFNAME. So a
 * pod's new sandbox (new container id) rebinds its addresses, and a late
 * DEL of the old sandbox releases nothing.
 *
 * Each call opens the store, attaches the one pool set (loading its
 * snapshot and log), does one or two commits and exits; nothing else is
 * loaded. Atomicity is libipam's: an ADD's addresses are committed together
 * or not at all.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cni.h"

typedef struct cni_session {
	const ipam_netconf *conf;
	ipam_store *store;
	ipam_ctx *ctx;
	const ipam_poolset *set;
	char node[IPAM_NODE_MAX + 1];
} cni_session;

/* The configuration of the one session a process has (for lib_error). */
static const ipam_netconf *session_conf;

/* A libipam code as a CNI error (the library's message included, and the
 * store's when it has one: the etcd store records its own). */
static int lib_error(ipam_netconf_error *err, int r, const char *what)
{
	const char *detail = cni_store_detail(session_conf, r);
	int code;

	switch (-r) {
	case ENOSPC: code = IPAM_CNI_ERR_EXHAUSTED; break;
	case EAGAIN: code = IPAM_CNI_ERR_AGAIN; break;
	case EIO: case EBADMSG: case EPROTO: case EACCES: case ENOTDIR: case ELOOP:
	case EROFS: case EPERM: code = IPAM_CNI_ERR_IO; break;
	case ENAMETOOLONG: code = IPAM_CNI_ERR_ENV; break;
	case EINVAL: case E2BIG: code = IPAM_CNI_ERR_CONFIG; break;
	default: code = IPAM_CNI_ERR_INTERNAL; break;
	}
	return ipam_netconf_fail(err, code, "", "%s: %s (%s)%s%s", what,
				 *ipam_last_error_message() ? ipam_last_error_message()
							    : ipam_strerror(r),
				 ipam_errname(r), *detail ? "; store: " : "", detail);
}

static void session_close(cni_session *s)
{
	/* A session is the last thing a call does before it prints and exits.
	 * Commits are synchronous and the lock is held only inside them, so
	 * there is nothing to flush: with the arena, exit returns everything
	 * at once and freeing the loaded view record by record (O(leases))
	 * would be wasted. Sanitizer builds free it, so leak checks see it. */
	if (cni_arena_active()) {
		s->ctx = NULL;
		s->store = NULL;
		return;
	}
	s->ctx = ipam_ctx_free(s->ctx);
	s->store = ipam_store_free(s->store);
}

static int make_owner(const cni_call *call, char *owner, size_t size, ipam_netconf_error *err);

/*
 * Open the network's store. ADD touches only the leases of one owner and
 * one container and the addresses it asks for; DEL and CHECK those of the
 * container: the file store then loads just those as records, every other
 * lease marks its address used, and opening costs one pass over the
 * snapshot whatever the number of leases. A call that strayed outside
 * would fail with -ENOTSUP from libipam, not with a wrong answer. GC and
 * STATUS load everything.
 */
enum { SCOPE_NONE, SCOPE_CONTAINER, SCOPE_ADD };

/* Set when the store refused the configuration's pool set because of what
 * it holds (a lease the set no longer covers): the library's code. */
static int session_refused;

/* Open with the configuration's pool set, or with `set` (owned) if given. */
static int session_open_set(cni_session *s, cni_call *call, int scoped, ipam_poolset *set,
			    ipam_netconf_error *err);

static int session_open(cni_session *s, cni_call *call, int scoped, ipam_netconf_error *err)
{
	return session_open_set(s, call, scoped, NULL, err);
}

static int session_open_set(cni_session *s, cni_call *call, int scoped, ipam_poolset *set,
			    ipam_netconf_error *err)
{
	char owner[IPAM_OWNER_MAX + 1];
	ipam_file_store_scope scope;
	ipam_ctx_options co;
	int r;

	memset(s, 0, sizeof(*s));
	session_refused = 0;
	s->conf = session_conf = call->conf;
	snprintf(s->node, sizeof(s->node), "%s", call->conf->node);
	if (!s->node[0] && gethostname(s->node, sizeof(s->node) - 1) < 0)
		snprintf(s->node, sizeof(s->node), "unknown");
	s->node[sizeof(s->node) - 1] = 0;
	memset(&scope, 0, sizeof(scope));
	scope.attachment = call->env.containerid;
	if (scoped == SCOPE_ADD) {
		if (make_owner(call, owner, sizeof(owner), err) < 0) {
			ipam_poolset_free(set);
			return -1;
		}
		scope.owner = owner;
		scope.addrs = call->args.ips;
		scope.naddrs = call->args.nips;
	}
	if (cni_store_open(call->conf, scoped ? &scope : NULL, &s->store, err) < 0) {
		ipam_poolset_free(set);
		return -1;
	}
	ipam_ctx_options_init(&co);
	co.node = s->node;
	/* Many nodes share an etcd store: each process starts next-fit at
	 * its own random place, so concurrent ADDs rarely meet in a block. */
	co.spread = cni_store_is_etcd(call->conf);
	r = ipam_ctx_new(&s->ctx, s->store, &co);
	if (r < 0) {
		ipam_poolset_free(set);
		session_close(s);
		return lib_error(err, r, "cannot create a context");
	}
	if (!set)
		set = ipam_netconf_take_set(call->conf);
	r = set ? ipam_ctx_add_poolset(s->ctx, set) : -EINVAL;
	if (r < 0) {
		ipam_poolset_free(set);
		if (r == -EINVAL || r == -EBADMSG)
			session_refused = r;
		session_close(s);
		return lib_error(err, r, "cannot load the network's state from the store");
	}
	s->set = ipam_ctx_poolset(s->ctx, call->conf->name);
	return 0;
}

static int make_owner(const cni_call *call, char *owner, size_t size, ipam_netconf_error *err)
{
	const cni_args *a = &call->args;
	size_t ln = strlen(a->pod_namespace), lp = strlen(a->pod_name);

	if (call->conf->owner_mode != IPAM_NETCONF_OWNER_POD || !ln || !lp) {
		snprintf(owner, size, "%s", call->env.containerid);
		return 0;
	}
	if (ln + 1 + lp >= size)
		return ipam_netconf_fail(err, IPAM_CNI_ERR_ENV, "CNI_ARGS",
					 "CNI_ARGS K8S_POD_NAMESPACE/K8S_POD_NAME is %zu bytes, more "
					 "than %zu", ln + 1 + lp, size - 1);
	memcpy(owner, a->pod_namespace, ln);
	owner[ln] = '/';
	memcpy(owner + ln + 1, a->pod_name, lp + 1);
	return 0;
}

/* 1 if pool i can hand out an address now. */
static int pool_has_room(cni_session *s, const ipam_netconf *c, unsigned i)
{
	ipam_pool_stats st;
	const char *name = ipam_pool_name(ipam_poolset_pool(s->set, i));

	if (ipam_pool_stats_get(s->ctx, c->name, name, &st) < 0)
		return 1; /* let the allocation report it */
	if (st.free.hi || st.free.lo)
		return 1;
	return !c->reuse_hard && (st.quarantined.hi || st.quarantined.lo);
}

/* The pool each group allocates from: the requested address's, else the one
 * where the owner already holds a lease, else the first with room after
 * `skip` (a pool found full). Returns -1 with err set. */
static int choose_pools(cni_session *s, const cni_call *call, const char *owner,
			const char **names, const ipam_addr **exact, unsigned *skip_mask,
			ipam_netconf_error *err)
{
	const ipam_netconf *c = call->conf;
	ipam_lease held[IPAM_NETCONF_MAX_POOLS];
	unsigned nheld = IPAM_NETCONF_MAX_POOLS, g;

	if (c->npools > c->ngroups &&
	    ipam_lookup_owner(s->ctx, c->name, owner, call->env.ifname, held, &nheld) < 0)
		nheld = 0;
	if (c->npools == c->ngroups)
		nheld = 0;
	for (g = 0; g < c->ngroups; g++) {
		int pick = -1, first = -1;
		for (unsigned i = 0; i < c->npools; i++) {
			const ipam_pool *p = ipam_poolset_pool(s->set, i);
			if (c->pool_group[i] != g)
				continue;
			if (first < 0)
				first = (int)i;
			if (exact[g] && ipam_pool_is_allocatable(p, exact[g]))
				pick = (int)i;
			for (unsigned h = 0; pick < 0 && !exact[g] && h < nheld && h < IPAM_NETCONF_MAX_POOLS; h++)
				if (strcmp(held[h].pool, ipam_pool_name(p)) == 0)
					pick = (int)i;
			if (pick >= 0)
				break;
		}
		for (unsigned i = 0; pick < 0 && i < c->npools; i++)
			if (c->pool_group[i] == g && !(*skip_mask & (1u << i)) &&
			    (c->npools == c->ngroups || pool_has_room(s, c, i)))
				pick = (int)i;
		if (pick < 0)
			pick = first; /* every pool full: let the allocation say so */
		names[g] = ipam_pool_name(ipam_poolset_pool(s->set, (unsigned)pick));
	}
	(void)err;
	return 0;
}

/* Requested addresses by group; every one must fall in some range. */
static int exact_by_group(cni_session *s, const cni_call *call, const ipam_addr **exact,
			  ipam_netconf_error *err)
{
	const cni_args *a = &call->args;

	memset(exact, 0, sizeof(*exact) * IPAM_NETCONF_MAX_POOLS);
	for (unsigned k = 0; k < a->nips; k++) {
		char buf[IPAM_ADDR_STRLEN];
		const ipam_pool *p = ipam_poolset_find_addr(s->set, &a->ips[k]);
		int g = p ? ipam_netconf_pool_group(call->conf, s->set, ipam_pool_name(p)) : -1;

		ipam_addr_format(&a->ips[k], buf, sizeof(buf));
		if (g < 0)
			return ipam_netconf_fail(err, IPAM_CNI_ERR_ADDRESS, "ips",
						 "requested address %s is in no range of network %s",
						 buf, call->conf->name);
		if (exact[g])
			return ipam_netconf_fail(err, IPAM_CNI_ERR_ADDRESS, "ips",
						 "requested address %s: another address was already "
						 "requested from the same range set", buf);
		exact[g] = &a->ips[k];
	}
	return 0;
}

static int allocate(cni_session *s, cni_call *call, ipam_lease *out, unsigned *n,
		    ipam_netconf_error *err)
{
	const ipam_netconf *c = call->conf;
	const ipam_addr *exact_g[IPAM_NETCONF_MAX_POOLS];
	const char *names[IPAM_NETCONF_MAX_POOLS];
	ipam_addr exact_v[IPAM_NETCONF_MAX_POOLS];
	char owner[IPAM_OWNER_MAX + 1];
	ipam_attr attr;
	ipam_request req;
	unsigned skip = 0;
	int r = -ENOSPC;

	if (exact_by_group(s, call, exact_g, err) < 0)
		return -1;
	if (make_owner(call, owner, sizeof(owner), err) < 0)
		return -1;
	memset(&req, 0, sizeof(req));
	req.poolset = c->name;
	req.owner = owner;
	req.ifname = call->env.ifname;
	req.attachment = call->env.containerid;
	req.pools = names;
	req.npools = c->ngroups;
	if (call->args.pod_uid[0] && strcmp(owner, call->env.containerid) != 0) {
		snprintf(attr.key, sizeof(attr.key), "k8s.pod.uid");
		snprintf(attr.value, sizeof(attr.value), "%s", call->args.pod_uid);
		req.attrs = &attr;
		req.nattrs = 1;
	}
	for (unsigned round = 0; round <= c->npools; round++) {
		unsigned ne = 0;
		choose_pools(s, call, owner, names, exact_g, &skip, err);
		for (unsigned g = 0; g < c->ngroups; g++)
			if (exact_g[g])
				exact_v[ne++] = *exact_g[g];
		req.exact = ne ? exact_v : NULL;
		req.nexact = ne;
		*n = IPAM_NETCONF_MAX_POOLS;
		r = ipam_allocate(s->ctx, &req, out, n);
		if (r != -ENOSPC || c->npools == c->ngroups)
			break;
		/* Raced to a full pool of a multi-subnet range set: skip it. */
		for (unsigned i = 0; i < c->npools; i++)
			if (!pool_has_room(s, c, i))
				skip |= 1u << i;
	}
	if (r == -ENOSPC)
		return ipam_netconf_fail(err, IPAM_CNI_ERR_EXHAUSTED, "ipam.ranges",
					 "no free address in network %s: %s", c->name,
					 ipam_last_error_message());
	if (r < 0 && call->args.nips && (r == -EEXIST || r == -EBUSY || r == -EACCES || r == -ERANGE))
		return ipam_netconf_fail(err, IPAM_CNI_ERR_ADDRESS, "ips",
					 "a requested address cannot be had: %s",
					 ipam_last_error_message());
	if (r < 0)
		return lib_error(err, r, "allocation failed");
	return 0;
}

int cni_cmd_add(cni_call *call, json_t **result, ipam_netconf_error *err)
{
	ipam_lease out[IPAM_NETCONF_MAX_POOLS];
	unsigned n = 0;
	cni_session s;
	int r;

	*result = NULL;
	if (session_open(&s, call, SCOPE_ADD, err) < 0)
		return -1;
	r = allocate(&s, call, out, &n, err);
	/* Kept once a commit went through with it (the store's leases fit
	 * it then): what DEL and GC fall back on (session_open_any()). */
	if (!r)
		r = cni_store_save_definition(s.store, call->conf, s.set, err);
	if (!r)
		r = cni_result_build(call, s.set, out, n, result, err);
	session_close(&s);
	return r;
}

/* Leases of (container id, CNI_IFNAME); *n: room in, count out. */
static int attachment_leases(cni_session *s, const cni_call *call, ipam_lease *out, unsigned *n,
			     unsigned *others, ipam_netconf_error *err)
{
	unsigned room = *n, total = room, kept = 0;
	int r = ipam_lookup_attachment(s->ctx, call->conf->name, call->env.containerid, out, &total);

	if (r < 0)
		return lib_error(err, r, "lookup failed");
	if (total > room)
		return ipam_netconf_fail(err, IPAM_CNI_ERR_INTERNAL, "",
					 "container %s holds %u leases, more than %u",
					 call->env.containerid, total, room);
	for (unsigned i = 0; i < total; i++)
		if (strcmp(out[i].ifname, call->env.ifname) == 0)
			out[kept++] = out[i];
	*others = total - kept;
	*n = kept;
	return 0;
}

/*
 * session_open(), or, when the store refuses the configuration because of
 * leases it no longer covers (a range set removed, a range narrowed), a
 * session under the definition kept with the store, the last one an ADD
 * committed with: so that DEL and GC still release what containers hold.
 * On failure the first error stands.
 */
static int session_open_any(cni_session *s, cni_call *call, int scoped, ipam_netconf_error *err)
{
	ipam_poolset *saved;
	ipam_netconf_error e2;

	if (session_open(s, call, scoped, err) == 0)
		return 0;
	saved = session_refused ? cni_store_saved_set(call->conf) : NULL;
	return saved && session_open_set(s, call, scoped, saved, &e2) == 0 ? 0 : -1;
}

int cni_cmd_del(cni_call *call, ipam_netconf_error *err)
{
	ipam_lease l[4 * IPAM_NETCONF_MAX_POOLS];
	unsigned n = 4 * IPAM_NETCONF_MAX_POOLS, others = 0;
	cni_session s;
	int r;

	if (session_open_any(&s, call, SCOPE_CONTAINER, err) < 0)
		return -1;
	r = attachment_leases(&s, call, l, &n, &others, err);
	if (!r && n && !others) {
		/* The usual case: one commit releases the attachment's leases. */
		r = ipam_release_attachment(s.ctx, call->conf->name, call->env.containerid, 0);
		r = r < 0 ? lib_error(err, r, "release failed") : 0;
	} else if (!r) {
		/* Other interfaces of the container stay: release ours one by
		 * one, each pinned to the generation just read. A failure
		 * half-way leaves the rest to a repeated DEL (or GC). */
		for (unsigned i = 0; !r && i < n; i++) {
			int x = ipam_release_addr(s.ctx, call->conf->name, &l[i].addr, l[i].generation);
			r = x < 0 ? lib_error(err, x, "release failed") : 0;
		}
	}
	session_close(&s);
	return r;
}

int cni_cmd_check(cni_call *call, ipam_netconf_error *err)
{
	ipam_lease l[4 * IPAM_NETCONF_MAX_POOLS];
	ipam_addr prev[4 * IPAM_NETCONF_MAX_POOLS];
	unsigned n = 4 * IPAM_NETCONF_MAX_POOLS, np = 4 * IPAM_NETCONF_MAX_POOLS, others;
	char buf[IPAM_ADDR_STRLEN];
	cni_session s;
	int r;

	if (cni_parse_prev_ips(call->root, prev, &np, err) < 0 || session_open(&s, call, SCOPE_CONTAINER, err) < 0)
		return -1;
	r = attachment_leases(&s, call, l, &n, &others, err);
	if (!r && n == 0)
		r = ipam_netconf_fail(err, IPAM_CNI_ERR_UNKNOWN, "CNI_CONTAINERID",
				      "container %s holds no address for %s in network %s",
				      call->env.containerid, call->env.ifname, call->conf->name);
	/* Every lease is in prevResult ... */
	for (unsigned i = 0; !r && i < n; i++) {
		unsigned k = 0;
		while (k < np && ipam_addr_cmp(&prev[k], &l[i].addr) != 0)
			k++;
		ipam_addr_format(&l[i].addr, buf, sizeof(buf));
		if (k == np)
			r = ipam_netconf_fail(err, IPAM_CNI_ERR_CHECK, "prevResult.ips",
					      "address %s is leased to %s/%s but missing from "
					      "prevResult", buf, call->env.containerid,
					      call->env.ifname);
	}
	/* ... and every prevResult address of this network is a lease. */
	for (unsigned k = 0; !r && k < np; k++) {
		unsigned i = 0;
		if (!ipam_poolset_find_addr(s.set, &prev[k]))
			continue; /* another plugin's address */
		while (i < n && ipam_addr_cmp(&prev[k], &l[i].addr) != 0)
			i++;
		ipam_addr_format(&prev[k], buf, sizeof(buf));
		if (i == n)
			r = ipam_netconf_fail(err, IPAM_CNI_ERR_CHECK, "prevResult.ips",
					      "prevResult address %s is not leased to %s/%s", buf,
					      call->env.containerid, call->env.ifname);
	}
	session_close(&s);
	return r;
}

/* With the etcd store many nodes share a network, and a runtime's list
 * names only its own node's attachments: leases recorded by another node
 * are not judged (unknown: left as they are). */
struct node_scope {
	const ipam_gc_oracle *inner;
	const char *node;
};

static int scoped_batch(void *ud, const ipam_lease *l, unsigned n, int *verdicts, int64_t now)
{
	const struct node_scope *ns = ud;
	int r = 0;

	if (ns->inner->judge_batch)
		r = ns->inner->judge_batch(ns->inner->ud, l, n, verdicts, now);
	for (unsigned i = 0; r == 0 && i < n; i++) {
		if (strcmp(l[i].node, ns->node) != 0)
			verdicts[i] = IPAM_GC_UNKNOWN;
		else if (!ns->inner->judge_batch && (verdicts[i] = ns->inner->judge(ns->inner->ud, &l[i], now)) < 0)
			r = verdicts[i];
	}
	return r;
}

int cni_cmd_gc(cni_call *call, ipam_netconf_error *err)
{
	struct node_scope ns;
	ipam_gc_oracle scoped;
	ipam_gc_oracle *oracle = NULL;
	ipam_gc_policy pol;
	cni_session s;
	int r = ipam_gc_attachments_new(&oracle);

	if (r < 0)
		return lib_error(err, r, "cannot create the GC oracle");
	if (cni_parse_attachments(call->root, oracle, err) < 0 ||
	    session_open_any(&s, call, SCOPE_NONE, err) < 0) {
		ipam_gc_oracle_free(oracle);
		return -1;
	}
	/* The runtime's list is authoritative (no ADD or DEL runs during GC):
	 * release everything outside it in one pass. */
	ipam_gc_policy_init(&pol);
	pol.min_age = 0;
	pol.two_observations = 0;
	pol.grace = 0;
	memset(&scoped, 0, sizeof(scoped));
	if (cni_store_is_etcd(call->conf)) {
		ns.inner = oracle;
		ns.node = s.node;
		scoped.version = IPAM_GC_ORACLE_VERSION;
		scoped.name = "cni-valid-attachments-of-this-node";
		scoped.ud = &ns;
		scoped.judge_batch = scoped_batch;
	}
	r = ipam_gc(s.ctx, call->conf->name, scoped.judge_batch ? &scoped : oracle, &pol, NULL);
	r = r < 0 ? lib_error(err, r, "garbage collection failed") : 0;
	session_close(&s);
	ipam_gc_oracle_free(oracle);
	return r;
}

int cni_cmd_status(cni_call *call, ipam_netconf_error *err)
{
	const ipam_netconf *c = call->conf;
	cni_session s;
	int r = 0;

	if (session_open(&s, call, SCOPE_NONE, err) < 0) {
		err->code = IPAM_CNI_ERR_STATUS;
		return -1;
	}
	for (unsigned g = 0; !r && g < c->ngroups; g++) {
		int room = 0;
		for (unsigned i = 0; i < c->npools; i++)
			if (c->pool_group[i] == g && pool_has_room(&s, c, i))
				room = 1;
		if (!room)
			r = ipam_netconf_fail(err, IPAM_CNI_ERR_STATUS, "ipam.ranges",
					      "network %s cannot serve ADD: no free address in "
					      "range set %u", c->name, g);
	}
	session_close(&s);
	return r;
}
