/* SPDX-License-Identifier: MIT */
/*
 * The shared configuration library in-process: how range sets map to pools,
 * the field named by every refusal, the normalised definition reading back
 * into the same pools, and its file next to the store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipam_config.h"
#include "testutil.h"

static ipam_netconf *parse_ok(const char *text)
{
	ipam_netconf_error err = { 0, "", "" };
	ipam_netconf *c = NULL;
	int r = ipam_netconf_parse(text, strlen(text), &c, &err);
	ck_assert_msg(r == 0, "%s", err.msg);
	return c;
}

START_TEST(range_sets_to_pools)
{
	ipam_netconf *c = parse_ok(
		"{\"name\": \"n\", \"ipam\": {\"subnet\": \"192.168.9.0/24\", \"ranges\": ["
		"[{\"subnet\": \"10.10.0.0/16\", \"rangeStart\": \"10.10.1.20\", \"rangeEnd\": \"10.10.3.50\"},"
		" {\"subnet\": \"172.16.5.0/24\"}, {\"subnet\": \"10.10.0.0/16\", \"rangeStart\": \"10.10.9.1\","
		" \"rangeEnd\": \"10.10.9.9\", \"gateway\": \"10.10.0.254\"}],"
		"[{\"subnet\": \"fd00::/64\"}]]}}");
	const ipam_poolset *s = c->set;

	ck_assert_int_eq(c->ngroups, 3); /* the older single range comes first */
	ck_assert_int_eq(c->npools, 4);
	ck_assert_str_eq(ipam_pool_name(ipam_poolset_pool(s, 0)), "rs0");
	ck_assert_str_eq(ipam_pool_name(ipam_poolset_pool(s, 1)), "rs1");
	ck_assert_str_eq(ipam_pool_name(ipam_poolset_pool(s, 2)), "rs1-1");
	ck_assert_str_eq(ipam_pool_name(ipam_poolset_pool(s, 3)), "rs2");
	ck_assert_int_eq(ipam_pool_range_count(ipam_poolset_pool(s, 1)), 2);
	ck_assert_int_eq(ipam_netconf_pool_group(c, s, "rs1-1"), 1);
	char gw[IPAM_ADDR_STRLEN];
	ipam_addr_format(ipam_pool_gateway(ipam_poolset_pool(s, 1)), gw, sizeof(gw));
	ck_assert_str_eq(gw, "10.10.0.254"); /* the named gateway wins over the default */
	ck_assert_str_eq(c->store_dir, IPAM_NETCONF_DEFAULT_DIR);
	ipam_netconf_free(c);
}
END_TEST

static const struct {
	const char *ipam;
	int code;
	const char *field;
} bad[] = {
	{ "\"ranges\": [[{\"subnet\": \"10.0.0.1/24\"}]]", 7, "ipam.ranges[0][0].subnet" },
	{ "\"ranges\": [[{\"subnet\": 5}]]", 7, "ipam.ranges[0][0].subnet" },
	{ "\"ranges\": [[{}]]", 7, "ipam.ranges[0][0].subnet" },
	{ "\"ranges\": [[]]", 7, "ipam.ranges[0]" },
	{ "\"ranges\": {}", 7, "ipam.ranges" },
	{ "\"ranges\": [[{\"subnet\": \"10.0.0.0/24\", \"gateway\": \"10.0.1.1\"}]]", 7, "ipam.ranges[0][0].gateway" },
	{ "\"ranges\": [[{\"subnet\": \"10.0.0.0/24\", \"rangeEnd\": \"fd00::1\"}]]", 7, "ipam.ranges[0][0].rangeEnd" },
	{ "\"ranges\": [[{\"subnet\": \"10.0.0.0/24\", \"rangeStart\": \"10.0.0.9\", \"rangeEnd\": \"10.0.0.3\"}]]", 7, "ipam.ranges[0][0].rangeEnd" },
	{ "\"ranges\": [[{\"subnet\": \"10.0.0.0/24\", \"gateway\": \"10.0.0.1\"}, {\"subnet\": \"10.0.0.0/24\", \"rangeStart\": \"10.0.0.200\", \"gateway\": \"10.0.0.2\"}]]", 7, "ipam.ranges[0][1]" },
	{ "\"ranges\": [[{\"subnet\": \"10.0.0.0/24\"}], [{\"subnet\": \"10.0.0.0/25\"}]]", 7, "ipam.ranges[1][0]" },
	{ "\"subnet\": \"10.0.0.0/33\"", 7, "ipam.subnet" },
	{ "\"subnet\": \"10.0.0.0/24\", \"routes\": [{\"gw\": \"10.0.0.1\"}]", 7, "ipam.routes[0].dst" },
	{ "\"subnet\": \"10.0.0.0/24\", \"routes\": [{\"dst\": \"0.0.0.0/0\", \"gw\": \"fd00::1\"}]", 7, "ipam.routes[0].gw" },
	{ "\"subnet\": \"10.0.0.0/24\", \"exclude\": [\"10.1.0.1\"]", 7, "ipam.exclude[0]" },
	{ "\"subnet\": \"10.0.0.0/24\", \"exclude\": [\"10.0.0.0/24\"]", 7, "ipam" },
	{ "\"subnet\": \"10.0.0.0/24\", \"store\": {\"type\": \"memory\"}", 2, "ipam.store.type" },
	{ "\"subnet\": \"10.0.0.0/24\", \"store\": {\"type\": \"etcd\"}", 7, "ipam.store.endpoints" },
	{ "\"subnet\": \"10.0.0.0/24\", \"store\": {\"type\": \"etcd\", \"endpoints\": \"http://a:1\", \"blockSize\": 100}", 7, "ipam.store.blockSize" },
	{ "\"subnet\": \"10.0.0.0/24\", \"store\": {\"type\": \"etcd\", \"endpoints\": [\"http://a:1\"], \"password\": \"p\"}", 7, "ipam.store.username" },
	{ "\"subnet\": \"10.0.0.0/24\", \"store\": {\"durability\": \"sometimes\"}", 7, "ipam.store.durability" },
	{ "\"subnet\": \"10.0.0.0/24\", \"store\": {\"dir\": \"relative\"}", 7, "ipam.store.dir" },
	{ "\"subnet\": \"10.0.0.0/24\", \"dataDir\": \"var/lib\"", 7, "ipam.dataDir" },
	{ "\"subnet\": \"10.0.0.0/24\", \"allocationPolicy\": \"best\"", 7, "ipam.allocationPolicy" },
	{ "\"subnet\": \"10.0.0.0/24\", \"reuseDelay\": -1", 7, "ipam.reuseDelay" },
	{ "\"subnet\": \"10.0.0.0/24\", \"owner\": \"node\"", 7, "ipam.owner" },
	{ "\"subnet\": \"10.0.0.0/24\", \"gc\": {\"minAge\": \"1m\"}", 7, "ipam.gc.minAge" },
	{ "\"subnet\": \"10.0.0.0/24\", \"node\": \"0123456789012345678901234567890123456789012345678901234567890123456789\"", 7, "ipam.node" },
};

START_TEST(refusals_name_the_field)
{
	char text[1024];
	ipam_netconf_error err = { 0, "", "" };
	ipam_netconf *c = NULL;

	snprintf(text, sizeof(text), "{\"name\": \"n\", \"ipam\": {%s}}", bad[_i].ipam);
	ck_assert_int_eq(ipam_netconf_parse(text, strlen(text), &c, &err), -1);
	ck_assert_ptr_null(c);
	ck_assert_msg(err.code == bad[_i].code && strcmp(err.field, bad[_i].field) == 0,
		      "%s: got %d %s (%s)", bad[_i].ipam, err.code, err.field, err.msg);
	ck_assert_msg(strstr(err.msg, bad[_i].field), "message names the field: %s", err.msg);
}
END_TEST

START_TEST(top_level_refusals)
{
	static const char *const docs[] = { "[]", "{\"ipam\": {}}", "{\"name\": \"a b\", \"ipam\": {}}",
					    "{\"name\": \"n\"}", "{\"name\": \"n\", \"ipam\": {}}",
					    "{\"name\": \"n\", \"name\": \"m\", \"ipam\": {}}", "{" };
	static const int codes[] = { 6, 7, 7, 7, 7, 6, 6 };
	for (unsigned i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		ipam_netconf_error err = { 0, "", "" };
		ipam_netconf *c = NULL;
		ck_assert_int_eq(ipam_netconf_parse(docs[i], strlen(docs[i]), &c, &err), -1);
		ck_assert_msg(err.code == codes[i], "%s: %d %s", docs[i], err.code, err.msg);
	}
}
END_TEST

static const char *const round_trip_docs[] = {
	"{\"name\": \"a\", \"ipam\": {\"ranges\": [[{\"subnet\": \"10.10.0.0/16\", \"rangeStart\": "
	"\"10.10.1.20\", \"rangeEnd\": \"10.10.3.50\", \"gateway\": \"10.10.0.254\"}, {\"subnet\": "
	"\"172.16.5.0/24\"}], [{\"subnet\": \"3ffe:ffff:0:01ff::/64\"}]], \"routes\": [{\"dst\": "
	"\"0.0.0.0/0\"}, {\"dst\": \"3ffe:ffff:0:01ff::1/64\", \"gw\": \"3ffe:ffff:0:1ff::9\"}], "
	"\"exclude\": [\"10.10.1.30-10.10.1.40\", \"172.16.5.7\"], \"reuseDelay\": 30, "
	"\"allocationPolicy\": \"random\", \"owner\": \"container\", \"node\": \"n1\", "
	"\"gc\": {\"minAge\": 5, \"grace\": 0}, \"resolvConf\": \"/etc/resolv.conf\", "
	"\"store\": {\"dir\": \"/tmp/x\", \"durability\": \"group\"}}}",
	"{\"name\": \"b\", \"ipam\": {\"subnet\": \"10.0.0.0/31\"}}",
	"{\"name\": \"c\", \"ipam\": {\"subnet\": \"fd00::/127\", \"reuseDelayHard\": true}}",
};

START_TEST(normalised_round_trip)
{
	ipam_netconf *c = parse_ok(round_trip_docs[_i]), *d;
	json_t *j1 = ipam_netconf_to_json(c, NULL), *j2;
	char *t1 = json_dumps(j1, 0);

	d = parse_ok(t1);
	j2 = ipam_netconf_to_json(d, NULL);
	ck_assert_msg(json_equal(j1, j2), "%s", t1);
	ck_assert_int_eq(c->npools, d->npools);
	ck_assert_int_eq(c->ngroups, d->ngroups);
	for (unsigned i = 0; i < c->npools; i++) {
		ipam_u128 a, b;
		ipam_pool_capacity(ipam_poolset_pool(c->set, i), &a);
		ipam_pool_capacity(ipam_poolset_pool(d->set, i), &b);
		ck_assert(a.hi == b.hi && a.lo == b.lo);
	}
	free(t1);
	json_decref(j1);
	json_decref(j2);
	ipam_netconf_free(c);
	ipam_netconf_free(d);
}
END_TEST

START_TEST(save_and_load)
{
	char dir[] = "/tmp/ipam-netconf-XXXXXX", path[256];
	ipam_netconf_error err = { 0, "", "" };
	ipam_netconf *c = parse_ok(round_trip_docs[0]), *d = NULL;
	struct stat s1, s2;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(ipam_netconf_save(c, NULL, dir, &err), 0);
	snprintf(path, sizeof(path), "%s/a.conf.json", dir);
	ck_assert_int_eq(stat(path, &s1), 0);
	ck_assert_int_eq(s1.st_mode & 0777, 0600);
	ck_assert_int_eq(ipam_netconf_save(c, NULL, dir, &err), 0); /* same text: not rewritten */
	ck_assert_int_eq(stat(path, &s2), 0);
	ck_assert(s1.st_ino == s2.st_ino);
	ck_assert_int_eq(ipam_netconf_load(dir, "a", &d, &err), 0);
	json_t *j1 = ipam_netconf_to_json(c, NULL), *j2 = ipam_netconf_to_json(d, NULL);
	ck_assert(json_equal(j1, j2));
	json_decref(j1);
	json_decref(j2);
	ipam_netconf_free(d);
	ck_assert_int_eq(ipam_netconf_load(dir, "missing", &d, &err), -1);
	ck_assert_int_eq(err.code, 5);
	ck_assert_int_eq(ipam_netconf_load(dir, "../a", &d, &err), -1);
	ck_assert_int_eq(err.code, 7);
	unlink(path);
	rmdir(dir);
	ipam_netconf_free(c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("cni-netconf");
	TCase *tc = tcase_create("netconf");

	tcase_add_test(tc, range_sets_to_pools);
	tcase_add_loop_test(tc, refusals_name_the_field, 0, (int)(sizeof(bad) / sizeof(bad[0])));
	tcase_add_test(tc, top_level_refusals);
	tcase_add_loop_test(tc, normalised_round_trip, 0,
			    (int)(sizeof(round_trip_docs) / sizeof(round_trip_docs[0])));
	tcase_add_test(tc, save_and_load);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(suite());
}
