/* SPDX-License-Identifier: MIT */
/*
 * The cni:PATH back end: the runtime execs a CNI IPAM plugin once per ADD
 * and DEL, as containerd or CRI-O do, with a host-local style network
 * configuration whose range sets hold exactly the benchmark's pools
 * (10.0.0.1 .. and fd00:c4a0::1 .., the gateways outside them), dataDir in
 * a temporary directory of this back end, the pod named in CNI_ARGS and the
 * sandbox id as CNI_CONTAINERID.
 *
 * VERSION decides the rest: a plugin listing 1.1.0 gets cniVersion 1.1.0
 * and the API-server stand-in's GC execs its GC verb with every existing
 * pod's current sandbox in cni.dev/valid-attachments; any other gets 1.0.0
 * and no GC (host-local: an address whose DEL never comes is lost). A GC
 * exec takes a write lock that every ADD and DEL exec takes for reading, so
 * the list it sends is never older than a commit it could undo.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "churn.h"

extern char **environ;

struct cni_backend {
	const struct config *c;
	char plugin[512], pathdir[512], type[64];
	char datadir[128];
	int has_gc;
	const char *version;
	char *body; /* "name", "type", "ipam" members, without braces */
	pthread_rwlock_t gc_lock;
	ipam_store *chk_st;
	ipam_ctx *chk_ctx;
	int chk_failed; /* the definition could not be read: stop trying */
	pthread_mutex_t chk_mu;
};

static _Thread_local char last_err[512];

const char *cni_last_error(void)
{
	return last_err;
}

static void set_err(const char *what, const char *out)
{
	size_t n = strlen(out);
	while (n && (out[n - 1] == '\n' || out[n - 1] == ' '))
		n--;
	snprintf(last_err, sizeof(last_err), "%s: %.*s", what, (int)(n > 400 ? 400 : n), out);
}

/* ---- one exec --------------------------------------------------------------------- */

/* Run the plugin: env as a runtime sets it, in on stdin, stdout into out
 * (NUL-terminated, truncated). Returns the exit status, or -1. */
static int run_plugin(struct cni_backend *b, const char *cmd, const char *cid, const char *cargs,
		      const char *in, size_t inlen, char *out, size_t outsize)
{
	char e_cmd[64], e_cid[160], e_netns[200], e_args[400], e_path[600];
	char *envp[] = { e_cmd, e_cid, e_netns, e_args, e_path, (char *)"CNI_IFNAME=eth0",
			 (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	char *argv[] = { b->plugin, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t sa;
	sigset_t none, pipe_only;
	int inp[2], outp[2], st = 0, r;
	size_t have = 0, off = 0;
	pid_t pid;

	snprintf(e_cmd, sizeof(e_cmd), "CNI_COMMAND=%s", cmd);
	snprintf(e_cid, sizeof(e_cid), "CNI_CONTAINERID=%s", cid);
	snprintf(e_netns, sizeof(e_netns), "CNI_NETNS=/var/run/netns/%s", cid);
	snprintf(e_args, sizeof(e_args), "CNI_ARGS=%s", cargs);
	snprintf(e_path, sizeof(e_path), "CNI_PATH=%s", b->pathdir);
	if (pipe2(inp, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(outp, O_CLOEXEC) < 0) {
		close(inp[0]);
		close(inp[1]);
		return -1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, inp[0], 0);
	posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	posix_spawnattr_init(&sa);
	sigemptyset(&none);
	sigemptyset(&pipe_only);
	sigaddset(&pipe_only, SIGPIPE);
	posix_spawnattr_setsigmask(&sa, &none);
	posix_spawnattr_setsigdefault(&sa, &pipe_only);
	posix_spawnattr_setflags(&sa, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	r = posix_spawn(&pid, b->plugin, &fa, &sa, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&sa);
	close(inp[0]);
	close(outp[1]);
	if (r != 0) {
		close(inp[1]);
		close(outp[0]);
		snprintf(last_err, sizeof(last_err), "exec %.300s: %s", b->plugin, strerror(r));
		return -1;
	}
	while (off < inlen) { /* SIGPIPE is ignored: a plugin that stops reading -> EPIPE */
		ssize_t w = write(inp[1], in + off, inlen - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	close(inp[1]);
	for (;;) {
		char sink[512];
		ssize_t n = have + 1 < outsize ? read(outp[0], out + have, outsize - 1 - have)
					       : read(outp[0], sink, sizeof(sink));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (have + 1 < outsize)
			have += (size_t)n;
	}
	out[have] = '\0';
	close(outp[0]);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* ---- configuration ------------------------------------------------------------------ */

static int build_body(struct cni_backend *b)
{
	static const char *const subnet[2] = { "10.0.0.0/8", "fd00:c4a0::/64" };
	static const char *const gw[2] = { "10.255.255.254", "fd00:c4a0::ffff:ffff:ffff:fffe" };
	char ranges[512] = "", store[128] = "";
	size_t len;

	for (unsigned f = 0; f < (b->c->dual ? 2u : 1u); f++) {
		ipam_addr first, last;
		char s[IPAM_ADDR_STRLEN], e[IPAM_ADDR_STRLEN];
		pool_first(f, &first);
		if (ipam_addr_add(&first, ipam_u128_make(0, b->c->pool_size - 1), &last) < 0)
			return -1;
		ipam_addr_format(&first, s, sizeof(s));
		ipam_addr_format(&last, e, sizeof(e));
		len = strlen(ranges);
		snprintf(ranges + len, sizeof(ranges) - len,
			 "%s[{\"subnet\":\"%s\",\"rangeStart\":\"%s\",\"rangeEnd\":\"%s\",\"gateway\":\"%s\"}]",
			 f ? "," : "", subnet[f], s, e, gw[f]);
	}
	/* The same configuration for every plugin unless asked otherwise:
	 * ipam-cni's default durability is fsync, the benchmark's too. */
	if (b->has_gc && b->c->durability != IPAM_DURABILITY_FSYNC)
		snprintf(store, sizeof(store), ",\"store\":{\"type\":\"file\",\"durability\":\"%s\"}",
			 b->c->durability == IPAM_DURABILITY_GROUP ? "group" : "none");
	len = strlen(ranges) + strlen(store) + strlen(b->datadir) + 256;
	b->body = malloc(len);
	if (!b->body)
		return -1;
	snprintf(b->body, len,
		 "\"name\":\"" CHURN_SET "\",\"type\":\"macvlan\",\"ipam\":{\"type\":\"%s\","
		 "\"ranges\":[%s],\"dataDir\":\"%s\"%s}",
		 b->type, ranges, b->datadir, store);
	return 0;
}

int cni_open(struct cni_backend **out, const struct config *c, const char *plugin, char *why,
	     size_t size)
{
	struct cni_backend *b = calloc(1, sizeof(*b));
	static const char probe[] = "{\"cniVersion\":\"1.0.0\"}";
	const char *t = getenv("TMPDIR"), *slash;
	char outbuf[1024];
	int st;

	*out = NULL;
	if (!b) {
		snprintf(why, size, "out of memory");
		return -1;
	}
	b->c = c;
	{
		/* Writer first: a GC pass waits for the ADDs and DELs running,
		 * and new ones wait for it. With glibc's default (readers
		 * first), workers retrying ADDs on an exhausted pool kept the
		 * lock read-held without a gap, and the GC that would free the
		 * pool ran twice in 20 s (churn-smoke-cni, ASan build on a
		 * loaded machine). */
		pthread_rwlockattr_t ra;
		pthread_rwlockattr_init(&ra);
		pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&b->gc_lock, &ra);
		pthread_rwlockattr_destroy(&ra);
	}
	pthread_mutex_init(&b->chk_mu, NULL);
	snprintf(b->plugin, sizeof(b->plugin), "%s", plugin);
	slash = strrchr(plugin, '/');
	snprintf(b->pathdir, sizeof(b->pathdir), "%.*s", slash ? (int)(slash - plugin) : 1,
		 slash ? plugin : ".");
	snprintf(b->type, sizeof(b->type), "%s", slash ? slash + 1 : plugin);
	signal(SIGPIPE, SIG_IGN);
	if (access(plugin, X_OK) != 0) {
		snprintf(why, size, "cni: %.200s: %s", plugin, strerror(errno));
		cni_close(b);
		return -1;
	}
	st = run_plugin(b, "VERSION", "probe", "", probe, sizeof(probe) - 1, outbuf, sizeof(outbuf));
	if (st != 0 || !strstr(outbuf, "supportedVersions")) {
		snprintf(why, size, "cni: %.200s VERSION failed (status %d): %.200s", plugin, st,
			 outbuf);
		cni_close(b);
		return -1;
	}
	b->has_gc = strstr(outbuf, "\"1.1.0\"") != NULL;
	b->version = b->has_gc ? "1.1.0" : "1.0.0";
	snprintf(b->datadir, sizeof(b->datadir), "%s/ipam-churn-cni-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(b->datadir)) {
		snprintf(why, size, "cni: mkdtemp: %s", strerror(errno));
		b->datadir[0] = '\0';
		cni_close(b);
		return -1;
	}
	if (build_body(b) < 0) {
		snprintf(why, size, "cni: cannot build the configuration");
		cni_close(b);
		return -1;
	}
	*out = b;
	return 0;
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void cni_close(struct cni_backend *b)
{
	if (!b)
		return;
	ipam_ctx_free(b->chk_ctx);
	ipam_store_free(b->chk_st);
	if (b->datadir[0])
		nftw(b->datadir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	pthread_rwlock_destroy(&b->gc_lock);
	pthread_mutex_destroy(&b->chk_mu);
	free(b->body);
	free(b);
}

int cni_has_gc(const struct cni_backend *b)
{
	return b->has_gc;
}

const char *cni_datadir(const struct cni_backend *b)
{
	return b->datadir;
}

const char *cni_version(const struct cni_backend *b)
{
	return b->version;
}

/* ---- verbs ------------------------------------------------------------------------- */

static char *make_conf(const struct cni_backend *b, const char *extra, size_t *len)
{
	size_t n = strlen(b->body) + strlen(extra) + 64;
	char *s = malloc(n);
	if (!s)
		return NULL;
	*len = (size_t)snprintf(s, n, "{\"cniVersion\":\"%s\",%s%s}", b->version, b->body, extra);
	return s;
}

/* The value of "code" in an error result, or 0. */
static long error_code(const char *out)
{
	const char *p = strstr(out, "\"code\"");
	if (!p)
		return 0;
	p += 6;
	while (*p == ' ' || *p == ':' || *p == '\t' || *p == '\n')
		p++;
	return strtol(p, NULL, 10);
}

static int failure(const char *verb, int st, const char *out)
{
	long code = error_code(out);
	char what[64];
	snprintf(what, sizeof(what), "%s exit %d code %ld", verb, st, code);
	set_err(what, out);
	if (code == 11)
		return -EAGAIN;
	/* ipam-cni: 100; host-local: a generic error naming the range set. */
	if (code == 100 || strstr(out, "no IP addresses available") || strstr(out, "no free address"))
		return -ENOSPC;
	return st < 0 ? -EIO : -EPROTO;
}

static void cni_args(const struct cni_backend *b, unsigned slot, unsigned gen, char *buf,
		     size_t size)
{
	char owner[64], uid[64];
	pod_owner(slot, gen, owner, sizeof(owner));
	pod_uid(b->c, slot, gen, uid, sizeof(uid));
	snprintf(buf, size, "IgnoreUnknown=1;K8S_POD_NAMESPACE=" CHURN_NS ";K8S_POD_NAME=%s;"
		 "K8S_POD_UID=%s", strchr(owner, '/') + 1, uid);
}

/* ADD or DEL of pod `slot` (sandbox gen/inc) by one exec of the plugin;
 * its output in res. The plugin's exit status, or -ENOMEM. */
static int pod_verb(struct cni_backend *b, const char *verb, unsigned slot, unsigned gen,
		    unsigned inc, char *res, size_t res_size)
{
	char sb[96], args[256];
	size_t len;
	char *conf = make_conf(b, "", &len);
	int st;

	if (!conf)
		return -ENOMEM;
	pod_sandbox(b->c, slot, gen, inc, sb, sizeof(sb));
	cni_args(b, slot, gen, args, sizeof(args));
	pthread_rwlock_rdlock(&b->gc_lock);
	st = run_plugin(b, verb, sb, args, conf, len, res, res_size);
	pthread_rwlock_unlock(&b->gc_lock);
	free(conf);
	return st;
}

int cni_add(struct cni_backend *b, unsigned slot, unsigned gen, unsigned inc, ipam_addr out[2],
	    unsigned *n)
{
	char res[8192];
	const char *p;
	int st = pod_verb(b, "ADD", slot, gen, inc, res, sizeof(res));

	if (st == -ENOMEM)
		return st;
	if (st != 0)
		return failure("ADD", st, res);
	/* Each ips[] entry's "address": "A/len", one per range set. */
	*n = 0;
	for (p = strstr(res, "\"address\""); p; p = strstr(p, "\"address\"")) {
		char abuf[IPAM_ADDR_STRLEN + 8];
		ipam_addr a;
		size_t k = 0;
		p += 9;
		while (*p == ' ' || *p == ':' || *p == '\t' || *p == '\n')
			p++;
		if (*p++ != '"')
			break;
		while (*p && *p != '/' && *p != '"' && k + 1 < sizeof(abuf))
			abuf[k++] = *p++;
		abuf[k] = '\0';
		if (ipam_addr_parse(abuf, &a) < 0 || *n == 2) {
			set_err("ADD: unexpected result", res);
			return -EPROTO;
		}
		out[(*n)++] = a;
	}
	if (*n == 2 && out[0].family != out[1].family) {
		ipam_addr first;
		pool_first(0, &first);
		if (out[0].family != first.family) { /* v4 first */
			ipam_addr t = out[0];
			out[0] = out[1];
			out[1] = t;
		}
	}
	return 0;
}

int cni_del(struct cni_backend *b, unsigned slot, unsigned gen, unsigned inc)
{
	char res[4096];
	int st = pod_verb(b, "DEL", slot, gen, inc, res, sizeof(res));

	if (st == -ENOMEM)
		return st;
	return st == 0 ? 0 : failure("DEL", st, res);
}

/* Addresses bound in the plugin's store (read through the library), or -1. */
static int64_t bound(struct cni_backend *b)
{
	ipam_ctx *ctx = cni_check_ctx(b);
	int64_t n = 0;
	for (unsigned f = 0; ctx && f < (b->c->dual ? 2u : 1u); f++) {
		ipam_pool_stats st;
		if (ipam_pool_stats_get(ctx, CHURN_SET, cni_pool_name(b, f), &st) < 0)
			return -1;
		n += (int64_t)st.used.lo;
	}
	return ctx ? n : -1;
}

int cni_gc(struct cni_backend *b, struct arena *a)
{
	int64_t before, after;
	static const char head[] = ",\"cni.dev/valid-attachments\":[";
	size_t cap = sizeof(head) + (size_t)a->npods * 140 + 8, len = 0, clen;
	char *list, *conf, res[4096];
	int st;

	if (!b->has_gc)
		return 1;
	list = malloc(cap);
	if (!list)
		return -ENOMEM;
	len = (size_t)snprintf(list, cap, "%s", head);
	pthread_rwlock_wrlock(&b->gc_lock);
	arena_lock(a);
	for (unsigned i = 0; i < a->npods; i++) {
		const struct pod *p = &a->pods[i];
		char sb[96];
		if (p->state == POD_NONE)
			continue;
		pod_sandbox(b->c, i, p->gen, p->inc, sb, sizeof(sb));
		len += (size_t)snprintf(list + len, cap - len, "%s{\"containerID\":\"%s\",\"ifname\":\"eth0\"}",
					list[len - 1] == '[' ? "" : ",", sb);
	}
	arena_unlock(a);
	snprintf(list + len, cap - len, "]");
	conf = make_conf(b, list, &clen);
	free(list);
	if (!conf) {
		pthread_rwlock_unlock(&b->gc_lock);
		return -ENOMEM;
	}
	/* No ADD or DEL runs meanwhile: the difference is what GC released. */
	before = bound(b);
	st = run_plugin(b, "GC", "gc", "", conf, clen, res, sizeof(res));
	after = st == 0 && before >= 0 ? bound(b) : -1;
	if (after >= 0 && before > after)
		atomic_fetch_add(&a->reclaims, (uint64_t)(before - after));
	pthread_rwlock_unlock(&b->gc_lock);
	free(conf);
	return st == 0 ? 0 : failure("GC", st, res);
}

/* ---- the store, for the invariants ---------------------------------------------------- */

ipam_ctx *cni_check_ctx(struct cni_backend *b)
{
	char why[256];
	ipam_ctx *ctx;
	int r;
	if (!b->has_gc)
		return NULL;
	pthread_mutex_lock(&b->chk_mu);
	if (!b->chk_ctx && !b->chk_failed) {
		r = cni_store_open(b->datadir, CHURN_SET, &b->chk_st, &b->chk_ctx, why, sizeof(why));
		if (r < 0) {
			fprintf(stderr, "ipam-churn: %s; checking the ADD results only\n", why);
			b->chk_failed = 1;
		}
	}
	ctx = b->chk_ctx;
	pthread_mutex_unlock(&b->chk_mu);
	return ctx;
}

int cni_leftover(const struct cni_backend *b)
{
	char dir[200];
	struct dirent *e;
	DIR *d;
	int n = 0;
	snprintf(dir, sizeof(dir), "%s/" CHURN_SET, b->datadir);
	if (!(d = opendir(dir)))
		return -1;
	while ((e = readdir(d))) {
		ipam_addr a;
		n += ipam_addr_parse(e->d_name, &a) == 0;
	}
	closedir(d);
	return n;
}

const char *cni_pool_name(const struct cni_backend *b, unsigned f)
{
	(void)b;
	return f ? "rs1" : "rs0"; /* ipam-cni: range set G is pool rs<G> */
}

#ifndef CHURN_HAVE_FRONTEND
/* Without jansson the plugin's definition cannot be read. */
int cni_store_open(const char *dir, const char *name, ipam_store **st, ipam_ctx **ctx, char *why,
		   size_t size)
{
	(void)dir;
	(void)name;
	(void)why;
	(void)size;
	*st = NULL;
	*ctx = NULL;
	return 1;
}
#endif
