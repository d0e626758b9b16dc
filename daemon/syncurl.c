#include "syncurl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "config.h"
#include "util.h"


static bool origin_parts(const char *url, char **scheme, char **host, char **port, bool *has_user)
{
	CURLU *u = curl_url();
	char *user = NULL;
	bool ok;

	*scheme = *host = *port = NULL;
	if (!u)
		return false;
	ok = curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	     curl_url_get(u, CURLUPART_SCHEME, scheme, 0) == CURLUE_OK &&
	     curl_url_get(u, CURLUPART_HOST, host, 0) == CURLUE_OK &&
	     curl_url_get(u, CURLUPART_PORT, port, CURLU_DEFAULT_PORT) == CURLUE_OK;
	*has_user = curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK;
	curl_free(user);
	curl_url_cleanup(u);
	return ok;
}

bool syncurl_same_origin(const char *base, const char *url)
{
	char *bs, *bh, *bp, *us, *uh, *up;
	bool bu, uu, same;

	if (!base || !url)
		return false;
	if (!origin_parts(base, &bs, &bh, &bp, &bu)) {
		curl_free(bs);
		curl_free(bh);
		curl_free(bp);
		return false;
	}
	if (!origin_parts(url, &us, &uh, &up, &uu)) {
		curl_free(bs);
		curl_free(bh);
		curl_free(bp);
		curl_free(us);
		curl_free(uh);
		curl_free(up);
		return false;
	}
	same = !uu && strcasecmp(bs, us) == 0 && strcasecmp(bh, uh) == 0 && strcmp(bp, up) == 0 &&
	       (strcasecmp(us, "https") == 0 || strcasecmp(us, "http") == 0);
	curl_free(bs);
	curl_free(bh);
	curl_free(bp);
	curl_free(us);
	curl_free(uh);
	curl_free(up);
	return same;
}

char *syncurl_origin(const char *url)
{
	char *s, *h, *p, *out;
	bool user;

	if (!origin_parts(url, &s, &h, &p, &user)) {
		curl_free(s);
		curl_free(h);
		curl_free(p);
		return xstrdup("(unparsable URL)");
	}
	out = xasprintf("%s://%s:%s", s, h, p);
	curl_free(s);
	curl_free(h);
	curl_free(p);
	return out;
}

char *syncurl_search(const char *base, const char *version, const char *resource,
		      int page_size, unsigned claim_types, const char *since)
{
	sbuf b;
	size_t blen = strlen(base);

	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	sbuf_init(&b, 0);
	sbuf_append(&b, base, blen);
	sbuf_printf(&b, "/%s/fhir/%s/?_count=%d", version && *version ? version : "v2", resource,
		    page_size > 0 ? page_size : 50);
	if (strcmp(resource, "ExplanationOfBenefit") == 0 && claim_types) {
		bool first = true;

		sbuf_puts(&b, "&type=");
		for (unsigned bit = 1; bit <= CLAIM_ALL; bit <<= 1) {
			const char *name;

			if (!(claim_types & bit) || !(name = config_claim_type_name(bit)))
				continue;
			if (!first)
				sbuf_putc(&b, ',');
			sbuf_puts(&b, name);
			first = false;
		}
	}
	if (since && *since)
		sbuf_printf(&b, "&_lastUpdated=gt%s", since);
	return sbuf_steal(&b);
}
