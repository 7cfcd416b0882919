/* SPDX-License-Identifier: MIT */
#ifndef EXAMPLE_JOURNAL_STORE_H
#define EXAMPLE_JOURNAL_STORE_H

/*
 * An example of a store written by an embedder on the public store
 * interface (<ipam/store.h>): it keeps its state in the memory store and
 * appends every commit to a text journal, one line per operation, before
 * the commit is applied. See journal-store.c.
 */
#include <ipam/store.h>

/* A journal store appending to the file at path (created 0600 if missing).
 * Returns 0 or a negative errno code. Free it with ipam_store_free(). */
int journal_store_new(ipam_store **out, const char *path);

#endif /* EXAMPLE_JOURNAL_STORE_H */
