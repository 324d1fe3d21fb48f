#include "target_picker.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>
#include <stdexcept>
#include <tuple>

namespace sluice::proxy {
namespace {

constexpr size_t kAddressBytes = 16;
constexpr size_t kPayloadBytes = kAddressBytes + 2;  // address and port, network order
constexpr size_t kMacBytes = 16;                     // HMAC-SHA256 truncated
constexpr size_t kTokenBytes = kPayloadBytes + kMacBytes;

// One key per process, shared by every core's pickers; cookies do not survive a restart.
const std::array<uint8_t, 32>& cookie_key() {
  static const std::array<uint8_t, 32> key = [] {
    std::array<uint8_t, 32> k{};
    if (RAND_bytes(k.data(), static_cast<int>(k.size())) != 1)
      throw std::runtime_error("target picker: no random bytes for the stickiness cookie key");
    return k;
  }();
  return key;
}

constexpr char kBase64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string base64url_encode(const uint8_t* data, size_t size) {
  std::string out;
  out.reserve((size * 4 + 2) / 3);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < size; ++i) {
    acc = (acc << 8) | data[i];
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kBase64Url[(acc >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(kBase64Url[(acc << (6 - bits)) & 0x3f]);
  return out;
}

// The cookie's value: base64url of the address, the port and a MAC over both. The MAC covers the
// group's name too, so a cookie minted for one group names nothing in another.
std::string make_token(const std::string& group_name, const Target& t) {
  std::array<uint8_t, kTokenBytes> token{};
  std::copy(t.address.bytes.begin(), t.address.bytes.end(), token.begin());
  token[kAddressBytes] = static_cast<uint8_t>(t.port >> 8);
  token[kAddressBytes + 1] = static_cast<uint8_t>(t.port & 0xff);
  std::string data = group_name;
  data.push_back('\0');
  data.append(reinterpret_cast<const char*>(token.data()), kPayloadBytes);
  const auto& key = cookie_key();
  uint8_t mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const uint8_t*>(data.data()), data.size(), mac, &len);
  std::copy_n(mac, kMacBytes, token.begin() + kPayloadBytes);
  return base64url_encode(token.data(), token.size());
}

int base64url_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// Unpadded base64url of exactly kTokenBytes bytes, else nullopt.
std::optional<std::array<uint8_t, kTokenBytes>> base64url_decode_token(std::string_view text) {
  if (text.size() != (kTokenBytes * 4 + 2) / 3) return std::nullopt;
  std::array<uint8_t, kTokenBytes> out{};
  size_t n = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const int v = base64url_value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = static_cast<uint8_t>(acc >> bits);
    }
  }
  // Leftover bits must be zero, so each token has one spelling.
  if ((acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// IMF-fixdate (RFC 9110), independent of the locale.
std::string imf_fixdate(std::chrono::system_clock::time_point t) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday],
                tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

}  // namespace

TargetPicker::TargetPicker(const TargetGroup& group, uint64_t seed, const TargetPicker* previous,
                           Clock::time_point now)
    : group_(group), state_(group.targets.size()), rng_(seed) {
  const std::vector<Target>& targets = group_.targets;
  const size_t n = targets.size();

  by_address_.resize(n);
  for (size_t i = 0; i < n; ++i) by_address_[i] = static_cast<int>(i);
  std::stable_sort(by_address_.begin(), by_address_.end(), [&](int a, int b) {
    return std::tie(targets[a].address, targets[a].port) <
           std::tie(targets[b].address, targets[b].port);
  });

  if (group_.stickiness.enabled) {
    tokens_.reserve(n);
    for (const Target& t : targets) tokens_.push_back(make_token(group_.name, t));
  }

  const bool any_healthy = std::any_of(targets.begin(), targets.end(), [](const Target& t) {
    return t.state == TargetState::kHealthy;
  });
  for (size_t i = 0; i < n; ++i) {
    const Target& t = targets[i];
    state_[i].routable = t.weight > 0 && (any_healthy ? t.state == TargetState::kHealthy
                                                      : t.state != TargetState::kDraining);
  }

  const auto slow_start = std::chrono::seconds(group_.slow_start_s);
  // Whether each target was healthy in the previous configuration too.
  std::vector<bool> stayed_healthy(n, false);
  if (previous) {
    for (size_t i = 0; i < n; ++i) {
      const int p = previous->find(targets[i].address, targets[i].port);
      if (p < 0) continue;
      const Slot& old = previous->state_[p];
      state_[i].outstanding = old.outstanding;
      state_[i].current = old.current;
      stayed_healthy[i] = targets[i].state == TargetState::kHealthy &&
                          previous->group_.targets[p].state == TargetState::kHealthy;
      if (group_.slow_start_s > 0 && stayed_healthy[i] && old.ramp_start &&
          now - *old.ramp_start < slow_start)
        state_[i].ramp_start = old.ramp_start;
    }
  }

  // ALB: a target that becomes healthy ramps only while another, not ramping, already serves;
  // the first configuration and a group's only target start at full weight.
  if (previous && group_.slow_start_s > 0) {
    bool serving = false;
    for (size_t i = 0; i < n; ++i)
      serving = serving || (stayed_healthy[i] && targets[i].weight > 0 && !state_[i].ramp_start);
    if (serving) {
      for (size_t i = 0; i < n; ++i)
        if (targets[i].state == TargetState::kHealthy && !stayed_healthy[i])
          state_[i].ramp_start = now;
    }
  }

  // Cores built from the same configuration start their rotation at different targets.
  if (!previous && group_.algorithm != Algorithm::kWeightedRandom) {
    const auto routable_count = static_cast<uint64_t>(
        std::count_if(state_.begin(), state_.end(), [](const Slot& s) { return s.routable; }));
    if (routable_count > 0) {
      const bool lor = group_.algorithm == Algorithm::kLeastOutstandingRequests;
      for (uint64_t k = seed % routable_count; k > 0; --k) smooth_step(now, {}, lor);
    }
  }
}

int TargetPicker::find(const IpAddress& address, uint16_t port) const {
  const auto it = std::lower_bound(by_address_.begin(), by_address_.end(), 0, [&](int a, int) {
    return std::tie(group_.targets[a].address, group_.targets[a].port) < std::tie(address, port);
  });
  if (it == by_address_.end()) return -1;
  const Target& t = group_.targets[*it];
  return t.address == address && t.port == port ? *it : -1;
}

bool TargetPicker::excluded(int target, std::span<const int> exclude) const {
  return std::find(exclude.begin(), exclude.end(), target) != exclude.end();
}

int TargetPicker::pick(Clock::time_point now, std::span<const int> exclude) {
  switch (group_.algorithm) {
    case Algorithm::kRoundRobin:
      return smooth_step(now, exclude, false);
    case Algorithm::kLeastOutstandingRequests:
      return smooth_step(now, exclude, true);
    case Algorithm::kWeightedRandom:
      return weighted_random(now, exclude);
  }
  return -1;
}

// Smooth weighted round robin: every candidate's counter grows by its weight, the highest wins
// and gives back the sum, which interleaves 3:1 as A A B A and is exact over each cycle. For least
// outstanding requests the candidates are those with the fewest outstanding, so the rotation
// shares ties by weight.
int TargetPicker::smooth_step(Clock::time_point now, std::span<const int> exclude,
                              bool least_outstanding) {
  const int n = static_cast<int>(state_.size());
  uint32_t least = UINT32_MAX;
  if (least_outstanding) {
    for (int i = 0; i < n; ++i)
      if (effective_weight(i, now) > 0 && !excluded(i, exclude))
        least = std::min(least, state_[i].outstanding);
  }
  double total = 0;
  int best = -1;
  for (int i = 0; i < n; ++i) {
    if (least_outstanding && state_[i].outstanding != least) continue;
    const double w = effective_weight(i, now);
    if (w <= 0 || excluded(i, exclude)) continue;
    state_[i].current += w;
    total += w;
    if (best < 0 || state_[i].current > state_[best].current) best = i;
  }
  if (best >= 0) state_[best].current -= total;
  return best;
}

int TargetPicker::weighted_random(Clock::time_point now, std::span<const int> exclude) {
  const int n = static_cast<int>(state_.size());
  double total = 0;
  for (int i = 0; i < n; ++i)
    if (!excluded(i, exclude)) total += effective_weight(i, now);
  if (total <= 0) return -1;
  double r = static_cast<double>(next_random() >> 11) * 0x1.0p-53 * total;
  int last = -1;
  for (int i = 0; i < n; ++i) {
    if (excluded(i, exclude)) continue;
    const double w = effective_weight(i, now);
    if (w <= 0) continue;
    if (r < w) return i;
    r -= w;
    last = i;
  }
  return last;  // r landed on the sum's rounding error
}

// splitmix64
uint64_t TargetPicker::next_random() {
  uint64_t z = (rng_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

double TargetPicker::effective_weight(int target, Clock::time_point now) const {
  if (!routable(target)) return 0;
  const double weight = group_.targets[target].weight;
  const auto& start = state_[target].ramp_start;
  if (!start || group_.slow_start_s == 0) return weight;
  const double ramp = std::chrono::duration<double>(now - *start).count() / group_.slow_start_s;
  if (ramp >= 1) return weight;
  return weight * std::max(kSlowStartFloor, ramp);
}

void TargetPicker::on_start(int target) {
  if (valid(target)) ++state_[target].outstanding;
}

void TargetPicker::on_finish(int target) {
  if (valid(target) && state_[target].outstanding > 0) --state_[target].outstanding;
}

uint32_t TargetPicker::outstanding(int target) const {
  return valid(target) ? state_[target].outstanding : 0;
}

std::string TargetPicker::sticky_cookie(int target,
                                        std::chrono::system_clock::time_point now) const {
  if (!valid(target))
    throw std::out_of_range("target picker: no target " + std::to_string(target) +
                            " in target group '" + group_.name + "'");
  const std::string token =
      tokens_.empty() ? make_token(group_.name, group_.targets[target]) : tokens_[target];
  const auto expires = now + std::chrono::seconds(group_.stickiness.duration_s);
  return std::string(kCookieName) + "=" + token + "; Expires=" + imf_fixdate(expires) + "; Path=/";
}

int TargetPicker::sticky_target(std::string_view cookie_header) const {
  if (!group_.stickiness.enabled) return -1;
  while (!cookie_header.empty()) {
    const size_t semi = cookie_header.find(';');
    const std::string_view pair = trim(cookie_header.substr(0, semi));
    cookie_header =
        semi == std::string_view::npos ? std::string_view{} : cookie_header.substr(semi + 1);
    const size_t eq = pair.find('=');
    if (eq == std::string_view::npos || trim(pair.substr(0, eq)) != kCookieName) continue;
    std::string_view value = trim(pair.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    const auto token = base64url_decode_token(value);
    if (!token) continue;
    IpAddress address;
    std::copy_n(token->begin(), kAddressBytes, address.bytes.begin());
    const auto port =
        static_cast<uint16_t>(((*token)[kAddressBytes] << 8) | (*token)[kAddressBytes + 1]);
    const int target = find(address, port);
    // The token is canonical, so equal text means an equal MAC; compared in constant time.
    if (target < 0 || CRYPTO_memcmp(tokens_[target].data(), value.data(), value.size()) != 0)
      continue;
    if (routable(target)) return target;
  }
  return -1;
}

int pick_weighted_group(std::span<const WeightedTargetGroup> groups, uint64_t random) {
  uint64_t total = 0;
  for (const WeightedTargetGroup& g : groups) total += g.weight;
  if (total == 0) return -1;
  // The modulo bias is below total / 2^64, far under any weight's share.
  uint64_t r = random % total;
  for (size_t i = 0; i < groups.size(); ++i) {
    if (r < groups[i].weight) return static_cast<int>(i);
    r -= groups[i].weight;
  }
  return -1;
}

}  // namespace sluice::proxy
