/* SPDX-License-Identifier: MIT */
/*
 * What a CNI call carries besides the network definition: CNI_ARGS, the
 * addresses a runtime asks for, prevResult, the valid attachments of GC.
 * Pure parsing (no files, no store): the fuzz target drives these.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "cni.h"

const char *const cni_versions[CNI_NVERSIONS] = { "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0" };

int cni_version_index(const char *v)
{
	for (int i = 0; v && i < CNI_NVERSIONS; i++)
		if (strcmp(v, cni_versions[i]) == 0)
			return i;
	return -1;
}

/* One requested address: bare, or with a prefix length as runtimeConfig.ips
 * spells it ("10.1.2.3/24"; the length is not used). */
static int add_ip(cni_args *a, const char *s, size_t len, const char *field,
		  ipam_netconf_error *err, int code)
{
	ipam_prefix p;
	int r = ipam_prefix_parse_n(s, len, IPAM_PREFIX_KEEP_HOST | IPAM_PREFIX_BARE_ADDR, &p);

	if (r < 0)
		return ipam_netconf_fail(err, code, field, "%s \"%.*s\": not an IP address", field,
					 (int)(len > 64 ? 64 : len), s);
	for (unsigned i = 0; i < a->nips; i++)
		if (ipam_addr_cmp(&a->ips[i], &p.addr) == 0)
			return 0;
	if (a->nips == CNI_MAX_IPS)
		return ipam_netconf_fail(err, code, field, "%s: more than %d addresses requested",
					 field, CNI_MAX_IPS);
	a->ips[a->nips++] = p.addr;
	return 0;
}

static int set_field(char *dst, size_t size, const char *v, size_t len, const char *key,
		     ipam_netconf_error *err)
{
	if (len >= size)
		return ipam_netconf_fail(err, IPAM_CNI_ERR_ENV, "CNI_ARGS",
					 "CNI_ARGS %s is too long (%zu bytes, at most %zu)", key, len,
					 size - 1);
	memcpy(dst, v, len);
	dst[len] = 0;
	return 0;
}

static int take_pair(cni_args *a, const char *k, size_t klen, const char *v, size_t vlen,
		     ipam_netconf_error *err)
{
#define KEY_IS(name) (klen == sizeof(name) - 1 && memcmp(k, name, klen) == 0)
	if (KEY_IS("K8S_POD_NAMESPACE"))
		return set_field(a->pod_namespace, sizeof(a->pod_namespace), v, vlen, "K8S_POD_NAMESPACE", err);
	if (KEY_IS("K8S_POD_NAME"))
		return set_field(a->pod_name, sizeof(a->pod_name), v, vlen, "K8S_POD_NAME", err);
	if (KEY_IS("K8S_POD_UID"))
		return set_field(a->pod_uid, sizeof(a->pod_uid), v, vlen, "K8S_POD_UID", err);
	if (KEY_IS("IP")) {
		while (vlen) {
			const char *comma = memchr(v, ',', vlen);
			size_t n = comma ? (size_t)(comma - v) : vlen;
			if (add_ip(a, v, n, "CNI_ARGS IP", err, IPAM_CNI_ERR_ENV) < 0)
				return -1;
			v += n;
			vlen -= n;
			if (comma) {
				v++;
				vlen--;
			}
		}
	}
#undef KEY_IS
	return 0; /* other keys (IgnoreUnknown, K8S_POD_INFRA_CONTAINER_ID, ...) */
}

int cni_parse_env_args(const char *s, cni_args *a, ipam_netconf_error *err)
{
	while (s && *s) {
		const char *end = strchr(s, ';');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		const char *eq = memchr(s, '=', len);

		if (len) {
			if (!eq || eq == s)
				return ipam_netconf_fail(err, IPAM_CNI_ERR_ENV, "CNI_ARGS",
							 "CNI_ARGS: \"%.*s\" is not a KEY=VALUE pair",
							 (int)(len > 64 ? 64 : len), s);
			if (take_pair(a, s, (size_t)(eq - s), eq + 1, len - (size_t)(eq - s) - 1,
				      err) < 0)
				return -1;
		}
		s = end ? end + 1 : s + len;
	}
	return 0;
}

static int ip_list(const json_t *list, const char *field, cni_args *a, ipam_netconf_error *err)
{
	char f[64];
	size_t i;
	json_t *v;

	if (!list || json_is_null(list))
		return 0;
	if (!json_is_array(list))
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, field,
					 "%s must be an array of IP addresses", field);
	json_array_foreach(list, i, v) {
		snprintf(f, sizeof(f), "%s[%zu]", field, i);
		if (!json_is_string(v))
			return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, f, "%s must be a string", f);
		if (add_ip(a, json_string_value(v), json_string_length(v), f, err,
			   IPAM_CNI_ERR_CONFIG) < 0)
			return -1;
	}
	return 0;
}

int cni_parse_request_ips(const json_t *root, cni_args *a, ipam_netconf_error *err)
{
	const json_t *args = json_object_get(root, "args");
	const json_t *rc = json_object_get(root, "runtimeConfig");
	const json_t *ranges;

	if (json_is_object(args)) {
		const json_t *cni = json_object_get(args, "cni");
		if (json_is_object(cni) && ip_list(json_object_get(cni, "ips"), "args.cni.ips", a, err) < 0)
			return -1;
	}
	if (!json_is_object(rc))
		return 0;
	ranges = json_object_get(rc, "ipRanges");
	if (ranges && !json_is_null(ranges) && !(json_is_array(ranges) && !json_array_size(ranges)))
		return ipam_netconf_fail(err, IPAM_CNI_ERR_UNSUPPORTED, "runtimeConfig.ipRanges",
					 "runtimeConfig.ipRanges is not supported: the pools of a "
					 "network come from its configuration (ipam.ranges)");
	return ip_list(json_object_get(rc, "ips"), "runtimeConfig.ips", a, err);
}

int cni_parse_prev_ips(const json_t *root, ipam_addr *out, unsigned *n, ipam_netconf_error *err)
{
	const json_t *prev = json_object_get(root, "prevResult");
	const json_t *ips;
	unsigned room = *n, count = 0;
	char f[48];
	size_t i;
	json_t *ip;

	*n = 0;
	if (!json_is_object(prev))
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, "prevResult",
					 "prevResult: the result of the previous ADD is required");
	ips = json_object_get(prev, "ips");
	if (!ips || json_is_null(ips))
		return 0;
	if (!json_is_array(ips))
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, "prevResult.ips",
					 "prevResult.ips must be an array");
	json_array_foreach(ips, i, ip) {
		ipam_prefix p;
		const json_t *a = json_object_get(ip, "address");
		snprintf(f, sizeof(f), "prevResult.ips[%zu].address", i);
		if (!json_is_string(a) ||
		    ipam_prefix_parse_n(json_string_value(a), json_string_length(a),
					IPAM_PREFIX_KEEP_HOST, &p) < 0)
			return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, f,
						 "%s must be an address with its prefix length", f);
		if (count == room)
			return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, "prevResult.ips",
						 "prevResult.ips: more than %u addresses", room);
		out[count++] = p.addr;
	}
	*n = count;
	return 0;
}

int cni_parse_attachments(const json_t *root, ipam_gc_oracle *oracle, ipam_netconf_error *err)
{
	const char *key = "cni.dev/valid-attachments";
	const json_t *list = json_object_get(root, key);
	char f[80];
	size_t i;
	json_t *e;

	if (!list) {
		key = "cni.dev/attachments";
		list = json_object_get(root, key);
	}
	if (!list)
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, "cni.dev/valid-attachments",
					 "cni.dev/valid-attachments is missing: GC needs the list of "
					 "valid attachments");
	if (!json_is_array(list))
		return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, key, "%s must be an array", key);
	json_array_foreach(list, i, e) {
		const json_t *id = json_object_get(e, "containerID");
		const json_t *ifn = json_object_get(e, "ifname");
		int r;

		snprintf(f, sizeof(f), "%s[%zu]", key, i);
		if (!json_is_string(id) || (ifn && !json_is_string(ifn)) ||
		    strlen(json_string_value(id)) != json_string_length(id) ||
		    (ifn && strlen(json_string_value(ifn)) != json_string_length(ifn)))
			return ipam_netconf_fail(err, IPAM_CNI_ERR_CONFIG, f,
						 "%s must be {\"containerID\": string, \"ifname\": "
						 "string}", f);
		r = ipam_gc_attachments_add(oracle, json_string_value(id),
					    ifn ? json_string_value(ifn) : NULL);
		if (r < 0)
			return ipam_netconf_fail(err, r == -ENOMEM ? IPAM_CNI_ERR_INTERNAL
								   : IPAM_CNI_ERR_CONFIG,
						 f, "%s: %s", f, ipam_strerror(r));
	}
	return 0;
}

int cni_check_containerid(const char *id, ipam_netconf_error *err)
{
	size_t n = id ? strlen(id) : 0;

	if (!n)
		return ipam_netconf_fail(err, IPAM_CNI_ERR_ENV, "CNI_CONTAINERID",
					 "CNI_CONTAINERID is missing or empty");
	if (n > IPAM_ATTACHMENT_MAX)
		return ipam_netconf_fail(err, IPAM_CNI_ERR_ENV, "CNI_CONTAINERID",
					 "CNI_CONTAINERID is %zu bytes, more than %d", n,
					 IPAM_ATTACHMENT_MAX);
	if (!isalnum((unsigned char)id[0]))
		goto bad;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)id[i]) && !strchr("_.-", id[i]))
			goto bad;
	return 0;
bad:
	return ipam_netconf_fail(err, IPAM_CNI_ERR_ENV, "CNI_CONTAINERID",
				 "CNI_CONTAINERID \"%.64s\": must start with a letter or digit, "
				 "then letters, digits, '_', '.' or '-'", id);
}

int cni_check_ifname(const char *ifname, ipam_netconf_error *err)
{
	size_t n = ifname ? strlen(ifname) : 0;

	if (!n)
		return ipam_netconf_fail(err, IPAM_CNI_ERR_ENV, "CNI_IFNAME",
					 "CNI_IFNAME is missing or empty");
	if (n > IPAM_IFNAME_MAX || strcmp(ifname, ".") == 0 || strcmp(ifname, "..") == 0)
		goto bad;
	for (size_t i = 0; i < n; i++)
		if (ifname[i] == '/' || ifname[i] == ':' || isspace((unsigned char)ifname[i]) ||
		    (unsigned char)ifname[i] < 0x20)
			goto bad;
	return 0;
bad:
	return ipam_netconf_fail(err, IPAM_CNI_ERR_ENV, "CNI_IFNAME",
				 "CNI_IFNAME \"%.32s\": not a valid interface name (1-15 bytes, "
				 "no '/', ':' or white space, not \".\" or \"..\")", ifname);
}
