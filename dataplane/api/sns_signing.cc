#include "sns_signing.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <stdexcept>

namespace sluice::api::sns {

struct MessageSigner::Key {
  EVP_PKEY* pkey = nullptr;
  ~Key() { EVP_PKEY_free(pkey); }
};

namespace {

std::string base64(const unsigned char* data, size_t size) {
  std::string out(4 * ((size + 2) / 3) + 1, '\0');
  const int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
  out.resize(static_cast<size_t>(n));
  return out;
}

}  // namespace

MessageSigner::MessageSigner() : key_(std::make_unique<Key>()) {
  key_->pkey = EVP_RSA_gen(2048);
  if (key_->pkey == nullptr) throw std::runtime_error("SNS signing: cannot make an RSA key");
  X509* cert = X509_new();
  if (cert == nullptr) throw std::runtime_error("SNS signing: cannot make a certificate");
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 10L * 365 * 24 * 3600);
  X509_set_pubkey(cert, key_->pkey);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("sns.sluice.local"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  const bool signed_ok = X509_sign(cert, key_->pkey, EVP_sha256()) > 0;
  BIO* bio = BIO_new(BIO_s_mem());
  if (signed_ok && bio != nullptr && PEM_write_bio_X509(bio, cert) == 1) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    certificate_pem_.assign(data, static_cast<size_t>(n));
  }
  BIO_free(bio);
  X509_free(cert);
  if (certificate_pem_.empty()) throw std::runtime_error("SNS signing: cannot sign a certificate");
}

MessageSigner::~MessageSigner() = default;

std::string MessageSigner::sign(
    const std::vector<std::pair<std::string_view, std::string_view>>& fields) const {
  std::string canonical;
  for (const auto& [name, value] : fields) {
    canonical += name;
    canonical += '\n';
    canonical += value;
    canonical += '\n';
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::string signature(static_cast<size_t>(EVP_PKEY_get_size(key_->pkey)), '\0');
  size_t length = signature.size();
  const bool ok = ctx != nullptr &&
                  EVP_DigestSignInit(ctx, nullptr, EVP_sha1(), nullptr, key_->pkey) == 1 &&
                  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(signature.data()), &length,
                                 reinterpret_cast<const unsigned char*>(canonical.data()),
                                 canonical.size()) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) throw std::runtime_error("SNS signing: signing failed");
  return base64(reinterpret_cast<const unsigned char*>(signature.data()), length);
}

}  // namespace sluice::api::sns
