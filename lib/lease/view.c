/* SPDX-License-Identifier: MIT */
/*
 * The view: lease records, their three hash chains and each pool's
 * free-space index, changed only by ipam_view_apply() under the write lock.
 *
 * Apply is all or nothing without an undo log: every allocation it needs
 * (new records, hash-table growth, index room) is made before the first
 * change, after which nothing can fail.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hash.h"
#include "lease/view.h"
#include "pool_internal.h"

#define MIN_BUCKETS 64

/* ---- hashing ------------------------------------------------------------------ */

uint64_t ipam__view_hash_addr(const ipam_view *v, unsigned pool, ipam__u128 addr)
{
	uint8_t key[16];
	uint64_t hi = (uint64_t)(addr >> 64), lo = (uint64_t)addr;

	/* The pool goes into the seed: a 16-byte key hashes faster. */
	memcpy(key, &hi, 8);
	memcpy(key + 8, &lo, 8);
	return ipam__hash(key, sizeof(key), v->seed + (pool + 1) * 0x9e3779b97f4a7c15ull);
}

static uint64_t hash_str(const ipam_view *v, const char *s, uint64_t salt)
{
	return ipam__hash(s, strlen(s), v->seed ^ salt);
}

/* Chain salts: owner 1, attachment 2; the ifname part of an owner tag. */
#define SALT_IFNAME 0x69666e616d65ull

uint64_t ipam__view_hash_owner(const ipam_view *v, const char *owner, size_t len)
{
	return ipam__hash(owner, len, v->seed ^ 1);
}

/* A container id of 64 lowercase hex digits is kept as its 32 bytes
 * (record.h) and hashed as those, with its own salt. */
uint64_t ipam__view_hash_attach_packed(const ipam_view *v, const char *attachment, size_t len,
				       uint8_t bin[32], int *packed)
{
	*packed = ipam__hex64_pack(attachment, len, bin);
	if (*packed)
		return ipam__hash(bin, 32, v->seed ^ 3);
	return ipam__hash(attachment, len, v->seed ^ 2);
}

uint64_t ipam__view_hash_attach(const ipam_view *v, const char *attachment, size_t len)
{
	uint8_t bin[32];
	int packed;

	return ipam__view_hash_attach_packed(v, attachment, len, bin, &packed);
}

uint64_t ipam__view_owner_tag_h(const ipam_view *v, uint64_t h_owner, const char *ifname,
				size_t ifname_len)
{
	uint64_t h = h_owner * 0x9e3779b97f4a7c15ull;

	h ^= ipam__hash(ifname, ifname_len, v->seed ^ SALT_IFNAME);
	return h ? h : 1; /* 0 is "anonymous" to the index */
}

uint64_t ipam__view_rec_hash(const ipam_view *v, const struct ipam__rec *r, int link)
{
	switch (link) {
	case IPAM__LINK_ADDR:
		return ipam__view_hash_addr(v, r->pool, ipam__rec_addr(r));
	case IPAM__LINK_OWNER:
		return ipam__hash(ipam__rec_owner(r), r->owner_len, v->seed ^ 1);
	default:
		if (r->flags & IPAM__REC_ATTACH_HEX)
			return ipam__hash(ipam__rec_attach_raw(r), 32, v->seed ^ 3);
		return ipam__hash(ipam__rec_attach_raw(r), r->attach_len, v->seed ^ 2);
	}
}

/* ---- chains ---------------------------------------------------------------------- */

static int chains_init(struct ipam__chains *t)
{
	t->b = ipam__calloc(MIN_BUCKETS, sizeof(*t->b));
	if (!t->b)
		return -ENOMEM;
	t->nb = MIN_BUCKETS;
	t->shift = 64 - (unsigned)__builtin_ctzll(MIN_BUCKETS);
	t->count = 0;
	return 0;
}

/* Grow so that `extra` more records keep the load at most 1. */
int ipam__view_grow(ipam_view *v, int link, size_t extra)
{
	struct ipam__chains *t = &v->tab[link];
	ipam__rid *nb;
	size_t n = t->nb;

	while (t->count + extra > n)
		n *= 2;
	if (n == t->nb)
		return 0;
	nb = ipam__calloc(n, sizeof(*nb));
	if (!nb)
		return -ENOMEM;
	for (size_t i = 0; i < t->nb; i++) {
		struct ipam__rec *r = ipam__chain_head(v, link, i), *next;
		for (; r; r = next) {
			size_t h = (size_t)(ipam__view_rec_hash(v, r, link) >>
					    (64 - (unsigned)__builtin_ctzll(n)));
			next = ipam__rec_next(v, r, link);
			r->next[link] = nb[h];
			nb[h] = r->self;
		}
	}
	ipam__release(t->b, t->nb * sizeof(*t->b));
	t->b = nb;
	t->nb = n;
	t->shift = 64 - (unsigned)__builtin_ctzll(n);
	return 0;
}

static void chain_link_h(ipam_view *v, int link, struct ipam__rec *r, uint64_t hash)
{
	struct ipam__chains *t = &v->tab[link];
	size_t h = ipam__bucket(t, hash);

	r->next[link] = t->b[h];
	t->b[h] = r->self;
	t->count++;
}

static void chain_unlink_h(ipam_view *v, int link, struct ipam__rec *r, uint64_t hash)
{
	struct ipam__chains *t = &v->tab[link];
	ipam__rid *pp = &t->b[ipam__bucket(t, hash)];

	for (; *pp; pp = &ipam__rec_of(v, *pp)->next[link]) {
		if (*pp == r->self) {
			*pp = r->next[link];
			r->next[link] = 0;
			t->count--;
			return;
		}
	}
}

void ipam__view_link_h(ipam_view *v, struct ipam__rec *r, const uint64_t h[IPAM__NLINKS])
{
	for (int k = 0; k < IPAM__NLINKS; k++)
		chain_link_h(v, k, r, h[k]);
}

void ipam__view_unlink_h(ipam_view *v, struct ipam__rec *r, const uint64_t h[IPAM__NLINKS])
{
	for (int k = 0; k < IPAM__NLINKS; k++)
		chain_unlink_h(v, k, r, h[k] ? h[k] : ipam__view_rec_hash(v, r, k));
}

int ipam__view_presize(ipam_view *v, size_t nrecs, size_t bytes)
{
	int r = 0;

	for (int k = 0; k < IPAM__NLINKS && r == 0; k++)
		r = ipam__view_reserve(v, k, nrecs);
	if (r == 0)
		r = ipam__heap_reserve(v, bytes);
	return r;
}

/* ---- lookups --------------------------------------------------------------------- */

_Thread_local unsigned long ipam__scope_misses;

static int key_eq(const char *key, size_t key_len, const char *s, size_t len)
{
	return key && key_len == len && memcmp(key, s, len) == 0;
}

static int wants(const struct ipam__scope *s, unsigned state, const char *owner, size_t owner_len,
		 const char *attach, size_t attach_len, const ipam_addr *addr)
{
	if (!ipam__state_is_bound(state) || key_eq(s->owner, s->owner_len, owner, owner_len) ||
	    key_eq(s->attach, s->attach_len, attach, attach_len))
		return 1;
	for (unsigned i = 0; i < s->naddrs; i++)
		if (ipam_addr_cmp(&s->addrs[i], addr) == 0)
			return 1;
	return 0;
}

int ipam__scope_wants(const struct ipam__scope *s, const struct ipam__lease_ref *l)
{
	return wants(s, l->state, l->owner, l->owner_len, l->attach, l->attach_len, &l->addr);
}

int ipam__scope_wants_lease(const struct ipam__scope *s, const ipam_lease *l)
{
	return wants(s, l->state, l->owner, strnlen(l->owner, sizeof(l->owner)), l->attachment,
		     strnlen(l->attachment, sizeof(l->attachment)), &l->addr);
}

static void owner_in_scope(const ipam_view *v, const char *owner, size_t len)
{
	if (v->scope && !key_eq(v->scope->owner, v->scope->owner_len, owner, len))
		ipam__scope_misses++;
}

int ipam__view_ghost(const ipam_view *v, unsigned pool, ipam__u128 addr)
{
	const struct ipam__pool_state *ps = &v->pools[pool];
	ipam_addr a = { 0, 0, ipam_pool_family(ps->pool) };

	if (!v->scope)
		return 0;
	ipam__addr_set_value(&a, addr);
	/* Quarantined and reserved leases are always loaded: a used address
	 * with no record is a bound lease left out. */
	return ipam__index_state(ps->idx, &a) == IPAM__ADDR_USED;
}

struct ipam__rec *ipam__view_find_addr(const ipam_view *v, unsigned pool, ipam__u128 addr)
{
	struct ipam__rec *r = ipam__view_rec_at(v, pool, addr, ipam__view_hash_addr(v, pool, addr));

	if (!r && v->scope && ipam__view_ghost(v, pool, addr))
		ipam__scope_misses++;
	return r;
}

struct ipam__rec *ipam__view_rec_at(const ipam_view *v, unsigned pool, ipam__u128 addr,
				    uint64_t h_addr)
{
	const struct ipam__chains *t = &v->tab[IPAM__LINK_ADDR];
	struct ipam__rec *r = ipam__rec_of(v, t->b[ipam__bucket(t, h_addr)]);

	for (; r; r = ipam__rec_next(v, r, IPAM__LINK_ADDR))
		if (r->addr_lo == (uint64_t)addr && r->pool == pool && ipam__rec_addr(r) == addr)
			return r;
	return NULL;
}

static struct ipam__rec *owner_chain_raw(const ipam_view *v, const char *owner)
{
	const struct ipam__chains *t = &v->tab[IPAM__LINK_OWNER];
	return ipam__rec_of(v, t->b[ipam__bucket(t, hash_str(v, owner, 1))]);
}

struct ipam__rec *ipam__view_owner_chain(const ipam_view *v, const char *owner)
{
	owner_in_scope(v, owner, strlen(owner));
	return owner_chain_raw(v, owner);
}

struct ipam__rec *ipam__view_attach_chain_h(const ipam_view *v, const char *attachment, size_t len,
					    uint64_t h_attach)
{
	const struct ipam__chains *t = &v->tab[IPAM__LINK_ATTACH];

	if (v->scope && !key_eq(v->scope->attach, v->scope->attach_len, attachment, len))
		ipam__scope_misses++;
	return ipam__rec_of(v, t->b[ipam__bucket(t, h_attach)]);
}

struct ipam__rec *ipam__view_attach_chain(const ipam_view *v, const char *attachment)
{
	size_t len = strlen(attachment);

	return ipam__view_attach_chain_h(v, attachment, len, ipam__view_hash_attach(v, attachment, len));
}

static int owner_match(const ipam_view *v, const struct ipam__rec *r, unsigned pool,
		       const char *owner, const char *ifname)
{
	return r->pool == pool && strcmp(ipam__rec_owner(r), owner) == 0 &&
	       strcmp(ipam__rec_ifname(v, r), ifname) == 0;
}

struct ipam__rec *ipam__view_find_bound_h(const ipam_view *v, unsigned pool, const char *owner,
					  size_t owner_len, const char *ifname, size_t ifname_len,
					  uint64_t h_owner)
{
	owner_in_scope(v, owner, owner_len);
	return ipam__view_find_bound_raw_h(v, pool, owner, owner_len, ifname, ifname_len, h_owner);
}

struct ipam__rec *ipam__view_find_bound_raw_h(const ipam_view *v, unsigned pool,
					      const char *owner, size_t owner_len,
					      const char *ifname, size_t ifname_len, uint64_t h_owner)
{
	const struct ipam__chains *t = &v->tab[IPAM__LINK_OWNER];
	struct ipam__rec *r = ipam__rec_of(v, t->b[ipam__bucket(t, h_owner)]);

	for (; r; r = ipam__rec_next(v, r, IPAM__LINK_OWNER)) {
		const struct ipam__istr *ifn = &v->strs.e[r->ifname];
		if (ipam__state_is_bound(r->state) && r->pool == pool && r->owner_len == owner_len &&
		    ifn->len == ifname_len && memcmp(ipam__rec_owner(r), owner, owner_len) == 0 &&
		    memcmp(ifn->s, ifname, ifname_len) == 0)
			return r;
	}
	return NULL;
}

struct ipam__rec *ipam__view_find_bound(const ipam_view *v, unsigned pool, const char *owner,
					const char *ifname)
{
	size_t olen = strlen(owner);

	return ipam__view_find_bound_h(v, pool, owner, olen, ifname, strlen(ifname),
				       ipam__view_hash_owner(v, owner, olen));
}

struct ipam__rec *ipam__view_find_quarantined(const ipam_view *v, unsigned pool,
					      const char *owner, const char *ifname)
{
	/* Every quarantined record is loaded, even in a partial view. */
	struct ipam__rec *r = owner_chain_raw(v, owner), *best = NULL;

	for (; r; r = ipam__rec_next(v, r, IPAM__LINK_OWNER))
		if (r->state == IPAM_LEASE_QUARANTINED && owner_match(v, r, pool, owner, ifname) &&
		    (!best || ipam__rec_updated(r) > ipam__rec_updated(best)))
			best = r;
	return best;
}

int ipam__view_pool_index(const ipam_view *v, const char *name)
{
	for (unsigned i = 0; i < v->npools; i++)
		if (strcmp(ipam_pool_name(v->pools[i].pool), name) == 0)
			return (int)i;
	return -ENOENT;
}

/* ---- life cycle ------------------------------------------------------------------ */

IPAM_EXPORT int ipam_view_new(ipam_view **out, const ipam_poolset *set)
{
	ipam_view *v;
	struct timespec ts;
	int r = -ENOMEM;

	if (!out || !set || ipam_poolset_count(set) == 0)
		return ipam__fail(-EINVAL, "view", NULL, "a view needs a non-empty pool set");
	*out = NULL;
	v = ipam__zalloc(sizeof(*v));
	if (!v)
		return ipam__fail_code(-ENOMEM);
	v->set = set;
	v->npools = ipam_poolset_count(set);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	v->seed = ipam__hash(&ts, sizeof(ts), (uint64_t)(uintptr_t)v) ^ (uint64_t)(uintptr_t)&ts;
	ipam__view_touch(v);
	pthread_rwlock_init(&v->lock, NULL);
	v->pools = ipam__calloc(v->npools, sizeof(*v->pools));
	if (!v->pools)
		goto fail;
	for (unsigned i = 0; i < v->npools; i++) {
		struct ipam__pool_state *ps = &v->pools[i];
		uint32_t qs, qa;
		ps->pool = ipam_poolset_pool(set, i);
		ps->rng = v->seed ^ (0x9e3779b97f4a7c15ull * (i + 1));
		pthread_mutex_init(&ps->cursor_lock, NULL);
		ipam_pool_quarantine(ps->pool, &qs, &qa, NULL);
		ps->quarantine = qs || qa;
		r = ipam__index_new(&ps->idx, ps->pool);
		if (r < 0)
			goto fail;
	}
	for (int k = 0; k < IPAM__NLINKS; k++)
		if ((r = chains_init(&v->tab[k])) < 0)
			goto fail;
	if ((r = ipam__heap_init(v)) < 0)
		goto fail;
	*out = v;
	return 0;
fail:
	ipam_view_free(v);
	return ipam__fail_code(r);
}

IPAM_EXPORT ipam_view *ipam_view_free(ipam_view *v)
{
	if (!v)
		return NULL;
	ipam__heap_fini(v);
	ipam__release(v->stranded.e, v->stranded.cap * sizeof(*v->stranded.e));
	ipam__release(v->stranded.b, v->stranded.cap * sizeof(*v->stranded.b));
	for (int k = 0; k < IPAM__NLINKS; k++)
		ipam__release(v->tab[k].b, v->tab[k].nb * sizeof(*v->tab[k].b));
	if (v->pools) {
		for (unsigned i = 0; i < v->npools; i++) {
			ipam__index_free(v->pools[i].idx);
			pthread_mutex_destroy(&v->pools[i].cursor_lock);
		}
		ipam__release(v->pools, v->npools * sizeof(*v->pools));
	}
	pthread_rwlock_destroy(&v->lock);
	ipam__release(v, sizeof(*v));
	return NULL;
}

IPAM_EXPORT const ipam_poolset *ipam_view_poolset(const ipam_view *v)
{
	return v ? v->set : NULL;
}

IPAM_EXPORT uint64_t ipam_view_revision(const ipam_view *v)
{
	return v ? v->revision : 0;
}

/* One counter for every view of the process: a stamp is never shared by
 * two views, so a change set decided on one view and checked against
 * another never passes for unchanged. */
static _Atomic uint64_t stamps;

void ipam__view_touch(ipam_view *v)
{
	v->stamp = atomic_fetch_add_explicit(&stamps, 1, memory_order_relaxed) + 1;
}

IPAM_EXPORT uint64_t ipam_view_stamp(const ipam_view *v)
{
	return v ? v->stamp : 0;
}

/*
 * Both sides of the view lock are held for well under a microsecond (a
 * decision, a check-and-apply: a whole allocate+release through the API
 * takes ~0.8 us in bench-ctx), less than putting a thread to sleep and
 * waking it costs (a futex round trip and two context switches). glibc's
 * rwlock sleeps at once on contention: with two threads on two cores they
 * convoyed (bench-ctx fine mode, 2 threads: 0.69-0.95 M ops/s against
 * 1.8-2.7 M with one). So try LOCK_SPINS times, with a pause between
 * tries, before blocking; a holder that was
 * descheduled still ends in the blocking call.
 */
#define LOCK_SPINS 64

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

IPAM_EXPORT void ipam_view_lock(ipam_view *v)
{
	for (int i = 0; i < LOCK_SPINS; i++) {
		if (pthread_rwlock_trywrlock(&v->lock) == 0)
			return;
		cpu_relax();
	}
	pthread_rwlock_wrlock(&v->lock);
}

IPAM_EXPORT void ipam_view_unlock(ipam_view *v)
{
	pthread_rwlock_unlock(&v->lock);
}

void ipam__view_rdlock(ipam_view *v)
{
	for (int i = 0; i < LOCK_SPINS; i++) {
		if (pthread_rwlock_tryrdlock(&v->lock) == 0)
			return;
		cpu_relax();
	}
	pthread_rwlock_rdlock(&v->lock);
}

void ipam__view_rdunlock(ipam_view *v)
{
	pthread_rwlock_unlock(&v->lock);
}

/* ---- verification ---------------------------------------------------------------- */

int ipam__view_verify(ipam_view *v)
{
	const struct ipam__chains *t = &v->tab[IPAM__LINK_ADDR];
	uint64_t held_count[256] = { 0 };
	char buf[IPAM_ADDR_STRLEN];
	size_t n = 0;

	if (v->npools > 256)
		return 0;
	for (size_t i = 0; i < t->nb; i++) {
		for (const struct ipam__rec *r = ipam__chain_head(v, IPAM__LINK_ADDR, i); r;
		     r = ipam__rec_next(v, r, IPAM__LINK_ADDR)) {
			const struct ipam__pool_state *ps = &v->pools[r->pool];
			ipam_addr a = { 0, 0, ipam__rec_family(v, r) };
			int st;

			n++;
			ipam__addr_set_value(&a, ipam__rec_addr(r));
			ipam_addr_format(&a, buf, sizeof(buf));
			st = ipam__index_state(ps->idx, &a);
			if (r->state == IPAM_LEASE_QUARANTINED) {
				if (st == IPAM__ADDR_USED)
					return ipam__fail(-EBADMSG, "verify", buf,
							  "quarantined record but the index says used");
				continue;
			}
			held_count[r->pool]++;
			if (st != IPAM__ADDR_USED)
				return ipam__fail(-EBADMSG, "verify", buf,
						  "%s record but the index says %s",
						  ipam_lease_state_name((ipam_lease_state)r->state),
						  st == IPAM__ADDR_FREE ? "free" : "quarantined");
			if (ipam__state_is_bound(r->state) &&
			    ipam__view_find_bound(v, r->pool, ipam__rec_owner(r), ipam__rec_ifname(v, r)) != r)
				return ipam__fail(-EBADMSG, "verify", buf,
						  "owner %s/%s holds two bound leases in pool %s",
						  ipam__rec_owner(r), ipam__rec_ifname(v, r),
						  ipam_pool_name(ps->pool));
		}
	}
	if (n != t->count || v->tab[IPAM__LINK_OWNER].count != n || v->tab[IPAM__LINK_ATTACH].count != n)
		return ipam__fail(-EBADMSG, "verify", NULL, "hash chains disagree on the record count");
	if (n != v->heap.live)
		return ipam__fail(-EBADMSG, "verify", NULL, "%zu records linked, %zu allocated", n,
				  v->heap.live);
	for (unsigned p = 0; p < v->npools; p++) {
		struct ipam__index_counts c;
		ipam__index_counts(v->pools[p].idx, &c);
		if (c.used != held_count[p])
			return ipam__fail(-EBADMSG, "verify", ipam_pool_name(v->pools[p].pool),
					  "index counts %llu used, records say %llu",
					  (unsigned long long)c.used, (unsigned long long)held_count[p]);
		if (c.used + c.quarantined + c.free != c.total)
			return ipam__fail(-EBADMSG, "verify", ipam_pool_name(v->pools[p].pool),
					  "index counts do not add up");
	}
	if (v->stranded.n)
		return ipam__fail(-EBADMSG, "verify", NULL, "%u stranded leases outside a load",
				  v->stranded.n);
	return ipam__heap_verify(v);
}

int ipam__view_reset(ipam_view *v)
{
	ipam__index *fresh[256];

	if (v->npools > 256)
		return -E2BIG;
	for (unsigned i = 0; i < v->npools; i++) {
		if (ipam__index_new(&fresh[i], v->pools[i].pool) < 0) {
			while (i-- > 0)
				ipam__index_free(fresh[i]);
			return ipam__fail_code(-ENOMEM);
		}
	}
	ipam__heap_clear(v);
	for (int k = 0; k < IPAM__NLINKS; k++) {
		memset(v->tab[k].b, 0, v->tab[k].nb * sizeof(*v->tab[k].b));
		v->tab[k].count = 0;
	}
	for (unsigned i = 0; i < v->npools; i++) {
		ipam__index_free(v->pools[i].idx);
		v->pools[i].idx = fresh[i];
		v->pools[i].version = 0;
		v->pools[i].reserved = 0;
		v->pools[i].cursor = 0;
	}
	v->revision = 0;
	ipam__view_stranded_clear(v);
	ipam__view_touch(v);
	return 0;
}
