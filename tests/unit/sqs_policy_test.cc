// AddPermission and RemovePermission as edits of the queue's Policy document.
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "sqs_policy.h"

namespace sluice::api::sqs {
namespace {

using nlohmann::json;

const std::string kArn = "arn:aws:sqs:us-east-1:000000000000:orders";

AddPermissionRequest grant(std::string label, std::vector<std::string> accounts,
                           std::vector<std::string> actions) {
  AddPermissionRequest r;
  r.queue.url = "http://127.0.0.1:9324/000000000000/orders";
  r.label = std::move(label);
  r.account_ids = std::move(accounts);
  r.actions = std::move(actions);
  return r;
}

std::string added(std::string_view policy, const AddPermissionRequest& r) {
  std::string error;
  auto out = add_permission(policy, kArn, r, &error);
  EXPECT_TRUE(out.has_value()) << error;
  EXPECT_EQ(error, "");
  return out.value_or("");
}

std::string refusal(std::string_view policy, const AddPermissionRequest& r) {
  std::string error;
  auto out = add_permission(policy, kArn, r, &error);
  EXPECT_FALSE(out.has_value()) << *out;
  return error;
}

TEST(SqsPolicy, FirstPermissionStartsAPolicy) {
  std::string policy = added(
      "", grant("AliceSend", {"111122223333", "444455556666"}, {"SendMessage", "ReceiveMessage"}));
  // The document AWS writes: Version, Id, then the statements, in that order.
  EXPECT_EQ(policy,
            "{\"Version\":\"2012-10-17\",\"Id\":\"" + kArn +
                "/SQSDefaultPolicy\",\"Statement\":[{\"Sid\":\"AliceSend\",\"Effect\":\"Allow\","
                "\"Principal\":{\"AWS\":[\"arn:aws:iam::111122223333:root\","
                "\"arn:aws:iam::444455556666:root\"]},\"Action\":[\"SQS:SendMessage\","
                "\"SQS:ReceiveMessage\"],\"Resource\":\"" +
                kArn + "\"}]}");
}

TEST(SqsPolicy, LabelsAccumulateAndComeOffOneByOne) {
  std::string one = added("", grant("a", {"111122223333"}, {"SendMessage"}));
  std::string two = added(one, grant("b", {"444455556666"}, {"*"}));
  json doc = json::parse(two);
  ASSERT_EQ(doc["Statement"].size(), 2u);
  EXPECT_EQ(doc["Statement"][0]["Sid"], "a");
  EXPECT_EQ(doc["Statement"][1]["Sid"], "b");
  EXPECT_EQ(doc["Statement"][1]["Action"], json::array({"SQS:*"}));
  EXPECT_EQ(doc["Statement"][1]["Principal"]["AWS"],
            json::array({"arn:aws:iam::444455556666:root"}));

  std::string error;
  auto without_a = remove_permission(two, "a", &error);
  ASSERT_TRUE(without_a.has_value()) << error;
  json rest = json::parse(*without_a);
  ASSERT_EQ(rest["Statement"].size(), 1u);
  EXPECT_EQ(rest["Statement"][0]["Sid"], "b");
  EXPECT_EQ(rest["Version"], "2012-10-17");
  // Removing the last statement leaves no policy at all.
  EXPECT_EQ(remove_permission(*without_a, "b", &error), std::string());
  EXPECT_EQ(remove_permission(one, "a", &error), std::string());
}

TEST(SqsPolicy, ARepeatedLabelIsRefused) {
  std::string one = added("", grant("AliceSend", {"111122223333"}, {"SendMessage"}));
  EXPECT_EQ(refusal(one, grant("AliceSend", {"444455556666"}, {"ReceiveMessage"})),
            "Value AliceSend for parameter Label is invalid. Reason: Already exists.");
}

TEST(SqsPolicy, AnUnknownLabelIsRefused) {
  std::string one = added("", grant("a", {"111122223333"}, {"SendMessage"}));
  const std::string message =
      "Value zzz for parameter Label is invalid. Reason: can't find label on existing policy.";
  for (std::string_view policy :
       {std::string_view(one), std::string_view(""),
        std::string_view("{\"Version\":\"2012-10-17\"}"), std::string_view("not json")}) {
    std::string error;
    EXPECT_FALSE(remove_permission(policy, "zzz", &error).has_value()) << policy;
    EXPECT_EQ(error, message);
  }
}

TEST(SqsPolicy, AnOwnersPolicyKeepsItsStatementsAndOrder) {
  // As SetQueueAttributes stored it: members in the owner's order, a lone Statement object.
  const std::string own =
      "{\"Statement\":{\"Sid\":\"own\",\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":"
      "\"SQS:*\",\"Resource\":\"" +
      kArn +
      "\",\"Condition\":{\"Bool\":{\"aws:SecureTransport\":\"false\"}}},\"Version\":"
      "\"2012-10-17\"}";
  std::string policy = added(own, grant("x", {"111122223333"}, {"GetQueueUrl"}));
  EXPECT_TRUE(policy.starts_with("{\"Statement\":[{\"Sid\":\"own\",\"Effect\":\"Deny\"")) << policy;
  json doc = json::parse(policy);
  ASSERT_EQ(doc["Statement"].size(), 2u);
  EXPECT_EQ(doc["Statement"][0], json::parse(own)["Statement"]);
  EXPECT_FALSE(doc.contains("Id"));
  std::string error;
  auto back = remove_permission(policy, "x", &error);
  ASSERT_TRUE(back.has_value()) << error;
  EXPECT_EQ(json::parse(*back)["Statement"], json::array({json::parse(own)["Statement"]}));
}

TEST(SqsPolicy, BadGrantsAreRefused) {
  EXPECT_EQ(refusal("", grant("has space", {"111122223333"}, {"SendMessage"})),
            "Value has space for parameter Label is invalid. Reason: Must be 1 to 80 characters "
            "of A-Z, a-z, 0-9, - and _.");
  EXPECT_NE(refusal("", grant(std::string(81, 'a'), {"111122223333"}, {"SendMessage"})), "");
  added("", grant(std::string(80, 'a'), {"111122223333"}, {"SendMessage"}));
  EXPECT_EQ(refusal("", grant("l", {"111122223333"}, {"CreateQueue"})),
            "Value SQS:CreateQueue for parameter ActionName is invalid. Reason: Only the queue "
            "owner is allowed to invoke this action.");
  EXPECT_NE(refusal("", grant("l", {"111122223333"}, {"SQS:SendMessage"})), "");
  EXPECT_EQ(refusal("", grant("l", {"12345"}, {"SendMessage"})),
            "Value 12345 for parameter PrincipalId is invalid. Reason: Unable to verify.");
  EXPECT_NE(refusal("", grant("l", {"11112222333a"}, {"SendMessage"})), "");
  EXPECT_NE(refusal("[1]", grant("l", {"111122223333"}, {"SendMessage"})), "");
  EXPECT_NE(refusal("{\"Statement\":5}", grant("l", {"111122223333"}, {"SendMessage"})), "");
  EXPECT_NE(refusal("{\"Version\":", grant("l", {"111122223333"}, {"SendMessage"})), "");
}

// A stored policy nested deeper than any IAM document is refused rather than walked.
TEST(SqsPolicy, DeeplyNestedPoliciesAreRefused) {
  std::string deep = "{\"Version\":\"2012-10-17\",\"Statement\":[],\"x\":";
  for (int i = 0; i < 100000; ++i) deep += '[';
  for (int i = 0; i < 100000; ++i) deep += ']';
  deep += '}';
  EXPECT_NE(refusal(deep, grant("l", {"111122223333"}, {"SendMessage"})), "");
  std::string error;
  EXPECT_FALSE(remove_permission(deep, "l", &error).has_value());
  // Brackets inside strings do not count.
  std::string quoted = "{\"Statement\":[{\"Sid\":\"s\",\"Note\":\"" + std::string(1000, '[') +
                       "\\\"" + std::string(1000, '{') + "\"}]}";
  std::string policy = added(quoted, grant("l", {"111122223333"}, {"SendMessage"}));
  EXPECT_EQ(json::parse(policy)["Statement"].size(), 2u);
}

}  // namespace
}  // namespace sluice::api::sqs
