#include "topology.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#ifndef SLUICE_SOURCE_ROOT
#error "SLUICE_SOURCE_ROOT must name the source tree"
#endif
#ifndef SLUICE_DATAPLANE_PATH
#error "SLUICE_DATAPLANE_PATH must name the sluice-dataplane binary"
#endif

namespace sluice::e2e {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kScript = SLUICE_SOURCE_ROOT "/scripts/netns-topology";
constexpr auto kPollInterval = 20ms;

// Runs registered for clean-up from signal handlers and atexit. Only async-signal-safe state:
// fixed arrays written before a slot is marked active.
constexpr int kMaxRuns = 16;
constexpr size_t kRunIdMax = 32;
struct RunSlot {
  volatile sig_atomic_t active = 0;
  char run_id[kRunIdMax] = {};
};
RunSlot g_runs[kMaxRuns];
pid_t g_owner = -1;
// Process group of the command run_command is waiting for, so that a handler can stop it (it
// may be the script building a run) before destroying the run.
volatile sig_atomic_t g_inflight_pgid = 0;
constexpr int kCleanupSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT};

// Async-signal-safe: fork, execv, waitpid and kill only.
void destroy_registered_runs() {
  if (getpid() != g_owner) return;
  if (pid_t pgid = g_inflight_pgid; pgid > 0) {
    kill(-pgid, SIGKILL);
    while (waitpid(pgid, nullptr, 0) < 0 && errno == EINTR) {
    }
    g_inflight_pgid = 0;
  }
  for (auto& slot : g_runs) {
    if (!slot.active) continue;
    pid_t pid = fork();
    if (pid == 0) {
      // Out of our process group: test runners follow SIGTERM with a SIGKILL to the group
      // (meson after half a second), which must not cut the clean-up short.
      setsid();
      char destroy[] = "destroy";
      char* argv[] = {const_cast<char*>(kScript), destroy, slot.run_id, nullptr};
      execv(kScript, argv);
      _exit(127);
    }
    if (pid > 0) {
      while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
    slot.active = 0;
  }
}

void on_cleanup_signal(int sig) {
  const int saved_errno = errno;
  destroy_registered_runs();
  // Reap what the runs' clean-up ended, rather than leave zombies to init.
  while (waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  errno = saved_errno;
  // SA_RESETHAND restored the default action: the signal ends the process as it would have.
  raise(sig);
}

void install_cleanup_once() {
  if (g_owner == getpid()) return;
  g_owner = getpid();
  std::atexit(destroy_registered_runs);
  for (int sig : kCleanupSignals) {
    struct sigaction old {};
    sigaction(sig, nullptr, &old);
    if (old.sa_handler == SIG_IGN) continue;  // e.g. SIGHUP under nohup
    struct sigaction sa {};
    sa.sa_handler = on_cleanup_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    for (int other : kCleanupSignals) sigaddset(&sa.sa_mask, other);
    sigaction(sig, &sa, nullptr);
  }
}

// Signals stay blocked while a slot changes so that a handler never sees half of it.
class BlockCleanupSignals {
 public:
  BlockCleanupSignals() {
    sigset_t set;
    sigemptyset(&set);
    for (int sig : kCleanupSignals) sigaddset(&set, sig);
    sigprocmask(SIG_BLOCK, &set, &old_);
  }
  ~BlockCleanupSignals() { sigprocmask(SIG_SETMASK, &old_, nullptr); }
  BlockCleanupSignals(const BlockCleanupSignals&) = delete;
  BlockCleanupSignals& operator=(const BlockCleanupSignals&) = delete;

 private:
  sigset_t old_;
};

int register_run(const std::string& run_id) {
  if (run_id.size() >= kRunIdMax) throw std::runtime_error("run id too long: " + run_id);
  BlockCleanupSignals block;
  for (int i = 0; i < kMaxRuns; ++i) {
    if (g_runs[i].active) continue;
    std::memcpy(g_runs[i].run_id, run_id.c_str(), run_id.size() + 1);
    g_runs[i].active = 1;
    return i;
  }
  throw std::runtime_error("too many topologies at once");
}

void unregister_run(int slot) {
  BlockCleanupSignals block;
  g_runs[slot].active = 0;
}

std::vector<char*> c_argv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (const auto& a : argv) out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

// In a freshly forked child of `parent`: own process group, SIGTERM when the parent dies, default
// signal dispositions, nothing blocked, stdin from /dev/null, stdout and stderr to `out_fd`; then
// exec. Never returns.
[[noreturn]] void exec_child(char* const* argv, int out_fd, pid_t parent) {
  setpgid(0, 0);
  // Should the test process be killed outright, its children follow instead of lingering (a
  // dataplane would keep a core busy) until the next sweep removes the namespaces.
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != parent) _exit(127);
  for (int sig : kCleanupSignals) ::signal(sig, SIG_DFL);
  ::signal(SIGPIPE, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
  dup2(out_fd, STDOUT_FILENO);
  dup2(out_fd, STDERR_FILENO);
  execvp(argv[0], argv);
  const std::string msg = std::string("cannot execute ") + argv[0] + ": " + strerror(errno) + "\n";
  ssize_t ignored = write(STDERR_FILENO, msg.data(), msg.size());
  (void)ignored;
  _exit(127);
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const std::filesystem::path& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

void replace_all(std::string& text, std::string_view from, std::string_view to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

std::string script_command(const std::string& a, const std::string& b = "",
                           const std::string& c = "") {
  std::string s = std::string(kScript) + " " + a;
  if (!b.empty()) s += " " + b;
  if (!c.empty()) s += " " + c;
  return s;
}

std::vector<unsigned> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<unsigned> cpus;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
  for (unsigned c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
  }
  return cpus;
}

}  // namespace

CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  CommandResult result;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe: " + std::string(strerror(errno)));
  std::vector<char*> args = c_argv(argv);
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    throw std::runtime_error("fork: " + std::string(strerror(errno)));
  }
  if (pid == 0) exec_child(args.data(), fds[1], parent);
  setpgid(pid, pid);  // also done by the child; whichever runs first wins the race harmlessly
  g_inflight_pgid = pid;
  close(fds[1]);

  const auto deadline = Clock::now() + timeout;
  char buf[4096];
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      result.timed_out = true;
      break;
    }
    pollfd pfd{fds[0], POLLIN, 0};
    int n = poll(&pfd, 1, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    ssize_t got = read(fds[0], buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    result.output.append(buf, static_cast<size_t>(got));
  }
  close(fds[0]);

  int status = 0;
  bool reaped = false;
  // Output closed: the command normally exits at once, but it may linger until the deadline.
  while (!result.timed_out) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      reaped = true;
      break;
    }
    if (r < 0 && errno != EINTR) break;
    if (Clock::now() >= deadline) result.timed_out = true;
    std::this_thread::sleep_for(kPollInterval);
  }
  if (!reaped) {
    kill(-pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  g_inflight_pgid = 0;
  result.exit_code = result.timed_out ? -1 : decode_status(status);
  return result;
}

// --- Process -------------------------------------------------------------------------------

Process::~Process() {
  reset();
}

Process::Process(Process&& other) noexcept
    : pid_(other.pid_), exit_code_(other.exit_code_), log_(std::move(other.log_)) {
  other.pid_ = -1;
  other.exit_code_.reset();
}

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    reset();
    pid_ = other.pid_;
    exit_code_ = other.exit_code_;
    log_ = std::move(other.log_);
    other.pid_ = -1;
    other.exit_code_.reset();
  }
  return *this;
}

void Process::reset() {
  // SIGTERM first lets nginx take its workers down and sluice-dataplane release its ports.
  if (pid_ > 0 && !exit_code_) stop(SIGTERM, 3s);
  pid_ = -1;
  exit_code_.reset();
}

bool Process::running() {
  if (pid_ <= 0 || exit_code_) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_code_ = decode_status(status);
    return false;
  }
  if (r < 0 && errno == ECHILD) {
    exit_code_ = -1;
    return false;
  }
  return true;
}

bool Process::signal(int sig) {
  return running() && kill(pid_, sig) == 0;
}

std::optional<int> Process::wait(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (running()) {
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(kPollInterval);
  }
  return exit_code_;
}

int Process::stop(int sig, std::chrono::milliseconds timeout) {
  signal(sig);
  if (auto code = wait(timeout)) return *code;
  signal(SIGKILL);
  return wait(5s).value_or(-1);
}

std::string Process::output() const {
  return log_.empty() ? std::string() : read_file(log_);
}

bool Process::wait_for_output(std::string_view needle, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (output().find(needle) != std::string::npos) return true;
    // One more look after exit: the line may have been written just before.
    if (!running()) return output().find(needle) != std::string::npos;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(kPollInterval);
  }
}

std::map<std::string, PortCounters> parse_port_counters(std::string_view output) {
  std::map<std::string, PortCounters> ports;
  const size_t header = output.rfind("rx_packets");
  if (header == std::string_view::npos) return ports;
  const size_t body = output.find('\n', header);
  if (body == std::string_view::npos) return ports;
  std::istringstream lines{std::string(output.substr(body + 1))};
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == ' ') continue;  // per-port drop lines
    std::istringstream fields(line);
    std::string name;
    unsigned id = 0;
    PortCounters c;
    fields >> name;
    if (name == "core") break;
    if (!(fields >> id >> c.rx_packets >> c.rx_bytes >> c.tx_packets >> c.tx_bytes)) break;
    ports[name] = c;
  }
  return ports;
}

// --- Topology ------------------------------------------------------------------------------

std::optional<std::string> Topology::unavailable_reason() {
  if (geteuid() != 0) return "end-to-end tests need root (network namespaces, veth, af_packet)";
  if (access(kScript, X_OK) != 0) return std::string("cannot execute ") + kScript;
  if (allowed_cpus().size() < 2) return "sluice-dataplane needs two CPUs (main and worker)";
  // A real namespace, named by the run-id convention so that sweep removes it if we die here.
  const std::string probe = "sl-" + std::to_string(getpid()) + "xprobe-lb";
  CommandResult r = run_command({"ip", "netns", "add", probe}, 10s);
  if (r.exit_code != 0) return "ip netns is unavailable: " + r.output;
  run_command({"ip", "netns", "del", probe}, 10s);
  return std::nullopt;
}

Topology::Topology(int backends, Layout layout) : backends_(backends) {
  static int runs_created = 0;
  install_cleanup_once();
  if (runs_created == 0) {
    CommandResult sweep = run_command({kScript, "sweep"}, 60s);
    if (sweep.exit_code != 0) {
      std::fprintf(stderr, "warning: %s failed:\n%s", script_command("sweep").c_str(),
                   sweep.output.c_str());
    } else if (!sweep.output.empty()) {
      std::fprintf(stderr, "%s", sweep.output.c_str());
    }
  }
  run_id_ = std::to_string(getpid()) + "x" + std::to_string(runs_created++);
  slot_ = register_run(run_id_);
  const std::string layout_name = layout == Layout::kLan ? "lan" : "wire";
  CommandResult r =
      run_command({kScript, "create", run_id_, std::to_string(backends), layout_name}, 60s);
  if (r.exit_code != 0) {
    run_command({kScript, "destroy", run_id_}, 60s);
    unregister_run(slot_);
    throw std::runtime_error(script_command("create", run_id_, std::to_string(backends)) +
                             " failed (exit " + std::to_string(r.exit_code) + "):\n" + r.output);
  }
  std::istringstream lines(r.output);
  for (std::string line; std::getline(lines, line);) {
    const size_t eq = line.find('=');
    if (eq != std::string::npos && eq > 0) env_[line.substr(0, eq)] = line.substr(eq + 1);
  }
  if (!env_.contains("RUN_DIR")) {
    run_command({kScript, "destroy", run_id_}, 60s);
    unregister_run(slot_);
    throw std::runtime_error(script_command("create", run_id_, std::to_string(backends)) +
                             " printed no RUN_DIR:\n" + r.output);
  }
  run_dir_ = env_["RUN_DIR"];
}

Topology::~Topology() {
  CommandResult r = run_command({kScript, "destroy", run_id_}, 60s);
  if (r.exit_code != 0) {
    std::fprintf(stderr, "warning: %s failed:\n%s", script_command("destroy", run_id_).c_str(),
                 r.output.c_str());
    return;  // stays registered: atexit tries again
  }
  unregister_run(slot_);
}

const std::string& Topology::env(const std::string& key) const {
  auto it = env_.find(key);
  if (it == env_.end()) throw std::runtime_error("topology has no " + key);
  return it->second;
}

const std::string& Topology::backend_ns(int i) const {
  return env("BACKEND_NS_" + std::to_string(i));
}
const std::string& Topology::backend_ip(int i) const {
  return env("BACKEND_IP_" + std::to_string(i));
}
const std::string& Topology::backend_ip6(int i) const {
  return env("BACKEND_IP6_" + std::to_string(i));
}
const std::string& Topology::lb_backend_if(int i) const {
  return env("LB_BACKEND_IF_" + std::to_string(i));
}

CommandResult Topology::run_in(const std::string& ns, const std::string& shell_command,
                               std::chrono::milliseconds timeout) const {
  return run_command({"ip", "netns", "exec", ns, "sh", "-c", shell_command}, timeout);
}

Process Topology::spawn_in(const std::string& ns, const std::vector<std::string>& argv,
                           const std::string& log_name) {
  std::vector<std::string> full{"ip", "netns", "exec", ns};
  full.insert(full.end(), argv.begin(), argv.end());
  std::vector<char*> args = c_argv(full);
  const pid_t parent = getpid();
  const std::filesystem::path log = run_dir_ / (log_name + ".log");
  int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot open " + log.string() + ": " + strerror(errno));
  pid_t pid = fork();
  if (pid < 0) {
    close(fd);
    throw std::runtime_error("fork: " + std::string(strerror(errno)));
  }
  if (pid == 0) exec_child(args.data(), fd, parent);
  setpgid(pid, pid);
  close(fd);
  // `ip netns exec` replaces itself with the command, so pid is the command's own.
  return Process(pid, log);
}

std::filesystem::path Topology::web_root(int backend) const {
  return run_dir_ / ("nginx-be" + std::to_string(backend)) / "www";
}

Process Topology::start_nginx(int backend) {
  const std::string name = "nginx-be" + std::to_string(backend);
  const std::filesystem::path dir = run_dir_ / name;
  std::filesystem::create_directories(web_root(backend));
  std::filesystem::create_directories(dir / "tmp");
  write_file(web_root(backend) / "index.html", "backend-" + std::to_string(backend) + "\n");
  std::string conf = R"(daemon off;
master_process on;
worker_processes 1;
pid @DIR@/nginx.pid;
error_log stderr notice;
events { worker_connections 256; }
http {
  access_log off;
  default_type application/octet-stream;
  sendfile on;
  client_body_temp_path @DIR@/tmp/body;
  proxy_temp_path @DIR@/tmp/proxy;
  fastcgi_temp_path @DIR@/tmp/fastcgi;
  uwsgi_temp_path @DIR@/tmp/uwsgi;
  scgi_temp_path @DIR@/tmp/scgi;
  server {
    listen 80;
    listen [::]:80;
    root @ROOT@;
  }
}
)";
  replace_all(conf, "@DIR@", dir.string());
  replace_all(conf, "@ROOT@", web_root(backend).string());
  write_file(dir / "nginx.conf", conf);
  const std::string d = dir.string();
  Process nginx = spawn_in(backend_ns(backend), {"nginx", "-p", d, "-c", d + "/nginx.conf"}, name);
  // Answering on loopback shows it is up without involving the dataplane.
  const auto deadline = Clock::now() + 10s;
  for (int attempt = 0; attempt < 100 && Clock::now() < deadline; ++attempt) {
    if (!nginx.running()) break;
    CommandResult r = run_in(backend_ns(backend), "curl -sf --max-time 1 http://127.0.0.1/", 3s);
    if (r.exit_code == 0) return nginx;
    std::this_thread::sleep_for(100ms);
  }
  throw std::runtime_error("nginx in " + backend_ns(backend) + " did not start:\n" +
                           nginx.output());
}

Process Topology::start_dataplane(const DataplaneOptions& options) {
  const std::string instance = env("DPDK_INSTANCE") + "-dp" + std::to_string(dataplanes_started_++);
  return launch_dataplane(
      {"-p", "client=net_af_packet0,iface=" + lb_client_if(), "-p",
       "backend=net_af_packet1,iface=" + lb_backend_if(0), "--hugepages", "off"},
      instance, "sluice-dataplane: wire", options);
}

Process Topology::start_dataplane_config(const std::string& yaml, const std::string& start_line,
                                         const DataplaneOptions& options) {
  const std::string instance = env("DPDK_INSTANCE") + "-dp" + std::to_string(dataplanes_started_++);
  last_config_path_ = run_dir() / (instance + ".yaml");
  std::ofstream(last_config_path_) << yaml;
  return launch_dataplane({"--config", last_config_path_.string()}, instance, start_line, options);
}

Process Topology::launch_dataplane(std::vector<std::string> args, const std::string& instance,
                                   const std::string& start_line, const DataplaneOptions& options) {
  const std::vector<unsigned> cpus = allowed_cpus();
  if (cpus.size() < 2 && (!options.main_core || !options.worker_core)) {
    throw std::runtime_error("sluice-dataplane needs two CPUs (main and worker)");
  }
  const unsigned main_core = options.main_core.value_or(cpus[0]);
  const unsigned worker_core = options.worker_core.value_or(cpus[1]);
  const char* binary = std::getenv("SLUICE_DATAPLANE");
  std::vector<std::string> argv{binary != nullptr && *binary != '\0' ? binary
                                                                     : SLUICE_DATAPLANE_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), {"--instance", instance, "--main-core", std::to_string(main_core),
                           "--workers", std::to_string(worker_core)});
  argv.insert(argv.end(), options.extra_args.begin(), options.extra_args.end());
  Process dp = spawn_in(lb_ns(), argv, instance);
  if (!dp.wait_for_output(start_line, options.start_timeout)) {
    const bool exited = !dp.running();
    dp.stop(SIGKILL, 5s);
    throw std::runtime_error(std::string("sluice-dataplane ") +
                             (exited ? "exited before starting" : "did not start in time") + ":\n" +
                             dp.output());
  }
  return dp;
}

}  // namespace sluice::e2e
