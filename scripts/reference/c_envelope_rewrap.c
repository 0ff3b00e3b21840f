/*
 * Plain C reference for the rotation under envelope encryption (issue 14): each token is sealed under
 * its own random 32-byte data key, and only the data keys are sealed under the tenant's key version,
 * in a narrow table. A rotation rewraps the data keys, never the tokens. This program measures that
 * rewrap with exactly c_rewrap.c's settings (PRAGMA journal_mode=WAL, synchronous=NORMAL, 1,000-row
 * transactions, prepared statements, OpenSSL EVP AES-256-GCM, one thread, the same fixed keys), on
 * rows of (id, tenant_id, user_id, key_version, nonce, sealed_key) where sealed_key is the 48-byte
 * AES-256-GCM sealing (32-byte data key + 16-byte tag) with associated data "tenant|user|version".
 *
 *   c_envelope_rewrap DB ROWS   create DB's table data_keys with ROWS rows over 100 tenants (replacing
 *                               one that is there), sealed under key version 1, then rewrap every row
 *                               to version 2 with a fresh nonce; prints one JSON line like c_rewrap
 *
 * Only the rewrap is timed; the peak RSS is the whole process's. Benchmark tooling only: tokenkeeper
 * itself never runs it (scripts/bench builds and runs it beside c_rewrap and the Python baseline).
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

enum { BATCH = 1000, TENANTS = 100, NONCE = 12, TAG = 16, DATA_KEY = 32, SEALED = DATA_KEY + TAG, MAX_AAD = 512 };

struct row {
    sqlite3_int64 id;
    char aad_prefix[MAX_AAD]; /* "tenant|user|" */
    unsigned char nonce[NONCE];
    unsigned char sealed[SEALED];
};

static void fail(const char *what, const char *detail) {
    fprintf(stderr, "c_envelope_rewrap: %s: %s\n", what, detail);
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

static void random_bytes(unsigned char *out, int count) {
    if (RAND_bytes(out, count) != 1) fail("RAND_bytes", "no randomness");
}

/* A random version 4 UUID in text form (37 bytes with the terminator), like the baseline's ids. */
static void random_uuid(char out[37]) {
    unsigned char b[16];
    random_bytes(b, 16);
    b[6] = (unsigned char)((b[6] & 0x0F) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3F) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3],
             b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
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

/* Creates the table with `rows` random data keys sealed under version 1, in 1,000-row transactions. */
static void seed(sqlite3 *db, EVP_CIPHER_CTX *sealer_v1, long rows) {
    exec_sql(db, "DROP TABLE IF EXISTS data_keys");
    exec_sql(db, "CREATE TABLE data_keys (id INTEGER PRIMARY KEY, tenant_id TEXT NOT NULL, user_id TEXT NOT NULL, "
                 "key_version INTEGER NOT NULL, nonce BLOB NOT NULL, sealed_key BLOB NOT NULL, "
                 "UNIQUE (tenant_id, user_id))");
    char tenants[TENANTS][37];
    for (int i = 0; i < TENANTS; i++) random_uuid(tenants[i]);
    sqlite3_stmt *insert = NULL;
    if (sqlite3_prepare_v2(db, "INSERT INTO data_keys (tenant_id, user_id, key_version, nonce, sealed_key) "
                               "VALUES (?, ?, 1, ?, ?)", -1, &insert, NULL) != SQLITE_OK)
        fail("prepare", sqlite3_errmsg(db));
    unsigned char data_key[DATA_KEY], nonce[NONCE], sealed[SEALED];
    char user[37], prefix[MAX_AAD];
    for (long done = 0; done < rows;) {
        exec_sql(db, "BEGIN");
        for (long end = done + BATCH < rows ? done + BATCH : rows; done < end; done++) {
            const char *tenant = tenants[done % TENANTS];
            random_uuid(user);
            snprintf(prefix, sizeof prefix, "%s|%s|", tenant, user);
            random_bytes(data_key, DATA_KEY);
            random_bytes(nonce, NONCE);
            if (gcm(sealer_v1, 1, nonce, prefix, 1, data_key, DATA_KEY, sealed, sealed + DATA_KEY) != DATA_KEY)
                fail("encrypt", "failed");
            sqlite3_bind_text(insert, 1, tenant, -1, SQLITE_STATIC);
            sqlite3_bind_text(insert, 2, user, -1, SQLITE_STATIC);
            sqlite3_bind_blob(insert, 3, nonce, NONCE, SQLITE_STATIC);
            sqlite3_bind_blob(insert, 4, sealed, SEALED, SQLITE_STATIC);
            if (sqlite3_step(insert) != SQLITE_DONE) fail("insert", sqlite3_errmsg(db));
            sqlite3_reset(insert);
        }
        exec_sql(db, "COMMIT");
    }
    OPENSSL_cleanse(data_key, sizeof data_key);
    sqlite3_finalize(insert);
}

int main(int argc, char **argv) {
    long seed_rows = argc == 3 ? strtol(argv[2], NULL, 10) : 0;
    if (argc != 3 || seed_rows <= 0) {
        fprintf(stderr, "usage: c_envelope_rewrap DB ROWS   (creates DB's data_keys table with ROWS rows, then rewraps it)\n");
        return 2;
    }
    unsigned char key_v1[32], key_v2[32];
    for (int i = 0; i < 32; i++) { key_v1[i] = (unsigned char)i; key_v2[i] = (unsigned char)(32 + i); }

    sqlite3 *db = NULL;
    if (sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
        fail(argv[1], sqlite3_errmsg(db));
    exec_sql(db, "PRAGMA journal_mode=WAL");
    exec_sql(db, "PRAGMA synchronous=NORMAL");

    EVP_CIPHER_CTX *opener = EVP_CIPHER_CTX_new(), *sealer = EVP_CIPHER_CTX_new();
    if (!opener || !sealer) fail("EVP_CIPHER_CTX_new", "out of memory");
    if (!EVP_CipherInit_ex(opener, EVP_aes_256_gcm(), NULL, key_v1, NULL, 0) ||
        !EVP_CipherInit_ex(sealer, EVP_aes_256_gcm(), NULL, key_v2, NULL, 1)) fail("EVP_CipherInit_ex", "AES-256-GCM unavailable");

    /* Seeding seals under version 1 with its own context; the rewrap below is what is timed. */
    EVP_CIPHER_CTX *seeder = EVP_CIPHER_CTX_new();
    if (!seeder || !EVP_CipherInit_ex(seeder, EVP_aes_256_gcm(), NULL, key_v1, NULL, 1)) fail("EVP_CipherInit_ex", "seeding");
    double seed_started = now_seconds();
    seed(db, seeder, seed_rows);
    double seed_seconds = now_seconds() - seed_started;
    EVP_CIPHER_CTX_free(seeder);

    sqlite3_stmt *select = NULL, *update = NULL;
    if (sqlite3_prepare_v2(db, "SELECT id, tenant_id, user_id, nonce, sealed_key FROM data_keys "
                               "WHERE key_version = 1 AND id > ? ORDER BY id LIMIT ?", -1, &select, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "UPDATE data_keys SET key_version = 2, nonce = ?, sealed_key = ? "
                               "WHERE id = ? AND key_version = 1", -1, &update, NULL) != SQLITE_OK)
        fail("prepare", sqlite3_errmsg(db));

    struct row *rows = calloc(BATCH, sizeof *rows);
    if (!rows) fail("malloc", "out of memory");
    unsigned char data_key[DATA_KEY], sealed[SEALED];

    double started = now_seconds();
    long done = 0;
    sqlite3_int64 last_id = 0;
    for (;;) {
        int count = 0, rc;
        sqlite3_bind_int64(select, 1, last_id);
        sqlite3_bind_int(select, 2, BATCH);
        while ((rc = sqlite3_step(select)) == SQLITE_ROW) {
            struct row *row = &rows[count++];
            if (sqlite3_column_bytes(select, 4) != SEALED || sqlite3_column_bytes(select, 3) != NONCE)
                fail("row", "unexpected sizes");
            row->id = sqlite3_column_int64(select, 0);
            snprintf(row->aad_prefix, sizeof row->aad_prefix, "%s|%s|", (const char *)sqlite3_column_text(select, 1),
                     (const char *)sqlite3_column_text(select, 2));
            memcpy(row->nonce, sqlite3_column_blob(select, 3), NONCE);
            memcpy(row->sealed, sqlite3_column_blob(select, 4), SEALED);
        }
        if (rc != SQLITE_DONE) fail("select", sqlite3_errmsg(db));
        sqlite3_reset(select);
        if (count == 0) break;
        exec_sql(db, "BEGIN");
        for (int i = 0; i < count; i++) {
            struct row *row = &rows[i];
            if (gcm(opener, 0, row->nonce, row->aad_prefix, 1, row->sealed, DATA_KEY, data_key, row->sealed + DATA_KEY) !=
                DATA_KEY)
                fail("decrypt", "a data key did not open with key version 1");
            unsigned char nonce[NONCE];
            random_bytes(nonce, NONCE);
            if (gcm(sealer, 1, nonce, row->aad_prefix, 2, data_key, DATA_KEY, sealed, sealed + DATA_KEY) != DATA_KEY)
                fail("encrypt", "failed");
            sqlite3_bind_blob(update, 1, nonce, NONCE, SQLITE_STATIC);
            sqlite3_bind_blob(update, 2, sealed, SEALED, SQLITE_STATIC);
            sqlite3_bind_int64(update, 3, row->id);
            if (sqlite3_step(update) != SQLITE_DONE) fail("update", sqlite3_errmsg(db));
            sqlite3_reset(update);
        }
        exec_sql(db, "COMMIT");
        done += count;
        last_id = rows[count - 1].id;
    }
    double seconds = now_seconds() - started;
    OPENSSL_cleanse(data_key, sizeof data_key);

    sqlite3_stmt *left = NULL;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM data_keys WHERE key_version = 1", -1, &left, NULL) != SQLITE_OK ||
        sqlite3_step(left) != SQLITE_ROW) fail("count", sqlite3_errmsg(db));
    if (sqlite3_column_int64(left, 0) != 0) fail("verify", "rows are still on key version 1");
    if (done != seed_rows) fail("rewrap", "did not rewrap every seeded row");

    sqlite3_finalize(left);
    sqlite3_finalize(select);
    sqlite3_finalize(update);
    sqlite3_close(db);
    EVP_CIPHER_CTX_free(opener);
    EVP_CIPHER_CTX_free(sealer);
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    printf("{\"seed_s\": %.3f, \"rewrap_rows\": %ld, \"rewrap_s\": %.3f, \"rewrap_rows_per_s\": %.0f, \"peak_rss_mib\": %.1f}\n",
           seed_seconds, done, seconds, (double)done / seconds, (double)usage.ru_maxrss / 1024.0);
    free(rows);
    return 0;
}
