#include "rest_api.h"

#include <httplib.h>
#include <openssl/crypto.h>

#include <charconv>
#include <functional>

namespace sluice::controlplane {
namespace {

void reply(httplib::Response& res, int status, const Json& body) {
  res.status = status;
  // Names from a request's path may hold any bytes; JSON must not.
  res.set_content(body.dump(2, ' ', false, Json::error_handler_t::replace) + "\n",
                  "application/json");
}

void reply_error(httplib::Response& res, int status, const std::string& code,
                 const std::string& message) {
  reply(res, status, {{"error", {{"code", code}, {"message", message}}}});
}

bool authorized(const httplib::Request& req, const std::string& token) {
  if (token.empty()) return true;
  const std::string header = req.get_header_value("Authorization");
  const std::string expected = "Bearer " + token;
  return header.size() == expected.size() &&
         CRYPTO_memcmp(header.data(), expected.data(), expected.size()) == 0;
}

Json body_json(const httplib::Request& req) {
  if (req.body.empty()) return Json::object();
  Json j = Json::parse(req.body, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    throw ApiError(400, "InvalidRequest", "the body is not a JSON object");
  return j;
}

uint16_t weight_field(const Json& body, uint16_t fallback) {
  if (!body.contains("weight")) return fallback;
  const Json& w = body["weight"];
  if (!w.is_number_unsigned() || w.get<uint64_t>() > 999)
    throw ApiError(400, "InvalidRequest", "weight must be an integer from 0 to 999");
  return w.get<uint16_t>();
}

TargetRef target_ref(const std::string& group, const std::string& text) {
  auto t = parse_target(text);
  if (!t) {
    throw ApiError(400, "InvalidTarget",
                   "'" + text + "' is not ADDRESS, ADDRESS:PORT or [IPV6]:PORT");
  }
  return {group, t->first, t->second};
}

using Handler = std::function<Json(const httplib::Request&)>;

// Runs `handler` with authentication and errors handled the same way for every route.
httplib::Server::Handler route(const std::string& token, Handler handler, int status = 200) {
  return [token, handler = std::move(handler), status](const httplib::Request& req,
                                                       httplib::Response& res) {
    if (!authorized(req, token)) {
      res.set_header("WWW-Authenticate", "Bearer");
      reply_error(res, 401, "Unauthorized", "a valid bearer token is required");
      return;
    }
    try {
      reply(res, status, handler(req));
    } catch (const ApiError& e) {
      reply_error(res, e.status, e.code, e.what());
    } catch (const std::exception& e) {
      reply_error(res, 500, "InternalError", e.what());
    }
  };
}

}  // namespace

std::optional<std::pair<IpAddress, uint16_t>> parse_target(std::string_view text) {
  std::string_view address = text, port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    address = text.substr(1, close - 1);
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
      if (port.empty()) return std::nullopt;
    }
  } else if (text.find(':') == text.rfind(':') && text.find(':') != std::string_view::npos) {
    address = text.substr(0, text.find(':'));  // IPv4 with a port
    port = text.substr(text.find(':') + 1);
    if (port.empty()) return std::nullopt;
  }
  const auto ip = parse_ip_address(address);
  if (!ip) return std::nullopt;
  unsigned value = 0;
  if (!port.empty()) {
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535)
      return std::nullopt;
  }
  return std::pair{*ip, static_cast<uint16_t>(value)};
}

void install_routes(httplib::Server& server, Appliance& a, const std::string& token) {
  const std::string name = R"(([A-Za-z0-9_-]+))";
  const std::string group = "/v1/target-groups/" + name;
  const std::string target = group + R"(/targets/([^/]+))";

  server.Get("/v1/status", route(token, [&a](const auto&) { return a.status(); }));
  server.Get("/v1/services", route(token, [&a](const auto&) { return a.services(); }));
  server.Get("/v1/services/" + name,
             route(token, [&a](const auto& req) { return a.service(req.matches[1]); }));
  server.Get("/v1/target-groups", route(token, [&a](const auto&) { return a.target_groups(); }));
  server.Get(group, route(token, [&a](const auto& req) { return a.target_group(req.matches[1]); }));
  server.Post(group + "/targets", route(
                                      token,
                                      [&a](const auto& req) {
                                        const Json body = body_json(req);
                                        if (!body.contains("target") || !body["target"].is_string())
                                          throw ApiError(400, "InvalidRequest",
                                                         "the body needs \"target\": "
                                                         "\"ADDRESS[:PORT]\"");
                                        return a.register_target(
                                            target_ref(req.matches[1], body["target"]),
                                            weight_field(body, 1));
                                      },
                                      201));
  server.Delete(target, route(token, [&a](const auto& req) {
                  return a.deregister_target(target_ref(req.matches[1], req.matches[2]));
                }));
  server.Put(target + "/weight", route(token, [&a](const auto& req) {
               const Json body = body_json(req);
               if (!body.contains("weight"))
                 throw ApiError(400, "InvalidRequest", "the body needs \"weight\"");
               return a.set_weight(target_ref(req.matches[1], req.matches[2]),
                                   weight_field(body, 0));
             }));
  server.Post(target + "/drain", route(token, [&a](const auto& req) {
                return a.drain_target(target_ref(req.matches[1], req.matches[2]));
              }));
  server.Get("/v1/health", route(token, [&a](const auto&) { return a.health(); }));
  server.Get("/v1/stats", route(token, [&a](const auto&) { return a.stats(); }));
  server.Post("/v1/reload", route(token, [&a](const auto&) { return a.reload(); }));
  server.Get("/v1/config", route(token, [&a](const auto&) { return a.effective_config(); }));
  server.Get("/v1/queues", route(token, [&a](const auto&) { return a.queues(); }));
  server.Get("/metrics", [&a, token](const httplib::Request& req, httplib::Response& res) {
    if (!authorized(req, token)) {
      reply_error(res, 401, "Unauthorized", "a valid bearer token is required");
      return;
    }
    res.set_content(a.metrics(), "text/plain; version=0.0.4; charset=utf-8");
  });
  server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (res.status == 404 && res.body.empty())
      reply_error(res, 404, "NotFound", "no route " + req.method + " " + req.path);
  });
  server.set_payload_max_length(1 << 20);
}

}  // namespace sluice::controlplane
