/* SPDX-License-Identifier: MIT */
/*
 * The garbage-collection pass (contract in <ipam/gc.h>).
 *
 * Workload: a pass over every bound lease of a set, most of them alive,
 * run periodically and when allocation finds a pool exhausted. Leases are
 * copied in batches under the view's read lock; the oracle judges a batch
 * with no lock held; each action is a one-lease commit pinned to the
 * generation judged, so nothing the oracle did not see can be reclaimed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <ipam/gc.h>

#include "ctx_internal.h"

IPAM_EXPORT void ipam_gc_policy_init(ipam_gc_policy *p)
{
	if (!p)
		return;
	memset(p, 0, sizeof(*p));
	p->size = sizeof(*p);
	p->min_age = 60;
	p->two_observations = 1;
	p->grace = 30;
	p->batch = 256;
}

IPAM_EXPORT const char *ipam_gc_outcome_name(ipam_gc_outcome o)
{
	static const char *const names[IPAM_GC_OUTCOMES] = {
		"reclaimed", "kept-alive", "marked-suspect", "cleared-suspect", "in-grace",
		"too-young", "no-verdict", "skipped-budget", "conflict",
	};
	return (unsigned)o < IPAM_GC_OUTCOMES ? names[o] : "unknown";
}

IPAM_EXPORT void ipam_gc_report_free(ipam_gc_report *r)
{
	if (!r)
		return;
	ipam__release(r->entries, (size_t)r->cap_entries * sizeof(*r->entries));
	ipam__release(r, sizeof(*r));
}

static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- one action: a pinned commit --------------------------------------------------- */

enum action { ACT_MARK, ACT_CLEAR, ACT_RECLAIM };

#define MAX_GROUP 16

struct act_arg {
	const ipam_lease *lease; /* as judged */
	unsigned pool;
	enum action act;
	int no_quarantine;
	int64_t now;
	/* Out: the leases acted on together (the judged one first). */
	unsigned ngroup;
	unsigned gpool[MAX_GROUP];
	ipam__u128 gaddr[MAX_GROUP];
};

/* One lease of the group into the change set, pinned to its generation. */
static int add_action(struct act_arg *a, const ipam_view *v, const struct ipam__rec *r,
		      struct ipam__txnbuf *tb, int64_t now_ms)
{
	struct ipam__dop *op;
	ipam_cond *c;

	if (!(op = ipam__txnbuf_op(tb)) || !(c = ipam__txnbuf_cond(tb)))
		return -ENOMEM;
	op->pool = r->pool;
	op->addr = ipam__rec_addr(r);
	op->base = r;
	op->kind = IPAM_OP_PUT;
	op->created = ipam__rec_created(r);
	op->updated = now_ms / 1000;
	op->expires = ipam__rec_expires(r);
	switch (a->act) {
	case ACT_MARK:
		op->state = IPAM_LEASE_SUSPECT;
		op->suspect_since = a->now;
		break;
	case ACT_CLEAR:
		op->state = IPAM_LEASE_BOUND;
		op->suspect_since = 0;
		break;
	case ACT_RECLAIM:
		if (v->pools[r->pool].quarantine && !a->no_quarantine) {
			op->state = IPAM_LEASE_QUARANTINED;
			op->suspect_since = 0;
		} else {
			op->kind = IPAM_OP_DELETE;
		}
		break;
	}
	c->kind = IPAM_COND_ADDR;
	c->pool = r->pool;
	c->addr.family = ipam__rec_family(v, r);
	ipam__addr_set_value(&c->addr, op->addr);
	c->generation = r->generation; /* pinned: the generation judged */
	if (a->ngroup < MAX_GROUP) {
		a->gpool[a->ngroup] = r->pool;
		a->gaddr[a->ngroup] = ipam__rec_addr(r);
		a->ngroup++;
	}
	return 0;
}

/*
 * The judged lease and its siblings: the other pools' leases of the same
 * owner, ifname and attachment at the same generation (made, rebound and
 * renewed by the same commits). They change together, so a dual-stack
 * owner is never left with one family.
 */
static int decide_act(ipam_ctx *ctx, struct ipam__set_entry *e, void *arg, struct ipam__txnbuf *tb,
		      int64_t now_ms)
{
	struct act_arg *a = arg;
	const ipam_view *v = e->view;
	const struct ipam__rec *r = ipam__view_find_addr(v, a->pool, ipam__addr_value(&a->lease->addr));
	int err;

	(void)ctx;
	a->ngroup = 0;
	if (!r || r->generation != a->lease->generation || !ipam__state_is_bound(r->state))
		return -ESTALE; /* changed since it was judged: leave it */
	if ((err = add_action(a, v, r, tb, now_ms)) < 0)
		return err;
	for (const struct ipam__rec *x = ipam__view_owner_chain(v, ipam__rec_owner(r)); x;
	     x = ipam__rec_next(v, x, IPAM__LINK_OWNER)) {
		/* One view interns each ifname once: equal ids, equal names. */
		if (x == r || x->generation != r->generation || !ipam__state_is_bound(x->state) ||
		    strcmp(ipam__rec_owner(x), ipam__rec_owner(r)) != 0 || x->ifname != r->ifname ||
		    !ipam__rec_attach_same(x, r))
			continue;
		if ((err = add_action(a, v, x, tb, now_ms)) < 0)
			return err;
	}
	return 0;
}

/* 0 done, -ESTALE (conflict: left alone), or another error. */
static int act(ipam_ctx *ctx, struct ipam__set_entry *e, struct act_arg *a)
{
	struct ipam__txnbuf tb;
	ipam_error_info saved;
	uint64_t rev;
	int r;

	ipam_last_error(&saved);
	ipam__txnbuf_init(&tb);
	r = ipam__ctx_run(ctx, e, decide_act, a, &tb, &rev);
	if (r == -EAGAIN && !tb.store_again) /* conflicts that persisted */
		r = -ESTALE;
	ipam__txnbuf_fini(&tb);
	if (r == -ESTALE) /* an outcome of the pass (a conflict entry), not its failure */
		ipam__error_restore(&saved);
	if (r == 0 && a->act == ACT_RECLAIM)
		atomic_fetch_add(&ctx->releases, a->ngroup);
	return r;
}

/* ---- the report --------------------------------------------------------------------- */

static int record(ipam_gc_report *rep, const ipam_gc_policy *pol, const ipam_lease *l,
		  ipam_gc_outcome o, const char *fmt, ...) IPAM_PRINTF(5, 6);
static int record(ipam_gc_report *rep, const ipam_gc_policy *pol, const ipam_lease *l,
		  ipam_gc_outcome o, const char *fmt, ...)
{
	ipam_gc_entry *en, tmp;
	va_list ap;

	rep->counts[o]++;
	if (o == IPAM_GC_KEPT_ALIVE && !pol->report_alive && !pol->on_event)
		return 0;
	en = &tmp;
	snprintf(en->pool, sizeof(en->pool), "%s", l->pool);
	en->addr = l->addr;
	memcpy(en->owner, l->owner, sizeof(en->owner));
	memcpy(en->ifname, l->ifname, sizeof(en->ifname));
	memcpy(en->attachment, l->attachment, sizeof(en->attachment));
	memcpy(en->node, l->node, sizeof(en->node));
	en->generation = l->generation;
	en->outcome = o;
	en->dry_run = pol->dry_run;
	va_start(ap, fmt);
	vsnprintf(en->reason, sizeof(en->reason), fmt, ap);
	va_end(ap);
	if (pol->on_event)
		pol->on_event(pol->event_ud, en);
	if (o == IPAM_GC_KEPT_ALIVE && !pol->report_alive)
		return 0;
	if (rep->nentries == rep->cap_entries) {
		unsigned cap = rep->cap_entries ? rep->cap_entries * 2 : 64;
		ipam_gc_entry *n = ipam__resize(rep->entries, (size_t)rep->cap_entries * sizeof(*n),
						(size_t)cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		rep->entries = n;
		rep->cap_entries = cap;
	}
	rep->entries[rep->nentries++] = *en;
	return 0;
}

/* ---- the pass ------------------------------------------------------------------------- */

/* Copy up to cap bound/suspect leases from hash value *pos on, whole
 * buckets at a time (read lock held by the caller). Buckets hold ranges of
 * hash values (view.h), so a pass resumes where it stopped even if the
 * table grew between batches: no lease is judged twice or skipped. *end is
 * set once the last bucket was copied. A bucket is never split: if the
 * first one alone holds more than cap, nothing is copied and *need says
 * how many it holds (the caller grows its batch and asks again). */
static unsigned collect(const ipam_view *v, uint64_t *pos, int *end, int pool, ipam_lease *out,
			unsigned *pools, unsigned cap, unsigned *need)
{
	const struct ipam__chains *t = &v->tab[IPAM__LINK_ADDR];
	size_t b = ipam__bucket(t, *pos);
	unsigned n = 0;
	int first = 1;

	*need = 0;
	if (*end)
		return 0;
	while (b < t->nb) {
		unsigned in = 0;
		for (const struct ipam__rec *r = ipam__chain_head(v, IPAM__LINK_ADDR, b); r;
		     r = ipam__rec_next(v, r, IPAM__LINK_ADDR))
			in += ipam__state_is_bound(r->state) && (pool < 0 || r->pool == (unsigned)pool) &&
			      (!first || ipam__view_rec_hash(v, r, IPAM__LINK_ADDR) >= *pos);
		if (n + in > cap) {
			if (n == 0)
				*need = in;
			return n; /* *pos: this bucket, still to copy */
		}
		for (const struct ipam__rec *r = ipam__chain_head(v, IPAM__LINK_ADDR, b); r;
		     r = ipam__rec_next(v, r, IPAM__LINK_ADDR)) {
			if (!ipam__state_is_bound(r->state) || (pool >= 0 && r->pool != (unsigned)pool) ||
			    (first && ipam__view_rec_hash(v, r, IPAM__LINK_ADDR) < *pos))
				continue;
			ipam__rec_export(v, r, ipam_pool_name(v->pools[r->pool].pool), &out[n]);
			pools[n++] = r->pool;
		}
		first = 0;
		if (++b < t->nb)
			*pos = (uint64_t)b << t->shift;
	}
	*end = 1;
	return n;
}

static int judge(const ipam_gc_oracle *o, const ipam_lease *l, unsigned n, int *verdicts,
		 int64_t now, ipam_gc_report *rep)
{
	int r = 0, outer = ipam__in_oracle; /* a pass may run inside an oracle */

	ipam__in_oracle = 1;
	if (o->judge_batch) {
		rep->oracle_calls++;
		r = o->judge_batch(o->ud, l, n, verdicts, now);
	} else {
		for (unsigned i = 0; i < n && r >= 0; i++) {
			rep->oracle_calls++;
			r = o->judge(o->ud, &l[i], now);
			if (r >= 0)
				verdicts[i] = r;
		}
	}
	ipam__in_oracle = outer;
	rep->judged += n;
	return r < 0 ? r : 0;
}

/* Leases already acted on as someone's siblings in this pass, with the
 * outcome they got: open addressing on (pool, address). */
struct acted {
	unsigned pool;
	ipam__u128 addr;
	int used;
	ipam_gc_outcome outcome;
};

struct pass {
	struct acted *acted;
	size_t acted_cap, acted_count;
	ipam_ctx *ctx;
	struct ipam__set_entry *e;
	const ipam_gc_oracle *o;
	const ipam_gc_policy *pol;
	ipam_gc_report *rep;
	int64_t now, start_us;
	uint64_t reclaims;
};

static size_t acted_slot(const struct pass *p, unsigned pool, ipam__u128 addr)
{
	uint64_t h = (uint64_t)addr * 0x9e3779b97f4a7c15ull ^ (uint64_t)(addr >> 64) ^ pool;
	size_t i = (size_t)(h ^ (h >> 29)) & (p->acted_cap - 1);

	while (p->acted[i].used && (p->acted[i].pool != pool || p->acted[i].addr != addr))
		i = (i + 1) & (p->acted_cap - 1);
	return i;
}

static int acted_add(struct pass *p, unsigned pool, ipam__u128 addr, ipam_gc_outcome o)
{
	size_t i;

	if ((p->acted_count + 1) * 2 > p->acted_cap) {
		size_t ncap = p->acted_cap ? p->acted_cap * 2 : 64, ocap = p->acted_cap;
		struct acted *old = p->acted, *n = ipam__calloc(ncap, sizeof(*n));
		if (!n)
			return -ENOMEM;
		p->acted = n;
		p->acted_cap = ncap;
		for (size_t k = 0; k < ocap; k++)
			if (old[k].used)
				p->acted[acted_slot(p, old[k].pool, old[k].addr)] = old[k];
		ipam__release(old, ocap * sizeof(*old));
	}
	i = acted_slot(p, pool, addr);
	if (!p->acted[i].used)
		p->acted_count++;
	p->acted[i] = (struct acted){ pool, addr, 1, o };
	return 0;
}

static int budget_over(const struct pass *p)
{
	if (p->pol->max_reclaims && p->reclaims >= p->pol->max_reclaims)
		return 1;
	return p->pol->time_budget_ms > 0 &&
	       (mono_us() - p->start_us) / 1000 >= p->pol->time_budget_ms; /* no overflow */
}

/* Act on one judged lease; a negative return stops the pass. */
static int handle(struct pass *p, const ipam_lease *l, unsigned pool, int verdict, int node_dead)
{
	const ipam_gc_policy *pol = p->pol;
	struct act_arg a;

	memset(&a, 0, sizeof(a));
	a.lease = l;
	a.pool = pool;
	a.act = ACT_MARK;
	a.no_quarantine = pol->no_quarantine;
	a.now = p->now;
	ipam_gc_outcome out;
	const char *why;
	int r = 0;

	if (p->acted_cap) {
		size_t i = acted_slot(p, pool, ipam__addr_value(&l->addr));
		if (p->acted[i].used)
			return record(p->rep, pol, l, p->acted[i].outcome, "with its sibling lease");
	}
	if (node_dead)
		verdict = IPAM_GC_DEAD;
	if (verdict == IPAM_GC_UNKNOWN)
		return record(p->rep, pol, l, IPAM_GC_NO_VERDICT, "the oracle %s has no verdict",
			      p->o->name ? p->o->name : "");
	if (verdict == IPAM_GC_ALIVE) {
		if (l->state != IPAM_LEASE_SUSPECT)
			return record(p->rep, pol, l, IPAM_GC_KEPT_ALIVE, "alive");
		a.act = ACT_CLEAR;
		out = IPAM_GC_CLEARED_SUSPECT;
		why = "alive again: suspect mark cleared";
	} else if (verdict != IPAM_GC_DEAD) {
		return ipam__fail(-EINVAL, "gc", NULL, "oracle gave verdict %d", verdict);
	} else if (budget_over(p)) {
		return record(p->rep, pol, l, IPAM_GC_SKIPPED_BUDGET, "pass budget used up");
	} else if (pol->two_observations && l->state != IPAM_LEASE_SUSPECT) {
		a.act = ACT_MARK;
		out = IPAM_GC_MARKED_SUSPECT;
		why = node_dead ? "node dead: marked suspect" : "dead: marked suspect";
	} else if (pol->two_observations && p->now - l->suspect_since < pol->grace) {
		return record(p->rep, pol, l, IPAM_GC_IN_GRACE, "dead, suspect for %lld s of %lld s grace",
			      (long long)(p->now - l->suspect_since), (long long)pol->grace);
	} else {
		a.act = ACT_RECLAIM;
		out = IPAM_GC_RECLAIMED;
		why = node_dead ? "node dead" : pol->two_observations ? "dead on two observations" : "dead";
	}
	if (!pol->dry_run)
		r = act(p->ctx, p->e, &a);
	if (r == -ESTALE)
		return record(p->rep, pol, l, IPAM_GC_CONFLICT, "changed while judged (generation %llu)",
			      (unsigned long long)l->generation);
	if (r < 0)
		return r;
	if (out == IPAM_GC_RECLAIMED)
		p->reclaims++;
	for (unsigned i = 1; i < a.ngroup; i++) /* siblings: recorded when reached */
		if ((r = acted_add(p, a.gpool[i], a.gaddr[i], out)) < 0)
			return r;
	return record(p->rep, pol, l, out, "%s", why);
}

/* node_alive for one node, cached per batch. */
static int node_dead(struct pass *p, const char *node, char (*seen)[IPAM_NODE_MAX + 1], int *dead,
		     unsigned *nseen)
{
	int r, outer;

	if (!p->o->node_alive || !p->pol->dead_node_suspects || !node[0])
		return 0;
	for (unsigned i = 0; i < *nseen; i++)
		if (strcmp(seen[i], node) == 0)
			return dead[i];
	outer = ipam__in_oracle;
	ipam__in_oracle = 1;
	r = p->o->node_alive(p->o->ud, node, p->now);
	ipam__in_oracle = outer;
	p->rep->oracle_calls++;
	if (r < 0)
		return r;
	if (*nseen < 32) {
		snprintf(seen[*nseen], sizeof(seen[0]), "%s", node);
		dead[(*nseen)++] = r == 0;
	}
	return r == 0;
}

/* A pass's per-batch arrays, all of cap entries. */
struct bufs {
	unsigned cap;
	ipam_lease *batch, *judged;
	unsigned *pools, *judged_idx;
	int *verdicts, *ndead;
};

static void bufs_free(struct bufs *b)
{
	ipam__release(b->batch, b->cap * sizeof(*b->batch));
	ipam__release(b->judged, b->cap * sizeof(*b->judged));
	ipam__release(b->pools, b->cap * sizeof(*b->pools));
	ipam__release(b->judged_idx, b->cap * sizeof(*b->judged_idx));
	ipam__release(b->verdicts, b->cap * sizeof(*b->verdicts));
	ipam__release(b->ndead, b->cap * sizeof(*b->ndead));
	memset(b, 0, sizeof(*b));
}

/* (Re)make the arrays with cap entries; their contents are not kept. */
static int bufs_make(struct bufs *b, unsigned cap)
{
	bufs_free(b);
	b->cap = cap;
	b->batch = ipam__calloc(cap, sizeof(*b->batch));
	b->judged = ipam__calloc(cap, sizeof(*b->judged));
	b->pools = ipam__calloc(cap, sizeof(*b->pools));
	b->judged_idx = ipam__calloc(cap, sizeof(*b->judged_idx));
	b->verdicts = ipam__calloc(cap, sizeof(*b->verdicts));
	b->ndead = ipam__calloc(cap, sizeof(*b->ndead));
	if (!b->batch || !b->judged || !b->pools || !b->judged_idx || !b->verdicts || !b->ndead) {
		bufs_free(b);
		return ipam__fail_code(-ENOMEM);
	}
	return 0;
}

IPAM_EXPORT int ipam_gc(ipam_ctx *ctx, const char *set, const ipam_gc_oracle *oracle,
			const ipam_gc_policy *policy, ipam_gc_report **report)
{
	ipam_gc_policy pol;
	struct pass p;
	struct bufs b = { 0 };
	int pool = -1, r = 0;
	uint64_t pos = 0; /* hash value the walk resumes at */
	int walked = 0;
	char (*seen)[IPAM_NODE_MAX + 1] = NULL;

	if (report)
		*report = NULL;
	if (!oracle || oracle->version < 1 || (!oracle->judge && !oracle->judge_batch))
		return ipam__fail(-EINVAL, "oracle", NULL, "an oracle needs judge or judge_batch");
	ipam_gc_policy_init(&pol);
	if (policy) {
		if (policy->size < sizeof(size_t) || policy->size > sizeof(pol))
			return ipam__fail(-EINVAL, "policy.size", NULL, "set it to sizeof(ipam_gc_policy)");
		memcpy(&pol, policy, policy->size);
	}
	if (!pol.batch || pol.batch > 65536)
		pol.batch = 256;
	memset(&p, 0, sizeof(p));
	p.ctx = ctx;
	p.e = ipam__ctx_entry(ctx, set, &r);
	if (!p.e)
		return r;
	if ((r = ipam__need_whole_view(p.e)) < 0)
		return r;
	if (pol.pool && (pool = ipam__view_pool_index(p.e->view, pol.pool)) < 0)
		return ipam__fail(-ENOENT, "pool", pol.pool, "no such pool in set %s", set);
	p.o = oracle;
	p.pol = &pol;
	p.now = ipam__ctx_now_ms(ctx) / 1000;
	p.start_us = mono_us();
	p.rep = ipam__zalloc(sizeof(*p.rep));
	seen = ipam__calloc(32, sizeof(*seen));
	if (!p.rep || !seen) {
		r = ipam__fail_code(-ENOMEM);
		goto out;
	}
	if ((r = bufs_make(&b, pol.batch)) < 0)
		goto out;
	for (;;) {
		unsigned n, need, nj = 0, nseen = 0;
		int dead_flags[32];

		ipam__view_rdlock(p.e->view);
		n = collect(p.e->view, &pos, &walked, pool, b.batch, b.pools, b.cap, &need);
		ipam__view_rdunlock(p.e->view);
		if (need) { /* one bucket holds more than a batch: take it whole */
			if ((r = bufs_make(&b, need)) < 0)
				goto out;
			continue;
		}
		if (n == 0)
			break;
		for (unsigned i = 0; i < n; i++) {
			if (pol.min_age > 0 && b.batch[i].created > p.now - pol.min_age) {
				if ((r = record(p.rep, &pol, &b.batch[i], IPAM_GC_TOO_YOUNG,
						"created %lld s ago, min age %lld s",
						(long long)(p.now - b.batch[i].created),
						(long long)pol.min_age)) < 0)
					goto out;
				continue;
			}
			r = node_dead(&p, b.batch[i].node, seen, dead_flags, &nseen);
			if (r < 0) {
				p.rep->stopped = 1;
				p.rep->status = r;
				goto out;
			}
			b.ndead[nj] = r;
			b.judged[nj] = b.batch[i];
			b.judged_idx[nj++] = b.pools[i];
		}
		r = nj ? judge(oracle, b.judged, nj, b.verdicts, p.now, p.rep) : 0;
		if (r < 0) {
			p.rep->stopped = 1;
			p.rep->status = r;
			goto out;
		}
		for (unsigned i = 0; i < nj; i++) {
			r = handle(&p, &b.judged[i], b.judged_idx[i], b.verdicts[i], b.ndead[i]);
			if (r < 0) {
				p.rep->stopped = 1;
				p.rep->status = r;
				goto out;
			}
		}
	}
	r = 0;
out:
	if (p.rep)
		p.rep->duration_us = mono_us() - p.start_us;
	bufs_free(&b);
	ipam__release(seen, 32 * sizeof(*seen));
	ipam__release(p.acted, p.acted_cap * sizeof(*p.acted));
	if (report && p.rep)
		*report = p.rep;
	else
		ipam_gc_report_free(p.rep);
	return r;
}
