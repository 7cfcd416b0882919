/* SPDX-License-Identifier: MIT */
/*
 * The Kubernetes liveness oracle against recorded kubectl documents
 * (fixtures/): one test per verdict rule, the switches, the node rules,
 * every kind of bad input (which must leave the oracle as it was), RFC 3339
 * parsing against timegm, batches against single judgements, a 100 000-pod
 * list, reloads racing judgements, and whole GC passes (ipam_gc) over a
 * memory store.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ipam/ipam.h>

#include "ctx_fixture.h"
#include "ipam_k8s.h"

#ifndef K8S_FIXTURES
#define K8S_FIXTURES "tests/k8s/fixtures"
#endif

/* Times of the fixtures (unix seconds). */
#define T_DELETION 1795723133 /* 2026-11-26T19:58:53Z, "draining"'s deletionTimestamp */
#define T_NOW 1795723140      /* 2026-11-26T19:59:00Z */
#define T_LISTED 1795723200   /* 2026-11-26T20:00:00Z */
#define T_NODE_C 1795719600   /* 2026-11-26T19:00:00Z, node-c NotReady since */
#define T_CREATED (T_NOW - 3600)

#define UID_WEB "3f6c2a1e-8d4b-4c7a-9e1f-2b3c4d5e6f70"
#define UID_OLD "99999999-0000-4000-8000-000000000001"

static const char *fixture(const char *name)
{
	static _Thread_local char path[512];
	const char *dir = getenv("IPAM_K8S_FIXTURES");

	snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : K8S_FIXTURES, name);
	return path;
}

static ipam_lease mk_lease(const char *owner, const char *uid, const char *node,
			   int64_t created)
{
	ipam_lease l;

	memset(&l, 0, sizeof(l));
	snprintf(l.pool, sizeof(l.pool), "pods-v4");
	ck_assert_int_eq(ipam_addr_parse("10.244.1.10", &l.addr), 0);
	snprintf(l.owner, sizeof(l.owner), "%s", owner);
	snprintf(l.ifname, sizeof(l.ifname), "eth0");
	snprintf(l.attachment, sizeof(l.attachment), "5f1e0c9a7b3d");
	snprintf(l.node, sizeof(l.node), "%s", node ? node : "node-a");
	l.generation = 7;
	l.state = IPAM_LEASE_BOUND;
	l.created = l.updated = created;
	/* The UID after another attribute, as a CNI plugin may store it. */
	snprintf(l.attrs[0].key, sizeof(l.attrs[0].key), "cni.mac");
	snprintf(l.attrs[0].value, sizeof(l.attrs[0].value), "0a:58:0a:f4:01:0a");
	l.nattrs = 1;
	if (uid) {
		snprintf(l.attrs[1].key, sizeof(l.attrs[1].key), IPAM_K8S_DEFAULT_UID_ATTR);
		snprintf(l.attrs[1].value, sizeof(l.attrs[1].value), "%s", uid);
		l.nattrs = 2;
	}
	return l;
}

/* An oracle with the fixture lists loaded and listed_at set to T_LISTED. */
static ipam_gc_oracle *loaded(const ipam_k8s_options *opts)
{
	ipam_gc_oracle *o = NULL;

	ck_assert_int_eq(ipam_k8s_oracle_new(&o, opts), 0);
	ck_assert_msg(ipam_k8s_oracle_load_pods_file(o, fixture("pods.json")) == 13, "%s",
		      ipam_k8s_last_error_message());
	ck_assert_msg(ipam_k8s_oracle_load_nodes_file(o, fixture("nodes.json")) == 4, "%s",
		      ipam_k8s_last_error_message());
	ck_assert_int_eq(ipam_k8s_oracle_set_listed_at(o, T_LISTED), 0);
	return o;
}

/* Verdict of o for lease at now, checked against the expected verdict and
 * reason; judge and explain must agree. */
static void expect(ipam_gc_oracle *o, const ipam_lease *l, int64_t now, int verdict,
		   const char *reason)
{
	char why[96] = "";
	int v = ipam_k8s_oracle_explain(o, l, now, why, sizeof(why));

	ck_assert_msg(v == verdict, "%s (uid %s): verdict %d (%s), expected %d (%s)", l->owner,
		      l->nattrs > 1 ? l->attrs[1].value : "-", v, why, verdict, reason);
	ck_assert_msg(strcmp(why, reason) == 0, "%s: reason \"%s\", expected \"%s\"", l->owner,
		      why, reason);
	ck_assert_int_eq(o->judge(o->ud, l, now), verdict);
}

/* ---- RFC 3339 --------------------------------------------------------------- */

static int64_t parse(const char *s)
{
	int64_t t = 0;
	int r = ipam_k8s_parse_time(s, strlen(s), &t);

	ck_assert_msg(r == 0, "%s: %d", s, r);
	return t;
}

START_TEST(time_valid)
{
	ck_assert_int_eq(parse("2026-11-26T19:58:53Z"), T_DELETION);
	ck_assert_int_eq(parse("1970-01-01T00:00:00Z"), 0);
	ck_assert_int_eq(parse("1969-12-31T23:59:59Z"), -1);
	ck_assert_int_eq(parse("2024-02-29T00:00:00Z"), 1709164800);
	ck_assert_int_eq(parse("2026-11-26t19:58:53z"), T_DELETION);
	/* Fractions round up: a deadline is never brought forward. */
	ck_assert_int_eq(parse("2026-11-26T19:58:53.000000Z"), T_DELETION);
	ck_assert_int_eq(parse("2026-11-26T19:58:52.000001Z"), T_DELETION);
	ck_assert_int_eq(parse("2026-11-26T19:58:52.5Z"), T_DELETION);
	/* Offsets: local time minus offset. */
	ck_assert_int_eq(parse("2026-11-26T20:58:53+01:00"), T_DELETION);
	ck_assert_int_eq(parse("2026-11-26T14:28:53-05:30"), T_DELETION);
	ck_assert_int_eq(parse("2026-11-27T05:43:53.25+09:45"), T_DELETION + 1);
	ck_assert_int_eq(parse("2026-11-26T19:58:53-00:00"), T_DELETION);
}
END_TEST

START_TEST(time_invalid)
{
	static const char *const bad[] = {
		"", "2026", "2026-11-26", "2026-11-26T19:58:53", "2026-11-26 19:58:53Z",
		"2026-11-26T19:58:53ZZ", "2026-11-26T19:58:53Z ", " 2026-11-26T19:58:53Z",
		"2026-02-29T00:00:00Z", "2100-02-29T00:00:00Z", "2026-13-01T00:00:00Z",
		"2026-00-01T00:00:00Z", "2026-04-31T00:00:00Z", "2026-11-00T00:00:00Z",
		"2026-11-26T24:00:00Z", "2026-11-26T23:60:00Z", "2026-11-26T23:59:60Z",
		"2026-11-26T19:58:53.Z", "2026-11-26T19:58:53+0100", "2026-11-26T19:58:53+24:00",
		"2026-11-26T19:58:53+01:60", "2026-11-26T19:58:53+01", "26-11-26T19:58:53Z",
		"2026-1-26T19:58:53Z", "2026-11-26T19:58:5Z", "2026/11/26T19:58:53Z",
		"+026-11-26T19:58:53Z", "2026-11-26T19:58:53.1.2Z",
	};
	int64_t t = 42;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(ipam_k8s_parse_time(bad[i], strlen(bad[i]), &t) == -ERANGE, "%s",
			      bad[i]);
	ck_assert_int_eq(t, 42);
	/* Not NUL-terminated: only len bytes are read. */
	ck_assert_int_eq(ipam_k8s_parse_time("2026-11-26T19:58:53Zjunk", 20, &t), 0);
	ck_assert_int_eq(t, T_DELETION);
	ck_assert_int_eq(ipam_k8s_parse_time(NULL, 0, &t), -EINVAL);
}
END_TEST

/* Every day from 1900 to 2200 at a varying time of day, against glibc's
 * timegm, with TZ set to something far from UTC to prove it is ignored. */
START_TEST(time_sweep_timegm)
{
	uint64_t seed = tu_seed("time_sweep_timegm");
	struct tm tm;
	time_t t;
	char buf[64];

	setenv("TZ", "Pacific/Chatham", 1);
	tzset();
	for (t = -2208988800; t < 7258118400; t += 86400) {
		time_t u = t + (time_t)(tu_splitmix(&seed) % 86400);
		size_t n;

		gmtime_r(&u, &tm);
		n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
		ck_assert_int_eq(parse(buf), (int64_t)timegm(&tm));
		ck_assert_int_eq(parse(buf), (int64_t)u);
		(void)n;
	}
	unsetenv("TZ");
	tzset();
}
END_TEST

/* ---- construction ----------------------------------------------------------- */

START_TEST(new_and_options)
{
	ipam_k8s_options opts;
	ipam_gc_oracle *o = NULL;
	ipam_k8s_stats st = {.size = sizeof(st)};
	ipam_error_info info;
	ipam_lease l = mk_lease("default/x", NULL, NULL, T_CREATED);
	int verdicts[1];
	char long_key[64];

	ck_assert_int_eq(ipam_k8s_oracle_new(&o, NULL), 0);
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(o->version, IPAM_GC_ORACLE_VERSION);
	ck_assert_str_eq(o->name, IPAM_K8S_ORACLE_NAME);
	ck_assert(o->judge != NULL);
	ck_assert(o->judge_batch != NULL);
	ck_assert(o->node_alive != NULL);
	ck_assert(o->destroy != NULL);
	/* Nothing loaded: judging is refused (it would call everything dead),
	 * nodes are alive. */
	ck_assert_int_eq(o->judge(o->ud, &l, T_NOW), -ENOENT);
	ck_assert_int_eq(ipam_k8s_last_error(&info), -ENOENT);
	ck_assert_ptr_nonnull(strstr(info.message, "no pod list"));
	ck_assert_int_eq(o->judge_batch(o->ud, &l, 1, verdicts, T_NOW), -ENOENT);
	ck_assert_int_eq(o->node_alive(o->ud, "node-a", T_NOW), 1);
	ck_assert_int_eq(ipam_k8s_oracle_set_listed_at(o, 5), -ENOENT);
	ck_assert_int_eq(ipam_k8s_oracle_stats(o, &st), 0);
	ck_assert_int_eq(st.pods_loaded, 0);
	ck_assert_int_eq(st.nodes_loaded, 0);
	st.size = 3;
	ck_assert_int_eq(ipam_k8s_oracle_stats(o, &st), -EINVAL);
	ipam_k8s_oracle_free(o);
	ipam_k8s_oracle_free(NULL);

	ck_assert_int_eq(ipam_k8s_oracle_new(NULL, NULL), -EINVAL);
	ipam_k8s_options_init(&opts);
	opts.size = sizeof(opts) + 8;
	ck_assert_int_eq(ipam_k8s_oracle_new(&o, &opts), -EINVAL);
	ck_assert_ptr_null(o);
	ipam_k8s_options_init(&opts);
	opts.terminating_extra_delay = -1;
	ck_assert_int_eq(ipam_k8s_oracle_new(&o, &opts), -EINVAL);
	ipam_k8s_options_init(&opts);
	opts.node_not_ready_delay = -5;
	ck_assert_int_eq(ipam_k8s_oracle_new(&o, &opts), -EINVAL);
	ipam_k8s_options_init(&opts);
	opts.max_input = 0;
	ck_assert_int_eq(ipam_k8s_oracle_new(&o, &opts), -EINVAL);
	ipam_k8s_options_init(&opts);
	memset(long_key, 'k', sizeof(long_key) - 1);
	long_key[sizeof(long_key) - 1] = '\0';
	opts.uid_attr = long_key;
	ck_assert_int_eq(ipam_k8s_oracle_new(&o, &opts), -ENAMETOOLONG);
	ck_assert_int_eq(ipam_k8s_last_error(&info), -ENAMETOOLONG);
	ck_assert_str_eq(info.field, "uid_attr");
	opts.uid_attr = "";
	ck_assert_int_eq(ipam_k8s_oracle_new(&o, &opts), -ENAMETOOLONG);

	/* A shorter options struct (an older caller) gets defaults for the rest. */
	ipam_k8s_options_init(&opts);
	opts.size = sizeof(size_t) + sizeof(int);
	opts.check_uid = 0;
	ck_assert_int_eq(ipam_k8s_oracle_new(&o, &opts), 0);
	ipam_k8s_oracle_free(o);

	/* Functions refuse oracles that are not k8s ones. */
	ipam_gc_oracle fake = {.version = IPAM_GC_ORACLE_VERSION, .name = "fake"};
	fake.ud = &fake;
	ck_assert_int_eq(ipam_k8s_oracle_load_pods(&fake, "{}", 2), -EINVAL);
	ck_assert_int_eq(ipam_k8s_oracle_explain(&fake, &l, T_NOW, NULL, 0), -EINVAL);
	ck_assert_int_eq(ipam_k8s_oracle_stats(&fake, &st), -EINVAL);
}
END_TEST

/* ---- verdicts ---------------------------------------------------------------- */

typedef struct row {
	const char *owner;
	const char *uid; /* NULL: the lease records none */
	int verdict;
	const char *reason;
} row;

#define ALIVE IPAM_GC_ALIVE
#define DEAD IPAM_GC_DEAD
#define UNKNOWN IPAM_GC_UNKNOWN

/* The rules on pods.json at T_NOW with the default options. */
static const row rows[] = {
	{"default/web-7c9f8d6b5-x2kqp", UID_WEB, ALIVE, "pod running"},
	{"default/web-7c9f8d6b5-x2kqp", NULL, ALIVE, "pod running"},
	{"kube-system/coredns-5dd5756b68-7xk9p", "2c3d4e5f-6a7b-4c8d-9e0f-a1b2c3d4e5f6", ALIVE,
	 "pod running"},
	{"default/web-7c9f8d6b5-gone1", NULL, DEAD, "pod missing"},
	{"other-ns/web-7c9f8d6b5-x2kqp", UID_WEB, DEAD, "pod missing"},
	{"default/report-28871234-5xq7v", "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d", DEAD,
	 "pod succeeded"},
	{"default/migrate-28871240-j8d2m", NULL, DEAD, "pod failed"},
	{"default/unscheduled", "c3d4e5f6-a7b8-4c9d-8e0f-2a3b4c5d6e7f", ALIVE, "pod pending"},
	{"default/creating", NULL, ALIVE, "pod pending"},
	{"default/stuck-pending", NULL, ALIVE, "pod pending"}, /* deleted hours ago */
	{"default/draining", "e5f6a7b8-c9d0-4e1f-8a2b-4c5d6e7f8091", ALIVE,
	 "pod terminating, within grace"},
	{"default/db-0", UID_OLD, ALIVE, "uid mismatch, successor pending"},
	{"default/db-0", "11111111-2222-4333-8444-555555555555", ALIVE, "pod pending"},
	{"default/cache-0", UID_OLD, DEAD, "uid mismatch"},
	{"default/cache-0", "66666666-7777-4888-9999-aaaaaaaaaaaa", ALIVE, "pod running"},
	{"monitoring/node-exporter-lost", NULL, ALIVE, "pod phase unknown"},
	{"default/api-5d8f7b9c4-qwz8r", NULL, ALIVE, "pod running"}, /* node NotReady */
	/* Not "namespace/name": somebody else's lease. */
	{"default", NULL, UNKNOWN, "owner is not namespace/name"},
	{"default/", NULL, UNKNOWN, "owner is not namespace/name"},
	{"/web", NULL, UNKNOWN, "owner is not namespace/name"},
	{"default/web/0", NULL, UNKNOWN, "owner is not namespace/name"},
	{"Default/web-0", NULL, UNKNOWN, "owner is not namespace/name"},
	{"default/web_0", NULL, UNKNOWN, "owner is not namespace/name"},
	{"default/-web", NULL, UNKNOWN, "owner is not namespace/name"},
	{"default/web.", NULL, UNKNOWN, "owner is not namespace/name"},
	{"01:0a:58:0a:f4:01:0a", NULL, UNKNOWN, "owner is not namespace/name"},
	{"4b6e0c9d7a3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d", NULL, UNKNOWN,
	 "owner is not namespace/name"},
	{"", NULL, UNKNOWN, "owner is not namespace/name"},
	{"a-namespace-label-that-is-far-too-long-for-rfc-1123-64-characters/x", NULL, UNKNOWN,
	 "owner is not namespace/name"},
};

START_TEST(verdict_rules)
{
	ipam_gc_oracle *o = loaded(NULL);
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		ipam_lease l = mk_lease(rows[i].owner, rows[i].uid, NULL, T_CREATED);
		expect(o, &l, T_NOW, rows[i].verdict, rows[i].reason);
	}
	ipam_k8s_oracle_free(o);
}
END_TEST

START_TEST(verdict_terminating)
{
	ipam_k8s_options opts;
	ipam_gc_oracle *o = loaded(NULL);
	ipam_lease l = mk_lease("default/draining", NULL, NULL, T_CREATED);

	/* deletionTimestamp 19:58:53Z + 30 s of grace: dead after 19:59:23Z. */
	expect(o, &l, T_DELETION - 100, ALIVE, "pod terminating, within grace");
	expect(o, &l, T_DELETION + 30, ALIVE, "pod terminating, within grace");
	expect(o, &l, T_DELETION + 31, DEAD, "pod terminating, grace over");
	ipam_k8s_oracle_free(o);

	ipam_k8s_options_init(&opts);
	opts.terminating_extra_delay = 60;
	o = loaded(&opts);
	expect(o, &l, T_DELETION + 31, ALIVE, "pod terminating, within grace");
	expect(o, &l, T_DELETION + 90, ALIVE, "pod terminating, within grace");
	expect(o, &l, T_DELETION + 91, DEAD, "pod terminating, grace over");
	/* Pending is never dead, however long ago it was deleted. */
	l = mk_lease("default/stuck-pending", NULL, NULL, T_CREATED);
	expect(o, &l, T_NOW + 86400 * 365, ALIVE, "pod pending");
	ipam_k8s_oracle_free(o);
}
END_TEST

START_TEST(verdict_uid_switches)
{
	ipam_k8s_options opts;
	ipam_gc_oracle *o;
	ipam_lease cache = mk_lease("default/cache-0", UID_OLD, NULL, T_CREATED);
	ipam_lease db = mk_lease("default/db-0", UID_OLD, NULL, T_CREATED);

	/* check_uid off: only the name counts, the successor's state decides. */
	ipam_k8s_options_init(&opts);
	opts.check_uid = 0;
	o = loaded(&opts);
	expect(o, &cache, T_NOW, ALIVE, "pod running");
	expect(o, &db, T_NOW, ALIVE, "pod pending");
	ipam_k8s_oracle_free(o);

	/* Spiderpool's plain rule: any mismatch is dead. */
	ipam_k8s_options_init(&opts);
	opts.uid_mismatch_keep_pending = 0;
	o = loaded(&opts);
	expect(o, &cache, T_NOW, DEAD, "uid mismatch");
	expect(o, &db, T_NOW, DEAD, "uid mismatch");
	ipam_k8s_oracle_free(o);

	/* Another attribute key for the UID: the default key is then ignored. */
	ipam_k8s_options_init(&opts);
	opts.uid_attr = "pod-uid";
	o = loaded(&opts);
	expect(o, &cache, T_NOW, ALIVE, "pod running");
	snprintf(cache.attrs[1].key, sizeof(cache.attrs[1].key), "pod-uid");
	expect(o, &cache, T_NOW, DEAD, "uid mismatch");
	/* An empty UID value counts as none. */
	cache.attrs[1].value[0] = '\0';
	expect(o, &cache, T_NOW, ALIVE, "pod running");
	ipam_k8s_oracle_free(o);
}
END_TEST

/* A list cannot judge a lease made after it was taken. */
START_TEST(verdict_fresh_leases)
{
	ipam_gc_oracle *o = loaded(NULL);
	ipam_lease l;
	ipam_k8s_stats st = {.size = sizeof(st)};

	ck_assert_int_eq(ipam_k8s_oracle_stats(o, &st), 0);
	ck_assert_int_eq(st.listed_at, T_LISTED);

	l = mk_lease("default/new-pod", NULL, NULL, T_LISTED);
	expect(o, &l, T_LISTED + 100, UNKNOWN, "pod missing, lease newer than the list");
	l.created = T_LISTED - 1;
	expect(o, &l, T_LISTED + 100, DEAD, "pod missing");

	l = mk_lease("default/cache-0", UID_OLD, NULL, T_LISTED + 5);
	expect(o, &l, T_LISTED + 100, UNKNOWN, "uid mismatch, lease newer than the list");
	l = mk_lease("default/report-28871234-5xq7v", NULL, NULL, T_LISTED);
	expect(o, &l, T_LISTED + 100, UNKNOWN, "pod finished, lease newer than the list");
	l = mk_lease("default/draining", NULL, NULL, T_LISTED);
	expect(o, &l, T_LISTED + 100, UNKNOWN, "pod terminating, lease newer than the list");
	/* Alive verdicts are not affected. */
	l = mk_lease("default/web-7c9f8d6b5-x2kqp", UID_WEB, NULL, T_LISTED + 50);
	expect(o, &l, T_LISTED + 100, ALIVE, "pod running");

	/* 0 turns the guard off. */
	ck_assert_int_eq(ipam_k8s_oracle_set_listed_at(o, 0), 0);
	l = mk_lease("default/new-pod", NULL, NULL, T_LISTED);
	expect(o, &l, T_LISTED + 100, DEAD, "pod missing");
	ck_assert_int_eq(ipam_k8s_oracle_set_listed_at(o, -1), -EINVAL);
	ipam_k8s_oracle_free(o);
}
END_TEST

START_TEST(verdict_lease_states)
{
	ipam_gc_oracle *o = loaded(NULL);
	ipam_lease l = mk_lease("default/gone", NULL, NULL, T_CREATED);

	l.state = IPAM_LEASE_SUSPECT;
	expect(o, &l, T_NOW, DEAD, "pod missing");
	l.state = IPAM_LEASE_RESERVED;
	expect(o, &l, T_NOW, UNKNOWN, "lease not bound");
	l.state = IPAM_LEASE_QUARANTINED;
	expect(o, &l, T_NOW, UNKNOWN, "lease not bound");
	ipam_k8s_oracle_free(o);
}
END_TEST

START_TEST(judge_batch_matches_judge)
{
	enum { N = sizeof(rows) / sizeof(rows[0]) };
	ipam_gc_oracle *o = loaded(NULL);
	ipam_lease leases[N];
	int verdicts[N];
	unsigned i;

	for (i = 0; i < N; i++) {
		leases[i] = mk_lease(rows[i].owner, rows[i].uid, NULL, T_CREATED);
		verdicts[i] = -1;
	}
	ck_assert_int_eq(o->judge_batch(o->ud, leases, N, verdicts, T_NOW), 0);
	for (i = 0; i < N; i++) {
		ck_assert_msg(verdicts[i] == rows[i].verdict, "%s", rows[i].owner);
		ck_assert_int_eq(verdicts[i], o->judge(o->ud, &leases[i], T_NOW));
	}
	ck_assert_int_eq(o->judge_batch(o->ud, NULL, 0, NULL, T_NOW), 0);
	ck_assert_int_eq(o->judge_batch(o->ud, NULL, 3, verdicts, T_NOW), -EINVAL);
	ipam_k8s_oracle_free(o);
}
END_TEST

/* ---- nodes ---------------------------------------------------------------------- */

START_TEST(node_rules)
{
	ipam_k8s_options opts;
	ipam_gc_oracle *o;
	ipam_k8s_stats st = {.size = sizeof(st)};

	/* Defaults: both switches off, every node alive. */
	o = loaded(NULL);
	ck_assert_int_eq(ipam_k8s_oracle_stats(o, &st), 0);
	ck_assert_int_eq(st.nodes, 4);
	ck_assert_int_eq(st.nodes_not_ready, 2);
	ck_assert_int_eq(o->node_alive(o->ud, "node-a", T_NOW), 1);
	ck_assert_int_eq(o->node_alive(o->ud, "node-c", T_NOW), 1); /* Ready False */
	ck_assert_int_eq(o->node_alive(o->ud, "node-d", T_NOW), 1); /* Ready Unknown */
	ck_assert_int_eq(o->node_alive(o->ud, "node-gone", T_NOW), 1);
	ipam_k8s_oracle_free(o);

	ipam_k8s_options_init(&opts);
	opts.node_not_ready_is_dead = 1;
	o = loaded(&opts);
	ck_assert_int_eq(o->node_alive(o->ud, "node-a", T_NOW), 1);
	ck_assert_int_eq(o->node_alive(o->ud, "node-b", T_NOW), 1);
	ck_assert_int_eq(o->node_alive(o->ud, "node-c", T_NOW), 0);
	ck_assert_int_eq(o->node_alive(o->ud, "node-d", T_NOW), 0);
	ck_assert_int_eq(o->node_alive(o->ud, "node-gone", T_NOW), 1);
	ck_assert_int_eq(o->node_alive(o->ud, "", T_NOW), 1);
	ck_assert_int_eq(o->node_alive(o->ud, NULL, T_NOW), 1);
	ipam_k8s_oracle_free(o);

	ipam_k8s_options_init(&opts);
	opts.missing_node_is_dead = 1;
	o = loaded(&opts);
	ck_assert_int_eq(o->node_alive(o->ud, "node-gone", T_NOW), 0);
	ck_assert_int_eq(o->node_alive(o->ud, "Node-A", T_NOW), 0);
	ck_assert_int_eq(o->node_alive(o->ud, "node-a", T_NOW), 1);
	ck_assert_int_eq(o->node_alive(o->ud, "node-c", T_NOW), 1);
	ipam_k8s_oracle_free(o);

	/* NotReady must have lasted node_not_ready_delay (lastTransitionTime). */
	ipam_k8s_options_init(&opts);
	opts.node_not_ready_is_dead = 1;
	opts.node_not_ready_delay = 3600;
	o = loaded(&opts);
	ck_assert_int_eq(o->node_alive(o->ud, "node-c", T_NODE_C + 3599), 1);
	ck_assert_int_eq(o->node_alive(o->ud, "node-c", T_NODE_C + 3600), 0);
	ck_assert_int_eq(o->node_alive(o->ud, "node-d", T_NODE_C + 3600), 1); /* since 19:50 */
	ipam_k8s_oracle_free(o);
}
END_TEST

START_TEST(node_without_ready_condition)
{
	static const char doc[] =
		"{\"apiVersion\":\"v1\",\"kind\":\"NodeList\",\"metadata\":{},\"items\":["
		"{\"metadata\":{\"name\":\"bare\"}},"
		"{\"metadata\":{\"name\":\"no-conds\"},\"status\":{}},"
		"{\"metadata\":{\"name\":\"ok\"},\"status\":{\"conditions\":[{\"type\":\"Ready\","
		"\"status\":\"True\"}]}}]}";
	ipam_k8s_options opts;
	ipam_gc_oracle *o = NULL;

	ipam_k8s_options_init(&opts);
	opts.node_not_ready_is_dead = 1;
	ck_assert_int_eq(ipam_k8s_oracle_new(&o, &opts), 0);
	ck_assert_int_eq(ipam_k8s_oracle_load_nodes(o, doc, strlen(doc)), 3);
	ck_assert_int_eq(o->node_alive(o->ud, "bare", T_NOW), 0);
	ck_assert_int_eq(o->node_alive(o->ud, "no-conds", T_NOW), 0);
	ck_assert_int_eq(o->node_alive(o->ud, "ok", T_NOW), 1);
	ipam_k8s_oracle_free(o);
}
END_TEST

/* ---- bad input -------------------------------------------------------------------- */

/* The oracle still answers as after loaded(NULL). */
static void assert_unchanged(ipam_gc_oracle *o)
{
	ipam_k8s_stats st = {.size = sizeof(st)};
	ipam_lease alive = mk_lease("default/web-7c9f8d6b5-x2kqp", UID_WEB, NULL, T_CREATED);
	ipam_lease dead = mk_lease("default/gone", NULL, NULL, T_CREATED);

	ck_assert_int_eq(ipam_k8s_oracle_stats(o, &st), 0);
	ck_assert_int_eq(st.pods, 13);
	ck_assert_int_eq(st.nodes, 4);
	ck_assert_int_eq(st.listed_at, T_LISTED);
	expect(o, &alive, T_NOW, ALIVE, "pod running");
	expect(o, &dead, T_NOW, DEAD, "pod missing");
	ck_assert_int_eq(o->node_alive(o->ud, "node-a", T_NOW), 1);
}

typedef struct bad_case {
	const char *file; /* a fixture, or NULL: text */
	const char *text;
	int nodes;        /* load as a node list */
	int code;
	const char *field; /* ipam_error_info.field */
	const char *words; /* in the message */
} bad_case;

#define POD_ITEM(ns, name, uid, extra_meta)                                                \
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"" name             \
	"\",\"namespace\":\"" ns "\",\"uid\":\"" uid "\"" extra_meta                         \
	"},\"spec\":{\"nodeName\":\"node-a\"},\"status\":{\"phase\":\"Running\"}}"
#define POD_LIST(items) "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"metadata\":{},\"items\":[" items "]}"
#define NS63 "n23456789012345678901234567890123456789012345678901234567890123"

static const bad_case bad_cases[] = {
	{"truncated.json", NULL, 0, -EBADMSG, "pods", "malformed JSON at line"},
	{"single_pod.json", NULL, 0, -EINVAL, "kind", "not a pods list"},
	{"nodes.json", NULL, 0, -EINVAL, "items[0].kind", "expected \"Pod\""},
	{"pods.json", NULL, 1, -EINVAL, "items[0].kind", "expected \"Node\""},
	{"items_not_array.json", NULL, 0, -EINVAL, "items", "not an array"},
	{"missing_metadata.json", NULL, 0, -EINVAL, "items[1].metadata", "missing"},
	{"missing_uid.json", NULL, 0, -EINVAL, "items[2].metadata.uid", "missing"},
	{NULL, "", 0, -EBADMSG, "pods", "malformed JSON"},
	{NULL, "[]", 0, -EINVAL, "pods", "not a JSON object"},
	{NULL, "{\"apiVersion\":\"v1\",\"kind\":\"List\"}", 0, -EINVAL, "items", "missing"},
	{NULL, "{\"kind\":\"List\",\"items\":[]}", 0, -EINVAL, "apiVersion", "missing"},
	{NULL, "{\"apiVersion\":\"v2\",\"kind\":\"List\",\"items\":[]}", 0, -EPROTO, "apiVersion",
	 "only v1"},
	{NULL, "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"kind\":\"List\",\"items\":[]}", 0,
	 -EBADMSG, "pods", "duplicate"},
	{NULL, "{\"apiVersion\":\"v1\",\"kind\":\"NodeList\",\"items\":[]}", 0, -EINVAL, "kind",
	 "not a pods list"},
	{NULL, "{\"apiVersion\":\"v1\",\"kind\":\"PodList\",\"items\":[]}", 1, -EINVAL, "kind",
	 "not a nodes list"},
	{NULL, POD_LIST("7"), 0, -EINVAL, "items[0]", "not an object"},
	{NULL, POD_LIST(POD_ITEM("default", "a", "u1", "") "," POD_ITEM("default", "a", "u2", "")),
	 0, -EINVAL, "items[1].metadata.name", "duplicate pod"},
	{NULL, POD_LIST(POD_ITEM("default", "", "u1", "")), 0, -EINVAL, "items[0].metadata.name",
	 "empty"},
	{NULL, POD_LIST(POD_ITEM("default", "a/b", "u1", "")), 0, -EINVAL,
	 "items[0].metadata.name", "invalid character"},
	{NULL, POD_LIST(POD_ITEM(NS63 "4", "a", "u1", "")), 0, -ENAMETOOLONG,
	 "items[0].metadata.namespace", "over the limit of 63"},
	{NULL, POD_LIST(POD_ITEM("default", "a", "u1", ",\"deletionTimestamp\":\"yesterday\"")), 0,
	 -ERANGE, "items[0].metadata.deletionTimestamp", "RFC 3339"},
	{NULL,
	 POD_LIST(POD_ITEM("default", "a", "u1",
			   ",\"deletionTimestamp\":\"2026-11-26T19:58:53Z\","
			   "\"deletionGracePeriodSeconds\":-30")),
	 0, -ERANGE, "items[0].metadata.deletionGracePeriodSec", "out of range"},
	{NULL,
	 POD_LIST(POD_ITEM("default", "a", "u1",
			   ",\"deletionTimestamp\":\"2026-11-26T19:58:53Z\","
			   "\"deletionGracePeriodSeconds\":\"30\"")),
	 0, -EINVAL, "items[0].metadata.deletionGracePeriodSec", "not an integer"},
	{NULL, POD_LIST(POD_ITEM("default", "a", "u1", ",\"uid\":\"u2\"")), 0, -EBADMSG, "pods",
	 "duplicate"},
	{NULL,
	 "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[{\"metadata\":{\"name\":\"x\","
	 "\"namespace\":\"d\",\"uid\":\"u\"},\"status\":{\"phase\":7}}]}",
	 0, -EINVAL, "items[0].status.phase", "not a string"},
	{NULL,
	 "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[{\"metadata\":{\"name\":\"x\"},"
	 "\"status\":{\"conditions\":{}}}]}",
	 1, -EINVAL, "items[0].status.conditions", "not an array"},
	{NULL,
	 "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[{\"metadata\":{\"name\":\"x\"},"
	 "\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\","
	 "\"lastTransitionTime\":\"2026-11-26\"}]}}]}",
	 1, -ERANGE, "items[0].status.conditions[].lastTransiti", "RFC 3339"},
	{NULL,
	 "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[{\"metadata\":{\"name\":\"x\"}},"
	 "{\"metadata\":{\"name\":\"x\"}}]}",
	 1, -EINVAL, "items[1].metadata.name", "duplicate node"},
};

START_TEST(bad_input_changes_nothing)
{
	ipam_gc_oracle *o = loaded(NULL);
	size_t i;

	assert_unchanged(o);
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const bad_case *c = &bad_cases[i];
		ipam_error_info info;
		int r;

		if (c->file)
			r = c->nodes ? ipam_k8s_oracle_load_nodes_file(o, fixture(c->file))
				     : ipam_k8s_oracle_load_pods_file(o, fixture(c->file));
		else
			r = c->nodes ? ipam_k8s_oracle_load_nodes(o, c->text, strlen(c->text))
				     : ipam_k8s_oracle_load_pods(o, c->text, strlen(c->text));
		ck_assert_int_eq(ipam_k8s_last_error(&info), r);
		ck_assert_msg(r == c->code, "case %zu (%s): %d, expected %d: %s", i,
			      c->file ? c->file : c->text, r, c->code, info.message);
		ck_assert_msg(strncmp(info.field, c->field, strlen(c->field)) == 0,
			      "case %zu: field \"%s\", expected \"%s\"", i, info.field, c->field);
		ck_assert_msg(strstr(info.message, c->words) != NULL,
			      "case %zu: message \"%s\" lacks \"%s\"", i, info.message, c->words);
		assert_unchanged(o);
	}
	/* NULL document. */
	ck_assert_int_eq(ipam_k8s_oracle_load_pods(o, NULL, 10), -EINVAL);
	assert_unchanged(o);
	ipam_k8s_oracle_free(o);
}
END_TEST

START_TEST(bad_input_limits_and_files)
{
	ipam_k8s_options opts;
	ipam_gc_oracle *o;
	ipam_error_info info;
	char path[] = "/tmp/ipam-k8s-test-XXXXXX";
	FILE *f;
	int fd;

	ipam_k8s_options_init(&opts);
	opts.max_input = 20000; /* nodes.json fits, pods.json does not */
	ck_assert_int_eq(ipam_k8s_oracle_new(&o, &opts), 0);
	ck_assert_int_eq(ipam_k8s_oracle_load_nodes_file(o, fixture("nodes.json")), 4);
	ck_assert_int_eq(ipam_k8s_oracle_load_pods_file(o, fixture("pods.json")), -E2BIG);
	ck_assert_int_eq(ipam_k8s_last_error(&info), -E2BIG);
	ck_assert_ptr_nonnull(strstr(info.message, "over the limit of 20000 bytes"));
	ck_assert_int_eq(ipam_k8s_oracle_load_pods_file(o, fixture("pods_after.json")), 2);

	/* The same limit for documents in memory. */
	{
		size_t n = 20001;
		char *big = malloc(n);
		ck_assert_ptr_nonnull(big);
		memset(big, ' ', n);
		ck_assert_int_eq(ipam_k8s_oracle_load_pods(o, big, n), -E2BIG);
		free(big);
	}
	/* A file that grows past the limit (read as a stream). */
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	for (int i = 0; i < 3000; i++)
		fputs("          ", f);
	fclose(f);
	ck_assert_int_eq(ipam_k8s_oracle_load_pods_file(o, path), -E2BIG);
	unlink(path);

	ck_assert_int_eq(ipam_k8s_oracle_load_pods_file(o, "/nonexistent/pods.json"), -ENOENT);
	ck_assert_int_eq(ipam_k8s_last_error(&info), -ENOENT);
	ck_assert_str_eq(info.field, "path");
	ck_assert_int_eq(ipam_k8s_oracle_load_pods_file(o, NULL), -EINVAL);
	ck_assert_int_eq(ipam_k8s_oracle_load_pods_file(o, "/"), -EISDIR);
	ipam_k8s_stats st = {.size = sizeof(st)};
	ck_assert_int_eq(ipam_k8s_oracle_stats(o, &st), 0);
	ck_assert_int_eq(st.pods, 2);
	ipam_k8s_oracle_free(o);
}
END_TEST

/* Names Kubernetes allows but a lease cannot hold are skipped, not errors. */
START_TEST(long_names_skipped)
{
	char name[254], node[101], doc[2048];
	ipam_gc_oracle *o = NULL;
	ipam_k8s_stats st = {.size = sizeof(st)};

	memset(name, 'p', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	memset(node, 'n', sizeof(node) - 1);
	node[sizeof(node) - 1] = '\0';
	ck_assert_int_eq(ipam_k8s_oracle_new(&o, NULL), 0);
	snprintf(doc, sizeof(doc),
		 POD_LIST(POD_ITEM("default", "%s", "u1", "") "," POD_ITEM("default", "short",
									  "u2", "")),
		 name);
	ck_assert_msg(ipam_k8s_oracle_load_pods(o, doc, strlen(doc)) == 1, "%s",
		      ipam_k8s_last_error_message());
	snprintf(doc, sizeof(doc),
		 "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[{\"metadata\":{\"name\":"
		 "\"%s\"}},{\"metadata\":{\"name\":\"node-a\"}}]}",
		 node);
	ck_assert_int_eq(ipam_k8s_oracle_load_nodes(o, doc, strlen(doc)), 1);
	ck_assert_int_eq(ipam_k8s_oracle_stats(o, &st), 0);
	ck_assert_int_eq(st.pods, 1);
	ck_assert_int_eq(st.pods_skipped, 1);
	ck_assert_int_eq(st.nodes, 1);
	ck_assert_int_eq(st.nodes_skipped, 1);
	/* Over the Kubernetes limit: an error. */
	snprintf(doc, sizeof(doc), POD_LIST(POD_ITEM("default", "%s" "x", "u1", "")), name);
	ck_assert_int_eq(ipam_k8s_oracle_load_pods(o, doc, strlen(doc)), -ENAMETOOLONG);
	ipam_k8s_oracle_free(o);
}
END_TEST

/* ---- scale, threads ------------------------------------------------------------- */

static double elapsed(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a->tv_sec) + (double)(b.tv_nsec - a->tv_nsec) / 1e9;
}

/* n pods, compact but with kubectl's shape; pod i is Running unless i % 10
 * == 9 (Succeeded). Caller frees. */
static char *make_pod_list(unsigned n, size_t *len)
{
	size_t cap = (size_t)n * 700 + 256, off = 0;
	char *buf = malloc(cap);
	unsigned i;

	ck_assert_ptr_nonnull(buf);
	off += (size_t)snprintf(buf + off, cap - off, "{\"apiVersion\":\"v1\",\"items\":[");
	for (i = 0; i < n; i++)
		off += (size_t)snprintf(
			buf + off, cap - off,
			"%s{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"creationTimestamp\":"
			"\"2026-11-26T18:00:00Z\",\"labels\":{\"app\":\"load\"},\"name\":\"load-%u\","
			"\"namespace\":\"ns-%u\",\"resourceVersion\":\"%u\",\"uid\":\"%08x-0000-4000-"
			"8000-%012u\"},\"spec\":{\"containers\":[{\"image\":\"registry.k8s.io/"
			"pause:3.9\",\"name\":\"main\"}],\"nodeName\":\"node-%u\",\"restartPolicy\":"
			"\"Always\"},\"status\":{\"hostIP\":\"10.0.%u.%u\",\"phase\":\"%s\",\"podIP\":"
			"\"10.%u.%u.%u\",\"qosClass\":\"BestEffort\"}}",
			i ? "," : "", i, i % 50, i, i, i, i % 500, (i / 250) % 250, i % 250 + 1,
			i % 10 == 9 ? "Succeeded" : "Running", 100 + (i >> 16), (i >> 8) & 255,
			i & 255);
	off += (size_t)snprintf(buf + off, cap - off,
				"],\"kind\":\"List\",\"metadata\":{\"resourceVersion\":\"\"}}");
	ck_assert_uint_lt(off, cap);
	*len = off;
	return buf;
}

START_TEST(scale_100k_pods)
{
	const unsigned n = 100000;
	ipam_gc_oracle *o = NULL;
	struct timespec t0;
	ipam_lease *leases = calloc(n, sizeof(*leases));
	int *verdicts = calloc(n, sizeof(*verdicts));
	size_t len;
	char *doc = make_pod_list(n, &len);
	double load_s, judge_s;
	unsigned i, dead = 0;

	ck_assert_ptr_nonnull(leases);
	ck_assert_ptr_nonnull(verdicts);
	ck_assert_int_eq(ipam_k8s_oracle_new(&o, NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_msg(ipam_k8s_oracle_load_pods(o, doc, len) == (int)n, "%s",
		      ipam_k8s_last_error_message());
	load_s = elapsed(&t0);
	ck_assert_int_eq(ipam_k8s_oracle_set_listed_at(o, T_LISTED), 0);
	for (i = 0; i < n; i++) {
		char owner[64], uid[64];
		/* Every 7th lease names a pod that is not in the list. */
		snprintf(owner, sizeof(owner), "ns-%u/load-%u", i % 50, i % 7 == 3 ? i + n : i);
		snprintf(uid, sizeof(uid), "%08x-0000-4000-8000-%012u", i, i);
		leases[i] = mk_lease(owner, uid, NULL, T_CREATED);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(o->judge_batch(o->ud, leases, n, verdicts, T_NOW), 0);
	judge_s = elapsed(&t0);
	for (i = 0; i < n; i++) {
		int want = (i % 7 == 3 || i % 10 == 9) ? DEAD : ALIVE;
		ck_assert_msg(verdicts[i] == want, "lease %u: %d", i, verdicts[i]);
		dead += verdicts[i] == DEAD;
	}
	printf("scale: %u pods, %.1f MB of JSON: loaded in %.3f s, judged in %.3f s (%u dead)\n",
	       n, (double)len / 1e6, load_s, judge_s, dead);
	/* Generous for a shared, sanitized machine; the figure is printed. */
	ck_assert_msg(load_s < 10.0, "load took %.3f s", load_s);
	ipam_k8s_oracle_free(o);
	free(doc);
	free(leases);
	free(verdicts);
}
END_TEST

typedef struct race {
	ipam_gc_oracle *o;
	const char *docs[2];
	size_t lens[2];
	int stop;
	long judged;
} race;

/* Judge "default/web-..." (in both lists) and "default/cache-0" (only in
 * the first): every answer must be one a complete list gives. */
static void *race_judge(void *arg)
{
	race *r = arg;
	ipam_lease web = mk_lease("default/web-7c9f8d6b5-x2kqp", UID_WEB, NULL, T_CREATED);
	ipam_lease cache = mk_lease("default/cache-0", NULL, NULL, T_CREATED);
	ipam_lease both[2] = {web, cache};
	int v[2];

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		ck_assert_int_eq(r->o->judge(r->o->ud, &web, T_NOW), ALIVE);
		ck_assert_int_eq(r->o->judge_batch(r->o->ud, both, 2, v, T_NOW), 0);
		ck_assert_int_eq(v[0], ALIVE);
		ck_assert(v[1] == ALIVE || v[1] == DEAD);
		ck_assert_int_eq(r->o->node_alive(r->o->ud, "node-a", T_NOW), 1);
		r->judged++;
	}
	return NULL;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

START_TEST(reload_races_judges)
{
	race r = {0};
	pthread_t t;
	char *a, *b, *nodes;
	size_t nodes_len;
	long i, rounds = tu_scale(400);

	a = slurp(fixture("pods.json"), &r.lens[0]);
	b = slurp(fixture("pods_after.json"), &r.lens[1]);
	nodes = slurp(fixture("nodes.json"), &nodes_len);
	r.docs[0] = a;
	r.docs[1] = b;
	ck_assert_int_eq(ipam_k8s_oracle_new(&r.o, NULL), 0);
	ck_assert_int_eq(ipam_k8s_oracle_load_pods(r.o, a, r.lens[0]), 13);
	ck_assert_int_eq(pthread_create(&t, NULL, race_judge, &r), 0);
	for (i = 0; i < rounds; i++) {
		ck_assert_int_ge(ipam_k8s_oracle_load_pods(r.o, r.docs[i & 1], r.lens[i & 1]), 2);
		ck_assert_int_eq(ipam_k8s_oracle_load_nodes(r.o, nodes, nodes_len), 4);
		/* A failed load in between changes nothing. */
		ck_assert_int_eq(ipam_k8s_oracle_load_pods(r.o, "{", 1), -EBADMSG);
	}
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	printf("race: %ld reloads, %ld judgements\n", rounds, r.judged);
	ipam_k8s_oracle_free(r.o);
	free(a);
	free(b);
	free(nodes);
}
END_TEST

/* ---- with ipam_gc ------------------------------------------------------------- */

typedef struct gc_pod {
	const char *owner;
	const char *uid;  /* recorded in the lease; NULL: none */
	const char *node;
	int dead;         /* reclaimed by a pass with the default options */
} gc_pod;

static const gc_pod gc_pods[] = {
	{"default/web-7c9f8d6b5-x2kqp", UID_WEB, "node-a", 0},
	{"default/report-28871234-5xq7v", "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d", "node-a", 1},
	{"default/migrate-28871240-j8d2m", NULL, "node-b", 1},
	{"default/deleted-yesterday", "0d0d0d0d-0000-4000-8000-000000000000", "node-a", 1},
	{"default/cache-0", UID_OLD, "node-a", 1},
	{"default/db-0", UID_OLD, "node-b", 0},
	{"default/draining", NULL, "node-a", 0},
	{"default/creating", NULL, "node-b", 0},
	{"default/stuck-pending", NULL, "node-b", 0},
	{"default/api-5d8f7b9c4-qwz8r", NULL, "node-c", 0}, /* NotReady node */
	{"4b6e0c9d7a3f", NULL, "node-a", 0},               /* not a pod: unknown */
};
#define N_GC_PODS (sizeof(gc_pods) / sizeof(gc_pods[0]))

static ipam_ctx *gc_setup(ipam_store **st)
{
	ipam_ctx *ctx;
	unsigned i;

	fx_now_ms = (int64_t)(T_NOW - 600) * 1000; /* leases made 10 min before the pass */
	*st = fx_store();
	ctx = fx_ctx(*st, 0);
	fx_add_set(ctx, "k8s", fx_pool("pods-v4", "10.244.1.0/24", NULL, NULL), NULL);
	for (i = 0; i < N_GC_PODS; i++) {
		char att[64];
		ipam_attr attr;
		ipam_lease out;
		unsigned n = 1;
		ipam_request r;

		snprintf(att, sizeof(att), "sandbox-%u", i);
		r = fx_req("k8s", gc_pods[i].owner, att);
		r.node = gc_pods[i].node;
		if (gc_pods[i].uid) {
			memset(&attr, 0, sizeof(attr));
			snprintf(attr.key, sizeof(attr.key), IPAM_K8S_DEFAULT_UID_ATTR);
			snprintf(attr.value, sizeof(attr.value), "%s", gc_pods[i].uid);
			r.attrs = &attr;
			r.nattrs = 1;
		}
		ck_assert_msg(ipam_allocate(ctx, &r, &out, &n) == 0, "%s", ipam_last_error_message());
	}
	fx_now_ms = (int64_t)T_NOW * 1000;
	return ctx;
}

static int has_lease(ipam_ctx *ctx, const char *owner)
{
	ipam_lease l;
	unsigned n = 1;

	ck_assert_int_eq(ipam_lookup_owner(ctx, "k8s", owner, "eth0", &l, &n), 0);
	return n > 0;
}

static ipam_gc_policy one_pass_policy(void)
{
	ipam_gc_policy pol;

	ipam_gc_policy_init(&pol);
	pol.two_observations = 0;
	pol.min_age = 0;
	pol.batch = 4; /* several judge_batch calls */
	return pol;
}

START_TEST(gc_reclaims_exactly_the_dead)
{
	ipam_store *st;
	ipam_ctx *ctx = gc_setup(&st);
	ipam_gc_policy pol = one_pass_policy();
	ipam_gc_report *rep = NULL;
	ipam_gc_oracle *o = loaded(NULL);
	unsigned i, ndead = 0;

	ck_assert_uint_eq(fx_used(ctx, "k8s", "pods-v4"), N_GC_PODS);
	ck_assert_msg(ipam_gc(ctx, "k8s", o, &pol, &rep) == 0, "%s", ipam_last_error_message());
	for (i = 0; i < N_GC_PODS; i++) {
		ndead += gc_pods[i].dead;
		ck_assert_msg(has_lease(ctx, gc_pods[i].owner) == !gc_pods[i].dead, "%s",
			      gc_pods[i].owner);
	}
	ck_assert_uint_eq(rep->counts[IPAM_GC_RECLAIMED], ndead);
	ck_assert_uint_eq(rep->counts[IPAM_GC_NO_VERDICT], 1);
	ck_assert_uint_eq(rep->counts[IPAM_GC_KEPT_ALIVE], N_GC_PODS - ndead - 1);
	ck_assert_uint_eq(rep->judged, N_GC_PODS);
	ipam_gc_report_free(rep);
	rep = NULL;

	/* A second pass finds nothing more; a failed reload does not change that. */
	ck_assert_int_eq(ipam_k8s_oracle_load_pods_file(o, fixture("truncated.json")), -EBADMSG);
	ck_assert_int_eq(ipam_gc(ctx, "k8s", o, &pol, &rep), 0);
	ck_assert_uint_eq(rep->counts[IPAM_GC_RECLAIMED], 0);
	ipam_gc_report_free(rep);
	rep = NULL;
	ipam_k8s_oracle_free(o);

	/* Node rules reach the pass through node_alive and dead_node_suspects. */
	{
		ipam_k8s_options opts;

		ipam_k8s_options_init(&opts);
		opts.node_not_ready_is_dead = 1;
		o = loaded(&opts);
		pol.dead_node_suspects = 1;
		ck_assert_int_eq(ipam_gc(ctx, "k8s", o, &pol, &rep), 0);
		ck_assert_uint_eq(rep->counts[IPAM_GC_RECLAIMED], 1);
		ck_assert(!has_lease(ctx, "default/api-5d8f7b9c4-qwz8r"));
		ck_assert(has_lease(ctx, "default/web-7c9f8d6b5-x2kqp"));
		ipam_gc_report_free(rep);
		ipam_gc_oracle_free(o); /* the core's free works on this oracle too */
	}
	ipam_ctx_free(ctx);
	fx_store_free(st);
}
END_TEST

/* An oracle whose pod list failed to load stops the pass: nothing is
 * reclaimed, although every lease would look dead to an empty list. */
START_TEST(gc_malformed_list_reclaims_nothing)
{
	ipam_store *st;
	ipam_ctx *ctx = gc_setup(&st);
	ipam_gc_policy pol = one_pass_policy();
	ipam_gc_report *rep = NULL;
	ipam_gc_oracle *o = NULL;
	const char *bad[] = {"truncated.json", "single_pod.json", "items_not_array.json",
			     "missing_metadata.json"};
	unsigned i;
	int r;

	ck_assert_int_eq(ipam_k8s_oracle_new(&o, NULL), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_lt(ipam_k8s_oracle_load_pods_file(o, fixture(bad[i])), 0);
	r = ipam_gc(ctx, "k8s", o, &pol, &rep);
	ck_assert_int_eq(r, -ENOENT);
	if (rep) {
		ck_assert(rep->stopped);
		ck_assert_int_eq(rep->status, -ENOENT);
		ck_assert_uint_eq(rep->counts[IPAM_GC_RECLAIMED], 0);
		ipam_gc_report_free(rep);
	}
	ck_assert_uint_eq(fx_used(ctx, "k8s", "pods-v4"), N_GC_PODS);
	for (i = 0; i < N_GC_PODS; i++)
		ck_assert(has_lease(ctx, gc_pods[i].owner));
	ipam_k8s_oracle_free(o);
	ipam_ctx_free(ctx);
	fx_store_free(st);
}
END_TEST

static Suite *k8s_suite(void)
{
	Suite *s = suite_create("k8s");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, time_valid);
	tcase_add_test(tc, time_invalid);
	tcase_add_test(tc, time_sweep_timegm);
	tcase_add_test(tc, new_and_options);
	tcase_add_test(tc, verdict_rules);
	tcase_add_test(tc, verdict_terminating);
	tcase_add_test(tc, verdict_uid_switches);
	tcase_add_test(tc, verdict_fresh_leases);
	tcase_add_test(tc, verdict_lease_states);
	tcase_add_test(tc, judge_batch_matches_judge);
	tcase_add_test(tc, node_rules);
	tcase_add_test(tc, node_without_ready_condition);
	tcase_add_test(tc, bad_input_changes_nothing);
	tcase_add_test(tc, bad_input_limits_and_files);
	tcase_add_test(tc, long_names_skipped);
	tcase_add_test(tc, scale_100k_pods);
	tcase_add_test(tc, reload_races_judges);
	tcase_add_test(tc, gc_reclaims_exactly_the_dead);
	tcase_add_test(tc, gc_malformed_list_reclaims_nothing);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(k8s_suite());
}
