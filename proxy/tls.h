/*
 * The server's TLS context: certificate chain and key from [tls], TLS 1.2
 * or newer, OpenSSL's default secure ciphers. Loaded as root before a
 * worker drops its privileges.
 */
#pragma once

#include <openssl/ssl.h>
#include <stddef.h>

/** NULL on error, with the reason (file, OpenSSL's words) in err. */
SSL_CTX *tls_server_create(const char *cert, const char *key, char *err, size_t errlen);

/** "TLSv1.3 TLS_AES_256_GCM_SHA384" for the audit log. */
void tls_describe(SSL *ssl, char *out, size_t len);
