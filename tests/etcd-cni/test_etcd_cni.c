/* SPDX-License-Identifier: MIT */
/*
 * ipam-cni and ipamctl on the etcd store, against a real etcd:
 * - two "nodes" (ipam.node node-a / node-b, separate processes, run at the
 *   same time) share one dual-stack network: every address handed out is
 *   distinct and each lease records the node that asked;
 * - DEL from either node frees a container of the other;
 * - GC is scoped to the calling node on etcd: node A's GC with only its own
 *   attachments leaves node B's alone, and a list of both reclaims nothing;
 * - the definition is kept in etcd (<prefix>/<set>/definition), so ipamctl
 *   --store etcd:URL?prefix=... needs no --config; pools, leases and check
 *   see the leases, and check reports a planted orphan owner key.
 * Exits 77 (skipped) without an etcd binary.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ipam/ipam.h>

#include "cni/cni_harness.h"
#include "etcd/etcd_launch.h"
#include "ipam_etcd.h"

#define PREFIX "/cnitest"
#define NET "shared"
#define PER_NODE 12

static struct fx_etcd etcd;

static char *node_conf(const char *node)
{
	char *s;
	ck_assert(asprintf(&s,
			   "{\"cniVersion\": \"1.1.0\", \"name\": \"" NET "\", \"type\": \"bridge\", "
			   "\"ipam\": {\"type\": \"ipam-cni\", \"node\": \"%s\", "
			   "\"ranges\": [[{\"subnet\": \"10.77.0.0/24\"}], [{\"subnet\": \"fd00:77::/120\"}]], "
			   "\"store\": {\"type\": \"etcd\", \"endpoints\": [\"%s\"], \"prefix\": \"" PREFIX "\", "
			   "\"blockSize\": 64, \"timeoutMs\": 5000}}}",
			   node, etcd.url) > 0);
	return s;
}

static cni_out call(const char *conf, const char *cmd, const char *cid)
{
	cni_call_spec c = { .command = cmd, .cid = cid, .ifname = "eth0" };
	return cni_exec(&c, conf);
}

/* ADD n containers "<tag>-<i>" through conf; exit status of the child. */
static pid_t adder(const char *conf, const char *tag, int n)
{
	pid_t pid = fork();

	ck_assert(pid >= 0);
	if (pid == 0) {
		int bad = 0;
		for (int i = 0; i < n; i++) {
			char cid[32];
			cni_out o;
			snprintf(cid, sizeof(cid), "%s-%d", tag, i);
			o = call(conf, "ADD", cid);
			if (o.status != 0) {
				fprintf(stderr, "ADD %s failed: %s\n", cid, o.text);
				bad = 1;
			}
			cni_out_free(&o);
		}
		_exit(bad);
	}
	return pid;
}

static ipam_store *open_store(void)
{
	ipam_etcd_options o;
	ipam_store *st = NULL;

	ipam_etcd_options_init(&o);
	o.endpoints = etcd.url;
	o.prefix = PREFIX;
	o.block_size = 64;
	ck_assert_msg(ipam_store_etcd_new(&st, &o) == 0, "%s", ipam_etcd_last_error_message());
	return st;
}

struct acc {
	ipam_lease *out;
	size_t room, *n;
};

static int cb(void *ud, const ipam_lease *l)
{
	struct acc *acc = ud;

	if (l->state != IPAM_LEASE_BOUND)
		return 0;
	ck_assert(*acc->n < acc->room);
	acc->out[(*acc->n)++] = *l;
	return 0;
}

/* The leases of the network as etcd holds them now. */
static size_t snapshot(ipam_lease *out, size_t room)
{
	ipam_store *st = open_store();
	ipam_ctx *ctx;
	ipam_poolset *set;
	ipam_pool *p4, *p6;
	size_t n = 0;
	struct acc acc = { out, room, &n };

	ck_assert_int_eq(ipam_ctx_new(&ctx, st, NULL), 0);
	/* The pools as ipam-cni names them (pool rs<G> for range set G). */
	ck_assert_int_eq(ipam_poolset_new(&set, NET), 0);
	ck_assert_int_eq(ipam_pool_new_str(&p4, "rs0", "10.77.0.0/24"), 0);
	ck_assert_int_eq(ipam_pool_new_str(&p6, "rs1", "fd00:77::/120"), 0);
	ck_assert_int_eq(ipam_pool_set_quarantine(p4, 60, 0, 0), 0);
	ck_assert_int_eq(ipam_pool_set_quarantine(p6, 60, 0, 0), 0);
	ck_assert_int_eq(ipam_poolset_add(set, p4), 0);
	ck_assert_int_eq(ipam_poolset_add(set, p6), 0);
	ck_assert_msg(ipam_ctx_add_poolset(ctx, set) == 0, "%s / %s", ipam_last_error_message(),
		      ipam_etcd_last_error_message());
	ck_assert_int_eq(ipam_foreach_lease(ctx, NET, NULL, cb, &acc), 0);
	ipam_ctx_free(ctx);
	ipam_store_free(st);
	return n;
}

/* Run ipamctl with args; stdout into *out (malloc'ed); exit status. */
static int ctl(char **out, const char *const *args)
{
	int fd[2], st;
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	const char *argv[16] = { IPAMCTL_BIN };
	int n = 1;
	pid_t pid;

	for (; args[n - 1]; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	ck_assert(pipe(fd) == 0);
	pid = fork();
	if (pid == 0) {
		dup2(fd[1], 1);
		close(fd[0]);
		close(fd[1]);
		execv(IPAMCTL_BIN, (char *const *)argv);
		_exit(127);
	}
	close(fd[1]);
	for (ssize_t r; (r = read(fd[0], buf + len, cap - len - 1)) > 0;)
		len += (size_t)r;
	buf[len] = 0;
	close(fd[0]);
	waitpid(pid, &st, 0);
	*out = buf;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static int count_of(const ipam_lease *l, size_t n, const char *node)
{
	int c = 0;
	for (size_t i = 0; i < n; i++)
		c += strcmp(l[i].node, node) == 0;
	return c;
}

static int holds(const ipam_lease *l, size_t n, const char *cid)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(l[i].attachment, cid) == 0)
			return 1;
	return 0;
}

START_TEST(two_nodes)
{
	char *ca = node_conf("node-a"), *cb_ = node_conf("node-b"), *text, url[256];
	ipam_lease l[4 * PER_NODE + 8];
	size_t n;
	int st;
	pid_t pa, pb;
	cni_out o;

	/* Both nodes at once, each ADD a process. */
	pa = adder(ca, "a", PER_NODE);
	pb = adder(cb_, "b", PER_NODE);
	ck_assert(waitpid(pa, &st, 0) == pa && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert(waitpid(pb, &st, 0) == pb && WIFEXITED(st) && WEXITSTATUS(st) == 0);

	n = snapshot(l, sizeof(l) / sizeof(l[0]));
	ck_assert_uint_eq(n, 4 * PER_NODE); /* dual-stack: two leases each */
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			ck_assert_msg(ipam_addr_cmp(&l[i].addr, &l[j].addr) != 0, "an address twice");
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(strcmp(l[i].node, l[i].attachment[0] == 'a' ? "node-a" : "node-b") == 0,
			      "%s recorded on %s", l[i].attachment, l[i].node);
	ck_assert_int_eq(count_of(l, n, "node-a"), 2 * PER_NODE);

	/* Idempotent ADD from the same node gives the same addresses back. */
	o = call(ca, "ADD", "a-0");
	ck_assert_int_eq(o.status, 0);
	cni_out_free(&o);
	ck_assert_uint_eq(snapshot(l, sizeof(l) / sizeof(l[0])), 4 * PER_NODE);

	/* DEL from either node frees a container of the other. */
	o = call(cb_, "DEL", "a-0");
	ck_assert_int_eq(o.status, 0);
	cni_out_free(&o);
	o = call(ca, "DEL", "b-0");
	ck_assert_int_eq(o.status, 0);
	cni_out_free(&o);
	n = snapshot(l, sizeof(l) / sizeof(l[0]));
	ck_assert_uint_eq(n, 4 * PER_NODE - 4);
	ck_assert(!holds(l, n, "a-0") && !holds(l, n, "b-0"));

	/* GC with a list naming every live attachment of both nodes: nothing. */
	{
		char *gc, list[4096] = "";
		size_t k = 0;
		for (int i = 1; i < PER_NODE; i++)
			k += (size_t)snprintf(list + k, sizeof(list) - k,
					      "%s{\"containerID\": \"a-%d\", \"ifname\": \"eth0\"}, "
					      "{\"containerID\": \"b-%d\", \"ifname\": \"eth0\"}",
					      i > 1 ? ", " : "", i, i);
		ck_assert(asprintf(&gc, "%.*s, \"cni.dev/valid-attachments\": [%s]}",
				   (int)strlen(ca) - 1, ca, list) > 0);
		o = call(gc, "GC", NULL);
		ck_assert_msg(o.status == 0, "%s", o.text);
		cni_out_free(&o);
		free(gc);
		ck_assert_uint_eq(snapshot(l, sizeof(l) / sizeof(l[0])), n);

		/* Node A's GC with only its own attachments, a-1 left out: a-1 is
		 * reclaimed, node B's containers are not (GC is per node on etcd). */
		k = 0;
		list[0] = 0;
		for (int i = 2; i < PER_NODE; i++)
			k += (size_t)snprintf(list + k, sizeof(list) - k,
					      "%s{\"containerID\": \"a-%d\", \"ifname\": \"eth0\"}",
					      i > 2 ? ", " : "", i);
		ck_assert(asprintf(&gc, "%.*s, \"cni.dev/valid-attachments\": [%s]}",
				   (int)strlen(ca) - 1, ca, list) > 0);
		o = call(gc, "GC", NULL);
		ck_assert_msg(o.status == 0, "%s", o.text);
		cni_out_free(&o);
		free(gc);
		n = snapshot(l, sizeof(l) / sizeof(l[0]));
		ck_assert_uint_eq(n, 4 * PER_NODE - 6);
		ck_assert(!holds(l, n, "a-1") && holds(l, n, "b-1"));
		ck_assert_int_eq(count_of(l, n, "node-b"), 2 * (PER_NODE - 1));
	}

	/* ipamctl, with the definition ipam-cni kept in etcd. */
	snprintf(url, sizeof(url), "etcd:%s?prefix=" PREFIX "&block-size=64", etcd.url);
	ck_assert_int_eq(ctl(&text, (const char *const[]){ "--store", url, "pools", NULL }), 0);
	ck_assert_msg(strstr(text, "rs0") && strstr(text, "rs1"), "%.400s", text);
	free(text);
	ck_assert_int_eq(ctl(&text, (const char *const[]){ "--store", url, "leases", "--state", "bound", "--json", NULL }), 0);
	ck_assert_msg(strstr(text, "b-1") && strstr(text, "node-b") && !strstr(text, "\"a-1\""), "%.400s",
		      text);
	free(text);
	ck_assert_int_eq(ctl(&text, (const char *const[]){ "--store", url, "leases", "--node", "node-a", NULL }), 0);
	ck_assert_msg(strstr(text, "a-2") && !strstr(text, "b-2"), "%.400s", text);
	free(text);
	ck_assert_int_eq(ctl(&text, (const char *const[]){ "--store", url, "check", NULL }), 0);
	ck_assert_msg(strstr(text, "ok:"), "%.400s", text);
	free(text);

	/* A planted orphan owner key (a lease that is not there) is found. */
	{
		ipam_store *es = open_store();
		ck_assert_int_eq(ipam_etcd_put(es, NET "/owners/rs0/ghost/eth0", "10.77.0.250", 11), 0);
		ipam_store_free(es);
	}
	ck_assert_int_eq(ctl(&text, (const char *const[]){ "--store", url, "check", NULL }), 1);
	ck_assert_msg(strstr(text, "orphan-owner-key") && strstr(text, "ghost"), "%.400s", text);
	free(text);
	free(ca);
	free(cb_);
}
END_TEST

/* A range set removed under running containers, on etcd: ADD refused
 * (code 7) naming a lease; DEL of one container and GC of one that leaked,
 * both under the new configuration, release through the definition kept in
 * etcd (GC scoped to this node); then ADD works. */
static char *chg_conf(int dual)
{
	char *s;
	ck_assert(asprintf(&s,
			   "{\"cniVersion\": \"1.1.0\", \"name\": \"chg\", \"type\": \"bridge\", "
			   "\"ipam\": {\"type\": \"ipam-cni\", \"ranges\": [[{\"subnet\": \"10.78.0.0/24\"}]%s], "
			   "\"store\": {\"type\": \"etcd\", \"endpoints\": [\"%s\"], \"prefix\": \"" PREFIX "\", "
			   "\"blockSize\": 64, \"timeoutMs\": 5000}}}",
			   dual ? ", [{\"subnet\": \"fd00:78::/120\"}]" : "", etcd.url) > 0);
	return s;
}

/* conf's cmd for cid succeeds (0) or fails with CNI code `code`, its
 * message naming `needle`. */
static void expect(const char *conf, const char *cmd, const char *cid, int code, const char *needle)
{
	cni_out o = call(conf, cmd, cid);
	if (code)
		ck_assert_int_eq(cni_err_code(&o), code);
	else
		ck_assert_msg(o.status == 0, "%s %s: %s", cmd, cid, o.text);
	if (needle)
		ck_assert_msg(strstr(o.text, needle), "%s", o.text);
	cni_out_free(&o);
}

START_TEST(config_change)
{
	char *a = chg_conf(1), *b = chg_conf(0), *gc;
	cni_out o;
	expect(a, "ADD", "k0", 0, NULL); /* leaks: no DEL will come */
	expect(a, "ADD", "k1", 0, NULL);
	expect(b, "ADD", "k2", 7, "fd00:78::");
	expect(b, "DEL", "k1", 0, NULL);
	expect(b, "ADD", "k2", 7, "k0");
	ck_assert(asprintf(&gc, "%.*s, \"cni.dev/valid-attachments\": []}", (int)strlen(b) - 1, b) > 0);
	cni_call_spec c = { .command = "GC", .no_netns = 1 };
	o = cni_exec(&c, gc);
	ck_assert_msg(o.status == 0, "%s", o.text);
	cni_out_free(&o);
	free(gc);
	o = call(b, "ADD", "k2");
	ck_assert_msg(o.status == 0, "%s", o.text);
	ck_assert_int_eq(json_array_size(json_object_get(o.json, "ips")), 1);
	cni_out_free(&o);
	free(a);
	free(b);
}
END_TEST

START_TEST(config_errors)
{
	static const struct {
		const char *store;
		int code;
		const char *field;
	} cases[] = {
		{ "{\"type\": \"etcd\"}", 7, "ipam.store.endpoints" },
		{ "{\"type\": \"etcd\", \"endpoints\": \"ftp://x\"}", 7, "ipam.store.endpoints" },
		{ "{\"type\": \"etcd\", \"endpoints\": [\"http://a:1\"], \"blockSize\": 100}", 7, "ipam.store.blockSize" },
		{ "{\"type\": \"etcd\", \"endpoints\": [\"http://a:1\"], \"prefix\": \"x\"}", 7, "ipam.store.prefix" },
		{ "{\"type\": \"etcd\", \"endpoints\": [\"http://a:1\"], \"certFile\": \"/c\"}", 7, "ipam.store.keyFile" },
		{ "{\"type\": \"etcd\", \"endpoints\": [\"http://a:1\"], \"username\": \"u\"}", 7, "ipam.store.password" },
		{ "{\"type\": \"etcd\", \"endpoints\": [\"http://a:1\"], \"durability\": \"none\"}", 7, "ipam.store" },
		/* Nothing listens on port 1: try again later (code 11). */
		{ "{\"type\": \"etcd\", \"endpoints\": \"http://127.0.0.1:1\", \"timeoutMs\": 500}", 11, NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *conf;
		cni_out o;
		ck_assert(asprintf(&conf,
				   "{\"cniVersion\": \"1.0.0\", \"name\": \"e\", \"ipam\": {\"type\": "
				   "\"ipam-cni\", \"subnet\": \"10.9.0.0/24\", \"store\": %s}}",
				   cases[i].store) > 0);
		o = call(conf, "ADD", "c1");
		ck_assert_msg(cni_err_code(&o) == cases[i].code, "case %zu: %s", i, o.text);
		if (cases[i].field)
			ck_assert_msg(strstr(o.text, cases[i].field), "case %zu: %s", i, o.text);
		cni_out_free(&o);
		free(conf);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("etcd-cni");
	TCase *tc = tcase_create("etcd-cni");
	SRunner *sr;
	int failed;

	if (!fx_etcd_binary()) {
		printf("SKIP: no etcd binary (/usr/bin/etcd, or set IPAM_ETCD_BIN)\n");
		return 77;
	}
	if (fx_etcd_start(&etcd, 0) < 0) {
		fx_etcd_destroy(&etcd);
		return 1;
	}
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, two_nodes);
	tcase_add_test(tc, config_errors);
	tcase_add_test(tc, config_change);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	fx_etcd_destroy(&etcd);
	return failed ? 1 : 0;
}
