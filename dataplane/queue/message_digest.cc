#include "message_digest.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>

namespace sluice::queue {

namespace {

class Digest {
 public:
  explicit Digest(const EVP_MD* md) : ctx_(EVP_MD_CTX_new()) {
    EVP_DigestInit_ex(ctx_, md, nullptr);
  }
  ~Digest() { EVP_MD_CTX_free(ctx_); }
  Digest(const Digest&) = delete;
  Digest& operator=(const Digest&) = delete;

  void update(std::string_view data) { EVP_DigestUpdate(ctx_, data.data(), data.size()); }
  void update_length_prefixed(std::string_view data) {
    const auto n = static_cast<uint32_t>(data.size());
    const std::array<uint8_t, 4> length = {static_cast<uint8_t>(n >> 24),
                                           static_cast<uint8_t>(n >> 16),
                                           static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)};
    EVP_DigestUpdate(ctx_, length.data(), length.size());
    update(data);
  }
  template <size_t N>
  std::array<uint8_t, N> finish() {
    std::array<uint8_t, N> out{};
    EVP_DigestFinal_ex(ctx_, out.data(), nullptr);
    return out;
  }

 private:
  EVP_MD_CTX* ctx_;
};

}  // namespace

Md5 md5_of_body(std::string_view body) {
  Digest d(EVP_md5());
  d.update(body);
  return d.finish<16>();
}

Md5 md5_of_attributes(std::span<const MessageAttribute> attributes) {
  std::array<const MessageAttribute*, limits::kMaxMessageAttributes> sorted{};
  const size_t n = std::min(attributes.size(), sorted.size());
  for (size_t i = 0; i < n; ++i) sorted[i] = &attributes[i];
  std::sort(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(n),
            [](const MessageAttribute* a, const MessageAttribute* b) { return a->name < b->name; });
  Digest d(EVP_md5());
  for (size_t i = 0; i < n; ++i) {
    const MessageAttribute& a = *sorted[i];
    d.update_length_prefixed(a.name);
    d.update_length_prefixed(a.data_type);
    const char transport = a.binary() ? 2 : 1;
    d.update({&transport, 1});
    d.update_length_prefixed(a.value);
  }
  return d.finish<16>();
}

Sha256 sha256_of(std::string_view data) {
  Digest d(EVP_sha256());
  d.update(data);
  return d.finish<32>();
}

std::string to_hex(std::span<const uint8_t> bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

}  // namespace sluice::queue
