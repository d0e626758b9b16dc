/*
 * Unit tests of daemon/vault: key files in every accepted form and every
 * refused one, sealing round trips, tampering, wrong participant, wrong key,
 * rotation, nonce uniqueness, and a sealed value made by an independent
 * AES-GCM implementation (Python's `cryptography`) to pin the format.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/rand.h>
#include <openssl/sha.h>

#include "minicheck.h"
#include "oauthutil.h"
#include "util.h"
#include "vault.h"

static char tmpdir[] = "/tmp/bb-vault-test-XXXXXX";
static char err[1024];

static char *write_key(const char *name, const void *data, size_t len, mode_t mode)
{
	char *path = xasprintf("%s/%s", tmpdir, name);
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len) {
		perror(path);
		exit(2);
	}
	close(fd);
	chmod(path, mode);
	return path;
}

static const unsigned char key1[32] = {
	1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
	17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
};
#define KEY1_HEX "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"
#define KEY1_ID "66b076c785ceb989"

/* vault_open_key on `path` must fail with a message holding each of `want` */
static void expect_key_error(const char *path, const char *const *want)
{
	vault *v;

	err[0] = '\0';
	v = vault_open_key(path, NULL, err, sizeof err);
	CHECK(v == NULL);
	vault_free(v);
	for (; *want; want++)
		CHECK_HAS(err, *want);
	/* the message is a sentence fragment: lower case start, no final period */
	CHECK(err[0] >= 'a' && err[0] <= 'z');
	CHECK(err[0] && err[strlen(err) - 1] != '.');
}

static void test_key_forms(void)
{
	char *p, *b64, *b64url;
	vault *v;
	unsigned char raw[32];
	char line[200];

	mc_section("key file forms: hex, hex with CRLF, upper-case hex, base64, base64url, raw");
	b64 = ou_b64_encode(key1, 32);
	b64url = ou_b64url_encode(key1, 32);
	{
		const char *forms[] = { KEY1_HEX, KEY1_HEX "\n", KEY1_HEX "\r\n",
		                        "0102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F20\n",
		                        b64, b64url, NULL };

		for (int i = 0; forms[i]; i++) {
			snprintf(line, sizeof line, "%s", forms[i]);
			if (i >= 4)
				strcat(line, "\n");
			p = write_key("k", line, strlen(line), 0600);
			v = vault_open_key(p, NULL, err, sizeof err);
			CHECK(v != NULL);
			if (v)
				CHECK_STR(vault_key_id(v), KEY1_ID);
			else
				fprintf(stderr, "form %d: %s\n", i, err);
			vault_free(v);
			free(p);
		}
	}
	free(b64);
	free(b64url);

	/* 32 raw random bytes (one made non-printable so they cannot look like text) */
	RAND_bytes(raw, sizeof raw);
	raw[0] = 0x80;
	p = write_key("raw", raw, 32, 0400);
	v = vault_open_key(p, NULL, err, sizeof err);
	CHECK(v != NULL);
	if (v) {
		CHECK(strlen(vault_key_id(v)) == VAULT_KEY_ID_HEX);
		CHECK(strcmp(vault_key_id(v), KEY1_ID) != 0);
	}
	vault_free(v);
	free(p);

	mc_section("key file mode 0640 (group) is accepted");
	p = write_key("g", KEY1_HEX, 64, 0640);
	v = vault_open_key(p, NULL, err, sizeof err);
	CHECK(v != NULL);
	vault_free(v);
	free(p);
}

static void test_key_errors(void)
{
	char *p, *dir, big[2000];
	unsigned char zero[32] = { 0 };

	mc_section("key file errors name the file and say how to make a key");
	p = xasprintf("%s/missing.key", tmpdir);
	expect_key_error(p, (const char *const[]){ p, "does not exist",
		"(umask 077; openssl rand -hex 32 > ", NULL });
	free(p);

	p = write_key("world", KEY1_HEX "\n", 65, 0644);
	expect_key_error(p, (const char *const[]){ p, "accessible by other users", "0644",
		"hint: chmod 600", NULL });
	free(p);
	p = write_key("worldw", KEY1_HEX "\n", 65, 0602);
	expect_key_error(p, (const char *const[]){ p, "accessible by other users", NULL });
	free(p);

	p = write_key("short", KEY1_HEX, 62, 0600);
	expect_key_error(p, (const char *const[]){ p, "62 hex characters", "64 hex", NULL });
	free(p);
	p = write_key("long", KEY1_HEX "0\n", 66, 0600);
	expect_key_error(p, (const char *const[]){ p, "65 hex characters", NULL });
	free(p);
	p = write_key("k128", KEY1_HEX, 32, 0600);
	expect_key_error(p, (const char *const[]){ p, "128-bit", "256 bits", NULL });
	free(p);
	p = write_key("empty", "", 0, 0600);
	expect_key_error(p, (const char *const[]){ p, "is empty", "openssl rand -hex 32", NULL });
	free(p);
	p = write_key("nl", "\n", 1, 0600);
	expect_key_error(p, (const char *const[]){ p, "is empty", NULL });
	free(p);
	p = write_key("text", "this is my secret passphrase, ok?\n", 34, 0600);
	expect_key_error(p, (const char *const[]){ p, "is not a key", "64 hex characters",
		"base64 of 32 bytes", "openssl rand -hex 32", NULL });
	free(p);
	p = write_key("text32", "correct horse battery staple 123", 32, 0600);
	expect_key_error(p, (const char *const[]){ p, "32 characters of text", NULL });
	free(p);
	/* base64 of 31 bytes */
	{
		char *b = ou_b64_encode(key1, 31);

		p = write_key("b31", b, strlen(b), 0600);
		expect_key_error(p, (const char *const[]){ p, "is not a key", NULL });
		free(p);
		free(b);
	}
	memset(big, 'a', sizeof big);
	p = write_key("big", big, sizeof big, 0600);
	expect_key_error(p, (const char *const[]){ p, "too long", NULL });
	free(p);
	p = write_key("zero", zero, 32, 0600);
	expect_key_error(p, (const char *const[]){ p, "all-zero", NULL });
	free(p);
	p = write_key("zerohex", "0000000000000000000000000000000000000000000000000000000000000000",
	              64, 0600);
	expect_key_error(p, (const char *const[]){ p, "all-zero", NULL });
	free(p);
	dir = xasprintf("%s/adir", tmpdir);
	mkdir(dir, 0700);
	expect_key_error(dir, (const char *const[]){ dir, "not a regular file", NULL });
	free(dir);

	mc_section("an unreadable key file is refused");
	p = write_key("unreadable", KEY1_HEX, 64, 0000);
	if (geteuid() != 0) {
		expect_key_error(p, (const char *const[]){ p, "cannot open", "Permission denied", NULL });
	} else {
		/* root reads any file: check as an unprivileged user in a child */
		pid_t child = fork();
		int status = 0;

		CHECK(child >= 0);
		if (child == 0) {
			if (setgid(65534) != 0 || setuid(65534) != 0)
				_exit(2);
			expect_key_error(p, (const char *const[]){ p, "cannot open", "Permission denied",
								    NULL });
			_exit(mc_failures ? 1 : 0);
		}
		if (child > 0) {
			waitpid(child, &status, 0);
			printf("  (checked as uid 65534 in a child: exit %d)\n",
			       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
			CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		}
	}
	free(p);

	mc_section("no key configured at all");
	CHECK(vault_open_key(NULL, NULL, err, sizeof err) == NULL);
	CHECK_HAS(err, "no vault key is configured");
	CHECK_HAS(err, "openssl rand -hex 32");
	CHECK(vault_open_key("", "", err, sizeof err) == NULL);
}

static void test_credentials(void)
{
	char *cdir = xasprintf("%s/creds", tmpdir), *p, *fallback;
	vault *v;

	mc_section("key from $CREDENTIALS_DIRECTORY/<name> (systemd LoadCredential=)");
	mkdir(cdir, 0700);
	p = xasprintf("%s/vault-key", cdir);
	{
		int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0400);

		CHECK(fd >= 0 && write(fd, KEY1_HEX "\n", 65) == 65);
		close(fd);
	}
	fallback = write_key("fallback", "1111111111111111111111111111111111111111111111111111111111111111",
	                     64, 0600);
	setenv("CREDENTIALS_DIRECTORY", cdir, 1);
	v = vault_open_key(fallback, "vault-key", err, sizeof err);
	CHECK(v && strcmp(vault_key_id(v), KEY1_ID) == 0);     /* credential wins */
	vault_free(v);
	v = vault_open_key(NULL, "vault-key", err, sizeof err);
	CHECK(v && strcmp(vault_key_id(v), KEY1_ID) == 0);
	vault_free(v);

	mc_section("credential absent: the key file is used; neither: a clear error");
	v = vault_open_key(fallback, "other-name", err, sizeof err);
	CHECK(v && strcmp(vault_key_id(v), KEY1_ID) != 0);
	vault_free(v);
	v = vault_open_key(NULL, "other-name", err, sizeof err);
	CHECK(v == NULL);
	CHECK_HAS(err, "other-name");
	CHECK_HAS(err, "does not exist");
	v = vault_open_key(NULL, "../vault-key", err, sizeof err);
	CHECK(v == NULL);
	CHECK_HAS(err, "not a plain file name");
	unsetenv("CREDENTIALS_DIRECTORY");
	v = vault_open_key(NULL, "vault-key", err, sizeof err);
	CHECK(v == NULL);
	CHECK_HAS(err, "$CREDENTIALS_DIRECTORY is not set");
	CHECK_HAS(err, "LoadCredential=vault-key:");
	v = vault_open_key(fallback, "vault-key", err, sizeof err);
	CHECK(v != NULL);
	vault_free(v);
	free(p);
	free(fallback);
	free(cdir);
}

static vault *open_hex(const char *name, const char *hex)
{
	char *p = write_key(name, hex, strlen(hex), 0600);
	vault *v = vault_open_key(p, NULL, err, sizeof err);

	if (!v) {
		fprintf(stderr, "cannot open test key: %s\n", err);
		exit(2);
	}
	free(p);
	return v;
}

static void test_seal(void)
{
	vault *v = open_hex("k1", KEY1_HEX);
	static const char tok[] = "AccessTokenValue-Xq9zK2lmP0";
	unsigned char *blob, *copy;
	size_t blen, plen;
	char *plain;
	char id[VAULT_KEY_ID_HEX + 1];

	mc_section("seal and open round trip, lengths 0..300 and the maximum");
	for (size_t len = 0; len <= 300; len += (len < 40 ? 1 : 37)) {
		unsigned char *in = xmalloc(len + 1);

		RAND_bytes(in, (int)len + 1);
		CHECK(vault_seal(v, "P0001", in, len, &blob, &blen, err, sizeof err) == 0);
		CHECK(blen == len + VAULT_OVERHEAD);
		CHECK(vault_open(v, "P0001", blob, blen, &plain, &plen, err, sizeof err) == 0);
		CHECK(plen == len && memcmp(plain, in, len) == 0 && plain[len] == '\0');
		vault_wipe_free(plain, plen);
		free(blob);
		free(in);
	}
	{
		unsigned char *in = xcalloc(1, VAULT_MAX_PLAINTEXT + 1);

		in[0] = 7;
		CHECK(vault_seal(v, "P0001", in, VAULT_MAX_PLAINTEXT, &blob, &blen, err, sizeof err) == 0);
		CHECK(vault_open(v, "P0001", blob, blen, &plain, &plen, err, sizeof err) == 0);
		CHECK(plen == VAULT_MAX_PLAINTEXT && plain[0] == 7);
		vault_wipe_free(plain, plen);
		free(blob);
		mc_section("a plaintext over the cap is refused");
		CHECK(vault_seal(v, "P0001", in, VAULT_MAX_PLAINTEXT + 1, &blob, &blen, err, sizeof err) == -1);
		CHECK(blob == NULL);
		CHECK_HAS(err, "limit");
		free(in);
	}

	mc_section("sealed bytes: version 1, key id, and no plaintext visible");
	CHECK(vault_seal(v, "P0001", tok, strlen(tok), &blob, &blen, err, sizeof err) == 0);
	CHECK(blob[0] == 0x01);
	CHECK(vault_blob_key_id(blob, blen, id) == 0);
	CHECK_STR(id, KEY1_ID);
	CHECK(memmem(blob, blen, tok, strlen(tok)) == NULL);
	CHECK(memmem(blob, blen, "AccessToken", 11) == NULL);

	mc_section("changing any single bit of the sealed value makes it fail to open");
	copy = xmalloc(blen);
	for (size_t i = 0; i < blen; i++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(copy, blob, blen);
			copy[i] ^= (unsigned char)(1u << bit);
			plain = (char *)1;
			err[0] = '\0';
			CHECK(vault_open(v, "P0001", copy, blen, &plain, &plen, err, sizeof err) == -1);
			CHECK(plain == NULL && plen == 0);
			if (i == 0)
				CHECK_HAS(err, "format version");
			else if (i <= VAULT_KEY_ID_BYTES)
				CHECK_HAS(err, "key id mismatch");
			else
				CHECK_HAS(err, "does not authenticate");
			CHECK(strstr(err, tok) == NULL);
		}
	}
	mc_section("every truncation and an appended byte fail too");
	for (size_t l = 0; l < blen; l++) {
		CHECK(vault_open(v, "P0001", blob, l, &plain, &plen, err, sizeof err) == -1);
		CHECK(plain == NULL);
	}
	copy = xrealloc(copy, blen + 1);
	memcpy(copy, blob, blen);
	copy[blen] = 0;
	CHECK(vault_open(v, "P0001", copy, blen + 1, &plain, &plen, err, sizeof err) == -1);
	CHECK_HAS(err, "does not authenticate");
	CHECK(vault_open(v, "P0001", NULL, 0, &plain, &plen, err, sizeof err) == -1);
	CHECK_HAS(err, "too short");
	free(copy);

	mc_section("another participant (associated data) cannot open it");
	CHECK(vault_open(v, "P0002", blob, blen, &plain, &plen, err, sizeof err) == -1);
	CHECK(plain == NULL);
	CHECK_HAS(err, "participant 'P0002' does not authenticate");
	CHECK_HAS(err, "sealed for another participant");
	CHECK(vault_open(v, "P000", blob, blen, &plain, &plen, err, sizeof err) == -1);
	CHECK(vault_open(v, "P00011", blob, blen, &plain, &plen, err, sizeof err) == -1);
	CHECK(vault_open(v, "", blob, blen, &plain, &plen, err, sizeof err) == -1);
	CHECK(vault_open(v, "P0001", blob, blen, &plain, &plen, err, sizeof err) == 0);
	CHECK_STR(plain, tok);
	vault_wipe_free(plain, plen);
	free(blob);

	mc_section("a purpose suffix keeps an access token from passing as a refresh token");
	CHECK(vault_seal(v, "P0001/access", tok, strlen(tok), &blob, &blen, err, sizeof err) == 0);
	CHECK(vault_open(v, "P0001/refresh", blob, blen, &plain, &plen, err, sizeof err) == -1);
	free(blob);

	mc_section("sealing needs a participant id");
	CHECK(vault_seal(v, "", tok, 3, &blob, &blen, err, sizeof err) == -1);
	CHECK(vault_seal(v, NULL, tok, 3, &blob, &blen, err, sizeof err) == -1);
	CHECK_HAS(err, "participant id");

	vault_free(v);
}

static void test_wrong_key_and_rotation(void)
{
	vault *v1 = open_hex("k1", KEY1_HEX);
	vault *v2 = open_hex("k2", "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100");
	unsigned char *b1, *b2;
	size_t l1, l2, plen;
	char *plain, id[VAULT_KEY_ID_HEX + 1], *p1;

	mc_section("a value sealed with another key fails and names both key ids");
	CHECK(vault_seal(v1, "P7", "old-refresh", 11, &b1, &l1, err, sizeof err) == 0);
	CHECK(vault_open(v2, "P7", b1, l1, &plain, &plen, err, sizeof err) == -1);
	CHECK(plain == NULL);
	CHECK_HAS(err, "key id mismatch");
	CHECK_HAS(err, KEY1_ID);
	CHECK_HAS(err, vault_key_id(v2));
	CHECK(strstr(err, "old-refresh") == NULL);

	mc_section("rotation: the new vault keeps the old key for opening, seals with the new");
	p1 = write_key("k1", KEY1_HEX, 64, 0600);
	CHECK(vault_add_key(v2, p1, NULL, err, sizeof err) == 0);
	CHECK(vault_add_key(v2, p1, NULL, err, sizeof err) == 0);  /* twice is harmless */
	CHECK(vault_open(v2, "P7", b1, l1, &plain, &plen, err, sizeof err) == 0);
	CHECK_STR(plain, "old-refresh");
	CHECK(vault_seal(v2, "P7", plain, plen, &b2, &l2, err, sizeof err) == 0);
	vault_wipe_free(plain, plen);
	CHECK(vault_blob_key_id(b2, l2, id) == 0);
	CHECK_STR(id, vault_key_id(v2));
	CHECK(strcmp(id, KEY1_ID) != 0);
	CHECK(vault_open(v1, "P7", b2, l2, &plain, &plen, err, sizeof err) == -1);
	CHECK_HAS(err, "key id mismatch");
	CHECK(vault_add_key(v2, "/nonexistent/key", NULL, err, sizeof err) == -1);
	CHECK_HAS(err, "/nonexistent/key");
	CHECK(vault_blob_key_id(b2, 10, id) == -1);
	free(p1);
	free(b1);
	free(b2);
	vault_free(v1);
	vault_free(v2);
	vault_free(NULL);
}

static int cmp_nonce(const void *a, const void *b)
{
	return memcmp(a, b, VAULT_NONCE_BYTES);
}

static void test_nonces(void)
{
	enum { N = 20000 };
	vault *v = open_hex("k1", KEY1_HEX);
	unsigned char *nonces = xmalloc((size_t)N * VAULT_NONCE_BYTES);
	int dups = 0;

	mc_section("20000 seals of the same value use 20000 different nonces");
	for (int i = 0; i < N; i++) {
		unsigned char *b;
		size_t l;

		if (vault_seal(v, "P1", "same", 4, &b, &l, err, sizeof err) != 0) {
			CHECK(0);
			break;
		}
		memcpy(nonces + (size_t)i * VAULT_NONCE_BYTES, b + VAULT_HEADER_BYTES, VAULT_NONCE_BYTES);
		free(b);
	}
	qsort(nonces, N, VAULT_NONCE_BYTES, cmp_nonce);
	for (int i = 1; i < N; i++)
		if (memcmp(nonces + (size_t)(i - 1) * VAULT_NONCE_BYTES,
		           nonces + (size_t)i * VAULT_NONCE_BYTES, VAULT_NONCE_BYTES) == 0)
			dups++;
	CHECK(dups == 0);
	free(nonces);
	vault_free(v);
}

static void test_known_answer(void)
{
	/* made by Python cryptography's AESGCM: key 01..20, nonce 00..0b,
	 * aad = 0x01 || key id || "P0001/refresh", plaintext "refresh-token-value" */
	static const char blob_hex[] =
		"0166b076c785ceb989000102030405060708090a0b035567e5adae09267b44d9"
		"240ab581ec45e2d820a121aed6951023d1caa9e9c42bae48";
	unsigned char blob[sizeof blob_hex / 2];
	vault *v = open_hex("k1", KEY1_HEX);
	char *plain;
	size_t plen;
	unsigned char md[32];
	char idhex[17];
	static const char label[] = "bbingest vault key id v1";
	unsigned char in[sizeof label - 1 + 32];

	mc_section("format pinned by a value sealed with an independent AES-GCM implementation");
	CHECK(ou_hex_decode(blob_hex, strlen(blob_hex), blob, sizeof blob) == 0);
	CHECK(vault_open(v, "P0001/refresh", blob, sizeof blob, &plain, &plen, err, sizeof err) == 0);
	CHECK_STR(plain, "refresh-token-value");
	vault_wipe_free(plain, plen);

	mc_section("key id is the first 8 bytes of SHA-256(label || key)");
	memcpy(in, label, sizeof label - 1);
	memcpy(in + sizeof label - 1, key1, 32);
	SHA256(in, sizeof in, md);
	ou_hex_encode(md, 8, idhex);
	CHECK_STR(vault_key_id(v), idhex);
	vault_free(v);
}

static void cleanup(void)
{
	char *cmd = xasprintf("rm -rf '%s'", tmpdir);

	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	free(cmd);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 2;
	}
	unsetenv("CREDENTIALS_DIRECTORY");
	test_key_forms();
	test_key_errors();
	test_credentials();
	test_seal();
	test_wrong_key_and_rotation();
	test_nonces();
	test_known_answer();
	cleanup();
	return mc_done("test_vault");
}
