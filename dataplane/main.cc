// sluice-dataplane: the packet-processing process. Configuration comes from a YAML file
// (--config) and/or the command line; the command line wins.
#include <fmt/format.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include "config.h"
#include "config/yaml_field.h"
#include "dataplane_app.h"
#include "exception_path.h"
#include "lb_config.h"
#include "proxy_app.h"
#include "proxy_config.h"
#include "queue_service_app.h"
#include "service_config.h"

using namespace sluice::dataplane;
using sluice::ConfigError;
using sluice::YamlField;

namespace {

unsigned first_core_other_than(unsigned core) {
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  for (unsigned c = 0; c < static_cast<unsigned>(online); ++c) {
    if (c != core) return c;
  }
  throw ConfigError(
      "cores.workers: this host has a single core; a worker needs a core besides cores.main");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sluice-dataplane: kernel-bypass packet processing on pinned cores"};
  std::string config_path, workers, hugepages, instance, control_socket, api_listen;
  std::vector<std::string> port_args;
  std::optional<unsigned> main_core, memory_mb, stats_interval;
  bool check_only = false;
  app.add_option("-c,--config", config_path, "YAML configuration file")->check(CLI::ExistingFile);
  app.add_option("-p,--port", port_args,
                 "NAME=DEVICE (PCI address or DPDK vdev string); repeat per port");
  app.add_option("--main-core", main_core, "EAL main lcore (management only)");
  app.add_option("--workers", workers, "worker cores, e.g. 1 or 1-3");
  app.add_option("--hugepages", hugepages, "auto, on or off");
  app.add_option("--memory-mb", memory_mb, "EAL memory without hugepages");
  app.add_option("--instance", instance, "instance name (EAL file prefix)");
  app.add_option("--stats-interval", stats_interval, "print counters every N seconds (0: off)");
  app.add_option("--control-socket", control_socket,
                 "unix socket sluice-controlplane connects to (lb job)");
  app.add_option("--api-listen", api_listen, "HOST:PORT of the SQS API (queues job)");
  app.add_flag("--check", check_only, "validate the configuration and exit");
  CLI11_PARSE(app, argc, argv);

  try {
    sluice::lb::LbConfig lb_config;
    sluice::api::ApiConfig api_config;
    sluice::api::QueuesConfig queues_config;
    sluice::proxy::ProxyConfig proxy_config;
    const std::vector<ConfigSection> sections = {
        {"lb", [&](const YamlField& f) { sluice::lb::parse_lb_section(f, lb_config); }},
        {"services", [&](const YamlField& f) { sluice::lb::parse_services_section(f, lb_config); }},
        {"api", [&](const YamlField& f) { sluice::api::parse_api_section(f, api_config); }},
        {"queues",
         [&](const YamlField& f) { sluice::api::parse_queues_section(f, queues_config); }},
        {"proxy",
         [&](const YamlField& f) { sluice::proxy::parse_proxy_section(f, proxy_config.settings); }},
        {"listeners",
         [&](const YamlField& f) {
           sluice::proxy::parse_listeners_section(f, proxy_config.listeners);
         }},
        {"target_groups",
         [&](const YamlField& f) {
           sluice::proxy::parse_target_groups_section(f, proxy_config.target_groups);
         }},
    };
    DataplaneConfig config =
        config_path.empty() ? DataplaneConfig{} : load_config_file(config_path, sections);
    if (!port_args.empty()) {
      config.ports.clear();
      for (const auto& arg : port_args) {
        auto eq = arg.find('=');
        if (eq == std::string::npos || eq == 0)
          throw ConfigError("--port " + arg + ": expected NAME=DEVICE");
        config.ports.push_back({.name = arg.substr(0, eq), .device = arg.substr(eq + 1)});
      }
    }
    if (main_core) config.cores.main = *main_core;
    if (!workers.empty()) config.cores.workers = parse_core_list(workers);
    if (!api_listen.empty() && !sluice::api::parse_listen_address(api_listen, api_config))
      throw ConfigError("--api-listen " + api_listen + ": expected HOST:PORT");
    if (config.job == Job::kQueues) {
      validate_config(config);
      sluice::api::validate_api_config(api_config);
      if (check_only) {
        fmt::print("configuration is valid\n");
        return 0;
      }
      return run_queue_service(api_config, queues_config);
    }
    if (config.job == Job::kProxy) {
      validate_config(config);
      sluice::proxy::validate_proxy_config(proxy_config);
      // Patterns are compiled here too, so that --check reports those Hyperscan refuses.
      auto runtime = compile_proxy_config(proxy_config);
      if (check_only) {
        fmt::print("configuration is valid\n");
        return 0;
      }
      ProxyConfigLoader reload_proxy;
      if (!config_path.empty()) {
        reload_proxy = [&] {
          sluice::proxy::ProxyConfig next;
          const std::vector<ConfigSection> next_sections = {
              {"proxy",
               [&](const YamlField& f) { sluice::proxy::parse_proxy_section(f, next.settings); }},
              {"listeners",
               [&](const YamlField& f) {
                 sluice::proxy::parse_listeners_section(f, next.listeners);
               }},
              {"target_groups",
               [&](const YamlField& f) {
                 sluice::proxy::parse_target_groups_section(f, next.target_groups);
               }},
          };
          load_config_file(config_path, next_sections);
          sluice::proxy::validate_proxy_config(next);
          return next;
        };
      }
      return run_proxy_service(std::move(runtime), reload_proxy);
    }
    if (config.cores.workers.empty())
      config.cores.workers = {first_core_other_than(config.cores.main)};
    if (!hugepages.empty()) config.hugepages = parse_hugepage_mode(hugepages);
    if (memory_mb) config.memory_mb = *memory_mb;
    if (!instance.empty()) config.instance = instance;
    if (stats_interval) config.stats_interval_s = *stats_interval;
    if (!control_socket.empty()) config.control_socket = control_socket;
    validate_config(config);
    if (config.job == Job::kLb) {
      sluice::lb::validate_lb_config(lb_config);
      if (!lb_config.exception_interface.empty())
        sluice::exception::tap_names(lb_config.exception_interface, config.ports.size());
    }
    if (check_only) {
      fmt::print("configuration is valid\n");
      return 0;
    }
    LbConfigLoader reload_lb;
    if (!config_path.empty()) {
      reload_lb = [&] {
        sluice::lb::LbConfig next;
        const std::vector<ConfigSection> next_sections = {
            {"lb", [&](const YamlField& f) { sluice::lb::parse_lb_section(f, next); }},
            {"services", [&](const YamlField& f) { sluice::lb::parse_services_section(f, next); }},
        };
        // Only the balancer's sections take effect: ports and cores stay as started (and may come
        // from the command line), so the rest of the file is parsed but not validated again.
        load_config_file(config_path, next_sections);
        sluice::lb::validate_lb_config(next);
        return next;
      };
    }
    return run_dataplane(config, lb_config, reload_lb, argv[0]);
  } catch (const ConfigError& e) {
    fmt::print(stderr, "sluice-dataplane: configuration error: {}\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    fmt::print(stderr, "sluice-dataplane: {}\n", e.what());
    return 1;
  }
}
