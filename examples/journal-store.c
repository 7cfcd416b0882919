/* SPDX-License-Identifier: MIT */
/*
 * A store written by an embedder: the memory store plus an audit journal.
 *
 * Built for: a daemon that wants a human-readable record of every change
 * (who got which address, when it was released or reclaimed) next to its
 * own logs, without running the file store. The state itself lives in
 * memory, as in the memory store: the journal is an audit trail, not a
 * recovery log (a store that replays it on attach would make it one).
 *
 * How it uses the public store interface (<ipam/store.h>):
 * - attach/detach/destroy delegate to an inner memory store, which holds
 *   one view per pool set;
 * - commit is the sequence ipam_view_commit() performs, with one step added:
 *   lock the view, check the preconditions, append the journal lines, apply
 *   the change set as the next revision, unlock. The journal is written
 *   before the apply, so a line is never missing for a change that
 *   happened; if the apply then fails (only -ENOMEM is possible after a
 *   successful check) an "aborted" line says so.
 *
 * Threads: commits to one pool set are serialised by its view lock;
 * commits to different sets share the journal, whose writes are serialised
 * by the store's mutex, one write(2) per commit so its lines stay together.
 *
 * Journal lines (one per operation):
 *   rev 3 set net put v4 10.0.0.2 state=bound owner=ns/a ifname=eth0 attachment=c1 expires=0
 *   rev 4 set net delete v4 10.0.0.2
 *   rev 5 set net aborted
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <ipam/ipam.h>

#include "journal-store.h"

struct journal_store {
	ipam_store base; /* first: the library sees only this */
	ipam_store *inner;
	int fd;
	pthread_mutex_t lock; /* one commit's write at a time */
};

static void journal_destroy(ipam_store *st)
{
	struct journal_store *j = (struct journal_store *)st;

	ipam_store_free(j->inner); /* frees the views still attached */
	if (j->fd >= 0)
		close(j->fd);
	pthread_mutex_destroy(&j->lock);
	free(j);
}

static int journal_attach(ipam_store *st, const ipam_poolset *set, ipam_view **view)
{
	struct journal_store *j = (struct journal_store *)st;
	return j->inner->ops->attach(j->inner, set, view);
}

static void journal_detach(ipam_store *st, ipam_view *view)
{
	struct journal_store *j = (struct journal_store *)st;
	j->inner->ops->detach(j->inner, view);
}

static void format_op(FILE *f, const ipam_poolset *set, const ipam_op *op, uint64_t rev)
{
	const ipam_pool *pool = ipam_poolset_pool(set, op->pool);
	const ipam_lease *l = &op->lease;
	char a[IPAM_ADDR_STRLEN] = "?";

	ipam_addr_format(&l->addr, a, sizeof(a));
	fprintf(f, "rev %" PRIu64 " set %s %s %s %s", rev, ipam_poolset_name(set),
		op->kind == IPAM_OP_PUT ? "put" : "delete", pool ? ipam_pool_name(pool) : "?", a);
	if (op->kind == IPAM_OP_PUT)
		fprintf(f, " state=%s owner=%s ifname=%s attachment=%s expires=%" PRId64,
			ipam_lease_state_name(l->state), l->owner, l->ifname, l->attachment,
			l->expires);
	fputc('\n', f);
}

/* Write all of buf (a short write on a regular file is retried). */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -EIO;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Append the lines of txn (or one "aborted" line when txn is NULL). */
static int journal_append(struct journal_store *j, const ipam_view *v, const ipam_txn *txn,
			  uint64_t rev)
{
	const ipam_poolset *set = ipam_view_poolset(v);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int r;

	if (!f)
		return -ENOMEM;
	if (txn) {
		for (unsigned i = 0; i < txn->nops; i++)
			format_op(f, set, &txn->ops[i], rev);
	} else {
		fprintf(f, "rev %" PRIu64 " set %s aborted\n", rev, ipam_poolset_name(set));
	}
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	pthread_mutex_lock(&j->lock);
	r = write_all(j->fd, buf, len); /* add fdatasync(j->fd) here to survive power loss */
	pthread_mutex_unlock(&j->lock);
	free(buf);
	return r;
}

static int journal_commit(ipam_store *st, ipam_view *v, const ipam_txn *txn, uint64_t *rev)
{
	struct journal_store *j = (struct journal_store *)st;
	uint64_t next = 0;
	int r;

	ipam_view_lock(v);
	r = ipam_view_check(v, txn); /* -EAGAIN: the caller decides again */
	if (r == 0) {
		next = ipam_view_revision(v) + 1;
		r = journal_append(j, v, txn, next);
	}
	if (r == 0) {
		r = ipam_view_apply(v, txn, next);
		if (r < 0)
			journal_append(j, v, NULL, next);
	}
	if (r == 0)
		*rev = next;
	ipam_view_unlock(v);
	return r;
}

static const ipam_store_ops journal_ops = {
	.version = IPAM_STORE_VERSION,
	.name = "journal",
	.destroy = journal_destroy,
	.attach = journal_attach,
	.refresh = NULL, /* nothing changes behind the store's back */
	.commit = journal_commit,
	.detach = journal_detach,
};

int journal_store_new(ipam_store **out, const char *path)
{
	struct journal_store *j;
	int r;

	if (!out || !path)
		return -EINVAL;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->base.ops = &journal_ops;
	j->fd = -1;
	pthread_mutex_init(&j->lock, NULL);
	r = ipam_store_memory_new(&j->inner);
	if (r == 0) {
		j->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (j->fd < 0)
			r = -errno;
	}
	if (r < 0) {
		journal_destroy(&j->base); /* handles the half-built store */
		return r;
	}
	*out = &j->base;
	return 0;
}
