#ifndef TOKENKEEPER_COPENSSL_SHIM_H
#define TOKENKEEPER_COPENSSL_SHIM_H

// OpenSSL 3 libcrypto, the only source of cryptographic primitives in tokenkeeper.
// Only the EVP interfaces are used: AES-256-GCM, HKDF, SHA-256, RAND_bytes, OPENSSL_cleanse.
#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#endif
