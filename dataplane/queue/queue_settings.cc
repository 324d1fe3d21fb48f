#include "queue_settings.h"

#include <array>
#include <cctype>
#include <charconv>
#include <vector>

namespace sluice::queue {

namespace {

Error unknown_attribute(std::string_view name) {
  return {ErrorCode::kInvalidAttributeName, "Unknown Attribute " + std::string(name) + "."};
}

Error invalid_value(std::string_view name) {
  return {ErrorCode::kInvalidAttributeValue,
          "Invalid value for the parameter " + std::string(name) + "."};
}

Error invalid_policy(std::string_view name, std::string_view value, std::string_view reason) {
  return {ErrorCode::kInvalidParameterValue, "Value " + std::string(value) + " for parameter " +
                                                 std::string(name) +
                                                 " is invalid. Reason: " + std::string(reason)};
}

std::optional<uint32_t> parse_u32(std::string_view s) {
  uint32_t v = 0;
  if (s.empty()) return std::nullopt;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::optional<bool> parse_bool(std::string_view s) {
  if (iequals(s, "true")) return true;
  if (iequals(s, "false")) return false;
  return std::nullopt;
}

// A JSON object whose values are strings, numbers or arrays of strings: all the redrive
// policies hold.
struct JsonMember {
  std::string key;
  std::string scalar;
  std::vector<std::string> list;
  bool is_list = false;
};

class FlatJson {
 public:
  explicit FlatJson(std::string_view text) : s_(text) {}

  std::optional<std::vector<JsonMember>> parse() {
    std::vector<JsonMember> members;
    if (!eat('{')) return std::nullopt;
    if (eat('}')) return finish(std::move(members));
    do {
      JsonMember m;
      if (!string(&m.key) || !eat(':')) return std::nullopt;
      if (eat('[')) {
        m.is_list = true;
        if (!eat(']')) {
          do {
            std::string item;
            if (!string(&item)) return std::nullopt;
            m.list.push_back(std::move(item));
          } while (eat(','));
          if (!eat(']')) return std::nullopt;
        }
      } else if (!string(&m.scalar) && !number(&m.scalar)) {
        return std::nullopt;
      }
      members.push_back(std::move(m));
    } while (eat(','));
    if (!eat('}')) return std::nullopt;
    return finish(std::move(members));
  }

 private:
  std::optional<std::vector<JsonMember>> finish(std::vector<JsonMember> members) {
    skip_space();
    if (i_ != s_.size()) return std::nullopt;
    return members;
  }
  void skip_space() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  bool eat(char c) {
    skip_space();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool string(std::string* out) {
    if (!eat('"')) return false;
    while (i_ < s_.size() && s_[i_] != '"') {
      if (s_[i_] == '\\') {
        if (++i_ == s_.size()) return false;
        const char c = s_[i_];
        if (c != '"' && c != '\\' && c != '/') return false;
      }
      *out += s_[i_++];
    }
    return eat('"');
  }
  bool number(std::string* out) {
    skip_space();
    const size_t start = i_;
    while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
    *out = std::string(s_.substr(start, i_ - start));
    return i_ > start;
  }

  std::string_view s_;
  size_t i_ = 0;
};

// fsync | none | interval:N with N from 1 to 60000 milliseconds.
std::optional<Durability> parse_durability(std::string_view v) {
  if (v == "fsync") return Durability{};
  if (v == "none") return Durability{.mode = DurabilityMode::kNone};
  constexpr std::string_view kInterval = "interval:";
  if (!v.starts_with(kInterval)) return std::nullopt;
  const auto ms = parse_u32(v.substr(kInterval.size()));
  if (!ms || *ms < 1 || *ms > limits::kMaxSyncIntervalMs) return std::nullopt;
  return Durability{.mode = DurabilityMode::kInterval, .interval_ms = *ms};
}

Result<std::optional<RedrivePolicy>> parse_redrive_policy(std::string_view value) {
  constexpr std::string_view kName = "RedrivePolicy";
  if (value.empty()) return std::optional<RedrivePolicy>();
  const auto members = FlatJson(value).parse();
  if (!members) return invalid_policy(kName, value, "Redrive policy is not a valid JSON map.");
  RedrivePolicy policy;
  bool have_count = false;
  for (const JsonMember& m : *members) {
    if (m.key == "deadLetterTargetArn" && !m.is_list) {
      policy.dead_letter_target_arn = m.scalar;
    } else if (m.key == "maxReceiveCount" && !m.is_list) {
      const auto n = parse_u32(m.scalar);
      if (!n || *n < 1 || *n > limits::kMaxReceiveCount) {
        return invalid_policy(kName, value,
                              "Invalid value for maxReceiveCount: " + m.scalar +
                                  ", valid values are from 1 to 1000 both inclusive.");
      }
      policy.max_receive_count = *n;
      have_count = true;
    } else {
      return invalid_policy(kName, value,
                            "Only following attributes are supported: "
                            "[deadLetterTargetArn, maxReceiveCount].");
    }
  }
  if (policy.dead_letter_target_arn.empty() || !have_count) {
    return invalid_policy(
        kName, value,
        "Redrive policy does not contain mandatory attribute: " +
            std::string(policy.dead_letter_target_arn.empty() ? "deadLetterTargetArn"
                                                              : "maxReceiveCount") +
            ".");
  }
  if (queue_name_of_arn(policy.dead_letter_target_arn).empty()) {
    return invalid_policy(kName, value, "Invalid deadLetterTargetArn.");
  }
  return std::optional<RedrivePolicy>(std::move(policy));
}

Result<std::optional<RedriveAllowPolicy>> parse_redrive_allow_policy(std::string_view value) {
  constexpr std::string_view kName = "RedriveAllowPolicy";
  if (value.empty()) return std::optional<RedriveAllowPolicy>();
  const auto members = FlatJson(value).parse();
  if (!members) return invalid_policy(kName, value, "Redrive allow policy is not valid JSON.");
  RedriveAllowPolicy policy;
  bool have_permission = false;
  for (const JsonMember& m : *members) {
    if (m.key == "redrivePermission" && !m.is_list) {
      have_permission = true;
      if (m.scalar == "allowAll") {
        policy.permission = RedrivePermission::kAllowAll;
      } else if (m.scalar == "denyAll") {
        policy.permission = RedrivePermission::kDenyAll;
      } else if (m.scalar == "byQueue") {
        policy.permission = RedrivePermission::kByQueue;
      } else {
        return invalid_policy(kName, value, "Invalid value for redrivePermission.");
      }
    } else if (m.key == "sourceQueueArns" && m.is_list) {
      policy.source_queue_arns = m.list;
    } else {
      return invalid_policy(kName, value, "Unknown key " + m.key + ".");
    }
  }
  if (!have_permission) {
    return invalid_policy(kName, value, "redrivePermission is required.");
  }
  const bool by_queue = policy.permission == RedrivePermission::kByQueue;
  if (by_queue && (policy.source_queue_arns.empty() ||
                   policy.source_queue_arns.size() > limits::kMaxSourceQueueArns)) {
    return invalid_policy(kName, value, "byQueue needs between 1 and 10 sourceQueueArns.");
  }
  if (!by_queue && !policy.source_queue_arns.empty()) {
    return invalid_policy(kName, value, "sourceQueueArns is allowed only with byQueue.");
  }
  return std::optional<RedriveAllowPolicy>(std::move(policy));
}

bool is_fifo_only(std::string_view name) {
  return name == "ContentBasedDeduplication" || name == "DeduplicationScope" ||
         name == "FifoThroughputLimit";
}

Status apply_one(QueueSettings& s, const AttributeValue& a, AttributeUse use) {
  const std::string_view n = a.name;
  const std::string_view v = a.value;
  auto ranged = [&](uint32_t* field, uint32_t lo, uint32_t hi) -> Status {
    const auto x = parse_u32(v);
    if (!x || *x < lo || *x > hi) return invalid_value(n);
    *field = *x;
    return {};
  };
  auto boolean = [&](bool* field) -> Status {
    const auto x = parse_bool(v);
    if (!x) return invalid_value(n);
    *field = *x;
    return {};
  };
  if (n == "VisibilityTimeout") {
    return ranged(&s.visibility_timeout_s, 0, limits::kMaxVisibilitySeconds);
  }
  if (n == "MaximumMessageSize") {
    return ranged(&s.maximum_message_size, limits::kMinMessageSize, limits::kMaxMessageSize);
  }
  if (n == "MessageRetentionPeriod") {
    return ranged(&s.message_retention_s, limits::kMinRetentionSeconds,
                  limits::kMaxRetentionSeconds);
  }
  if (n == "DelaySeconds") return ranged(&s.delay_s, 0, limits::kMaxDelaySeconds);
  if (n == "ReceiveMessageWaitTimeSeconds") {
    return ranged(&s.receive_wait_s, 0, limits::kMaxWaitSeconds);
  }
  if (n == "Policy") {
    s.policy = std::string(v);
    return {};
  }
  if (n == "RedrivePolicy") {
    auto policy = parse_redrive_policy(v);
    if (!policy) return policy.error();
    s.redrive_policy = std::move(policy.value());
    return {};
  }
  if (n == "RedriveAllowPolicy") {
    auto policy = parse_redrive_allow_policy(v);
    if (!policy) return policy.error();
    s.redrive_allow_policy = std::move(policy.value());
    return {};
  }
  if (n == "SqsManagedSseEnabled") return boolean(&s.sqs_managed_sse);
  if (n == "KmsMasterKeyId") {
    s.kms_master_key_id = std::string(v);
    return {};
  }
  if (n == "KmsDataKeyReusePeriodSeconds") {
    return ranged(&s.kms_data_key_reuse_period_s, 60, 86400);
  }
  if (n == "SluiceDurability") {
    const auto d = parse_durability(v);
    if (!d) return invalid_value(n);
    s.durability = *d;
    return {};
  }
  if (n == "SluiceEncryptionKeyId") {
    s.encryption_key_id = std::string(v);
    return {};
  }
  if (n == "FifoQueue" && use == AttributeUse::kCreate) return boolean(&s.fifo);
  if (is_fifo_only(n) && s.fifo) {
    if (n == "ContentBasedDeduplication") return boolean(&s.content_based_deduplication);
    if (n == "DeduplicationScope") {
      if (v == "queue") {
        s.deduplication_scope = DeduplicationScope::kQueue;
      } else if (v == "messageGroup") {
        s.deduplication_scope = DeduplicationScope::kMessageGroup;
      } else {
        return invalid_value(n);
      }
      return {};
    }
    if (v == "perQueue") {
      s.fifo_throughput_limit = FifoThroughputLimit::kPerQueue;
    } else if (v == "perMessageGroupId") {
      s.fifo_throughput_limit = FifoThroughputLimit::kPerMessageGroupId;
    } else {
      return invalid_value(n);
    }
    return {};
  }
  return unknown_attribute(n);
}

bool valid_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
}

}  // namespace

bool has_fifo_suffix(std::string_view name) {
  return name.ends_with(".fifo");
}

Status validate_queue_name(std::string_view name, bool fifo) {
  const std::string_view stem = has_fifo_suffix(name) ? name.substr(0, name.size() - 5) : name;
  bool chars_ok = !stem.empty() && name.size() <= limits::kMaxQueueNameLength;
  for (char c : stem) chars_ok = chars_ok && valid_name_char(c);
  if (fifo && (!chars_ok || !has_fifo_suffix(name))) {
    return Error{ErrorCode::kInvalidParameterValue,
                 "The name of a FIFO queue can only include alphanumeric characters, hyphens, or "
                 "underscores, must end with .fifo suffix and be 1 to 80 in length."};
  }
  if (!fifo && (!chars_ok || has_fifo_suffix(name))) {
    return Error{ErrorCode::kInvalidParameterValue,
                 "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in "
                 "length"};
  }
  return {};
}

Result<QueueSettings> apply_attributes(QueueSettings base,
                                       std::span<const AttributeValue> attributes,
                                       AttributeUse use) {
  // FifoQueue decides which other names exist, so it goes first.
  if (use == AttributeUse::kCreate) {
    for (const AttributeValue& a : attributes) {
      if (a.name != "FifoQueue") continue;
      if (Status s = apply_one(base, a, use); !s) return s.error();
    }
  }
  for (const AttributeValue& a : attributes) {
    if (Status s = apply_one(base, a, use); !s) return s.error();
  }
  return base;
}

std::optional<std::string> setting_value(const QueueSettings& s, std::string_view name) {
  auto flag = [](bool b) { return std::string(b ? "true" : "false"); };
  if (name == "VisibilityTimeout") return std::to_string(s.visibility_timeout_s);
  if (name == "MaximumMessageSize") return std::to_string(s.maximum_message_size);
  if (name == "MessageRetentionPeriod") return std::to_string(s.message_retention_s);
  if (name == "DelaySeconds") return std::to_string(s.delay_s);
  if (name == "ReceiveMessageWaitTimeSeconds") return std::to_string(s.receive_wait_s);
  if (name == "Policy") return s.policy;
  if (name == "RedrivePolicy") {
    return s.redrive_policy ? redrive_policy_json(*s.redrive_policy) : std::string();
  }
  if (name == "RedriveAllowPolicy") {
    return s.redrive_allow_policy ? redrive_allow_policy_json(*s.redrive_allow_policy)
                                  : std::string();
  }
  if (name == "SqsManagedSseEnabled") return flag(s.sqs_managed_sse);
  if (name == "KmsMasterKeyId") return s.kms_master_key_id;
  if (name == "KmsDataKeyReusePeriodSeconds") return std::to_string(s.kms_data_key_reuse_period_s);
  if (name == "SluiceDurability") {
    switch (s.durability.mode) {
      case DurabilityMode::kFsync:
        return std::string("fsync");
      case DurabilityMode::kInterval:
        return "interval:" + std::to_string(s.durability.interval_ms);
      case DurabilityMode::kNone:
        return std::string("none");
    }
  }
  if (name == "SluiceEncryptionKeyId") return s.encryption_key_id;
  if (!s.fifo) return std::nullopt;
  if (name == "FifoQueue") return flag(true);
  if (name == "ContentBasedDeduplication") return flag(s.content_based_deduplication);
  if (name == "DeduplicationScope") {
    return std::string(s.deduplication_scope == DeduplicationScope::kQueue ? "queue"
                                                                           : "messageGroup");
  }
  if (name == "FifoThroughputLimit") {
    return std::string(s.fifo_throughput_limit == FifoThroughputLimit::kPerQueue
                           ? "perQueue"
                           : "perMessageGroupId");
  }
  return std::nullopt;
}

std::string_view queue_name_of_arn(std::string_view arn) {
  std::array<std::string_view, 6> parts;
  size_t start = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const size_t colon = i + 1 < parts.size() ? arn.find(':', start) : arn.size();
    if (colon == std::string_view::npos) return {};
    parts[i] = arn.substr(start, colon - start);
    start = colon + 1;
  }
  if (parts[0] != "arn" || parts[2] != "sqs" || parts[5].find(':') != std::string_view::npos) {
    return {};
  }
  if (!validate_queue_name(parts[5], has_fifo_suffix(parts[5]))) return {};
  return parts[5];
}

std::string redrive_policy_json(const RedrivePolicy& p) {
  return "{\"deadLetterTargetArn\":\"" + p.dead_letter_target_arn +
         "\",\"maxReceiveCount\":" + std::to_string(p.max_receive_count) + "}";
}

std::string redrive_allow_policy_json(const RedriveAllowPolicy& p) {
  static constexpr std::array<std::string_view, 3> kNames = {"allowAll", "denyAll", "byQueue"};
  std::string out = "{\"redrivePermission\":\"";
  out += kNames[static_cast<size_t>(p.permission)];
  out += '"';
  if (p.permission == RedrivePermission::kByQueue) {
    out += ",\"sourceQueueArns\":[";
    for (size_t i = 0; i < p.source_queue_arns.size(); ++i) {
      if (i > 0) out += ',';
      out += '"' + p.source_queue_arns[i] + '"';
    }
    out += ']';
  }
  out += '}';
  return out;
}

}  // namespace sluice::queue
