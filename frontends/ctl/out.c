/* SPDX-License-Identifier: MIT */
/*
 * Output rules of ipamctl: one-line errors on stderr, aligned tables on
 * stdout with colour only when asked for (a terminal without NO_COLOR),
 * humanised ages and counts, and the JSON form of a lease shared by every
 * listing and by export/import.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"

static void verr(int r, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void verr(int r, const char *fmt, va_list ap)
{
	fputs("ipamctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	if (r) {
		const char *m = ipam_last_error_message();
		fprintf(stderr, ": %s", *m ? m : ipam_strerror(r));
	}
	fputc('\n', stderr);
}

int ctl_err(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(0, fmt, ap);
	va_end(ap);
	return code;
}

int ctl_err_ipam(int code, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(r, fmt, ap);
	va_end(ap);
	return code;
}

/* ---- tables ------------------------------------------------------------------- */

struct ctl_table {
	unsigned ncols, nrows, cap;
	char **cells;        /* nrows+1 rows (header first) of ncols */
	const char **colors; /* per cell, may be NULL */
};

ctl_table *ctl_table_new(unsigned ncols, const char *const *headers)
{
	ctl_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->ncols = ncols;
	ctl_table_add(t, headers, NULL);
	return t;
}

void ctl_table_add(ctl_table *t, const char *const *cells, const char *const *colors)
{
	if (!t)
		return;
	if (t->nrows == t->cap) {
		unsigned cap = t->cap ? 2 * t->cap : 16;
		char **c = realloc(t->cells, (size_t)cap * t->ncols * sizeof(*c));
		const char **k;
		if (!c)
			return;
		t->cells = c;
		k = realloc(t->colors, (size_t)cap * t->ncols * sizeof(*k));
		if (!k)
			return;
		t->colors = k;
		t->cap = cap;
	}
	for (unsigned i = 0; i < t->ncols; i++) {
		t->cells[t->nrows * t->ncols + i] = strdup(cells[i] ? cells[i] : "");
		t->colors[t->nrows * t->ncols + i] = colors ? colors[i] : NULL;
	}
	t->nrows++;
}

/* Numeric-looking columns are right-aligned. */
static int numeric(const char *s)
{
	if (!*s || (*s < '0' || *s > '9'))
		return 0;
	/* A count ("253", "1.8E", "15.8%"), not an address: one dot at most. */
	return strspn(s, "0123456789.%kMGTPEZYe+") == strlen(s) && strchr(s, '.') == strrchr(s, '.');
}

void ctl_table_print(ctl_table *t, FILE *f, int color)
{
	size_t *w;
	int *right;

	if (!t)
		return;
	w = calloc(t->ncols, sizeof(*w));
	right = calloc(t->ncols, sizeof(*right));
	if (!w || !right)
		goto out;
	for (unsigned c = 0; c < t->ncols; c++) {
		right[c] = t->nrows > 1;
		for (unsigned r = 0; r < t->nrows; r++) {
			const char *s = t->cells[r * t->ncols + c];
			if (strlen(s) > w[c])
				w[c] = strlen(s);
			if (r > 0 && strcmp(s, "-") != 0 && !numeric(s))
				right[c] = 0;
		}
	}
	for (unsigned r = 0; r < t->nrows; r++) {
		for (unsigned c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			const char *k = r == 0 ? CTL_BOLD : t->colors[r * t->ncols + c];
			int pad = (int)(w[c] - strlen(s));
			int last = c + 1 == t->ncols;
			if (c)
				fputs("  ", f);
			if (right[c])
				fprintf(f, "%*s", pad, "");
			if (color && k && *k)
				fprintf(f, "%s%s%s", k, s, CTL_RESET);
			else
				fputs(s, f);
			if (!right[c] && !last)
				fprintf(f, "%*s", pad, "");
		}
		fputc('\n', f);
	}
out:
	free(w);
	free(right);
}

void ctl_table_free(ctl_table *t)
{
	if (!t)
		return;
	for (unsigned i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->colors);
	free(t);
}

/* ---- humanised values ----------------------------------------------------------- */

void ctl_fmt_age(int64_t s, char *buf, size_t n)
{
	if (s < 0)
		snprintf(buf, n, "-");
	else if (s < 60)
		snprintf(buf, n, "%" PRId64 "s", s);
	else if (s < 3600)
		snprintf(buf, n, "%" PRId64 "m", s / 60);
	else if (s < 86400)
		snprintf(buf, n, "%" PRId64 "h", s / 3600);
	else
		snprintf(buf, n, "%" PRId64 "d", s / 86400);
}

double ctl_u128_double(ipam_u128 v)
{
	return (double)v.hi * 18446744073709551616.0 + (double)v.lo;
}

void ctl_fmt_count(ipam_u128 v, char *buf, size_t n)
{
	static const char suffix[] = "kMGTPEZY";
	double d = ctl_u128_double(v);
	int i = -1;

	if (v.hi == 0 && v.lo < 100000) {
		snprintf(buf, n, "%" PRIu64, v.lo);
		return;
	}
	while (d >= 1000.0 && i < 7) {
		d /= 1000.0;
		i++;
	}
	if (d >= 1000.0)
		snprintf(buf, n, "%.1e", ctl_u128_double(v));
	else
		snprintf(buf, n, "%.1f%c", d, suffix[i]);
}

void ctl_fmt_time(int64_t t, char *buf, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == 0 || !gmtime_r(&tt, &tm)) {
		snprintf(buf, n, "-");
		return;
	}
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

const char *ctl_state_color(ipam_lease_state s)
{
	switch (s) {
	case IPAM_LEASE_BOUND:
		return CTL_GREEN;
	case IPAM_LEASE_QUARANTINED:
		return "\033[33m";
	case IPAM_LEASE_RESERVED:
		return "\033[36m";
	case IPAM_LEASE_SUSPECT:
		return CTL_RED;
	}
	return "";
}

int64_t ctl_parse_duration(const char *s)
{
	char *end;
	long long v;
	int64_t mul = 1;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || v < 0)
		return -1;
	if (*end) {
		switch (*end) {
		case 's': mul = 1; break;
		case 'm': mul = 60; break;
		case 'h': mul = 3600; break;
		case 'd': mul = 86400; break;
		default: return -1;
		}
		if (end[1])
			return -1;
	}
	if (v > INT64_MAX / mul)
		return -1;
	return (int64_t)v * mul;
}

int ctl_parse_addr(const char *text, ipam_addr *out)
{
	if (ipam_addr_parse(text, out) < 0) {
		ctl_err(0, "'%s' is not an IPv4 or IPv6 address", text);
		return -1;
	}
	return 0;
}

/* ---- JSON ------------------------------------------------------------------------ */

json_t *ctl_u128_json(ipam_u128 v)
{
	char buf[IPAM_U128_STRLEN];

	if (v.hi == 0 && v.lo <= (uint64_t)INT64_MAX)
		return json_integer((json_int_t)v.lo);
	/* Beyond a JSON integer most parsers keep exactly: a decimal string. */
	ipam_u128_format(v, buf, sizeof(buf));
	return json_string(buf);
}

json_t *ctl_lease_json(const ipam_lease *l)
{
	char a[IPAM_ADDR_STRLEN];
	json_t *attrs = json_array();

	ipam_addr_format(&l->addr, a, sizeof(a));
	for (unsigned i = 0; i < l->nattrs && i < IPAM_ATTRS_MAX; i++)
		json_array_append_new(attrs, json_pack("{s:s,s:s}", "key", l->attrs[i].key, "value",
						       l->attrs[i].value));
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:s,s:I,s:I,s:I,s:I,s:o}",
			 "pool", l->pool, "address", a, "owner", l->owner, "ifname", l->ifname,
			 "attachment", l->attachment, "node", l->node,
			 "generation", ctl_u128_json(ipam_u128_make(0, l->generation)),
			 "state", ipam_lease_state_name(l->state),
			 "created", (json_int_t)l->created, "updated", (json_int_t)l->updated,
			 "expires", (json_int_t)l->expires,
			 "suspect_since", (json_int_t)l->suspect_since, "attributes", attrs);
}

static int copy_str(json_t *o, const char *key, char *dst, size_t cap, int required, char *err,
		    size_t n)
{
	json_t *v = json_object_get(o, key);

	if (!v) {
		if (required) {
			snprintf(err, n, "lease without \"%s\"", key);
			return -EINVAL;
		}
		dst[0] = 0;
		return 0;
	}
	if (!json_is_string(v) || json_string_length(v) >= cap ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		snprintf(err, n, "lease field \"%s\" is not a string of at most %zu bytes", key, cap - 1);
		return -EINVAL;
	}
	memcpy(dst, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int get_int(json_t *o, const char *key, int64_t *out, char *err, size_t n)
{
	json_t *v = json_object_get(o, key);

	if (!v) {
		*out = 0;
		return 0;
	}
	if (!json_is_integer(v)) {
		snprintf(err, n, "lease field \"%s\" is not an integer", key);
		return -EINVAL;
	}
	*out = (int64_t)json_integer_value(v);
	return 0;
}

int ctl_lease_from_json(json_t *o, ipam_lease *l, char *err, size_t n)
{
	char addr[IPAM_ADDR_STRLEN + 8], state[32];
	json_t *g = json_object_get(o, "generation"), *attrs = json_object_get(o, "attributes");
	int r = 0;

	memset(l, 0, sizeof(*l));
	if (!json_is_object(o)) {
		snprintf(err, n, "lease is not an object");
		return -EINVAL;
	}
	r = copy_str(o, "pool", l->pool, sizeof(l->pool), 1, err, n);
	if (!r) r = copy_str(o, "address", addr, sizeof(addr), 1, err, n);
	if (!r) r = copy_str(o, "owner", l->owner, sizeof(l->owner), 1, err, n);
	if (!r) r = copy_str(o, "ifname", l->ifname, sizeof(l->ifname), 0, err, n);
	if (!r) r = copy_str(o, "attachment", l->attachment, sizeof(l->attachment), 0, err, n);
	if (!r) r = copy_str(o, "node", l->node, sizeof(l->node), 0, err, n);
	if (!r) r = copy_str(o, "state", state, sizeof(state), 1, err, n);
	if (!r) r = get_int(o, "created", &l->created, err, n);
	if (!r) r = get_int(o, "updated", &l->updated, err, n);
	if (!r) r = get_int(o, "expires", &l->expires, err, n);
	if (!r) r = get_int(o, "suspect_since", &l->suspect_since, err, n);
	if (r)
		return r;
	if (ipam_addr_parse(addr, &l->addr) < 0) {
		snprintf(err, n, "lease address '%s' is not an address", addr);
		return -EINVAL;
	}
	l->state = 0;
	for (int s = IPAM_LEASE_BOUND; s <= IPAM_LEASE_SUSPECT; s++)
		if (strcmp(state, ipam_lease_state_name((ipam_lease_state)s)) == 0)
			l->state = (ipam_lease_state)s;
	if (!l->state) {
		snprintf(err, n, "lease %s: unknown state '%s'", addr, state);
		return -EINVAL;
	}
	if (json_is_integer(g) && json_integer_value(g) > 0) {
		l->generation = (uint64_t)json_integer_value(g);
	} else if (json_is_string(g)) {
		char *end;
		errno = 0;
		l->generation = strtoull(json_string_value(g), &end, 10);
		if (errno || *end || !l->generation) {
			snprintf(err, n, "lease %s: bad generation", addr);
			return -EINVAL;
		}
	} else {
		snprintf(err, n, "lease %s: \"generation\" must be a positive integer", addr);
		return -EINVAL;
	}
	if (attrs && !json_is_array(attrs)) {
		snprintf(err, n, "lease %s: \"attributes\" is not a list", addr);
		return -EINVAL;
	}
	if (json_array_size(attrs) > IPAM_ATTRS_MAX) {
		snprintf(err, n, "lease %s: more than %d attributes", addr, IPAM_ATTRS_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < json_array_size(attrs); i++) {
		json_t *kv = json_array_get(attrs, i);
		r = copy_str(kv, "key", l->attrs[i].key, sizeof(l->attrs[i].key), 1, err, n);
		if (!r)
			r = copy_str(kv, "value", l->attrs[i].value, sizeof(l->attrs[i].value), 1, err, n);
		if (r)
			return r;
		l->nattrs++;
	}
	return 0;
}

void ctl_json_print(json_t *doc)
{
	if (!doc) {
		ctl_err(0, "out of memory");
		return;
	}
	json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	json_decref(doc);
}

/* ---- sorted lease lists ------------------------------------------------------------ */

struct lease_vec {
	ipam_lease *v;
	size_t n, cap;
};

static int collect_one(void *ud, const ipam_lease *l)
{
	struct lease_vec *lv = ud;

	if (lv->n == lv->cap) {
		size_t cap = lv->cap ? 2 * lv->cap : 256;
		ipam_lease *g = realloc(lv->v, cap * sizeof(*g));
		if (!g)
			return -ENOMEM;
		lv->v = g;
		lv->cap = cap;
	}
	lv->v[lv->n++] = *l;
	return 0;
}

static int lease_order(const void *a, const void *b)
{
	const ipam_lease *x = a, *y = b;
	int c = strcmp(x->pool, y->pool);
	return c ? c : ipam_addr_cmp(&x->addr, &y->addr);
}

int ctl_collect_leases(ipam_ctx *ctx, const char *set, const ipam_lease_filter *f, ipam_lease **out,
		       size_t *n)
{
	struct lease_vec lv = { NULL, 0, 0 };
	int r = ipam_foreach_lease(ctx, set, f, collect_one, &lv);

	if (r < 0) {
		free(lv.v);
		return r;
	}
	if (lv.n)
		qsort(lv.v, lv.n, sizeof(*lv.v), lease_order);
	*out = lv.v;
	*n = lv.n;
	return 0;
}
