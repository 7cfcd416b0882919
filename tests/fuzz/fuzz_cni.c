/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target of ipam-cni's input parsers, in-process: the first line of an
 * input is CNI_ARGS, the rest the network configuration on stdin. Every
 * parser runs (CNI_ARGS, the network definition, requested addresses,
 * prevResult, valid attachments); an accepted definition must survive its
 * normalised round trip (to_json, parse again, to_json: equal).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cni.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(const ipam_netconf *c)
{
	ipam_netconf_error err = { 0, "", "" };
	ipam_netconf *d = NULL;
	json_t *j1 = ipam_netconf_to_json(c, NULL), *j2;
	char *t;

	if (!j1)
		return;
	t = json_dumps(j1, 0);
	if (t && ipam_netconf_parse(t, strlen(t), &d, &err) != 0)
		abort(); /* a normalised definition must read back */
	j2 = d ? ipam_netconf_to_json(d, NULL) : NULL;
	if (d && (!j2 || !json_equal(j1, j2)))
		abort();
	json_decref(j2);
	json_decref(j1);
	free(t);
	ipam_netconf_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const char *nl = memchr(text, '\n', size);
	size_t alen = nl ? (size_t)(nl - text) : 0;
	ipam_netconf_error err = { 0, "", "" };
	char *args = malloc(alen + 1);
	ipam_netconf *c = NULL;
	ipam_gc_oracle *o = NULL;
	cni_args a;
	json_t *root;

	if (!args)
		return 0;
	memcpy(args, text, alen);
	args[alen] = 0;
	memset(&a, 0, sizeof(a));
	if (strlen(args) == alen)
		cni_parse_env_args(args, &a, &err);
	free(args);
	if (nl) {
		text = nl + 1;
		size -= alen + 1;
	}
	root = json_loadb(text, size, JSON_REJECT_DUPLICATES, NULL);
	if (!root)
		return 0;
	if (ipam_netconf_from_json(root, &c, &err) == 0) {
		round_trip(c);
		ipam_netconf_free(c);
	}
	cni_parse_request_ips(root, &a, &err);
	{
		ipam_addr prev[8];
		unsigned n = 8;
		cni_parse_prev_ips(root, prev, &n, &err);
	}
	if (ipam_gc_attachments_new(&o) == 0) {
		cni_parse_attachments(root, o, &err);
		ipam_gc_oracle_free(o);
	}
	cni_check_containerid(json_string_value(json_object_get(root, "name")), &err);
	cni_check_ifname(json_string_value(json_object_get(root, "type")), &err);
	json_decref(root);
	return 0;
}
