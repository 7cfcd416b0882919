/* SPDX-License-Identifier: MIT */
/*
 * The oracle object: options, the current pod and node lists, and loading.
 *
 * A GC pass reads the lists once per lease batch while a watcher thread may
 * reload them every few seconds, so the lists are immutable once built and
 * a load swaps a whole new one in under a write lock held only for the
 * pointer exchange; parsing runs outside it. The old list is freed after
 * the swap, when no reader can hold it (readers hold the read lock for the
 * whole of their use).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "k8s_internal.h"

#define DELAY_MAX ((int64_t)1 << 40) /* seconds; keeps deadline sums in range */

void ipam_k8s_options_init(ipam_k8s_options *o)
{
	if (!o)
		return;
	memset(o, 0, sizeof(*o));
	o->size = sizeof(*o);
	o->check_uid = 1;
	o->uid_mismatch_keep_pending = 1;
	o->uid_attr = IPAM_K8S_DEFAULT_UID_ATTR;
	o->max_input = IPAM_K8S_DEFAULT_MAX_INPUT;
}

static void k8s_destroy(void *ud)
{
	k8s_oracle *k = ud;

	if (!k)
		return;
	ipam_k8s__pods_free(k->pods);
	ipam_k8s__nodes_free(k->nodes);
	pthread_rwlock_destroy(&k->lock);
	free(k);
}

k8s_oracle *ipam_k8s__oracle(const ipam_gc_oracle *o)
{
	if (!o || o->destroy != k8s_destroy || o->ud != (const void *)o)
		return NULL;
	return (k8s_oracle *)o->ud;
}

/* Hash seed: names come from the cluster, so not a constant. */
static uint64_t random_seed(const void *salt)
{
	uint64_t s = 0;
	struct timespec ts;

	if (getrandom(&s, sizeof(s), GRND_NONBLOCK) == (ssize_t)sizeof(s))
		return s;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)ts.tv_sec ^
	       (uint64_t)(uintptr_t)salt;
}

static int check_options(const ipam_k8s_options *in, ipam_k8s_options *o)
{
	ipam_k8s_options_init(o);
	if (!in)
		return 0;
	if (in->size < sizeof(in->size) || in->size > sizeof(*o))
		return ipam_k8s__fail(-EINVAL, "size", NULL,
				      "%zu: set it to sizeof(ipam_k8s_options) (%zu)", in->size,
				      sizeof(*o));
	memcpy(o, in, in->size);
	o->size = sizeof(*o);
	if (!o->uid_attr)
		o->uid_attr = IPAM_K8S_DEFAULT_UID_ATTR;
	if (o->terminating_extra_delay < 0 || o->terminating_extra_delay > DELAY_MAX)
		return ipam_k8s__fail(-EINVAL, "terminating_extra_delay", NULL,
				      "%lld s is out of range", (long long)o->terminating_extra_delay);
	if (o->node_not_ready_delay < 0 || o->node_not_ready_delay > DELAY_MAX)
		return ipam_k8s__fail(-EINVAL, "node_not_ready_delay", NULL,
				      "%lld s is out of range", (long long)o->node_not_ready_delay);
	if (o->max_input == 0)
		return ipam_k8s__fail(-EINVAL, "max_input", NULL, "must be positive");
	if (!o->uid_attr[0] || strlen(o->uid_attr) > IPAM_ATTR_KEY_MAX)
		return ipam_k8s__fail(-ENAMETOOLONG, "uid_attr", o->uid_attr,
				      "must be 1 to %d bytes (a lease attribute key)",
				      IPAM_ATTR_KEY_MAX);
	return 0;
}

int ipam_k8s_oracle_new(ipam_gc_oracle **out, const ipam_k8s_options *opts)
{
	ipam_k8s_options o;
	k8s_oracle *k;
	int r;

	if (!out)
		return ipam_k8s__fail(-EINVAL, "out", NULL, "NULL");
	*out = NULL;
	if ((r = check_options(opts, &o)) < 0)
		return r;
	k = calloc(1, sizeof(*k));
	if (!k)
		return ipam_k8s__fail(-ENOMEM, NULL, NULL, NULL);
	if (pthread_rwlock_init(&k->lock, NULL) != 0) {
		free(k);
		return ipam_k8s__fail(-ENOMEM, NULL, NULL, "cannot create a lock");
	}
	k->opts = o;
	strcpy(k->uid_attr, o.uid_attr);
	k->opts.uid_attr = k->uid_attr; /* the caller's string need not live on */
	k->seed = random_seed(k);
	k->base.version = IPAM_GC_ORACLE_VERSION;
	k->base.name = IPAM_K8S_ORACLE_NAME;
	k->base.ud = k;
	k->base.destroy = k8s_destroy;
	ipam_k8s__set_verdicts(&k->base);
	*out = &k->base;
	return 0;
}

void ipam_k8s_oracle_free(ipam_gc_oracle *o)
{
	if (o && o->destroy)
		o->destroy(o->ud);
}

static int64_t wall_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

int ipam_k8s_oracle_load_pods(ipam_gc_oracle *o, const char *json, size_t len)
{
	k8s_oracle *k = ipam_k8s__oracle(o);
	int64_t listed_at = wall_clock();
	k8s_pods *p = NULL, *old;
	int r;

	if (!k)
		return ipam_k8s__fail(-EINVAL, "oracle", NULL, "not a k8s oracle");
	r = ipam_k8s__parse_pods(json, len, k->opts.max_input, k->seed, &p);
	if (r < 0)
		return r;
	p->listed_at = listed_at;
	pthread_rwlock_wrlock(&k->lock);
	old = k->pods;
	k->pods = p;
	pthread_rwlock_unlock(&k->lock);
	ipam_k8s__pods_free(old);
	return (int)(p->names.n < INT_MAX ? p->names.n : INT_MAX);
}

int ipam_k8s_oracle_load_nodes(ipam_gc_oracle *o, const char *json, size_t len)
{
	k8s_oracle *k = ipam_k8s__oracle(o);
	k8s_nodes *n = NULL, *old;
	int r;

	if (!k)
		return ipam_k8s__fail(-EINVAL, "oracle", NULL, "not a k8s oracle");
	r = ipam_k8s__parse_nodes(json, len, k->opts.max_input, k->seed, &n);
	if (r < 0)
		return r;
	pthread_rwlock_wrlock(&k->lock);
	old = k->nodes;
	k->nodes = n;
	pthread_rwlock_unlock(&k->lock);
	ipam_k8s__nodes_free(old);
	return (int)(n->names.n < INT_MAX ? n->names.n : INT_MAX);
}

/* The whole file, at most max bytes (more: -E2BIG). Works on pipes too. */
static int read_file(const char *path, size_t max, char **out, size_t *len)
{
	size_t cap = 0, n = 0, hint = 65536;
	char *buf = NULL;
	struct stat st;
	int fd, r = 0;

	if (!path)
		return ipam_k8s__fail(-EINVAL, "path", NULL, "NULL");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ipam_k8s__fail(-errno, "path", path, "cannot open: %s", strerror(errno));
	/* A regular file is read in one go: room for all of it and one byte
	 * more, to see the end (or that it grew past the limit). */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 0)
		hint = (uint64_t)st.st_size < max ? (size_t)st.st_size + 1 : max + 1;
	for (;;) {
		ssize_t got;

		if (n == cap) {
			size_t ncap = cap ? cap * 2 : hint;
			char *b;

			if (ncap > max + 1)
				ncap = max + 1;
			if (ncap <= n) {
				r = ipam_k8s__fail(-E2BIG, "path", path,
						   "over the limit of %zu bytes", max);
				break;
			}
			b = realloc(buf, ncap);
			if (!b) {
				r = ipam_k8s__fail(-ENOMEM, "path", path, NULL);
				break;
			}
			buf = b;
			cap = ncap;
		}
		got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = ipam_k8s__fail(-errno, "path", path, "cannot read: %s", strerror(errno));
			break;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	close(fd);
	if (r < 0) {
		free(buf);
		return r;
	}
	*out = buf;
	*len = n;
	return 0;
}

int ipam_k8s_oracle_load_pods_file(ipam_gc_oracle *o, const char *path)
{
	k8s_oracle *k = ipam_k8s__oracle(o);
	char *buf = NULL;
	size_t len = 0;
	int r;

	if (!k)
		return ipam_k8s__fail(-EINVAL, "oracle", NULL, "not a k8s oracle");
	if ((r = read_file(path, k->opts.max_input, &buf, &len)) < 0)
		return r;
	r = ipam_k8s_oracle_load_pods(o, buf ? buf : "", len);
	free(buf);
	return r;
}

int ipam_k8s_oracle_load_nodes_file(ipam_gc_oracle *o, const char *path)
{
	k8s_oracle *k = ipam_k8s__oracle(o);
	char *buf = NULL;
	size_t len = 0;
	int r;

	if (!k)
		return ipam_k8s__fail(-EINVAL, "oracle", NULL, "not a k8s oracle");
	if ((r = read_file(path, k->opts.max_input, &buf, &len)) < 0)
		return r;
	r = ipam_k8s_oracle_load_nodes(o, buf ? buf : "", len);
	free(buf);
	return r;
}

int ipam_k8s_oracle_set_listed_at(ipam_gc_oracle *o, int64_t t)
{
	k8s_oracle *k = ipam_k8s__oracle(o);
	int r = 0;

	if (!k || t < 0)
		return ipam_k8s__fail(-EINVAL, "listed_at", NULL,
				      "not a k8s oracle, or a negative time");
	pthread_rwlock_wrlock(&k->lock);
	if (k->pods)
		k->pods->listed_at = t;
	else
		r = -ENOENT;
	pthread_rwlock_unlock(&k->lock);
	return r < 0 ? ipam_k8s__fail(r, "listed_at", NULL, "no pod list loaded") : 0;
}

int ipam_k8s_oracle_stats(const ipam_gc_oracle *o, ipam_k8s_stats *out)
{
	k8s_oracle *k = ipam_k8s__oracle(o);

	if (!k || !out || out->size != sizeof(*out))
		return ipam_k8s__fail(-EINVAL, "stats", NULL,
				      "not a k8s oracle, or size is not sizeof(ipam_k8s_stats)");
	memset(out, 0, sizeof(*out));
	out->size = sizeof(*out);
	pthread_rwlock_rdlock(&k->lock);
	if (k->pods) {
		out->pods_loaded = 1;
		out->pods = k->pods->names.n;
		out->pods_skipped = k->pods->skipped;
		out->listed_at = k->pods->listed_at;
	}
	if (k->nodes) {
		out->nodes_loaded = 1;
		out->nodes = k->nodes->names.n;
		out->nodes_skipped = k->nodes->skipped;
		out->nodes_not_ready = k->nodes->not_ready;
	}
	pthread_rwlock_unlock(&k->lock);
	return 0;
}
