/* SPDX-License-Identifier: MIT */
/*
 * etcd's key-value requests over the JSON gateway: range and txn. Keys and
 * values travel in base64, 64-bit numbers as decimal strings, and a txn
 * whose compares failed is an HTTP 200 without "succeeded": true.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd_internal.h"

static json_t *b64_string(const char *p, size_t n)
{
	char *e = ipam_etcd__b64_encode(p, n);
	json_t *s = e ? json_string(e) : NULL;

	free(e);
	return s;
}

static json_t *i64_string(int64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	return json_string(buf);
}

char *ipam_etcd__prefix_end(const char *prefix)
{
	size_t n = strlen(prefix);
	char *e = strdup(prefix);

	/* Prefixes here end in '/', never in 0xff. */
	if (e && n)
		e[n - 1] = (char)(e[n - 1] + 1);
	return e;
}

int ipam_etcd__range(ipam_etcd__client *c, const char *key, const char *range_end,
		     int64_t min_mod_rev, struct ipam_etcd__kvs *out)
{
	return ipam_etcd__range_ex(c, key, range_end, min_mod_rev, 0, out);
}

int ipam_etcd__range_ex(ipam_etcd__client *c, const char *key, const char *range_end,
			int64_t min_mod_rev, int keys_only, struct ipam_etcd__kvs *out)
{
	json_t *body = json_object(), *resp = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	if (!body)
		return ipam_etcd__fail(-ENOMEM, NULL, NULL, NULL);
	json_object_set_new(body, "key", b64_string(key, strlen(key)));
	if (range_end)
		json_object_set_new(body, "range_end", b64_string(range_end, strlen(range_end)));
	if (min_mod_rev > 0)
		json_object_set_new(body, "min_mod_revision", i64_string(min_mod_rev));
	if (keys_only)
		json_object_set_new(body, "keys_only", json_true());
	r = ipam_etcd__call(c, "/v3/kv/range", body, &resp);
	json_decref(body);
	if (r < 0)
		return r;
	r = ipam_etcd__range_answer(resp, key, out);
	json_decref(resp);
	return r;
}

void ipam_etcd__txn_init(struct ipam_etcd__txn *t)
{
	t->compare = json_array();
	t->success = json_array();
	t->oom = !t->compare || !t->success;
}

void ipam_etcd__txn_fini(struct ipam_etcd__txn *t)
{
	json_decref(t->compare);
	json_decref(t->success);
	memset(t, 0, sizeof(*t));
}

static void add(struct ipam_etcd__txn *t, json_t *list, json_t *item)
{
	if (!item || json_array_append_new(list, item) < 0)
		t->oom = 1;
}

void ipam_etcd__txn_cmp_mod(struct ipam_etcd__txn *t, const char *key, int64_t rev)
{
	/* A missing key compares as mod_revision 0. */
	add(t, t->compare,
	    json_pack("{s:o, s:s, s:s, s:o}", "key", b64_string(key, strlen(key)), "target", "MOD",
		      "result", "EQUAL", "mod_revision", i64_string(rev)));
}

void ipam_etcd__txn_cmp_value(struct ipam_etcd__txn *t, const char *key, const char *value)
{
	add(t, t->compare,
	    json_pack("{s:o, s:s, s:s, s:o}", "key", b64_string(key, strlen(key)), "target", "VALUE",
		      "result", "EQUAL", "value", b64_string(value, strlen(value))));
}

void ipam_etcd__txn_put(struct ipam_etcd__txn *t, const char *key, const char *value, size_t len)
{
	add(t, t->success,
	    json_pack("{s:{s:o, s:o}}", "request_put", "key", b64_string(key, strlen(key)), "value",
		      b64_string(value, len)));
}

void ipam_etcd__txn_del(struct ipam_etcd__txn *t, const char *key)
{
	add(t, t->success,
	    json_pack("{s:{s:o}}", "request_delete_range", "key", b64_string(key, strlen(key))));
}

int ipam_etcd__txn_run(ipam_etcd__client *c, struct ipam_etcd__txn *t, int *ok, int64_t *rev)
{
	json_t *body, *resp = NULL;
	int r;

	*ok = 0;
	*rev = 0;
	if (t->oom)
		return ipam_etcd__fail(-ENOMEM, NULL, NULL, NULL);
	if (json_array_size(t->compare) > IPAM_ETCD_MAX_TXN_OPS ||
	    json_array_size(t->success) > IPAM_ETCD_MAX_TXN_OPS)
		return ipam_etcd__fail(-E2BIG, "txn", NULL,
				       "the change set needs %zu compares and %zu writes; etcd takes "
				       "at most %d of each in one transaction",
				       json_array_size(t->compare), json_array_size(t->success),
				       IPAM_ETCD_MAX_TXN_OPS);
	body = json_pack("{s:O, s:O}", "compare", t->compare, "success", t->success);
	if (!body)
		return ipam_etcd__fail(-ENOMEM, NULL, NULL, NULL);
	r = ipam_etcd__call(c, "/v3/kv/txn", body, &resp);
	json_decref(body);
	if (r < 0)
		return r;
	*ok = json_is_true(json_object_get(resp, "succeeded"));
	*rev = ipam_etcd__json_i64(json_object_get(resp, "header"), "revision");
	json_decref(resp);
	if (*rev <= 0)
		return ipam_etcd__fail(-EIO, "etcd", NULL, "txn answer without a header revision");
	return 0;
}
