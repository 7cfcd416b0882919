/* SPDX-License-Identifier: MIT */
/*
 * host-local's configurations work unchanged: the examples of host-local's
 * README (a dual-stack range-set list with a two-subnet range set, routes
 * and dataDir; the older single range with resolvConf; the command-line
 * example), run through ipam-cni and, when Debian's host-local is installed
 * (/usr/lib/cni/host-local), through it too, the two results compared. Also
 * the extensions: exclusions and multi-subnet exhaustion.
 */
#include "cni_harness.h"
#include "testutil.h"

#define HOST_LOCAL "/usr/lib/cni/host-local"

static char *dir, *hl_dir;

static void setup(void)
{
	dir = cni_tmpdir();
	hl_dir = cni_tmpdir();
}

static void teardown(void)
{
	cni_rmdir(dir);
	cni_rmdir(hl_dir);
	free(dir);
	free(hl_dir);
}

/* tmpl has one @DIR@: the dataDir. */
static char *fill(const char *tmpl, const char *d)
{
	const char *at = strstr(tmpl, "@DIR@");
	char *s;
	ck_assert_ptr_nonnull(at);
	ck_assert(asprintf(&s, "%.*s%s%s", (int)(at - tmpl), tmpl, d, at + 5) > 0);
	return s;
}

static int have_host_local(void)
{
	return access(HOST_LOCAL, X_OK) == 0;
}

/* Run op on both plugins; compare the outputs when both succeed, and that
 * both fail when one does. Returns ipam-cni's output. */
static cni_out both(const char *tmpl, const char *cmd, const char *cid)
{
	char *ours = fill(tmpl, dir), *theirs = fill(tmpl, hl_dir);
	cni_call_spec c = { .command = cmd, .cid = cid, .ifname = "eth0" };
	cni_out a = cni_exec(&c, ours);

	if (have_host_local()) {
		c.bin = HOST_LOCAL;
		cni_out b = cni_exec(&c, theirs);
		ck_assert_msg((a.status == 0) == (b.status == 0), "%s %s: ipam-cni %s\nhost-local %s",
			      cmd, cid, a.text, b.text);
		if (a.status == 0 && a.json)
			ck_assert_msg(json_equal(a.json, b.json), "%s %s: ipam-cni %s\nhost-local %s",
				      cmd, cid, a.text, b.text);
		cni_out_free(&b);
	}
	free(ours);
	free(theirs);
	return a;
}

/* host-local README: "This example configuration returns 2 IP addresses." */
static const char readme_ranges[] =
	"{\"cniVersion\": \"1.0.0\", \"name\": \"readme\", \"type\": \"bridge\", \"ipam\": {"
	"\"type\": \"host-local\", \"ranges\": ["
	"[{\"subnet\": \"10.10.0.0/16\", \"rangeStart\": \"10.10.1.20\", \"rangeEnd\": \"10.10.3.50\", "
	"\"gateway\": \"10.10.0.254\"}, {\"subnet\": \"172.16.5.0/24\"}],"
	"[{\"subnet\": \"3ffe:ffff:0:01ff::/64\", \"rangeStart\": \"3ffe:ffff:0:01ff::0010\", "
	"\"rangeEnd\": \"3ffe:ffff:0:01ff::0020\"}]],"
	"\"routes\": [{\"dst\": \"0.0.0.0/0\"}, {\"dst\": \"192.168.0.0/16\", \"gw\": \"10.10.5.1\"}, "
	"{\"dst\": \"3ffe:ffff:0:01ff::1/64\"}],"
	"\"dataDir\": \"@DIR@\"}}";

START_TEST(readme_range_sets)
{
	cni_out o = both(readme_ranges, "ADD", "c1");
	json_t *routes = json_object_get(o.json, "routes");
	ck_assert_msg(o.status == 0, "%s", o.text);
	ck_assert_str_eq(cni_ip(&o, 0), "10.10.1.20/16");
	ck_assert_str_eq(cni_ip(&o, 1), "3ffe:ffff:0:1ff::10/64");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(o.json, "ips"), 0),
							   "gateway")), "10.10.0.254");
	ck_assert_int_eq(json_array_size(routes), 3);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(routes, 2), "dst")),
			 "3ffe:ffff:0:1ff::1/64");
	cni_out_free(&o);
	for (int i = 2; i <= 4; i++) {
		char cid[8];
		snprintf(cid, sizeof(cid), "c%d", i);
		o = both(readme_ranges, "ADD", cid);
		ck_assert_int_eq(o.status, 0);
		cni_out_free(&o);
	}
	o = both(readme_ranges, "DEL", "c2");
	ck_assert_int_eq(o.status, 0);
	cni_out_free(&o);
	o = both(readme_ranges, "ADD", "c5"); /* next-fit, as host-local's round robin */
	ck_assert_str_eq(cni_ip(&o, 0), "10.10.1.24/16");
	cni_out_free(&o);
}
END_TEST

/* host-local README: the deprecated single range, with resolvConf. */
static const char readme_legacy[] =
	"{\"cniVersion\": \"0.3.1\", \"name\": \"legacy\", \"type\": \"macvlan\", \"ipam\": {"
	"\"type\": \"host-local\", \"subnet\": \"3ffe:ffff:0:01ff::/64\", "
	"\"rangeStart\": \"3ffe:ffff:0:01ff::0010\", \"rangeEnd\": \"3ffe:ffff:0:01ff::0020\", "
	"\"routes\": [{\"dst\": \"3ffe:ffff:0:01ff::1/64\"}], "
	"\"resolvConf\": \"" CNI_FIXTURES "/resolv.conf\", \"dataDir\": \"@DIR@\"}}";

START_TEST(readme_legacy_resolvconf)
{
	cni_out o = both(readme_legacy, "ADD", "c1");
	json_t *dns = json_object_get(o.json, "dns");
	ck_assert_msg(o.status == 0, "%s", o.text);
	ck_assert_str_eq(cni_ip(&o, 0), "3ffe:ffff:0:1ff::10/64");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(o.json, "ips"), 0),
							   "version")), "6");
	ck_assert_int_eq(json_array_size(json_object_get(dns, "nameservers")), 2);
	ck_assert_str_eq(json_string_value(json_object_get(dns, "domain")), "example.org");
	ck_assert_int_eq(json_array_size(json_object_get(dns, "search")), 2);
	ck_assert_int_eq(json_array_size(json_object_get(dns, "options")), 2);
	cni_out_free(&o);
}
END_TEST

/* host-local README: the command-line example. */
static const char readme_cli[] =
	"{ \"cniVersion\": \"0.3.1\", \"name\": \"examplenet\", \"ipam\": { \"type\": \"host-local\", "
	"\"ranges\": [ [{\"subnet\": \"203.0.113.0/24\"}], [{\"subnet\": \"2001:db8:1::/64\"}]], "
	"\"dataDir\": \"@DIR@\"  } }";

START_TEST(readme_command_line)
{
	cni_out o = both(readme_cli, "ADD", "example");
	ck_assert_msg(o.status == 0, "%s", o.text);
	ck_assert_str_eq(cni_ip(&o, 0), "203.0.113.2/24");
	ck_assert_str_eq(cni_ip(&o, 1), "2001:db8:1::2/64");
	cni_out_free(&o);
	o = both(readme_cli, "DEL", "example");
	ck_assert_int_eq(o.status, 0);
	cni_out_free(&o);
}
END_TEST

/* A range set of two /30 subnets: the second is used when the first is
 * full, then the network is exhausted (host-local agrees). */
static const char two_subnets[] =
	"{\"cniVersion\": \"1.0.0\", \"name\": \"two\", \"ipam\": {\"type\": \"host-local\", "
	"\"ranges\": [[{\"subnet\": \"10.0.0.0/30\"}, {\"subnet\": \"10.0.1.0/30\"}]], "
	"\"dataDir\": \"@DIR@\"}}";

START_TEST(multi_subnet_range_set)
{
	cni_out o = both(two_subnets, "ADD", "a");
	ck_assert_str_eq(cni_ip(&o, 0), "10.0.0.2/30");
	cni_out_free(&o);
	o = both(two_subnets, "ADD", "b");
	ck_assert_msg(o.status == 0, "%s", o.text);
	ck_assert_str_eq(cni_ip(&o, 0), "10.0.1.2/30");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(o.json, "ips"), 0),
							   "gateway")), "10.0.1.1");
	cni_out_free(&o);
	o = both(two_subnets, "ADD", "c");
	ck_assert_int_eq(cni_err_code(&o), 100);
	cni_out_free(&o);
	/* Idempotent ADD of b finds its lease in the second subnet. */
	char *conf = fill(two_subnets, dir);
	cni_call_spec c = { .command = "ADD", .cid = "b", .ifname = "eth0" };
	o = cni_exec(&c, conf);
	ck_assert_str_eq(cni_ip(&o, 0), "10.0.1.2/30");
	cni_out_free(&o);
	free(conf);
}
END_TEST

START_TEST(exclusions_and_policy)
{
	char *conf = cni_conf("1.0.0", "ex", dir,
			      "\"ranges\": [[{\"subnet\": \"10.5.0.0/24\"}]], "
			      "\"exclude\": [\"10.5.0.2\", \"10.5.0.3-10.5.0.9\"], "
			      "\"allocationPolicy\": \"lowest\", \"store\": {\"durability\": \"none\"}",
			      NULL);
	cni_call_spec c = { .command = "ADD", .cid = "c1", .ifname = "eth0" };
	cni_out o = cni_exec(&c, conf);
	ck_assert_msg(o.status == 0, "%s", o.text);
	ck_assert_str_eq(cni_ip(&o, 0), "10.5.0.10/24");
	cni_out_free(&o);
	free(conf);
	/* The normalised definition was kept next to the store, 0600. */
	char path[600];
	struct stat st;
	snprintf(path, sizeof(path), "%s/ex.conf.json", dir);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	json_t *saved = json_load_file(path, 0, NULL);
	ck_assert_ptr_nonnull(saved);
	ck_assert_int_eq(json_array_size(json_object_get(json_object_get(saved, "ipam"), "exclude")), 2);
	json_decref(saved);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("cni-compat");
	TCase *tc = tcase_create("host-local");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, readme_range_sets);
	tcase_add_test(tc, readme_legacy_resolvconf);
	tcase_add_test(tc, readme_command_line);
	tcase_add_test(tc, multi_subnet_range_set);
	tcase_add_test(tc, exclusions_and_policy);
	suite_add_tcase(s, tc);
	if (!have_host_local())
		printf("note: %s not found: results are not compared with host-local\n", HOST_LOCAL);
	return s;
}

int main(void)
{
	return tu_run(suite());
}
