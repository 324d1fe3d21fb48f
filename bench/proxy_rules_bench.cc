// The cost of one rule match with 10, 1,000 and 10,000 rules of the usual kind (a host, a path
// prefix "/svcN/*", on some rules a method or a header), for a request that hits the last rule
// and one that hits none; once with every rule on the same two hosts and once with a host of its
// own per rule. Prints how long each matcher took to build, and ends with the 10,000-rule match
// cost relative to 10 rules.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "rule_matcher.h"

namespace sluice::proxy {
namespace {

constexpr int kSizes[] = {10, 1000, 10000};

bool has_method(int i) {
  return i % 5 == 0;
}
bool has_header(int i) {
  return i % 7 == 0;
}

std::string own_host(int i) {
  return "svc" + std::to_string(i) + ".example.com";
}

// `distinct`: each rule's host is its own exact name instead of the two every rule shares.
Listener make_listener(int n, bool distinct) {
  Listener l;
  l.name = "bench";
  for (int i = 0; i < n; ++i) {
    Rule r;
    r.name = "svc" + std::to_string(i);
    r.priority = static_cast<uint32_t>(i + 1);
    Condition host;
    host.field = ConditionField::kHostHeader;
    if (distinct) {
      host.values = {{own_host(i)}};
    } else {
      host.values = {{"api.example.com"}, {"*.api.example.com"}};
    }
    Condition path;
    path.field = ConditionField::kPathPattern;
    path.values = {{"/svc" + std::to_string(i) + "/*"}};
    r.conditions = {host, path};
    if (has_method(i)) {
      Condition method;
      method.field = ConditionField::kMethod;
      method.values = {{"GET"}, {"HEAD"}};
      r.conditions.push_back(method);
    }
    if (has_header(i)) {
      Condition header;
      header.field = ConditionField::kHttpHeader;
      header.header_name = "X-Tenant";
      header.values = {{"tenant-" + std::to_string(i % 100) + "*"}};
      r.conditions.push_back(header);
    }
    l.rules.push_back(std::move(r));
  }
  return l;
}

std::string kind(bool distinct) {
  return distinct ? "distinct-host" : "shared-host";
}

// Seconds each matcher took to build, by "<n> <kind>", in the order built.
std::vector<std::pair<std::string, double>>& build_times() {
  static std::vector<std::pair<std::string, double>> times;
  return times;
}

const RuleMatcher& matcher(int n, bool distinct) {
  static std::map<std::pair<int, bool>, std::unique_ptr<RuleMatcher>> built;
  auto& m = built[{n, distinct}];
  if (!m) {
    const Listener l = make_listener(n, distinct);
    const auto start = std::chrono::steady_clock::now();
    m = std::make_unique<RuleMatcher>(l);
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    build_times().emplace_back(std::to_string(n) + " " + kind(distinct), took.count());
    std::fprintf(stderr, "build %d %s rules: %.3f s\n", n, kind(distinct).c_str(), took.count());
  }
  return *m;
}

struct Request {
  std::string host;
  std::string path;
  std::string tenant;
  std::vector<http::Header> headers;
  MatchInput input;
};

// A browser-like request; `target` is the rule it should hit, or -1 for none. With `distinct`
// hosts a miss still names rule 0's host, so only its path fails.
std::unique_ptr<Request> make_request(int target, bool distinct) {
  auto r = std::make_unique<Request>();
  r->host = distinct ? own_host(std::max(target, 0)) + ":443" : "eu.api.example.com:443";
  r->path = target >= 0 ? "/svc" + std::to_string(target) + "/orders/42" : "/nothing/here";
  r->tenant = "tenant-" + std::to_string(target >= 0 ? target % 100 : 0) + "-eu";
  r->headers = {{"Host", r->host},
                {"User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0"},
                {"Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
                {"Accept-Language", "en-US,en;q=0.5"},
                {"Accept-Encoding", "gzip, deflate, br"},
                {"Cookie", "session=0123456789abcdef; theme=dark"},
                {"X-Tenant", r->tenant}};
  r->input = MatchInput{"GET",      r->host,
                        r->path,    "page=2&sort=desc",
                        r->headers, parse_ip_address("198.51.100.7").value()};
  return r;
}

void run(benchmark::State& state, int n, bool hit, bool distinct) {
  const RuleMatcher& m = matcher(n, distinct);
  const auto request = make_request(hit ? n - 1 : -1, distinct);
  MatchScratch scratch;
  const int expected = hit ? n - 1 : -1;
  if (m.match(request->input, scratch) != expected) {
    state.SkipWithError("the request did not pick the expected rule");
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(m.match(request->input, scratch));
  state.counters["rules"] = n;
  state.counters["patterns"] = static_cast<double>(m.pattern_count());
}

// Keeps each run's CPU time per match by name, for the ratio printed at the end (the CPU
// time, since the machine may be shared).
class Reporter : public benchmark::ConsoleReporter {
 public:
  using ConsoleReporter::ConsoleReporter;
  std::map<std::string, double> ns;

  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.run_type == Run::RT_Iteration && run.iterations > 0 && !run.error_occurred)
        ns[run.benchmark_name()] = run.cpu_accumulated_time * 1e9 / run.iterations;
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

std::string name(int n, bool hit, bool distinct) {
  return "match/" + kind(distinct) + "/" + (hit ? "hit_last" : "miss") +
         "/rules:" + std::to_string(n);
}

}  // namespace
}  // namespace sluice::proxy

int main(int argc, char** argv) {
  using namespace sluice::proxy;
  for (bool distinct : {false, true}) {
    for (bool hit : {true, false}) {
      for (int n : kSizes) {
        benchmark::RegisterBenchmark(
            name(n, hit, distinct).c_str(),
            [n, hit, distinct](benchmark::State& s) { run(s, n, hit, distinct); });
      }
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  Reporter reporter(isatty(STDOUT_FILENO) ? Reporter::OO_ColorTabular : Reporter::OO_Tabular);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  for (const auto& [what, seconds] : build_times())
    std::printf("build %s rules: %.3f s\n", what.c_str(), seconds);
  // The worst of the four cases' ratios.
  double worst = 0;
  for (bool distinct : {false, true}) {
    for (bool hit : {true, false}) {
      const auto small = reporter.ns.find(name(10, hit, distinct));
      const auto large = reporter.ns.find(name(10000, hit, distinct));
      if (small == reporter.ns.end() || large == reporter.ns.end()) continue;
      const double ratio = large->second / small->second;
      worst = std::max(worst, ratio);
      std::printf("%s, %s: %.1f ns with 10 rules, %.1f ns with 10000 (%.2fx)\n",
                  kind(distinct).c_str(), hit ? "hit last" : "miss", small->second, large->second,
                  ratio);
    }
  }
  if (worst > 0) std::printf("rules 10000 vs 10: %.2fx\n", worst);
  return 0;
}
