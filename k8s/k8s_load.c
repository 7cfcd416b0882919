/* SPDX-License-Identifier: MIT */
/*
 * Pod and node lists from their JSON documents (kubectl's v1 List or the
 * API server's PodList/NodeList) into fresh k8s_pods/k8s_nodes.
 *
 * Built for one parse of a whole cluster's list (10^5 pods) per GC round:
 * jansson builds the tree, one walk keeps only what the verdicts need, and
 * the tree is dropped. Every check that can fail runs before the caller
 * swaps the new list in, so a failed load changes nothing. Only the fields
 * the verdicts read are validated; the rest of each item is ignored.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "k8s_internal.h"

/* What distinguishes the two kinds of document. */
typedef struct doc_kind {
	const char *what;      /* "pods" / "nodes": names the document in messages */
	const char *list_kind; /* "PodList" */
	const char *item_kind; /* "Pod" */
} doc_kind;

static const doc_kind pod_doc = {"pods", "PodList", "Pod"};
static const doc_kind node_doc = {"nodes", "NodeList", "Node"};

/* A path like "items[12].metadata.name" for messages. */
typedef struct path {
	char buf[96];
} path;

K8S_PRINTF(2, 3) static const char *at(path *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->buf, sizeof(p->buf), fmt, ap);
	va_end(ap);
	return p->buf;
}

/* Open the document: parse, check apiVersion and kind, find items[]. On
 * success *root holds the tree (json_decref it) and *items the array. */
static int open_doc(const doc_kind *k, const char *json, size_t len, size_t max_input,
		    json_t **root, json_t **items)
{
	json_error_t jerr;
	json_t *doc, *v;
	const char *kind;

	if (!json)
		return ipam_k8s__fail(-EINVAL, k->what, NULL, "no document given");
	if (len > max_input)
		return ipam_k8s__fail(-E2BIG, k->what, NULL,
				      "document of %zu bytes is over the limit of %zu bytes", len,
				      max_input);
	doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc)
		return ipam_k8s__fail(-EBADMSG, k->what, NULL,
				      "malformed JSON at line %d, column %d: %s", jerr.line,
				      jerr.column, jerr.text);
	if (!json_is_object(doc)) {
		json_decref(doc);
		return ipam_k8s__fail(-EINVAL, k->what, NULL, "the document is not a JSON object");
	}
	v = json_object_get(doc, "apiVersion");
	if (!json_is_string(v)) {
		json_decref(doc);
		return ipam_k8s__fail(-EINVAL, "apiVersion", NULL,
				      "missing or not a string: not a %s list", k->what);
	}
	if (strcmp(json_string_value(v), "v1") != 0) {
		int r = ipam_k8s__fail(-EPROTO, "apiVersion", json_string_value(v),
				       "only v1 %s lists are understood", k->what);
		json_decref(doc);
		return r;
	}
	v = json_object_get(doc, "kind");
	kind = json_is_string(v) ? json_string_value(v) : NULL;
	if (!kind || (strcmp(kind, "List") != 0 && strcmp(kind, k->list_kind) != 0)) {
		int r = ipam_k8s__fail(-EINVAL, "kind", kind,
				       "expected \"List\" or \"%s\": not a %s list", k->list_kind,
				       k->what);
		json_decref(doc);
		return r;
	}
	v = json_object_get(doc, "items");
	if (!json_is_array(v)) {
		json_decref(doc);
		return ipam_k8s__fail(-EINVAL, "items", NULL, "missing or not an array");
	}
	*root = doc;
	*items = v;
	return 0;
}

/* The item as an object of the right kind, with its metadata object. */
static int open_item(const doc_kind *k, json_t *item, size_t i, json_t **meta)
{
	path p;
	json_t *v;

	if (!json_is_object(item))
		return ipam_k8s__fail(-EINVAL, at(&p, "items[%zu]", i), NULL, "not an object");
	v = json_object_get(item, "kind");
	if (v && !(json_is_string(v) && strcmp(json_string_value(v), k->item_kind) == 0))
		return ipam_k8s__fail(-EINVAL, at(&p, "items[%zu].kind", i),
				      json_is_string(v) ? json_string_value(v) : NULL,
				      "expected \"%s\"", k->item_kind);
	*meta = json_object_get(item, "metadata");
	if (!json_is_object(*meta))
		return ipam_k8s__fail(-EINVAL, at(&p, "items[%zu].metadata", i), NULL,
				      "missing or not an object");
	return 0;
}

/* A required name: a non-empty string of at most max bytes, printable
 * ASCII without '/' (so "namespace/name" splits one way only). */
static int get_name(json_t *obj, const char *key, size_t max, size_t i, const char *parent,
		    const char **s, size_t *len)
{
	json_t *v = json_object_get(obj, key);
	path p;
	size_t j;

	if (!json_is_string(v))
		return ipam_k8s__fail(-EINVAL, at(&p, "items[%zu].%s.%s", i, parent, key), NULL,
				      "missing or not a string");
	*s = json_string_value(v);
	*len = json_string_length(v);
	if (*len == 0)
		return ipam_k8s__fail(-EINVAL, at(&p, "items[%zu].%s.%s", i, parent, key), "",
				      "empty");
	if (*len > max)
		return ipam_k8s__fail(-ENAMETOOLONG, at(&p, "items[%zu].%s.%s", i, parent, key),
				      *s, "%zu bytes, over the limit of %zu", *len, max);
	for (j = 0; j < *len; j++) {
		unsigned char c = (unsigned char)(*s)[j];
		if (c <= 0x20 || c >= 0x7f || c == '/')
			return ipam_k8s__fail(-EINVAL,
					      at(&p, "items[%zu].%s.%s", i, parent, key), *s,
					      "invalid character at offset %zu", j);
	}
	return 0;
}

/* An optional string: absent or null gives NULL. */
static int get_opt_string(json_t *obj, const char *key, size_t i, const char *parent,
			  const char **s, size_t *len)
{
	json_t *v = obj ? json_object_get(obj, key) : NULL;
	path p;

	*s = NULL;
	*len = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return ipam_k8s__fail(-EINVAL, at(&p, "items[%zu].%s.%s", i, parent, key), NULL,
				      "not a string");
	*s = json_string_value(v);
	*len = json_string_length(v);
	return 0;
}

/* An optional object member: absent or null gives NULL. */
static int get_opt_object(json_t *obj, const char *key, size_t i, json_t **out)
{
	json_t *v = json_object_get(obj, key);
	path p;

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return ipam_k8s__fail(-EINVAL, at(&p, "items[%zu].%s", i, key), NULL,
				      "not an object");
	*out = v;
	return 0;
}

static int get_opt_time(json_t *obj, const char *key, size_t i, const char *parent,
			bool *present, int64_t *t)
{
	const char *s;
	size_t len;
	path p;
	int r = get_opt_string(obj, key, i, parent, &s, &len);

	*present = false;
	if (r < 0 || !s)
		return r;
	if (ipam_k8s_parse_time(s, len, t) < 0)
		return ipam_k8s__fail(-ERANGE, at(&p, "items[%zu].%s.%s", i, parent, key), s,
				      "not an RFC 3339 date-time");
	*present = true;
	return 0;
}

static k8s_phase phase_of(const char *s)
{
	if (!s || strcmp(s, "Pending") == 0)
		return K8S_PHASE_PENDING;
	if (strcmp(s, "Running") == 0)
		return K8S_PHASE_RUNNING;
	if (strcmp(s, "Succeeded") == 0)
		return K8S_PHASE_SUCCEEDED;
	if (strcmp(s, "Failed") == 0)
		return K8S_PHASE_FAILED;
	return K8S_PHASE_UNKNOWN;
}

/* deletionTimestamp + deletionGracePeriodSeconds, if the pod is terminating. */
static int pod_deadline(json_t *meta, size_t i, k8s_pod *pod)
{
	json_t *g = json_object_get(meta, "deletionGracePeriodSeconds");
	json_int_t grace = 0;
	bool terminating;
	int64_t ts;
	path p;
	int r = get_opt_time(meta, "deletionTimestamp", i, "metadata", &terminating, &ts);

	if (r < 0)
		return r;
	if (g && !json_is_null(g)) {
		if (!json_is_integer(g))
			return ipam_k8s__fail(-EINVAL,
					      at(&p, "items[%zu].metadata.deletionGracePeriodSeconds", i),
					      NULL, "not an integer");
		grace = json_integer_value(g);
		/* Up to ~300 years: keeps every sum below within int64. */
		if (grace < 0 || grace > ((json_int_t)1 << 33))
			return ipam_k8s__fail(-ERANGE,
					      at(&p, "items[%zu].metadata.deletionGracePeriodSeconds", i),
					      NULL, "%lld is out of range", (long long)grace);
	}
	pod->terminating = terminating;
	pod->delete_at = terminating ? ts + (int64_t)grace : 0;
	return 0;
}

/* Grow pods[] to hold index n. */
static int pods_reserve(k8s_pods *p, size_t n, size_t *cap)
{
	size_t ncap = *cap ? *cap * 2 : 256;
	k8s_pod *a;

	if (n < *cap)
		return 0;
	a = realloc(p->pods, ncap * sizeof(*a));
	if (!a)
		return -ENOMEM;
	p->pods = a;
	*cap = ncap;
	return 0;
}

static int parse_pod(k8s_pods *p, size_t *cap, json_t *item, size_t i)
{
	const char *ns, *name, *uid, *phase;
	size_t ns_len, name_len, uid_len, phase_len, uid_off;
	char key[IPAM_OWNER_MAX + 1];
	json_t *meta, *status;
	k8s_pod pod;
	uint32_t idx;
	path pa;
	int r;

	if ((r = open_item(&pod_doc, item, i, &meta)) < 0 ||
	    (r = get_name(meta, "namespace", IPAM_K8S_NAMESPACE_MAX, i, "metadata", &ns,
			  &ns_len)) < 0 ||
	    (r = get_name(meta, "name", IPAM_K8S_NAME_MAX, i, "metadata", &name, &name_len)) < 0 ||
	    (r = get_name(meta, "uid", IPAM_K8S_UID_MAX, i, "metadata", &uid, &uid_len)) < 0 ||
	    (r = pod_deadline(meta, i, &pod)) < 0 || (r = get_opt_object(item, "status", i, &status)) < 0 ||
	    (r = get_opt_string(status, "phase", i, "status", &phase, &phase_len)) < 0)
		return r;
	pod.phase = (uint8_t)phase_of(phase);
	if (ns_len + 1 + name_len > IPAM_OWNER_MAX) {
		p->skipped++; /* no lease can be owned by it */
		return 0;
	}
	memcpy(key, ns, ns_len);
	key[ns_len] = '/';
	memcpy(key + ns_len + 1, name, name_len);
	r = ipam_k8s__names_add(&p->names, key, ns_len + 1 + name_len, &idx);
	if (r == -EEXIST) {
		key[ns_len + 1 + name_len] = '\0';
		return ipam_k8s__fail(-EINVAL, at(&pa, "items[%zu].metadata.name", i), key,
				      "duplicate pod");
	}
	if (r < 0 || (r = pods_reserve(p, idx, cap)) < 0 ||
	    (r = ipam_k8s__names_store(&p->names, uid, uid_len, &uid_off)) < 0)
		return ipam_k8s__fail(r, "pods", NULL, NULL);
	pod.uid_off = uid_off;
	p->pods[idx] = pod;
	return 0;
}

void ipam_k8s__pods_free(k8s_pods *p)
{
	if (!p)
		return;
	ipam_k8s__names_free(&p->names);
	free(p->pods);
	free(p);
}

int ipam_k8s__parse_pods(const char *json, size_t len, size_t max_input, uint64_t seed,
			 k8s_pods **out)
{
	json_t *root, *items;
	size_t i, cap = 0;
	k8s_pods *p;
	int r = open_doc(&pod_doc, json, len, max_input, &root, &items);

	if (r < 0)
		return r;
	p = calloc(1, sizeof(*p));
	if (!p) {
		json_decref(root);
		return ipam_k8s__fail(-ENOMEM, "pods", NULL, NULL);
	}
	ipam_k8s__names_init(&p->names, seed);
	for (i = 0; i < json_array_size(items); i++) {
		r = parse_pod(p, &cap, json_array_get(items, i), i);
		if (r < 0)
			break;
	}
	json_decref(root);
	if (r < 0) {
		ipam_k8s__pods_free(p);
		return r;
	}
	*out = p;
	return 0;
}

/* ---- nodes ------------------------------------------------------------------ */

/* The Ready condition of a node: ready or not, and since when not. */
static int node_ready(json_t *item, size_t i, k8s_node *node)
{
	json_t *status, *conds;
	size_t j;
	path p;
	int r = get_opt_object(item, "status", i, &status);

	node->ready = 0;
	node->not_ready_since = 0;
	if (r < 0 || !status)
		return r;
	conds = json_object_get(status, "conditions");
	if (!conds || json_is_null(conds))
		return 0;
	if (!json_is_array(conds))
		return ipam_k8s__fail(-EINVAL, at(&p, "items[%zu].status.conditions", i), NULL,
				      "not an array");
	for (j = 0; j < json_array_size(conds); j++) {
		json_t *c = json_array_get(conds, j), *type, *st;
		bool have_since;
		int64_t since;

		if (!json_is_object(c))
			return ipam_k8s__fail(-EINVAL,
					      at(&p, "items[%zu].status.conditions[%zu]", i, j),
					      NULL, "not an object");
		type = json_object_get(c, "type");
		if (!json_is_string(type) || strcmp(json_string_value(type), "Ready") != 0)
			continue;
		st = json_object_get(c, "status");
		if (!json_is_string(st))
			return ipam_k8s__fail(-EINVAL,
					      at(&p, "items[%zu].status.conditions[%zu].status", i, j),
					      NULL, "missing or not a string");
		r = get_opt_time(c, "lastTransitionTime", i, "status.conditions[]", &have_since,
				 &since);
		if (r < 0)
			return r;
		node->ready = strcmp(json_string_value(st), "True") == 0;
		node->not_ready_since = !node->ready && have_since ? since : 0;
		return 0;
	}
	return 0; /* no Ready condition: not ready, since unknown */
}

static int parse_node(k8s_nodes *n, size_t *cap, json_t *item, size_t i)
{
	const char *name;
	size_t name_len;
	json_t *meta;
	k8s_node node;
	uint32_t idx;
	path p;
	int r;

	if ((r = open_item(&node_doc, item, i, &meta)) < 0 ||
	    (r = get_name(meta, "name", IPAM_K8S_NAME_MAX, i, "metadata", &name, &name_len)) < 0 ||
	    (r = node_ready(item, i, &node)) < 0)
		return r;
	if (name_len > IPAM_NODE_MAX) {
		n->skipped++; /* no lease can name it */
		return 0;
	}
	r = ipam_k8s__names_add(&n->names, name, name_len, &idx);
	if (r == -EEXIST)
		return ipam_k8s__fail(-EINVAL, at(&p, "items[%zu].metadata.name", i), name,
				      "duplicate node");
	if (r < 0)
		return ipam_k8s__fail(r, "nodes", NULL, NULL);
	if (idx >= *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		k8s_node *a = realloc(n->nodes, ncap * sizeof(*a));
		if (!a)
			return ipam_k8s__fail(-ENOMEM, "nodes", NULL, NULL);
		n->nodes = a;
		*cap = ncap;
	}
	n->nodes[idx] = node;
	n->not_ready += !node.ready;
	return 0;
}

void ipam_k8s__nodes_free(k8s_nodes *n)
{
	if (!n)
		return;
	ipam_k8s__names_free(&n->names);
	free(n->nodes);
	free(n);
}

int ipam_k8s__parse_nodes(const char *json, size_t len, size_t max_input, uint64_t seed,
			  k8s_nodes **out)
{
	json_t *root, *items;
	size_t i, cap = 0;
	k8s_nodes *n;
	int r = open_doc(&node_doc, json, len, max_input, &root, &items);

	if (r < 0)
		return r;
	n = calloc(1, sizeof(*n));
	if (!n) {
		json_decref(root);
		return ipam_k8s__fail(-ENOMEM, "nodes", NULL, NULL);
	}
	ipam_k8s__names_init(&n->names, seed);
	for (i = 0; i < json_array_size(items); i++) {
		r = parse_node(n, &cap, json_array_get(items, i), i);
		if (r < 0)
			break;
	}
	json_decref(root);
	if (r < 0) {
		ipam_k8s__nodes_free(n);
		return r;
	}
	*out = n;
	return 0;
}
