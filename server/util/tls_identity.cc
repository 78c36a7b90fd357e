// tls_identity.cc: reads the identities of a certificate (see tls_identity.h).
#include "server/util/tls_identity.h"

#include <openssl/bio.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace tandem::server {

namespace {

void AddNames(GENERAL_NAMES* names, int type, std::vector<std::string>* out) {
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type != type) continue;
    const ASN1_IA5STRING* s = n->d.ia5;  // email, DNS and URI are all IA5 strings
    out->emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                      static_cast<size_t>(ASN1_STRING_length(s)));
  }
}

std::string SubjectRfc2253(X509* cert) {
  BIO* mem = BIO_new(BIO_s_mem());
  if (mem == nullptr) return {};
  X509_NAME_print_ex(mem, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long len = BIO_get_mem_data(mem, &data);
  std::string dn = len > 0 ? std::string(data, static_cast<size_t>(len)) : std::string();
  BIO_free(mem);
  return dn;
}

}  // namespace

std::vector<std::string> CertificateIdentities(X509* cert) {
  std::vector<std::string> out;
  if (cert == nullptr) return out;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names != nullptr) {
    AddNames(names, GEN_EMAIL, &out);
    AddNames(names, GEN_DNS, &out);
    AddNames(names, GEN_URI, &out);
    GENERAL_NAMES_free(names);
  }
  std::string dn = SubjectRfc2253(cert);
  if (!dn.empty()) out.push_back(std::move(dn));
  return out;
}

}  // namespace tandem::server
