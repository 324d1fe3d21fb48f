// libFuzzer target: the SNS request decoder and, through what it decodes, the reply encoders.
// The input's first line is the URL's query string, the rest the form body. Any input may be
// refused, never crash. A refusal carries a code and a status SNS uses and encodes as a
// well-formed error document; a decoded request holds what the decoder promises (ARNs of the
// right kind, a non-empty message within the size limit, 1 to 10 batch entries with distinct ids)
// and is answered with a synthetic result of its action, every reply well-formed XML.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "sns_codec.h"

using namespace sluice::api::sns;

namespace {

void check(bool ok) {
  if (!ok) abort();
}

// Elements open and close in order, each named, and the text between them has no '<' or '>'.
bool well_formed_xml(std::string_view xml) {
  constexpr std::string_view kDeclaration = "<?xml version=\"1.0\"?>";
  if (!xml.starts_with(kDeclaration)) return false;
  xml.remove_prefix(kDeclaration.size());
  std::vector<std::string_view> open;
  while (!xml.empty()) {
    const size_t lt = xml.find('<');
    if (lt == std::string_view::npos) return false;
    if (xml.substr(0, lt).find('>') != std::string_view::npos) return false;
    const size_t gt = xml.find('>', lt);
    if (gt == std::string_view::npos) return false;
    std::string_view tag = xml.substr(lt + 1, gt - lt - 1);
    xml.remove_prefix(gt + 1);
    if (tag.starts_with('/')) {
      if (open.empty() || open.back() != tag.substr(1)) return false;
      open.pop_back();
      if (open.empty() && !xml.empty()) return false;
      continue;
    }
    tag = tag.substr(0, tag.find(' '));
    if (tag.empty()) return false;
    open.push_back(tag);
  }
  return open.empty();
}

void check_reply(const Reply& r, Action action) {
  check(r.status == 200);
  check(well_formed_xml(r.body));
  const std::string root =
      "<?xml version=\"1.0\"?><" + std::string(action_name(action)) + "Response";
  check(r.body.starts_with(root));
}

void check_entry(const PublishEntry& e, const Arn& topic) {
  check(!e.message.empty() && e.message.size() <= limits::kMaxMessageBytes);
  check(e.attributes.size() <= limits::kMaxMessageAttributes);
  check(e.subject.size() <= limits::kMaxSubjectLength);
  check(topic.fifo() == !e.group_id.empty());
}

struct Answer {
  Action action;

  void operator()(const CreateTopicRequest& r) const {
    check(valid_topic_name(r.name) && r.fifo == r.name.ends_with(".fifo"));
    check_reply(encode_create_topic(topic_arn("r", "1", r.name), "req"), action);
  }
  void operator()(const ArnRequest& r) const {
    const bool subscription =
        action == Action::kUnsubscribe || action == Action::kGetSubscriptionAttributes;
    check(r.arn.subscription.empty() != subscription);
    if (action == Action::kGetTopicAttributes || action == Action::kGetSubscriptionAttributes) {
      check_reply(
          encode_attributes(action, {{"Arn", r.arn.text}, {r.arn.topic, r.arn.region}}, "req"),
          action);
    } else if (action == Action::kListTagsForResource) {
      check_reply(encode_list_tags({{r.arn.account, r.arn.text}}, "req"), action);
    } else {
      check_reply(encode_empty(action, "req"), action);
    }
  }
  void operator()(const ListRequest& r) const {
    if (action == Action::kListTopics) {
      std::vector<std::string> arns(r.next_token.size() % 3, r.next_token);
      check_reply(encode_list_topics(arns, r.next_token, "req"), action);
    } else {
      std::vector<SubscriptionInfo> subs(r.next_token.size() % 3,
                                         {r.next_token, "1", "sqs", r.next_token, r.next_token});
      check_reply(encode_list_subscriptions(action, subs, r.next_token, "req"), action);
    }
  }
  void operator()(const ListSubscriptionsByTopicRequest& r) const {
    std::vector<SubscriptionInfo> subs = {
        {r.topic.text, r.topic.account, "https", r.next_token, r.topic.text}};
    check_reply(encode_list_subscriptions(action, subs, r.next_token, "req"), action);
  }
  void operator()(const SetAttributeRequest& r) const {
    check(!r.name.empty());
    check_reply(encode_empty(action, "req"), action);
    const Action get = action == Action::kSetTopicAttributes ? Action::kGetTopicAttributes
                                                             : Action::kGetSubscriptionAttributes;
    check_reply(encode_attributes(get, {{r.name, r.value}}, "req"), get);
  }
  void operator()(const SubscribeRequest& r) const {
    check(!r.endpoint.empty());
    check_reply(encode_subscription_arn(action, r.topic.text + ":" + r.endpoint, "req"), action);
    check_reply(encode_attributes(Action::kGetSubscriptionAttributes, r.attributes, "req"),
                Action::kGetSubscriptionAttributes);
  }
  void operator()(const ConfirmSubscriptionRequest& r) const {
    check(!r.token.empty());
    check_reply(encode_subscription_arn(action, r.topic.text + ":" + r.token, "req"), action);
  }
  void operator()(const PublishRequest& r) const {
    check_entry(r.message, r.topic);
    check_reply(encode_publish({r.message.message, r.message.group_id}, "req"), action);
  }
  void operator()(const PublishBatchRequest& r) const {
    check(!r.entries.empty() && r.entries.size() <= limits::kMaxBatchEntries);
    std::set<std::string> ids;
    std::vector<BatchResultEntry> results;
    for (size_t i = 0; i < r.entries.size(); ++i) {
      const PublishEntry& e = r.entries[i];
      check_entry(e, r.topic);
      check(ids.insert(e.id).second);
      BatchResultEntry& out = results.emplace_back();
      out.id = e.id;
      if (i % 2 == 1) {
        out.error = api_error(ErrorCode::kInternalError, e.message);
      } else {
        out.published = {e.subject, e.deduplication_id};
      }
    }
    check_reply(encode_publish_batch(results, "req"), action);
  }
  void operator()(const TagResourceRequest& r) const {
    check(!r.tags.empty() && r.tags.size() <= limits::kMaxTags);
    check_reply(encode_empty(action, "req"), action);
    check_reply(encode_list_tags(r.tags, "req"), Action::kListTagsForResource);
  }
  void operator()(const UntagResourceRequest& r) const {
    check(!r.keys.empty());
    check_reply(encode_empty(action, "req"), action);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nl = input.find('\n');
  const std::string_view query = input.substr(0, nl);
  const std::string_view body =
      nl == std::string_view::npos ? std::string_view{} : input.substr(nl + 1);

  const Decoded d = decode_form(query, body);
  check(d.request.has_value() != d.error.has_value());
  if (d.error) {
    const ApiError& e = *d.error;
    check(!e.code.empty() && !e.message.empty());
    check(e.status == 400 || e.status == 403 || e.status == 404);
    const Reply r = encode_error(e, "req");
    check(r.status == e.status);
    check(well_formed_xml(r.body));
    check(r.body.starts_with("<?xml version=\"1.0\"?><ErrorResponse"));
    return 0;
  }
  std::visit(Answer{d.request->action}, d.request->params);
  return 0;
}
