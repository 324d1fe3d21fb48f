#include "wal_crypto.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstring>

namespace sluice::queue::wal {

namespace {

// Associated data, in either direction: the queue name, then the LSN (8 bytes, little-endian).
bool add_aad(EVP_CIPHER_CTX* ctx, std::string_view queue, uint64_t lsn) {
  int n = 0;
  return EVP_CipherUpdate(ctx, nullptr, &n, reinterpret_cast<const uint8_t*>(queue.data()),
                          static_cast<int>(queue.size())) == 1 &&
         EVP_CipherUpdate(ctx, nullptr, &n, reinterpret_cast<const uint8_t*>(&lsn), 8) == 1;
}

}  // namespace

KeyRing::KeyRing(std::map<std::string, Key, std::less<>> keys) : keys_(std::move(keys)) {}

KeyRing::~KeyRing() {
  EVP_CIPHER_CTX_free(ctx_);
}

EVP_CIPHER_CTX* KeyRing::context() {
  if (ctx_ == nullptr) ctx_ = EVP_CIPHER_CTX_new();
  return ctx_;
}

size_t KeyRing::plain_size(std::span<const uint8_t> sealed) {
  if (sealed.empty()) return SIZE_MAX;
  const size_t overhead = 1 + sealed[0] + kNonce + kTag;
  return sealed.size() < overhead ? SIZE_MAX : sealed.size() - overhead;
}

bool KeyRing::seal(std::string_view key_id, std::string_view queue, uint64_t lsn,
                   std::span<const uint8_t> plain, uint8_t* out) {
  const auto it = keys_.find(key_id);
  EVP_CIPHER_CTX* ctx = context();
  if (it == keys_.end() || key_id.size() > 255 || ctx == nullptr) return false;
  *out++ = static_cast<uint8_t>(key_id.size());
  std::memcpy(out, key_id.data(), key_id.size());
  out += key_id.size();
  uint8_t* nonce = out;
  if (RAND_bytes(nonce, kNonce) != 1) return false;
  out += kNonce;
  int n = 0;
  int tail = 0;
  if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, it->second.data(), nonce) != 1 ||
      !add_aad(ctx, queue, lsn) ||
      EVP_EncryptUpdate(ctx, out, &n, plain.data(), static_cast<int>(plain.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx, out + n, &tail) != 1) {
    return false;
  }
  return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kTag, out + plain.size()) == 1;
}

std::string_view KeyRing::open(std::string_view queue, uint64_t lsn,
                               std::span<const uint8_t> sealed, uint8_t* out) {
  const size_t plain = plain_size(sealed);
  if (plain == SIZE_MAX) return "sealed contents too short";
  const std::string_view key_id(reinterpret_cast<const char*>(sealed.data() + 1), sealed[0]);
  const auto it = keys_.find(key_id);
  if (it == keys_.end()) return "the record's encryption key is not configured";
  const uint8_t* nonce = sealed.data() + 1 + key_id.size();
  const uint8_t* cipher = nonce + kNonce;
  std::array<uint8_t, kTag> tag{};
  std::memcpy(tag.data(), cipher + plain, kTag);
  EVP_CIPHER_CTX* ctx = context();
  int n = 0;
  int tail = 0;
  if (ctx == nullptr ||
      EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, it->second.data(), nonce) != 1 ||
      !add_aad(ctx, queue, lsn) ||
      EVP_DecryptUpdate(ctx, out, &n, cipher, static_cast<int>(plain)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, kTag, tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx, out + n, &tail) != 1) {
    return "sealed contents do not authenticate";
  }
  return {};
}

}  // namespace sluice::queue::wal
