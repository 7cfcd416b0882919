/* SPDX-License-Identifier: MIT */
/*
 * The compact record store of a view (lease/record.h, lease/heap.c): every
 * field of a lease comes back exactly as it went in, whichever of the
 * compact forms it took (32-bit times or wide ones, a packed container id or
 * text, interned ifname and node, the high half of an IPv6 address); a
 * container id is found by its text either way; freed blocks and interned
 * strings are given back and taken again, so churn does not grow the view;
 * and a seeded random run of puts and deletes against a plain array of
 * leases (the model), with the view verified as it goes.
 */
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include <ipam/ipam.h>

#include "lease/view.h"
#include "lease_eq.h"
#include "testutil.h"

static ipam_poolset *set;
static ipam_view *view;
static uint64_t rev;

static void setup(void)
{
	ipam_pool *p4 = NULL, *p6 = NULL;

	ck_assert_int_eq(ipam_pool_new_str(&p4, "v4", "10.0.0.0/16"), 0);
	ck_assert_int_eq(ipam_pool_new_str(&p6, "v6", "fd00:1:2::/112"), 0);
	ck_assert_int_eq(ipam_pool_set_quarantine(p6, 30, 0, 0), 0);
	ck_assert_int_eq(ipam_poolset_new(&set, "net"), 0);
	ck_assert_int_eq(ipam_poolset_add(set, p4), 0);
	ck_assert_int_eq(ipam_poolset_add(set, p6), 0);
	ck_assert_int_eq(ipam_view_new(&view, set), 0);
	rev = 0;
}

static void teardown(void)
{
	ipam_view_free(view);
	ipam_poolset_free(set);
}

static unsigned pool_of(const ipam_lease *l)
{
	return l->addr.family == IPAM_AF_INET ? 0 : 1;
}

/* One op in its own change set, applied at the next revision. */
static int apply_one(ipam_op_kind kind, const ipam_lease *l)
{
	ipam_op op;
	ipam_txn txn;

	memset(&op, 0, sizeof(op));
	memset(&txn, 0, sizeof(txn));
	op.kind = kind;
	op.pool = pool_of(l);
	if (kind == IPAM_OP_PUT)
		op.lease = *l;
	else
		op.lease.addr = l->addr; /* a deletion names its address */
	op.flags = IPAM_OP_F_KEEP_GENERATION;
	txn.ops = &op;
	txn.nops = 1;
	txn.now_ms = 1700000000000;
	return ipam_view_apply(view, &txn, ++rev);
}

static int put(const ipam_lease *l)
{
	return apply_one(IPAM_OP_PUT, l);
}

static int del(const ipam_addr *a)
{
	ipam_lease l;

	l.addr = *a;
	return apply_one(IPAM_OP_DELETE, &l);
}

static void base_lease(ipam_lease *l, const char *addr)
{
	memset(l, 0, sizeof(*l));
	ck_assert_int_eq(ipam_addr_parse(addr, &l->addr), 0);
	strcpy(l->pool, strchr(addr, ':') ? "v6" : "v4");
	strcpy(l->owner, "ns/pod-5d8f7c9b6-x2k4q");
	strcpy(l->ifname, "eth0");
	strcpy(l->attachment, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
	strcpy(l->node, "worker-1");
	l->generation = 7;
	l->state = IPAM_LEASE_BOUND;
	l->created = 1700000000;
	l->updated = 1700000100;
}

/* Every field of the record at l->addr equals l's. */
static void expect_record(const ipam_lease *l)
{
	const struct ipam__rec *r = ipam__view_find_addr(view, pool_of(l), ipam__addr_value(&l->addr));
	ipam_lease got;
	char want_addr[IPAM_ADDR_STRLEN], why[700];

	ipam_addr_format(&l->addr, want_addr, sizeof(want_addr));
	ck_assert_msg(r != NULL, "no record at %s", want_addr);
	memset(&got, 0x5a, sizeof(got));
	ipam__rec_export(view, r, l->pool, &got);
	ck_assert_msg(!tu_lease_diff(&got, l, why, sizeof(why)), "record at %s, %s", want_addr, why);
	/* Found by its attachment text, and by its owner. */
	{
		const struct ipam__rec *x = ipam__view_attach_chain(view, l->attachment);
		while (x && x != r)
			x = ipam__rec_next(view, x, IPAM__LINK_ATTACH);
		ck_assert_msg(x == r, "%s not in the chain of its attachment", want_addr);
		ck_assert(ipam__rec_attach_eq(r, l->attachment, strlen(l->attachment)));
	}
	/* And not by another one of the same length. */
	if (l->attachment[0]) {
		char other[IPAM_ATTACHMENT_MAX + 1];
		size_t n = strlen(l->attachment);
		memcpy(other, l->attachment, n + 1);
		other[n - 1] = other[n - 1] == '0' ? '1' : '0';
		ck_assert(!ipam__rec_attach_eq(r, other, n));
	}
	if (l->state == IPAM_LEASE_BOUND || l->state == IPAM_LEASE_SUSPECT)
		ck_assert_ptr_eq(ipam__view_find_bound(view, pool_of(l), l->owner, l->ifname), r);
}

START_TEST(edge_fields_round_trip)
{
	static const int64_t times[] = { 0, 1, (int64_t)UINT32_MAX, (int64_t)UINT32_MAX + 1, -1,
					 INT64_MIN, INT64_MAX, 1700000000 };
	static const char *attach[] = {
		"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", /* packed */
		"9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08", /* upper: text */
		"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a0",  /* 63 */
		"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08a", /* 65 */
		"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a0g", /* not hex */
		"",
		"containerd://abc/eth0",
	};
	ipam_lease l;
	char buf[64];
	unsigned n = 0;

	for (size_t t = 0; t < sizeof(times) / sizeof(times[0]); t++) {
		for (size_t a = 0; a < sizeof(attach) / sizeof(attach[0]); a++) {
			for (int fam = 0; fam < 2; fam++) {
				if (fam)
					snprintf(buf, sizeof(buf), "fd00:1:2::%x", n + 1);
				else
					snprintf(buf, sizeof(buf), "10.0.%u.%u", (n + 1) / 250, (n + 1) % 250 + 1);
				base_lease(&l, buf);
				snprintf(l.owner, sizeof(l.owner), "owner-%u", n);
				strcpy(l.attachment, attach[a]);
				l.created = times[t];
				l.updated = times[(t + 3) % 8];
				l.expires = (n % 3) ? times[(t + 1) % 8] : 0;
				l.suspect_since = (n % 5 == 1) ? times[(t + 2) % 8] : 0;
				l.state = l.suspect_since ? IPAM_LEASE_SUSPECT : IPAM_LEASE_BOUND;
				l.generation = n % 2 ? UINT64_MAX - n : n + 1;
				ck_assert_int_eq(put(&l), 0);
				expect_record(&l);
				n++;
			}
		}
	}
	ck_assert_int_eq(ipam__view_verify(view), 0);
}
END_TEST

START_TEST(longest_fields_round_trip)
{
	ipam_lease l;

	base_lease(&l, "fd00:1:2::ffff");
	memset(l.owner, 'o', IPAM_OWNER_MAX);
	l.owner[IPAM_OWNER_MAX] = '\0';
	memset(l.ifname, 'i', IPAM_IFNAME_MAX);
	l.ifname[IPAM_IFNAME_MAX] = '\0';
	memset(l.attachment, 'a', IPAM_ATTACHMENT_MAX);
	l.attachment[IPAM_ATTACHMENT_MAX] = '\0';
	memset(l.node, 'n', IPAM_NODE_MAX);
	l.node[IPAM_NODE_MAX] = '\0';
	l.created = INT64_MIN;
	l.updated = INT64_MAX;
	l.expires = -5;
	l.suspect_since = INT64_MAX;
	l.state = IPAM_LEASE_SUSPECT;
	l.nattrs = IPAM_ATTRS_MAX;
	for (unsigned i = 0; i < IPAM_ATTRS_MAX; i++) {
		memset(l.attrs[i].key, 'k', IPAM_ATTR_KEY_MAX);
		l.attrs[i].key[IPAM_ATTR_KEY_MAX] = '\0';
		l.attrs[i].key[0] = (char)('0' + i);
		memset(l.attrs[i].value, 'v', IPAM_ATTR_VALUE_MAX);
		l.attrs[i].value[IPAM_ATTR_VALUE_MAX] = '\0';
	}
	ck_assert_int_eq(put(&l), 0);
	expect_record(&l);
	ck_assert_int_eq(ipam__view_verify(view), 0);
}
END_TEST

START_TEST(packed_id_is_not_its_uppercase)
{
	ipam_lease l;
	const char *lower = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	const char *upper = "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF";
	const struct ipam__rec *r;

	base_lease(&l, "10.0.0.5");
	strcpy(l.attachment, lower);
	ck_assert_int_eq(put(&l), 0);
	r = ipam__view_find_addr(view, 0, ipam__addr_value(&l.addr));
	ck_assert(r->flags & IPAM__REC_ATTACH_HEX);
	ck_assert(ipam__rec_attach_eq(r, lower, 64));
	ck_assert(!ipam__rec_attach_eq(r, upper, 64));
	ck_assert(!ipam__rec_attach_eq(r, lower, 63));
	for (const struct ipam__rec *x = ipam__view_attach_chain(view, upper); x;
	     x = ipam__rec_next(view, x, IPAM__LINK_ATTACH))
		ck_assert(!ipam__rec_attach_eq(x, upper, 64));
}
END_TEST

/* The packer against a digit-by-digit reference: every byte value at every
 * position of a valid id, and random ids with a few digits changed. */
static int ref_pack(const char *s, uint8_t out[32])
{
	for (int i = 0; i < 64; i++) {
		const char *d = strchr("0123456789abcdef", s[i]);
		if (!s[i] || !d)
			return 0;
		if (i % 2)
			out[i / 2] = (uint8_t)(out[i / 2] | (d - "0123456789abcdef"));
		else
			out[i / 2] = (uint8_t)((d - "0123456789abcdef") << 4);
	}
	return 1;
}

/* Both packers (the one this host uses, and the digit-by-digit one other
 * hosts use) give the reference's answer for id. */
static void expect_packs(const char *id, size_t len)
{
	uint8_t want[32], got[32];
	int r = len == 64 && ref_pack(id, want);

	ck_assert_int_eq(ipam__hex64_pack(id, len, got), r);
	if (r)
		ck_assert_mem_eq(got, want, 32);
	ck_assert_int_eq(ipam__hex64_pack_digits(id, len, got), r);
	if (r)
		ck_assert_mem_eq(got, want, 32);
}

START_TEST(hex_pack_matches_reference)
{
	char id[65];
	uint64_t seed = tu_seed("hex pack");

	for (int i = 0; i < 64; i++)
		id[i] = "0123456789abcdef"[i % 16];
	id[64] = '\0';
	for (int pos = 0; pos < 64; pos++) {
		for (int c = 1; c < 256; c++) {
			char t[65];
			memcpy(t, id, sizeof(t));
			t[pos] = (char)c;
			expect_packs(t, 64);
		}
	}
	for (long k = 0; k < 200000; k++) {
		for (int i = 0; i < 64; i++)
			id[i] = "0123456789abcdef"[tu_splitmix(&seed) % 16];
		for (int j = (int)(tu_splitmix(&seed) % 3); j > 0; j--)
			id[tu_splitmix(&seed) % 64] = (char)(tu_splitmix(&seed) % 256);
		expect_packs(id, 64);
	}
	expect_packs(id, 63);
	expect_packs(id, 65);
}
END_TEST

static size_t live_strings(void)
{
	return view->strs.count;
}

START_TEST(strings_and_blocks_given_back)
{
	ipam_lease l;
	char buf[32];
	const unsigned n = 3000;
	size_t bytes_after_first = 0;

	/* Rounds of: put n leases on 3 nodes x 2 ifnames, delete them all.
	 * Owners change length a little from round to round (pods come back
	 * with other names): the freed blocks are taken again. */
	for (unsigned round = 0; round < 12; round++) {
		for (unsigned i = 0; i < n; i++) {
			snprintf(buf, sizeof(buf), "10.0.%u.%u", i / 250, i % 250 + 1);
			base_lease(&l, buf);
			snprintf(l.owner, sizeof(l.owner), "namespace-%u/pod-%.*s-%u", i % 7,
				 (int)((round + i) % 4), "abcd", i);
			snprintf(l.node, sizeof(l.node), "worker-%u", i % 3);
			strcpy(l.ifname, i % 2 ? "eth0" : "net1");
			ck_assert_int_eq(put(&l), 0);
		}
		ck_assert_uint_eq(view->heap.live, n);
		ck_assert_uint_eq(live_strings(), 5); /* 3 nodes, 2 ifnames */
		ck_assert_int_eq(ipam__view_verify(view), 0);
		for (unsigned i = 0; i < n; i++) {
			snprintf(buf, sizeof(buf), "10.0.%u.%u", i / 250, i % 250 + 1);
			ck_assert_int_eq(ipam_addr_parse(buf, &l.addr), 0);
			ck_assert_int_eq(del(&l.addr), 0);
		}
		ck_assert_uint_eq(view->heap.live, 0);
		ck_assert_uint_eq(live_strings(), 0);
		if (round == 0)
			bytes_after_first = ipam__heap_bytes(view);
		else
			ck_assert_uint_eq(ipam__heap_bytes(view), bytes_after_first);
	}
}
END_TEST

/* ---- through a file store: container ids packed on load ------------------------------ */

static char fdir[64];

static ipam_ctx *file_ctx(ipam_store **st, const char *scope_attach)
{
	ipam_file_store_options o;
	ipam_file_store_scope sc = { NULL, scope_attach, NULL, 0 };
	ipam_ctx *c = NULL;
	ipam_poolset *fs = NULL;
	ipam_pool *p = NULL;

	ipam_file_store_options_init(&o);
	o.durability = IPAM_DURABILITY_NONE;
	o.scope = scope_attach ? &sc : NULL;
	ck_assert_int_eq(ipam_store_file_new(st, fdir, &o), 0);
	ck_assert_int_eq(ipam_ctx_new(&c, *st, NULL), 0);
	ck_assert_int_eq(ipam_pool_new_str(&p, "v4", "10.9.0.0/24"), 0);
	ck_assert_int_eq(ipam_poolset_new(&fs, "files"), 0);
	ck_assert_int_eq(ipam_poolset_add(fs, p), 0);
	ck_assert_int_eq(ipam_ctx_add_poolset(c, fs), 0);
	return c;
}

static void file_close(ipam_ctx *c, ipam_store *st)
{
	ipam_ctx_free(c);
	ipam_store_free(st);
}

static void id_of(unsigned i, char *out)
{
	/* Lowercase ids, some uppercase ones (kept as text), one of 63. */
	snprintf(out, 80, i % 5 == 4 ? "%016X%016X%016X%016X" : "%016x%016x%016x%016x",
		 i * 7919u, i * 104729u, i, ~i);
	if (i == 7)
		out[63] = '\0';
}

/* Every lease found by its container id's text after a reopen, from the
 * log and then from a snapshot, whole and scoped to that id. */
START_TEST(file_store_ids)
{
	const unsigned n = 40;
	char id[80], owner[32];
	ipam_store *st;
	ipam_ctx *c;
	ipam_lease got[2];
	unsigned k;

	snprintf(fdir, sizeof(fdir), "/tmp/ipam-records-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(fdir));
	c = file_ctx(&st, NULL);
	for (unsigned i = 0; i < n; i++) {
		ipam_request r = { .poolset = "files", .owner = owner, .ifname = "eth0", .attachment = id };
		snprintf(owner, sizeof(owner), "ns/pod-%u", i);
		id_of(i, id);
		k = 1;
		ck_assert_int_eq(ipam_allocate(c, &r, got, &k), 0);
	}
	file_close(c, st);
	for (int pass = 0; pass < 2; pass++) {
		c = file_ctx(&st, NULL);
		for (unsigned i = 0; i < n; i++) {
			id_of(i, id);
			k = 2;
			ck_assert_int_eq(ipam_lookup_attachment(c, "files", id, got, &k), 0);
			ck_assert_uint_eq(k, 1);
			ck_assert_str_eq(got[0].attachment, id);
			snprintf(owner, sizeof(owner), "ns/pod-%u", i);
			ck_assert_str_eq(got[0].owner, owner);
			if (i % 5 != 4) { /* the uppercase twin of a lowercase id is another id */
				for (char *x = id; *x; x++)
					if (*x >= 'a' && *x <= 'f')
						*x = (char)(*x - 'a' + 'A');
				k = 2;
				ck_assert_int_eq(ipam_lookup_attachment(c, "files", id, got, &k), 0);
				ck_assert_uint_eq(k, 0);
			}
		}
		ck_assert_int_eq(ipam_verify(c, "files"), 0);
		if (pass == 0)
			ck_assert_int_eq(ipam_store_file_compact(st, "files"), 0);
		file_close(c, st);
	}
	/* Scoped to one id: its lease is there, and its release works. */
	id_of(3, id);
	c = file_ctx(&st, id);
	k = 2;
	ck_assert_int_eq(ipam_lookup_attachment(c, "files", id, got, &k), 0);
	ck_assert_uint_eq(k, 1);
	ck_assert_str_eq(got[0].attachment, id);
	ck_assert_int_eq(ipam_release_attachment(c, "files", id, 0), 1);
	file_close(c, st);
	c = file_ctx(&st, NULL);
	k = 2;
	ck_assert_int_eq(ipam_lookup_attachment(c, "files", id, got, &k), 0);
	ck_assert_uint_eq(k, 0);
	file_close(c, st);
	for (const char *const *f = (const char *const[]){ "files.snap", "files.log", "files.lock", NULL };
	     *f; f++) {
		char path[128];
		snprintf(path, sizeof(path), "%s/%s", fdir, *f);
		unlink(path);
	}
	ck_assert_int_eq(rmdir(fdir), 0);
}
END_TEST

/* ---- out of memory ------------------------------------------------------------------ */

static long budget = -1;

/* An allocator that fails from the budget-th allocation on, and keeps each
 * block's size in front of it to check every size it is told back. */
static void *f_alloc(size_t size, void *ud)
{
	size_t *p;

	(void)ud;
	if (budget == 0)
		return NULL;
	if (budget > 0)
		budget--;
	if (!(p = malloc(size + 16)))
		return NULL;
	p[0] = size;
	return p + 2;
}

static void f_release(void *q, size_t size, void *ud)
{
	size_t *p;

	(void)ud;
	if (!q)
		return;
	p = (size_t *)q - 2;
	if (p[0] != size) {
		fprintf(stderr, "released %zu bytes as %zu\n", p[0], size);
		abort();
	}
	free(p);
}

static void *f_resize(void *q, size_t o, size_t n, void *ud)
{
	size_t *p;

	if (!q)
		return f_alloc(n, ud);
	p = (size_t *)q - 2;
	if (p[0] != o) {
		fprintf(stderr, "resized %zu bytes as %zu\n", p[0], o);
		abort();
	}
	if (budget == 0)
		return NULL;
	if (budget > 0)
		budget--;
	if (!(p = realloc(p, n + 16)))
		return NULL;
	p[0] = n;
	return p + 2;
}

static void oom_lease(ipam_lease *l, unsigned i)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "10.0.%u.%u", i / 250, i % 250 + 1);
	base_lease(l, buf);
	/* Records of several sizes, so freed blocks and chunk rests of
	 * every size are taken again. */
	snprintf(l->owner, sizeof(l->owner), "namespace-%u/pod-%u-%.*s", i % 7, i, (int)(i * 7 % 29),
		 "abcdefghijklmnopqrstuvwxyz0123");
	snprintf(l->node, sizeof(l->node), "worker-%u", i % 40); /* > 8 and 16 strings */
}

/* Puts and deletes that need the view itself, new heap chunks, a longer
 * chunk table, more interned strings and string buckets, with the n-th
 * allocation failing, for every n until none fails: a failed call leaves
 * nothing behind (every record as the model says, verify passes), the same
 * call works once memory is back, every size given back is the size
 * allocated, and at the end every block and string is returned. */
START_TEST(out_of_memory)
{
	static const ipam_allocator fa = { f_alloc, f_resize, f_release, NULL };
	static ipam_lease model[2600];
	static int present[2600];
	const unsigned nputs = 2600; /* more than a chunk of these records (~2000) */
	long failures = 0;

	teardown(); /* the fixture's view was made with the default allocator */
	for (long n = 0;; n++) {
		int failed = 0, e;

		ck_assert_int_eq(ipam_set_allocator(&fa), 0);
		budget = -1;
		{
			ipam_pool *p4 = NULL;
			ck_assert_int_eq(ipam_pool_new_str(&p4, "v4", "10.0.0.0/16"), 0);
			ck_assert_int_eq(ipam_poolset_new(&set, "net"), 0);
			ck_assert_int_eq(ipam_poolset_add(set, p4), 0);
		}
		budget = n;
		if ((e = ipam_view_new(&view, set)) < 0) {
			ck_assert_int_eq(e, -ENOMEM);
			ipam_poolset_free(set);
			ipam_set_allocator(NULL);
			failures++;
			continue;
		}
		rev = 0;
		memset(present, 0, sizeof(present));
		for (unsigned i = 0; i < nputs; i++) {
			unsigned victim = i * 7919 % (i + 1); /* some earlier lease */
			if (i % 3 == 2 && present[victim]) {
				e = del(&model[victim].addr);
				if (e == -ENOMEM) {
					failed = 1;
					expect_record(&model[victim]);
					budget = -1;
					e = del(&model[victim].addr);
				}
				ck_assert_msg(e == 0, "N=%ld delete %u: %s", n, victim, ipam_strerror(e));
				present[victim] = 0;
			}
			oom_lease(&model[i], i);
			e = put(&model[i]);
			if (e == -ENOMEM) {
				failed = 1;
				ck_assert_ptr_null(
					ipam__view_find_addr(view, 0, ipam__addr_value(&model[i].addr)));
				ck_assert_int_eq(ipam__view_verify(view), 0);
				budget = -1;
				e = put(&model[i]); /* memory back: it works */
			}
			ck_assert_msg(e == 0, "N=%ld put %u: %s", n, i, ipam_strerror(e));
			present[i] = 1;
		}
		budget = -1;
		for (unsigned i = 0; i < nputs; i++)
			if (present[i])
				expect_record(&model[i]);
		ck_assert_int_eq(ipam__view_verify(view), 0);
		for (unsigned i = 0; i < nputs; i++)
			if (present[i])
				ck_assert_int_eq(del(&model[i].addr), 0);
		ck_assert_uint_eq(view->heap.live, 0);
		ck_assert_uint_eq(live_strings(), 0);
		teardown();
		ipam_set_allocator(NULL);
		if (!failed)
			break; /* the budget outlasted every call */
		failures++;
	}
	ck_assert_int_gt(failures, 10);
	printf("records out of memory: %ld allocation points failed cleanly\n", failures);
	setup();
}
END_TEST

/* A full chunk: a record that needs a new one fails cleanly when no chunk
 * can be had, and goes into a second chunk when one can; the rest of the
 * first still takes a record that fits it. */
START_TEST(full_chunk_then_no_memory)
{
	static const ipam_allocator fa = { f_alloc, f_resize, f_release, NULL };
	const struct ipam__rec *r;
	ipam_lease l, a;
	char buf[32];
	unsigned i = 0;

	teardown();
	ck_assert_int_eq(ipam_set_allocator(&fa), 0);
	budget = -1;
	setup();
	/* 16-unit records until the first chunk has 15 units left. */
	for (;; i++) {
		snprintf(buf, sizeof(buf), "10.0.%u.%u", i / 250, i % 250 + 1);
		base_lease(&l, buf);
		snprintf(l.owner, sizeof(l.owner), "o%05u-%s", i, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
		l.owner[39] = '\0'; /* 56 + 40 + 32 = 128 bytes */
		ck_assert_int_eq(put(&l), 0);
		ck_assert_uint_eq(view->heap.nchunks, 1);
		if (view->heap.free_units < 16)
			break;
	}
	ck_assert_uint_eq(view->heap.free_units, (IPAM__HEAP_UNITS - 1) % 16);
	ck_assert_uint_eq(view->heap.free_units, 15);
	base_lease(&l, "10.0.200.1");
	snprintf(l.owner, sizeof(l.owner), "%s", "pppppppppppppppppppppppppppppppppppppp");
	budget = 0;
	ck_assert_int_eq(put(&l), -ENOMEM); /* no second chunk */
	ck_assert_ptr_null(ipam__view_find_addr(view, 0, ipam__addr_value(&l.addr)));
	ck_assert_int_eq(ipam__view_verify(view), 0);
	budget = -1;
	ck_assert_int_eq(put(&l), 0);
	ck_assert_uint_eq(view->heap.nchunks, 2);
	/* A 15-unit record takes the rest of the first chunk. */
	base_lease(&a, "10.0.201.1");
	snprintf(a.owner, sizeof(a.owner), "%s", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	ck_assert_int_eq(put(&a), 0);
	r = ipam__view_find_addr(view, 0, ipam__addr_value(&a.addr));
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->self >> IPAM__HEAP_UNIT_BITS, 0);
	expect_record(&l);
	expect_record(&a);
	ck_assert_int_eq(ipam__view_verify(view), 0);
	teardown();
	ipam_set_allocator(NULL);
	setup();
}
END_TEST

/* ---- the heap's allocator against a model ------------------------------------------- */

struct mblock {
	struct ipam__rec *b;
	unsigned units;
	uint64_t tag;
};

/* Fill a block's bytes after its header with its tag; a block that
 * overlaps another, or is written over, fails heap_check_blocks(). */
static void mblock_fill(struct mblock *m)
{
	m->b->state = IPAM_LEASE_BOUND; /* the heap reads a neighbour's state */
	for (size_t k = sizeof(struct ipam__rec); k + 8 <= (size_t)m->units * 8; k += 8)
		memcpy((char *)m->b + k, &m->tag, 8);
}

static void heap_check_blocks(const struct mblock *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t w;
		ck_assert_uint_ge(m[i].b->units, m[i].units);
		for (size_t k = sizeof(struct ipam__rec); k + 8 <= (size_t)m[i].units * 8; k += 8) {
			memcpy(&w, (const char *)m[i].b + k, 8);
			ck_assert_msg(w == m[i].tag, "block %zu written over at byte %zu", i, k);
		}
		ck_assert_ptr_eq(ipam__rec_block(view, m[i].b->self), m[i].b);
	}
}

/* Chunks the heap holds. */
static size_t chunks_held(void)
{
	return view->heap.nchunks - view->heap.holes;
}

/*
 * Random allocations and frees of blocks of 7 to 255 units, in phases
 * whose sizes drift from small to large and back (pods come back with
 * other names): every live block keeps its bytes, the heap verifies, and
 * the chunks held stay within a bound of what the live blocks need, at
 * every step. At the end every block is given back and at most one chunk
 * is kept.
 */
START_TEST(heap_against_model)
{
	uint64_t seed = tu_seed("heap_against_model"), rs = seed;
	enum { LIVE = 6000 };
	static struct mblock m[LIVE];
	size_t n = 0, most = 0, live_units = 0, peak_units = 0;
	const long steps = tu_scale(400000);

	for (long step = 0; step < steps; step++) {
		/* The centre of the sizes drifts over 7..255 and back. */
		long phase = step % (steps / 4 + 1);
		unsigned centre = 7 + (unsigned)(248 * phase / (steps / 4 + 1));
		uint64_t x = tu_splitmix(&rs);
		int do_alloc = n < LIVE / 2 || (n < LIVE && x % 2);

		if (do_alloc) {
			long u = (long)centre + (long)((x >> 8) % 33) - 16;
			struct mblock *b = &m[n];
			b->units = (unsigned)(u < 7 ? 7 : u > 255 ? 255 : u);
			b->b = ipam__heap_alloc(view, b->units);
			ck_assert_ptr_nonnull(b->b);
			ck_assert_uint_ge(b->b->units, b->units);
			ck_assert_uint_le(b->b->units, b->units + 6);
			b->tag = tu_splitmix(&rs);
			mblock_fill(b);
			live_units += b->b->units;
			n++;
		} else {
			size_t i = (size_t)((x >> 8) % n);
			live_units -= m[i].b->units;
			ipam__heap_free(view, m[i].b);
			m[i] = m[--n];
		}
		/* Never more than the most the live blocks ever filled, half
		 * again, plus two chunks (the one being filled and the spare):
		 * space freed by blocks of one size serves every other. */
		if (live_units > peak_units)
			peak_units = live_units;
		ck_assert_msg(chunks_held() <= peak_units * 3 / 2 / IPAM__HEAP_UNITS + 2,
			      "step %ld: %zu chunks for at most %zu live units (seed %llu)", step,
			      chunks_held(), peak_units, (unsigned long long)seed);
		if (chunks_held() > most)
			most = chunks_held();
		if (step % 4096 == 0) {
			ck_assert_msg(ipam__heap_verify(view) == 0, "step %ld: %s", step,
				      ipam_last_error_message());
			heap_check_blocks(m, n);
		}
	}
	ck_assert_int_eq(ipam__heap_verify(view), 0);
	heap_check_blocks(m, n);
	while (n) {
		ipam__heap_free(view, m[--n].b);
		if (n % 512 == 0)
			ck_assert_int_eq(ipam__heap_verify(view), 0);
	}
	ck_assert_uint_eq(view->heap.live, 0);
	ck_assert_uint_eq(chunks_held(), 1);
	ck_assert_uint_eq(view->heap.free_units, IPAM__HEAP_UNITS - (view->heap.chunks[0] ? 1 : 0));
	ck_assert_int_eq(ipam__heap_verify(view), 0);
	printf("heap_against_model: %ld steps, at most %zu chunks for at most %zu live units "
	       "(%.2f of them)\n",
	       steps, most, peak_units, (double)peak_units / (double)(most * IPAM__HEAP_UNITS));
}
END_TEST

/* Freed blocks merge with free neighbours on either side, and a chunk with
 * no block left goes back unless it is the only one. */
START_TEST(heap_merges_and_gives_back)
{
	struct ipam__rec *b[3], *big;
	static struct ipam__rec *fill[400];

	for (int i = 0; i < 3; i++) {
		b[i] = ipam__heap_alloc(view, 10);
		b[i]->state = IPAM_LEASE_BOUND;
	}
	/* 30 units in three blocks, freed middle last: one free block of the
	 * whole chunk remains (the rest merged with them). */
	ipam__heap_free(view, b[0]);
	ipam__heap_free(view, b[2]);
	ck_assert_int_eq(ipam__heap_verify(view), 0);
	ipam__heap_free(view, b[1]);
	ck_assert_int_eq(ipam__heap_verify(view), 0);
	ck_assert_uint_eq(view->heap.spare, 1);
	ck_assert_uint_eq(view->heap.free_units, IPAM__HEAP_UNITS - 1);
	/* Three freed 10-unit blocks serve a 30-unit record once merged. */
	for (int i = 0; i < 3; i++) {
		b[i] = ipam__heap_alloc(view, 10);
		b[i]->state = IPAM_LEASE_BOUND;
	}
	big = ipam__heap_alloc(view, 25); /* after them */
	ck_assert_ptr_eq((char *)big, (char *)b[2] + 80);
	big->state = IPAM_LEASE_BOUND;
	ipam__heap_free(view, b[0]);
	ipam__heap_free(view, b[1]);
	ipam__heap_free(view, b[2]);
	ck_assert_ptr_eq(ipam__heap_alloc(view, 30), b[0]);
	ck_assert_uint_eq(b[0]->units, 30);
	b[0]->state = IPAM_LEASE_BOUND;
	/* Three chunks' worth of records, then all freed: the first chunk
	 * (b[0] and big are in it) and one spare stay. */
	for (size_t i = 0; i < 400; i++) {
		fill[i] = ipam__heap_alloc(view, 250);
		fill[i]->state = IPAM_LEASE_BOUND;
	}
	ck_assert_uint_ge(chunks_held(), 3);
	for (size_t i = 0; i < 400; i++)
		ipam__heap_free(view, fill[i]);
	ck_assert_int_eq(ipam__heap_verify(view), 0);
	ck_assert_uint_eq(chunks_held(), 2);
	ck_assert_uint_eq(view->heap.spare, 1);
	ipam__heap_free(view, b[0]);
	ipam__heap_free(view, big);
	ck_assert_uint_eq(chunks_held(), 1); /* the spare */
	ck_assert_uint_eq(view->heap.live, 0);
	ck_assert_int_eq(ipam__heap_verify(view), 0);
}
END_TEST

static struct ipam__rec *live_block(unsigned units)
{
	struct ipam__rec *b = ipam__heap_alloc(view, units);
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_ge(b->units, units);
	ck_assert_uint_le(b->units, units + 6);
	b->state = IPAM_LEASE_BOUND;
	return b;
}

/* Merges whose two neighbours are on one list: two 10-unit blocks next to
 * each other on the list of 10, and two large blocks. */
START_TEST(heap_merges_neighbours_on_one_list)
{
	struct ipam__rec *s[4], *p[2], *q[2], *y, *w;

	for (int i = 0; i < 4; i++)
		s[i] = live_block(10);
	ipam__heap_free(view, s[0]);
	ipam__heap_free(view, s[2]); /* the list of 10: s[2], s[0] */
	ck_assert_uint_eq(view->heap.free_head[10], s[2]->self);
	ck_assert_uint_eq(s[2]->next[0], s[0]->self);
	ipam__heap_free(view, s[1]); /* merges both: one block of 30 */
	ck_assert_uint_eq(view->heap.free_head[10], 0);
	ck_assert_uint_eq(view->heap.free_head[30], s[0]->self);
	ck_assert_int_eq(ipam__heap_verify(view), 0);
	ck_assert_ptr_eq(live_block(30), s[0]);
	/* Two runs of 400 units around a 10-unit block, each run freed into
	 * one large block; then the block between them. */
	p[0] = live_block(200);
	p[1] = live_block(200);
	y = live_block(10);
	q[0] = live_block(200);
	q[1] = live_block(200);
	w = live_block(10); /* keeps q's run apart from the rest of the chunk */
	ipam__heap_free(view, p[0]);
	ipam__heap_free(view, p[1]);
	ipam__heap_free(view, q[1]);
	ipam__heap_free(view, q[0]);
	ck_assert_int_eq(ipam__heap_verify(view), 0);
	ipam__heap_free(view, y);
	ck_assert_int_eq(ipam__heap_verify(view), 0);
	ck_assert_uint_eq(p[0]->state, 0xff);
	ck_assert_uint_eq(p[0]->addr_lo, 810);
	/* A size no record has is refused, not cut to 8 bits. */
	ck_assert_ptr_null(ipam__heap_alloc(view, 300));
	ck_assert_ptr_null(ipam__heap_alloc(view, 6));
	ipam__heap_free(view, w);
	ipam__heap_free(view, s[0]);
	ipam__heap_free(view, s[3]);
	ck_assert_uint_eq(view->heap.live, 0);
	ck_assert_int_eq(ipam__heap_verify(view), 0);
}
END_TEST

/* A chunk given back leaves a hole in the chunk table: when no new chunk
 * can be had the heap stays whole, and the next chunk takes the hole. */
START_TEST(heap_no_chunk_with_a_hole)
{
	static const ipam_allocator fa = { f_alloc, f_resize, f_release, NULL };
	static struct ipam__rec *b[600];
	unsigned n = 0, in0 = 0;

	teardown();
	ck_assert_int_eq(ipam_set_allocator(&fa), 0);
	budget = -1;
	setup();
	while (chunks_held() < 4)
		b[n++] = live_block(250);
	/* Chunk 1 emptied (kept: the only empty one), then chunk 0 (given
	 * back: a second empty one). */
	for (int c = 1; c >= 0; c--)
		for (unsigned i = 0; i < n; i++)
			if (b[i] && b[i]->self >> IPAM__HEAP_UNIT_BITS == (unsigned)c) {
				ipam__heap_free(view, b[i]);
				b[i] = NULL;
			}
	ck_assert_uint_eq(view->heap.holes, 1);
	ck_assert_ptr_null(view->heap.chunks[0]);
	ck_assert_uint_eq(chunks_held(), 3);
	ck_assert_int_eq(ipam__heap_verify(view), 0);
	/* Fill what is left without a new chunk, then ask for one more. */
	budget = 0;
	for (;;) {
		struct ipam__rec *x = ipam__heap_alloc(view, 250);
		if (!x)
			break;
		x->state = IPAM_LEASE_BOUND;
	}
	ck_assert_int_eq(ipam__heap_verify(view), 0);
	ck_assert_uint_eq(view->heap.holes, 1);
	budget = -1;
	ck_assert_ptr_nonnull(b[0] = ipam__heap_alloc(view, 250));
	in0 = b[0]->self >> IPAM__HEAP_UNIT_BITS;
	ck_assert_uint_eq(in0, 0); /* the hole */
	ck_assert_uint_eq(b[0]->self & ((1u << IPAM__HEAP_UNIT_BITS) - 1), 1); /* unit 0: id 0 */
	ck_assert_uint_eq(view->heap.holes, 0);
	ck_assert_int_eq(ipam__heap_verify(view), 0);
	teardown();
	ipam_set_allocator(NULL);
	setup();
}
END_TEST

/* A view reset gives every record back; the heap is used again after. */
START_TEST(heap_reset_then_reused)
{
	ipam_lease l;
	char buf[32];

	for (int round = 0; round < 3; round++) {
		for (unsigned i = 0; i < 3000; i++) {
			snprintf(buf, sizeof(buf), "10.0.%u.%u", i / 250, i % 250 + 1);
			base_lease(&l, buf);
			snprintf(l.owner, sizeof(l.owner), "ns/pod-%u-%.*s", i, (int)(i % 40), buf);
			ck_assert_int_eq(put(&l), 0);
		}
		ck_assert_int_eq(ipam__view_verify(view), 0);
		ck_assert_int_eq(ipam__view_reset(view), 0);
		ck_assert_uint_eq(view->heap.live, 0);
		ck_assert_int_eq(ipam__view_verify(view), 0);
	}
}
END_TEST

/* Node names that come and go (a new one per lease, 50 leases at a time):
 * the table holds what the records use, not every name seen. */
START_TEST(strings_do_not_pile_up)
{
	ipam_lease l;
	char buf[32];
	uint32_t most = 0;

	for (unsigned i = 0; i < 20000; i++) {
		snprintf(buf, sizeof(buf), "10.0.%u.%u", i % 50 / 25, i % 25 + 1);
		base_lease(&l, buf);
		snprintf(l.owner, sizeof(l.owner), "ns/pod-%u", i);
		snprintf(l.node, sizeof(l.node), "node-%u", i);
		ck_assert_int_eq(put(&l), 0); /* replaces the lease at that address */
		if (view->strs.n > most)
			most = view->strs.n;
	}
	ck_assert_uint_eq(view->heap.live, 50);
	ck_assert_uint_le(most, 53); /* "", "eth0", 50 nodes, the one coming in */
	ck_assert_uint_eq(live_strings(), 51);
	ck_assert_int_eq(ipam__view_verify(view), 0);
	for (unsigned i = 19950; i < 20000; i++) {
		snprintf(buf, sizeof(buf), "10.0.%u.%u", i % 50 / 25, i % 25 + 1);
		base_lease(&l, buf);
		snprintf(l.owner, sizeof(l.owner), "ns/pod-%u", i);
		snprintf(l.node, sizeof(l.node), "node-%u", i);
		expect_record(&l);
	}
}
END_TEST

/* ---- random run against a model ---------------------------------------------------- */

#define NADDR 300 /* 150 per pool */

static uint64_t rng;

static uint64_t rnd(uint64_t n)
{
	return n ? tu_splitmix(&rng) % n : 0;
}

static void rnd_text(char *dst, size_t max_len, size_t min_len)
{
	size_t len = min_len + rnd(max_len - min_len + 1);

	for (size_t i = 0; i < len; i++)
		dst[i] = (char)(0x20 + rnd(0x7f - 0x20));
	dst[len] = '\0';
}

static int64_t rnd_time(void)
{
	static const int64_t edge[] = { 0, 1, (int64_t)UINT32_MAX, (int64_t)UINT32_MAX + 1, -1,
					INT64_MIN, INT64_MAX };
	switch (rnd(4)) {
	case 0:
		return edge[rnd(7)];
	case 1:
		return (int64_t)tu_splitmix(&rng);
	default:
		return 1700000000 + (int64_t)rnd(100000000);
	}
}

static void rnd_lease(ipam_lease *l, unsigned slot)
{
	static const char *nodes[] = { "worker-1", "worker-2", "node-with-a-rather-long-name-07" };
	static const char *ifnames[] = { "eth0", "net1", "" };
	char buf[64];

	memset(l, 0, sizeof(*l));
	if (slot < NADDR / 2)
		snprintf(buf, sizeof(buf), "10.0.%u.%u", slot / 200, slot % 200 + 1);
	else
		snprintf(buf, sizeof(buf), "fd00:1:2::%x", slot + 1);
	ck_assert_int_eq(ipam_addr_parse(buf, &l->addr), 0);
	strcpy(l->pool, slot < NADDR / 2 ? "v4" : "v6");
	/* Owners unique per slot: one bound lease per (pool, owner, ifname). */
	snprintf(l->owner, sizeof(l->owner), "s%u/", slot);
	rnd_text(l->owner + strlen(l->owner), IPAM_OWNER_MAX - strlen(l->owner), 0);
	if (rnd(4))
		strcpy(l->ifname, ifnames[rnd(3)]);
	else
		rnd_text(l->ifname, IPAM_IFNAME_MAX, 0);
	if (rnd(4))
		strcpy(l->node, nodes[rnd(3)]);
	else
		rnd_text(l->node, IPAM_NODE_MAX, 0);
	switch (rnd(4)) {
	case 0:
		for (int i = 0; i < 64; i++)
			l->attachment[i] = "0123456789abcdef"[rnd(16)];
		break;
	case 1:
		for (int i = 0; i < 64; i++)
			l->attachment[i] = "0123456789abcdefABCDEF"[rnd(22)];
		break;
	default:
		rnd_text(l->attachment, IPAM_ATTACHMENT_MAX, 0);
	}
	l->generation = tu_splitmix(&rng);
	l->created = rnd_time();
	l->updated = rnd_time();
	l->expires = rnd(2) ? rnd_time() : 0;
	l->suspect_since = rnd(3) ? 0 : rnd_time();
	switch (rnd(slot < NADDR / 2 ? 3 : 4)) { /* only the v6 pool has a quarantine */
	case 0:
		l->state = IPAM_LEASE_BOUND;
		break;
	case 1:
		l->state = IPAM_LEASE_SUSPECT;
		break;
	case 2:
		l->state = IPAM_LEASE_RESERVED;
		break;
	default:
		l->state = IPAM_LEASE_QUARANTINED;
	}
	l->nattrs = rnd(3) ? 0 : (unsigned)rnd(IPAM_ATTRS_MAX + 1);
	for (unsigned i = 0; i < l->nattrs; i++) {
		rnd_text(l->attrs[i].key, IPAM_ATTR_KEY_MAX, 1);
		rnd_text(l->attrs[i].value, IPAM_ATTR_VALUE_MAX, 0);
	}
}

START_TEST(random_against_model)
{
	static ipam_lease model[NADDR];
	static int present[NADDR];
	uint64_t seed = tu_seed("records random");
	long steps = tu_scale(40000);

	rng = seed;
	memset(present, 0, sizeof(present));
	for (long step = 0; step < steps; step++) {
		unsigned slot = (unsigned)rnd(NADDR);
		if (present[slot] && rnd(3) == 0) {
			ck_assert_int_eq(del(&model[slot].addr), 0);
			present[slot] = 0;
			ck_assert_ptr_null(ipam__view_find_addr(view, pool_of(&model[slot]),
								  ipam__addr_value(&model[slot].addr)));
		} else {
			rnd_lease(&model[slot], slot);
			ck_assert_msg(put(&model[slot]) == 0, "step %ld: %s", step, ipam_last_error_message());
			present[slot] = 1;
			expect_record(&model[slot]);
		}
		if (step % 2000 == 1999 || step == steps - 1) {
			size_t n = 0;
			for (unsigned i = 0; i < NADDR; i++) {
				if (!present[i])
					continue;
				expect_record(&model[i]);
				n++;
			}
			ck_assert_uint_eq(view->heap.live, n);
			ck_assert_int_eq(ipam__view_verify(view), 0);
		}
	}
	/* Empty again: every block and string given back. */
	for (unsigned i = 0; i < NADDR; i++)
		if (present[i])
			ck_assert_int_eq(del(&model[i].addr), 0);
	ck_assert_uint_eq(view->heap.live, 0);
	ck_assert_uint_eq(live_strings(), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("records");
	TCase *tc = tcase_create("records");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, edge_fields_round_trip);
	tcase_add_test(tc, longest_fields_round_trip);
	tcase_add_test(tc, packed_id_is_not_its_uppercase);
	tcase_add_test(tc, hex_pack_matches_reference);
	tcase_add_test(tc, strings_and_blocks_given_back);
	tcase_add_test(tc, strings_do_not_pile_up);
	tcase_add_test(tc, random_against_model);
	tcase_add_test(tc, out_of_memory);
	tcase_add_test(tc, full_chunk_then_no_memory);
	tcase_add_test(tc, heap_against_model);
	tcase_add_test(tc, heap_merges_and_gives_back);
	tcase_add_test(tc, heap_merges_neighbours_on_one_list);
	tcase_add_test(tc, heap_no_chunk_with_a_hole);
	tcase_add_test(tc, heap_reset_then_reused);
	tcase_add_test(tc, file_store_ids);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
