#include "sqs_client.h"

#include <ctime>

#include "sigv4_signer.h"

namespace sluice::controlplane {
namespace {

using api::sigv4::amz_date;
using api::sigv4::RequestToSign;
using api::sigv4::sigv4_authorization;

constexpr const char* kJsonType = "application/x-amz-json-1.0";

// The HTTP client's failures, worded for an operator.
std::string transport_error(httplib::Error e) {
  switch (e) {
    case httplib::Error::Connection:
      return "connection refused or failed";
    case httplib::Error::ConnectionTimeout:
      return "connection timed out";
    case httplib::Error::Read:
      return "no answer (the connection closed or the read timed out)";
    case httplib::Error::Write:
      return "the request could not be sent";
    default:
      return httplib::to_string(e);
  }
}

}  // namespace

SqsClient::SqsClient(const QueuesConfig& config, std::chrono::milliseconds timeout)
    : config_(config), http_(config.host, config.port) {
  http_.set_connection_timeout(timeout);
  http_.set_read_timeout(timeout);
  http_.set_write_timeout(timeout);
  http_.set_keep_alive(true);
}

SqsClient::Reply SqsClient::call(const std::string& action, const Json& params) {
  const std::string body = params.dump(-1, ' ', false, Json::error_handler_t::replace);
  const bool v6 = config_.host.find(':') != std::string::npos;
  // Set here rather than by the HTTP client, so that what is signed is what is sent.
  const std::string host =
      (v6 ? "[" + config_.host + "]" : config_.host) + ":" + std::to_string(config_.port);
  const std::string target = "AmazonSQS." + action;
  httplib::Headers headers = {{"Host", host}, {"X-Amz-Target", target}};
  if (!config_.access_key_id.empty()) {
    const std::string date = amz_date(std::time(nullptr));
    headers.emplace("X-Amz-Date", date);
    const RequestToSign request{.method = "POST",
                                .path = "/",
                                .query = "",
                                .headers = {{"Content-Type", kJsonType},
                                            {"Host", host},
                                            {"X-Amz-Date", date},
                                            {"X-Amz-Target", target}},
                                .body = body};
    headers.emplace("Authorization",
                    sigv4_authorization(request, {.access_key_id = config_.access_key_id,
                                                  .secret_access_key = config_.secret_access_key,
                                                  .region = config_.region}));
  }
  Reply reply;
  const httplib::Result r = http_.Post("/", headers, body, kJsonType);
  if (!r) {
    reply.error = "cannot reach " + config_.endpoint() + ": " + transport_error(r.error());
    return reply;
  }
  reply.answered = true;
  reply.status = r->status;
  // Actions without a result may answer with no body at all.
  reply.body = r->body.empty() ? Json::object() : Json::parse(r->body, nullptr, false);
  if (reply.ok()) {
    if (!reply.body.is_object()) {
      reply.status = 0;
      reply.error = "the answer is not a JSON object";
    }
    return reply;
  }
  // The query protocol's code is what SQS documents (QueueAlreadyExists rather than the JSON
  // type's QueueNameExists); the JSON type is the fallback.
  const std::string query_error = r->get_header_value("x-amzn-query-error");
  if (!query_error.empty()) {
    reply.code = query_error.substr(0, query_error.find(';'));
  } else if (reply.body.is_object() && reply.body.value("__type", Json()).is_string()) {
    const std::string type = reply.body["__type"];
    reply.code = type.substr(type.find('#') + 1);
  } else {
    reply.code = "HTTP " + std::to_string(r->status);
  }
  std::string message;
  if (reply.body.is_object() && reply.body.value("message", Json()).is_string())
    message = reply.body["message"];
  reply.error = message.empty() ? reply.code : reply.code + ": " + message;
  return reply;
}

}  // namespace sluice::controlplane
