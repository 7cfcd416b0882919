/* SPDX-License-Identifier: MIT */
/*
 * The view's record heap and intern table, and the conversions between the
 * public ipam_lease and the compact record (lease/record.h). Everything that
 * changes the heap runs with the view's write lock held: apply and load.
 */
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "hash.h"
#include "lease/view.h"

#define UNITS_PER_CHUNK (1u << IPAM__HEAP_UNIT_BITS)
#define CHUNK_UNITS ((uint32_t)IPAM__HEAP_UNITS)
/* The smallest block: a free block's header is a record header's size. */
#define MIN_UNITS ((unsigned)(sizeof(struct ipam__rec) / 8))
/* A free block of up to this many units more than asked for is taken
 * whole (the record keeps it); a larger one is split. */
#define SLACK_UNITS 3
/* The state of a free block (no record state has it). */
#define FREE_STATE 0xffu

/* ---- heap ------------------------------------------------------------------------ */

/*
 * A free block of n units overlays a record header: next[0] and next[1]
 * link its list, self is its id, addr_lo its size, state FREE_STATE. Its
 * last four bytes repeat the size, and the chunk's bitmap marks its last
 * unit: a block given back reads the unit before it to find a free
 * neighbour there. Unit 0 of chunk 0 is never a block (id 0 is none).
 */

static uint32_t chunk_first(uint32_t c)
{
	return c == 0;
}

static uint64_t *end_bits(const struct ipam__heap *h, uint32_t c)
{
	return (uint64_t *)(void *)(h->chunks[c] + (size_t)CHUNK_UNITS * 8);
}

static int end_bit(const struct ipam__heap *h, ipam__rid id)
{
	uint32_t u = id & (UNITS_PER_CHUNK - 1);
	return (int)(end_bits(h, id >> IPAM__HEAP_UNIT_BITS)[u / 64] >> (u % 64) & 1);
}

static void end_bit_set(struct ipam__heap *h, ipam__rid id, int on)
{
	uint32_t u = id & (UNITS_PER_CHUNK - 1);
	uint64_t *w = &end_bits(h, id >> IPAM__HEAP_UNIT_BITS)[u / 64];
	*w = on ? *w | (1ull << (u % 64)) : *w & ~(1ull << (u % 64));
}

static uint32_t fb_size(const struct ipam__rec *b)
{
	return (uint32_t)b->addr_lo;
}

static uint32_t fb_footer(const ipam_view *v, ipam__rid last)
{
	uint32_t n;
	memcpy(&n, (const char *)ipam__rec_block(v, last) + 4, 4);
	return n;
}

static ipam__rid *list_of(struct ipam__heap *h, uint32_t size)
{
	return size < 256 ? &h->free_head[size] : &h->large_head;
}

static void list_add(ipam_view *v, struct ipam__rec *b, ipam__rid id, uint32_t size)
{
	struct ipam__heap *h = &v->heap;
	ipam__rid *head = list_of(h, size);

	b->next[0] = *head;
	b->next[1] = 0;
	if (*head)
		ipam__rec_block(v, *head)->next[1] = id;
	*head = id;
	if (size < 256)
		h->nonempty[size / 64] |= 1ull << (size % 64);
}

static void list_del(ipam_view *v, struct ipam__rec *b)
{
	struct ipam__heap *h = &v->heap;
	uint32_t size = fb_size(b);
	ipam__rid *head = list_of(h, size);

	if (b->next[1])
		ipam__rec_block(v, b->next[1])->next[0] = b->next[0];
	else
		*head = b->next[0];
	if (b->next[0])
		ipam__rec_block(v, b->next[0])->next[1] = b->next[1];
	if (size < 256 && !*head)
		h->nonempty[size / 64] &= ~(1ull << (size % 64));
}

/* A free block's size, in its header and in its last four bytes. */
static void fb_set_size(struct ipam__rec *b, uint32_t size)
{
	b->addr_lo = size;
	memcpy((char *)b + (size_t)size * 8 - 4, &size, 4);
}

/* Make [id, id + size) one free block and list it; the end bit of its last
 * unit is the caller's. */
static void fb_make(ipam_view *v, ipam__rid id, uint32_t size)
{
	struct ipam__rec *b = ipam__rec_block(v, id);

	b->self = id;
	b->state = FREE_STATE;
	fb_set_size(b, size);
	list_add(v, b, id, size);
}

/* The listed free block b is now the free block [id, id + size), which
 * covers it or its rest (a merge or a split); end marks are the caller's.
 * A large block that stays large keeps its place on its list. */
static void fb_move(ipam_view *v, struct ipam__rec *b, ipam__rid id, uint32_t size)
{
	struct ipam__heap *h = &v->heap;
	struct ipam__rec *nb = ipam__rec_block(v, id);
	ipam__rid next = b->next[0], prev = b->next[1];

	if (fb_size(b) < 256 || size < 256) {
		list_del(v, b);
		fb_make(v, id, size);
		return;
	}
	if (nb != b) {
		if (prev)
			ipam__rec_block(v, prev)->next[0] = id;
		else
			h->large_head = id;
		if (next)
			ipam__rec_block(v, next)->next[1] = id;
		nb->next[0] = next;
		nb->next[1] = prev;
		nb->self = id;
		nb->state = FREE_STATE;
	}
	fb_set_size(nb, size);
}

static int chunk_whole(ipam__rid id, uint32_t size)
{
	uint32_t c = id >> IPAM__HEAP_UNIT_BITS, u = id & (UNITS_PER_CHUNK - 1);
	return u == chunk_first(c) && size == CHUNK_UNITS - chunk_first(c);
}

/* Every chunk back; the chunk table stays. */
static void free_chunks(struct ipam__heap *h)
{
	char **table = h->chunks;
	uint32_t cap = h->cap;

	for (uint32_t i = 0; i < h->nchunks; i++)
		if (table[i])
			ipam__release(table[i], IPAM__HEAP_CHUNK);
	memset(h, 0, sizeof(*h));
	h->chunks = table;
	h->cap = cap;
}

int ipam__heap_init(ipam_view *v)
{
	memset(&v->heap, 0, sizeof(v->heap));
	memset(&v->strs, 0, sizeof(v->strs));
	/* Each size recorded with its allocation: ipam__heap_fini() gives
	 * back what a failed init got, with the right size. */
	if (!(v->strs.e = ipam__calloc(8, sizeof(*v->strs.e))))
		return -ENOMEM;
	v->strs.cap = 8;
	v->strs.n = 1; /* id 0: "" */
	if (!(v->strs.b = ipam__calloc(16, sizeof(*v->strs.b))))
		return -ENOMEM;
	v->strs.nb = 16;
	return 0;
}

void ipam__heap_fini(ipam_view *v)
{
	free_chunks(&v->heap);
	ipam__release(v->heap.chunks, v->heap.cap * sizeof(*v->heap.chunks));
	ipam__release(v->strs.e, v->strs.cap * sizeof(*v->strs.e));
	ipam__release(v->strs.b, v->strs.nb * sizeof(*v->strs.b));
	memset(&v->heap, 0, sizeof(v->heap));
	memset(&v->strs, 0, sizeof(v->strs));
}

void ipam__heap_clear(ipam_view *v)
{
	free_chunks(&v->heap);
	/* Every string goes with the records; the tables keep their size. */
	memset(v->strs.b, 0, v->strs.nb * sizeof(*v->strs.b));
	v->strs.n = 1;
	v->strs.count = 0;
	v->strs.free_head = 0;
	v->strs.last[0] = v->strs.last[1] = 0;
}

size_t ipam__heap_bytes(const ipam_view *v)
{
	return (size_t)(v->heap.nchunks - v->heap.holes) * IPAM__HEAP_CHUNK +
	       v->heap.cap * sizeof(*v->heap.chunks) + v->strs.cap * sizeof(*v->strs.e) +
	       v->strs.nb * sizeof(*v->strs.b);
}

/* Room in the chunk table for `more` chunks (growing it at least twofold). */
static int table_room(struct ipam__heap *h, size_t more)
{
	size_t need = h->nchunks + more, ncap = h->cap ? 2 * (size_t)h->cap : 4;
	char **nc;

	if (need > IPAM__HEAP_MAX_CHUNKS)
		return -ENOMEM;
	if (need <= h->cap)
		return 0;
	if (ncap < need)
		ncap = need;
	nc = ipam__resize(h->chunks, h->cap * sizeof(*nc), ncap * sizeof(*nc));
	if (!nc)
		return -ENOMEM;
	h->chunks = nc;
	h->cap = (uint32_t)ncap;
	return 0;
}

/* A new chunk, in a slot given back if there is one: one free block. */
static int chunk_add(ipam_view *v)
{
	struct ipam__heap *h = &v->heap;
	uint32_t c = h->nchunks;
	char *m;

	if (!h->holes && table_room(h, 1) < 0)
		return -ENOMEM;
	m = ipam__alloc(IPAM__HEAP_CHUNK);
	if (!m)
		return -ENOMEM;
	if (h->holes) {
		for (c = 0; h->chunks[c]; c++)
			;
		h->holes--;
	} else {
		h->nchunks++;
	}
	h->chunks[c] = m;
	memset(end_bits(h, c), 0, IPAM__HEAP_CHUNK - (size_t)CHUNK_UNITS * 8);
	end_bit_set(h, (c << IPAM__HEAP_UNIT_BITS) + CHUNK_UNITS - 1, 1);
	fb_make(v, (c << IPAM__HEAP_UNIT_BITS) + chunk_first(c), CHUNK_UNITS - chunk_first(c));
	h->free_units += CHUNK_UNITS - chunk_first(c);
	h->spare++;
	return 0;
}

/* The smallest size class from `from` (< 256) with a free block, 0 if none. */
static unsigned class_from(const struct ipam__heap *h, unsigned from)
{
	for (unsigned w = from / 64; w < 4; w++) {
		uint64_t bits = h->nonempty[w];
		if (w == from / 64)
			bits &= ~0ull << (from % 64);
		if (bits)
			return w * 64 + (unsigned)__builtin_ctzll(bits);
	}
	return 0;
}

/* The free block for a record of `units` units, 0 if none: one that fits
 * with little to spare; else the smallest that leaves a block behind when
 * split; else one with more to spare than SLACK_UNITS but too little to
 * split. */
static ipam__rid pick(const ipam_view *v, unsigned units)
{
	const struct ipam__heap *h = &v->heap;
	unsigned c, s;
	ipam__rid id;

	if (h->free_head[units]) /* churn of records of one size */
		return h->free_head[units];
	/* (No list at all, the usual case while records of one size churn
	 * next to a chunk's free rest: skip the scan, about 20 instructions
	 * of an allocate+release in bench-ctx.) */
	c = h->nonempty[0] | h->nonempty[1] | h->nonempty[2] | h->nonempty[3]
		    ? class_from(h, units)
		    : 0;
	if (c && c - units <= SLACK_UNITS)
		return h->free_head[c];
	s = c && units + MIN_UNITS < 256 ? class_from(h, units + MIN_UNITS) : 0;
	if (s)
		return h->free_head[s];
	/* A large block (the first leaves a block behind unless the record
	 * is within MIN_UNITS of the largest). One of 256 to 261 units is
	 * passed over by a record of 249 to 255 (taken whole it would not fit
	 * the record's 8-bit size): such a record may start a chunk while it
	 * stays free. */
	for (id = h->large_head; id; id = ipam__rec_block(v, id)->next[0])
		if (fb_size(ipam__rec_block(v, id)) >= units + MIN_UNITS)
			return id;
	return c ? h->free_head[c] : 0;
}

struct ipam__rec *ipam__heap_alloc(ipam_view *v, unsigned units)
{
	struct ipam__heap *h = &v->heap;
	struct ipam__rec *b;
	ipam__rid id;
	uint32_t size;

	if (units < MIN_UNITS || units > 255)
		return NULL; /* no record has that size */
	id = pick(v, units);
	if (!id) {
		if (chunk_add(v) < 0)
			return NULL;
		id = h->large_head;
	}
	b = ipam__rec_block(v, id);
	size = fb_size(b);
	if (chunk_whole(id, size))
		h->spare--;
	if (size - units >= MIN_UNITS) {
		/* The rest stays free, its last unit still marked. */
		fb_move(v, b, id + units, size - units);
		size = units;
	} else {
		list_del(v, b);
		end_bit_set(h, id + size - 1, 0);
	}
	h->free_units -= size;
	b->units = (uint8_t)size;
	b->self = id;
	b->state = 0; /* not FREE_STATE: a live block from here on */
	h->live++;
	return b;
}

void ipam__heap_free(ipam_view *v, struct ipam__rec *b)
{
	struct ipam__heap *h = &v->heap;
	ipam__rid id = b->self;
	uint32_t c = id >> IPAM__HEAP_UNIT_BITS, u = id & (UNITS_PER_CHUNK - 1);
	uint32_t size = b->units;
	struct ipam__rec *next = NULL, *prev = NULL;

	h->live--;
	h->free_units += size;
	/* The block after: merged if free; else this block's last unit is
	 * the end of a free block now. */
	if (u + size < CHUNK_UNITS && ipam__rec_block(v, id + size)->state == FREE_STATE) {
		next = ipam__rec_block(v, id + size);
		size += fb_size(next);
	} else {
		end_bit_set(h, id + size - 1, 1);
	}
	/* The block before, found by its marked last unit and its size. */
	if (u > chunk_first(c) && end_bit(h, id - 1)) {
		uint32_t p = fb_footer(v, id - 1);
		prev = ipam__rec_block(v, id - p);
		end_bit_set(h, id - 1, 0);
		id -= p;
		size += p;
	}
	if (prev && next)
		list_del(v, next);
	if (prev || next)
		fb_move(v, prev ? prev : next, id, size);
	else
		fb_make(v, id, size);
	if (chunk_whole(id, size) && ++h->spare > 1) {
		/* A second chunk with no record: give it back. */
		list_del(v, ipam__rec_block(v, id));
		ipam__release(h->chunks[c], IPAM__HEAP_CHUNK);
		h->chunks[c] = NULL;
		h->free_units -= size;
		h->spare--;
		h->holes++;
		while (h->nchunks && !h->chunks[h->nchunks - 1]) {
			h->nchunks--;
			h->holes--;
		}
	}
}

int ipam__heap_reserve(ipam_view *v, size_t bytes)
{
	struct ipam__heap *h = &v->heap;
	size_t per = (size_t)CHUNK_UNITS * 8;

	/* Slots only (a pointer each): as if no free block could be used. */
	return table_room(h, (bytes + per - 1) / per);
}

int ipam__heap_verify(const ipam_view *v)
{
	const struct ipam__heap *h = &v->heap;
	size_t live = 0, free_units = 0, listed = 0, nfree = 0;
	uint32_t spare = 0, holes = 0;

	for (uint32_t c = 0; c < h->nchunks; c++) {
		int prev_free = 0;
		uint32_t u = chunk_first(c);
		size_t marks = 0, chunk_free = 0;

		if (!h->chunks[c]) {
			holes++;
			continue;
		}
		while (u < CHUNK_UNITS) {
			ipam__rid id = (c << IPAM__HEAP_UNIT_BITS) + u;
			const struct ipam__rec *b = ipam__rec_block(v, id);
			int is_free = b->state == FREE_STATE;
			uint32_t size = is_free ? fb_size(b) : b->units;

			if (size < MIN_UNITS || size > CHUNK_UNITS - u || b->self != id)
				return ipam__fail(-EBADMSG, "verify", NULL,
						  "heap: bad block at chunk %u unit %u (size %u)", c, u,
						  size);
			if (end_bit(h, id + size - 1) != is_free)
				return ipam__fail(-EBADMSG, "verify", NULL,
						  "heap: end mark of the block at %u/%u is wrong", c, u);
			if (is_free) {
				if (prev_free || fb_footer(v, id + size - 1) != size)
					return ipam__fail(-EBADMSG, "verify", NULL,
							  "heap: free block at %u/%u not merged or "
							  "without its size at the end",
							  c, u);
				nfree++;
				free_units += size;
				spare += chunk_whole(id, size);
			} else {
				live++;
			}
			prev_free = is_free;
			chunk_free += (size_t)is_free;
			u += size;
		}
		/* Each free block's last unit marked (above), and no other. */
		for (size_t w = 0; w < UNITS_PER_CHUNK / 64; w++)
			marks += (size_t)__builtin_popcountll(end_bits(h, c)[w]);
		if (marks != chunk_free)
			return ipam__fail(-EBADMSG, "verify", NULL,
					  "heap: chunk %u has %zu end marks for %zu free blocks", c,
					  marks, chunk_free);
	}
	for (unsigned s = 0; s <= 256; s++) {
		ipam__rid id = s < 256 ? h->free_head[s] : h->large_head, prev = 0;
		if (s < 256 && !!id != !!(h->nonempty[s / 64] >> (s % 64) & 1))
			return ipam__fail(-EBADMSG, "verify", NULL, "heap: list mark %u is wrong", s);
		for (; id; prev = id, id = ipam__rec_block(v, id)->next[0]) {
			const struct ipam__rec *b = ipam__rec_block(v, id);
			if (b->state != FREE_STATE || b->next[1] != prev ||
			    (s < 256 ? fb_size(b) != s : fb_size(b) < 256) || ++listed > nfree)
				return ipam__fail(-EBADMSG, "verify", NULL,
						  "heap: list %u holds a wrong block", s);
		}
	}
	if (listed != nfree || live != h->live || free_units != h->free_units ||
	    spare != h->spare || spare > 1 || holes != h->holes ||
	    (h->nchunks && !h->chunks[h->nchunks - 1]))
		return ipam__fail(-EBADMSG, "verify", NULL,
				  "heap: counts disagree (%zu of %zu free blocks listed, %zu records "
				  "for %zu, %zu free units for %zu, %u empty chunks for %u, %u holes "
				  "for %u)",
				  listed, nfree, live, h->live, free_units, h->free_units, spare,
				  h->spare, holes, h->holes);
	return 0;
}

/* ---- interned strings ---------------------------------------------------------------- */

static uint64_t str_hash(const ipam_view *v, const char *s, size_t len)
{
	return ipam__hash(s, len, v->seed ^ 0x737472ull);
}

static int intern_grow_buckets(struct ipam__intern *t)
{
	uint32_t nb = t->nb * 2, *b = ipam__calloc(nb, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (uint32_t i = 1; i < t->n; i++) {
		struct ipam__istr *x = &t->e[i];
		if (!x->refs)
			continue;
		x->next = b[x->hash & (nb - 1)];
		b[x->hash & (nb - 1)] = i;
	}
	ipam__release(t->b, t->nb * sizeof(*t->b));
	t->b = b;
	t->nb = nb;
	return 0;
}

/* The id of s (len < 64 bytes) with one more reference, or -ENOMEM.
 * slot: 0 for an ifname, 1 for a node (each remembers its last one). */
static int64_t intern(ipam_view *v, const char *s, size_t len, int slot)
{
	struct ipam__intern *t = &v->strs;
	struct ipam__istr *x = &t->e[t->last[slot]];
	uint64_t h;
	uint32_t id;

	if (len == 0)
		return 0;
	if (t->last[slot] && x->len == len && memcmp(x->s, s, len) == 0) {
		x->refs++;
		return t->last[slot];
	}
	h = str_hash(v, s, len);
	for (id = t->b[h & (t->nb - 1)]; id; id = t->e[id].next) {
		x = &t->e[id];
		if (x->hash == h && x->len == len && memcmp(x->s, s, len) == 0) {
			x->refs++;
			t->last[slot] = id;
			return id;
		}
	}
	if (t->count + 1 > t->nb && intern_grow_buckets(t) < 0)
		return -ENOMEM;
	if (t->free_head) {
		id = t->free_head;
		t->free_head = t->e[id].next;
	} else {
		if (t->n == UINT32_MAX)
			return -ENOMEM;
		if (t->n == t->cap) {
			uint32_t ncap = t->cap * 2;
			struct ipam__istr *ne =
				ipam__resize(t->e, t->cap * sizeof(*ne), ncap * sizeof(*ne));
			if (!ne)
				return -ENOMEM;
			t->e = ne;
			t->cap = ncap;
		}
		id = t->n++;
	}
	x = &t->e[id];
	x->hash = h;
	x->refs = 1;
	x->len = (uint8_t)len;
	memcpy(x->s, s, len);
	x->s[len] = '\0';
	x->next = t->b[h & (t->nb - 1)];
	t->b[h & (t->nb - 1)] = id;
	t->count++;
	t->last[slot] = id;
	return id;
}

static void unintern(ipam_view *v, uint32_t id)
{
	struct ipam__intern *t = &v->strs;
	struct ipam__istr *x;
	uint32_t *pp;

	if (!id || --t->e[id].refs)
		return;
	x = &t->e[id];
	for (pp = &t->b[x->hash & (t->nb - 1)]; *pp; pp = &t->e[*pp].next) {
		if (*pp == id) {
			*pp = x->next;
			break;
		}
	}
	x->next = t->free_head;
	t->free_head = id;
	t->count--;
	for (int i = 0; i < 2; i++)
		if (t->last[i] == id)
			t->last[i] = 0;
}

/* id with one more reference if given (a string already interned: a
 * record rebuilt from another), else intern(). */
static int64_t intern_again(ipam_view *v, uint32_t id, const char *s, size_t len, int slot)
{
	if (id) {
		v->strs.e[id].refs++;
		return id;
	}
	return intern(v, s, len, slot);
}

/* ---- attachments ---------------------------------------------------------------------- */

#if defined(__SSE2__)
/* Sixteen digits into eight bytes, 0 if any is not a lowercase hex digit
 * (SSE2: every x86-64). A byte is a digit if c - '0' <= 9 and a letter if
 * c - 'a' <= 5, unsigned. */
static int pack16(const char *s, uint8_t out[8])
{
	__m128i x = _mm_loadu_si128((const __m128i *)(const void *)s);
	__m128i d = _mm_sub_epi8(x, _mm_set1_epi8('0'));
	__m128i l = _mm_sub_epi8(x, _mm_set1_epi8('a'));
	__m128i isd = _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d);
	__m128i isl = _mm_cmpeq_epi8(_mm_min_epu8(l, _mm_set1_epi8(5)), l);
	__m128i v, p;

	if (_mm_movemask_epi8(_mm_or_si128(isd, isl)) != 0xffff)
		return 0;
	v = _mm_or_si128(_mm_and_si128(isd, d), _mm_and_si128(isl, _mm_add_epi8(l, _mm_set1_epi8(10))));
	/* Each 16-bit lane: first digit in its low byte, second in its high. */
	p = _mm_or_si128(_mm_slli_epi16(_mm_and_si128(v, _mm_set1_epi16(0x00ff)), 4),
			 _mm_srli_epi16(v, 8));
	_mm_storel_epi64((__m128i *)(void *)out, _mm_packus_epi16(p, p));
	return 1;
}

#endif

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int ipam__hex64_pack_digits(const char *s, size_t len, uint8_t out[32])
{
	if (len != 64)
		return 0;
	for (size_t i = 0; i < 32; i++) {
		int hi = hexval((unsigned char)s[2 * i]), lo = hexval((unsigned char)s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return 0;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 1;
}

int ipam__hex64_pack(const char *s, size_t len, uint8_t out[32])
{
#if defined(__SSE2__)
	/* On every load and lookup of an attachment: 16 digits per step. */
	return len == 64 && pack16(s, out) && pack16(s + 16, out + 8) && pack16(s + 32, out + 16) &&
	       pack16(s + 48, out + 24);
#else
	return ipam__hex64_pack_digits(s, len, out);
#endif
}

static const char hexdig[] = "0123456789abcdef";

int ipam__rec_attach_eq(const struct ipam__rec *r, const char *key, size_t key_len)
{
	const uint8_t *a = ipam__rec_attach_raw(r);
	uint8_t bin[32];

	if (!(r->flags & IPAM__REC_ATTACH_HEX))
		return r->attach_len == key_len && memcmp(a, key, key_len) == 0;
	/* A packed id is lowercase hex: a key that does not pack is another. */
	return ipam__hex64_pack(key, key_len, bin) && memcmp(a, bin, sizeof(bin)) == 0;
}

int ipam__rec_attach_same(const struct ipam__rec *a, const struct ipam__rec *b)
{
	return (a->flags & IPAM__REC_ATTACH_HEX) == (b->flags & IPAM__REC_ATTACH_HEX) &&
	       a->attach_len == b->attach_len &&
	       memcmp(ipam__rec_attach_raw(a), ipam__rec_attach_raw(b), ipam__rec_attach_size(a)) == 0;
}

char *ipam__rec_attach_text(const struct ipam__rec *r, char *buf)
{
	const uint8_t *a = ipam__rec_attach_raw(r);

	if (!(r->flags & IPAM__REC_ATTACH_HEX)) {
		memcpy(buf, a, (size_t)r->attach_len + 1);
		return buf;
	}
	for (size_t i = 0; i < 32; i++) {
		buf[2 * i] = hexdig[a[i] >> 4];
		buf[2 * i + 1] = hexdig[a[i] & 15];
	}
	buf[64] = '\0';
	return buf;
}

/* ---- building records ------------------------------------------------------------------ */

/* What a record is made from: the strings counted, attrs already in their
 * record form (key\0 value\0)... or in the decoder's (len, bytes) form. */
struct rec_src {
	ipam__u128 addr;
	uint64_t generation;
	int64_t created, updated, expires, suspect_since;
	unsigned state, nattrs;
	const char *owner, *ifname, *attach, *node;
	size_t owner_len, ifname_len, attach_len, node_len;
	const ipam_attr *attrs;  /* public form, or */
	const uint8_t *enc_attrs; /* the decoder's, enc_len bytes, or */
	const char *rec_attrs;    /* a record's, rec_len bytes (copied as they are) */
	size_t enc_len, rec_len;
	const uint8_t *packed; /* the attachment already packed, or NULL: try */
	/* Interned ids to take another reference on (0: intern the string) */
	uint32_t ifname_id, node_id;
};

static int fits_u32(int64_t t)
{
	return t >= 0 && t <= (int64_t)UINT32_MAX;
}

static int rec_build(ipam_view *v, struct ipam__rec **out, const struct rec_src *s, unsigned pool)
{
	unsigned flags = 0;
	uint8_t hex[32];
	size_t attrs_size = 0, size;
	int64_t id_if, id_node;
	struct ipam__rec *r;
	char *p;

	if ((uint64_t)(s->addr >> 64))
		flags |= IPAM__REC_ADDR_HI;
	if (!fits_u32(s->created) || !fits_u32(s->updated))
		flags |= IPAM__REC_TIMES64;
	if (s->expires)
		flags |= IPAM__REC_EXPIRES;
	if (s->suspect_since)
		flags |= IPAM__REC_SUSPECT;
	if (s->packed)
		memcpy(hex, s->packed, sizeof(hex));
	if (s->packed || ipam__hex64_pack(s->attach, s->attach_len, hex))
		flags |= IPAM__REC_ATTACH_HEX;
	if (s->attrs) {
		for (unsigned i = 0; i < s->nattrs; i++)
			attrs_size += strlen(s->attrs[i].key) + strlen(s->attrs[i].value) + 2;
	} else if (s->rec_attrs) {
		attrs_size = s->rec_len;
	} else {
		attrs_size = s->enc_len; /* (len, bytes) pairs become (bytes, NUL) */
	}
	size = sizeof(*r) + 8 * ipam__rec_words(flags) + s->owner_len + 1 +
	       (flags & IPAM__REC_ATTACH_HEX ? 32 : s->attach_len + 1) + attrs_size;
	if ((id_if = intern_again(v, s->ifname_id, s->ifname, s->ifname_len, 0)) < 0)
		return -ENOMEM;
	if ((id_node = intern_again(v, s->node_id, s->node, s->node_len, 1)) < 0) {
		unintern(v, (uint32_t)id_if);
		return -ENOMEM;
	}
	r = ipam__heap_alloc(v, (unsigned)((size + 7) / 8));
	if (!r) {
		unintern(v, (uint32_t)id_node);
		unintern(v, (uint32_t)id_if);
		return -ENOMEM;
	}
	memset(r->next, 0, sizeof(r->next));
	r->addr_lo = (uint64_t)s->addr;
	r->generation = s->generation;
	r->created = (uint32_t)s->created;
	r->updated = (uint32_t)s->updated;
	r->ifname = (uint32_t)id_if;
	r->node = (uint32_t)id_node;
	r->pool = (uint16_t)pool;
	r->state = (uint8_t)s->state;
	r->flags = (uint8_t)flags;
	r->owner_len = (uint8_t)s->owner_len;
	r->attach_len = (uint8_t)s->attach_len;
	r->nattrs = (uint8_t)s->nattrs;
	p = r->data;
	if (flags & IPAM__REC_ADDR_HI) {
		uint64_t hi = (uint64_t)(s->addr >> 64);
		memcpy(p, &hi, 8);
		p += 8;
	}
	if (flags & IPAM__REC_TIMES64) {
		memcpy(p, &s->created, 8);
		memcpy(p + 8, &s->updated, 8);
		p += 16;
	}
	if (flags & IPAM__REC_EXPIRES) {
		memcpy(p, &s->expires, 8);
		p += 8;
	}
	if (flags & IPAM__REC_SUSPECT) {
		memcpy(p, &s->suspect_since, 8);
		p += 8;
	}
	memcpy(p, s->owner, s->owner_len);
	p += s->owner_len;
	*p++ = '\0';
	if (flags & IPAM__REC_ATTACH_HEX) {
		memcpy(p, hex, 32);
		p += 32;
	} else {
		memcpy(p, s->attach, s->attach_len);
		p += s->attach_len;
		*p++ = '\0';
	}
	if (s->attrs) {
		for (unsigned i = 0; i < s->nattrs; i++) {
			size_t k = strlen(s->attrs[i].key) + 1, n = strlen(s->attrs[i].value) + 1;
			memcpy(p, s->attrs[i].key, k);
			p += k;
			memcpy(p, s->attrs[i].value, n);
			p += n;
		}
	} else if (s->rec_attrs) {
		memcpy(p, s->rec_attrs, s->rec_len);
	} else {
		for (size_t i = 0; i < s->enc_len;) {
			size_t n = s->enc_attrs[i];
			memcpy(p, s->enc_attrs + i + 1, n);
			p += n;
			*p++ = '\0';
			i += n + 1;
		}
	}
	*out = r;
	return 0;
}

int ipam__rec_new(ipam_view *v, struct ipam__rec **out, const ipam_lease *l, unsigned pool)
{
	struct rec_src s = {
		.addr = ipam__addr_value(&l->addr),
		.generation = l->generation,
		.created = l->created,
		.updated = l->updated,
		.expires = l->expires,
		.suspect_since = l->suspect_since,
		.state = (unsigned)l->state,
		.nattrs = l->nattrs,
		.owner = l->owner,
		.ifname = l->ifname,
		.attach = l->attachment,
		.node = l->node,
		.owner_len = strlen(l->owner),
		.ifname_len = strlen(l->ifname),
		.attach_len = strlen(l->attachment),
		.node_len = strlen(l->node),
		.attrs = l->attrs,
		.enc_attrs = NULL,
		.enc_len = 0,
		.packed = NULL,
	};

	return rec_build(v, out, &s, pool);
}

int ipam__rec_new_ref(ipam_view *v, struct ipam__rec **out, const struct ipam__lease_ref *l,
		      unsigned pool, const uint8_t *packed)
{
	struct rec_src s = {
		.addr = ipam__addr_value(&l->addr),
		.generation = l->generation,
		.created = l->created,
		.updated = l->updated,
		.expires = l->expires,
		.suspect_since = l->suspect_since,
		.state = l->state,
		.nattrs = l->nattrs,
		.owner = l->owner,
		.ifname = l->ifname,
		.attach = l->attach,
		.node = l->node,
		.owner_len = l->owner_len,
		.ifname_len = l->ifname_len,
		.attach_len = l->attach_len,
		.node_len = l->node_len,
		.attrs = NULL,
		.enc_attrs = l->attrs,
		.enc_len = l->attrs_len,
		.packed = packed,
	};

	return rec_build(v, out, &s, pool);
}

int ipam__rec_new_dop(ipam_view *v, struct ipam__rec **out, const struct ipam__dop *d)
{
	const struct ipam__rec *b = d->base;
	struct rec_src s = {
		.addr = d->addr,
		.generation = 0,
		.created = d->created,
		.updated = d->updated,
		.expires = d->expires,
		.suspect_since = d->suspect_since,
		.state = d->state,
		.nattrs = d->nattrs,
		.owner = d->owner,
		.ifname = d->ifname,
		.attach = d->attach,
		.node = d->node,
		.owner_len = d->owner_len,
		.ifname_len = d->ifname_len,
		.attach_len = d->attach_len,
		.node_len = d->node_len,
		.attrs = d->attrs,
		.packed = d->attach && d->attach_packed ? d->bin : NULL,
	};

	if (b) {
		if (!d->owner) {
			s.owner = ipam__rec_owner(b);
			s.owner_len = b->owner_len;
		}
		if (!d->ifname)
			s.ifname_id = b->ifname;
		if (!d->node)
			s.node_id = b->node;
		if (!d->attach) {
			s.attach_len = b->attach_len;
			if (b->flags & IPAM__REC_ATTACH_HEX)
				s.packed = ipam__rec_attach_raw(b);
			else
				s.attach = (const char *)ipam__rec_attach_raw(b);
		}
		if (!d->attrs && b->nattrs) {
			const char *a = ipam__rec_attrs(b), *p = a;
			for (unsigned i = 0; i < 2u * b->nattrs; i++)
				p += strlen(p) + 1;
			s.nattrs = b->nattrs;
			s.rec_attrs = a;
			s.rec_len = (size_t)(p - a);
		}
	}
	if (!s.attrs && !s.rec_attrs)
		s.nattrs = 0;
	return rec_build(v, out, &s, d->pool);
}

void ipam__rec_free(ipam_view *v, struct ipam__rec *r)
{
	if (!r)
		return;
	unintern(v, r->ifname);
	unintern(v, r->node);
	ipam__heap_free(v, r);
}

void ipam__rec_export(const ipam_view *v, const struct ipam__rec *r, const char *pool_name,
		      ipam_lease *out)
{
	const struct ipam__istr *ifn = &v->strs.e[r->ifname], *node = &v->strs.e[r->node];
	size_t pn = strnlen(pool_name, sizeof(out->pool) - 1);
	const char *p;

	/* Field by field, no memset of the whole (large) struct: this is on
	 * the path of every allocation and release. */
	memcpy(out->pool, pool_name, pn);
	out->pool[pn] = '\0';
	memset(&out->addr, 0, sizeof(out->addr));
	out->addr.family = ipam__rec_family(v, r);
	ipam__addr_set_value(&out->addr, ipam__rec_addr(r));
	memcpy(out->owner, ipam__rec_owner(r), (size_t)r->owner_len + 1);
	memcpy(out->ifname, ifn->s, (size_t)ifn->len + 1);
	ipam__rec_attach_text(r, out->attachment);
	memcpy(out->node, node->s, (size_t)node->len + 1);
	out->generation = r->generation;
	out->state = (ipam_lease_state)r->state;
	out->created = ipam__rec_created(r);
	out->updated = ipam__rec_updated(r);
	out->expires = ipam__rec_expires(r);
	out->suspect_since = ipam__rec_suspect_since(r);
	out->nattrs = r->nattrs;
	p = ipam__rec_attrs(r);
	for (unsigned i = 0; i < r->nattrs; i++) {
		size_t k = strlen(p), n;
		memcpy(out->attrs[i].key, p, k + 1);
		p += k + 1;
		n = strlen(p);
		memcpy(out->attrs[i].value, p, n + 1);
		p += n + 1;
	}
}

void ipam__dop_export(const ipam_view *v, const struct ipam__dop *d, ipam_op *op)
{
	const ipam_pool *pool = v->pools[d->pool].pool;
	ipam_lease *l = &op->lease;

	op->kind = d->kind;
	op->pool = d->pool;
	op->flags = 0;
	if (d->base) {
		ipam__rec_export(v, d->base, ipam_pool_name(pool), l);
	} else {
		ipam__strlcpy(l->pool, ipam_pool_name(pool), sizeof(l->pool));
		memset(&l->addr, 0, sizeof(l->addr));
		l->addr.family = ipam_pool_family(pool);
		ipam__addr_set_value(&l->addr, d->addr);
		l->owner[0] = l->ifname[0] = l->attachment[0] = l->node[0] = '\0';
		l->generation = 0;
		l->state = IPAM_LEASE_BOUND;
		l->created = l->updated = l->expires = l->suspect_since = 0;
		l->nattrs = 0;
	}
	if (d->kind != IPAM_OP_PUT)
		return;
	l->state = (ipam_lease_state)d->state;
	l->created = d->created;
	l->updated = d->updated;
	l->expires = d->expires;
	l->suspect_since = d->suspect_since;
	if (d->owner)
		ipam__strput(l->owner, d->owner, d->owner_len);
	if (d->ifname)
		ipam__strput(l->ifname, d->ifname, d->ifname_len);
	if (d->attach)
		ipam__strput(l->attachment, d->attach, d->attach_len);
	if (d->node)
		ipam__strput(l->node, d->node, d->node_len);
	if (d->attrs) {
		l->nattrs = d->nattrs;
		for (unsigned i = 0; i < d->nattrs; i++)
			l->attrs[i] = d->attrs[i];
	}
}

uint64_t ipam__rec_owner_tag(const ipam_view *v, const struct ipam__rec *r)
{
	const struct ipam__istr *ifn = &v->strs.e[r->ifname];

	return ipam__view_owner_tag_h(v, ipam__view_hash_owner(v, ipam__rec_owner(r), r->owner_len),
				      ifn->s, ifn->len);
}
