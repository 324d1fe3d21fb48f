#include "packet_builder.h"

#include <arpa/inet.h>

#include <cstring>
#include <stdexcept>

namespace sluice::test {
namespace {

void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

void put32(uint8_t* p, uint32_t v) {
  put16(p, static_cast<uint16_t>(v >> 16));
  put16(p + 2, static_cast<uint16_t>(v));
}

uint32_t sum16(const uint8_t* data, size_t len) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2) sum += static_cast<uint32_t>(data[i] << 8 | data[i + 1]);
  if (len & 1) sum += static_cast<uint32_t>(data[len - 1] << 8);
  return sum;
}

}  // namespace

uint32_t ipv4(const char* dotted) {
  in_addr a{};
  if (inet_pton(AF_INET, dotted, &a) != 1) throw std::invalid_argument(dotted);
  return ntohl(a.s_addr);
}

Ipv6Addr ipv6(const char* text) {
  Ipv6Addr a{};
  if (inet_pton(AF_INET6, text, a.data()) != 1) throw std::invalid_argument(text);
  return a;
}

Mac mac(const char* text) {
  Mac m{};
  unsigned v[6];
  if (std::sscanf(text, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6) {
    throw std::invalid_argument(text);
  }
  for (int i = 0; i < 6; ++i) m[i] = static_cast<uint8_t>(v[i]);
  return m;
}

PacketBuilder& PacketBuilder::eth(Mac src, Mac dst, uint16_t ether_type) {
  std::vector<uint8_t> b(14);
  std::memcpy(b.data(), dst.data(), 6);
  std::memcpy(b.data() + 6, src.data(), 6);
  layers_.push_back({Kind::kEth, std::move(b), ether_type});
  return *this;
}

PacketBuilder& PacketBuilder::vlan(uint16_t vid, uint16_t tpid) {
  std::vector<uint8_t> b(4);
  put16(b.data(), vid & 0x0fff);
  layers_.push_back({Kind::kVlan, std::move(b), tpid});
  return *this;
}

PacketBuilder& PacketBuilder::ipv4(uint32_t src, uint32_t dst, uint8_t ttl,
                                   std::vector<uint8_t> options) {
  options.resize((options.size() + 3) / 4 * 4, 0);
  std::vector<uint8_t> b(20 + options.size());
  b[0] = static_cast<uint8_t>(0x40 | (b.size() / 4));
  put16(&b[6], 0x4000);  // don't fragment
  b[8] = ttl;
  put32(&b[12], src);
  put32(&b[16], dst);
  if (!options.empty()) std::memcpy(b.data() + 20, options.data(), options.size());
  layers_.push_back({Kind::kIpv4, std::move(b)});
  return *this;
}

PacketBuilder& PacketBuilder::ipv4_fragment(uint16_t offset_units, bool more_fragments) {
  for (auto it = layers_.rbegin(); it != layers_.rend(); ++it) {
    if (it->kind == Kind::kIpv4) {
      put16(&it->bytes[6],
            static_cast<uint16_t>((more_fragments ? 0x2000 : 0) | (offset_units & 0x1fff)));
      return *this;
    }
  }
  throw std::logic_error("ipv4_fragment without an IPv4 layer");
}

PacketBuilder& PacketBuilder::ipv6(const Ipv6Addr& src, const Ipv6Addr& dst, uint8_t hop_limit) {
  std::vector<uint8_t> b(40);
  b[0] = 0x60;
  b[7] = hop_limit;
  std::memcpy(&b[8], src.data(), 16);
  std::memcpy(&b[24], dst.data(), 16);
  layers_.push_back({Kind::kIpv6, std::move(b)});
  return *this;
}

PacketBuilder& PacketBuilder::ipv6_ext(uint8_t type, size_t body_bytes) {
  size_t total = type == 44 ? 8 : (2 + body_bytes + 7) / 8 * 8;
  std::vector<uint8_t> b(total);
  if (type != 44) b[1] = static_cast<uint8_t>(total / 8 - 1);
  layers_.push_back({Kind::kIpv6Ext, std::move(b), type});
  return *this;
}

PacketBuilder& PacketBuilder::tcp(uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq,
                                  uint32_t ack) {
  std::vector<uint8_t> b(20);
  put16(&b[0], sport);
  put16(&b[2], dport);
  put32(&b[4], seq);
  put32(&b[8], ack);
  b[12] = 5 << 4;
  b[13] = flags;
  put16(&b[14], 65535);
  layers_.push_back({Kind::kTcp, std::move(b)});
  return *this;
}

PacketBuilder& PacketBuilder::udp(uint16_t sport, uint16_t dport) {
  std::vector<uint8_t> b(8);
  put16(&b[0], sport);
  put16(&b[2], dport);
  layers_.push_back({Kind::kUdp, std::move(b)});
  return *this;
}

PacketBuilder& PacketBuilder::icmp(uint8_t type, uint8_t code, uint32_t rest) {
  std::vector<uint8_t> b(8);
  b[0] = type;
  b[1] = code;
  put32(&b[4], rest);
  layers_.push_back({Kind::kIcmp, std::move(b)});
  return *this;
}

PacketBuilder& PacketBuilder::icmp6(uint8_t type, uint8_t code, uint32_t rest) {
  icmp(type, code, rest);
  layers_.back().kind = Kind::kIcmp6;
  return *this;
}

PacketBuilder& PacketBuilder::payload(const std::vector<uint8_t>& bytes) {
  layers_.push_back({Kind::kPayload, bytes});
  return *this;
}

PacketBuilder& PacketBuilder::payload(size_t n, uint8_t fill) {
  return payload(std::vector<uint8_t>(n, fill));
}

PacketBuilder& PacketBuilder::pad_to(size_t n) {
  pad_to_ = n;
  return *this;
}

Frame PacketBuilder::build() const {
  Frame f;
  std::vector<size_t> at;
  for (const auto& l : layers_) {
    at.push_back(f.size());
    f.insert(f.end(), l.bytes.begin(), l.bytes.end());
  }
  const size_t end = f.size();
  auto next_kind = [&](size_t i) {
    return i + 1 < layers_.size() ? layers_[i + 1].kind : Kind::kPayload;
  };
  auto ip_proto = [&](size_t i) -> uint8_t {
    switch (next_kind(i)) {
      case Kind::kIpv4:
        return 4;
      case Kind::kIpv6:
        return 41;
      case Kind::kIpv6Ext:
        return static_cast<uint8_t>(layers_[i + 1].type);
      case Kind::kTcp:
        return 6;
      case Kind::kUdp:
        return 17;
      case Kind::kIcmp:
        return 1;
      case Kind::kIcmp6:
        return 58;
      default:
        return 59;  // no next header
    }
  };
  auto ether_type = [&](size_t i) -> uint16_t {
    switch (next_kind(i)) {
      case Kind::kVlan:
        return layers_[i + 1].type;
      case Kind::kIpv4:
        return 0x0800;
      case Kind::kIpv6:
        return 0x86dd;
      default:
        return 0x88b5;
    }
  };
  // The IP layer whose pseudo-header covers layer i: the closest IP layer before it.
  auto enclosing_ip = [&](size_t i) -> long {
    for (long j = static_cast<long>(i) - 1; j >= 0; --j) {
      if (layers_[j].kind == Kind::kIpv4 || layers_[j].kind == Kind::kIpv6) return j;
    }
    return -1;
  };
  auto pseudo_sum = [&](size_t i, uint8_t proto) -> uint32_t {
    long ip = enclosing_ip(i);
    if (ip < 0) return 0;
    const uint8_t* h = &f[at[ip]];
    const auto len = static_cast<uint32_t>(end - at[i]);
    if (layers_[ip].kind == Kind::kIpv4) return sum16(h + 12, 8) + proto + len;
    return sum16(h + 8, 32) + proto + (len >> 16) + (len & 0xffff);
  };
  auto fold = [](uint32_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
  };

  // Lengths and next-protocol fields first, then checksums from the innermost layer outwards.
  for (size_t i = 0; i < layers_.size(); ++i) {
    uint8_t* p = &f[at[i]];
    const Layer& l = layers_[i];
    switch (l.kind) {
      case Kind::kEth:
        put16(p + 12, l.type ? l.type : ether_type(i));
        break;
      case Kind::kVlan:
        put16(p + 2, ether_type(i));
        break;
      case Kind::kIpv4:
        put16(p + 2, static_cast<uint16_t>(end - at[i]));
        p[9] = ip_proto(i);
        break;
      case Kind::kIpv6:
        put16(p + 4, static_cast<uint16_t>(end - at[i] - 40));
        p[6] = ip_proto(i);
        break;
      case Kind::kIpv6Ext:
        p[0] = ip_proto(i);
        break;
      case Kind::kUdp:
        put16(p + 4, static_cast<uint16_t>(end - at[i]));
        break;
      default:
        break;
    }
  }
  for (size_t k = layers_.size(); k-- > 0;) {
    uint8_t* p = &f[at[k]];
    const size_t len = end - at[k];
    switch (layers_[k].kind) {
      case Kind::kIpv4:
        put16(p + 10, 0);
        put16(p + 10, fold(sum16(p, layers_[k].bytes.size())));
        break;
      case Kind::kTcp:
        put16(p + 16, 0);
        put16(p + 16, fold(sum16(p, len) + pseudo_sum(k, 6)));
        break;
      case Kind::kUdp: {
        put16(p + 6, 0);
        uint16_t c = fold(sum16(p, len) + pseudo_sum(k, 17));
        put16(p + 6, c == 0 ? 0xffff : c);
        break;
      }
      case Kind::kIcmp:
        put16(p + 2, 0);
        put16(p + 2, fold(sum16(p, len)));
        break;
      case Kind::kIcmp6:
        put16(p + 2, 0);
        put16(p + 2, fold(sum16(p, len) + pseudo_sum(k, 58)));
        break;
      default:
        break;
    }
  }
  if (f.size() < pad_to_) f.resize(pad_to_, 0);
  return f;
}

}  // namespace sluice::test
