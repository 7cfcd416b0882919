/* SPDX-License-Identifier: MIT */
/*
 * RFC 3339 date-times as the API server writes them ("2026-11-26T19:58:53Z";
 * the grammar also allows fractional seconds and numeric offsets), turned
 * into unix seconds with plain calendar arithmetic: no TZ, no locale, no
 * mktime/timegm. Strict: every field has its exact width and range, and
 * nothing may follow the offset.
 */
#include <errno.h>
#include <stdbool.h>

#include "k8s_internal.h"

/* Read n decimal digits at s[*i]; false if any is not a digit. */
static bool digits(const char *s, size_t len, size_t *i, unsigned n, int *out)
{
	int v = 0;
	unsigned k;

	if (len - *i < n)
		return false;
	for (k = 0; k < n; k++) {
		char c = s[*i + k];
		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*i += n;
	*out = v;
	return true;
}

static bool expect(const char *s, size_t len, size_t *i, char a, char b)
{
	if (*i >= len || (s[*i] != a && s[*i] != b))
		return false;
	(*i)++;
	return true;
}

static bool leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && leap(y) ? 29 : dim[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int ipam_k8s_parse_time(const char *s, size_t len, int64_t *out)
{
	int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, oh = 0, om = 0, sign = 0;
	bool frac_up = false;
	size_t i = 0;

	if (!s || !out)
		return -EINVAL;
	if (!digits(s, len, &i, 4, &y) || !expect(s, len, &i, '-', '-') ||
	    !digits(s, len, &i, 2, &mo) || !expect(s, len, &i, '-', '-') ||
	    !digits(s, len, &i, 2, &d) || !expect(s, len, &i, 'T', 't') ||
	    !digits(s, len, &i, 2, &h) || !expect(s, len, &i, ':', ':') ||
	    !digits(s, len, &i, 2, &mi) || !expect(s, len, &i, ':', ':') ||
	    !digits(s, len, &i, 2, &sec))
		return -ERANGE;
	if (i < len && s[i] == '.') {
		size_t start = ++i;

		for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			frac_up |= s[i] != '0';
		if (i == start)
			return -ERANGE;
	}
	if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i < len && (s[i] == '+' || s[i] == '-')) {
		sign = s[i++] == '-' ? -1 : 1;
		if (!digits(s, len, &i, 2, &oh) || !expect(s, len, &i, ':', ':') ||
		    !digits(s, len, &i, 2, &om) || oh > 23 || om > 59)
			return -ERANGE;
	} else {
		return -ERANGE;
	}
	/* Go, which writes these, never emits a leap second (:60). */
	if (i != len || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 ||
	    mi > 59 || sec > 59)
		return -ERANGE;
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec + (frac_up ? 1 : 0) -
	       sign * (oh * 3600 + om * 60);
	return 0;
}
