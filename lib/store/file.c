/* SPDX-License-Identifier: MIT */
/*
 * The file store: one node, many processes.
 *
 * Workload: a CNI plugin is a fresh process per ADD or DEL, many run at
 * once, each makes one or two commits and exits; a daemon makes many. So
 * opening must be cheap (one read of a compact binary snapshot plus the log
 * tail), and a commit costs one append and one fdatasync, independent of
 * the number of leases.
 *
 * Per pool set NAME in the directory: NAME.lock (flock()ed, never replaced),
 * NAME.snap (snapshot, replaced by rename) and NAME.log (append-only log of
 * commits, replaced by rename on compaction). Every process keeps a view of
 * the set and the offset of the log it has applied; a commit takes the lock
 * exclusively, applies what others appended since, checks its
 * preconditions, appends, syncs, applies, unlocks. The decision was made
 * before, without the lock. See docs/file-format.md for the format and what
 * each durability mode survives.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hash.h"
#include "lease/view.h"
#include "store/file_format.h"

#define MAX_SETS 64
#define DEFAULT_COMPACT (4u << 20)
#define FNAME_MAX (IPAM_NAME_MAX + 16) /* NAME.snap.tmp and NUL */

/* Test-only: the name of a step at which the process _exit()s, to
 * simulate a crash there (tests/test_file_crash.c). */
const char *ipam__file_fault;

static void fault_point(const char *step)
{
	if (ipam__file_fault && strcmp(ipam__file_fault, step) == 0)
		_exit(86);
}

struct fset {
	ipam_view *view;
	char name[IPAM_NAME_MAX + 1];
	int lock_fd, log_fd;
	dev_t log_dev;
	ino_t log_ino;
	uint64_t applied; /* bytes of the log reflected in the view */
	uint64_t snap_bytes; /* size of the snapshot last loaded or written */
	int broken;       /* an I/O failure left the log in doubt: reopen */
	int whole;        /* load every record whatever the scope (a compaction needed them) */
	pthread_mutex_t mu;
};

struct filestore {
	ipam_store base;
	int dirfd;
	ipam_file_store_options opt;
	pthread_mutex_t lock;
	struct fset *sets[MAX_SETS];
	unsigned nsets;
	int scoped;               /* opened with a scope (ipam_file_store_scope) */
	struct ipam__scope scope; /* its keys, copied */
	char *scope_mem;          /* owner and attachment strings */
	size_t scope_mem_len;
	ipam_addr *scope_addrs;
};

IPAM_EXPORT void ipam_file_store_options_init(ipam_file_store_options *o)
{
	if (!o)
		return;
	memset(o, 0, sizeof(*o));
	o->size = sizeof(*o);
	o->durability = IPAM_DURABILITY_FSYNC;
	o->compact_bytes = DEFAULT_COMPACT;
}

static void note(struct filestore *fs, int level, const char *fmt, ...) IPAM_PRINTF(3, 4);
static void note(struct filestore *fs, int level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!fs->opt.log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fs->opt.log(fs->opt.log_ud, level, msg);
}

static int errno_fail(int err, const char *what, const char *file)
{
	return ipam__fail(ipam__errno_code(err), "file", file, "%s: %s", what, strerror(err));
}

/* ---- small file helpers ----------------------------------------------------------- */

static int open_at(struct filestore *fs, const char *set, const char *suffix, int flags,
		   char *path_out, size_t path_size)
{
	char path[FNAME_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s.%s", set, suffix);
	if (path_out)
		snprintf(path_out, path_size, "%s", path);
	fd = openat(fs->dirfd, path, flags | O_NOFOLLOW | O_CLOEXEC, 0600);
	return fd < 0 ? -errno : fd;
}

/* [from, EOF) of a file, read into a buffer or, when large, mapped: a
 * snapshot is never written in place (a compaction renames a new one over
 * it) and the log changes only under the exclusive lock every caller
 * holds, so a mapping cannot lose its pages under us. Mapping saves the
 * copy and the fresh pages a buffer would need: a one-shot CNI process
 * pays a page fault for each. */
struct image {
	uint8_t *p;
	size_t len;
	void *map; /* NULL: p is a buffer from ipam__alloc() */
	size_t map_len;
};

#define MAP_MIN (32u << 10)

static int image_get(int fd, uint64_t from, struct image *img)
{
	struct stat st;
	uint8_t *buf;
	size_t n, got = 0;

	memset(img, 0, sizeof(*img));
	if (fstat(fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size <= from)
		return 0;
	n = (size_t)((uint64_t)st.st_size - from);
	if (n >= MAP_MIN) {
		long pg = sysconf(_SC_PAGESIZE);
		uint64_t base = pg > 0 ? from & ~(uint64_t)(pg - 1) : 0;
		size_t ml = (size_t)((uint64_t)st.st_size - base);
		void *m = mmap(NULL, ml, PROT_READ, MAP_PRIVATE, fd, (off_t)base);
		if (m != MAP_FAILED) {
			img->map = m;
			img->map_len = ml;
			img->p = (uint8_t *)m + (from - base);
			img->len = n;
			return 0;
		}
		/* fall back to reading (a file system without mmap) */
	}
	buf = ipam__alloc(n);
	if (!buf)
		return -ENOMEM;
	while (got < n) {
		ssize_t r = pread(fd, buf + got, n - got, (off_t)(from + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			ipam__release(buf, n);
			return r < 0 ? -errno : -EIO;
		}
		got += (size_t)r;
	}
	img->p = buf;
	img->len = n;
	return 0;
}

static void image_put(struct image *img)
{
	if (img->map)
		munmap(img->map, img->map_len);
	else
		ipam__release(img->p, img->len);
	memset(img, 0, sizeof(*img));
}

static int write_all(int fd, const uint8_t *p, size_t n, uint64_t off)
{
	while (n) {
		ssize_t r = pwrite(fd, p, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		p += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

static int sync_fd(struct filestore *fs, int fd)
{
	if (fs->opt.durability == IPAM_DURABILITY_NONE)
		return 0;
	return fdatasync(fd) < 0 ? -errno : 0;
}

static int sync_dir(struct filestore *fs)
{
	if (fs->opt.durability == IPAM_DURABILITY_NONE)
		return 0;
	return fsync(fs->dirfd) < 0 ? -errno : 0;
}

static int lock_file(struct fset *s, int how)
{
	while (flock(s->lock_fd, how) < 0) {
		if (errno != EINTR)
			return errno_fail(errno, "flock", s->name);
	}
	return 0;
}

/* ---- applying files to a view --------------------------------------------------------- */

struct load_ctx {
	ipam_view *view;
	const char *file;
	uint64_t snap_rev;
	uint64_t count;
	int last_index;
	struct ipam__view_loader *ld; /* snapshot leases go through it */
	const struct ipam__scope *scope; /* a partial load: leases outside it are ghosts */
	int names_ready;
#define LC_NAMES 8
	const char *names[LC_NAMES]; /* pool names of the set, for pool_by_name() */
	size_t name_len[LC_NAMES];
};

/* Replay a decoded commit (the caller holds the write lock). */
static int apply_ops(ipam_view *v, ipam_op *ops, unsigned nops, int64_t now_ms, uint64_t rev,
		     unsigned flags)
{
	ipam_txn txn;
	unsigned n = 0;

	/* Pools are named in the file; the view numbers them. An op in a pool
	 * the set no longer defines is set aside (ipam__view_strand_gone()):
	 * the replay fails at its end if a lease is still held there. */
	for (unsigned i = 0; i < nops; i++) {
		int pi = ipam__view_pool_index(v, ops[i].lease.pool);
		if (pi < 0) {
			const ipam_lease *l = &ops[i].lease;
			int e = ipam__view_strand_gone(v, l->pool, strlen(l->pool), &l->addr,
						       ops[i].kind == IPAM_OP_PUT ? (unsigned)l->state : 0,
						       l->owner, strlen(l->owner));
			if (e < 0)
				return e;
			continue;
		}
		if (n != i)
			ops[n] = ops[i];
		ops[n].pool = (unsigned)pi;
		ops[n++].flags |= flags;
	}
	memset(&txn, 0, sizeof(txn));
	txn.ops = ops;
	txn.nops = n;
	txn.now_ms = now_ms;
	return ipam__view_apply_decoded(v, &txn, rev);
}

/* Index of a pool named by a counted string, or -1. The names and
 * lengths of the first pools are kept in lc (one strlen per load). */
static int pool_by_name(struct load_ctx *lc, const char *name, size_t len)
{
	const ipam_view *v = lc->view;

	if (!lc->names_ready) {
		for (unsigned i = 0; i < v->npools && i < LC_NAMES; i++) {
			lc->names[i] = ipam_pool_name(v->pools[i].pool);
			lc->name_len[i] = strlen(lc->names[i]);
		}
		lc->names_ready = 1;
	}
	for (unsigned i = 0; i < v->npools; i++) {
		const char *n = i < LC_NAMES ? lc->names[i] : ipam_pool_name(v->pools[i].pool);
		size_t nl = i < LC_NAMES ? lc->name_len[i] : strlen(n), k = 0;
		if (nl != len || (len && n[len - 1] != name[len - 1]))
			continue; /* "v4" / "v6": the last byte differs */
		while (k < len && n[k] == name[k]) /* short names: no call */
			k++;
		if (k == len)
			return (int)i;
	}
	return -1;
}

static int on_lease(void *ud, const struct ipam__lease_ref *l)
{
	struct load_ctx *lc = ud;

	lc->count++;
	/* The pool by name, without a copy (a dual-stack snapshot
	 * alternates between two pools). */
	lc->last_index = pool_by_name(lc, l->pool, l->pool_len);
	if (lc->last_index < 0) /* set aside: the log may release it (apply_ops) */
		return ipam__view_strand_gone(lc->view, l->pool, l->pool_len, &l->addr, l->state,
					      l->owner, l->owner_len);
	/* The whole snapshot loads under one write lock (see load_all). A
	 * partial load makes few records: no pipeline, so that a ghost and a
	 * record stay in file order (one finds the other's address taken). */
	if (lc->scope) {
		int e;
		if ((e = ipam__ff_lease_ref_check(l)) < 0) /* the parse was lazy */
			return e;
		return ipam__view_load_ref(lc->view, l, (unsigned)lc->last_index, lc->snap_rev);
	}
	return ipam__view_loader_add(lc->ld, l, (unsigned)lc->last_index);
}

/* A partial load, a lease read up to its attachment: outside the scope it
 * is a ghost (1: done, the rest of the record unread); else 0 and on_lease
 * gets it whole. */
static int on_lease_skip(void *ud, const struct ipam__lease_ref *l)
{
	struct load_ctx *lc = ud;
	int pool, e;

	if (ipam__scope_wants(lc->scope, l))
		return 0;
	pool = pool_by_name(lc, l->pool, l->pool_len);
	if (pool < 0)
		return 0; /* on_lease reports it */
	lc->count++;
	e = ipam__view_load_ghost(lc->view, l, (unsigned)pool, lc->snap_rev);
	return e < 0 ? e : 1;
}

static int on_end(void *ud, uint64_t count, uint64_t rev)
{
	struct load_ctx *lc = ud;
	int r = ipam__view_loader_flush(lc->ld);

	if (r < 0)
		return r;
	if (count != lc->count || rev != lc->snap_rev)
		return ipam__fail(-EBADMSG, "file", lc->file,
				  "snapshot end record says %llu leases at revision %llu, found %llu at %llu",
				  (unsigned long long)count, (unsigned long long)rev,
				  (unsigned long long)lc->count, (unsigned long long)lc->snap_rev);
	return 0;
}

static int on_commit(void *ud, uint64_t rev, int64_t now_ms, ipam_op *ops, unsigned nops)
{
	struct load_ctx *lc = ud;

	if (rev <= ipam_view_revision(lc->view))
		return 0; /* already in the snapshot (a crash during compaction) */
	/* Records carry their generation (the commit's revision, or the one
	 * a KEEP_GENERATION change set gave them): keep it. */
	return apply_ops(lc->view, ops, nops, now_ms, rev, IPAM_OP_F_KEEP_GENERATION);
}

/* Whether the log holds records past s->applied: its size says so only
 * without a reserved tail (zeros kept after the last record for the next
 * ones, docs/file-format.md), so look at the length word there. A read
 * error answers yes: catch_up() reports it. */
static int log_has_more(const struct fset *s, uint64_t size)
{
	uint8_t w[4] = { 0 };
	ssize_t n;

	if (size <= s->applied)
		return 0;
	n = pread(s->log_fd, w, sizeof(w), (off_t)s->applied);
	return n <= 0 || (w[0] | w[1] | w[2] | w[3]) != 0;
}

/* After a parse into the view (write lock held): a held lease left that
 * the pool set no longer covers fails it (ipam__view_stranded()). A failed
 * parse leaves what was set aside to failed_load(). */
static int settle(ipam_view *v, int r)
{
	return r < 0 ? r : ipam__view_stranded(v);
}

/* Parse the log from s->applied to its end into the view. With `repair`
 * (exclusive lock held) a torn last record is cut off. */
static int catch_up_once(struct filestore *fs, struct fset *s, int repair)
{
	struct load_ctx lc = { s->view, NULL, 0, 0, -1, NULL, NULL, 0, { NULL }, { 0 } };
	struct ipam__ff_handler h = { &lc, NULL, NULL, NULL, NULL, on_commit, 0, NULL };
	struct ipam__ff_result res;
	char file[FNAME_MAX];
	struct image img;
	int r;

	snprintf(file, sizeof(file), "%s.log", s->name);
	lc.file = file;
	memset(&res, 0, sizeof(res));
	if (s->applied == 0) { /* a freshly opened log: header and all */
		r = image_get(s->log_fd, 0, &img);
		if (r < 0)
			return errno_fail(-r, "read", file);
		ipam_view_lock(s->view);
		/* Size the chains once for a log without a snapshot (after one,
		 * a log mostly replaces records: growing as needed is cheaper). */
		if (s->view->tab[IPAM__LINK_ADDR].count == 0)
			for (int k = 0; k < IPAM__NLINKS; k++)
				(void)ipam__view_reserve(s->view, k, img.len / 200);
		r = settle(s->view, ipam__ff_parse(img.p, img.len, IPAM__FF_LOG, &h, &res));
		ipam_view_unlock(s->view);
	} else { /* only what was appended since */
		r = image_get(s->log_fd, s->applied, &img);
		if (r < 0)
			return errno_fail(-r, "read", file);
		ipam_view_lock(s->view);
		r = settle(s->view,
			   ipam__ff_parse_records(img.p, img.len, IPAM__FF_LOG, s->applied, &h, &res));
		ipam_view_unlock(s->view);
		if (img.len == 0)
			res.good_end = s->applied;
	}
	image_put(&img);
	if (r < 0) {
		ipam_error_info e;
		ipam_last_error(&e);
		return ipam__fail(r, "file", file, "%s", e.message);
	}
	s->applied = res.good_end;
	if (res.torn && repair) {
		if (ftruncate(s->log_fd, (off_t)res.good_end) < 0)
			return errno_fail(errno, "truncate", file);
		note(fs, IPAM_LOG_WARNING, "%s: discarded an incomplete last record at offset %zu",
		     file, res.good_end);
	}
	return 0;
}

/* A failed catch-up or load may have applied part of the files (a replay
 * fails at its end when a lease is left that the set no longer covers,
 * after the view's revision moved past it): the set is marked for a whole
 * reload, so that a retry cannot skip what was applied and miss it, and
 * nothing set aside stays in the view. */
static int failed_load(struct fset *s, int r)
{
	if (r < 0) {
		ipam_view_lock(s->view);
		ipam__view_stranded_clear(s->view);
		ipam_view_unlock(s->view);
		s->broken = 1;
	}
	return r;
}

static int catch_up(struct filestore *fs, struct fset *s, int repair)
{
	return failed_load(s, catch_up_once(fs, s, repair));
}

static int open_log(struct filestore *fs, struct fset *s, uint64_t snap_rev)
{
	char file[FNAME_MAX];
	struct stat st;
	int fd = open_at(fs, s->name, "log", O_RDWR | O_CREAT, file, sizeof(file));

	if (fd < 0)
		return errno_fail(-fd, "open", file);
	if (fstat(fd, &st) < 0) {
		close(fd);
		return errno_fail(errno, "stat", file);
	}
	if (st.st_size == 0) { /* new: write its header */
		struct ipam__buf b = { 0 };
		int r;
		ipam__ff_header(&b, IPAM__FF_LOG, snap_rev);
		r = b.oom ? -ENOMEM : write_all(fd, b.p, b.len, 0);
		ipam__buf_fini(&b);
		if (r == 0)
			r = sync_fd(fs, fd);
		if (r == 0)
			r = sync_dir(fs); /* the new file's name is durable too */
		if (r < 0) {
			close(fd);
			return errno_fail(-r, "write", file);
		}
	}
	if (s->log_fd >= 0)
		close(s->log_fd);
	s->log_fd = fd;
	s->log_dev = st.st_dev;
	s->log_ino = st.st_ino;
	s->applied = 0;
	return 0;
}

/* The lease count of a snapshot image as its end record gives it, if that
 * record looks right, else a guess from the size: only to size tables, so
 * it is capped by what the image could hold (a lease record takes at
 * least 78 bytes). */
static uint64_t snap_count_hint(const uint8_t *p, size_t len)
{
	const size_t end = 4 + 4 + 16 + 8;
	uint64_t n = len / 160;

	if (len >= IPAM__FF_HEADER_SIZE + end) {
		const uint8_t *e = p + len - end;
		uint64_t sum = 0, count = 0;
		for (int i = 0; i < 8; i++) {
			sum |= (uint64_t)e[24 + i] << (8 * i);
			count |= (uint64_t)e[8 + i] << (8 * i);
		}
		if (e[0] == 20 && !(e[1] | e[2] | e[3]) && e[4] == IPAM__FF_END &&
		    !(e[5] | e[6] | e[7]) && sum == ipam__hash(e, 24, 0))
			n = count;
	}
	return n < len / 78 ? n : len / 78;
}

/* Everything from disk (exclusive lock held): snapshot, then log. */
static int load_all_once(struct filestore *fs, struct fset *s)
{
	char file[FNAME_MAX];
	struct ipam__view_loader ld;
	struct load_ctx lc = { s->view, file, 0, 0, -1, &ld, NULL, 0, { NULL }, { 0 } };
	struct ipam__ff_handler h = { &lc, NULL, NULL, on_end, on_lease, NULL, 0, on_lease_skip };
	struct ipam__ff_result res;
	struct image img = { 0 };
	int fd, r;

	if (fs->scoped && !s->whole)
		lc.scope = &fs->scope;
	h.lazy_refs = lc.scope != NULL; /* strings checked only of leases loaded */
	for (int i = 0; i < 2; i++) { /* leftovers of a compaction that crashed */
		char tmp[FNAME_MAX];
		snprintf(tmp, sizeof(tmp), "%s.%s.tmp", s->name, i ? "log" : "snap");
		if (unlinkat(fs->dirfd, tmp, 0) == 0)
			note(fs, IPAM_LOG_INFO, "removed %s left by an interrupted compaction", tmp);
	}
	fd = open_at(fs, s->name, "snap", O_RDONLY, file, sizeof(file));
	if (fd < 0 && fd != -ENOENT)
		return errno_fail(-fd, "open", file);
	/* The view is emptied under the same write lock that loads the
	 * snapshot: a reader never sees it empty in between. */
	if (fd < 0) {
		ipam_view_lock(s->view);
		r = ipam__view_reset(s->view);
		if (r == 0)
			s->view->scope = lc.scope;
		ipam_view_unlock(s->view);
		if (r < 0)
			return r;
	} else {
		r = image_get(fd, 0, &img);
		close(fd);
		if (r < 0)
			return errno_fail(-r, "read", file);
		s->snap_bytes = img.len;
		/* Peek at the header's revision so leases load at it. */
		r = ipam__ff_parse(img.p, img.len < IPAM__FF_HEADER_SIZE ? img.len : IPAM__FF_HEADER_SIZE,
				   IPAM__FF_SNAPSHOT, &(struct ipam__ff_handler){ 0 }, &res);
		if (r == 0) {
			lc.snap_rev = res.header_revision;
			/* Size the chains and the heap's chunk table once. */
			uint64_t n = snap_count_hint(img.p, img.len);
			ipam__view_loader_init(&ld, s->view, lc.snap_rev);
			ipam_view_lock(s->view);
			r = ipam__view_reset(s->view);
			if (r == 0) {
				s->view->scope = lc.scope;
				/* A hint: the records take about what their leases
				 * take in the file (strings as text, fixed fields).
				 * A partial load makes few records. */
				if (!lc.scope)
					(void)ipam__view_presize(s->view, (size_t)n, img.len);
				r = ipam__ff_parse(img.p, img.len, IPAM__FF_SNAPSHOT, &h, &res);
			}
			/* A lease after the end record (never written by
			 * this library) loads as one before it would. */
			if (r == 0)
				r = ipam__view_loader_flush(&ld);
			ipam__view_touch(s->view); /* whatever was loaded */
			ipam_view_unlock(s->view);
		}
		image_put(&img);
		if (r == 0 && (res.torn || !res.ended))
			r = ipam__fail(-EBADMSG, "file", file,
				       "incomplete: a snapshot must end with its end record");
		if (r < 0) {
			ipam_error_info e;
			ipam_last_error(&e);
			return ipam__fail(r, "file", file, "%s", e.message);
		}
		ipam_view_lock(s->view);
		if (ipam_view_revision(s->view) < lc.snap_rev)
			s->view->revision = lc.snap_rev;
		ipam_view_unlock(s->view);
	}
	r = open_log(fs, s, lc.snap_rev);
	if (r < 0)
		return r;
	return catch_up_once(fs, s, 1); /* load_all() handles a failure */
}

static int load_all(struct filestore *fs, struct fset *s)
{
	return failed_load(s, load_all_once(fs, s));
}

/* With the exclusive lock: make the view current, reloading if needed. */
static int make_current(struct filestore *fs, struct fset *s)
{
	struct stat st;

	/* One fstat answers both questions: replaced by a compaction in
	 * another process (renaming a new log over ours leaves our inode
	 * with no link) and anything appended since we last looked. */
	if (s->broken || fstat(s->log_fd, &st) < 0 || st.st_nlink == 0) {
		int r = load_all(fs, s);
		if (r == 0)
			s->broken = 0;
		return r;
	}
	if (!log_has_more(s, (uint64_t)st.st_size))
		return 0;
	return catch_up(fs, s, 1);
}

/* ---- compaction ------------------------------------------------------------------------ */

/* Write buf to NAME.SUFFIX.tmp, sync it, rename it over NAME.SUFFIX, sync
 * the directory. `step` names the fault points. */
static int replace_file(struct filestore *fs, struct fset *s, const char *suffix,
			const struct ipam__buf *b, const char *step)
{
	char tmp[FNAME_MAX], dst[FNAME_MAX], fp[48];
	int fd, r;

	snprintf(tmp, sizeof(tmp), "%s.%s.tmp", s->name, suffix);
	snprintf(dst, sizeof(dst), "%s.%s", s->name, suffix);
	fd = openat(fs->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno_fail(errno, "create", tmp);
	r = write_all(fd, b->p, b->len, 0);
	snprintf(fp, sizeof(fp), "compact-%s-written", step);
	fault_point(fp);
	if (r == 0 && fs->opt.durability != IPAM_DURABILITY_NONE && fsync(fd) < 0)
		r = -errno;
	close(fd);
	snprintf(fp, sizeof(fp), "compact-%s-synced", step);
	fault_point(fp);
	if (r == 0 && renameat(fs->dirfd, tmp, fs->dirfd, dst) < 0)
		r = -errno;
	snprintf(fp, sizeof(fp), "compact-%s-renamed", step);
	fault_point(fp);
	if (r == 0)
		r = sync_dir(fs);
	if (r < 0) {
		unlinkat(fs->dirfd, tmp, 0);
		return errno_fail(-r, "replace", dst);
	}
	return 0;
}

/* With the exclusive lock: a partial view (a scoped store) loads every
 * record before it can be written out, and stays whole from then on. */
static int whole_view(struct filestore *fs, struct fset *s)
{
	int r;

	if (!s->view->scope)
		return 0;
	s->whole = 1;
	r = load_all(fs, s);
	if (r < 0)
		s->broken = 1; /* reload at the next call */
	return r;
}

/* With the exclusive lock and a current view: snapshot everything, then
 * start an empty log that follows it. A crash at any point leaves either
 * the old snapshot with the whole log, or the new snapshot with a log whose
 * records it already holds (skipped by revision on load). */
static int compact(struct filestore *fs, struct fset *s)
{
	struct ipam__buf b = { 0 };
	ipam_view *v = s->view;
	uint64_t count = 0, rev;
	ipam_lease *l = ipam__alloc(sizeof(*l));
	int r;

	if (!l)
		return -ENOMEM;
	ipam__view_rdlock(v);
	rev = ipam_view_revision(v);
	ipam__ff_header(&b, IPAM__FF_SNAPSHOT, rev);
	for (size_t i = 0; i < v->tab[IPAM__LINK_ADDR].nb && !b.oom; i++) {
		for (const struct ipam__rec *x = ipam__chain_head(v, IPAM__LINK_ADDR, i); x;
		     x = ipam__rec_next(v, x, IPAM__LINK_ADDR)) {
			size_t start = ipam__ff_record_begin(&b, IPAM__FF_LEASE);
			ipam__rec_export(v, x, ipam_pool_name(v->pools[x->pool].pool), l);
			ipam__ff_put_lease(&b, l);
			ipam__ff_record_end(&b, start);
			count++;
		}
	}
	ipam__view_rdunlock(v);
	ipam__release(l, sizeof(*l));
	{
		size_t start = ipam__ff_record_begin(&b, IPAM__FF_END);
		ipam__ff_put_u64(&b, count);
		ipam__ff_put_u64(&b, rev);
		ipam__ff_record_end(&b, start);
	}
	if (b.oom) {
		ipam__buf_fini(&b);
		return ipam__fail_code(-ENOMEM);
	}
	r = replace_file(fs, s, "snap", &b, "snap");
	if (r == 0)
		s->snap_bytes = b.len;
	b.len = 0;
	if (r == 0) {
		ipam__ff_header(&b, IPAM__FF_LOG, rev);
		r = b.oom ? -ENOMEM : replace_file(fs, s, "log", &b, "log");
	}
	ipam__buf_fini(&b);
	if (r == 0) {
		r = open_log(fs, s, rev);
		if (r == 0)
			s->applied = IPAM__FF_HEADER_SIZE;
	}
	if (r < 0)
		s->broken = 1; /* reload from disk at the next call */
	return r;
}

/* ---- the store methods -------------------------------------------------------------- */

static struct fset *find_set(struct filestore *fs, const ipam_view *v)
{
	for (unsigned i = 0; i < fs->nsets; i++)
		if (fs->sets[i]->view == v)
			return fs->sets[i];
	return NULL;
}

static int encode_commit(struct ipam__buf *b, ipam_view *v, const ipam_txn *txn, uint64_t rev)
{
	size_t start = ipam__ff_record_begin(b, IPAM__FF_COMMIT);
	ipam_lease *l = ipam__alloc(sizeof(*l));

	if (!l)
		return -ENOMEM;
	ipam__ff_put_u64(b, rev);
	ipam__ff_put_u64(b, (uint64_t)txn->now_ms);
	ipam__ff_put_u32(b, txn->nops);
	for (unsigned i = 0; i < txn->nops; i++) {
		if (txn->ops[i].kind == IPAM_OP_DELETE) {
			/* A deletion names its address only: whatever else the
			 * caller left in the record is not written. */
			memset(l, 0, offsetof(ipam_lease, attrs));
			l->addr = txn->ops[i].lease.addr;
		} else {
			*l = txn->ops[i].lease;
		}
		/* The file names pools, so a reordered config still loads. */
		snprintf(l->pool, sizeof(l->pool), "%s", ipam_pool_name(v->pools[txn->ops[i].pool].pool));
		if (txn->ops[i].kind == IPAM_OP_PUT && !(txn->ops[i].flags & IPAM_OP_F_KEEP_GENERATION))
			l->generation = rev;
		ipam__ff_put_u8(b, (uint8_t)txn->ops[i].kind);
		ipam__ff_put_lease(b, l);
	}
	ipam__release(l, sizeof(*l));
	ipam__ff_record_end(b, start);
	return b->oom ? -ENOMEM : 0;
}

/* A commit overwrites zeros written earlier instead of growing the file:
 * an fdatasync after an append that changes the file's size must also
 * write the inode (ext4: ~50 us more here, 135-157 us instead of 84-105).
 * When the log has no room left for `b`, zeros are appended to b itself,
 * up to a multiple of 4 KiB at least LOG_RESERVE past it, so this write
 * and its sync also extend the file for the next ~140 commits (of ~116 bytes). Readers
 * stop at the zero length word after the last record. */
#define LOG_RESERVE (16u * 1024u)

static int reserve_room(struct fset *s, struct ipam__buf *b)
{
	struct stat st;
	uint64_t end, want;

	if (fstat(s->log_fd, &st) < 0)
		return -errno;
	end = s->applied + b->len;
	if ((uint64_t)st.st_size >= end + 4)
		return 0;
	want = (end + LOG_RESERVE + 4095u) & ~(uint64_t)4095u;
	ipam__ff_put_zeros(b, (size_t)(want - s->applied) - b->len);
	return b->oom ? -ENOMEM : 0;
}

/* applied > max(16 KiB, sqrt(4 KiB x snap_bytes), snap_bytes / 16). */
static int early_compact(const struct fset *s)
{
	uint64_t a = s->applied;

	return a > 16 * 1024 && (a > UINT32_MAX || a * a > 4096 * s->snap_bytes) &&
	       a > s->snap_bytes / 16;
}

static int file_commit(ipam_store *st, ipam_view *v, const ipam_txn *txn, uint64_t *rev_out)
{
	struct filestore *fs = (struct filestore *)st;
	struct ipam__buf b = { 0 };
	struct fset *s;
	uint64_t rev;
	size_t rec_len;
	int r, group = fs->opt.durability == IPAM_DURABILITY_GROUP;

	pthread_mutex_lock(&fs->lock);
	s = find_set(fs, v);
	pthread_mutex_unlock(&fs->lock);
	if (!s)
		return ipam__fail(-ENOENT, "store", NULL, "view not attached to this file store");
	if (txn->nops > IPAM__FF_MAX_OPS)
		return ipam__fail(-E2BIG, "txn", NULL, "at most %d changes per commit", IPAM__FF_MAX_OPS);
	pthread_mutex_lock(&s->mu);
	r = lock_file(s, LOCK_EX);
	if (r < 0)
		goto out_mu;
	r = make_current(fs, s);
	if (r < 0) {
		s->broken = 1;
		goto out;
	}
	ipam__view_rdlock(v);
	r = ipam_view_check(v, txn);
	rev = ipam_view_revision(v) + 1;
	if (r == 0)
		r = encode_commit(&b, v, txn, rev);
	ipam__view_rdunlock(v);
	if (r < 0)
		goto out;
	fault_point("commit-before-write");
	rec_len = b.len;
	r = reserve_room(s, &b);
	if (r == 0)
		r = write_all(s->log_fd, b.p, b.len, s->applied);
	fault_point("commit-written");
	if (r == 0 && !group)
		r = sync_fd(fs, s->log_fd);
	fault_point("commit-synced");
	if (r < 0) {
		/* Not acknowledged: take it back out of the log. */
		if (ftruncate(s->log_fd, (off_t)s->applied) < 0 || sync_fd(fs, s->log_fd) < 0)
			s->broken = 1;
		r = errno_fail(-r, "append", s->name);
		goto out;
	}
	ipam_view_lock(v);
	/* Checked above under s->mu, which every change to this view holds. */
	if (ipam__view_apply_checked(v, txn, rev) == 0)
		s->applied += rec_len;
	else
		s->broken = 1; /* durable but not in our view: reload next time */
	ipam_view_unlock(v);
	*rev_out = rev;
	/* Compact when the log passes the configured size, or earlier: a
	 * process per call (a CNI plugin) replays the whole log at every
	 * open, and a compaction costs a few syncs plus writing the snapshot.
	 * Compacting at sqrt(4 KiB x snapshot) bytes of log (16 KiB at
	 * least) about balances the two; a log of a sixteenth of the
	 * snapshot bounds the rewriting of large ones (docs/file-format.md). */
	if (!s->broken && (s->applied > fs->opt.compact_bytes || early_compact(s))) {
		int c = whole_view(fs, s);
		if (c == 0)
			c = compact(fs, s);
		if (c < 0)
			note(fs, IPAM_LOG_WARNING, "%s: compaction failed: %s", s->name,
			     ipam_last_error_message());
	}
out:
	flock(s->lock_fd, LOCK_UN);
	if (r == 0 && group && sync_fd(fs, s->log_fd) < 0)
		r = errno_fail(errno, "fdatasync", s->name);
out_mu:
	pthread_mutex_unlock(&s->mu);
	ipam__buf_fini(&b);
	return r;
}

static int file_refresh(ipam_store *st, ipam_view *v)
{
	struct filestore *fs = (struct filestore *)st;
	struct fset *s;
	struct stat stl;
	int r;

	pthread_mutex_lock(&fs->lock);
	s = find_set(fs, v);
	pthread_mutex_unlock(&fs->lock);
	if (!s)
		return ipam__fail(-ENOENT, "store", NULL, "view not attached to this file store");
	/* Fast path, without the file lock: nothing appended and not
	 * replaced. The in-process mutex guards our own fields and fds. */
	pthread_mutex_lock(&s->mu);
	if (!s->broken && fstat(s->log_fd, &stl) == 0 && stl.st_nlink > 0 &&
	    !log_has_more(s, (uint64_t)stl.st_size)) {
		pthread_mutex_unlock(&s->mu);
		return 0;
	}
	r = lock_file(s, LOCK_EX);
	if (r == 0) {
		r = make_current(fs, s);
		if (r < 0)
			s->broken = 1;
		flock(s->lock_fd, LOCK_UN);
	}
	pthread_mutex_unlock(&s->mu);
	return r;
}

static void free_set(struct fset *s)
{
	if (!s)
		return;
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	if (s->log_fd >= 0)
		close(s->log_fd);
	ipam_view_free(s->view);
	pthread_mutex_destroy(&s->mu);
	ipam__release(s, sizeof(*s));
}

static int file_attach(ipam_store *st, const ipam_poolset *set, ipam_view **view)
{
	struct filestore *fs = (struct filestore *)st;
	char file[FNAME_MAX];
	struct fset *s;
	int r;

	r = ipam_name_check(ipam_poolset_name(set));
	if (r < 0)
		return r;
	s = ipam__zalloc(sizeof(*s));
	if (!s)
		return ipam__fail_code(-ENOMEM);
	s->lock_fd = s->log_fd = -1;
	pthread_mutex_init(&s->mu, NULL);
	snprintf(s->name, sizeof(s->name), "%s", ipam_poolset_name(set));
	r = ipam_view_new(&s->view, set);
	if (r < 0)
		goto fail;
	s->lock_fd = open_at(fs, s->name, "lock", O_RDWR | O_CREAT, file, sizeof(file));
	if (s->lock_fd < 0) {
		r = errno_fail(-s->lock_fd, "open", file);
		goto fail;
	}
	r = lock_file(s, LOCK_EX);
	if (r < 0)
		goto fail;
	r = load_all(fs, s);
	flock(s->lock_fd, LOCK_UN);
	if (r < 0)
		goto fail;
	pthread_mutex_lock(&fs->lock);
	if (fs->nsets == MAX_SETS) {
		pthread_mutex_unlock(&fs->lock);
		r = ipam__fail(-E2BIG, "store", NULL, "at most %d pool sets per file store", MAX_SETS);
		goto fail;
	}
	fs->sets[fs->nsets++] = s;
	pthread_mutex_unlock(&fs->lock);
	*view = s->view;
	return 0;
fail:
	free_set(s);
	return r;
}

static void file_detach(ipam_store *st, ipam_view *v)
{
	struct filestore *fs = (struct filestore *)st;

	pthread_mutex_lock(&fs->lock);
	for (unsigned i = 0; i < fs->nsets; i++) {
		if (fs->sets[i]->view == v) {
			free_set(fs->sets[i]);
			fs->sets[i] = fs->sets[--fs->nsets];
			break;
		}
	}
	pthread_mutex_unlock(&fs->lock);
}

static void file_destroy(ipam_store *st)
{
	struct filestore *fs = (struct filestore *)st;

	for (unsigned i = 0; i < fs->nsets; i++)
		free_set(fs->sets[i]);
	ipam__release(fs->scope_mem, fs->scope_mem_len);
	ipam__release(fs->scope_addrs, fs->scope.naddrs * sizeof(*fs->scope_addrs));
	close(fs->dirfd);
	pthread_mutex_destroy(&fs->lock);
	ipam__release(fs, sizeof(*fs));
}

static const ipam_store_ops filestore_ops = {
	.version = IPAM_STORE_VERSION,
	.name = "file",
	.destroy = file_destroy,
	.attach = file_attach,
	.refresh = file_refresh,
	.commit = file_commit,
	.detach = file_detach,
};

static int copy_scope(struct filestore *fs, const ipam_file_store_scope *sc)
{
	size_t lo = sc->owner ? strlen(sc->owner) : 0, la = sc->attachment ? strlen(sc->attachment) : 0;
	char *m;

	fs->scope_mem_len = lo + la + 2;
	m = fs->scope_mem = ipam__alloc(fs->scope_mem_len);
	if (!m)
		return -ENOMEM;
	if (sc->naddrs) {
		fs->scope_addrs = ipam__calloc(sc->naddrs, sizeof(*fs->scope_addrs));
		if (!fs->scope_addrs)
			return -ENOMEM;
		memcpy(fs->scope_addrs, sc->addrs, sc->naddrs * sizeof(*fs->scope_addrs));
	}
	memcpy(m, sc->owner ? sc->owner : "", lo + 1);
	memcpy(m + lo + 1, sc->attachment ? sc->attachment : "", la + 1);
	fs->scope.owner = sc->owner ? m : NULL;
	fs->scope.owner_len = lo;
	fs->scope.attach = sc->attachment ? m + lo + 1 : NULL;
	fs->scope.attach_len = la;
	fs->scope.addrs = fs->scope_addrs;
	fs->scope.naddrs = sc->naddrs;
	fs->scoped = 1;
	return 0;
}

IPAM_EXPORT int ipam_store_file_new(ipam_store **out, const char *dir,
				    const ipam_file_store_options *opts)
{
	struct filestore *fs;
	struct stat st;
	int fd;

	if (!out || !dir || !*dir)
		return ipam__fail(-EINVAL, "dir", NULL, "missing directory");
	*out = NULL;
	if (opts && (opts->size < sizeof(size_t) || opts->size > sizeof(*opts)))
		return ipam__fail(-EINVAL, "options.size", NULL, "set it to sizeof(ipam_file_store_options)");
	if (opts && opts->durability != IPAM_DURABILITY_FSYNC &&
	    opts->durability != IPAM_DURABILITY_GROUP && opts->durability != IPAM_DURABILITY_NONE)
		return ipam__fail(-EINVAL, "durability", NULL, "unknown durability mode");
	if (opts && opts->size >= offsetof(ipam_file_store_options, scope) + sizeof(opts->scope) &&
	    opts->scope) {
		const ipam_file_store_scope *sc = opts->scope;
		if (sc->owner && (!*sc->owner || strlen(sc->owner) > IPAM_OWNER_MAX))
			return ipam__fail(-EINVAL, "scope.owner", NULL, "1 to %d bytes", IPAM_OWNER_MAX);
		if (sc->attachment && strlen(sc->attachment) > IPAM_ATTACHMENT_MAX)
			return ipam__fail(-EINVAL, "scope.attachment", NULL, "at most %d bytes",
					  IPAM_ATTACHMENT_MAX);
		if (sc->naddrs > IPAM_FILE_SCOPE_ADDRS_MAX || (sc->naddrs && !sc->addrs))
			return ipam__fail(-EINVAL, "scope.addrs", NULL, "at most %d addresses",
					  IPAM_FILE_SCOPE_ADDRS_MAX);
		for (unsigned i = 0; i < sc->naddrs; i++)
			if (!ipam_addr_is_valid(&sc->addrs[i]))
				return ipam__fail(-EINVAL, "scope.addrs", NULL, "address %u is not valid", i);
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return errno_fail(errno, "mkdir", dir);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int e = errno; /* a symbolic link: ELOOP, or ENOTDIR with O_DIRECTORY */
		if ((e == ELOOP || e == ENOTDIR) && lstat(dir, &st) == 0 && S_ISLNK(st.st_mode))
			return ipam__fail(-EACCES, "dir", dir,
					  "is a symbolic link: give the directory it points to");
		return errno_fail(e, "open", dir);
	}
	if (fstat(fd, &st) < 0 || (st.st_mode & 022)) {
		close(fd);
		return ipam__fail(-EACCES, "dir", dir,
				  "the store directory must not be writable by group or others");
	}
	fs = ipam__zalloc(sizeof(*fs));
	if (!fs) {
		close(fd);
		return ipam__fail_code(-ENOMEM);
	}
	fs->base.ops = &filestore_ops;
	fs->dirfd = fd;
	ipam_file_store_options_init(&fs->opt);
	if (opts)
		memcpy(&fs->opt, opts, opts->size);
	fs->opt.size = sizeof(fs->opt);
	if (!fs->opt.compact_bytes)
		fs->opt.compact_bytes = DEFAULT_COMPACT;
	if (fs->opt.scope && copy_scope(fs, fs->opt.scope) < 0) {
		ipam__release(fs->scope_mem, fs->scope_mem_len);
		close(fd);
		ipam__release(fs, sizeof(*fs));
		return ipam__fail_code(-ENOMEM);
	}
	fs->opt.scope = NULL; /* the caller's: not kept */
	pthread_mutex_init(&fs->lock, NULL);
	*out = &fs->base;
	return 0;
}

IPAM_EXPORT int ipam_store_file_compact(ipam_store *st, const char *poolset)
{
	struct filestore *fs = (struct filestore *)st;
	struct fset *s = NULL;
	int r;

	if (!st || st->ops != &filestore_ops)
		return ipam__fail(-ENOTSUP, "store", NULL, "not a file store");
	pthread_mutex_lock(&fs->lock);
	for (unsigned i = 0; poolset && i < fs->nsets; i++)
		if (strcmp(fs->sets[i]->name, poolset) == 0)
			s = fs->sets[i];
	pthread_mutex_unlock(&fs->lock);
	if (!s)
		return ipam__fail(-ENOENT, "poolset", poolset, "not attached to this store");
	pthread_mutex_lock(&s->mu);
	r = lock_file(s, LOCK_EX);
	if (r == 0) {
		r = make_current(fs, s);
		if (r == 0)
			r = whole_view(fs, s);
		if (r == 0)
			r = compact(fs, s);
		flock(s->lock_fd, LOCK_UN);
	}
	pthread_mutex_unlock(&s->mu);
	return r;
}
