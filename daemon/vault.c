#include "vault.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "oauthutil.h"
#include "util.h"

#define VAULT_MAX_KEYS 8

typedef struct vkey {
	unsigned char key[VAULT_KEY_BYTES];
	unsigned char id[VAULT_KEY_ID_BYTES];
	char id_hex[VAULT_KEY_ID_HEX + 1];
} vkey;

struct vault {
	/* fixed array: keys are never moved (a realloc would leave copies behind) */
	vkey keys[VAULT_MAX_KEYS];
	size_t n_keys;              /* keys[0] is the primary */
	EVP_CIPHER *cipher;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* The last OpenSSL error as text, for messages (never holds key bytes). */
static const char *ssl_reason(void)
{
	static char buf[160];
	unsigned long e = ERR_get_error();

	if (!e)
		return "unknown OpenSSL error";
	ERR_error_string_n(e, buf, sizeof buf);
	ERR_clear_error();
	return buf;
}

#define KEY_HINT "hint: generate one with: (umask 077; openssl rand -hex 32 > %s), readable only by the user bbingest runs as"

/*
 * Which file holds the key: the credential if systemd passed one, else the
 * configured file.  0 with `path` set, or -1 with `err` set.
 */
static int key_path(const char *key_file, const char *cred, char *path, size_t pathlen,
                    char *err, size_t errlen)
{
	bool have_file = key_file && *key_file;

	if (cred && *cred) {
		const char *dir = getenv("CREDENTIALS_DIRECTORY");
		struct stat st;

		if (strchr(cred, '/') || strcmp(cred, ".") == 0 || strcmp(cred, "..") == 0) {
			set_err(err, errlen, "vault key credential name '%s' is not a plain file name; "
			        "hint: use the name given to LoadCredential=, e.g. vault-key", cred);
			return -1;
		}
		if (dir && *dir) {
			if ((size_t)snprintf(path, pathlen, "%s/%s", dir, cred) >= pathlen) {
				set_err(err, errlen, "vault key credential path '%s/%s' is too long",
				        dir, cred);
				return -1;
			}
			if (stat(path, &st) == 0 || errno != ENOENT || !have_file)
				return 0;       /* use it (errors are reported when it is read) */
		} else if (!have_file) {
			set_err(err, errlen, "vault key credential '%s' is configured but "
			        "$CREDENTIALS_DIRECTORY is not set; hint: start bbingest from its "
			        "systemd unit with LoadCredential=%s:/etc/bbingest/vault.key, or "
			        "configure a key file instead", cred, cred);
			return -1;
		}
	}
	if (!have_file) {
		set_err(err, errlen, "no vault key is configured (neither a key file nor a "
		        "credential name); hint: generate one with: (umask 077; openssl rand -hex 32 "
		        "> /etc/bbingest/vault.key), and name it in the configuration");
		return -1;
	}
	if ((size_t)snprintf(path, pathlen, "%s", key_file) >= pathlen) {
		set_err(err, errlen, "vault key file name is too long (%zu bytes)", strlen(key_file));
		return -1;
	}
	return 0;
}

static bool all_in(const unsigned char *s, size_t n, const char *set)
{
	for (size_t i = 0; i < n; i++)
		if (!s[i] || !strchr(set, s[i]))
			return false;
	return true;
}

static bool all_printable(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

#define HEX_CHARS "0123456789abcdefABCDEF"
#define B64_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_="

/* Decode the key file's bytes into key; 0 or -1 with err set. */
static int parse_key(const char *path, unsigned char *buf, size_t n,
                     unsigned char key[VAULT_KEY_BYTES], char *err, size_t errlen)
{
	size_t t = n;
	unsigned char acc = 0;

	if (n == VAULT_KEY_BYTES) {
		/* 32 raw bytes; but 32 hex or base64 characters are a typo'd short key */
		if (all_in(buf, n, HEX_CHARS)) {
			set_err(err, errlen, "vault key file '%s' holds 32 hex characters, which is "
			        "only a 128-bit key; bbingest needs 256 bits (64 hex characters); "
			        KEY_HINT, path, path);
			return -1;
		}
		if (all_printable(buf, n)) {
			/* random bytes are all printable once in 10^14 tries */
			set_err(err, errlen, "vault key file '%s' holds 32 characters of text, not "
			        "32 random bytes; " KEY_HINT, path, path);
			return -1;
		}
		memcpy(key, buf, VAULT_KEY_BYTES);
	} else {
		while (t > 0 && (buf[t - 1] == '\n' || buf[t - 1] == '\r' ||
		                 buf[t - 1] == ' ' || buf[t - 1] == '\t'))
			t--;
		if (t == 2 * VAULT_KEY_BYTES && all_in(buf, t, HEX_CHARS)) {
			if (ou_hex_decode((const char *)buf, t, key, VAULT_KEY_BYTES) < 0)
				return -1;      /* not reached: checked above */
		} else if ((t == 43 || t == 44) && all_in(buf, t, B64_CHARS) &&
		           ou_b64_decode((const char *)buf, t, key, VAULT_KEY_BYTES) == VAULT_KEY_BYTES) {
			/* base64 (either alphabet) of 32 bytes */
		} else if (t == 0) {
			set_err(err, errlen, "vault key file '%s' is empty; " KEY_HINT, path, path);
			return -1;
		} else if (all_in(buf, t, HEX_CHARS)) {
			set_err(err, errlen, "vault key file '%s' holds %zu hex characters; a key is "
			        "64 hex characters (32 bytes); " KEY_HINT, path, t, path);
			return -1;
		} else {
			set_err(err, errlen, "vault key file '%s' is not a key: %zu bytes, expected "
			        "64 hex characters, base64 of 32 bytes, or 32 raw bytes; " KEY_HINT,
			        path, n, path);
			return -1;
		}
	}
	for (size_t i = 0; i < VAULT_KEY_BYTES; i++)
		acc |= key[i];
	if (!acc) {
		set_err(err, errlen, "vault key file '%s' holds an all-zero key; " KEY_HINT,
		        path, path);
		return -1;
	}
	return 0;
}

/* Read and decode one key; 0 or -1 with err set. */
static int load_key(const char *key_file, const char *cred, vkey *k, char *err, size_t errlen)
{
	static const char id_label[] = "bbingest vault key id v1";
	unsigned char buf[VAULT_MAX_KEY_FILE + 1];
	unsigned char md[SHA256_DIGEST_LENGTH];
	char path[4096];
	struct stat st;
	size_t n = 0;
	unsigned char idin[sizeof id_label - 1 + VAULT_KEY_BYTES];
	int fd, rc;

	if (key_path(key_file, cred, path, sizeof path, err, errlen) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT)
			set_err(err, errlen, "vault key file '%s' does not exist; " KEY_HINT,
			        path, path);
		else
			set_err(err, errlen, "cannot open vault key file '%s': %s; hint: it must be "
			        "readable by the user bbingest runs as", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		set_err(err, errlen, "cannot stat vault key file '%s': %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		set_err(err, errlen, "vault key file '%s' is not a regular file; " KEY_HINT,
		        path, path);
		close(fd);
		return -1;
	}
	if (st.st_mode & (S_IROTH | S_IWOTH)) {
		set_err(err, errlen, "vault key file '%s' is accessible by other users (mode %04o); "
		        "hint: chmod 600 %s", path, (unsigned)(st.st_mode & 07777), path);
		close(fd);
		return -1;
	}
	for (;;) {
		ssize_t r = read(fd, buf + n, sizeof buf - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			set_err(err, errlen, "cannot read vault key file '%s': %s", path, strerror(errno));
			close(fd);
			secure_zero(buf, sizeof buf);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == sizeof buf)
			break;
	}
	close(fd);
	if (n > VAULT_MAX_KEY_FILE) {
		set_err(err, errlen, "vault key file '%s' is too long to be a key (more than %d "
		        "bytes); " KEY_HINT, path, VAULT_MAX_KEY_FILE, path);
		secure_zero(buf, sizeof buf);
		return -1;
	}
	rc = parse_key(path, buf, n, k->key, err, errlen);
	secure_zero(buf, sizeof buf);
	if (rc < 0) {
		secure_zero(k->key, sizeof k->key);
		return -1;
	}
	memcpy(idin, id_label, sizeof id_label - 1);
	memcpy(idin + sizeof id_label - 1, k->key, VAULT_KEY_BYTES);
	SHA256(idin, sizeof idin, md);
	secure_zero(idin, sizeof idin);
	memcpy(k->id, md, VAULT_KEY_ID_BYTES);
	ou_hex_encode(k->id, VAULT_KEY_ID_BYTES, k->id_hex);
	return 0;
}

/*
 * The vault lives on pages of its own, kept out of core dumps and, where
 * RLIMIT_MEMLOCK allows, out of swap (both best effort).
 */
static size_t vault_alloc_size(void)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t ps = page > 0 ? (size_t)page : 4096;

	return (sizeof(vault) + ps - 1) / ps * ps;
}

static vault *vault_alloc(void)
{
	size_t size = vault_alloc_size();
	long page = sysconf(_SC_PAGESIZE);
	void *p = NULL;

	if (posix_memalign(&p, page > 0 ? (size_t)page : 4096, size) != 0) {
		fprintf(stderr, "bbingest: out of memory allocating %zu bytes\n", size);
		abort();
	}
	memset(p, 0, size);
	(void)madvise(p, size, MADV_DONTDUMP);
	(void)mlock(p, size);
	return p;
}

vault *vault_open_key(const char *key_file, const char *credential_name,
                      char *err, size_t errlen)
{
	vault *v = vault_alloc();

	if (load_key(key_file, credential_name, &v->keys[0], err, errlen) < 0) {
		vault_free(v);
		return NULL;
	}
	v->n_keys = 1;
	v->cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	if (!v->cipher) {
		set_err(err, errlen, "AES-256-GCM is not available from OpenSSL: %s", ssl_reason());
		vault_free(v);
		return NULL;
	}
	return v;
}

int vault_add_key(vault *v, const char *key_file, const char *credential_name,
                  char *err, size_t errlen)
{
	vkey *k;

	if (v->n_keys >= VAULT_MAX_KEYS) {
		set_err(err, errlen, "too many vault keys (at most %d); hint: re-seal old values "
		        "and drop their keys", VAULT_MAX_KEYS);
		return -1;
	}
	/* loaded straight into its slot: no copy of the key on the stack */
	k = &v->keys[v->n_keys];
	if (load_key(key_file, credential_name, k, err, errlen) < 0) {
		secure_zero(k, sizeof *k);
		return -1;
	}
	for (size_t i = 0; i < v->n_keys; i++) {
		if (memcmp(v->keys[i].id, k->id, VAULT_KEY_ID_BYTES) == 0) {
			secure_zero(k, sizeof *k);
			return 0;       /* already loaded */
		}
	}
	v->n_keys++;
	return 0;
}

const char *vault_key_id(const vault *v)
{
	return v->keys[0].id_hex;
}

int vault_seal(vault *v, const char *aad, const void *plain, size_t len,
               unsigned char **out, size_t *outlen, char *err, size_t errlen)
{
	const vkey *k = &v->keys[0];
	unsigned char *b, *nonce, *ct;
	EVP_CIPHER_CTX *ctx = NULL;
	int l;

	*out = NULL;
	*outlen = 0;
	if (!aad || !*aad) {
		set_err(err, errlen, "cannot seal a value without a participant id");
		return -1;
	}
	if (len > VAULT_MAX_PLAINTEXT) {
		set_err(err, errlen, "cannot seal a value of %zu bytes (limit %d)",
		        len, VAULT_MAX_PLAINTEXT);
		return -1;
	}
	b = xmalloc(len + VAULT_OVERHEAD);
	b[0] = VAULT_FORMAT_V1;
	memcpy(b + 1, k->id, VAULT_KEY_ID_BYTES);
	nonce = b + VAULT_HEADER_BYTES;
	ct = nonce + VAULT_NONCE_BYTES;
	if (RAND_bytes(nonce, VAULT_NONCE_BYTES) != 1) {
		set_err(err, errlen, "cannot seal: no random nonce: %s", ssl_reason());
		goto fail;
	}
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx || EVP_EncryptInit_ex2(ctx, v->cipher, k->key, nonce, NULL) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &l, b, VAULT_HEADER_BYTES) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &l, (const unsigned char *)aad, (int)strlen(aad)) != 1 ||
	    (len && EVP_EncryptUpdate(ctx, ct, &l, plain, (int)len) != 1) ||
	    EVP_EncryptFinal_ex(ctx, ct + len, &l) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, VAULT_TAG_BYTES, ct + len) != 1) {
		set_err(err, errlen, "cannot seal: AES-256-GCM failed: %s", ssl_reason());
		goto fail;
	}
	EVP_CIPHER_CTX_free(ctx);
	*out = b;
	*outlen = len + VAULT_OVERHEAD;
	return 0;
fail:
	EVP_CIPHER_CTX_free(ctx);
	vault_wipe_free(b, len + VAULT_OVERHEAD);
	return -1;
}

int vault_blob_key_id(const unsigned char *blob, size_t bloblen, char *out)
{
	if (!blob || bloblen < VAULT_OVERHEAD || blob[0] != VAULT_FORMAT_V1)
		return -1;
	ou_hex_encode(blob + 1, VAULT_KEY_ID_BYTES, out);
	return 0;
}

int vault_open(vault *v, const char *aad, const unsigned char *blob, size_t bloblen,
               char **plain, size_t *plainlen, char *err, size_t errlen)
{
	const vkey *k = NULL;
	const unsigned char *nonce, *ct;
	unsigned char tag[VAULT_TAG_BYTES];
	EVP_CIPHER_CTX *ctx;
	size_t len;
	char *p;
	int l, ok;

	*plain = NULL;
	*plainlen = 0;
	if (!aad || !*aad) {
		set_err(err, errlen, "cannot open a sealed value without a participant id");
		return -1;
	}
	if (!blob || bloblen < VAULT_OVERHEAD) {
		set_err(err, errlen, "sealed value for participant '%s' is %zu bytes, too short "
		        "to be sealed (at least %d)", aad, blob ? bloblen : 0, VAULT_OVERHEAD);
		return -1;
	}
	if (blob[0] != VAULT_FORMAT_V1) {
		set_err(err, errlen, "sealed value for participant '%s' has format version %u; "
		        "this bbingest reads version %d; hint: was it written by a newer bbingest?",
		        aad, blob[0], VAULT_FORMAT_V1);
		return -1;
	}
	len = bloblen - VAULT_OVERHEAD;
	if (len > VAULT_MAX_PLAINTEXT) {
		set_err(err, errlen, "sealed value for participant '%s' is %zu bytes, more than "
		        "the limit of %d", aad, bloblen, VAULT_MAX_PLAINTEXT + VAULT_OVERHEAD);
		return -1;
	}
	for (size_t i = 0; i < v->n_keys; i++)
		if (memcmp(v->keys[i].id, blob + 1, VAULT_KEY_ID_BYTES) == 0)
			k = &v->keys[i];
	if (!k) {
		char id[VAULT_KEY_ID_HEX + 1];

		ou_hex_encode(blob + 1, VAULT_KEY_ID_BYTES, id);
		set_err(err, errlen, "sealed value for participant '%s' was sealed with vault key id "
		        "%s, but the loaded key has id %s (key id mismatch); hint: configure the "
		        "key that sealed it, keeping it as an old key after a rotation", aad, id,
		        v->keys[0].id_hex);
		return -1;
	}
	nonce = blob + VAULT_HEADER_BYTES;
	ct = nonce + VAULT_NONCE_BYTES;
	memcpy(tag, ct + len, VAULT_TAG_BYTES);
	p = xmalloc(len + 1);
	ctx = EVP_CIPHER_CTX_new();
	ok = ctx && EVP_DecryptInit_ex2(ctx, v->cipher, k->key, nonce, NULL) == 1 &&
	     EVP_DecryptUpdate(ctx, NULL, &l, blob, VAULT_HEADER_BYTES) == 1 &&
	     EVP_DecryptUpdate(ctx, NULL, &l, (const unsigned char *)aad, (int)strlen(aad)) == 1 &&
	     (len == 0 || EVP_DecryptUpdate(ctx, (unsigned char *)p, &l, ct, (int)len) == 1) &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, VAULT_TAG_BYTES, tag) == 1 &&
	     EVP_DecryptFinal_ex(ctx, (unsigned char *)p + len, &l) == 1;
	EVP_CIPHER_CTX_free(ctx);
	ERR_clear_error();
	if (!ok) {
		vault_wipe_free(p, len + 1);
		set_err(err, errlen, "sealed value for participant '%s' does not authenticate "
		        "under vault key id %s: it was altered, or sealed for another participant",
		        aad, k->id_hex);
		return -1;
	}
	p[len] = '\0';
	*plain = p;
	*plainlen = len;
	return 0;
}

void vault_wipe_free(void *p, size_t len)
{
	if (!p)
		return;
	secure_zero(p, len);
	free(p);
}

void vault_free(vault *v)
{
	if (!v)
		return;
	EVP_CIPHER_free(v->cipher);
	secure_zero(v->keys, sizeof v->keys);
	(void)munlock(v, vault_alloc_size());
	free(v);
}
