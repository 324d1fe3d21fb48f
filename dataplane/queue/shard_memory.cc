#include "shard_memory.h"

#include <bit>
#include <cstring>

namespace sluice::queue {

// Class 2k is 64 << k bytes, class 2k + 1 is 96 << k.
size_t BlockArena::class_bytes(uint8_t size_class) {
  return (size_class % 2 == 0 ? size_t{64} : size_t{96}) << (size_class / 2);
}

uint8_t BlockArena::class_of(size_t bytes) {
  if (bytes <= 64) return 0;
  const int k = std::bit_width(bytes - 1) - 7;  // 64 << (k + 1) >= bytes > 64 << k
  const auto even = static_cast<uint8_t>(2 * k);
  if (bytes <= class_bytes(even + 1)) return even + 1;
  return even + 2;
}

BlockArena::~BlockArena() {
  budget_.release(chunks_.size() * kChunkBytes);
}

uint8_t* BlockArena::allocate(size_t bytes, uint8_t* size_class) {
  const uint8_t c = class_of(bytes);
  const size_t size = class_bytes(c);
  *size_class = c;
  if (size > kLargeBlock) {
    if (!budget_.reserve(size)) return nullptr;
    return new uint8_t[size];
  }
  if (uint8_t* block = free_[c]) {
    std::memcpy(&free_[c], block, sizeof(uint8_t*));
    return block;
  }
  if (bump_left_ < size) {
    if (!budget_.reserve(kChunkBytes)) return nullptr;
    chunks_.push_back(std::make_unique<uint8_t[]>(kChunkBytes));
    bump_ = chunks_.back().get();
    bump_left_ = kChunkBytes;
  }
  uint8_t* block = bump_;
  bump_ += size;
  bump_left_ -= size;
  return block;
}

void BlockArena::free(uint8_t* block, uint8_t size_class) {
  const size_t size = class_bytes(size_class);
  if (size > kLargeBlock) {
    delete[] block;
    budget_.release(size);
    return;
  }
  std::memcpy(block, &free_[size_class], sizeof(uint8_t*));
  free_[size_class] = block;
}

}  // namespace sluice::queue
