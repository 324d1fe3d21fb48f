// SNS topics and their subscriptions: the registry every service core consults. Topic and
// subscription changes are rare next to publishes, so the registry is one structure under a
// reader-writer lock; a publish takes the read lock once, evaluates the topic's filter policies
// (compiled when a subscription's policy is set, never per publish) and comes back with the
// deliveries to make. When the queue service is durable the registry is kept in
// `<directory>/topics.json`, rewritten atomically (temporary file, fsync, rename) on every change
// and read back at start.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sns_delivery_policy.h"
#include "sns_filter_policy.h"
#include "sns_filter_set.h"
#include "sns_signing.h"

namespace sluice::api::sns {

// A refusal in SNS's terms: the error code, its message, and the HTTP status.
struct TopicError {
  std::string code;  // InvalidParameter, NotFound, AuthorizationError, ...
  std::string message;
  uint16_t status = 400;
};

struct Subscription {
  std::string arn;  // "PendingConfirmation" is what clients see until an http one is confirmed
  std::string topic_arn;
  std::string protocol;                           // sqs, http, https
  std::string endpoint;                           // a queue ARN, or a URL
  std::map<std::string, std::string> attributes;  // RawMessageDelivery, FilterPolicy, ...
  bool confirmed = false;
  std::string token;  // the confirmation token sent to an http endpoint

  std::shared_ptr<const FilterPolicy> filter;  // compiled from the FilterPolicy attribute
  std::shared_ptr<const DeliveryPolicy> delivery_policy;  // from the DeliveryPolicy attribute
  std::string dead_letter_queue;  // the queue named by the RedrivePolicy attribute, if any
  bool raw() const;
};

struct Topic {
  std::string name;
  std::string arn;
  bool fifo = false;
  std::map<std::string, std::string> attributes;  // as set: DisplayName, Policy, ...
  std::vector<std::pair<std::string, std::string>> tags;
  std::shared_ptr<const TopicDeliveryPolicy> delivery_policy;  // from DeliveryPolicy, if set
  std::vector<std::string> subscriptions;                      // arns, in subscription order

  // The subscriptions' filter policies compiled as one set, whose members are positions in
  // `filtered`: the subscriptions as they stood when it was built. A change of the subscriptions
  // or their policies builds a new set outside the registry's lock (compiling a large set takes
  // a while, and publishes go on meanwhile with the one before) and installs it unless a later
  // change has started a newer one (`generation`).
  FilterSet filters;
  std::vector<std::string> filtered;
  uint64_t generation = 0;
};

// A message as published.
struct PublishedMessage {
  std::string message;
  std::string subject;
  MessageAttributes attributes;
  std::string group_id;          // FIFO topics
  std::string deduplication_id;  // FIFO topics (or derived from the body)
};

// One copy of a published message for one subscription.
struct Delivery {
  std::string subscription_arn;
  std::string protocol;
  std::string endpoint;
  bool raw = false;
  std::string body;  // the SNS envelope (JSON), or the bare message when raw
  // For http endpoints: what the POST's x-amz-sns-* headers say and how it is retried.
  std::string message_type;  // Notification, SubscriptionConfirmation
  std::string message_id;
  std::string topic_arn;
  DeliveryPolicy policy;
  // The queue that takes the copy when its endpoint never does (empty: none).
  std::string dead_letter_queue;
};

template <typename T>
struct TopicResult {
  std::optional<T> value;
  std::optional<TopicError> error;
};

class TopicRegistry {
 public:
  // `directory` empty: in memory. Reads topics.json there when present; throws
  // std::runtime_error naming the file when it cannot be read.
  TopicRegistry(std::string region, std::string account, std::string directory);

  const std::string& region() const { return region_; }
  const MessageSigner& signer() const { return signer_; }
  const std::string& account() const { return account_; }
  std::string topic_arn(std::string_view name) const;

  // CreateTopic is idempotent: an existing topic with the same attributes is returned, one with
  // other attributes is an InvalidParameter error.
  TopicResult<std::string> create_topic(
      const std::string& name, const std::map<std::string, std::string>& attributes,
      const std::vector<std::pair<std::string, std::string>>& tags);
  std::optional<TopicError> delete_topic(const std::string& arn);
  std::vector<std::string> list_topics() const;  // arns, sorted
  // Every attribute SNS reports: TopicArn, Owner, DisplayName, Policy, SubscriptionsConfirmed,
  // SubscriptionsPending, FifoTopic, ContentBasedDeduplication, ...
  TopicResult<std::map<std::string, std::string>> topic_attributes(const std::string& arn) const;
  std::optional<TopicError> set_topic_attribute(const std::string& arn, const std::string& name,
                                                const std::string& value);

  // Subscribe: an sqs subscription is confirmed at once; an http(s) one waits for
  // ConfirmSubscription with the token of the signed SubscriptionConfirmation in `confirmation`,
  // which the caller POSTs to the endpoint.
  struct Subscribed {
    std::string arn;
    std::optional<Delivery> confirmation;  // the SubscriptionConfirmation to POST
  };
  TopicResult<Subscribed> subscribe(const std::string& topic_arn, const std::string& protocol,
                                    const std::string& endpoint,
                                    const std::map<std::string, std::string>& attributes,
                                    const std::string& timestamp, std::string_view url_prefix);
  TopicResult<std::string> confirm_subscription(const std::string& topic_arn,
                                                const std::string& token);
  std::optional<TopicError> unsubscribe(const std::string& subscription_arn);
  // All subscriptions (topic_arn empty) or one topic's.
  TopicResult<std::vector<Subscription>> list_subscriptions(const std::string& topic_arn) const;
  TopicResult<std::map<std::string, std::string>> subscription_attributes(
      const std::string& arn) const;
  std::optional<TopicError> set_subscription_attribute(const std::string& arn,
                                                       const std::string& name,
                                                       const std::string& value);

  std::optional<TopicError> tag(const std::string& arn,
                                const std::vector<std::pair<std::string, std::string>>& tags);
  std::optional<TopicError> untag(const std::string& arn, const std::vector<std::string>& keys);
  TopicResult<std::vector<std::pair<std::string, std::string>>> tags(const std::string& arn) const;

  // The deliveries a publish makes: one per confirmed subscription whose filter policy the
  // message passes. `timestamp`: ISO 8601 with milliseconds. `url_prefix`: "http://HOST/", for
  // the envelope's UnsubscribeURL and SigningCertURL.
  TopicResult<std::vector<Delivery>> fan_out(const std::string& topic_arn,
                                             const PublishedMessage& message,
                                             const std::string& message_id,
                                             const std::string& timestamp,
                                             std::string_view url_prefix) const;

 private:
  Topic* find_topic(const std::string& arn);
  const Topic* find_topic(const std::string& arn) const;
  // A rebuild of a topic's filter set: taken under the write lock, built and installed after it.
  struct Rebuild {
    std::string topic_arn;
    uint64_t generation = 0;
    std::vector<std::string> subscriptions;
    std::vector<FilterSet::Member> members;
  };
  Rebuild start_rebuild(Topic& topic);
  void finish_rebuild(Rebuild rebuild);  // not under the lock
  void save() const;                     // under the write lock
  void load();

  std::string region_, account_, directory_;
  MessageSigner signer_;
  mutable std::shared_mutex mutex_;
  std::map<std::string, Topic> topics_;                          // by arn
  std::unordered_map<std::string, Subscription> subscriptions_;  // by arn
  uint64_t rebuilds_ = 0;
};

// The signature of a notification: the same for each of its copies.
std::string notification_signature(const MessageSigner& signer, const Topic& topic,
                                   const PublishedMessage& message, const std::string& message_id,
                                   const std::string& timestamp);
// The SNS JSON envelope of a notification for one subscription, with its signature.
std::string notification_envelope(const std::string& signature, const Topic& topic,
                                  const Subscription& subscription, const PublishedMessage& message,
                                  const std::string& message_id, const std::string& timestamp,
                                  std::string_view url_prefix);

}  // namespace sluice::api::sns
