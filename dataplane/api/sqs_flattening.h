// How the query protocol flattens SQS maps: element NAME.N carries the entry's key in
// NAME.N.<key> and its value in NAME.N.Value, where AWS JSON 1.0 has one member holding an
// object. Shared by the request decoder and the XML reply writer.
#pragma once

#include <algorithm>
#include <array>
#include <string_view>

namespace sluice::api::sqs {

struct FlattenedMap {
  std::string_view element;  // the query/XML name of one entry
  std::string_view member;   // the AWS JSON member
  std::string_view key;      // the entry's key field
};

inline constexpr std::array<FlattenedMap, 4> kFlattenedMaps = {{
    {"Attribute", "Attributes", "Name"},
    {"MessageAttribute", "MessageAttributes", "Name"},
    {"MessageSystemAttribute", "MessageSystemAttributes", "Name"},
    {"Tag", "Tags", "Key"},
}};

// The map whose query element (or, with by_member, JSON member) is `name`; nullptr if none.
inline const FlattenedMap* find_flattened_map(std::string_view name, bool by_member) {
  auto it = std::find_if(kFlattenedMaps.begin(), kFlattenedMaps.end(),
                         [&](const auto& m) { return (by_member ? m.member : m.element) == name; });
  return it == kFlattenedMaps.end() ? nullptr : &*it;
}

}  // namespace sluice::api::sqs
