// End-to-end test topology: network namespaces joined by veth pairs (built by
// scripts/netns-topology), processes started inside them, and clean-up that also runs on test
// failures, exit() and SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGABRT. Runs left by a process that died
// harder than that are swept when the next Topology is created. Single-threaded use only.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::e2e {

using namespace std::chrono_literals;

struct CommandResult {
  int exit_code = -1;  // exit status, 128+N when killed by signal N, -1 when it timed out
  bool timed_out = false;
  std::string output;  // stdout and stderr together
};

// Runs argv (looked up in PATH) with stdin from /dev/null, capturing its output; after `timeout`
// its whole process group is killed.
CommandResult run_command(const std::vector<std::string>& argv,
                          std::chrono::milliseconds timeout = 30s);

// A child process whose stdout and stderr go to a log file. Stopped (SIGTERM, then SIGKILL after
// 3 s) and reaped on destruction if still running.
class Process {
 public:
  Process() = default;
  Process(pid_t pid, std::filesystem::path log) : pid_(pid), log_(std::move(log)) {}
  ~Process();
  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  const std::filesystem::path& log_path() const { return log_; }
  bool running();
  bool signal(int sig);
  // The exit code (128+N for signal N), or nullopt if it is still running after `timeout`.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  // Sends `sig`, waits up to `timeout`, then falls back to SIGKILL; returns the exit code.
  int stop(int sig = SIGTERM, std::chrono::milliseconds timeout = 10s);
  std::string output() const;
  // True once the output contains `needle`; false on timeout or when the process exits first.
  bool wait_for_output(std::string_view needle, std::chrono::milliseconds timeout);

 private:
  void reset();

  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::filesystem::path log_;
};

// Per-port totals from the table sluice-dataplane prints on SIGUSR1 and at exit.
struct PortCounters {
  uint64_t rx_packets = 0;
  uint64_t rx_bytes = 0;
  uint64_t tx_packets = 0;
  uint64_t tx_bytes = 0;
};

// The last counter table in `output`, by port name; empty if there is none.
std::map<std::string, PortCounters> parse_port_counters(std::string_view output);

struct DataplaneOptions {
  std::optional<unsigned> main_core;    // default: the first CPU this process may use
  std::optional<unsigned> worker_core;  // default: the second
  std::vector<std::string> extra_args;  // appended to the command line
  std::chrono::milliseconds start_timeout = 30s;
};

class Topology {
 public:
  // Why end-to-end tests cannot run on this host (not root, no usable `ip netns`, fewer than
  // two CPUs for a dataplane), or nullopt when they can.
  static std::optional<std::string> unavailable_reason();

  // kWire: the client and each backend on their own veth into the lb namespace. kLan: the client,
  // the backends and lb_lan_if() on one bridge in the lb namespace (a one-arm balancer's link).
  enum class Layout { kWire, kLan };

  // Builds namespaces for a client, the load balancer and `backends` backends. Throws
  // std::runtime_error on failure, having removed whatever was built.
  explicit Topology(int backends = 1, Layout layout = Layout::kWire);
  ~Topology();
  Topology(const Topology&) = delete;
  Topology& operator=(const Topology&) = delete;

  const std::string& run_id() const { return run_id_; }
  // Scratch directory of this run, removed with it.
  const std::filesystem::path& run_dir() const { return run_dir_; }
  int backends() const { return backends_; }
  // A value from the script's environment output (CLIENT_NS, BACKEND_IP_0, ...); throws if absent.
  const std::string& env(const std::string& key) const;

  const std::string& client_ns() const { return env("CLIENT_NS"); }
  const std::string& lb_ns() const { return env("LB_NS"); }
  const std::string& client_ip() const { return env("CLIENT_IP"); }
  const std::string& client_ip6() const { return env("CLIENT_IP6"); }
  const std::string& lb_client_if() const { return env("LB_CLIENT_IF"); }
  const std::string& lb_lan_if() const { return env("LB_LAN_IF"); }
  const std::string& backend_ns(int i) const;
  const std::string& backend_ip(int i) const;
  const std::string& backend_ip6(int i) const;
  const std::string& lb_backend_if(int i) const;

  // Runs `shell_command` with sh -c inside namespace `ns`.
  CommandResult run_in(const std::string& ns, const std::string& shell_command,
                       std::chrono::milliseconds timeout = 30s) const;
  // Starts argv inside namespace `ns`; output goes to run_dir()/<log_name>.log.
  Process spawn_in(const std::string& ns, const std::vector<std::string>& argv,
                   const std::string& log_name);

  // Document root served by start_nginx(i); files written there are served at http://<ip>/<name>.
  std::filesystem::path web_root(int backend) const;
  // nginx in backend `backend`, listening on port 80 (IPv4 and IPv6), serving web_root(backend)
  // whose index.html reads "backend-<i>\n". Returns once it answers on loopback.
  Process start_nginx(int backend);

  // sluice-dataplane ($SLUICE_DATAPLANE, else the one built with the tests) in the lb namespace as
  // a wire between lb_client_if() (port "client") and lb_backend_if(0) (port "backend") on
  // net_af_packet, without hugepages, under a fresh
  // --instance. Returns once it has printed its start line; throws with its output otherwise.
  Process start_dataplane(const DataplaneOptions& options = {});

  // sluice-dataplane in the lb namespace with a configuration file made of `yaml` (which must not
  // set instance or cores: they are added), waiting for the line starting with `start_line`.
  Process start_dataplane_config(const std::string& yaml, const std::string& start_line,
                                 const DataplaneOptions& options = {});
  // The file the last start_dataplane_config() wrote (rewrite it and send SIGHUP to reload).
  const std::filesystem::path& last_config_path() const { return last_config_path_; }

 private:
  Process launch_dataplane(std::vector<std::string> args, const std::string& instance,
                           const std::string& start_line, const DataplaneOptions& options);

  std::string run_id_;
  int backends_ = 0;
  std::filesystem::path run_dir_;
  std::map<std::string, std::string> env_;
  int slot_ = -1;
  int dataplanes_started_ = 0;
  std::filesystem::path last_config_path_;
};

}  // namespace sluice::e2e
