/* SPDX-License-Identifier: MIT */
/*
 * The simulated cluster: pod identities (namespace/name, uid, sandbox ids),
 * the phase transitions the API server and the kubelets make, and the API
 * server stand-in as the GC oracle.
 *
 * A pod slot keeps its name across sandbox incarnations (power-off) and
 * gets a new name and uid per generation (rebuild replaces pods). The
 * stand-in knows a pod from the moment it is created (before its ADD) until
 * it is deleted (before its DEL), so with the pod oracle a lease is alive
 * exactly while its pod exists; with the sandbox oracle only while its
 * sandbox is the pod's current one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "churn.h"

void pod_owner(unsigned slot, unsigned gen, char *buf, size_t size)
{
	if (gen == 0)
		snprintf(buf, size, CHURN_NS "/pod-%04u", slot);
	else
		snprintf(buf, size, CHURN_NS "/pod-%04u-g%u", slot, gen);
}

static uint64_t ident_hash(const struct config *c, unsigned slot, unsigned gen, unsigned inc,
			   uint64_t salt)
{
	return mix64(mix64(c->seed ^ salt) ^ ((uint64_t)slot << 40) ^ ((uint64_t)gen << 20) ^ inc);
}

void pod_uid(const struct config *c, unsigned slot, unsigned gen, char *buf, size_t size)
{
	uint64_t h = ident_hash(c, slot, gen, 0, 0x75696475696475ull);
	uint64_t g = mix64(h);
	snprintf(buf, size, "%08x-%04x-4%03x-a%03x-%012llx", (unsigned)(h >> 32),
		 (unsigned)(h >> 16) & 0xffff, (unsigned)h & 0xfff, (unsigned)(g >> 52),
		 (unsigned long long)(g & 0xffffffffffffull));
}

void pod_sandbox(const struct config *c, unsigned slot, unsigned gen, unsigned inc, char *buf,
		 size_t size)
{
	uint64_t h = ident_hash(c, slot, gen, inc, 0x73616e64626f78ull);
	snprintf(buf, size, "sb-%04u-g%u-i%u-%016llx%016llx", slot, gen, inc,
		 (unsigned long long)h, (unsigned long long)mix64(h));
}

const char *pod_node(unsigned slot, unsigned nodes, char *buf, size_t size)
{
	snprintf(buf, size, "node-%02u", slot % nodes);
	return buf;
}

static int parse_u(const char **p, unsigned *out)
{
	char *end;
	unsigned long v;
	if (**p < '0' || **p > '9')
		return -1;
	v = strtoul(*p, &end, 10);
	if (v > 0xffffffffu)
		return -1;
	*out = (unsigned)v;
	*p = end;
	return 0;
}

int parse_owner(const char *owner, unsigned *slot, unsigned *gen)
{
	static const char prefix[] = CHURN_NS "/pod-";
	const char *p = owner;
	if (strncmp(p, prefix, sizeof(prefix) - 1) != 0)
		return -1;
	p += sizeof(prefix) - 1;
	if (parse_u(&p, slot) < 0)
		return -1;
	*gen = 0;
	if (p[0] == '-' && p[1] == 'g') {
		p += 2;
		if (parse_u(&p, gen) < 0 || *gen == 0)
			return -1;
	}
	return *p ? -1 : 0;
}

int parse_sandbox(const char *sb, unsigned *slot, unsigned *gen, unsigned *inc)
{
	const char *p = sb;
	if (strncmp(p, "sb-", 3) != 0)
		return -1;
	p += 3;
	if (parse_u(&p, slot) < 0 || strncmp(p, "-g", 2) != 0)
		return -1;
	p += 2;
	if (parse_u(&p, gen) < 0 || strncmp(p, "-i", 2) != 0)
		return -1;
	p += 2;
	if (parse_u(&p, inc) < 0 || *p != '-')
		return -1;
	return 0;
}

/* ---- phase transitions (arena lock held) ------------------------------------------ */

static void push(struct arena *a, int kind, unsigned slot, const struct pod *p, int64_t due,
		 int counted)
{
	struct job j;
	memset(&j, 0, sizeof(j));
	j.kind = kind;
	j.slot = slot;
	j.gen = p->gen;
	j.inc = p->inc;
	j.due_ns = due;
	j.counted = counted;
	queue_push_locked(a, &j);
}

static void stop_running(struct arena *a, struct pod *p)
{
	if (p->state == POD_RUNNING)
		a->running--;
}

/* A new pod in slot i: a new generation unless the slot was never used. */
static void create_pod(struct arena *a, unsigned i, int64_t t0)
{
	struct pod *p = &a->pods[i];
	if (p->epoch > 0)
		p->gen++;
	p->inc = 0;
	p->state = POD_PENDING;
	p->terminating = 0;
	p->epoch++;
	push(a, JOB_ADD, i, p, t0, 0);
}

unsigned cluster_start_phase(const struct config *c, struct arena *a, enum phase ph, int64_t t0)
{
	unsigned n = 0;

	arena_lock(a);
	for (unsigned i = 0; i < a->npods; i++) {
		struct pod *p = &a->pods[i];
		switch (ph) {
		case PH_CREATE:
			if (p->state == POD_NONE) {
				create_pod(a, i, t0);
				n++;
			}
			break;
		case PH_REBUILD:
			if (p->state != POD_NONE) {
				/* The old pod's DEL: late, or never. */
				uint64_t st = mix64(c->seed ^ ((uint64_t)i << 32) ^ p->gen ^ 0x6465);
				stop_running(a, p);
				if (unit_rand(&st) >= c->lost_dels) {
					int64_t d = (int64_t)(unit_rand(&st) * c->del_delay_ms * 1e6);
					push(a, JOB_DEL, i, p, t0 + d, 0);
				}
			}
			create_pod(a, i, t0);
			n++;
			break;
		case PH_POWEROFF:
			if (p->state != POD_NONE) {
				/* The sandbox is gone without a DEL; the same pod
				 * restarts in a new one. */
				stop_running(a, p);
				p->inc++;
				p->state = POD_PENDING;
				p->epoch++;
				push(a, JOB_ADD, i, p, t0, 0);
				n++;
			}
			break;
		case PH_DELETE:
			if (p->state != POD_NONE) {
				stop_running(a, p);
				p->state = POD_NONE;
				p->terminating = 1;
				p->epoch++;
				a->pending_dels++;
				push(a, JOB_DEL, i, p, t0, 1);
				n++;
			}
			break;
		case PH_COUNT:
			break;
		}
	}
	pthread_cond_broadcast(&a->qcond);
	arena_unlock(a);
	return n;
}

unsigned cluster_existing(struct arena *a)
{
	unsigned n = 0;
	arena_lock(a);
	for (unsigned i = 0; i < a->npods; i++)
		n += a->pods[i].state != POD_NONE;
	arena_unlock(a);
	return n;
}

/* ---- the API-server stand-in as GC oracle -------------------------------------------- */

static int judge_one(const struct oracle_ud *u, const ipam_lease *l)
{
	unsigned slot, gen, sslot, sgen, inc;
	const struct pod *p;
	char uid[64];

	if (parse_owner(l->owner, &slot, &gen) < 0 || slot >= u->a->npods)
		return IPAM_GC_UNKNOWN; /* not one of ours */
	p = &u->a->pods[slot];
	if (p->state == POD_NONE || p->gen != gen)
		return IPAM_GC_DEAD;
	pod_uid(u->c, slot, gen, uid, sizeof(uid));
	for (unsigned k = 0; k < l->nattrs && k < IPAM_ATTRS_MAX; k++)
		if (strcmp(l->attrs[k].key, "k8s.pod.uid") == 0 && strcmp(l->attrs[k].value, uid) != 0)
			return IPAM_GC_DEAD; /* same name, another pod */
	if (u->c->oracle == OR_SANDBOX) {
		if (parse_sandbox(l->attachment, &sslot, &sgen, &inc) < 0)
			return IPAM_GC_UNKNOWN;
		if (sslot != slot || sgen != gen || inc != p->inc)
			return IPAM_GC_DEAD;
	}
	return IPAM_GC_ALIVE;
}

static int judge_batch(void *ud, const ipam_lease *leases, unsigned n, int *verdicts, int64_t now)
{
	struct oracle_ud *u = ud;
	(void)now;
	arena_lock(u->a);
	for (unsigned i = 0; i < n; i++)
		verdicts[i] = judge_one(u, &leases[i]);
	arena_unlock(u->a);
	return 0;
}

void cluster_oracle(ipam_gc_oracle *o, struct oracle_ud *ud)
{
	memset(o, 0, sizeof(*o));
	o->version = IPAM_GC_ORACLE_VERSION;
	o->name = ud->c->oracle == OR_POD ? "api-server-pods" : "api-server-sandboxes";
	o->ud = ud;
	o->judge_batch = judge_batch;
}

void gc_policy(const struct config *c, ipam_gc_policy *p)
{
	ipam_gc_policy_init(p);
	p->min_age = c->gc_min_age_s;
	p->two_observations = c->gc_two_obs;
	p->grace = c->gc_grace_s;
}
