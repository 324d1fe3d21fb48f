// AddPermission and RemovePermission as edits of a queue's `Policy` attribute, a JSON IAM policy
// document. Pure functions: the server reads the attribute, calls one of these and stores the
// result. See docs/sqs-api.md.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "sqs_codec.h"

namespace sluice::api::sqs {

// The policy with one more statement, Sid = the request's label: Allow, Principal
// {"AWS": ["arn:aws:iam::ACCOUNT:root", ...]}, Action ["SQS:ACTION", ...], Resource queue_arn.
// An empty `policy_json` starts a new policy (Version 2012-10-17). On a refusal returns nullopt
// with the InvalidParameterValue message in `error`: a label that is not 1-80 characters of
// [A-Za-z0-9_-] or is already present, an account id that is not 12 digits, an action that only
// the queue's owner may call, or a stored policy that is not a JSON object.
std::optional<std::string> add_permission(std::string_view policy_json, std::string_view queue_arn,
                                          const AddPermissionRequest& request, std::string* error);

// The policy without the statements whose Sid is `label`; "" once no statement is left. On a
// refusal (no such label) returns nullopt with the InvalidParameterValue message in `error`.
std::optional<std::string> remove_permission(std::string_view policy_json, std::string_view label,
                                             std::string* error);

}  // namespace sluice::api::sqs
