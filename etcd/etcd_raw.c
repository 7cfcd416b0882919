/* SPDX-License-Identifier: MIT */
/*
 * Raw keys under the store's prefix (ipam_etcd_get/put/delete/list in
 * <ipam/etcd.h>): for what the store does not manage itself, such as the
 * pool set definitions of the front ends, and for inspection tools.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd_internal.h"

static struct ipam_etcd__store *as_etcd(ipam_store *st)
{
	return ipam_etcd__is_store(st) ? (struct ipam_etcd__store *)st : NULL;
}

/* "<prefix>/<key>" (malloc'ed), or NULL with the failure recorded. */
static char *full_key(struct ipam_etcd__store *es, const char *key, int allow_empty)
{
	char *k;

	if (!key)
		key = "";
	if ((!*key && !allow_empty) || key[0] == '/') {
		ipam_etcd__fail(-EINVAL, "key", key,
				"a key is relative to the store's prefix: non-empty, no leading '/'");
		return NULL;
	}
	k = malloc(strlen(es->prefix) + strlen(key) + 2);
	if (!k) {
		ipam_etcd__fail(-ENOMEM, NULL, NULL, NULL);
		return NULL;
	}
	sprintf(k, "%s/%s", es->prefix, key);
	return k;
}

/* The smallest key greater than every key starting with p ("" if p is all
 * 0xff bytes: refused by the caller; prefixes here end in '/'). */
static char *range_end_of(const char *p)
{
	size_t n = strlen(p);
	char *e = strdup(p);

	if (!e)
		return NULL;
	while (n && (unsigned char)e[n - 1] == 0xff)
		e[--n] = '\0';
	if (n)
		e[n - 1] = (char)((unsigned char)e[n - 1] + 1);
	return e;
}

int ipam_etcd_get(ipam_store *st, const char *key, char **value, size_t *len,
		  int64_t *mod_revision)
{
	struct ipam_etcd__store *es = as_etcd(st);
	struct ipam_etcd__kvs kvs = { 0 };
	char *k;
	int r;

	if (value)
		*value = NULL;
	if (!es)
		return ipam_etcd__fail(-ENOTSUP, "store", NULL, "not an etcd store");
	if (!value)
		return ipam_etcd__fail(-EINVAL, "value", NULL, "missing argument");
	if (!(k = full_key(es, key, 0)))
		return -EINVAL;
	r = ipam_etcd__range(es->client, k, NULL, 0, &kvs);
	if (r == 0 && kvs.n == 0)
		r = ipam_etcd__fail(-ENOENT, "etcd key", k, "no such key");
	if (r == 0) {
		*value = kvs.v[0].value;
		kvs.v[0].value = NULL;
		if (len)
			*len = kvs.v[0].vlen;
		if (mod_revision)
			*mod_revision = kvs.v[0].mod_rev;
	}
	ipam_etcd__kvs_free(&kvs);
	free(k);
	return r;
}

static int one_write(ipam_store *st, const char *key, const void *value, size_t len, int del)
{
	struct ipam_etcd__store *es = as_etcd(st);
	struct ipam_etcd__txn t;
	int64_t rev;
	int ok = 0, r;
	char *k;

	if (!es)
		return ipam_etcd__fail(-ENOTSUP, "store", NULL, "not an etcd store");
	if (!del && !value && len)
		return ipam_etcd__fail(-EINVAL, "value", NULL, "missing argument");
	if (!(k = full_key(es, key, 0)))
		return -EINVAL;
	ipam_etcd__txn_init(&t);
	if (del)
		ipam_etcd__txn_del(&t, k);
	else
		ipam_etcd__txn_put(&t, k, value ? value : "", len);
	r = ipam_etcd__txn_run(es->client, &t, &ok, &rev);
	ipam_etcd__txn_fini(&t);
	if (r == 0 && !ok)
		r = ipam_etcd__fail(-EIO, "etcd key", k, "an unconditional write did not succeed");
	free(k);
	return r;
}

int ipam_etcd_put(ipam_store *st, const char *key, const void *value, size_t len)
{
	return one_write(st, key, value, len, 0);
}

int ipam_etcd_delete(ipam_store *st, const char *key)
{
	return one_write(st, key, NULL, 0, 1);
}

void ipam_etcd_kv_free(ipam_etcd_kv *kv, size_t n)
{
	if (!kv)
		return;
	for (size_t i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

int ipam_etcd_list(ipam_store *st, const char *key_prefix, unsigned flags, ipam_etcd_kv **out,
		   size_t *n)
{
	struct ipam_etcd__store *es = as_etcd(st);
	struct ipam_etcd__kvs kvs = { 0 };
	char *k, *end;
	size_t skip;
	int r;

	if (out)
		*out = NULL;
	if (n)
		*n = 0;
	if (!es)
		return ipam_etcd__fail(-ENOTSUP, "store", NULL, "not an etcd store");
	if (!out || !n || (flags & ~IPAM_ETCD_KEYS_ONLY))
		return ipam_etcd__fail(-EINVAL, "flags", NULL, "bad arguments");
	if (!(k = full_key(es, key_prefix, 1)))
		return -EINVAL;
	skip = strlen(es->prefix) + 1;
	end = range_end_of(k);
	if (!end || !*end) {
		free(k);
		free(end);
		return end ? ipam_etcd__fail(-EINVAL, "key", key_prefix, "no key follows this prefix")
			   : ipam_etcd__fail(-ENOMEM, NULL, NULL, NULL);
	}
	r = ipam_etcd__range_ex(es->client, k, end, 0,
				(flags & IPAM_ETCD_KEYS_ONLY) != 0, &kvs);
	if (r == 0 && kvs.n) {
		*out = calloc(kvs.n, sizeof(**out));
		if (!*out)
			r = ipam_etcd__fail(-ENOMEM, NULL, NULL, NULL);
	}
	for (size_t i = 0; r == 0 && i < kvs.n; i++) {
		ipam_etcd_kv *o = &(*out)[i];
		const struct ipam_etcd__kv *kv = &kvs.v[i];
		if (kv->klen < skip) { /* etcd answered outside the range asked */
			r = ipam_etcd__fail(-EIO, "etcd key", kv->key, "outside the prefix");
			break;
		}
		o->key = strdup(kv->key + skip);
		o->value = kv->value;
		kvs.v[i].value = NULL;
		o->value_len = kv->vlen;
		o->mod_revision = kv->mod_rev;
		(*n)++;
		if (!o->key)
			r = ipam_etcd__fail(-ENOMEM, NULL, NULL, NULL);
	}
	if (r < 0) {
		ipam_etcd_kv_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	ipam_etcd__kvs_free(&kvs);
	free(end);
	free(k);
	return r;
}
