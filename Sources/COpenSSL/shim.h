#ifndef POLLCAST_COPENSSL_SHIM_H
#define POLLCAST_COPENSSL_SHIM_H
/* OpenSSL's libcrypto, for the application layer: KDF, CSPRNG, digests, HMAC. */
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#endif
