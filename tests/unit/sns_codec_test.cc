// The SNS wire codec: requests captured from botocore's serializer (data/sns/requests.txt), the
// replies botocore's parser was checked to accept (data/sns/replies.txt; both made and checked by
// data/sns/sns_captures.py), and malformed requests.
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sns_codec.h"

namespace sluice::api::sns {
namespace {

const std::string kData = std::string(SLUICE_SOURCE_ROOT) + "/tests/unit/data/sns/";
constexpr std::string_view kTopic = "arn:aws:sns:us-east-1:000000000000:orders";
constexpr std::string_view kFifoTopic = "arn:aws:sns:us-east-1:000000000000:orders.fifo";
constexpr std::string_view kSubscription =
    "arn:aws:sns:us-east-1:000000000000:orders:6b0e71bd-7e97-4d97-80ce-4a0994e55286";
constexpr std::string_view kQueue = "arn:aws:sqs:us-east-1:000000000000:inbox";

std::vector<std::string> split(const std::string& line, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t at = line.find(sep, start);
    out.push_back(line.substr(start, at - start));
    if (at == std::string::npos) return out;
    start = at + 1;
  }
}

std::string escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

struct Captured {
  std::string action, body;
};

std::map<std::string, Captured> load_requests() {
  std::ifstream in(kData + "requests.txt");
  std::map<std::string, Captured> out;
  std::string line;
  while (std::getline(in, line)) {
    auto f = split(line, '\t');
    if (f.size() == 3) out[f[0]] = {f[1], f[2]};
  }
  return out;
}

Request decoded(const Captured& c) {
  Decoded d = decode_form("", c.body);
  EXPECT_FALSE(d.error) << d.error->code << ": " << d.error->message;
  EXPECT_TRUE(d.request);
  return d.request.value_or(Request{Action::kListTopics, ListRequest{}});
}

template <typename T>
const T& params(const Request& r) {
  EXPECT_TRUE(std::holds_alternative<T>(r.params));
  static const T kNone{};
  return std::holds_alternative<T>(r.params) ? std::get<T>(r.params) : kNone;
}

NameValues nv(std::initializer_list<std::pair<const char*, const char*>> items) {
  NameValues out;
  for (const auto& [k, v] : items) out.emplace_back(k, v);
  return out;
}

TEST(SnsCodec, EveryActionIsCaptured) {
  auto captured = load_requests();
  ASSERT_EQ(captured.size(), 21u);
  std::set<std::string> actions;
  for (const auto& [name, c] : captured) {
    Request r = decoded(c);
    EXPECT_EQ(action_name(r.action), c.action) << name;
    actions.insert(c.action);
  }
  EXPECT_EQ(actions.size(), 17u);
}

TEST(SnsCodec, DecodesTopicActions) {
  auto captured = load_requests();
  {
    Request r = decoded(captured["CreateTopic"]);
    const auto& p = params<CreateTopicRequest>(r);
    EXPECT_EQ(p.name, "orders");
    EXPECT_FALSE(p.fifo);
    EXPECT_EQ(p.attributes, nv({{"DisplayName", "Orders & more"}, {"DeliveryPolicy", "{}"}}));
    EXPECT_EQ(p.tags, nv({{"team", "core"}, {"env", ""}}));
  }
  {
    Request r = decoded(captured["CreateTopicFifo"]);
    const auto& p = params<CreateTopicRequest>(r);
    EXPECT_EQ(p.name, "orders.fifo");
    EXPECT_TRUE(p.fifo);
    EXPECT_EQ(p.attributes, nv({{"FifoTopic", "true"}, {"ContentBasedDeduplication", "true"}}));
  }
  for (const char* name : {"DeleteTopic", "GetTopicAttributes", "ListTagsForResource"}) {
    Request r = decoded(captured[name]);
    const auto& p = params<ArnRequest>(r);
    EXPECT_EQ(p.arn.text, kTopic) << name;
    EXPECT_EQ(p.arn.region, "us-east-1");
    EXPECT_EQ(p.arn.account, "000000000000");
    EXPECT_EQ(p.arn.topic, "orders");
    EXPECT_TRUE(p.arn.subscription.empty());
  }
  EXPECT_EQ(params<ListRequest>(decoded(captured["ListTopics"])).next_token, "page-2");
  {
    Request r = decoded(captured["SetTopicAttributes"]);
    const auto& p = params<SetAttributeRequest>(r);
    EXPECT_EQ(p.arn.text, kTopic);
    EXPECT_EQ(p.name, "DisplayName");
    EXPECT_EQ(p.value, "new name");
  }
  {
    Request r = decoded(captured["TagResource"]);
    const auto& p = params<TagResourceRequest>(r);
    EXPECT_EQ(p.resource.text, kTopic);
    EXPECT_EQ(p.tags, nv({{"team", "core"}}));
  }
  {
    Request r = decoded(captured["UntagResource"]);
    EXPECT_EQ(params<UntagResourceRequest>(r).keys, (std::vector<std::string>{"team", "env"}));
  }
}

TEST(SnsCodec, DecodesSubscriptionActions) {
  auto captured = load_requests();
  {
    Request r = decoded(captured["SubscribeSqs"]);
    const auto& p = params<SubscribeRequest>(r);
    EXPECT_EQ(p.topic.text, kTopic);
    EXPECT_EQ(p.protocol, SubscriptionProtocol::kSqs);
    EXPECT_EQ(p.endpoint, kQueue);
    EXPECT_TRUE(p.return_subscription_arn);
    EXPECT_EQ(p.attributes, nv({{"RawMessageDelivery", "true"},
                                {"FilterPolicy", R"({"kind": ["order", {"prefix": "ret"}]})"}}));
  }
  {
    Request r = decoded(captured["SubscribeHttp"]);
    const auto& p = params<SubscribeRequest>(r);
    EXPECT_EQ(p.protocol, SubscriptionProtocol::kHttps);
    EXPECT_EQ(protocol_name(p.protocol), "https");
    EXPECT_EQ(p.endpoint, "https://example.test/hook?a=1&b=2");
    EXPECT_FALSE(p.return_subscription_arn);
    EXPECT_TRUE(p.attributes.empty());
  }
  {
    Request r = decoded(captured["ConfirmSubscription"]);
    const auto& p = params<ConfirmSubscriptionRequest>(r);
    EXPECT_EQ(p.topic.text, kTopic);
    EXPECT_EQ(p.token, "2336412f37fb687f5d51e6e2425c464de1");
    EXPECT_TRUE(p.authenticate_on_unsubscribe);
  }
  for (const char* name : {"Unsubscribe", "GetSubscriptionAttributes"}) {
    Request r = decoded(captured[name]);
    const auto& p = params<ArnRequest>(r);
    EXPECT_EQ(p.arn.text, kSubscription) << name;
    EXPECT_EQ(p.arn.topic, "orders");
    EXPECT_EQ(p.arn.subscription, "6b0e71bd-7e97-4d97-80ce-4a0994e55286");
  }
  EXPECT_EQ(params<ListRequest>(decoded(captured["ListSubscriptions"])).next_token, "t1");
  {
    Request r = decoded(captured["ListSubscriptionsByTopic"]);
    const auto& p = params<ListSubscriptionsByTopicRequest>(r);
    EXPECT_EQ(p.topic.text, kTopic);
    EXPECT_TRUE(p.next_token.empty());
  }
  {
    Request r = decoded(captured["SetSubscriptionAttributes"]);
    const auto& p = params<SetAttributeRequest>(r);
    EXPECT_EQ(p.arn.text, kSubscription);
    EXPECT_EQ(p.name, "FilterPolicyScope");
    EXPECT_EQ(p.value, "MessageBody");
  }
}

TEST(SnsCodec, DecodesPublish) {
  auto captured = load_requests();
  {
    Request r = decoded(captured["Publish"]);
    const auto& p = params<PublishRequest>(r);
    EXPECT_EQ(p.topic.text, kTopic);
    EXPECT_EQ(p.message.message, "hello <world> & \"friends\"\nline 2");
    EXPECT_EQ(p.message.subject, "Greetings!");
    EXPECT_TRUE(p.message.message_structure.empty());
    ASSERT_EQ(p.message.attributes.size(), 4u);
    EXPECT_EQ(p.message.attributes.at("kind").type, "String");
    EXPECT_EQ(p.message.attributes.at("kind").value, "order");
    EXPECT_EQ(p.message.attributes.at("price").type, "Number");
    EXPECT_EQ(p.message.attributes.at("price").value, "12.50");
    EXPECT_EQ(p.message.attributes.at("blob").type, "Binary");
    EXPECT_EQ(p.message.attributes.at("blob").value, "SGVsbG8gYmluYXJ5IHdvcmxkIQ==");
    EXPECT_EQ(p.message.attributes.at("tags").type, "String.Array");
    EXPECT_EQ(p.message.attributes.at("tags").value, R"(["a", "b"])");
    EXPECT_TRUE(p.message.group_id.empty());
  }
  {
    Request r = decoded(captured["PublishTarget"]);
    const auto& p = params<PublishRequest>(r);
    EXPECT_EQ(p.topic.text, kTopic);
    EXPECT_EQ(p.message.message_structure, "json");
    EXPECT_EQ(p.message.message, R"({"default": "x", "sqs": "y"})");
  }
  {
    Request r = decoded(captured["PublishFifo"]);
    const auto& p = params<PublishRequest>(r);
    EXPECT_TRUE(p.topic.fifo());
    EXPECT_EQ(p.message.group_id, "g1");
    EXPECT_EQ(p.message.deduplication_id, "d1");
  }
  {
    Request r = decoded(captured["PublishBatch"]);
    const auto& p = params<PublishBatchRequest>(r);
    EXPECT_EQ(p.topic.text, kTopic);
    ASSERT_EQ(p.entries.size(), 2u);
    EXPECT_EQ(p.entries[0].id, "a");
    EXPECT_EQ(p.entries[0].message, "one");
    EXPECT_TRUE(p.entries[0].attributes.empty());
    EXPECT_EQ(p.entries[1].id, "b");
    EXPECT_EQ(p.entries[1].message, "two");
    EXPECT_EQ(p.entries[1].subject, "s");
    ASSERT_EQ(p.entries[1].attributes.size(), 2u);
    EXPECT_EQ(p.entries[1].attributes.at("n").type, "Number");
    EXPECT_EQ(p.entries[1].attributes.at("n").value, "42");
    EXPECT_EQ(p.entries[1].attributes.at("k").type, "String.custom");
  }
}

TEST(SnsCodec, DecodesFromQueryStringAndBody) {
  http::Request req;
  req.method = "POST";
  req.path = "/";
  req.query = "Action=ListTopics";
  req.body = "Version=2010-03-31&NextToken=n%2B1";
  Decoded d = decode(req);
  ASSERT_TRUE(d.request);
  EXPECT_EQ(d.request->action, Action::kListTopics);
  EXPECT_EQ(params<ListRequest>(*d.request).next_token, "n+1");
}

// The replies of data/sns/replies.txt, in its order; the case names are sns_captures.py's.
std::vector<std::pair<std::string, Reply>> encoded_replies() {
  const std::string topic(kTopic), fifo(kFifoTopic), sub(kSubscription), queue(kQueue);
  std::vector<std::pair<std::string, Reply>> out;
  const std::string id = "req-1";
  out.emplace_back("CreateTopic", encode_create_topic(topic, id));
  out.emplace_back("DeleteTopic", encode_empty(Action::kDeleteTopic, id));
  std::vector<std::string> topics = {topic, fifo};
  out.emplace_back("ListTopics", encode_list_topics(topics, "page-2", id));
  out.emplace_back("ListTopicsEmpty", encode_list_topics({}, "", id));
  out.emplace_back("GetTopicAttributes", encode_attributes(Action::kGetTopicAttributes,
                                                           nv({{"TopicArn", kTopic.data()},
                                                               {"DisplayName", "Orders & <more>"},
                                                               {"SubscriptionsConfirmed", "1"}}),
                                                           id));
  out.emplace_back("SetTopicAttributes", encode_empty(Action::kSetTopicAttributes, id));
  out.emplace_back("Subscribe", encode_subscription_arn(Action::kSubscribe, sub, id));
  out.emplace_back("SubscribePending",
                   encode_subscription_arn(Action::kSubscribe, "pending confirmation", id));
  out.emplace_back("ConfirmSubscription",
                   encode_subscription_arn(Action::kConfirmSubscription, sub, id));
  out.emplace_back("Unsubscribe", encode_empty(Action::kUnsubscribe, id));
  std::vector<SubscriptionInfo> subs = {
      {sub, "000000000000", "sqs", queue, topic},
      {"PendingConfirmation", "000000000000", "https", "https://example.test/hook?a=1&b=2", topic}};
  out.emplace_back("ListSubscriptions",
                   encode_list_subscriptions(Action::kListSubscriptions, subs, "t2", id));
  out.emplace_back("ListSubscriptionsByTopic",
                   encode_list_subscriptions(Action::kListSubscriptionsByTopic, {}, "", id));
  out.emplace_back(
      "GetSubscriptionAttributes",
      encode_attributes(
          Action::kGetSubscriptionAttributes,
          nv({{"RawMessageDelivery", "true"}, {"FilterPolicy", R"({"kind": ["order"]})"}}), id));
  out.emplace_back("SetSubscriptionAttributes",
                   encode_empty(Action::kSetSubscriptionAttributes, id));
  out.emplace_back("Publish", encode_publish({"9f1b6a62-0d5a-4b43-9d3e-6c1e2f0a9b11", ""}, id));
  out.emplace_back(
      "PublishFifo",
      encode_publish({"9f1b6a62-0d5a-4b43-9d3e-6c1e2f0a9b12", "10000000000000000001"}, id));
  std::vector<BatchResultEntry> batch = {
      {"a", {"m-1", ""}, std::nullopt},
      {"b", {}, api_error(ErrorCode::kInternalError, "try again")},
      {"c", {"m-3", "10000000000000000003"}, std::nullopt}};
  out.emplace_back("PublishBatch", encode_publish_batch(batch, id));
  out.emplace_back("TagResource", encode_empty(Action::kTagResource, id));
  out.emplace_back("UntagResource", encode_empty(Action::kUntagResource, id));
  out.emplace_back("ListTagsForResource",
                   encode_list_tags(nv({{"team", "core"}, {"env", ""}}), id));
  out.emplace_back("ErrorNotFound",
                   encode_error(api_error(ErrorCode::kNotFound, "Topic does not exist"), id));
  out.emplace_back(
      "ErrorInternal",
      encode_error(api_error(ErrorCode::kInternalError, "Internal <error> & more"), id));
  return out;
}

// The reply's action, as replies.txt names it for botocore's parser.
std::string reply_action(const std::string& case_name, const Reply& reply) {
  if (case_name.starts_with("Error")) return "Publish";
  std::string_view body = reply.body;
  body.remove_prefix(body.find("?><") + 3);
  return std::string(body.substr(0, body.find("Response ")));
}

TEST(SnsCodec, RepliesAreTheOnesBotocoreParses) {
  auto replies = encoded_replies();
  if (const char* out_path = std::getenv("SNS_REPLIES_OUT")) {
    std::ofstream out(out_path);
    for (const auto& [name, reply] : replies) {
      out << name << '\t' << reply_action(name, reply) << '\t' << reply.status << '\t'
          << escape(reply.body) << '\n';
    }
    GTEST_SKIP() << "replies written to " << out_path;
  }
  std::ifstream in(kData + "replies.txt");
  std::string line;
  size_t i = 0;
  while (std::getline(in, line)) {
    auto f = split(line, '\t');
    ASSERT_EQ(f.size(), 4u) << line;
    ASSERT_LT(i, replies.size());
    const auto& [name, reply] = replies[i++];
    EXPECT_EQ(f[0], name);
    EXPECT_EQ(f[1], reply_action(name, reply));
    EXPECT_EQ(f[2], std::to_string(reply.status)) << name;
    EXPECT_EQ(f[3], escape(reply.body)) << name;
  }
  EXPECT_EQ(i, replies.size());
}

TEST(SnsCodec, ReplyHeadersAndStatus) {
  Reply ok = encode_create_topic(kTopic, "r-9");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.headers, (std::vector<std::pair<std::string, std::string>>{
                            {"x-amzn-RequestId", "r-9"}, {"Content-Type", "text/xml"}}));
  EXPECT_EQ(encode_error(api_error(ErrorCode::kNotFound, "x"), "r").status, 404);
  EXPECT_EQ(encode_error(api_error(ErrorCode::kAuthorizationError, "x"), "r").status, 403);
  EXPECT_EQ(encode_error(api_error(ErrorCode::kInternalError, "x"), "r").status, 500);
  EXPECT_NE(encode_error(api_error(ErrorCode::kInternalError, "x"), "r")
                .body.find("<Type>Receiver</Type>"),
            std::string::npos);
}

// A valid Publish form with `extra` appended.
std::string publish(std::string_view extra, std::string_view topic = "orders") {
  return "Action=Publish&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A1%3A" + std::string(topic) +
         "&Message=m" + std::string(extra);
}

std::string attrs(int n) {
  std::string out;
  for (int i = 1; i <= n; ++i) {
    std::string p = "&MessageAttributes.entry." + std::to_string(i);
    out += p + ".Name=a" + std::to_string(i) + p + ".Value.DataType=String" + p +
           ".Value.StringValue=v";
  }
  return out;
}

std::string batch(int n, std::string_view id_prefix = "e") {
  std::string out = "Action=PublishBatch&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A1%3At";
  for (int i = 1; i <= n; ++i) {
    std::string p = "&PublishBatchRequestEntries.member." + std::to_string(i);
    out += p + ".Id=" + std::string(id_prefix) + (id_prefix == "same" ? "" : std::to_string(i)) +
           p + ".Message=m";
  }
  return out;
}

struct ErrorCase {
  std::string body;
  std::string_view code;
  std::string message;  // exact, or a prefix when it ends in "..."
};

TEST(SnsCodec, RefusesBadRequests) {
  const std::string topic = "TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A1%3At";
  const std::string sub = "SubscriptionArn=arn%3Aaws%3Asns%3Aus-east-1%3A1%3At%3Aabc-1";
  const std::string big(limits::kMaxMessageBytes, 'x');
  const std::vector<ErrorCase> cases = {
      {"Version=2010-03-31", "InvalidAction", "The request must contain the parameter Action."},
      {"Action=SendMessage", "InvalidAction",
       "The action SendMessage is not valid for this web service."},
      {"Action=ListTopics&NextToken=%zz", "MalformedQueryString", "Malformed percent-encoding..."},
      {"Action=CreateTopic", "ValidationError",
       "1 validation error detected: Value null at 'name' failed to satisfy constraint: Member "
       "must not be null"},
      {"Action=CreateTopic&Name=", "InvalidParameter", "Invalid parameter: Topic Name"},
      {"Action=CreateTopic&Name=a%20b", "InvalidParameter", "Invalid parameter: Topic Name"},
      {"Action=CreateTopic&Name=" + std::string(257, 'a'), "InvalidParameter",
       "Invalid parameter: Topic Name"},
      {"Action=CreateTopic&Name=t.fifo", "InvalidParameter",
       "Invalid parameter: Fifo Topic names must end with .fifo..."},
      {"Action=CreateTopic&Name=t&Attributes.entry.1.key=FifoTopic&Attributes.entry.1.value=true",
       "InvalidParameter", "Invalid parameter: Fifo Topic names must end with .fifo..."},
      {"Action=CreateTopic&Name=t&Attributes.entry.1.key=Colour&Attributes.entry.1.value=red",
       "InvalidParameter", "Invalid parameter: Attributes Reason: Unknown attribute Colour"},
      {"Action=CreateTopic&Name=t&Attributes.entry.1.key=ContentBasedDeduplication&"
       "Attributes.entry.1.value=true",
       "InvalidParameter",
       "Invalid parameter: Attributes Reason: ContentBasedDeduplication can only be set for FIFO "
       "topics"},
      {"Action=CreateTopic&Name=t&Tags.member.1.Key=k", "ValidationError",
       "1 validation error detected: Value null at 'tags.member.1.Value'..."},
      {"Action=CreateTopic&Name=t&Tags.member.x.Key=k", "InvalidParameter",
       "Invalid parameter: Tags.member.x.Key"},
      {"Action=DeleteTopic&TopicArn=arn%3Aaws%3Asqs%3Aus-east-1%3A1%3At", "InvalidParameter",
       "Invalid parameter: TopicArn"},
      {"Action=DeleteTopic&TopicArn=arn%3Aaws%3Asns%3A%3A1%3At", "InvalidParameter",
       "Invalid parameter: TopicArn"},
      {"Action=DeleteTopic&" + sub, "ValidationError", "1 validation error detected..."},
      {"Action=DeleteTopic&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A1%3At%3Aabc", "InvalidParameter",
       "Invalid parameter: TopicArn"},
      {"Action=Unsubscribe&SubscriptionArn=arn%3Aaws%3Asns%3Aus-east-1%3A1%3At", "InvalidParameter",
       "Invalid parameter: SubscriptionArn"},
      {"Action=Subscribe&" + topic + "&Protocol=email&Endpoint=a%40b.c", "InvalidParameter",
       "Invalid parameter: Protocol"},
      {"Action=Subscribe&" + topic + "&Protocol=sqs&Endpoint=http%3A%2F%2Fq", "InvalidParameter",
       "Invalid parameter: SQS endpoint ARN"},
      {"Action=Subscribe&" + topic + "&Protocol=http&Endpoint=https%3A%2F%2Fh", "InvalidParameter",
       "Invalid parameter: Endpoint must match the specified protocol"},
      {"Action=Subscribe&" + topic +
           "&Protocol=sqs&Endpoint=arn%3Aaws%3Asqs%3Ar%3A1%3Aq&Attributes.entry.1.key="
           "FilterPolicy&Attributes.entry.1.value=%7Bx",
       "InvalidParameter", "Invalid parameter: FilterPolicy..."},
      {"Action=Subscribe&" + topic +
           "&Protocol=sqs&Endpoint=arn%3Aaws%3Asqs%3Ar%3A1%3Aq&Attributes.entry.1.key="
           "RawMessageDelivery&Attributes.entry.1.value=yes",
       "InvalidParameter",
       "Invalid parameter: Attributes Reason: RawMessageDelivery: Invalid value [yes]. Must be "
       "true or false."},
      {"Action=SetSubscriptionAttributes&" + sub + "&AttributeName=DisplayName", "InvalidParameter",
       "Invalid parameter: AttributeName"},
      {"Action=SetSubscriptionAttributes&" + sub +
           "&AttributeName=FilterPolicyScope&AttributeValue=Body",
       "InvalidParameter", "Invalid parameter: Attributes Reason: FilterPolicyScope: Invalid..."},
      {"Action=SetTopicAttributes&" + topic + "&AttributeName=FifoTopic&AttributeValue=true",
       "InvalidParameter", "Invalid parameter: AttributeName"},
      {"Action=ConfirmSubscription&" + topic, "ValidationError",
       "1 validation error detected: Value null at 'token'..."},
      {"Action=Publish&" + topic, "ValidationError",
       "1 validation error detected: Value null at 'message'..."},
      {"Action=Publish&Message=m", "InvalidParameter",
       "Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter"},
      {publish("&TargetArn=arn%3Aaws%3Asns%3Aus-east-1%3A1%3At"), "InvalidParameter",
       "Invalid parameter: TopicArn or TargetArn Reason: Only one of them may be given"},
      {publish("&PhoneNumber=%2B15555550100"), "InvalidParameter",
       "Invalid parameter: PhoneNumber..."},
      {"Action=Publish&" + topic + "&Message=", "InvalidParameter",
       "Invalid parameter: Empty message"},
      {"Action=Publish&" + topic + "&Message=" + big + "x", "InvalidParameter",
       "Invalid parameter: Message too long"},
      {"Action=Publish&" + topic + "&Message=" + big.substr(5) + attrs(1), "InvalidParameter",
       "Invalid parameter: Message too long"},
      {publish("&Subject="), "InvalidParameter", "Invalid parameter: Subject"},
      {publish("&Subject=a%0Ab"), "InvalidParameter", "Invalid parameter: Subject"},
      {publish("&Subject=" + std::string(101, 's')), "InvalidParameter",
       "Invalid parameter: Subject"},
      {publish("&MessageStructure=xml"), "InvalidParameter", "Invalid parameter: MessageStructure"},
      {publish("&MessageStructure=json"), "InvalidParameter",
       "Invalid parameter: Message Structure - JSON message body failed to parse"},
      {"Action=Publish&" + topic + "&Message=%7B%22sqs%22%3A%22x%22%7D&MessageStructure=json",
       "InvalidParameter",
       "Invalid parameter: Message Structure - No default entry in JSON message body"},
      {publish(attrs(11)), "InvalidParameter",
       "Invalid parameter: MessageAttributes Reason: Number of message attributes [11] exceeds "
       "the allowed maximum [10]."},
      {publish("&MessageAttributes.entry.1.Name=a&MessageAttributes.entry.1.Value.DataType=Date&"
               "MessageAttributes.entry.1.Value.StringValue=1"),
       "ParameterValueInvalid",
       "The message attribute 'a' has an invalid message attribute type, the set of supported "
       "type prefixes is Binary, Number, and String."},
      {publish("&MessageAttributes.entry.1.Name=a&MessageAttributes.entry.1.Value.DataType=Number&"
               "MessageAttributes.entry.1.Value.StringValue=1x"),
       "ParameterValueInvalid", "Could not cast message attribute 'a' value to number."},
      {publish("&MessageAttributes.entry.1.Name=a&MessageAttributes.entry.1.Value.DataType=String"),
       "ParameterValueInvalid",
       "The message attribute 'a' must contain non-empty message attribute value for message "
       "attribute type 'String'."},
      {publish("&MessageAttributes.entry.1.Name=a&MessageAttributes.entry.1.Value.DataType=Binary&"
               "MessageAttributes.entry.1.Value.BinaryValue=%21%21"),
       "ParameterValueInvalid",
       "The message attribute 'a' with type 'Binary' must hold base64-encoded bytes."},
      {publish("&MessageAttributes.entry.1.Name=a&MessageAttributes.entry.1.Value.DataType=String."
               "Array&MessageAttributes.entry.1.Value.StringValue=x"),
       "ParameterValueInvalid",
       "The message attribute 'a' with type 'String.Array' must hold a JSON array."},
      {publish("&MessageAttributes.entry.1.Name=AWS.x&MessageAttributes.entry.1.Value.DataType="
               "String&MessageAttributes.entry.1.Value.StringValue=v"),
       "ParameterValueInvalid", "The message attribute name 'AWS.x' is invalid..."},
      {publish("", "t.fifo"), "InvalidParameter",
       "Invalid parameter: The MessageGroupId parameter is required for FIFO topics"},
      {publish("&MessageGroupId=g"), "InvalidParameter", "Invalid parameter: MessageGroupId..."},
      {publish("&MessageDeduplicationId=d"), "InvalidParameter",
       "Invalid parameter: MessageDeduplicationId..."},
      {publish("&MessageGroupId=a%20b", "t.fifo"), "InvalidParameter",
       "Invalid parameter: MessageGroupId Reason: must be 1 to 128 characters..."},
      {"Action=PublishBatch&" + topic, "EmptyBatchRequest",
       "The batch request doesn't contain any entries."},
      {batch(11), "TooManyEntriesInBatchRequest",
       "The batch request contains more entries than permissible: 11, at most 10."},
      {batch(2, "same"), "BatchEntryIdsNotDistinct",
       "Two or more batch entries in the request have the same Id: same."},
      {batch(1, "bad%20id"), "InvalidBatchEntryId",
       "The Id of a batch entry in a batch request doesn't abide by the specification..."},
      {batch(1) + "&PublishBatchRequestEntries.member.1.Message=", "InvalidParameter",
       "Invalid parameter: Empty message"},
      {"Action=TagResource&ResourceArn=arn%3Aaws%3Asns%3Ar%3A1%3At", "ValidationError",
       "1 validation error detected: Value null at 'tags'..."},
      {"Action=UntagResource&ResourceArn=arn%3Aaws%3Asns%3Ar%3A1%3At", "ValidationError",
       "1 validation error detected: Value null at 'tagKeys'..."},
  };
  for (const auto& c : cases) {
    Decoded d = decode_form("", c.body);
    ASSERT_TRUE(d.error) << c.body.substr(0, 300);
    EXPECT_FALSE(d.request);
    EXPECT_EQ(d.error->code, c.code) << c.body.substr(0, 300) << ": " << d.error->message;
    EXPECT_EQ(d.error->status, 400);
    if (c.message.ends_with("...")) {
      EXPECT_TRUE(d.error->message.starts_with(c.message.substr(0, c.message.size() - 3)))
          << c.body.substr(0, 300) << ": " << d.error->message;
    } else {
      EXPECT_EQ(d.error->message, c.message) << c.body.substr(0, 300);
    }
  }
}

TEST(SnsCodec, BatchTooLongCountsAllEntries) {
  std::string body = batch(2);
  const std::string half(limits::kMaxMessageBytes / 2 + 1, 'x');
  body += "&PublishBatchRequestEntries.member.1.Message=" + half +
          "&PublishBatchRequestEntries.member.2.Message=" + half;
  Decoded d = decode_form("", body);
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->code, "BatchRequestTooLong");
}

TEST(SnsCodec, AcceptsLimits) {
  const std::string big(limits::kMaxMessageBytes, 'x');
  EXPECT_TRUE(decode_form("", "Action=Publish&TopicArn=arn%3Aaws%3Asns%3Ar%3A1%3At&Message=" + big)
                  .request);
  EXPECT_TRUE(decode_form("", publish(attrs(10))).request);
  EXPECT_TRUE(decode_form("", publish("&Subject=" + std::string(100, 's'))).request);
  EXPECT_TRUE(decode_form("", batch(10)).request);
  EXPECT_TRUE(decode_form("", "Action=CreateTopic&Name=" + std::string(251, 'a') +
                                  ".fifo&Attributes.entry.1.key=FifoTopic&Attributes.entry.1."
                                  "value=true")
                  .request);
  EXPECT_TRUE(decode_form("", "Action=CreateTopic&Name=" + std::string(256, 'a')).request);
}

TEST(SnsCodec, Arns) {
  auto arn = parse_arn("arn:aws:sns:eu-west-1:123456789012:t_1-x.fifo:ab-12");
  ASSERT_TRUE(arn);
  EXPECT_EQ(arn->region, "eu-west-1");
  EXPECT_EQ(arn->account, "123456789012");
  EXPECT_EQ(arn->topic, "t_1-x.fifo");
  EXPECT_EQ(arn->subscription, "ab-12");
  EXPECT_TRUE(arn->fifo());
  for (const char* bad : {"", "arn:aws:sns:r:1", "arn:aws:sns:r:1:", "arn:aws:sns::1:t",
                          "arn:aws:sns:r::t", "arn:aws:sns:r:1:t:", "arn:aws:sns:r:1:t:a:b",
                          "arn:aws:sns:r:1:t:a_b", "arn:aws:sqs:r:1:t", "arn:aws:sns:r:1:a.b"}) {
    EXPECT_FALSE(parse_arn(bad)) << bad;
  }
  EXPECT_EQ(topic_arn("us-east-1", "1", "t"), "arn:aws:sns:us-east-1:1:t");
  EXPECT_EQ(parse_action("PublishBatch"), Action::kPublishBatch);
  EXPECT_FALSE(parse_action("publish"));
}

}  // namespace
}  // namespace sluice::api::sns
