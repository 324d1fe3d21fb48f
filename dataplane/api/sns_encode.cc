// Encoding SNS replies: the query protocol's XML documents, `<ActionResponse>` holding
// `<ActionResult>` (for actions with an output) and `<ResponseMetadata>`; lists as <member>
// elements, maps as <entry><key/><value/></entry>.
#include "sns_codec.h"
#include "sqs_codec.h"

namespace sluice::api::sns {

namespace {

// Builds one reply document; element text is escaped, names are the encoder's own.
class XmlWriter {
 public:
  void open(std::string_view name) {
    out_ += '<';
    out_ += name;
    out_ += '>';
  }
  void close(std::string_view name) {
    out_ += "</";
    out_ += name;
    out_ += '>';
  }
  void element(std::string_view name, std::string_view text) {
    open(name);
    out_ += sqs::xml_escape(text);
    close(name);
  }
  void entries(std::string_view name, const NameValues& values, std::string_view key,
               std::string_view value, std::string_view item) {
    open(name);
    for (const auto& [k, v] : values) {
      open(item);
      element(key, k);
      element(value, v);
      close(item);
    }
    close(name);
  }
  std::string& text() { return out_; }

 private:
  std::string out_;
};

bool has_result(Action action) {
  switch (action) {
    case Action::kDeleteTopic:
    case Action::kSetTopicAttributes:
    case Action::kUnsubscribe:
    case Action::kSetSubscriptionAttributes:
      return false;
    default:
      return true;
  }
}

// The reply to `action`; `result` writes the Result element's contents.
template <typename Result>
Reply make_reply(Action action, std::string_view request_id, Result&& result) {
  const std::string name(action_name(action));
  XmlWriter w;
  w.text() =
      "<?xml version=\"1.0\"?><" + name + "Response xmlns=\"" + std::string(kXmlNamespace) + "\">";
  if (has_result(action)) {
    w.open(name + "Result");
    result(w);
    w.close(name + "Result");
  }
  w.open("ResponseMetadata");
  w.element("RequestId", request_id);
  w.close("ResponseMetadata");
  w.close(name + "Response");
  Reply reply;
  reply.headers.emplace_back("x-amzn-RequestId", std::string(request_id));
  reply.headers.emplace_back("Content-Type", "text/xml");
  reply.body = std::move(w.text());
  return reply;
}

void next_token(XmlWriter& w, std::string_view token) {
  if (!token.empty()) w.element("NextToken", token);
}

}  // namespace

Reply encode_error(const ApiError& error, std::string_view request_id) {
  XmlWriter w;
  w.text() = "<?xml version=\"1.0\"?><ErrorResponse xmlns=\"" + std::string(kXmlNamespace) + "\">";
  w.open("Error");
  w.element("Type", error.sender_fault ? "Sender" : "Receiver");
  w.element("Code", error.code);
  w.element("Message", error.message);
  w.close("Error");
  w.element("RequestId", request_id);
  w.close("ErrorResponse");
  Reply reply;
  reply.status = error.status;
  reply.headers.emplace_back("x-amzn-RequestId", std::string(request_id));
  reply.headers.emplace_back("Content-Type", "text/xml");
  reply.body = std::move(w.text());
  return reply;
}

Reply encode_empty(Action action, std::string_view request_id) {
  return make_reply(action, request_id, [](XmlWriter&) {});
}

Reply encode_create_topic(std::string_view topic_arn, std::string_view request_id) {
  return make_reply(Action::kCreateTopic, request_id,
                    [&](XmlWriter& w) { w.element("TopicArn", topic_arn); });
}

Reply encode_subscription_arn(Action action, std::string_view subscription_arn,
                              std::string_view request_id) {
  return make_reply(action, request_id,
                    [&](XmlWriter& w) { w.element("SubscriptionArn", subscription_arn); });
}

Reply encode_attributes(Action action, const NameValues& attributes, std::string_view request_id) {
  return make_reply(action, request_id, [&](XmlWriter& w) {
    w.entries("Attributes", attributes, "key", "value", "entry");
  });
}

Reply encode_list_topics(std::span<const std::string> topic_arns, std::string_view token,
                         std::string_view request_id) {
  return make_reply(Action::kListTopics, request_id, [&](XmlWriter& w) {
    w.open("Topics");
    for (const auto& arn : topic_arns) {
      w.open("member");
      w.element("TopicArn", arn);
      w.close("member");
    }
    w.close("Topics");
    next_token(w, token);
  });
}

Reply encode_list_subscriptions(Action action, std::span<const SubscriptionInfo> subscriptions,
                                std::string_view token, std::string_view request_id) {
  return make_reply(action, request_id, [&](XmlWriter& w) {
    w.open("Subscriptions");
    for (const auto& s : subscriptions) {
      w.open("member");
      w.element("SubscriptionArn", s.subscription_arn);
      w.element("Owner", s.owner);
      w.element("Protocol", s.protocol);
      w.element("Endpoint", s.endpoint);
      w.element("TopicArn", s.topic_arn);
      w.close("member");
    }
    w.close("Subscriptions");
    next_token(w, token);
  });
}

Reply encode_publish(const PublishResult& result, std::string_view request_id) {
  return make_reply(Action::kPublish, request_id, [&](XmlWriter& w) {
    w.element("MessageId", result.message_id);
    if (!result.sequence_number.empty()) w.element("SequenceNumber", result.sequence_number);
  });
}

Reply encode_publish_batch(std::span<const BatchResultEntry> entries, std::string_view request_id) {
  return make_reply(Action::kPublishBatch, request_id, [&](XmlWriter& w) {
    w.open("Successful");
    for (const auto& e : entries) {
      if (e.error) continue;
      w.open("member");
      w.element("Id", e.id);
      w.element("MessageId", e.published.message_id);
      if (!e.published.sequence_number.empty()) {
        w.element("SequenceNumber", e.published.sequence_number);
      }
      w.close("member");
    }
    w.close("Successful");
    w.open("Failed");
    for (const auto& e : entries) {
      if (!e.error) continue;
      w.open("member");
      w.element("Id", e.id);
      w.element("Code", e.error->code);
      w.element("Message", e.error->message);
      w.element("SenderFault", e.error->sender_fault ? "true" : "false");
      w.close("member");
    }
    w.close("Failed");
  });
}

Reply encode_list_tags(const NameValues& tags, std::string_view request_id) {
  return make_reply(Action::kListTagsForResource, request_id,
                    [&](XmlWriter& w) { w.entries("Tags", tags, "Key", "Value", "member"); });
}

}  // namespace sluice::api::sns
