// Signatures of SNS messages (the envelope's Signature and SigningCertURL): SNS signs each
// notification and confirmation with a key whose certificate it publishes, so that a subscriber
// can check a message came from the topic's service. Sluice makes an RSA-2048 key and a
// self-signed certificate for it when the service starts, serves the certificate's PEM on the API
// endpoint, and signs with SignatureVersion 1 (SHA1withRSA, as SNS does by default) over the
// canonical string SNS defines for the message type.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::api::sns {

class MessageSigner {
 public:
  MessageSigner();  // throws std::runtime_error when OpenSSL cannot make the key
  ~MessageSigner();
  MessageSigner(const MessageSigner&) = delete;
  MessageSigner& operator=(const MessageSigner&) = delete;

  // Base64 of the SHA1withRSA signature of the canonical string: for each (name, value) in the
  // order given, "name\nvalue\n".
  std::string sign(const std::vector<std::pair<std::string_view, std::string_view>>& fields) const;
  const std::string& certificate_pem() const { return certificate_pem_; }

  // Where the certificate is served, under the endpoint's URL prefix.
  static constexpr std::string_view kCertificatePath = "SimpleNotificationService-sluice.pem";

 private:
  struct Key;
  std::unique_ptr<Key> key_;
  std::string certificate_pem_;
};

}  // namespace sluice::api::sns
