/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the file store's loader (lib/store/file_format.c and
 * the load path of lib/store/file.c). Input: one flags byte, then a file
 * image. If the image holds the log magic after its first 32 bytes, it is
 * split there: a snapshot image, then a log image (how the corpus carries a
 * compacted store with commits after it).
 *
 * flags bit 0: recompute the header and record checksums before parsing,
 *              so mutations reach the payload decoder instead of stopping
 *              at a checksum mismatch.
 * flags bit 1: also write the images as net.snap / net.log into a fresh
 *              0700 directory and open them through the real store
 *              (ipam_store_file_new + ipam_ctx_add_poolset), then make one
 *              allocation on top; first with a scope (one owner, one
 *              attachment, one address: the partial load of ipam-cni,
 *              where a whole-store check must be refused), then whole;
 *              the directory is removed afterwards.
 *
 * Every image is parsed as a snapshot and as a log, and as bare records
 * from a non-zero base, into views of a fixed dual-stack pool set, applied
 * the way the file store applies them. Any result must be 0 or a negative
 * code; whatever was applied must leave a view that passes
 * ipam__view_verify(), and a store that opened must pass ipam_verify().
 * A crash, a leak, undefined behaviour or a failed check is a finding.
 *
 * The pool set must stay identical to tests/fuzz/make-filestore-corpus.c,
 * which writes the seed corpus from real stores.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ipam/ipam.h>

#include "hash.h"
#include "lease/view.h"
#include "store/file_format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define F_FIX_CHECKSUMS 1u
#define F_REAL_STORE 2u

static const char snap_magic[8] = { 'I', 'P', 'A', 'M', 'S', 'N', 'P', '\n' };
static const char log_magic[8] = { 'I', 'P', 'A', 'M', 'L', 'O', 'G', '\n' };

static ipam_pool *make_pool(const char *name, const char *subnet, const char *range,
			    uint32_t quarantine_s)
{
	ipam_pool *p = NULL;
	ipam_range r;

	if (ipam_pool_new_str(&p, name, subnet) < 0 || ipam_range_parse(range, &r) < 0 ||
	    ipam_pool_add_range(p, &r) < 0)
		abort();
	if (quarantine_s && ipam_pool_set_quarantine(p, quarantine_s, 0, 0) < 0)
		abort();
	return p;
}

/* The fixed set: a v4 pool and a v6 pool with a reuse quarantine, so every
 * lease state can be applied. */
static ipam_poolset *make_set(void)
{
	ipam_poolset *s = NULL;

	if (ipam_poolset_new(&s, "net") < 0 ||
	    ipam_poolset_add(s, make_pool("v4", "10.30.0.0/22", "10.30.0.1-10.30.3.232", 0)) < 0 ||
	    ipam_poolset_add(s, make_pool("v6", "fd00:30::/64", "fd00:30::1-fd00:30::3e8", 60)) < 0)
		abort();
	return s;
}

static const ipam_poolset *fixed_set(void)
{
	static ipam_poolset *set;

	if (!set)
		set = make_set();
	return set;
}

/* ---- applying records to a view, as lib/store/file.c does --------------------------- */

struct apply {
	ipam_view *view;
	uint64_t snap_rev, count;
};

static int apply_ops(ipam_view *v, const ipam_op *ops, unsigned nops, int64_t now_ms,
		     uint64_t rev, unsigned flags)
{
	ipam_op *copy = calloc(nops, sizeof(*copy));
	ipam_txn txn;
	int r;

	if (!copy)
		return -ENOMEM;
	for (unsigned i = 0; i < nops; i++) {
		int pi = ipam__view_pool_index(v, ops[i].lease.pool);
		if (pi < 0) {
			free(copy);
			return -EINVAL;
		}
		copy[i] = ops[i];
		copy[i].pool = (unsigned)pi;
		copy[i].flags |= flags;
	}
	memset(&txn, 0, sizeof(txn));
	txn.ops = copy;
	txn.nops = nops;
	txn.now_ms = now_ms;
	ipam_view_lock(v);
	r = ipam_view_apply(v, &txn, rev);
	ipam_view_unlock(v);
	free(copy);
	return r;
}

static int on_lease(void *ud, const ipam_lease *l)
{
	struct apply *a = ud;
	ipam_op op;
	int64_t now_ms;

	memset(&op, 0, sizeof(op));
	op.kind = IPAM_OP_PUT;
	op.lease = *l;
	a->count++;
	if (__builtin_mul_overflow(l->updated, 1000, &now_ms))
		now_ms = l->updated < 0 ? INT64_MIN : INT64_MAX;
	return apply_ops(a->view, &op, 1, now_ms, a->snap_rev, IPAM_OP_F_KEEP_GENERATION);
}

static int on_end(void *ud, uint64_t count, uint64_t rev)
{
	struct apply *a = ud;

	return count == a->count && rev == a->snap_rev ? 0 : -EBADMSG;
}

static int on_commit(void *ud, uint64_t rev, int64_t now_ms, const ipam_op *ops, unsigned nops)
{
	struct apply *a = ud;

	if (nops == 0 || nops > IPAM__FF_MAX_OPS)
		abort(); /* the parser promised a validated commit */
	if (rev <= ipam_view_revision(a->view))
		return 0;
	return apply_ops(a->view, ops, nops, now_ms, rev, 0);
}

/* IPAM_FUZZ_LENIENT set: an inconsistent view is printed, not a crash, to
 * fuzz on past a known finding (memory errors and UB still stop the run). */
static void inconsistent(const char *what)
{
	static int lenient = -1;

	if (lenient < 0)
		lenient = getenv("IPAM_FUZZ_LENIENT") != NULL;
	fprintf(stderr, "%s inconsistent: %s\n", what, ipam_last_error_message());
	if (!lenient)
		abort();
}

static void verify(ipam_view *v)
{
	int r;

	ipam__view_rdlock(v);
	r = ipam__view_verify(v);
	ipam__view_rdunlock(v);
	if (r != 0)
		inconsistent("view");
}

static void check_result(int r, const struct ipam__ff_result *res, size_t base, size_t len,
			 const uint8_t *img)
{
	if (r > 0)
		abort();
	if (r == 0 && (res->good_end < base || res->good_end > base + len))
		abort();
	if (r == 0 && res->torn && res->reserved)
		abort();
	if (r == 0 && !res->torn && !res->reserved && res->good_end != base + len)
		abort(); /* all parsed, not torn: everything was consumed */
	/* A reserved tail is zeros only (img holds the bytes from base). */
	for (size_t i = res->good_end - base; r == 0 && res->reserved && i < len; i++)
		if (img[i] != 0)
			abort();
}

/* Parse img as a whole file of `kind` into v (which may already hold a
 * snapshot); the snapshot's revision is taken from its header first. */
static void parse_file(ipam_view *v, const uint8_t *img, size_t len, enum ipam__ff_kind kind)
{
	struct apply a = { v, 0, 0 };
	struct ipam__ff_handler h = { &a, on_lease, on_commit, on_end, NULL, NULL, 0, NULL };
	struct ipam__ff_result res;
	int r;

	if (kind == IPAM__FF_SNAPSHOT) {
		struct ipam__ff_handler none = { 0 };
		r = ipam__ff_parse(img, len < IPAM__FF_HEADER_SIZE ? len : IPAM__FF_HEADER_SIZE, kind,
				   &none, &res);
		if (r < 0)
			return;
		a.snap_rev = res.header_revision;
	}
	r = ipam__ff_parse(img, len, kind, &h, &res);
	if (r == 0 && len < IPAM__FF_HEADER_SIZE)
		abort();
	check_result(r, &res, IPAM__FF_HEADER_SIZE,
		     len >= IPAM__FF_HEADER_SIZE ? len - IPAM__FF_HEADER_SIZE : 0,
		     img + IPAM__FF_HEADER_SIZE);
	if (kind == IPAM__FF_SNAPSHOT && r == 0 && res.header_revision != a.snap_rev)
		abort();
	if (kind == IPAM__FF_SNAPSHOT && r == 0 && res.ended && ipam_view_revision(v) < a.snap_rev) {
		ipam_view_lock(v);
		v->revision = a.snap_rev;
		ipam_view_unlock(v);
	}
	verify(v);
}

/* Records only, as read back after an append: from a non-zero base. */
static void parse_records(const uint8_t *p, size_t len, enum ipam__ff_kind kind, size_t base)
{
	ipam_view *v = NULL;
	struct apply a = { NULL, 7, 0 };
	struct ipam__ff_handler h = { &a, on_lease, on_commit, on_end, NULL, NULL, 0, NULL };
	struct ipam__ff_result res;
	int r;

	if (ipam_view_new(&v, fixed_set()) < 0)
		return; /* out of memory */
	a.view = v;
	r = ipam__ff_parse_records(p, len, kind, base, &h, &res);
	check_result(r, &res, base, len, p);
	verify(v);
	ipam_view_free(v);
}

/* ---- checksums fixed up ------------------------------------------------------------- */

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Rewrite the header checksum and every record's checksum that the
 * framing reaches, so a mutated payload is judged on its content. */
static void fix_checksums(uint8_t *img, size_t len)
{
	size_t off = IPAM__FF_HEADER_SIZE;

	if (len < IPAM__FF_HEADER_SIZE)
		return;
	put_u64(img + 24, ipam__hash(img, 24, 0));
	while (len - off >= 4) {
		uint32_t n = get_u32(img + off);
		if (n < 4 || n > IPAM__FF_MAX_RECORD || len - off - 4 < (size_t)n + 8)
			return;
		put_u64(img + off + 4 + n, ipam__hash(img + off, 4 + (size_t)n, 0));
		off += 4 + (size_t)n + 8;
	}
}

/* ---- through the real store ------------------------------------------------------- */

static int write_file(int dirfd, const char *name, const uint8_t *p, size_t len)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t done = 0;

	if (fd < 0)
		return -1;
	while (done < len) {
		ssize_t w = write(fd, p + done, len - done);
		if (w <= 0) {
			close(fd);
			return -1;
		}
		done += (size_t)w;
	}
	close(fd);
	return 0;
}

static int64_t fixed_clock(void *ud)
{
	(void)ud;
	return INT64_C(1800000000000);
}

static void quiet(void *ud, int level, const char *msg)
{
	(void)ud;
	(void)level;
	(void)msg;
}

static void open_store(const char *dir, const ipam_file_store_scope *scope)
{
	ipam_file_store_options fo;
	ipam_ctx_options co;
	ipam_store *st = NULL;
	ipam_ctx *ctx = NULL;
	ipam_poolset *set = make_set();
	int r;

	ipam_file_store_options_init(&fo);
	fo.durability = IPAM_DURABILITY_NONE;
	fo.log = quiet;
	fo.scope = scope;
	if (ipam_store_file_new(&st, dir, &fo) < 0)
		abort();
	ipam_ctx_options_init(&co);
	co.clock = fixed_clock;
	co.node = "fuzz";
	co.max_attempts = 2;
	co.backoff_base_us = 1;
	co.backoff_max_us = 1;
	if (ipam_ctx_new(&ctx, st, &co) < 0)
		abort();
	r = ipam_ctx_add_poolset(ctx, set);
	if (r > 0)
		abort();
	if (r < 0) {
		ipam_poolset_free(set);
	} else {
		ipam_request req;
		ipam_lease out[2];
		unsigned n = 2;

		if (ipam_verify(ctx, "net") != (scope ? -ENOTSUP : 0))
			inconsistent("store");
		/* An append after whatever was recovered. */
		memset(&req, 0, sizeof(req));
		req.poolset = "net";
		req.owner = scope ? scope->owner : "fuzz/new";
		req.ifname = "eth0";
		req.attachment = scope ? scope->attachment : "fuzz-new";
		r = ipam_allocate(ctx, &req, out, &n);
		if (r > 0)
			abort();
		if (ipam_verify(ctx, "net") != (scope ? -ENOTSUP : 0))
			inconsistent("store after an allocation");
		if (scope) {
			ipam_lease l[4];
			unsigned k = 4;
			if (ipam_lookup_attachment(ctx, "net", scope->attachment, l, &k) < 0 ||
			    ipam_lookup_addr(ctx, "net", &scope->addrs[0], l) == -ENOTSUP)
				inconsistent("scoped lookups");
		}
	}
	ipam_ctx_free(ctx);
	ipam_store_free(st);
}

static void through_store(const uint8_t *snap, size_t snap_len, const uint8_t *log, size_t log_len)
{
	static const char *const names[] = { "net.lock", "net.snap", "net.log", "net.snap.tmp",
					     "net.log.tmp" };
	const char *t = getenv("TMPDIR");
	char dir[512];
	int dirfd;

	snprintf(dir, sizeof(dir), "%s/ipam-fuzz-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(dir))
		return;
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd >= 0) {
		if ((!snap || write_file(dirfd, "net.snap", snap, snap_len) == 0) &&
		    (!log || write_file(dirfd, "net.log", log, log_len) == 0)) {
			ipam_addr a;
			ipam_file_store_scope sc = { "fuzz/scoped", "fuzz-scoped", &a, 1 };
			if (ipam_addr_parse("10.30.0.5", &a) < 0)
				abort();
			open_store(dir, &sc); /* partial, then whole: consistent after it */
			open_store(dir, NULL);
		}
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			unlinkat(dirfd, names[i], 0);
		close(dirfd);
	}
	rmdir(dir);
}

/* ---- the entry point ---------------------------------------------------------------- */

static const uint8_t *find_log(const uint8_t *img, size_t len)
{
	for (size_t i = IPAM__FF_HEADER_SIZE; i + 8 <= len; i++)
		if (img[i] == 'I' && memcmp(img + i, log_magic, 8) == 0)
			return img + i;
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *snap, *log;
	size_t snap_len, log_len;
	uint8_t *img;
	unsigned flags;
	ipam_view *v = NULL;

	if (size < 1)
		return 0;
	flags = data[0];
	size--;
	img = malloc(size ? size : 1);
	if (!img)
		return 0;
	memcpy(img, data + 1, size);
	/* Split: a snapshot image, then a log image. */
	snap = NULL;
	snap_len = log_len = 0;
	log = find_log(img, size);
	if (log) {
		snap = img;
		snap_len = (size_t)(log - img);
		log_len = size - snap_len;
	} else if (size >= 8 && memcmp(img, snap_magic, 8) == 0) {
		snap = img; /* a snapshot alone: the store starts a new log */
		snap_len = size;
	} else {
		log = img;
		log_len = size;
	}
	if (flags & F_FIX_CHECKSUMS) {
		if (snap)
			fix_checksums(img, snap_len);
		if (log)
			fix_checksums((uint8_t *)log, log_len);
	}

	/* The whole image as either kind of file, alone. */
	if (ipam_view_new(&v, fixed_set()) == 0) {
		parse_file(v, img, size, IPAM__FF_SNAPSHOT);
		v = ipam_view_free(v);
	}
	if (ipam_view_new(&v, fixed_set()) == 0) {
		parse_file(v, img, size, IPAM__FF_LOG);
		v = ipam_view_free(v);
	}
	/* A snapshot then its log into one view, as the store loads them. */
	if (snap && log && ipam_view_new(&v, fixed_set()) == 0) {
		parse_file(v, snap, snap_len, IPAM__FF_SNAPSHOT);
		parse_file(v, log, log_len, IPAM__FF_LOG);
		v = ipam_view_free(v);
	}
	/* Bare records after a header, read from a non-zero base. */
	if (log && log_len > IPAM__FF_HEADER_SIZE) {
		parse_records(log + IPAM__FF_HEADER_SIZE, log_len - IPAM__FF_HEADER_SIZE, IPAM__FF_LOG,
			      IPAM__FF_HEADER_SIZE);
		parse_records(log + IPAM__FF_HEADER_SIZE, log_len - IPAM__FF_HEADER_SIZE,
			      IPAM__FF_SNAPSHOT, 4096);
	}

	if (flags & F_REAL_STORE)
		through_store(snap, snap_len, log, log_len);
	free(img);
	return 0;
}
