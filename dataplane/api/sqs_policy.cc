// AddPermission and RemovePermission over the queue's Policy document. The document keeps its
// members in the order they were written (ordered_json), so a policy set with SetQueueAttributes
// reads back as its owner wrote it, with the added statements after the others.
#include "sqs_policy.h"

#include <algorithm>
#include <array>

#include <nlohmann/json.hpp>

namespace sluice::api::sqs {

namespace {

using Json = nlohmann::ordered_json;

constexpr std::string_view kPolicyVersion = "2012-10-17";
constexpr size_t kMaxLabelLength = 80;
constexpr size_t kMaxPolicyDepth = 64;  // IAM documents nest a handful of levels

// The actions a queue's owner may grant to another account (the rest only the owner may call).
constexpr std::array<std::string_view, 9> kShareableActions = {
    "*",
    "SendMessage",
    "ReceiveMessage",
    "DeleteMessage",
    "ChangeMessageVisibility",
    "GetQueueAttributes",
    "GetQueueUrl",
    "ListDeadLetterSourceQueues",
    "PurgeQueue",
};

std::optional<std::string> refuse(std::string* error, std::string message) {
  if (error != nullptr) *error = std::move(message);
  return std::nullopt;
}

std::string invalid(std::string_view value, std::string_view parameter, std::string_view reason) {
  return "Value " + std::string(value) + " for parameter " + std::string(parameter) +
         " is invalid. Reason: " + std::string(reason) + ".";
}

bool valid_label(std::string_view label) {
  return !label.empty() && label.size() <= kMaxLabelLength &&
         std::all_of(label.begin(), label.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
         });
}

bool valid_account_id(std::string_view id) {
  return id.size() == 12 &&
         std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Whether the JSON text nests arrays and objects at most `max_depth` deep. The policy is stored
// as its owner sent it, and writing a document back out recurses once per level.
bool nesting_within(std::string_view text, size_t max_depth) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return true;
}

// The stored document as an object with a Statement list (a lone statement object, which IAM
// also allows, becomes a list of one), or nullopt when it is not a JSON object or nests deeper
// than any policy does.
std::optional<Json> parse_policy(std::string_view policy_json) {
  if (policy_json.empty()) return Json::object();
  if (!nesting_within(policy_json, kMaxPolicyDepth)) return std::nullopt;
  Json policy = Json::parse(policy_json, nullptr, false);
  if (!policy.is_object()) return std::nullopt;
  auto statements = policy.find("Statement");
  if (statements != policy.end() && statements->is_object()) {
    *statements = Json::array({*statements});
  }
  return policy;
}

bool has_sid(const Json& statement, std::string_view sid) {
  if (!statement.is_object()) return false;
  auto it = statement.find("Sid");
  return it != statement.end() && it->is_string() && it->get_ref<const std::string&>() == sid;
}

std::string dump(const Json& policy) {
  return policy.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace

std::optional<std::string> add_permission(std::string_view policy_json, std::string_view queue_arn,
                                          const AddPermissionRequest& request, std::string* error) {
  if (!valid_label(request.label)) {
    return refuse(error, invalid(request.label, "Label",
                                 "Must be 1 to 80 characters of A-Z, a-z, 0-9, - and _"));
  }
  for (const auto& action : request.actions) {
    if (std::find(kShareableActions.begin(), kShareableActions.end(), action) ==
        kShareableActions.end()) {
      return refuse(error, invalid("SQS:" + action, "ActionName",
                                   "Only the queue owner is allowed to invoke this action"));
    }
  }
  for (const auto& id : request.account_ids) {
    if (!valid_account_id(id)) return refuse(error, invalid(id, "PrincipalId", "Unable to verify"));
  }
  std::optional<Json> policy = parse_policy(policy_json);
  if (!policy) {
    return refuse(error, "The queue's Policy attribute is not a JSON policy document.");
  }
  if (policy->empty()) {
    (*policy)["Version"] = kPolicyVersion;
    (*policy)["Id"] = std::string(queue_arn) + "/SQSDefaultPolicy";
  }
  Json& statements = (*policy)["Statement"];
  if (statements.is_null()) statements = Json::array();
  if (!statements.is_array()) {
    return refuse(error, "The Statement of the queue's Policy attribute is not a list.");
  }
  if (std::any_of(statements.begin(), statements.end(),
                  [&](const Json& s) { return has_sid(s, request.label); })) {
    return refuse(error, invalid(request.label, "Label", "Already exists"));
  }
  Json principals = Json::array();
  for (const auto& id : request.account_ids) principals.push_back("arn:aws:iam::" + id + ":root");
  Json actions = Json::array();
  for (const auto& action : request.actions) actions.push_back("SQS:" + action);
  Json statement = Json::object();
  statement["Sid"] = request.label;
  statement["Effect"] = "Allow";
  statement["Principal"] = Json{{"AWS", principals}};
  statement["Action"] = actions;
  statement["Resource"] = queue_arn;
  statements.push_back(std::move(statement));
  return dump(*policy);
}

std::optional<std::string> remove_permission(std::string_view policy_json, std::string_view label,
                                             std::string* error) {
  const std::string not_found = invalid(label, "Label", "can't find label on existing policy");
  std::optional<Json> policy = parse_policy(policy_json);
  if (!policy) return refuse(error, not_found);
  auto statements = policy->find("Statement");
  if (statements == policy->end() || !statements->is_array()) return refuse(error, not_found);
  const size_t before = statements->size();
  Json kept = Json::array();
  for (auto& s : *statements) {
    if (!has_sid(s, label)) kept.push_back(std::move(s));
  }
  if (kept.size() == before) return refuse(error, not_found);
  if (kept.empty()) return std::string();
  *statements = std::move(kept);
  return dump(*policy);
}

}  // namespace sluice::api::sqs
