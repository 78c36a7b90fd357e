// tls_identity.h: the identities of a client certificate that `verify_and_map` matches against
// the configured users, in nats-server's order: each email address of the subject alternative
// names, then each DNS name, then each URI, then the subject's distinguished name in RFC 2253
// form (e.g. "CN=alice,OU=ops,O=Example"). The authentication code takes the first identity
// that names a user.
//
// Thread safety: pure function.
#pragma once

#include <string>
#include <vector>

typedef struct x509_st X509;

namespace tandem::server {

std::vector<std::string> CertificateIdentities(X509* cert);

}  // namespace tandem::server
