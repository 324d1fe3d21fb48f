// Decoding UTF-8 strictly: no overlong forms, no surrogates, nothing above U+10FFFF, no sequence
// cut short. Configuration strings and message bodies both must be well-formed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sluice {

// Calls accept(code_point) for each character; false when the text is malformed or `accept`
// refuses a character.
template <class Accept>
bool for_each_code_point(std::string_view s, Accept accept) {
  static constexpr uint32_t kMinForLength[] = {0, 0x80, 0x800, 0x10000};
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t extra;
    uint32_t cp;
    if (c < 0x80) {
      extra = 0;
      cp = c;
    } else if ((c & 0xe0) == 0xc0) {
      extra = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (extra > s.size() - i - 1) return false;
    for (size_t k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (cp < kMinForLength[extra] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    if (!accept(cp)) return false;
    i += extra + 1;
  }
  return true;
}

inline bool valid_utf8(std::string_view s) {
  return for_each_code_point(s, [](uint32_t) { return true; });
}

}  // namespace sluice
