/* SPDX-License-Identifier: MIT */
/*
 * ipam-cni as a runtime sees it: every verb in every version, result shapes,
 * identity (idempotent ADD, rebind, stale DEL), CHECK, GC, STATUS, and each
 * error code. The binary is exec'd per call with a temporary store.
 */
#include "cni_harness.h"
#include "testutil.h"

static const char *const versions[] = { "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0" };
#define NV 5

#define DUAL "\"ranges\": [[{\"subnet\": \"10.22.0.0/24\"}], [{\"subnet\": \"fd00:22::/64\"}]]"

static char *dir;

static void setup(void)
{
	dir = cni_tmpdir();
}

static void teardown(void)
{
	cni_rmdir(dir);
	free(dir);
}

static cni_out call(const char *cmd, const char *cid, const char *args, const char *conf)
{
	cni_call_spec c = { .command = cmd, .cid = cid, .ifname = "eth0", .args = args };
	return cni_exec(&c, conf);
}

START_TEST(version_every_version)
{
	for (int i = 0; i < NV; i++) {
		char in[64];
		snprintf(in, sizeof(in), "{\"cniVersion\": \"%s\"}", versions[i]);
		cni_call_spec c = { .command = "VERSION" };
		cni_out o = cni_exec(&c, in);
		json_t *sv = json_object_get(o.json, "supportedVersions");
		ck_assert_int_eq(o.status, 0);
		ck_assert_str_eq(json_string_value(json_object_get(o.json, "cniVersion")), versions[i]);
		ck_assert_int_eq(json_array_size(sv), NV);
		for (int k = 0; k < NV; k++)
			ck_assert_str_eq(json_string_value(json_array_get(sv, k)), versions[k]);
		cni_out_free(&o);
	}
	/* No stdin at all (0.x runtimes): still answered. */
	cni_call_spec c = { .command = "VERSION" };
	cni_out o = cni_exec(&c, NULL);
	ck_assert_int_eq(o.status, 0);
	ck_assert_str_eq(json_string_value(json_object_get(o.json, "cniVersion")), "1.1.0");
	cni_out_free(&o);
}
END_TEST

START_TEST(add_shape_per_version)
{
	for (int i = 0; i < NV; i++) {
		char *conf = cni_conf(versions[i], "net", dir, DUAL ", \"routes\": [{\"dst\": \"0.0.0.0/0\"}]", NULL);
		char cid[32];
		snprintf(cid, sizeof(cid), "c%d", i);
		cni_out o = call("ADD", cid, NULL, conf);
		json_t *ips = json_object_get(o.json, "ips");
		ck_assert_msg(o.status == 0, "%s: %s", versions[i], o.text);
		ck_assert_str_eq(json_string_value(json_object_get(o.json, "cniVersion")), versions[i]);
		ck_assert_int_eq(json_array_size(ips), 2);
		for (int k = 0; k < 2; k++) {
			json_t *ip = json_array_get(ips, (size_t)k);
			json_t *ver = json_object_get(ip, "version");
			if (i < 3)
				ck_assert_str_eq(json_string_value(ver), k == 0 ? "4" : "6");
			else
				ck_assert_ptr_null(ver);
			ck_assert_ptr_null(json_object_get(ip, "interface"));
		}
		ck_assert_ptr_null(json_object_get(o.json, "interfaces"));
		ck_assert(strncmp(cni_ip(&o, 0), "10.22.0.", 8) == 0);
		ck_assert(strstr(cni_ip(&o, 0), "/24"));
		ck_assert(strncmp(cni_ip(&o, 1), "fd00:22::", 9) == 0);
		ck_assert(strstr(cni_ip(&o, 1), "/64"));
		ck_assert_str_eq(json_string_value(json_object_get(json_array_get(ips, 0), "gateway")),
				 "10.22.0.1");
		ck_assert(json_is_object(json_object_get(o.json, "dns")));
		ck_assert_int_eq(json_array_size(json_object_get(o.json, "routes")), 1);
		cni_out_free(&o);
		/* DEL prints nothing and succeeds. */
		o = call("DEL", cid, NULL, conf);
		ck_assert_int_eq(o.status, 0);
		ck_assert_str_eq(o.text, "");
		cni_out_free(&o);
		free(conf);
	}
}
END_TEST

START_TEST(add_idempotent_and_del_twice)
{
	char *conf = cni_conf("1.0.0", "net", dir, DUAL, NULL);
	cni_out a = call("ADD", "c1", NULL, conf), b = call("ADD", "c1", NULL, conf);
	ck_assert_int_eq(a.status, 0);
	ck_assert_int_eq(b.status, 0);
	ck_assert(json_equal(a.json, b.json));
	cni_out_free(&b);
	b = call("ADD", "c2", NULL, conf);
	ck_assert_str_ne(cni_ip(&a, 0), cni_ip(&b, 0));
	cni_out_free(&b);
	for (int i = 0; i < 2; i++) {
		cni_out d = call("DEL", "c1", NULL, conf);
		ck_assert_msg(d.status == 0, "%s", d.text);
		cni_out_free(&d);
	}
	/* DEL of a container never seen, and with no netns. */
	cni_call_spec c = { .command = "DEL", .cid = "never", .ifname = "eth0", .no_netns = 1 };
	cni_out d = cni_exec(&c, conf);
	ck_assert_int_eq(d.status, 0);
	cni_out_free(&d);
	cni_out_free(&a);
	free(conf);
}
END_TEST

#define POD_A "K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;K8S_POD_UID=u1;IgnoreUnknown=1"

START_TEST(rebind_and_stale_del)
{
	char *conf = cni_conf("1.0.0", "net", dir, DUAL, NULL);
	cni_out a = call("ADD", "sandbox1", POD_A, conf);
	cni_out b = call("ADD", "sandbox2", POD_A, conf); /* recreated sandbox */
	ck_assert_int_eq(a.status, 0);
	ck_assert_int_eq(b.status, 0);
	ck_assert_str_eq(cni_ip(&a, 0), cni_ip(&b, 0));
	ck_assert_str_eq(cni_ip(&a, 1), cni_ip(&b, 1));
	/* The old sandbox's late DEL releases nothing. */
	cni_out d = call("DEL", "sandbox1", POD_A, conf);
	ck_assert_int_eq(d.status, 0);
	cni_out_free(&d);
	cni_out other = call("ADD", "x1", "K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-1", conf);
	ck_assert_str_ne(cni_ip(&other, 0), cni_ip(&b, 0));
	cni_out_free(&other);
	/* CHECK of the new sandbox with its result passes. */
	char *prev = json_dumps(b.json, 0), *cconf;
	ck_assert(asprintf(&cconf, "%.*s, \"prevResult\": %s}", (int)strlen(conf) - 1, conf, prev) > 0);
	cni_out ck = call("CHECK", "sandbox2", POD_A, cconf);
	ck_assert_msg(ck.status == 0, "%s", ck.text);
	cni_out_free(&ck);
	ck = call("CHECK", "sandbox1", POD_A, cconf); /* the old one holds nothing */
	ck_assert_int_eq(cni_err_code(&ck), 3);
	cni_out_free(&ck);
	d = call("DEL", "sandbox2", POD_A, conf);
	ck_assert_int_eq(d.status, 0);
	cni_out_free(&d);
	ck = call("CHECK", "sandbox2", POD_A, cconf);
	ck_assert_int_eq(cni_err_code(&ck), 3);
	cni_out_free(&ck);
	free(prev);
	free(cconf);
	cni_out_free(&a);
	cni_out_free(&b);
	free(conf);
}
END_TEST

START_TEST(check_mismatch)
{
	char *conf = cni_conf("0.4.0", "net", dir, DUAL, NULL), *cconf;
	cni_out a = call("ADD", "c1", NULL, conf);
	ck_assert_int_eq(a.status, 0);
	ck_assert(asprintf(&cconf,
			   "%.*s, \"prevResult\": {\"cniVersion\": \"0.4.0\", \"ips\": [{\"version\": "
			   "\"4\", \"address\": \"10.22.0.200/24\"}, {\"version\": \"6\", \"address\": "
			   "\"%s\"}]}}", (int)strlen(conf) - 1, conf, cni_ip(&a, 1)) > 0);
	cni_out ck = call("CHECK", "c1", NULL, cconf);
	ck_assert_int_eq(cni_err_code(&ck), 102);
	ck_assert(strstr(json_string_value(json_object_get(ck.json, "msg")), "10.22.0"));
	cni_out_free(&ck);
	ck = call("CHECK", "c1", NULL, conf); /* no prevResult */
	ck_assert_int_eq(cni_err_code(&ck), 7);
	cni_out_free(&ck);
	free(cconf);
	free(conf);
	conf = cni_conf("0.3.1", "net", dir, DUAL, NULL); /* CHECK is 0.4.0+ */
	ck = call("CHECK", "c1", NULL, conf);
	ck_assert_int_eq(cni_err_code(&ck), 1);
	cni_out_free(&ck);
	cni_out_free(&a);
	free(conf);
}
END_TEST

static void gc_with_key(const char *key)
{
	char *conf = cni_conf("1.1.0", "net", dir, DUAL, NULL), *gconf, *cconf;
	cni_out a[3];
	for (int i = 0; i < 3; i++) {
		char cid[8];
		snprintf(cid, sizeof(cid), "g%d", i);
		a[i] = call("ADD", cid, NULL, conf);
		ck_assert_int_eq(a[i].status, 0);
	}
	ck_assert(asprintf(&gconf, "%.*s, \"%s\": [{\"containerID\": \"g0\", \"ifname\": \"eth0\"}, "
			   "{\"containerID\": \"g2\", \"ifname\": \"net1\"}]}",
			   (int)strlen(conf) - 1, conf, key) > 0);
	cni_call_spec c = { .command = "GC", .no_netns = 1 };
	cni_out g = cni_exec(&c, gconf);
	ck_assert_msg(g.status == 0, "%s", g.text);
	ck_assert_str_eq(g.text, "");
	cni_out_free(&g);
	for (int i = 0; i < 3; i++) {
		char cid[8], *prev = json_dumps(a[i].json, 0);
		snprintf(cid, sizeof(cid), "g%d", i);
		ck_assert(asprintf(&cconf, "%.*s, \"prevResult\": %s}", (int)strlen(conf) - 1, conf, prev) > 0);
		cni_out ck = call("CHECK", cid, NULL, cconf);
		if (i == 0)
			ck_assert_msg(ck.status == 0, "%s", ck.text);
		else /* g2 was listed with another interface only */
			ck_assert_int_eq(cni_err_code(&ck), 3);
		cni_out_free(&ck);
		cni_out_free(&a[i]);
		free(cconf);
		free(prev);
	}
	free(gconf);
	free(conf);
}

START_TEST(gc_valid_attachments)
{
	gc_with_key("cni.dev/valid-attachments");
}
END_TEST

START_TEST(gc_attachments_old_spelling)
{
	gc_with_key("cni.dev/attachments");
}
END_TEST

START_TEST(gc_refusals)
{
	char *conf = cni_conf("1.1.0", "net", dir, DUAL, NULL);
	cni_call_spec c = { .command = "GC", .no_netns = 1 };
	cni_out g = cni_exec(&c, conf); /* no list: nothing is released */
	ck_assert_int_eq(cni_err_code(&g), 7);
	cni_out_free(&g);
	free(conf);
	conf = cni_conf("1.0.0", "net", dir, DUAL, "\"cni.dev/valid-attachments\": []");
	g = cni_exec(&c, conf);
	ck_assert_int_eq(cni_err_code(&g), 1);
	cni_out_free(&g);
	c.command = "STATUS";
	g = cni_exec(&c, conf);
	ck_assert_int_eq(cni_err_code(&g), 1);
	cni_out_free(&g);
	free(conf);
}
END_TEST

START_TEST(status_full_pool)
{
	/* A /30: .1 is the gateway, .2 the only address. */
	char *conf = cni_conf("1.1.0", "tiny", dir, "\"ranges\": [[{\"subnet\": \"10.9.0.0/30\"}]]", NULL);
	cni_call_spec s = { .command = "STATUS", .no_netns = 1 };
	cni_out o = cni_exec(&s, conf);
	ck_assert_msg(o.status == 0, "%s", o.text);
	ck_assert_str_eq(o.text, "");
	cni_out_free(&o);
	o = call("ADD", "c1", NULL, conf);
	ck_assert_str_eq(cni_ip(&o, 0), "10.9.0.2/30");
	cni_out_free(&o);
	o = cni_exec(&s, conf);
	ck_assert_int_eq(cni_err_code(&o), 50);
	cni_out_free(&o);
	o = call("ADD", "c2", NULL, conf);
	ck_assert_int_eq(cni_err_code(&o), 100);
	cni_out_free(&o);
	o = call("DEL", "c1", NULL, conf);
	cni_out_free(&o);
	o = cni_exec(&s, conf);
	ck_assert_msg(o.status == 0, "%s", o.text);
	cni_out_free(&o);
	free(conf);
}
END_TEST

START_TEST(status_soft_and_hard_quarantine)
{
	char *soft = cni_conf("1.1.0", "q", dir, "\"ranges\": [[{\"subnet\": \"10.9.0.0/30\"}]], \"reuseDelay\": 3600", NULL);
	char *hard = cni_conf("1.1.0", "q", dir, "\"ranges\": [[{\"subnet\": \"10.9.0.0/30\"}]], \"reuseDelay\": 3600, \"reuseDelayHard\": true", NULL);
	cni_call_spec s = { .command = "STATUS", .no_netns = 1 };
	cni_out o = call("ADD", "c1", NULL, soft);
	ck_assert_int_eq(o.status, 0);
	cni_out_free(&o);
	o = call("DEL", "c1", NULL, soft); /* .2 is quarantined now */
	cni_out_free(&o);
	o = cni_exec(&s, soft);
	ck_assert_msg(o.status == 0, "soft quarantine counts as available: %s", o.text);
	cni_out_free(&o);
	o = cni_exec(&s, hard);
	ck_assert_int_eq(cni_err_code(&o), 50);
	cni_out_free(&o);
	free(soft);
	free(hard);
}
END_TEST

START_TEST(v6_only_and_exact_addresses)
{
	char *conf = cni_conf("1.0.0", "v6", dir, "\"ranges\": [[{\"subnet\": \"fd00:1::/120\"}]]", NULL);
	cni_out o = call("ADD", "c1", "IP=fd00:1::42", conf);
	ck_assert_msg(o.status == 0, "%s", o.text);
	ck_assert_str_eq(cni_ip(&o, 0), "fd00:1::42/120");
	ck_assert_int_eq(json_array_size(json_object_get(o.json, "ips")), 1);
	cni_out_free(&o);
	o = call("ADD", "c2", "IP=fd00:1::42", conf); /* taken */
	ck_assert_int_eq(cni_err_code(&o), 101);
	cni_out_free(&o);
	o = call("ADD", "c3", "IP=10.0.0.1", conf); /* in no range */
	ck_assert_int_eq(cni_err_code(&o), 101);
	cni_out_free(&o);
	free(conf);
	conf = cni_conf("1.0.0", "v6", dir, "\"ranges\": [[{\"subnet\": \"fd00:1::/120\"}]]",
			"\"args\": {\"cni\": {\"ips\": [\"fd00:1::50\"]}}");
	o = call("ADD", "c4", NULL, conf);
	ck_assert_str_eq(cni_ip(&o, 0), "fd00:1::50/120");
	cni_out_free(&o);
	free(conf);
	conf = cni_conf("1.0.0", "v6", dir, "\"ranges\": [[{\"subnet\": \"fd00:1::/120\"}]]",
			"\"runtimeConfig\": {\"ips\": [\"fd00:1::51/120\"]}");
	o = call("ADD", "c5", NULL, conf);
	ck_assert_str_eq(cni_ip(&o, 0), "fd00:1::51/120");
	cni_out_free(&o);
	free(conf);
}
END_TEST

static void expect_error(const char *version, const char *ipam, const char *extra,
			 const cni_call_spec *spec, int code, const char *needle)
{
	char *conf = cni_conf(version, "net", dir, ipam, extra);
	cni_out o = cni_exec(spec, conf);
	ck_assert_msg(cni_err_code(&o) == code, "want %d: %s", code, o.text);
	if (needle)
		ck_assert_msg(strstr(o.text, needle), "want \"%s\" in %s", needle, o.text);
	ck_assert(json_is_string(json_object_get(o.json, "cniVersion")));
	cni_out_free(&o);
	free(conf);
}

START_TEST(error_codes)
{
	cni_call_spec add = { .command = "ADD", .cid = "c1", .ifname = "eth0" };
	expect_error("0.2.0", DUAL, NULL, &add, 1, "0.2.0");
	expect_error("1.0.0", DUAL ", \"store\": {\"type\": \"memory\"}", NULL, &add, 2, "ipam.store.type");
	expect_error("1.0.0", DUAL ", \"store\": {\"type\": \"etcd\"}", NULL, &add, 7, "ipam.store.endpoints");
	expect_error("1.0.0", DUAL, "\"runtimeConfig\": {\"ipRanges\": [[{\"subnet\": \"10.1.0.0/16\"}]]}",
		     &add, 2, "ipRanges");
	cni_call_spec nocid = { .command = "ADD", .ifname = "eth0" };
	expect_error("1.0.0", DUAL, NULL, &nocid, 4, "CNI_CONTAINERID");
	cni_call_spec badif = { .command = "ADD", .cid = "c1", .ifname = "a/b" };
	expect_error("1.0.0", DUAL, NULL, &badif, 4, "CNI_IFNAME");
	cni_call_spec nons = { .command = "ADD", .cid = "c1", .ifname = "eth0", .no_netns = 1 };
	expect_error("1.0.0", DUAL, NULL, &nons, 4, "CNI_NETNS");
	cni_call_spec badargs = { .command = "ADD", .cid = "c1", .ifname = "eth0", .args = "FOO" };
	expect_error("1.0.0", DUAL, NULL, &badargs, 4, "CNI_ARGS");
	cni_call_spec badcmd = { .command = "FROB", .cid = "c1", .ifname = "eth0" };
	expect_error("1.0.0", DUAL, NULL, &badcmd, 4, "CNI_COMMAND");
	expect_error("1.0.0", DUAL ", \"resolvConf\": \"/nonexistent/resolv.conf\"", NULL, &add, 5,
		     "resolvConf");
	expect_error("1.0.0", "\"ranges\": [[{\"subnet\": \"10.0.0.1/24\"}]]", NULL, &add, 7,
		     "ipam.ranges[0][0].subnet");
	expect_error("1.0.0", "\"ranges\": [[{\"subnet\": \"10.0.0.0/24\"}, {\"subnet\": \"fd00::/64\"}]]",
		     NULL, &add, 7, "ipam.ranges[0][1]");
	expect_error("1.0.0", "\"ranges\": [[{\"subnet\": \"10.0.0.0/24\", \"rangeStart\": \"10.0.1.5\"}]]",
		     NULL, &add, 7, "rangeStart");
	expect_error("1.0.0", "\"ranges\": []", NULL, &add, 7, "no IP ranges");

	/* Undecodable stdin, no name, an unsafe name, a store we cannot use. */
	cni_out o = cni_exec(&add, "{not json");
	ck_assert_int_eq(cni_err_code(&o), 6);
	cni_out_free(&o);
	o = cni_exec(&add, "{\"cniVersion\": \"1.0.0\", \"ipam\": {\"subnet\": \"10.0.0.0/24\"}}");
	ck_assert_int_eq(cni_err_code(&o), 7);
	cni_out_free(&o);
	o = cni_exec(&add, "{\"cniVersion\": \"1.0.0\", \"name\": \"../x\", \"ipam\": {\"subnet\": \"10.0.0.0/24\"}}");
	ck_assert_int_eq(cni_err_code(&o), 7);
	cni_out_free(&o);
	o = cni_exec(&add, "{\"cniVersion\": \"1.0.0\", \"name\": \"n\", \"ipam\": {\"subnet\": "
			   "\"10.0.0.0/24\", \"dataDir\": \"/proc/ipam-cni-cannot\"}}");
	ck_assert_int_eq(cni_err_code(&o), 5);
	cni_out_free(&o);
	o = cni_exec(&add, "{\"cniVersion\": \"1.0.0\"}");
	ck_assert_int_eq(cni_err_code(&o), 7);
	cni_out_free(&o);
	cni_call_spec nocmd = { .cid = "c1", .ifname = "eth0" };
	o = cni_exec(&nocmd, "{}");
	ck_assert_int_eq(cni_err_code(&o), 4);
	cni_out_free(&o);
}
END_TEST

/* The network's configuration changes under running containers: a range
 * set removed, a range narrowed. ADD is refused (code 7, naming a lease)
 * while the store holds leases the new configuration does not cover, and
 * nothing is lost; DEL of those containers succeeds under the new
 * configuration (released under the definition kept with the store); then
 * ADD works. Widening a range keeps every lease. */
static cni_out call_ok(const char *cmd, const char *cid, const char *conf)
{
	cni_out o = call(cmd, cid, NULL, conf);
	ck_assert_msg(o.status == 0, "%s %s: %s", cmd, cid, o.text);
	return o;
}

/* ADD refused with code 7, the message naming a lease by both strings. */
static void add_refused(const char *cid, const char *conf, const char *owner, const char *addr)
{
	cni_out o = call("ADD", cid, NULL, conf);
	ck_assert_int_eq(cni_err_code(&o), 7);
	ck_assert_msg(strstr(o.text, owner) && strstr(o.text, addr), "%s", o.text);
	cni_out_free(&o);
}

START_TEST(config_change_under_containers)
{
	char *a = cni_conf("1.0.0", "net", dir,
			   "\"ranges\": [[{\"subnet\": \"10.22.0.0/24\", \"rangeStart\": \"10.22.0.50\", "
			   "\"rangeEnd\": \"10.22.0.60\"}], [{\"subnet\": \"fd00:22::/64\"}]]",
			   NULL);
	char *b = cni_conf("1.0.0", "net", dir,
			   "\"ranges\": [[{\"subnet\": \"10.22.0.0/24\", \"rangeStart\": \"10.22.0.50\", "
			   "\"rangeEnd\": \"10.22.0.90\"}]]",
			   NULL);
	char *c = cni_conf("1.0.0", "net", dir,
			   "\"ranges\": [[{\"subnet\": \"10.22.0.0/24\", \"rangeStart\": \"10.22.0.70\", "
			   "\"rangeEnd\": \"10.22.0.90\"}]]",
			   NULL);
	char held[64];
	cni_out o = call_ok("ADD", "c1", a);
	ck_assert_str_eq(cni_ip(&o, 0), "10.22.0.50/24");
	cni_out_free(&o);
	/* The v6 range set removed while c1 holds an address in it. */
	add_refused("c2", b, "c1", "fd00:22::");
	o = call_ok("ADD", "c1", a); /* nothing lost: the same addresses */
	ck_assert_str_eq(cni_ip(&o, 0), "10.22.0.50/24");
	ck_assert(strncmp(cni_ip(&o, 1), "fd00:22::", 9) == 0);
	cni_out_free(&o);
	o = call_ok("DEL", "c1", b);
	cni_out_free(&o);
	o = call_ok("ADD", "c2", b);
	ck_assert_int_eq(json_array_size(json_object_get(o.json, "ips")), 1);
	snprintf(held, sizeof(held), "%s", cni_ip(&o, 0));
	*strchr(held, '/') = '\0';
	cni_out_free(&o);
	/* Narrowed past c2's address: refused, then DEL, then fine. */
	add_refused("c3", c, "c2", held);
	o = call_ok("DEL", "c2", c);
	cni_out_free(&o);
	o = call_ok("ADD", "c3", c);
	ck_assert_str_eq(cni_ip(&o, 0), "10.22.0.70/24");
	cni_out_free(&o);
	/* Widened again: c3 keeps its address. */
	o = call_ok("ADD", "c3", b);
	ck_assert_str_eq(cni_ip(&o, 0), "10.22.0.70/24");
	cni_out_free(&o);
	free(a);
	free(b);
	free(c);
}
END_TEST

/* A container that leaked (no DEL will come) holds an address in a range
 * set since removed: GC under the new configuration still collects it,
 * and ADD works afterwards. */
START_TEST(gc_after_config_change)
{
	char *a = cni_conf("1.1.0", "net", dir, DUAL, NULL);
	char *b = cni_conf("1.1.0", "net", dir, "\"ranges\": [[{\"subnet\": \"10.22.0.0/24\"}]]", NULL);
	char *gc;
	cni_out o = call_ok("ADD", "leaked", a);
	cni_out_free(&o);
	o = call_ok("ADD", "kept", a);
	cni_out_free(&o);
	add_refused("new", b, "leaked", "fd00:22::");
	ck_assert(asprintf(&gc, "%.*s, \"cni.dev/valid-attachments\": [{\"containerID\": \"kept\", "
			   "\"ifname\": \"eth0\"}]}", (int)strlen(b) - 1, b) > 0);
	cni_call_spec c = { .command = "GC", .no_netns = 1 };
	o = cni_exec(&c, gc);
	ck_assert_msg(o.status == 0, "%s", o.text);
	cni_out_free(&o);
	add_refused("new", b, "kept", "fd00:22::"); /* its DEL has not come yet */
	o = call_ok("DEL", "kept", b);
	cni_out_free(&o);
	o = call_ok("ADD", "new", b);
	cni_out_free(&o);
	free(gc);
	free(a);
	free(b);
}
END_TEST

/* The definition kept with the store is written by an ADD whose commit
 * went through: an ADD refused after opening the store (its address
 * taken) leaves the kept one as it was. */
START_TEST(kept_definition_after_commit)
{
	char *a = cni_conf("1.0.0", "net", dir, "\"ranges\": [[{\"subnet\": \"10.22.0.0/24\"}]]", NULL);
	char *b = cni_conf("1.0.0", "net", dir,
			   "\"ranges\": [[{\"subnet\": \"10.22.0.0/24\"}]], "
			   "\"routes\": [{\"dst\": \"192.168.0.0/16\"}]",
			   NULL);
	char path[600], *kept;
	cni_out o = call_ok("ADD", "c1", a);
	cni_out_free(&o);
	snprintf(path, sizeof(path), "%s/net.conf.json", dir);
	kept = cni_read_file(path);
	ck_assert_ptr_null(strstr(kept, "192.168.0.0"));
	o = call("ADD", "c2", "IP=10.22.0.2", b); /* c1's */
	ck_assert_int_eq(cni_err_code(&o), 101);
	cni_out_free(&o);
	free(kept);
	kept = cni_read_file(path);
	ck_assert_msg(!strstr(kept, "192.168.0.0"), "%s", kept);
	free(kept);
	o = call_ok("ADD", "c2", b);
	cni_out_free(&o);
	kept = cni_read_file(path);
	ck_assert_ptr_nonnull(strstr(kept, "192.168.0.0"));
	free(kept);
	free(a);
	free(b);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("cni-protocol");
	TCase *tc = tcase_create("verbs");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, version_every_version);
	tcase_add_test(tc, add_shape_per_version);
	tcase_add_test(tc, add_idempotent_and_del_twice);
	tcase_add_test(tc, rebind_and_stale_del);
	tcase_add_test(tc, check_mismatch);
	tcase_add_test(tc, gc_valid_attachments);
	tcase_add_test(tc, gc_attachments_old_spelling);
	tcase_add_test(tc, gc_refusals);
	tcase_add_test(tc, status_full_pool);
	tcase_add_test(tc, status_soft_and_hard_quarantine);
	tcase_add_test(tc, v6_only_and_exact_addresses);
	tcase_add_test(tc, error_codes);
	tcase_add_test(tc, config_change_under_containers);
	tcase_add_test(tc, gc_after_config_change);
	tcase_add_test(tc, kept_definition_after_commit);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(suite());
}
