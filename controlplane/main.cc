// sluice-controlplane: owns intent. Reads the YAML configuration, runs the health checks, serves
// the REST API (and /metrics), and pushes compiled snapshots to sluice-dataplane over its control
// socket. It never sits on the packet path: the dataplane keeps forwarding without it.
#include <fmt/format.h>
#include <httplib.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <thread>

#include "appliance.h"
#include "config_json.h"
#include "dataplane_connection.h"
#include "rest_api.h"

using namespace sluice::controlplane;

namespace {

std::atomic<bool> stop_requested{false};
std::atomic<bool> reload_requested{false};

void on_signal(int sig) {
  if (sig == SIGHUP) {
    reload_requested = true;
  } else {
    stop_requested = true;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sluice-controlplane: configuration, health checks, REST API and metrics"};
  std::string config_path, socket_override, listen_override;
  bool check_only = false;
  app.add_option("-c,--config", config_path, "YAML configuration file")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--control-socket", socket_override, "the dataplane's control socket");
  app.add_option("--listen", listen_override, "REST API address:port (overrides api.listen)");
  app.add_flag("--check", check_only, "validate the configuration and exit");
  CLI11_PARSE(app, argc, argv);

  LoadResult loaded = load_control_config_file(config_path);
  if (!loaded.ok()) {
    fmt::print(stderr, "sluice-controlplane: configuration error: {}\n", loaded.error);
    return 2;
  }
  ControlConfig config = std::move(*loaded.config);
  if (!socket_override.empty()) config.dataplane.control_socket = socket_override;
  if (!listen_override.empty()) {
    const auto colon = listen_override.rfind(':');
    const auto address = sluice::parse_ip_address(
        colon == std::string::npos ? "" : listen_override.substr(0, colon));
    if (!address) {
      fmt::print(stderr, "sluice-controlplane: --listen {}: expected ADDRESS:PORT\n",
                 listen_override);
      return 2;
    }
    config.api.listen = {*address,
                         static_cast<uint16_t>(std::stoul(listen_override.substr(colon + 1)))};
  }
  if (check_only) {
    fmt::print("configuration is valid\n");
    return 0;
  }

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  const std::string listen_host = sluice::format_ip_address(config.api.listen.address);
  const uint16_t listen_port = config.api.listen.port;
  const std::string token = config.api.bearer_token;
  DataplaneConnection link(config.dataplane.control_socket);
  std::optional<ProxyConnection> proxy_link;
  if (!config.dataplane.proxy_socket.empty()) proxy_link.emplace(config.dataplane.proxy_socket);
  Appliance appliance(std::move(config), config_path, link);
  if (proxy_link) appliance.attach_proxy(*proxy_link);

  httplib::Server server;
  // Answers are written in more than one piece: without TCP_NODELAY the last waits for the
  // client's delayed acknowledgement (40 ms on Linux) on a kept-alive connection.
  server.set_tcp_nodelay(true);
  install_routes(server, appliance, token);
  if (!server.bind_to_port(listen_host, listen_port)) {
    fmt::print(stderr, "sluice-controlplane: cannot listen on {}\n",
               format_endpoint(*sluice::parse_ip_address(listen_host), listen_port));
    return 1;
  }
  std::thread http([&] { server.listen_after_bind(); });
  fmt::print("sluice-controlplane: API on {}, dataplane at {}\n",
             format_endpoint(*sluice::parse_ip_address(listen_host), listen_port),
             appliance.config_unlocked().dataplane.control_socket);
  std::fflush(stdout);

  bool was_connected = false;
  std::map<std::string, std::string> queue_states;  // "applied" or the last error, per queue
  while (!stop_requested) {
    appliance.poll(std::chrono::milliseconds(200));
    if (reload_requested.exchange(false)) {
      try {
        const Json r = appliance.reload();
        fmt::print("sluice-controlplane: SIGHUP: reloaded {}\n", config_path);
      } catch (const ApiError& e) {
        fmt::print(stderr, "sluice-controlplane: SIGHUP: reload rejected: {}\n", e.what());
      }
    }
    const bool connected = link.connected();
    if (connected != was_connected) {
      fmt::print("sluice-controlplane: dataplane {}\n",
                 connected ? fmt::format("connected (pid {})", link.peer()->pid)
                           : "disconnected; it keeps forwarding with its last snapshot");
      was_connected = connected;
    }
    for (const Json& q : appliance.queues()) {
      const std::string state = q["state"] == "applied" ? "applied" : q.value("last_error", "");
      std::string& was = queue_states[q["name"].get<std::string>()];
      if (state.empty() || state == was) continue;
      fmt::print("sluice-controlplane: queue {}: {}\n", q["name"].get<std::string>(),
                 state == "applied" ? "declared at " + q.value("url", "") : "pending: " + state);
      was = state;
    }
    std::fflush(stdout);
    std::fflush(stderr);
  }
  server.stop();
  http.join();
  fmt::print("sluice-controlplane: stopped\n");
  return 0;
}
