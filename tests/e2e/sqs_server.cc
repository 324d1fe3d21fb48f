#include "sqs_server.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cctype>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#ifndef SLUICE_DATAPLANE_PATH
#error "SLUICE_DATAPLANE_PATH must name the sluice-dataplane binary"
#endif

namespace sluice::e2e {
namespace {

constexpr std::string_view kListening = "sluice-dataplane: SQS API listening on http://127.0.0.1:";

std::string config_yaml(const SqsServerOptions& options) {
  std::string yaml =
      "job: queues\n"
      "api:\n"
      "  listen: 127.0.0.1:0\n"
      "  region: " +
      std::string(SqsServer::kRegion) +
      "\n"
      "  account_id: \"" +
      SqsServer::kAccountId + "\"\n" +
      "  authentication: " + (options.authentication ? "on" : "off") +
      "\n"
      "  access_keys:\n"
      "    - {access_key_id: " +
      SqsServer::kAccessKeyId + ", secret_access_key: " + SqsServer::kSecretAccessKey + "}\n";
  if (options.request_timeout_s)
    yaml += "  request_timeout_s: " + std::to_string(*options.request_timeout_s) + "\n";
  if (options.idle_timeout_s)
    yaml += "  idle_timeout_s: " + std::to_string(*options.idle_timeout_s) + "\n";
  if (options.max_request_bytes) {
    yaml += "  max_request_bytes: " + std::to_string(*options.max_request_bytes) + "\n";
  }
  yaml +=
      "queues:\n"
      "  shards: 1\n";
  return yaml;
}

// The port of the listening line in `output`, once the character after it has been written too.
std::optional<uint16_t> listening_port(const std::string& output) {
  const size_t at = output.find(kListening);
  if (at == std::string::npos) return std::nullopt;
  const size_t digits = at + kListening.size();
  size_t end = digits;
  while (end < output.size() && std::isdigit(static_cast<unsigned char>(output[end]))) ++end;
  if (end == digits || end == output.size() || end - digits > 5) return std::nullopt;
  const unsigned long port = std::stoul(output.substr(digits, end - digits));
  if (port == 0 || port > 65535) return std::nullopt;
  return static_cast<uint16_t>(port);
}

// Forks and executes argv with stdout and stderr appended to `log`; the child gets its own
// process group and SIGTERM should this test process die first.
Process spawn(const std::vector<std::string>& argv, const std::filesystem::path& log) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot open " + log.string() + ": " + strerror(errno));
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    close(fd);
    throw std::runtime_error("fork: " + std::string(strerror(errno)));
  }
  if (pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);
    signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    execv(args[0], args.data());
    _exit(127);
  }
  setpgid(pid, pid);
  close(fd);
  return Process(pid, log);
}

}  // namespace

SqsServer::SqsServer(const SqsServerOptions& options) {
  char tmpl[] = "/tmp/sluice-sqs-e2e-XXXXXX";
  if (mkdtemp(tmpl) == nullptr)
    throw std::runtime_error("mkdtemp: " + std::string(strerror(errno)));
  dir_ = tmpl;
  const std::filesystem::path config = dir_ / "sluice.yaml";
  std::ofstream(config) << config_yaml(options);
  const char* env = std::getenv("SLUICE_DATAPLANE");
  const std::string binary = env != nullptr && *env != '\0' ? env : SLUICE_DATAPLANE_PATH;

  // The configuration's port 0 lets the kernel pick a free one, which the listening line reports.
  process_ = spawn({binary, "--config", config.string()}, dir_ / "server.log");
  if (process_.wait_for_output(kListening, options.start_timeout)) {
    for (int attempt = 0; attempt < 100; ++attempt) {
      if (auto port = listening_port(process_.output())) {
        port_ = *port;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  const bool exited = !process_.running();
  process_.stop(SIGKILL, std::chrono::seconds(5));
  const std::string failure = std::string("sluice-dataplane ") +
                              (exited ? "exited before listening" : "did not listen in time") +
                              ":\n" + process_.output();
  std::filesystem::remove_all(dir_);
  throw std::runtime_error(failure);
}

SqsServer::~SqsServer() {
  process_.stop(SIGTERM, std::chrono::seconds(5));
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string SqsServer::authority() const {
  return "127.0.0.1:" + std::to_string(port_);
}

std::string SqsServer::queue_url(const std::string& name) const {
  return "http://" + authority() + "/" + kAccountId + "/" + name;
}

}  // namespace sluice::e2e
