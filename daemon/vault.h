/*
 * vault: sealing of OAuth tokens at rest with AES-256-GCM.
 *
 * A sealed value is a byte string for a bytea column:
 *
 *   offset  size  field
 *   0       1     format version, VAULT_FORMAT_V1 (0x01)
 *   1       8     key id: the first 8 bytes of SHA-256("bbingest vault key id v1" || key)
 *   9       12    nonce, fresh from RAND_bytes for every seal
 *   21      n     ciphertext (same length as the plaintext)
 *   21+n    16    GCM tag
 *
 * The associated data authenticated with each value is the 9-byte header
 * (version and key id) followed by the caller's `aad` string, which is the
 * participant id (callers may append a purpose, e.g. "P0001/refresh", so an
 * access token cannot be swapped for a refresh token).  A value copied to
 * another participant's row, or altered in any byte, does not open.
 *
 * Keys rotate: the vault seals with its primary key and opens values made
 * with the primary or any key added with vault_add_key(); vault_blob_key_id()
 * tells which key sealed a value, so old values can be re-sealed.
 *
 * The key (32 bytes) comes from a file or a systemd credential, in one of
 * three forms, with optional trailing newline: 64 hex characters, base64 of
 * 32 bytes, or exactly 32 raw bytes.  Generate one with
 *   openssl rand -hex 32 > FILE; chmod 600 FILE
 * Key bytes are never logged; they live on pages excluded from core dumps
 * (and locked in memory where RLIMIT_MEMLOCK allows) and are wiped on
 * vault_free().
 */
#ifndef BB_VAULT_H
#define BB_VAULT_H

#include <stddef.h>

typedef struct vault vault;

#define VAULT_KEY_BYTES 32
#define VAULT_KEY_ID_BYTES 8
#define VAULT_KEY_ID_HEX (2 * VAULT_KEY_ID_BYTES)
#define VAULT_NONCE_BYTES 12
#define VAULT_TAG_BYTES 16
#define VAULT_FORMAT_V1 0x01
#define VAULT_HEADER_BYTES (1 + VAULT_KEY_ID_BYTES)
#define VAULT_OVERHEAD (VAULT_HEADER_BYTES + VAULT_NONCE_BYTES + VAULT_TAG_BYTES)
/* Largest plaintext sealed or opened (tokens are far shorter). */
#define VAULT_MAX_PLAINTEXT (64 * 1024)
/* Largest key file read; anything longer is refused. */
#define VAULT_MAX_KEY_FILE 1024

/*
 * Load the primary key.  With `credential_name` set and $CREDENTIALS_DIRECTORY
 * holding a file of that name (systemd LoadCredential=), that file is used;
 * otherwise `key_file`.  Refuses a missing or unreadable file, one that is not
 * a regular file, one readable or writable by others, and a key of the
 * wrong length or form, with a message in `err` naming the file and how to
 * make a good one.  Returns NULL on error.
 */
vault *vault_open_key(const char *key_file, const char *credential_name,
                      char *err, size_t errlen);

/*
 * Add an older key that values may still be sealed with (rotation): it opens
 * values but never seals.  Same sources and checks as vault_open_key.
 * 0 on success, -1 with `err` set.
 */
int vault_add_key(vault *v, const char *key_file, const char *credential_name,
                  char *err, size_t errlen);

/* The primary key's id, 16 lower-case hex characters (not secret). */
const char *vault_key_id(const vault *v);

/*
 * Seal `len` bytes of `plain` for the participant `aad` (non-empty).  On
 * success *out is a new buffer of *outlen = len + VAULT_OVERHEAD bytes (the
 * caller frees it) and 0 is returned; -1 with `err` set otherwise.
 */
int vault_seal(vault *v, const char *aad, const void *plain, size_t len,
               unsigned char **out, size_t *outlen, char *err, size_t errlen);

/*
 * Open a sealed value for the participant `aad`.  On success *plain is a new
 * NUL-terminated buffer of *plainlen bytes (free it with vault_wipe_free) and
 * 0 is returned.  A value of an unknown format, sealed with a key this vault
 * does not hold (the message names both key ids), altered, or sealed for
 * another participant returns -1 with `err` set; no plaintext is returned.
 */
int vault_open(vault *v, const char *aad, const unsigned char *blob, size_t bloblen,
               char **plain, size_t *plainlen, char *err, size_t errlen);

/*
 * The id of the key that sealed `blob` into `out` (VAULT_KEY_ID_HEX + 1
 * bytes); 0, or -1 if the blob is not a sealed value of a known format.
 */
int vault_blob_key_id(const unsigned char *blob, size_t bloblen, char *out);

/* Wipe `len` bytes at p, then free; NULL is fine. */
void vault_wipe_free(void *p, size_t len);

/* Wipe every key and free the vault; NULL is fine. */
void vault_free(vault *v);

#endif
