// Encryption at rest for the queue log: AES-256-GCM (OpenSSL) with keys from the configuration,
// one random 96-bit nonce per sealed record, and the record's queue name and LSN as associated
// data, so that a sealed record cannot be moved to another queue or place in the log unnoticed.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>

struct evp_cipher_ctx_st;

namespace sluice::queue::wal {

using Key = std::array<uint8_t, 32>;

// Sealed bytes: key id length (1) | key id | nonce (12) | ciphertext | tag (16).
class KeyRing {
 public:
  static constexpr size_t kNonce = 12;
  static constexpr size_t kTag = 16;

  KeyRing() = default;
  explicit KeyRing(std::map<std::string, Key, std::less<>> keys);
  ~KeyRing();
  KeyRing(const KeyRing&) = delete;
  KeyRing& operator=(const KeyRing&) = delete;

  bool contains(std::string_view key_id) const { return keys_.contains(key_id); }
  std::map<std::string, Key, std::less<>>::const_iterator begin() const { return keys_.begin(); }
  std::map<std::string, Key, std::less<>>::const_iterator end() const { return keys_.end(); }

  static size_t sealed_size(std::string_view key_id, size_t plain) {
    return 1 + key_id.size() + kNonce + plain + kTag;
  }
  // Writes sealed_size(key_id, plain.size()) bytes to `out`; false when the key is unknown or
  // OpenSSL fails.
  bool seal(std::string_view key_id, std::string_view queue, uint64_t lsn,
            std::span<const uint8_t> plain, uint8_t* out);
  // Writes the plaintext (sealed size less the overhead) to `out`; an error message when the key
  // is unknown or the bytes do not authenticate.
  std::string_view open(std::string_view queue, uint64_t lsn, std::span<const uint8_t> sealed,
                        uint8_t* out);
  // How many plaintext bytes `sealed` holds, or SIZE_MAX when it is too short to be sealed.
  static size_t plain_size(std::span<const uint8_t> sealed);

 private:
  evp_cipher_ctx_st* context();

  std::map<std::string, Key, std::less<>> keys_;
  evp_cipher_ctx_st* ctx_ = nullptr;
};

}  // namespace sluice::queue::wal
