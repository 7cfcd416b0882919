/* SPDX-License-Identifier: MIT */
/*
 * Writes the seed corpus of tests/fuzz/fuzz_filestore.c from real stores:
 * logs of a few commits (allocations, releases into quarantine, a
 * reservation, attributes, a 10-op release), a compacted store (snapshot
 * alone, and snapshot + log with commits after it), a store with a pool the
 * fuzz target's set does not define, and damaged variants of each (cut at
 * several offsets, bit flips in the middle and in the last record, a zeroed
 * tail, an impossible length followed by garbage, a newer version, a bad
 * header checksum).
 *
 * Each corpus file is one flags byte (see fuzz_filestore.c) and the image;
 * a snapshot followed by a log is one file holding both. Only the public
 * API is used, so any build of the library will do:
 *
 *   cc -std=c11 -Iinclude tests/fuzz/make-filestore-corpus.c \
 *      -Lbuild/lib -lipam -Wl,-rpath,$PWD/build/lib -o /tmp/mkcorpus
 *   /tmp/mkcorpus tests/fuzz/corpus/filestore
 *
 * The pool set must stay identical to the fuzz target's.
 */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ipam/ipam.h>

static const char *outdir;
static char dir[256];

static void die(const char *what)
{
	fprintf(stderr, "make-filestore-corpus: %s: %s\n", what, ipam_last_error_message());
	exit(1);
}

static ipam_pool *make_pool(const char *name, const char *subnet, const char *range,
			    uint32_t quarantine_s)
{
	ipam_pool *p = NULL;
	ipam_range r;

	if (ipam_pool_new_str(&p, name, subnet) < 0 || ipam_range_parse(range, &r) < 0 ||
	    ipam_pool_add_range(p, &r) < 0)
		die("pool");
	if (quarantine_s && ipam_pool_set_quarantine(p, quarantine_s, 0, 0) < 0)
		die("quarantine");
	return p;
}

static int64_t clock_ms = INT64_C(1800000000000);

static int64_t fixed_clock(void *ud)
{
	(void)ud;
	return clock_ms;
}

/* The fuzz target's set; `extra` adds a pool it does not know. */
static ipam_ctx *open_ctx(ipam_store **st, int extra)
{
	ipam_file_store_options fo;
	ipam_ctx_options co;
	ipam_ctx *ctx = NULL;
	ipam_poolset *s = NULL;

	ipam_file_store_options_init(&fo);
	fo.durability = IPAM_DURABILITY_NONE;
	fo.compact_bytes = 1u << 30;
	if (ipam_store_file_new(st, dir, &fo) < 0)
		die("store");
	ipam_ctx_options_init(&co);
	co.clock = fixed_clock;
	co.node = "node-1";
	if (ipam_ctx_new(&ctx, *st, &co) < 0)
		die("ctx");
	if (ipam_poolset_new(&s, "net") < 0 ||
	    ipam_poolset_add(s, make_pool("v4", "10.30.0.0/22", "10.30.0.1-10.30.3.232", 0)) < 0 ||
	    ipam_poolset_add(s, make_pool("v6", "fd00:30::/64", "fd00:30::1-fd00:30::3e8", 60)) < 0)
		die("set");
	if (extra && ipam_poolset_add(s, make_pool("v4b", "10.31.0.0/24", "10.31.0.1-10.31.0.20", 0)) < 0)
		die("extra pool");
	if (ipam_ctx_add_poolset(ctx, s) < 0)
		die("add set");
	return ctx;
}

static void close_ctx(ipam_ctx *ctx, ipam_store *st)
{
	ipam_ctx_free(ctx);
	ipam_store_free(st);
}

static void alloc(ipam_ctx *ctx, const char *owner, const char *att, uint32_t ttl, int attrs)
{
	ipam_attr a[2];
	ipam_request r;
	ipam_lease out[3];
	unsigned n = 3;

	memset(&r, 0, sizeof(r));
	memset(a, 0, sizeof(a));
	r.poolset = "net";
	r.owner = owner;
	r.ifname = "eth0";
	r.attachment = att;
	r.ttl = ttl;
	if (attrs) {
		snprintf(a[0].key, sizeof(a[0].key), "pod-uid");
		snprintf(a[0].value, sizeof(a[0].value), "3f1c2a9e-51b7-4c7e-9d0e-6a1b2c3d4e5f");
		snprintf(a[1].key, sizeof(a[1].key), "mac");
		snprintf(a[1].value, sizeof(a[1].value), "02:42:ac:11:00:02");
		r.attrs = a;
		r.nattrs = 2;
	}
	if (ipam_allocate(ctx, &r, out, &n) < 0)
		die("allocate");
	clock_ms += 1000;
}

static uint8_t *slurp(const char *name, size_t *len)
{
	char path[512];
	struct stat st;
	uint8_t *buf;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st) < 0)
		die(path);
	*len = (size_t)st.st_size;
	buf = malloc(*len ? *len : 1);
	if (!buf || read(fd, buf, *len) != (ssize_t)*len)
		die("read");
	close(fd);
	return buf;
}

/* One corpus file: flags byte, image a, then image b (may be NULL). */
static void emit(const char *name, unsigned flags, const uint8_t *a, size_t alen, const uint8_t *b,
		 size_t blen)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s-f%u", outdir, name, flags);
	f = fopen(path, "wb");
	if (!f)
		die(path);
	fputc((int)flags, f);
	if (alen)
		fwrite(a, 1, alen, f);
	if (b && blen)
		fwrite(b, 1, blen, f);
	fclose(f);
}

/* Every flag combination of one image (or image pair). */
static void emit_all(const char *name, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	for (unsigned f = 0; f < 4; f++)
		emit(name, f, a, alen, b, blen);
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Damaged variants of an image whose last record starts at `last`. */
static void variants(const char *base, const uint8_t *img, size_t len, size_t last)
{
	uint8_t *c = malloc(len + 64);
	char name[128];

	if (!c)
		die("oom");
	/* Cuts: in the header, after it, in the last length field, in the
	 * last payload, one byte short. */
	size_t cuts[] = { 20, 32, last + 2, last + (len - last) / 2, len - 1 };
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		snprintf(name, sizeof(name), "%s-cut%zu", base, cuts[i]);
		emit(name, i % 2 ? 2 : 0, img, cuts[i], NULL, 0);
	}
	/* A flip in the first record (damage) and in the last one (torn). */
	memcpy(c, img, len);
	c[32 + 40] ^= 0x40;
	snprintf(name, sizeof(name), "%s-flip-first", base);
	emit(name, 2, c, len, NULL, 0);
	emit(name, 1, c, len, NULL, 0); /* with checksums fixed: the decoder */
	memcpy(c, img, len);
	c[last + 20] ^= 0x01;
	snprintf(name, sizeof(name), "%s-flip-last", base);
	emit(name, 2, c, len, NULL, 0);
	/* A zeroed tail (a crash while appending) and garbage after it. */
	memcpy(c, img, len);
	memset(c + len, 0, 24);
	snprintf(name, sizeof(name), "%s-zero-tail", base);
	emit(name, 2, c, len + 24, NULL, 0);
	c[len + 20] = 0x5a;
	snprintf(name, sizeof(name), "%s-garbage-tail", base);
	emit(name, 2, c, len + 24, NULL, 0);
	/* A newer version with a valid header checksum (-EPROTO), and the
	 * header checksum broken (-EBADMSG). */
	memcpy(c, img, len);
	c[8] = 2;
	snprintf(name, sizeof(name), "%s-version2", base);
	emit(name, 3, c, len, NULL, 0);
	memcpy(c, img, len);
	put_u64(c + 24, 0x0123456789abcdefull);
	snprintf(name, sizeof(name), "%s-badheader", base);
	emit(name, 2, c, len, NULL, 0);
	free(c);
}

int main(int argc, char **argv)
{
	ipam_store *st;
	ipam_ctx *ctx;
	uint8_t *log, *snap;
	size_t loglen, snaplen, last;
	const char *t = getenv("TMPDIR");
	struct stat sb;
	char path[512];

	if (argc != 2) {
		fprintf(stderr, "usage: make-filestore-corpus OUTDIR\n");
		return 2;
	}
	outdir = argv[1];
	snprintf(dir, sizeof(dir), "%s/ipam-corpus-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(dir))
		die("mkdtemp");
	snprintf(path, sizeof(path), "%s/net.log", dir);

	/* 1. A log of a few commits. */
	ctx = open_ctx(&st, 0);
	alloc(ctx, "ns/a", "c-a", 0, 0);
	alloc(ctx, "ns/b", "c-b", 3600, 1);
	alloc(ctx, "ns/c", "c-c", 0, 0);
	if (ipam_release_owner(ctx, "net", "ns/b", NULL) != 2)
		die("release");
	ipam_addr gw;
	ipam_addr_parse("10.30.0.9", &gw);
	if (ipam_reserve(ctx, "net", &gw, "router") < 0)
		die("reserve");
	if (stat(path, &sb) < 0)
		die("stat");
	last = (size_t)sb.st_size;
	alloc(ctx, "ns/b", "c-b2", 0, 1); /* gets its quarantined v6 back */
	close_ctx(ctx, st);
	log = slurp("net.log", &loglen);
	emit_all("log-commits", log, loglen, NULL, 0);
	variants("log", log, loglen, last);
	free(log);

	/* 2. Compacted: a snapshot, an empty log; then commits after it. */
	ctx = open_ctx(&st, 0);
	if (ipam_store_file_compact(st, "net") < 0)
		die("compact");
	snap = slurp("net.snap", &snaplen);
	emit_all("snap-only", snap, snaplen, NULL, 0);
	log = slurp("net.log", &loglen);
	emit_all("snap-emptylog", snap, snaplen, log, loglen);
	free(log);
	/* The snapshot's last record is the end record (36 bytes). */
	variants("snap", snap, snaplen, snaplen - 36);
	for (int i = 0; i < 5; i++) { /* one attachment, five owners */
		char o[32];
		snprintf(o, sizeof(o), "ns/shared-%d", i);
		alloc(ctx, o, "sandbox-shared", 0, 0);
	}
	if (ipam_release_attachment(ctx, "net", "sandbox-shared", 0) != 10)
		die("release attachment");
	close_ctx(ctx, st);
	log = slurp("net.log", &loglen);
	emit_all("snap-log", snap, snaplen, log, loglen);
	free(log);
	free(snap);

	/* 3. A crash between the two renames of a compaction: the new
	 * snapshot with the old log, whose records it already holds. */
	ctx = open_ctx(&st, 0);
	alloc(ctx, "ns/d", "c-d", 0, 0);
	log = slurp("net.log", &loglen);
	if (ipam_store_file_compact(st, "net") < 0)
		die("compact");
	snap = slurp("net.snap", &snaplen);
	close_ctx(ctx, st);
	emit_all("snap-oldlog", snap, snaplen, log, loglen);
	free(log);
	free(snap);

	/* 4. Leases in a pool the fuzz target's set does not define. */
	unlink(path);
	snprintf(path, sizeof(path), "%s/net.snap", dir);
	unlink(path);
	ctx = open_ctx(&st, 1);
	alloc(ctx, "ns/e", "c-e", 0, 0);
	close_ctx(ctx, st);
	log = slurp("net.log", &loglen);
	emit("log-unknown-pool", 2, log, loglen, NULL, 0);
	emit("log-unknown-pool", 0, log, loglen, NULL, 0);
	free(log);

	const char *names[] = { "net.lock", "net.log", "net.snap" };
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
	return 0;
}
