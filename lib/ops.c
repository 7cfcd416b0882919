/* SPDX-License-Identifier: MIT */
/*
 * The write calls: allocate, release, renew, reserve. Each is a decision
 * function run by ipam__ctx_run(): it reads the view under the read lock,
 * builds the change set with the preconditions it relied on, and the loop
 * commits it, deciding again after a conflict.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "ctx_internal.h"

#define MAX_REQ_POOLS 16

static int64_t secs(int64_t now_ms)
{
	return now_ms / 1000;
}

/* ---- allocate ------------------------------------------------------------------ */

/* The lengths of a request's strings, found by check_request(). */
struct req_lens {
	size_t owner, ifname, attach, node;
};

struct alloc_arg {
	const ipam_request *req;
	const char *node;
	struct req_lens len;
	unsigned npools;
	unsigned pools[MAX_REQ_POOLS];
	const ipam_addr *exact[MAX_REQ_POOLS];
	const ipam_addr *hint[MAX_REQ_POOLS];
	int kind[MAX_REQ_POOLS]; /* 0: existing, 1: new, 2: rebind, 3: renewed in place */
	ipam_lease *out;
	struct ipam__claimlist claims; /* candidates of the decision in flight */
};

/* Whether asking again for lease l renews it: the request has a TTL and
 * the lease an expiry that the TTL reaches past (a lease without one keeps
 * having none). */
static int renews(const ipam_lease *l, const ipam_request *req, int64_t now_ms)
{
	return req->ttl && l->expires && l->expires < secs(now_ms) + req->ttl;
}

static void fill_new(ipam_lease *l, const struct alloc_arg *a, const char *pool, int64_t now_ms)
{
	const ipam_request *req = a->req;

	/* Field by field (no memset of the large struct: on the path of every
	 * allocation). */
	ipam__strlcpy(l->pool, pool, sizeof(l->pool));
	ipam__strput(l->owner, req->owner, a->len.owner);
	ipam__strput(l->ifname, req->ifname, a->len.ifname);
	ipam__strput(l->attachment, req->attachment, a->len.attach);
	ipam__strput(l->node, a->node, a->len.node);
	l->generation = 0;
	l->suspect_since = 0;
	l->state = IPAM_LEASE_BOUND;
	l->created = l->updated = secs(now_ms);
	l->expires = req->ttl ? secs(now_ms) + req->ttl : 0;
	l->nattrs = req->nattrs;
	for (unsigned i = 0; i < req->nattrs; i++)
		l->attrs[i] = req->attrs[i];
}

/*
 * Candidate choice for a new lease in pool p: the index's decision (hint,
 * policy, quarantine fallback) as ipam__index_peek() makes it, stepping
 * over addresses that other deciders of this context have claimed for a
 * commit in flight (ctx_internal.h), and claiming the answer. A hint taken
 * is kept even if claimed: stickiness wins, the preconditions arbitrate.
 * When every candidate found is claimed: -EINPROGRESS (with
 * tb->claim_seen) so the caller waits for those commits, or, with
 * tb->claim_fallback, the index's own answer. Runs under the view's read
 * lock; the shared cursor moves past the answer.
 */
#define PROBE_MAX 256

/* Is the address at ordinal o a candidate: not claimed, and taken by the
 * index's decision if offered as a hint (free, or quarantined and
 * claimable by this owner at now_ms). */
static int probe(const struct ipam__set_entry *e, const struct ipam__pool_state *ps, unsigned p,
		 uint64_t tag, int64_t now_ms, ipam__u128 o, ipam_addr *out)
{
	ipam__u128 cur = 0;
	uint64_t rng = 0;
	ipam_addr a, got;
	int st;

	if (ipam__index_address(ps->idx, o, &a) < 0)
		return 0;
	st = ipam__index_state(ps->idx, &a);
	if (st == IPAM__ADDR_USED || st < 0 || ipam__claimed(e, p, ipam__addr_value(&a)))
		return 0;
	if (st == IPAM__ADDR_QUARANTINED &&
	    (ipam__index_peek(ps->idx, tag, &a, now_ms, &cur, &rng, &got) < 0 ||
	     ipam_addr_cmp(&got, &a) != 0))
		return 0;
	*out = a;
	return 1;
}

static int choose(struct ipam__set_entry *e, struct ipam__txnbuf *tb, unsigned p, uint64_t tag,
		  const ipam_addr *hint, int64_t now_ms, ipam_addr *cand)
{
	struct ipam__pool_state *ps = &e->view->pools[p];
	ipam_policy policy = ipam_pool_policy(ps->pool);
	ipam__u128 cur, ord, total;
	ipam_addr first;
	uint64_t rng;
	int r, found = 0;

	pthread_mutex_lock(&ps->cursor_lock);
	cur = ps->cursor;
	rng = ps->rng;
	r = ipam__index_peek(ps->idx, tag, hint, now_ms, &cur, &rng, &first);
	if (r < 0)
		goto out;
	*cand = first;
	found = (hint && ipam_addr_cmp(hint, &first) == 0) ||
		!ipam__claimed(e, p, ipam__addr_value(&first));
	if (!found && policy == IPAM_POLICY_NEXT_FIT) {
		/* The next ones after the cursor: each claimed one passed is
		 * a distinct claim, so claims + 1 steps see them all. */
		for (unsigned i = 0, n = ipam__claims_count(e, p); i <= n && !found; i++) {
			r = ipam__index_peek(ps->idx, tag, NULL, now_ms, &cur, &rng, cand);
			if (r < 0 || ipam_addr_cmp(cand, &first) == 0)
				break; /* wrapped round: nothing else */
			found = !ipam__claimed(e, p, ipam__addr_value(cand));
		}
	} else if (!found && policy == IPAM_POLICY_RANDOM) {
		for (unsigned i = 0, n = ipam__claims_count(e, p); i < 2 * n + 2 && !found; i++) {
			if (ipam__index_peek(ps->idx, tag, NULL, now_ms, &cur, &rng, cand) < 0)
				break;
			found = !ipam__claimed(e, p, ipam__addr_value(cand));
		}
	}
	if (!found && policy != IPAM_POLICY_NEXT_FIT &&
	    ipam__index_ordinal(ps->idx, &first, &ord) == 0) {
		/* lowest (and random's last resort): the next candidates up
		 * from the claimed answer, wrapping; a few at first, and
		 * when the claim's holder is stalled (others meanwhile took
		 * the addresses above it), enough to be sure: among
		 * used + quarantined + claimed + 1 ordinals one is free and
		 * unclaimed if any is. */
		struct ipam__index_counts c;
		ipam__u128 limit = PROBE_MAX;
		ipam__index_counts(ps->idx, &c);
		total = c.total;
		if (tb->claim_fallback)
			limit = c.used + c.quarantined + ipam__claims_count(e, p) + 1;
		for (ipam__u128 i = 1; i <= limit && !found && i < total; i++) {
			ipam__u128 o = ord + i;
			if (o >= total)
				o -= total;
			found = probe(e, ps, p, tag, now_ms, o, cand);
		}
		if (found)
			cur = ipam__index_ordinal(ps->idx, cand, &ord) == 0 && ord + 1 < total ? ord + 1 : 0;
	}
	if (!found) {
		/* Every candidate found is claimed: wait for those commits,
		 * or after waiting, take the claimed one. */
		if (!tb->claim_fallback) {
			tb->claim_seen = atomic_load(&e->claims->epoch);
			r = -EINPROGRESS;
			goto out;
		}
		*cand = first; /* the only candidate: let the preconditions decide */
	}
	ps->cursor = cur;
	ps->rng = rng;
	ipam__claim(e, tb, p, ipam__addr_value(cand));
	r = 0;
out:
	pthread_mutex_unlock(&ps->cursor_lock);
	return r;
}

static int decide_alloc(ipam_ctx *ctx, struct ipam__set_entry *e, void *arg,
			struct ipam__txnbuf *tb, int64_t now_ms)
{
	struct alloc_arg *a = arg;
	const ipam_request *req = a->req;
	ipam_view *v = e->view;
	/* The owner's hash once, for the tag and every pool's lookup. */
	size_t olen = a->len.owner, ilen = a->len.ifname, alen = a->len.attach, nlen = a->len.node;
	uint64_t h_owner = ipam__view_hash_owner(v, req->owner, olen);
	uint64_t tag = 0; /* the quarantine owner: only a pool with a quarantine reads it */
	int r;

	for (unsigned k = 0; k < a->npools; k++) {
		if (v->pools[a->pools[k]].quarantine) {
			tag = ipam__view_owner_tag_h(v, h_owner, req->ifname, ilen);
			break;
		}
	}

	tb->claims = &a->claims;

	for (unsigned k = 0; k < a->npools; k++) {
		unsigned p = a->pools[k];
		struct ipam__pool_state *ps = &v->pools[p];
		const char *pname = ipam_pool_name(ps->pool);
		struct ipam__rec *bound =
			ipam__view_find_bound_h(v, p, req->owner, olen, req->ifname, ilen, h_owner);
		uint64_t at_gen = 0; /* of the record at the address taken */
		ipam_addr cand;
		struct ipam__dop *op;

		if (bound) {
			ipam_addr have = { 0, 0, ipam__rec_family(v, bound) };
			ipam_lease *out = &a->out[k];
			int same, renew;
			ipam__addr_set_value(&have, ipam__rec_addr(bound));
			if (a->exact[k] && ipam_addr_cmp(a->exact[k], &have) != 0) {
				char held[IPAM_ADDR_STRLEN];
				ipam_addr_format(&have, held, sizeof(held));
				return ipam__fail_addr(-EEXIST, "exact", a->exact[k],
						       "the owner already holds %s in pool %s", held, pname);
			}
			ipam__rec_export(v, bound, pname, out);
			/* Asked again under the same attachment: the same lease,
			 * unchanged unless the request says more: a TTL reaching
			 * past its expiry renews it, and a suspect one is bound
			 * again (its owner is alive). Both are written as a
			 * rebind is. */
			same = ipam__rec_attach_eq(bound, req->attachment, alen);
			renew = same && renews(out, req, now_ms);
			if (same && !renew && bound->state != IPAM_LEASE_SUSPECT) {
				a->kind[k] = 0;
				continue;
			}
			/* Same owner, new attachment: rebind, keeping the address. */
			if (!(op = ipam__txnbuf_op(tb)))
				return -ENOMEM;
			op->kind = IPAM_OP_PUT;
			op->pool = p;
			op->addr = ipam__rec_addr(bound);
			op->base = bound;
			op->state = IPAM_LEASE_BOUND;
			op->created = out->created;
			op->updated = secs(now_ms);
			/* A new attachment takes the request's lifetime; the same
			 * one keeps its expiry unless renewed. */
			if (!same || renew)
				op->expires = req->ttl ? secs(now_ms) + req->ttl : 0;
			else
				op->expires = out->expires;
			op->suspect_since = 0;
			op->attach = req->attachment;
			op->attach_len = alen;
			op->node = a->node;
			op->node_len = nlen;
			op->h_owner = op->hb_owner = h_owner;
			op->h_attach = ipam__view_hash_attach_packed(v, req->attachment, alen, op->bin,
								     &op->attach_packed);
			if (req->nattrs) {
				op->attrs = req->attrs;
				op->nattrs = req->nattrs;
			}
			memcpy(out->attachment, req->attachment, alen + 1);
			memcpy(out->node, a->node, nlen + 1);
			out->state = IPAM_LEASE_BOUND;
			out->suspect_since = 0;
			out->updated = op->updated;
			out->expires = op->expires;
			if (req->nattrs) {
				out->nattrs = req->nattrs;
				for (unsigned i = 0; i < req->nattrs; i++)
					out->attrs[i] = req->attrs[i];
			}
			a->kind[k] = same ? 3 : 2;
			if ((r = ipam__cond_addr_gen(ctx, tb, v, p, &have, bound->generation)) < 0 ||
			    (r = ipam__cond_owner_gen(ctx, tb, v, p, req->owner, req->ifname,
						      bound->generation)) < 0)
				return r;
			continue;
		}
		if (a->exact[k]) {
			const struct ipam__rec *at;
			int st = ipam__index_exact_state(ps->idx, a->exact[k], tag, now_ms);
			if (st < 0)
				return st; /* -ERANGE / -EACCES, message recorded */
			at = ipam__view_find_addr(v, p, ipam__addr_value(a->exact[k]));
			if (at && at->state != IPAM_LEASE_QUARANTINED)
				return ipam__fail_addr(-EEXIST, "address", a->exact[k], "is in use (%s by %s)",
						       ipam_lease_state_name((ipam_lease_state)at->state),
						       ipam__rec_owner(at));
			if (st == IPAM__ADDR_QUARANTINED)
				return ipam__fail_addr(-EBUSY, "address", a->exact[k],
						       "is quarantined for its previous owner");
			cand = *a->exact[k];
			at_gen = at ? at->generation : 0;
			pthread_mutex_lock(&ps->cursor_lock);
			ipam__claim(e, tb, p, ipam__addr_value(&cand));
			pthread_mutex_unlock(&ps->cursor_lock);
		} else {
			const ipam_addr *hint = a->hint[k];
			ipam_addr qaddr;
			if (!hint && ps->quarantine) {
				const struct ipam__rec *q =
					ipam__view_find_quarantined(v, p, req->owner, req->ifname);
				if (q) {
					qaddr.family = ipam__rec_family(v, q);
					ipam__addr_set_value(&qaddr, ipam__rec_addr(q));
					hint = &qaddr;
				}
			}
			r = choose(e, tb, p, tag, hint, now_ms, &cand);
			if (r == -ENOSPC) {
				atomic_fetch_add(&ctx->exhausted, 1);
				return r;
			}
			if (r < 0)
				return r;
			/* Without a quarantine only held addresses have records,
			 * and choose() took one that is not held. */
			if (ps->quarantine) {
				const struct ipam__rec *at =
					ipam__view_find_addr(v, p, ipam__addr_value(&cand));
				at_gen = at ? at->generation : 0;
			}
		}
		if (!(op = ipam__txnbuf_op(tb)))
			return -ENOMEM;
		op->kind = IPAM_OP_PUT;
		op->pool = p;
		op->addr = ipam__addr_value(&cand);
		op->state = IPAM_LEASE_BOUND;
		op->created = op->updated = secs(now_ms);
		op->expires = req->ttl ? secs(now_ms) + req->ttl : 0;
		op->owner = req->owner;
		op->owner_len = olen;
		op->ifname = req->ifname;
		op->ifname_len = ilen;
		op->attach = req->attachment;
		op->attach_len = alen;
		op->node = a->node;
		op->node_len = nlen;
		op->attrs = req->attrs;
		op->nattrs = req->nattrs;
		/* The chain hashes, here rather than under the write lock. */
		op->h_owner = h_owner;
		op->h_attach = ipam__view_hash_attach_packed(v, req->attachment, alen, op->bin,
							     &op->attach_packed);
		fill_new(&a->out[k], a, pname, now_ms);
		a->out[k].addr = cand;
		a->kind[k] = 1;
		if ((r = ipam__cond_addr_gen(ctx, tb, v, p, &cand, at_gen)) < 0 ||
		    (r = ipam__cond_owner_gen(ctx, tb, v, p, req->owner, req->ifname, 0)) < 0)
			return r;
	}
	return 0;
}

/* A control byte (< 0x20 or 0x7f) among s[0..len). Eight bytes at a time:
 * a byte below 0x20 or equal to 0x7f sets the top bit of its lane (lanes
 * above a match may be set too, by the borrow: only "any" is used); bytes
 * from 0x80 up never set one. */
static int has_control(const char *s, size_t len)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t x, del;
		memcpy(&x, s + i, 8);
		del = x ^ (0x7f * ones);
		if (((x - 0x20 * ones) & ~x & highs) | ((del - ones) & ~del & highs))
			return 1;
	}
	for (; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 1;
	return 0;
}

/* A request string's length (see internal.h). The first 16 bytes (most
 * ifnames and node names end there) in one loop; the rest of a longer
 * string by strnlen() and has_control(). */
int ipam__text_scan(const char *s, size_t max, size_t *len)
{
	size_t i;
	int bad = 0;

	/* (Every max is at least 15: the loop stops at 16 or the NUL.) */
	for (i = 0; i < 16 && s[i]; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			bad = 1;
	if (i == 16 && i <= max) {
		size_t n = i + strnlen(s + i, max + 1 - i);
		bad |= has_control(s + i, n - i);
		i = n;
	}
	*len = i;
	if (i > max)
		return -ENAMETOOLONG;
	return bad ? -EINVAL : 0;
}

/* ipam__text_scan() with the failure recorded, naming the field. */
static int req_text(const char *s, size_t max, const char *field, size_t *len)
{
	int r = ipam__text_scan(s, max, len);

	if (r == -ENAMETOOLONG)
		return ipam__fail_n(-ENAMETOOLONG, field, s, *len, "longer than %zu bytes", max);
	if (r < 0)
		return ipam__fail(-EINVAL, "request", NULL,
				  "owner, ifname, attachment and node must not contain "
				  "control bytes (%s)", field);
	return 0;
}

static int check_request(const ipam_request *req, const char *node, struct req_lens *n)
{
	int r;

	if (!req->owner || !req->ifname || !req->attachment)
		return ipam__fail(-EINVAL, "request", NULL, "owner, ifname and attachment are required");
	if (!req->owner[0])
		return ipam__fail(-EINVAL, "owner", "", "must not be empty");
	if ((r = req_text(req->owner, IPAM_OWNER_MAX, "owner", &n->owner)) < 0 ||
	    (r = req_text(req->ifname, IPAM_IFNAME_MAX, "ifname", &n->ifname)) < 0 ||
	    (r = req_text(req->attachment, IPAM_ATTACHMENT_MAX, "attachment", &n->attach)) < 0 ||
	    (r = req_text(node, IPAM_NODE_MAX, "node", &n->node)) < 0)
		return r;
	if (!req->attachment[0])
		return ipam__fail(-EINVAL, "attachment", "", "must not be empty");
	if ((req->nattrs && !req->attrs) || (req->nexact && !req->exact) ||
	    (req->nhints && !req->hints) || (req->npools && !req->pools))
		return ipam__fail(-EINVAL, "request", NULL, "array given without its items");
	if (req->nattrs > IPAM_ATTRS_MAX)
		return ipam__fail(-E2BIG, "attrs", NULL, "at most %d attributes", IPAM_ATTRS_MAX);
	if (req->nattrs && (r = ipam__attrs_check(req->attrs, req->nattrs)) < 0)
		return r;
	/* A new request names each key once. (Only requests: leases stored
	 * by earlier versions may repeat one, and must stay usable.) */
	for (unsigned i = 1; i < req->nattrs; i++)
		for (unsigned j = 0; j < i; j++)
			if (strcmp(req->attrs[j].key, req->attrs[i].key) == 0)
				return ipam__fail(-EINVAL, "attrs.key", req->attrs[i].key, "given twice");
	for (unsigned i = 0; i < req->nexact; i++)
		if ((r = ipam__addr_arg(&req->exact[i], "exact")) < 0)
			return r;
	for (unsigned i = 0; i < req->nhints; i++)
		if ((r = ipam__addr_arg(&req->hints[i], "hints")) < 0)
			return r;
	return 0;
}

/* Which requested pool (position k) hands out addr (*hands_out 1); else
 * the first whose subnet holds it (its decision then says why it cannot
 * have it); or -1. Pools of a set may share a subnet with their own
 * ranges. */
static int pool_of(const struct alloc_arg *a, const ipam_view *v, const ipam_addr *addr,
		   int *hands_out)
{
	int in_subnet = -1;

	*hands_out = 1;
	for (unsigned k = 0; k < a->npools; k++) {
		const ipam_pool *p = v->pools[a->pools[k]].pool;
		if (ipam_pool_is_allocatable(p, addr))
			return (int)k;
		if (in_subnet < 0 && ipam_prefix_contains(ipam_pool_subnet(p), addr))
			in_subnet = (int)k;
	}
	*hands_out = 0;
	return in_subnet;
}

IPAM_EXPORT int ipam_allocate(ipam_ctx *ctx, const ipam_request *req, ipam_lease *out,
			      unsigned *nout)
{
	struct ipam__txnbuf tb;
	struct ipam__set_entry *e;
	struct alloc_arg a;
	uint64_t rev;
	int r;

	if (!ctx || !req || !out || !nout)
		return ipam__fail(-EINVAL, "allocate", NULL, "missing argument");
	a.node = req->node ? req->node : ctx->node;
	if ((r = check_request(req, a.node, &a.len)) < 0)
		return r;
	e = ipam__ctx_entry(ctx, req->poolset, &r);
	if (!e)
		return r;
	a.req = req;
	a.out = out;
	a.npools = 0;
	a.claims.n = 0;
	if (req->npools) {
		if (req->npools > MAX_REQ_POOLS)
			return ipam__fail(-E2BIG, "pools", NULL, "at most %d pools per request", MAX_REQ_POOLS);
		for (unsigned k = 0; k < req->npools; k++) {
			int pi = ipam__view_pool_index(e->view, req->pools[k] ? req->pools[k] : "");
			if (pi < 0)
				return ipam__fail(-ENOENT, "pools", req->pools[k], "no such pool in set %s",
						  req->poolset);
			for (unsigned j = 0; j < k; j++)
				if (a.pools[j] == (unsigned)pi)
					return ipam__fail(-EINVAL, "pools", req->pools[k], "named twice");
			a.pools[a.npools++] = (unsigned)pi;
		}
	} else {
		if (e->view->npools > MAX_REQ_POOLS)
			return ipam__fail(-E2BIG, "pools", NULL, "at most %d pools per request", MAX_REQ_POOLS);
		for (unsigned k = 0; k < e->view->npools; k++)
			a.pools[a.npools++] = k;
	}
	if (*nout < a.npools) {
		unsigned room = *nout;
		*nout = a.npools;
		return ipam__fail(-ERANGE, "out", NULL, "room for %u leases needed, %u given", a.npools,
				  room);
	}
	for (unsigned k = 0; k < a.npools; k++)
		a.exact[k] = a.hint[k] = NULL;
	for (unsigned i = 0; i < req->nexact; i++) {
		int hands_out, k = pool_of(&a, e->view, &req->exact[i], &hands_out);
		if (k < 0)
			return ipam__fail_addr(-ERANGE, "exact", &req->exact[i],
					       "is in none of the requested pools");
		if (a.exact[k] && !hands_out)
			return ipam__fail_addr(-EACCES, "exact", &req->exact[i],
					       "is handed out by none of the requested pools");
		if (a.exact[k])
			return ipam__fail_addr(-EINVAL, "exact", &req->exact[i], "a second address for one pool");
		a.exact[k] = &req->exact[i];
	}
	for (unsigned i = 0; i < req->nhints; i++) {
		int hands_out, k = pool_of(&a, e->view, &req->hints[i], &hands_out);
		if (k >= 0 && !a.hint[k])
			a.hint[k] = &req->hints[i];
	}
	ipam__txnbuf_init(&tb);
	r = ipam__ctx_run(ctx, e, decide_alloc, &a, &tb, &rev);
	if (r == 0) {
		for (unsigned k = 0; k < a.npools; k++) {
			if (a.kind[k])
				out[k].generation = rev;
			if (a.kind[k] == 1)
				atomic_fetch_add(&ctx->allocations, 1);
			else if (a.kind[k] == 2)
				atomic_fetch_add(&ctx->rebinds, 1);
		}
		*nout = a.npools;
	}
	ipam__txnbuf_fini(&tb);
	return r;
}

/* ---- release ----------------------------------------------------------------------- */

enum release_by { BY_ATTACHMENT, BY_OWNER, BY_ADDR };

struct release_arg {
	enum release_by by;
	const char *key;    /* attachment or owner */
	const char *ifname; /* BY_OWNER: NULL = all */
	const ipam_addr *addr;
	uint64_t generation;
	unsigned count;
};

/* Add the release of rec: to the quarantine if its pool has one, else a
 * deletion; pinned to the generation seen. */
static int emit_release(ipam_ctx *ctx, struct ipam__txnbuf *tb, const ipam_view *v,
			const struct ipam__rec *rec, uint64_t h_attach, int64_t now_ms)
{
	const struct ipam__pool_state *ps = &v->pools[rec->pool];
	struct ipam__dop *op = ipam__txnbuf_op(tb);
	ipam_addr addr = { 0, 0, ipam__rec_family(v, rec) };

	if (!op)
		return -ENOMEM;
	op->pool = rec->pool;
	op->addr = ipam__rec_addr(rec);
	op->base = rec;
	/* Its chain hashes, here rather than under the write lock (a
	 * quarantined copy keeps the owner and attachment). */
	op->hb_owner = ipam__view_rec_hash(v, rec, IPAM__LINK_OWNER);
	op->hb_attach = h_attach ? h_attach : ipam__view_rec_hash(v, rec, IPAM__LINK_ATTACH);
	if (ps->quarantine) {
		op->h_owner = op->hb_owner;
		op->h_attach = op->hb_attach;
		op->kind = IPAM_OP_PUT;
		op->state = IPAM_LEASE_QUARANTINED;
		op->created = ipam__rec_created(rec);
		op->updated = secs(now_ms);
		op->expires = ipam__rec_expires(rec);
		op->suspect_since = 0;
	} else {
		op->kind = IPAM_OP_DELETE;
	}
	ipam__addr_set_value(&addr, op->addr);
	return ipam__cond_addr_gen(ctx, tb, v, rec->pool, &addr, rec->generation);
}

static int decide_release(ipam_ctx *ctx, struct ipam__set_entry *e, void *arg,
			  struct ipam__txnbuf *tb, int64_t now_ms)
{
	struct release_arg *a = arg;
	const ipam_view *v = e->view;
	struct ipam__rec *r;
	uint64_t h_attach = 0; /* of the key: releasing by attachment */
	size_t key_len;
	int err;

	a->count = 0;
	if (a->by == BY_ADDR) {
		const ipam_pool *pool = ipam_poolset_find_addr(e->set, a->addr);
		int pi = pool ? ipam__view_pool_index(v, ipam_pool_name(pool)) : -1;
		r = pi < 0 ? NULL : ipam__view_find_addr(v, (unsigned)pi, ipam__addr_value(a->addr));
		if (r && ipam__state_is_bound(r->state) &&
		    (!a->generation || a->generation == r->generation)) {
			if ((err = emit_release(ctx, tb, v, r, 0, now_ms)) < 0)
				return err;
			a->count++;
		}
		return 0;
	}
	key_len = strlen(a->key);
	if (a->by == BY_ATTACHMENT) {
		h_attach = ipam__view_hash_attach(v, a->key, key_len);
		r = ipam__view_attach_chain_h(v, a->key, key_len, h_attach);
	} else {
		r = ipam__view_owner_chain(v, a->key);
	}
	for (; r; r = ipam__rec_next(v, r, a->by == BY_ATTACHMENT ? IPAM__LINK_ATTACH : IPAM__LINK_OWNER)) {
		if (!ipam__state_is_bound(r->state))
			continue;
		if (a->by == BY_ATTACHMENT && !ipam__rec_attach_eq(r, a->key, key_len))
			continue;
		if (a->by == BY_OWNER && (strcmp(ipam__rec_owner(r), a->key) != 0 ||
					  (a->ifname && strcmp(ipam__rec_ifname(v, r), a->ifname) != 0)))
			continue;
		if (a->generation && a->generation != r->generation)
			continue;
		if ((err = emit_release(ctx, tb, v, r, h_attach, now_ms)) < 0)
			return err;
		a->count++;
	}
	return 0;
}

static int run_release(ipam_ctx *ctx, const char *set, struct release_arg *a)
{
	int r = ipam__ctx_commit_set_inplace(ctx, set, decide_release, a);

	if (r < 0)
		return r;
	atomic_fetch_add(&ctx->releases, a->count);
	return (int)a->count;
}

IPAM_EXPORT int ipam_release_attachment(ipam_ctx *ctx, const char *set, const char *attachment,
					uint64_t generation)
{
	struct release_arg a = { BY_ATTACHMENT, attachment, NULL, NULL, generation, 0 };

	if (!attachment)
		return ipam__fail(-EINVAL, "attachment", NULL, "missing argument");
	return run_release(ctx, set, &a);
}

IPAM_EXPORT int ipam_release_owner(ipam_ctx *ctx, const char *set, const char *owner,
				   const char *ifname)
{
	struct release_arg a = { BY_OWNER, owner, ifname, NULL, 0, 0 };

	if (!owner)
		return ipam__fail(-EINVAL, "owner", NULL, "missing argument");
	return run_release(ctx, set, &a);
}

IPAM_EXPORT int ipam_release_addr(ipam_ctx *ctx, const char *set, const ipam_addr *addr,
				  uint64_t generation)
{
	struct release_arg a = { BY_ADDR, NULL, NULL, addr, generation, 0 };
	int r;

	if ((r = ipam__addr_arg(addr, "address")) < 0)
		return r;
	return run_release(ctx, set, &a);
}

/* ---- renew, reserve ------------------------------------------------------------------ */

struct renew_arg {
	const char *owner, *ifname;
	uint32_t ttl;
	unsigned count;
};

static int decide_renew(ipam_ctx *ctx, struct ipam__set_entry *e, void *arg,
			struct ipam__txnbuf *tb, int64_t now_ms)
{
	struct renew_arg *a = arg;
	const ipam_view *v = e->view;
	int err;

	a->count = 0;
	for (struct ipam__rec *r = ipam__view_owner_chain(v, a->owner); r;
	     r = ipam__rec_next(v, r, IPAM__LINK_OWNER)) {
		struct ipam__dop *op;
		ipam_addr addr = { 0, 0, ipam__rec_family(v, r) };
		if (!ipam__state_is_bound(r->state) || strcmp(ipam__rec_owner(r), a->owner) != 0 ||
		    (a->ifname && strcmp(ipam__rec_ifname(v, r), a->ifname) != 0))
			continue;
		if (!(op = ipam__txnbuf_op(tb)))
			return -ENOMEM;
		op->kind = IPAM_OP_PUT;
		op->pool = r->pool;
		op->addr = ipam__rec_addr(r);
		op->base = r;
		op->created = ipam__rec_created(r);
		op->updated = secs(now_ms);
		op->expires = a->ttl ? secs(now_ms) + a->ttl : 0;
		op->state = IPAM_LEASE_BOUND; /* a renewal proves the owner alive */
		op->suspect_since = 0;
		ipam__addr_set_value(&addr, op->addr);
		if ((err = ipam__cond_addr_gen(ctx, tb, v, r->pool, &addr, r->generation)) < 0)
			return err;
		a->count++;
	}
	return 0;
}

IPAM_EXPORT int ipam_renew(ipam_ctx *ctx, const char *set, const char *owner, const char *ifname,
			   uint32_t ttl)
{
	struct renew_arg a = { owner, ifname, ttl, 0 };
	int r;

	if (!owner)
		return ipam__fail(-EINVAL, "owner", NULL, "missing argument");
	r = ipam__ctx_commit_set_inplace(ctx, set, decide_renew, &a);
	if (r < 0)
		return r;
	if (a.count == 0)
		return ipam__fail(-ENOENT, "owner", owner, "holds no bound lease");
	return (int)a.count;
}

struct reserve_arg {
	const ipam_addr *addr;
	const char *note;
	int unreserve;
};

static int decide_reserve(ipam_ctx *ctx, struct ipam__set_entry *e, void *arg,
			  struct ipam__txnbuf *tb, int64_t now_ms)
{
	struct reserve_arg *a = arg;
	const ipam_view *v = e->view;
	const ipam_pool *pool = ipam_poolset_find_addr(e->set, a->addr);
	const struct ipam__rec *at;
	struct ipam__dop *op;
	int pi;

	if (!pool)
		return ipam__fail_addr(-EACCES, "address", a->addr,
				       "is not an allocatable address of any pool in the set");
	/* (An allocatable address of the pool: one its index holds.) */
	pi = ipam__view_pool_index(v, ipam_pool_name(pool));
	if (pi < 0)
		return ipam__fail_addr(-ENOENT, "address", a->addr, "its pool is not in the store's set");
	at = ipam__view_find_addr(v, (unsigned)pi, ipam__addr_value(a->addr));
	if (a->unreserve) {
		if (!at || at->state != IPAM_LEASE_RESERVED)
			return ipam__fail_addr(-ENOENT, "address", a->addr, "is not reserved");
		if (!(op = ipam__txnbuf_op(tb)))
			return -ENOMEM;
		op->kind = IPAM_OP_DELETE;
		op->pool = (unsigned)pi;
		op->addr = ipam__rec_addr(at);
		op->base = at;
		return ipam__cond_addr_gen(ctx, tb, v, (unsigned)pi, a->addr, at->generation);
	}
	if (at && at->state != IPAM_LEASE_QUARANTINED)
		return ipam__fail_addr(-EEXIST, "address", a->addr, "is already leased or reserved");
	if (!(op = ipam__txnbuf_op(tb)))
		return -ENOMEM;
	op->kind = IPAM_OP_PUT;
	op->pool = (unsigned)pi;
	op->addr = ipam__addr_value(a->addr);
	op->owner = a->note;
	op->owner_len = strlen(a->note);
	op->ifname = op->attach = "";
	op->node = ctx->node;
	op->node_len = strlen(ctx->node);
	op->state = IPAM_LEASE_RESERVED;
	op->created = op->updated = secs(now_ms);
	return ipam__cond_addr_gen(ctx, tb, v, (unsigned)pi, a->addr, at ? at->generation : 0);
}

IPAM_EXPORT int ipam_reserve(ipam_ctx *ctx, const char *set, const ipam_addr *addr, const char *note)
{
	struct reserve_arg a = { addr, note && *note ? note : "reserved", 0 };
	size_t n;
	int r;

	if ((r = ipam__addr_arg(addr, "address")) < 0)
		return r;
	if ((n = strnlen(a.note, IPAM_OWNER_MAX + 1)) > IPAM_OWNER_MAX)
		return ipam__fail_n(-ENAMETOOLONG, "note", a.note, n, "longer than %d bytes", IPAM_OWNER_MAX);
	if ((r = ipam__text_check(a.note, IPAM_OWNER_MAX + 1, "note", 1)) < 0)
		return r;
	return ipam__ctx_commit_set(ctx, set, decide_reserve, &a);
}

IPAM_EXPORT int ipam_unreserve(ipam_ctx *ctx, const char *set, const ipam_addr *addr)
{
	struct reserve_arg a = { addr, NULL, 1 };
	int r;

	if ((r = ipam__addr_arg(addr, "address")) < 0)
		return r;
	return ipam__ctx_commit_set(ctx, set, decide_reserve, &a);
}
