// Real AWS clients, unmodified but for the endpoint, against sluice-dataplane's SQS API with
// SigV4 authentication on: pip's awscli v1 and boto3 (AWS JSON 1.0), Debian's awscli v2.9 and
// python3-boto3 (query protocol) and the JavaScript SDK v3 each run the scenario in
// tests/e2e/sqs_clients/ as a subprocess, bounded in time; the differential check compares the
// shapes of Sluice's replies with moto_server's. A test skips, saying why, only when its client is
// not installed (scripts/setup installs them all).
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sqs_server.h"
#include "topology.h"

#ifndef SLUICE_SOURCE_ROOT
#error "SLUICE_SOURCE_ROOT must name the source tree"
#endif

namespace sluice::e2e {
namespace {

const std::filesystem::path kScripts = SLUICE_SOURCE_ROOT "/tests/e2e/sqs_clients";
const std::filesystem::path kNodeDir = kScripts / "node";

// The command-line clients start a Python interpreter per call, so their runs take longest.
constexpr auto kCliTimeout = std::chrono::seconds(900);
constexpr auto kSdkTimeout = std::chrono::seconds(300);
constexpr auto kProbeTimeout = std::chrono::seconds(120);
constexpr auto kNpmTimeout = std::chrono::seconds(600);

std::string tail(const std::string& text, size_t n = 12000) {
  return text.size() <= n ? text : "...\n" + text.substr(text.size() - n);
}

// argv run under `env` with the test credentials and no user configuration.
std::vector<std::string> with_credentials(const std::vector<std::string>& argv) {
  std::vector<std::string> out = {
      "env",
      "-u",
      "AWS_PROFILE",
      "-u",
      "AWS_SESSION_TOKEN",
      std::string("AWS_ACCESS_KEY_ID=") + SqsServer::kAccessKeyId,
      std::string("AWS_SECRET_ACCESS_KEY=") + SqsServer::kSecretAccessKey,
      std::string("AWS_DEFAULT_REGION=") + SqsServer::kRegion,
      "AWS_CONFIG_FILE=/dev/null",
      "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
      "AWS_EC2_METADATA_DISABLED=true",
  };
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

// What a client probe printed: "protocol=json name=..." on success, the reason otherwise.
struct Probe {
  bool ok = false;
  std::string protocol;
  std::string text;
};

Probe probe(const std::vector<std::string>& argv) {
  CommandResult r = run_command(with_credentials(argv), kProbeTimeout);
  Probe p;
  p.text = r.output;
  if (r.exit_code != 0) return p;
  const size_t at = r.output.find("protocol=");
  if (at == std::string::npos) return p;
  p.protocol = r.output.substr(at + 9, r.output.find_first_of(" \n", at) - at - 9);
  p.ok = true;
  return p;
}

// The AWS JavaScript SDK in tests/e2e/sqs_clients/node/node_modules, installed with npm from the
// committed lock file when it is missing. Returns the reason when it cannot be had.
std::optional<std::string> node_sdk_unavailable() {
  CommandResult node = run_command(
      {"node", "-e", "process.exit(Number(process.versions.node.split('.')[0]) >= 20 ? 0 : 3)"},
      kProbeTimeout);
  if (node.exit_code == 3) return "the AWS SDK for JavaScript v3 needs node >= 20";
  if (node.exit_code != 0) return "node is not installed: " + node.output;
  if (std::filesystem::exists(kNodeDir / "node_modules/@aws-sdk/client-sqs/package.json")) {
    return std::nullopt;
  }
  CommandResult npm = run_command(
      {"npm", "ci", "--prefix", kNodeDir.string(), "--no-audit", "--no-fund", "--loglevel=error"},
      kNpmTimeout);
  if (npm.exit_code != 0) return "npm could not install @aws-sdk/client-sqs: " + tail(npm.output);
  return std::nullopt;
}

// Where scripts/setup puts pip's clients when python3 is Debian's own.
const std::filesystem::path kPipVenv = "/opt/sluice-pyclients";

std::string path_of(const std::string& command) {
  CommandResult r = run_command({"sh", "-c", "command -v " + command}, kProbeTimeout);
  return r.exit_code == 0 ? r.output.substr(0, r.output.find('\n')) : command;
}

// Probes each candidate with the command `probe_argv` makes of it; sets `chosen` to the first
// that speaks `protocol` and returns nullopt, or returns what each probe said.
template <typename MakeArgv>
std::optional<std::string> first_speaking(const std::vector<std::string>& candidates,
                                          const std::string& protocol, MakeArgv probe_argv,
                                          std::string& chosen) {
  std::string said;
  for (const auto& candidate : candidates) {
    Probe p = probe(probe_argv(candidate));
    if (p.ok && p.protocol == protocol) {
      chosen = candidate;
      return std::nullopt;
    }
    said += "\n" + candidate + ": " + tail(p.text, 1000);
  }
  return said;
}

class SqsClientsE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    try {
      server_ = std::make_unique<SqsServer>(SqsServerOptions{.authentication = true});
    } catch (const std::exception& e) {
      FAIL() << e.what();
    }
  }

  void TearDown() override {
    if (!server_) return;
    EXPECT_TRUE(server_->process().running()) << "sluice-dataplane died during the run:\n"
                                              << tail(server_->process().output());
    EXPECT_EQ(server_->process().stop(SIGTERM, std::chrono::seconds(10)), 0)
        << tail(server_->process().output());
    server_.reset();
  }

  std::string endpoint() const { return "http://" + server_->authority(); }

  // Runs a scenario; it must exit 0 having printed its PASSED line.
  void run_scenario(const std::vector<std::string>& argv, std::chrono::seconds timeout) {
    CommandResult r = run_command(with_credentials(argv), timeout);
    std::string command;
    for (const auto& a : argv) command += a + " ";
    EXPECT_FALSE(r.timed_out) << command << "ran past " << timeout.count() << " s:\n"
                              << tail(r.output);
    EXPECT_EQ(r.exit_code, 0) << command << "\n" << tail(r.output);
    EXPECT_NE(r.output.find("PASSED"), std::string::npos) << tail(r.output);
    if (HasFailure()) {
      ADD_FAILURE() << "sluice-dataplane's output:\n" << tail(server_->process().output(), 4000);
    }
  }

  std::unique_ptr<SqsServer> server_;
};

std::string script(const char* name) {
  return (kScripts / name).string();
}

// Probe commands for each kind of client.
std::vector<std::string> cli_probe(const std::string& aws) {
  return {"python3", script("scenario.py"), "--client", "cli", "--aws", aws, "--probe"};
}
std::vector<std::string> boto3_probe(const std::string& python) {
  return {python, script("scenario.py"), "--probe"};
}
std::vector<std::string> differential_probe(const std::string& python) {
  return {python, script("differential.py"), "--probe"};
}

TEST_F(SqsClientsE2E, PipAwsCliV1Json) {
  std::string aws;
  if (auto why = first_speaking({path_of("aws"), (kPipVenv / "bin/aws").string()}, "json",
                                cli_probe, aws)) {
    GTEST_SKIP() << "no awscli v1 (pip install awscli):" << *why;
  }
  run_scenario({"python3", script("scenario.py"), "--client", "cli", "--aws", aws, "--endpoint",
                endpoint(), "--auth"},
               kCliTimeout);
}

TEST_F(SqsClientsE2E, DebianAwsCliV2Query) {
  std::string aws;
  if (auto why = first_speaking({"/usr/bin/aws"}, "query", cli_probe, aws)) {
    GTEST_SKIP() << "no awscli v2 from Debian (apt-get install awscli):" << *why;
  }
  run_scenario({"python3", script("scenario.py"), "--client", "cli", "--aws", aws, "--endpoint",
                endpoint(), "--auth"},
               kCliTimeout);
}

TEST_F(SqsClientsE2E, PipBoto3Json) {
  std::string python;
  if (auto why = first_speaking({"python3", (kPipVenv / "bin/python3").string()}, "json",
                                boto3_probe, python)) {
    GTEST_SKIP() << "no boto3 speaking AWS JSON 1.0 (pip install boto3):" << *why;
  }
  run_scenario({python, script("scenario.py"), "--endpoint", endpoint(), "--auth"}, kSdkTimeout);
}

TEST_F(SqsClientsE2E, DebianBoto3Query) {
  std::string python;
  if (auto why = first_speaking({"/usr/bin/python3"}, "query", boto3_probe, python)) {
    GTEST_SKIP() << "no python3-boto3 from Debian (apt-get install python3-boto3):" << *why;
  }
  run_scenario({python, script("scenario.py"), "--endpoint", endpoint(), "--auth"}, kSdkTimeout);
}

TEST_F(SqsClientsE2E, JavaScriptSdkV3Json) {
  if (auto why = node_sdk_unavailable()) GTEST_SKIP() << *why;
  run_scenario({"node", (kNodeDir / "scenario.mjs").string(), "--endpoint", endpoint(), "--auth"},
               kSdkTimeout);
}

// The differential check runs boto3 against moto_server and Sluice: pip's boto3 compares the
// JSON replies, Debian's the XML ones.
TEST_F(SqsClientsE2E, MotoDifferentialJson) {
  std::string python;
  if (auto why = first_speaking({"python3", (kPipVenv / "bin/python3").string()}, "json",
                                differential_probe, python)) {
    GTEST_SKIP() << "no boto3 and moto_server (pip install boto3 'moto[server]'):" << *why;
  }
  run_scenario({python, script("differential.py"), "--endpoint", endpoint()}, kSdkTimeout);
}

TEST_F(SqsClientsE2E, MotoDifferentialQuery) {
  std::string python;
  if (auto why = first_speaking({"/usr/bin/python3"}, "query", differential_probe, python)) {
    GTEST_SKIP() << "no python3-boto3 from Debian, or no moto_server:" << *why;
  }
  run_scenario({python, script("differential.py"), "--endpoint", endpoint()}, kSdkTimeout);
}

}  // namespace
}  // namespace sluice::e2e
