/* SPDX-License-Identifier: MIT */
/*
 * ipam-cni: a CNI IPAM plugin on libipam's file store.
 *
 * One process per call: the verb in CNI_COMMAND, the network configuration
 * on stdin, the answer (a result or a CNI error object) on stdout, exit
 * status 0 or 1. VERSION touches nothing but stdin; the other verbs parse
 * the configuration, open the store and attach the one network's pool set.
 * Calling conventions and configuration keys: frontends/cni/README.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cni.h"

static int print_json(json_t *j)
{
	int r = json_dumpf(j, stdout, JSON_INDENT(4));

	fputc('\n', stdout);
	return r < 0 || fflush(stdout) != 0 ? -1 : 0;
}

static int print_error(int version, const ipam_netconf_error *err)
{
	json_t *e = json_pack("{s:s, s:i, s:s}", "cniVersion",
			      cni_versions[version >= 0 ? version : CNI_V110], "code", err->code,
			      "msg", err->msg);

	if (e && err->field[0])
		json_object_set_new(e, "details", json_sprintf("field: %s", err->field));
	if (e)
		print_json(e);
	else
		printf("{\"code\": %d, \"msg\": \"out of memory\"}\n", err->code);
	json_decref(e);
	return 1;
}

/* All of stdin, at most IPAM_NETCONF_MAX_INPUT bytes (+1 to detect more). */
static char *read_stdin(size_t *len, ipam_netconf_error *err)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);

	while (buf) {
		ssize_t r = read(0, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ipam_netconf_fail(err, IPAM_CNI_ERR_IO, "stdin", "cannot read stdin: %s",
					  strerror(errno));
			break;
		}
		if (r == 0) {
			*len = n;
			return buf;
		}
		n += (size_t)r;
		if (n > IPAM_NETCONF_MAX_INPUT) {
			ipam_netconf_fail(err, IPAM_CNI_ERR_DECODE, "stdin",
					  "the network configuration is larger than %zu bytes",
					  IPAM_NETCONF_MAX_INPUT);
			break;
		}
		if (n == cap) {
			char *nb = realloc(buf, cap * 2);
			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
	}
	if (!err->code)
		ipam_netconf_fail(err, IPAM_CNI_ERR_INTERNAL, "", "out of memory");
	free(buf);
	return NULL;
}

static int cmd_version(const char *in, size_t len)
{
	json_t *root = len ? json_loadb(in, len, 0, NULL) : NULL;
	int v = cni_version_index(json_string_value(json_object_get(root, "cniVersion")));
	json_t *list = json_array(), *out;

	for (int i = 0; i < CNI_NVERSIONS; i++)
		json_array_append_new(list, json_string(cni_versions[i]));
	out = json_pack("{s:s, s:o}", "cniVersion", cni_versions[v >= 0 ? v : CNI_V110],
			"supportedVersions", list);
	json_decref(root);
	if (!out || print_json(out) < 0)
		return 1;
	json_decref(out);
	return 0;
}

enum verb { V_ADD, V_DEL, V_CHECK, V_GC, V_STATUS };

static int parse_verb(const char *cmd)
{
	static const char *const names[] = { "ADD", "DEL", "CHECK", "GC", "STATUS" };

	for (int i = 0; i < 5; i++)
		if (strcmp(cmd, names[i]) == 0)
			return i;
	return -1;
}

/* cniVersion and what the verb needs from it. */
static int check_version(cni_call *call, int verb, ipam_netconf_error *err)
{
	const json_t *v = json_object_get(call->root, "cniVersion");
	static const char supported[] = "0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0";

	if (!json_is_string(v))
		return ipam_netconf_fail(err, IPAM_CNI_ERR_VERSION, "cniVersion",
					 "cniVersion is missing (supported: %s)", supported);
	call->version = cni_version_index(json_string_value(v));
	if (call->version < 0)
		return ipam_netconf_fail(err, IPAM_CNI_ERR_VERSION, "cniVersion",
					 "cniVersion \"%.32s\" is not supported (supported: %s)",
					 json_string_value(v), supported);
	if (verb == V_CHECK && call->version < CNI_V040)
		return ipam_netconf_fail(err, IPAM_CNI_ERR_VERSION, "cniVersion",
					 "CHECK needs cniVersion 0.4.0 or later, the "
					 "configuration has %s", cni_versions[call->version]);
	if ((verb == V_GC || verb == V_STATUS) && call->version < CNI_V110)
		return ipam_netconf_fail(err, IPAM_CNI_ERR_VERSION, "cniVersion",
					 "%s needs cniVersion 1.1.0, the configuration has %s",
					 verb == V_GC ? "GC" : "STATUS", cni_versions[call->version]);
	return 0;
}

/* The variables a verb needs (CNI_PATH is not needed: nothing is
 * delegated). */
static int check_env(cni_call *call, int verb, ipam_netconf_error *err)
{
	if (verb == V_GC || verb == V_STATUS)
		return 0;
	if (cni_check_containerid(call->env.containerid, err) < 0 ||
	    cni_check_ifname(call->env.ifname, err) < 0)
		return -1;
	if ((verb == V_ADD || verb == V_CHECK) && (!call->env.netns || !*call->env.netns))
		return ipam_netconf_fail(err, IPAM_CNI_ERR_ENV, "CNI_NETNS",
					 "CNI_NETNS is missing or empty");
	return cni_parse_env_args(call->env.args, &call->args, err);
}

static int run(cni_call *call, int verb, const char *in, size_t len, json_t **result,
	       ipam_netconf_error *err)
{
	json_error_t je;

	call->root = json_loadb(in, len, JSON_REJECT_DUPLICATES, &je);
	if (!call->root)
		return ipam_netconf_fail(err, IPAM_CNI_ERR_DECODE, "stdin",
					 "cannot decode the network configuration: %s (line %d, "
					 "column %d)", je.text, je.line, je.column);
	if (!json_is_object(call->root))
		return ipam_netconf_fail(err, IPAM_CNI_ERR_DECODE, "stdin",
					 "the network configuration must be a JSON object");
	if (check_version(call, verb, err) < 0 || check_env(call, verb, err) < 0)
		return -1;
	if (verb == V_ADD && cni_parse_request_ips(call->root, &call->args, err) < 0)
		return -1;
	if (ipam_netconf_from_json(call->root, &call->conf, err) < 0)
		return -1;
#if IPAM_CNI_ETCD_HANDOVER
	if (cni_store_is_etcd(call->conf))
		return cni_handover_etcd(in, len, err);
#endif
	switch (verb) {
	case V_ADD: return cni_cmd_add(call, result, err);
	case V_DEL: return cni_cmd_del(call, err);
	case V_CHECK: return cni_cmd_check(call, err);
	case V_GC: return cni_cmd_gc(call, err);
	default: return cni_cmd_status(call, err);
	}
}

int main(void)
{
	ipam_netconf_error err = { 0, "", "" };
	cni_call call;
	json_t *result = NULL;
	char *in;
	size_t len = 0;
	int verb, rc;

	cni_arena_install();
	memset(&call, 0, sizeof(call));
	call.version = -1;
	call.env.command = getenv("CNI_COMMAND");
	call.env.containerid = getenv("CNI_CONTAINERID");
	call.env.netns = getenv("CNI_NETNS");
	call.env.ifname = getenv("CNI_IFNAME");
	call.env.args = getenv("CNI_ARGS");
	if (!call.env.command || !*call.env.command) {
		ipam_netconf_fail(&err, IPAM_CNI_ERR_ENV, "CNI_COMMAND", "CNI_COMMAND is missing");
		return print_error(-1, &err);
	}
	verb = strcmp(call.env.command, "VERSION") == 0 ? -2 : parse_verb(call.env.command);
	if (verb == -1) {
		ipam_netconf_fail(&err, IPAM_CNI_ERR_ENV, "CNI_COMMAND",
				  "CNI_COMMAND \"%.32s\" is not one of ADD, DEL, CHECK, GC, STATUS, "
				  "VERSION", call.env.command);
		return print_error(-1, &err);
	}
	in = read_stdin(&len, &err);
	if (!in)
		return print_error(-1, &err);
	if (verb == -2) {
		rc = cmd_version(in, len);
		free(in);
		return rc;
	}
	rc = run(&call, verb, in, len, &result, &err);
	free(in);
	if (rc < 0)
		rc = print_error(call.version, &err);
	else
		rc = result && print_json(result) < 0 ? 1 : 0;
	json_decref(result);
	json_decref(call.root);
	ipam_netconf_free(call.conf);
	return rc;
}
