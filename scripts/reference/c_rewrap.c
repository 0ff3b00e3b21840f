/*
 * Plain C reference for the rotation benchmark: the rewrap of ../shared/bench/python_rewrap.py
 * (same table, same keys, same associated data, same 1,000-row transactions) written the way a
 * C programmer would, with prepared statements, SQLite's C API and OpenSSL EVP AES-256-GCM.
 * It measures what a plain single-threaded C implementation reaches on this machine, side by
 * side with tokenkeeper and the Python baseline (scripts/bench builds and runs it).
 *
 *   c_rewrap DB      rewrap every row of a store seeded by `python_rewrap.py --mode seed-only`
 *                    from key version 1 to 2; prints one JSON line like the Python baseline
 *
 * Benchmark tooling only: tokenkeeper itself never runs it.
 */
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

enum { BATCH = 1000, NONCE = 12, TAG = 16, MAX_TOKEN = 4096, MAX_AAD = 512 };

struct row {
    sqlite3_int64 id;
    char aad_prefix[MAX_AAD]; /* "tenant|user|" */
    unsigned char nonce[NONCE];
    unsigned char ciphertext[MAX_TOKEN + TAG];
    int ciphertext_len;
};

static void fail(const char *what, const char *detail) {
    fprintf(stderr, "c_rewrap: %s: %s\n", what, detail);
    exit(1);
}

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void exec_sql(sqlite3 *db, const char *sql) {
    char *message = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &message) != SQLITE_OK) fail(sql, message ? message : "error");
}

/* AES-256-GCM with the row's associated data "tenant|user|version"; returns the output length or -1. */
static int gcm(EVP_CIPHER_CTX *ctx, int encrypt, const unsigned char *nonce, const char *aad_prefix, int version,
               const unsigned char *in, int in_len, unsigned char *out, unsigned char *tag) {
    char aad[MAX_AAD + 16];
    int aad_len = snprintf(aad, sizeof aad, "%s%d", aad_prefix, version);
    int len = 0, total = 0;
    if (!EVP_CipherInit_ex(ctx, NULL, NULL, NULL, nonce, encrypt)) return -1;
    if (!EVP_CipherUpdate(ctx, NULL, &len, (const unsigned char *)aad, aad_len)) return -1;
    if (!EVP_CipherUpdate(ctx, out, &len, in, in_len)) return -1;
    total = len;
    if (!encrypt && !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG, tag)) return -1;
    if (EVP_CipherFinal_ex(ctx, out + total, &len) <= 0) return -1;
    total += len;
    if (encrypt && !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG, tag)) return -1;
    return total;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: c_rewrap DB   (a store seeded by python_rewrap.py --mode seed-only)\n");
        return 2;
    }
    unsigned char key_v1[32], key_v2[32];
    for (int i = 0; i < 32; i++) { key_v1[i] = (unsigned char)i; key_v2[i] = (unsigned char)(32 + i); }

    sqlite3 *db = NULL;
    if (sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) fail(argv[1], sqlite3_errmsg(db));
    exec_sql(db, "PRAGMA journal_mode=WAL");
    exec_sql(db, "PRAGMA synchronous=NORMAL");

    EVP_CIPHER_CTX *opener = EVP_CIPHER_CTX_new(), *sealer = EVP_CIPHER_CTX_new();
    if (!opener || !sealer) fail("EVP_CIPHER_CTX_new", "out of memory");
    if (!EVP_CipherInit_ex(opener, EVP_aes_256_gcm(), NULL, key_v1, NULL, 0) ||
        !EVP_CipherInit_ex(sealer, EVP_aes_256_gcm(), NULL, key_v2, NULL, 1)) fail("EVP_CipherInit_ex", "AES-256-GCM unavailable");

    sqlite3_stmt *select = NULL, *update = NULL;
    if (sqlite3_prepare_v2(db, "SELECT id, tenant_id, user_id, nonce, ciphertext FROM tokens "
                               "WHERE key_version = 1 AND id > ? ORDER BY id LIMIT ?", -1, &select, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "UPDATE tokens SET key_version = 2, nonce = ?, ciphertext = ? "
                               "WHERE id = ? AND key_version = 1", -1, &update, NULL) != SQLITE_OK)
        fail("prepare", sqlite3_errmsg(db));

    struct row *rows = calloc(BATCH, sizeof *rows);
    unsigned char *plain = malloc(MAX_TOKEN), *sealed = malloc(MAX_TOKEN + TAG);
    if (!rows || !plain || !sealed) fail("malloc", "out of memory");

    double started = now_seconds();
    long done = 0;
    sqlite3_int64 last_id = 0;
    for (;;) {
        int count = 0, rc;
        sqlite3_bind_int64(select, 1, last_id);
        sqlite3_bind_int(select, 2, BATCH);
        while ((rc = sqlite3_step(select)) == SQLITE_ROW) {
            struct row *row = &rows[count++];
            int len = sqlite3_column_bytes(select, 4);
            if (len < TAG || len > MAX_TOKEN + TAG || sqlite3_column_bytes(select, 3) != NONCE) fail("row", "unexpected sizes");
            row->id = sqlite3_column_int64(select, 0);
            snprintf(row->aad_prefix, sizeof row->aad_prefix, "%s|%s|", (const char *)sqlite3_column_text(select, 1),
                     (const char *)sqlite3_column_text(select, 2));
            memcpy(row->nonce, sqlite3_column_blob(select, 3), NONCE);
            memcpy(row->ciphertext, sqlite3_column_blob(select, 4), (size_t)len);
            row->ciphertext_len = len;
        }
        if (rc != SQLITE_DONE) fail("select", sqlite3_errmsg(db));
        sqlite3_reset(select);
        if (count == 0) break;
        exec_sql(db, "BEGIN");
        for (int i = 0; i < count; i++) {
            struct row *row = &rows[i];
            int body = row->ciphertext_len - TAG;
            if (gcm(opener, 0, row->nonce, row->aad_prefix, 1, row->ciphertext, body, plain, row->ciphertext + body) != body)
                fail("decrypt", "a row did not open with key version 1");
            unsigned char nonce[NONCE];
            if (RAND_bytes(nonce, NONCE) != 1) fail("RAND_bytes", "no randomness");
            if (gcm(sealer, 1, nonce, row->aad_prefix, 2, plain, body, sealed, sealed + body) != body) fail("encrypt", "failed");
            sqlite3_bind_blob(update, 1, nonce, NONCE, SQLITE_STATIC);
            sqlite3_bind_blob(update, 2, sealed, body + TAG, SQLITE_STATIC);
            sqlite3_bind_int64(update, 3, row->id);
            if (sqlite3_step(update) != SQLITE_DONE) fail("update", sqlite3_errmsg(db));
            sqlite3_reset(update);
        }
        exec_sql(db, "COMMIT");
        done += count;
        last_id = rows[count - 1].id;
    }
    double seconds = now_seconds() - started;
    OPENSSL_cleanse(plain, MAX_TOKEN);

    sqlite3_stmt *left = NULL;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM tokens WHERE key_version = 1", -1, &left, NULL) != SQLITE_OK ||
        sqlite3_step(left) != SQLITE_ROW) fail("count", sqlite3_errmsg(db));
    if (sqlite3_column_int64(left, 0) != 0) fail("verify", "rows are still on key version 1");
    if (done == 0) fail("rewrap", "no rows at key version 1 (seed first)");

    sqlite3_finalize(left);
    sqlite3_finalize(select);
    sqlite3_finalize(update);
    sqlite3_close(db);
    EVP_CIPHER_CTX_free(opener);
    EVP_CIPHER_CTX_free(sealer);
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    printf("{\"rewrap_rows\": %ld, \"rewrap_s\": %.3f, \"rewrap_rows_per_s\": %.0f, \"peak_rss_mib\": %.1f}\n",
           done, seconds, (double)done / seconds, (double)usage.ru_maxrss / 1024.0);
    free(rows);
    free(plain);
    free(sealed);
    return 0;
}
