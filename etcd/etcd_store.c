/* SPDX-License-Identifier: MIT */
/*
 * The etcd store's table of methods, its options and its pool sets.
 *
 * Workload: every call of an ipam_ctx refreshes the view first (one range
 * of the block keys changed since the last one: usually none), and every
 * allocation or release is one transaction. Nothing is kept between
 * processes but etcd itself: attaching a set reads all its block keys.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd_internal.h"

#define PREFIX_MAX 512
#define LAYOUT_VERSION 1

static const ipam_store_ops etcd_store_ops;

void ipam_etcd_options_init(ipam_etcd_options *o)
{
	if (!o)
		return;
	memset(o, 0, sizeof(*o));
	o->size = sizeof(*o);
	o->prefix = "/ipam";
	o->block_size = IPAM_ETCD_BLOCK_DEFAULT;
	o->connect_timeout_ms = 1000;
	o->request_timeout_ms = 5000;
}

struct ipam_etcd__set *ipam_etcd__find_set(struct ipam_etcd__store *es, const ipam_view *v)
{
	struct ipam_etcd__set *s = NULL;

	pthread_mutex_lock(&es->lock);
	for (unsigned i = 0; i < es->nsets && !s; i++)
		if (es->sets[i]->view == v)
			s = es->sets[i];
	pthread_mutex_unlock(&es->lock);
	return s;
}

static void free_set(struct ipam_etcd__set *s)
{
	if (!s)
		return;
	ipam_etcd__cache_free(s);
	ipam_view_free(s->view);
	free(s->base);
	free(s->blocks_prefix);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* The layout record "<base>layout": written by the first process to attach
 * the set, checked by every later one, so that a prefix is never read with
 * another block size or mode than it was written with. */
static int check_layout(struct ipam_etcd__store *es, struct ipam_etcd__set *s)
{
	char want[128], *key = malloc(strlen(s->base) + 8);
	struct ipam_etcd__kvs kvs = { 0 };
	int r = 0;

	if (!key)
		return ipam_etcd__fail(-ENOMEM, NULL, NULL, NULL);
	sprintf(key, "%slayout", s->base);
	snprintf(want, sizeof(want), "{\"v\":%d,\"mode\":\"%s\",\"block_size\":%u}", LAYOUT_VERSION,
		 es->coarse ? "pools" : "blocks", es->coarse ? 0u : 1u << es->shift);
	for (int attempt = 0; attempt < 2 && r == 0; attempt++) {
		struct ipam_etcd__txn t;
		int64_t rev;
		int ok = 0;

		r = ipam_etcd__range(es->client, key, NULL, 0, &kvs);
		if (r < 0)
			break;
		if (kvs.n) {
			if (strcmp(kvs.v[0].value, want) != 0)
				r = ipam_etcd__fail(-EINVAL, "etcd key", key,
						    "the pool set was written with layout %.120s; this store "
						    "uses %s",
						    kvs.v[0].value, want);
			break;
		}
		ipam_etcd__txn_init(&t);
		ipam_etcd__txn_cmp_mod(&t, key, 0);
		ipam_etcd__txn_put(&t, key, want, strlen(want));
		r = ipam_etcd__txn_run(es->client, &t, &ok, &rev);
		ipam_etcd__txn_fini(&t);
		if (r == 0 && ok)
			break;
		ipam_etcd__kvs_free(&kvs); /* another process wrote it: read it */
	}
	ipam_etcd__kvs_free(&kvs);
	free(key);
	return r;
}

static int etcd_attach(ipam_store *st, const ipam_poolset *set, ipam_view **view)
{
	struct ipam_etcd__store *es = (struct ipam_etcd__store *)st;
	const char *name = ipam_poolset_name(set);
	struct ipam_etcd__set *s = calloc(1, sizeof(*s));
	size_t n = strlen(es->prefix) + strlen(name) + 3;
	int r;

	if (!s)
		return ipam_etcd__fail(-ENOMEM, NULL, NULL, NULL);
	pthread_mutex_init(&s->mu, NULL);
	s->set = set;
	s->base = malloc(n);
	s->blocks_prefix = malloc(n + 8);
	if (!s->base || !s->blocks_prefix) {
		free_set(s);
		return ipam_etcd__fail(-ENOMEM, NULL, NULL, NULL);
	}
	snprintf(s->base, n, "%s/%s/", es->prefix, name);
	snprintf(s->blocks_prefix, n + 8, "%s%s", s->base, es->coarse ? "pools/" : "blocks/");
	r = ipam_view_new(&s->view, set);
	if (r == 0)
		r = check_layout(es, s);
	if (r == 0) {
		pthread_mutex_lock(&s->mu);
		r = ipam_etcd__sync(es, s);
		pthread_mutex_unlock(&s->mu);
	}
	if (r == 0) {
		struct ipam_etcd__set **grown;
		pthread_mutex_lock(&es->lock);
		grown = realloc(es->sets, (es->nsets + 1) * sizeof(*grown));
		if (grown) {
			es->sets = grown;
			es->sets[es->nsets++] = s;
		}
		pthread_mutex_unlock(&es->lock);
		if (!grown)
			r = ipam_etcd__fail(-ENOMEM, NULL, NULL, NULL);
	}
	if (r < 0) {
		free_set(s);
		return r;
	}
	*view = s->view;
	return 0;
}

static int etcd_refresh(ipam_store *st, ipam_view *v)
{
	struct ipam_etcd__store *es = (struct ipam_etcd__store *)st;
	struct ipam_etcd__set *s = ipam_etcd__find_set(es, v);
	int r;

	if (!s)
		return ipam_etcd__fail(-ENOENT, "store", NULL, "view not attached to this etcd store");
	pthread_mutex_lock(&s->mu);
	r = ipam_etcd__sync(es, s);
	pthread_mutex_unlock(&s->mu);
	return r;
}

static void etcd_detach(ipam_store *st, ipam_view *v)
{
	struct ipam_etcd__store *es = (struct ipam_etcd__store *)st;
	struct ipam_etcd__set *s = NULL;

	pthread_mutex_lock(&es->lock);
	for (unsigned i = 0; i < es->nsets; i++) {
		if (es->sets[i]->view == v) {
			s = es->sets[i];
			es->sets[i] = es->sets[--es->nsets];
			break;
		}
	}
	pthread_mutex_unlock(&es->lock);
	free_set(s);
}

static void etcd_destroy(ipam_store *st)
{
	struct ipam_etcd__store *es = (struct ipam_etcd__store *)st;

	for (unsigned i = 0; i < es->nsets; i++)
		free_set(es->sets[i]);
	free(es->sets);
	ipam_etcd__client_free(es->client);
	free(es->prefix);
	pthread_mutex_destroy(&es->lock);
	free(es);
}

static const ipam_store_ops etcd_store_ops = {
	.version = IPAM_STORE_VERSION,
	.name = "etcd",
	.destroy = etcd_destroy,
	.attach = etcd_attach,
	.refresh = etcd_refresh,
	.commit = ipam_etcd__commit,
	.detach = etcd_detach,
};

static int check_options(const ipam_etcd_options *o, ipam_etcd_options *copy)
{
	ipam_etcd_options_init(copy);
	if (!o)
		return ipam_etcd__fail(-EINVAL, "options", NULL, "missing (endpoints are required)");
	if (o->size < sizeof(size_t) || o->size > sizeof(*o))
		return ipam_etcd__fail(-EINVAL, "options.size", NULL,
				       "set it to sizeof(ipam_etcd_options)");
	memcpy(copy, o, o->size);
	copy->size = sizeof(*copy);
	if (!copy->endpoints || !*copy->endpoints)
		return ipam_etcd__fail(-EINVAL, "endpoints", NULL, "no etcd endpoint given");
	if (!copy->prefix)
		copy->prefix = "/ipam";
	if (strlen(copy->prefix) > PREFIX_MAX)
		return ipam_etcd__fail(-ENAMETOOLONG, "prefix", NULL, "longer than %d bytes", PREFIX_MAX);
	if (copy->block_size == 0)
		copy->block_size = IPAM_ETCD_BLOCK_DEFAULT;
	if (copy->block_size != 64 && copy->block_size != 128 && copy->block_size != 256)
		return ipam_etcd__fail(-EINVAL, "block_size", NULL, "must be 64, 128 or 256 (got %u)",
				       copy->block_size);
	if ((copy->cert_file && *copy->cert_file) != (copy->key_file && *copy->key_file))
		return ipam_etcd__fail(-EINVAL, "cert_file", NULL,
				       "a client certificate needs its key and a key its certificate");
	return 0;
}

int ipam_store_etcd_new(ipam_store **out, const ipam_etcd_options *opts)
{
	struct ipam_etcd__store *es;
	ipam_etcd_options o;
	size_t plen;
	int r;

	if (!out)
		return ipam_etcd__fail(-EINVAL, "out", NULL, "missing argument");
	*out = NULL;
	if ((r = check_options(opts, &o)) < 0)
		return r;
	es = calloc(1, sizeof(*es));
	if (!es)
		return ipam_etcd__fail(-ENOMEM, NULL, NULL, NULL);
	pthread_mutex_init(&es->lock, NULL);
	es->base.ops = &etcd_store_ops;
	es->coarse = o.coarse != 0;
	es->shift = es->coarse ? 0 : (o.block_size == 64 ? 6 : o.block_size == 128 ? 7 : 8);
	es->log = o.log;
	es->log_ud = o.log_ud;
	es->prefix = strdup(o.prefix);
	if (!es->prefix) {
		etcd_destroy(&es->base);
		return ipam_etcd__fail(-ENOMEM, NULL, NULL, NULL);
	}
	plen = strlen(es->prefix);
	while (plen && es->prefix[plen - 1] == '/')
		es->prefix[--plen] = '\0';
	r = ipam_etcd__client_new(&es->client, &o);
	if (r < 0) {
		etcd_destroy(&es->base);
		return r;
	}
	*out = &es->base;
	return 0;
}

int ipam_etcd__is_store(const ipam_store *st)
{
	return st && st->ops == &etcd_store_ops;
}

int ipam_etcd_stats_get(ipam_store *st, ipam_etcd_stats *out)
{
	struct ipam_etcd__counters *c;

	if (!st || st->ops != &etcd_store_ops || !out)
		return ipam_etcd__fail(-ENOTSUP, "store", NULL, "not an etcd store");
	c = ipam_etcd__client_counters(((struct ipam_etcd__store *)st)->client);
	out->requests = atomic_load(&c->requests);
	out->failovers = atomic_load(&c->failovers);
	out->txns = atomic_load(&c->txns);
	out->txn_conflicts = atomic_load(&c->txn_conflicts);
	out->unreachable = atomic_load(&c->unreachable);
	out->refreshed_keys = atomic_load(&c->refreshed_keys);
	return 0;
}
