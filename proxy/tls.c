/* TLS context for the front-ends (see tls.h). No untrusted input here. */
#include "autoconfig.h"

#include <openssl/err.h>
#include <stdio.h>

#include "tls.h"

static void openssl_error(char *err, size_t errlen, const char *what, const char *path)
{
	char reason[256];
	unsigned long e = ERR_get_error();

	ERR_error_string_n(e, reason, sizeof(reason));
	snprintf(err, errlen, "%s %s: %s", what, path, e ? reason : "unknown error");
	ERR_clear_error();
}

SSL_CTX *tls_server_create(const char *cert, const char *key, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		openssl_error(err, errlen, "cannot create a TLS context", "");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		openssl_error(err, errlen, "cannot load [tls] cert", cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		openssl_error(err, errlen, "cannot load [tls] key", key);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "[tls] key %s does not belong to [tls] cert %s", key, cert);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

void tls_describe(SSL *ssl, char *out, size_t len)
{
	snprintf(out, len, "%s %s", SSL_get_version(ssl), SSL_get_cipher_name(ssl));
}
