#include "message_digest.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>

namespace sluice::queue {

namespace {

// The algorithms, fetched once: OpenSSL 3 looks a digest up (under a lock) on every
// initialisation with EVP_md5() and friends, and a message's digests are computed on every send
// and every receive.
const EVP_MD* md5_algorithm() {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "MD5", nullptr);
  return md;
}

const EVP_MD* sha256_algorithm() {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

// One context per thread, initialised again for each digest.
class Digest {
 public:
  explicit Digest(const EVP_MD* md) : ctx_(context()) { EVP_DigestInit_ex2(ctx_, md, nullptr); }
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
  static EVP_MD_CTX* context() {
    struct Owned {
      EVP_MD_CTX* ctx = EVP_MD_CTX_new();
      ~Owned() { EVP_MD_CTX_free(ctx); }
    };
    thread_local Owned owned;
    return owned.ctx;
  }

  EVP_MD_CTX* ctx_;
};

}  // namespace

Md5 md5_of_body(std::string_view body) {
  Digest d(md5_algorithm());
  d.update(body);
  return d.finish<16>();
}

Md5 md5_of_attributes(std::span<const MessageAttribute> attributes) {
  std::array<const MessageAttribute*, limits::kMaxMessageAttributes> sorted{};
  const size_t n = std::min(attributes.size(), sorted.size());
  for (size_t i = 0; i < n; ++i) sorted[i] = &attributes[i];
  std::sort(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(n),
            [](const MessageAttribute* a, const MessageAttribute* b) { return a->name < b->name; });
  Digest d(md5_algorithm());
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
  Digest d(sha256_algorithm());
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
