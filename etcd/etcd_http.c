/* SPDX-License-Identifier: MIT */
/*
 * The HTTP side of the etcd store: POST a JSON request to etcd's gateway on
 * the first endpoint that answers.
 *
 * Workload: many small requests (a range and a txn per allocation) from a
 * few threads, so connections must be kept: easy handles are pooled (one
 * handle keeps its connections to every endpoint it talked to) and a thread
 * borrows one per call. An endpoint that refuses, times out or answers 5xx
 * is skipped for the next one; the one that answered becomes the first to
 * try next time. When none answers the call fails with -EAGAIN: the request
 * either reached no server or, if one applied it before the connection
 * broke, the store's compares make a repeat of it fail rather than apply
 * twice.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "etcd_internal.h"

#define IDLE_MAX 16
#define MAX_ANSWER ((size_t)256 << 20)

struct ipam_etcd__client {
	char **urls;
	unsigned nurls;
	char *url_list; /* for messages */
	atomic_uint current;
	char *ca, *cert, *key, *user, *password;
	long connect_ms, timeout_ms;
	void (*log)(void *ud, int level, const char *msg);
	void *log_ud;
	pthread_mutex_t mu; /* idle, token */
	CURL *idle[IDLE_MAX];
	unsigned nidle;
	char *token;
	struct ipam_etcd__counters ctr;
};

struct answer {
	char *p;
	size_t len, cap;
	int overflow;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_code;

static void curl_init(void)
{
	curl_init_code = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static char *dup_opt(const char *s, int *oom)
{
	char *d;

	if (!s || !*s)
		return NULL;
	d = strdup(s);
	if (!d)
		*oom = 1;
	return d;
}

static void note(ipam_etcd__client *c, int level, const char *fmt, ...) ETCD_PRINTF(3, 4);
static void note(ipam_etcd__client *c, int level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!c->log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->log(c->log_ud, level, msg);
}

static int parse_endpoints(ipam_etcd__client *c, const char *list)
{
	char *copy = strdup(list), *save = NULL;

	if (!copy)
		return -ENOMEM;
	c->url_list = strdup(list);
	c->urls = calloc(strlen(list) / 2 + 1, sizeof(*c->urls));
	if (!c->url_list || !c->urls) {
		free(copy);
		return -ENOMEM;
	}
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		size_t n;
		while (*tok == ' ')
			tok++;
		n = strlen(tok);
		while (n && (tok[n - 1] == ' ' || tok[n - 1] == '/'))
			tok[--n] = '\0';
		if (!n)
			continue;
		if (strncmp(tok, "http://", 7) != 0 && strncmp(tok, "https://", 8) != 0) {
			int r = ipam_etcd__fail(-EINVAL, "endpoints", tok,
						"an endpoint is an http:// or https:// URL");
			free(copy);
			return r;
		}
		if (!(c->urls[c->nurls] = strdup(tok))) {
			free(copy);
			return -ENOMEM;
		}
		c->nurls++;
	}
	free(copy);
	if (!c->nurls)
		return ipam_etcd__fail(-EINVAL, "endpoints", list, "no endpoint given");
	return 0;
}

int ipam_etcd__client_new(ipam_etcd__client **out, const ipam_etcd_options *o)
{
	ipam_etcd__client *c;
	int oom = 0, r;

	*out = NULL;
	pthread_once(&curl_once, curl_init);
	if (curl_init_code != CURLE_OK)
		return ipam_etcd__fail(-EIO, "libcurl", NULL, "curl_global_init failed: %s",
				       curl_easy_strerror(curl_init_code));
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->mu, NULL);
	r = parse_endpoints(c, o->endpoints);
	c->ca = dup_opt(o->ca_file, &oom);
	c->cert = dup_opt(o->cert_file, &oom);
	c->key = dup_opt(o->key_file, &oom);
	c->user = dup_opt(o->user, &oom);
	c->password = dup_opt(o->password, &oom);
	c->connect_ms = o->connect_timeout_ms ? (long)o->connect_timeout_ms : 1000;
	c->timeout_ms = o->request_timeout_ms ? (long)o->request_timeout_ms : 5000;
	c->log = o->log;
	c->log_ud = o->log_ud;
	if (r == 0 && oom)
		r = -ENOMEM;
	if (r == 0 && c->user && !c->password)
		r = ipam_etcd__fail(-EINVAL, "password", NULL, "a user needs a password");
	if (r < 0) {
		ipam_etcd__client_free(c);
		return r == -ENOMEM ? ipam_etcd__fail(r, NULL, NULL, NULL) : r;
	}
	*out = c;
	return 0;
}

void ipam_etcd__client_free(ipam_etcd__client *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < c->nidle; i++)
		curl_easy_cleanup(c->idle[i]);
	for (unsigned i = 0; c->urls && i < c->nurls; i++)
		free(c->urls[i]);
	free(c->urls);
	free(c->url_list);
	free(c->ca);
	free(c->cert);
	free(c->key);
	free(c->user);
	free(c->password);
	free(c->token);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

struct ipam_etcd__counters *ipam_etcd__client_counters(ipam_etcd__client *c)
{
	return &c->ctr;
}

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
	struct answer *a = ud;
	size_t len = size * n;

	if (a->len + len + 1 > a->cap) {
		size_t cap = a->cap ? a->cap : 4096;
		char *q;
		while (cap < a->len + len + 1)
			cap *= 2;
		if (cap > MAX_ANSWER || !(q = realloc(a->p, cap))) {
			a->overflow = 1;
			return 0; /* aborts the transfer */
		}
		a->p = q;
		a->cap = cap;
	}
	memcpy(a->p + a->len, p, len);
	a->len += len;
	a->p[a->len] = '\0';
	return len;
}

/* A pooled handle, or a new one with the options that never change. */
static CURL *borrow(ipam_etcd__client *c)
{
	CURL *h = NULL;

	pthread_mutex_lock(&c->mu);
	if (c->nidle)
		h = c->idle[--c->nidle];
	pthread_mutex_unlock(&c->mu);
	if (h)
		return h;
	h = curl_easy_init();
	if (!h)
		return NULL;
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	if (c->ca)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca);
	if (c->cert)
		curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert);
	if (c->key)
		curl_easy_setopt(h, CURLOPT_SSLKEY, c->key);
	return h;
}

static void give_back(ipam_etcd__client *c, CURL *h)
{
	pthread_mutex_lock(&c->mu);
	if (c->nidle < IDLE_MAX) {
		c->idle[c->nidle++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&c->mu);
	if (h)
		curl_easy_cleanup(h);
}

/* Errors that say "this client's TLS set-up is wrong", not "down". */
static int tls_refusal(CURLcode e)
{
	return e == CURLE_SSL_CERTPROBLEM || e == CURLE_PEER_FAILED_VERIFICATION ||
	       e == CURLE_SSL_CACERT_BADFILE || e == CURLE_SSL_ISSUER_ERROR ||
	       e == CURLE_SSL_PINNEDPUBKEYNOTMATCH;
}

/* POST to each endpoint in turn until one answers with a status below
 * 500. 0 with *status and the answer, or -EAGAIN / -EACCES / -ENOMEM. */
static int post_any(ipam_etcd__client *c, CURL *h, const char *path, const char *text,
		    long *status, struct answer *a)
{
	unsigned start = atomic_load(&c->current);
	struct curl_slist *hdrs = NULL, *tmp;
	char auth[1100], url[1024], last[CURL_ERROR_SIZE + 64] = "";
	char errbuf[CURL_ERROR_SIZE];
	CURLcode tls = CURLE_OK;

	hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	pthread_mutex_lock(&c->mu);
	snprintf(auth, sizeof(auth), "Authorization: %s", c->token ? c->token : "");
	pthread_mutex_unlock(&c->mu);
	if (hdrs && auth[15] && (tmp = curl_slist_append(hdrs, auth)) != NULL)
		hdrs = tmp;
	if (!hdrs)
		return ipam_etcd__fail(-ENOMEM, NULL, NULL, NULL);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, text);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(text));
	curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	for (unsigned i = 0; i < c->nurls; i++) {
		unsigned u = (start + i) % c->nurls;
		CURLcode e;

		a->len = 0;
		a->overflow = 0;
		errbuf[0] = '\0';
		snprintf(url, sizeof(url), "%s%s", c->urls[u], path);
		curl_easy_setopt(h, CURLOPT_URL, url);
		e = curl_easy_perform(h);
		if (e == CURLE_OK) {
			curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
			if (*status < 500) {
				atomic_fetch_add(&c->ctr.requests, 1);
				if (u != start) {
					atomic_store(&c->current, u);
					atomic_fetch_add(&c->ctr.failovers, 1);
					note(c, IPAM_LOG_WARNING, "etcd: moved to %s (%s)", c->urls[u],
					     last[0] ? last : "previous endpoint failed");
				}
				curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
				curl_slist_free_all(hdrs);
				return 0;
			}
			snprintf(last, sizeof(last), "%s answered HTTP %ld: %.200s", c->urls[u],
				 *status, a->p ? a->p : "");
		} else if (a->overflow) {
			curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
			curl_slist_free_all(hdrs);
			return ipam_etcd__fail(-EIO, "etcd", c->urls[u], "answer larger than %zu bytes",
					       MAX_ANSWER);
		} else {
			snprintf(last, sizeof(last), "%s: %s", c->urls[u],
				 errbuf[0] ? errbuf : curl_easy_strerror(e));
			/* The server refusing our certificate arrives as a TLS
			 * alert, after the handshake with TLS 1.3. */
			if (tls_refusal(e) || (strstr(errbuf, "alert") && strstr(errbuf, "certificate")))
				tls = e;
		}
	}
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(hdrs);
	atomic_fetch_add(&c->ctr.unreachable, 1);
	if (tls != CURLE_OK)
		return ipam_etcd__fail(-EACCES, "etcd", c->url_list, "TLS refused: %s", last);
	return ipam_etcd__fail(-EAGAIN, "etcd", c->url_list, "unreachable: try again later (%s)",
			       last);
}

static const char *answer_message(json_t *j)
{
	const char *m = json_string_value(json_object_get(j, "message"));
	if (!m)
		m = json_string_value(json_object_get(j, "error"));
	return m ? m : "(no message)";
}

/* Get a token for user/password (POST /v3/auth/authenticate). */
static int authenticate(ipam_etcd__client *c, CURL *h)
{
	struct answer a = { 0 };
	json_t *body = json_pack("{ssss}", "name", c->user, "password", c->password), *j = NULL;
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	const char *tok;
	long status = 0;
	int r;

	json_decref(body);
	if (!text)
		return ipam_etcd__fail(-ENOMEM, NULL, NULL, NULL);
	pthread_mutex_lock(&c->mu);
	free(c->token); /* no stale token on the authenticate request */
	c->token = NULL;
	pthread_mutex_unlock(&c->mu);
	r = post_any(c, h, "/v3/auth/authenticate", text, &status, &a);
	free(text);
	if (r == 0) {
		j = a.p ? json_loads(a.p, 0, NULL) : NULL;
		tok = json_string_value(json_object_get(j, "token"));
		if (status != 200 || !tok) {
			r = ipam_etcd__fail(-EACCES, "user", c->user, "etcd refused the credentials: %s",
					    j ? answer_message(j) : "no answer");
		} else {
			pthread_mutex_lock(&c->mu);
			c->token = strdup(tok);
			pthread_mutex_unlock(&c->mu);
			note(c, IPAM_LOG_INFO, "etcd: authenticated as %s", c->user);
		}
	}
	json_decref(j);
	free(a.p);
	return r;
}

static int has_token(ipam_etcd__client *c)
{
	int t;

	pthread_mutex_lock(&c->mu);
	t = c->token != NULL;
	pthread_mutex_unlock(&c->mu);
	return t;
}

int ipam_etcd__call(ipam_etcd__client *c, const char *path, json_t *body, json_t **resp)
{
	struct answer a = { 0 };
	char *text = json_dumps(body, JSON_COMPACT);
	CURL *h = text ? borrow(c) : NULL;
	int r = 0;

	*resp = NULL;
	if (!h) {
		free(text);
		return ipam_etcd__fail(-ENOMEM, NULL, NULL, NULL);
	}
	if (c->user && !has_token(c))
		r = authenticate(c, h);
	for (int attempt = 0; r == 0; attempt++) {
		long status = 0;
		json_t *j;
		int code;

		r = post_any(c, h, path, text, &status, &a);
		if (r < 0)
			break;
		j = a.p ? json_loads(a.p, 0, NULL) : NULL;
		if (!j) {
			r = ipam_etcd__fail(-EIO, "etcd", path, "HTTP %ld with an answer that is not JSON",
					    status);
			break;
		}
		if (status == 200) {
			*resp = j;
			break;
		}
		code = (int)json_integer_value(json_object_get(j, "code"));
		if ((status == 401 || code == 16) && c->user && attempt == 0) {
			json_decref(j); /* the token expired: once more with a new one */
			r = authenticate(c, h);
			continue;
		}
		if (strstr(answer_message(j), "too many operations"))
			r = ipam_etcd__fail(-E2BIG, "etcd", path, "%s", answer_message(j));
		else if (status == 401 || status == 403 || code == 7 || code == 16)
			r = ipam_etcd__fail(-EACCES, "etcd", path, "%s", answer_message(j));
		else
			r = ipam_etcd__fail(-EIO, "etcd", path, "HTTP %ld: %s", status, answer_message(j));
		json_decref(j);
		break;
	}
	give_back(c, h);
	free(text);
	free(a.p);
	return r;
}
