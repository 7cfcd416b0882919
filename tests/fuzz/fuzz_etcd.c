/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for what the etcd store reads from etcd
 * (etcd/etcd_codec.c): gateway range answers (JSON, base64 keys and
 * values), block key names and block values (the leases of one block, JSON
 * written by other nodes), and the values of pools a set no longer defines.
 *
 * Input: one flags byte, then text. Bit 0 picks the layout: blocks of 16
 * addresses (keys <prefix>blocks/<pool>/<32 hex>) or coarse (one key per
 * pool, <prefix>pools/<pool>). The text is read three ways:
 * - as a range answer; each kv under the prefix names a block of the fixed
 *   pools "v4" (10.9.0.0/24, with a quarantine) or "v6" (fd00:9::/120),
 *   whose value is decoded, or of another pool, whose value is checked as a
 *   pool the set no longer defines;
 * - as a block value of each fixed pool, block 0;
 * - as a value of a pool gone.
 * Every result must be 0 or a negative code. A decoded block must hold only
 * addresses allocatable in its pool and inside its block, sorted and
 * distinct; encoding it and decoding the text again must give the same
 * leases, field by field. A crash, a leak, undefined behaviour or a failed
 * check is a finding.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ipam/ipam.h>

#include "../lease_eq.h"
#include "etcd_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PREFIX "/f/net/"

static ipam_pool *make_pool(const char *name, const char *subnet, uint32_t quarantine_s)
{
	ipam_pool *p = NULL;

	if (ipam_pool_new_str(&p, name, subnet) < 0)
		abort();
	if (quarantine_s && ipam_pool_set_quarantine(p, quarantine_s, 0, 0) < 0)
		abort();
	return p;
}

static const ipam_pool *fixed_pool(const char *name)
{
	static ipam_pool *v4, *v6;

	if (!v4) {
		v4 = make_pool("v4", "10.9.0.0/24", 30);
		v6 = make_pool("v6", "fd00:9::/120", 0);
	}
	if (strcmp(name, "v4") == 0)
		return v4;
	if (strcmp(name, "v6") == 0)
		return v6;
	return NULL;
}

static void check_block(const ipam_pool *p, unsigned shift, ipam_u128 idx, const char *key,
			const struct ipam_etcd__block *b, int64_t mod_rev)
{
	struct ipam_etcd__block again;
	char *text, why[700];
	int r;

	for (unsigned i = 0; i < b->n; i++) {
		ipam_u128 at = ipam_etcd__block_index(p, &b->l[i].addr, shift);
		if (ipam_pool_is_allocatable(p, &b->l[i].addr) != 1)
			abort(); /* the decoder lets no such address through */
		if (at.hi != idx.hi || at.lo != idx.lo)
			abort(); /* nor one of another block */
		if (i && ipam_addr_cmp(&b->l[i - 1].addr, &b->l[i].addr) >= 0)
			abort(); /* sorted, distinct */
		if (b->l[i].state < IPAM_LEASE_BOUND || b->l[i].state > IPAM_LEASE_SUSPECT)
			abort();
	}
	/* What this node would write back reads the same. Strings that are
	 * not UTF-8 cannot be written (JSON text): the store refuses them. */
	for (unsigned i = 0; i < b->n; i++)
		if (ipam_etcd__lease_utf8(&b->l[i]) < 0)
			return;
	text = ipam_etcd__block_encode(b);
	if (!text)
		return; /* out of memory */
	r = ipam_etcd__block_decode(p, shift, idx, key, text, strlen(text), mod_rev, &again);
	if (r == 0) {
		if (again.n != b->n)
			abort();
		for (unsigned i = 0; i < b->n; i++)
			if (tu_lease_diff(&b->l[i], &again.l[i], why, sizeof(why))) {
				fprintf(stderr, "round trip: %s\n", why);
				abort();
			}
		ipam_etcd__block_fini(&again);
	} else if (r != -ENOMEM) {
		fprintf(stderr, "round trip refused: %s\n%s\n", ipam_last_error_message(), text);
		abort();
	}
	free(text);
}

static void decode_value(const char *pool, unsigned shift, ipam_u128 idx, const char *key,
			 const char *val, size_t len, int64_t mod_rev)
{
	const ipam_pool *p = fixed_pool(pool);
	struct ipam_etcd__block b;
	int r;

	if (!p) {
		r = ipam_etcd__block_gone(key, pool, val, len);
		if (r > 0)
			abort();
		return;
	}
	r = ipam_etcd__block_decode(p, shift, idx, key, val, len, mod_rev, &b);
	if (r > 0)
		abort();
	if (r == 0) {
		check_block(p, shift, idx, key, &b, mod_rev);
		ipam_etcd__block_fini(&b);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned shift = size && (data[0] & 1) ? 4 : 0;
	const char *text = size ? (const char *)data + 1 : "";
	size_t len = size ? size - 1 : 0;
	const char *base = shift ? PREFIX "blocks/" : PREFIX "pools/";
	struct ipam_etcd__kvs kvs;
	json_t *resp;
	char *val;

	/* As a range answer. */
	resp = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	if (resp && ipam_etcd__range_answer(resp, base, &kvs) == 0) {
		for (size_t i = 0; i < kvs.n; i++) {
			const struct ipam_etcd__kv *kv = &kvs.v[i];
			char pool[IPAM_NAME_MAX + 1];
			ipam_u128 idx;
			if (kv->klen != strlen(kv->key) || strncmp(kv->key, base, strlen(base)) != 0 ||
			    ipam_etcd__block_key_parse(kv->key + strlen(base), shift, pool, sizeof(pool),
						       &idx) < 0)
				continue; /* the store refuses it by its key */
			decode_value(pool, shift, idx, kv->key, kv->value, kv->vlen, kv->mod_rev);
		}
		ipam_etcd__kvs_free(&kvs);
	}
	json_decref(resp);
	/* As one block value (NUL-terminated, as the answer's are). */
	val = malloc(len + 1);
	if (!val)
		return 0;
	memcpy(val, text, len);
	val[len] = '\0';
	decode_value("v4", shift, ipam_u128_make(0, 0), PREFIX "x", val, len, 7);
	decode_value("v6", shift, ipam_u128_make(0, 0), PREFIX "x", val, len, 7);
	decode_value("gone", shift, ipam_u128_make(0, 0), PREFIX "x", val, len, 7);
	free(val);
	return 0;
}
