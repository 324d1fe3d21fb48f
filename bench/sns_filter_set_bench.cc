// One publish's filtering against 1,000 subscriptions' policies: the topic's compiled FilterSet
// against matches() called policy by policy. Policies as in bench/sns-fanout: "exact" (subscription
// i: {"tenant": ["t<i>"]}) and "mixed" (exact, prefix, suffix, equals-ignore-case, numeric ranges,
// anything-but, exists in turn), in attribute scope and, for "mixed", in body scope too; message k
// (tenant=t<k>, code=c-<k>, price=<k>, k going round 0..999) passes exactly subscription k. Prints
// how long each set took to build and ends with the one-by-one cost over the set's.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sns_filter_policy.h"
#include "sns_filter_set.h"

namespace sluice::api::sns {
namespace {

using nlohmann::json;
constexpr int kPolicies = 1000;

json mixed_policy(int i) {
  const std::string n = std::to_string(i);
  switch (i % 7) {
    case 0:
      return {{"tenant", {"t" + n}}};
    case 1:
      return {{"tenant", {{{"prefix", "t" + n}}}}, {"price", {{{"numeric", {"=", i}}}}}};
    case 2:
      return {{"code", {{{"suffix", "-" + n}}}}};
    case 3:
      return {{"code", {{{"equals-ignore-case", "C-" + n}}}}};
    case 4:
      return {{"price", {{{"numeric", {">=", i, "<", i + 1}}}}}};
    case 5:
      return {{"tenant",
               {{{"anything-but", {"t" + std::to_string(i + 1), "t" + std::to_string(i + 2)}}}}},
              {"price", {i}}};
    default:
      return {{"region", {{{"exists", false}}}},
              {"code", {{{"prefix", "c-" + n}}}},
              {"price", {{{"numeric", {"<=", i}}}}}};
  }
}

struct Case {
  std::vector<FilterSet::Member> members;
  FilterSet set;
  std::vector<MessageAttributes> attributes;  // by k
  std::vector<std::string> bodies;            // by k
};

const Case& fixture(const std::string& policies, Scope scope) {
  static std::map<std::string, Case> cases;
  const std::string name = policies + (scope == Scope::kMessageBody ? "/body" : "/attributes");
  auto [it, added] = cases.try_emplace(name);
  Case& c = it->second;
  if (!added) return c;
  for (int i = 0; i < kPolicies; ++i) {
    const json doc =
        policies == "exact" ? json{{"tenant", {"t" + std::to_string(i)}}} : mixed_policy(i);
    std::string error;
    auto p = parse_filter_policy(doc.dump(), scope, &error);
    if (!p) throw std::runtime_error(error);
    c.members.push_back({static_cast<size_t>(i), std::make_shared<const FilterPolicy>(*p)});
    const std::string k = std::to_string(i);
    c.attributes.push_back({{"tenant", {"String", "t" + k}},
                            {"code", {"String", "c-" + k}},
                            {"price", {"Number", k}}});
    c.bodies.push_back(json{{"tenant", "t" + k}, {"code", "c-" + k}, {"price", i}}.dump());
  }
  const auto start = std::chrono::steady_clock::now();
  c.set = FilterSet(c.members);
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  std::fprintf(stderr, "built %s set of %d policies in %.1f ms\n", name.c_str(), kPolicies,
               took.count() * 1e3);
  return c;
}

void run(benchmark::State& state, const std::string& policies, Scope scope, bool compiled) {
  const Case& c = fixture(policies, scope);
  std::vector<size_t> chosen;
  size_t k = 0, passed = 0;
  for (auto _ : state) {
    chosen.clear();
    const MessageAttributes& a = c.attributes[k];
    const std::string& body = c.bodies[k];
    if (compiled) {
      c.set.match(a, body, &chosen);
    } else {
      for (const FilterSet::Member& m : c.members)
        if (scope == Scope::kMessageBody ? matches(*m.policy, body) : matches(*m.policy, a))
          chosen.push_back(m.position);
    }
    if (chosen.size() != 1 || chosen[0] != k) {
      state.SkipWithError("a message did not pass exactly its own subscription");
      break;
    }
    passed += chosen.size();
    k = (k + 1) % c.members.size();
  }
  benchmark::DoNotOptimize(passed);
}

// Keeps each run's CPU time per message by name, for the ratios printed at the end.
class Reporter : public benchmark::ConsoleReporter {
 public:
  using ConsoleReporter::ConsoleReporter;
  std::map<std::string, double> ns;

  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs)
      if (run.run_type == Run::RT_Iteration && run.iterations > 0 && !run.error_occurred)
        ns[run.benchmark_name()] = run.cpu_accumulated_time * 1e9 / run.iterations;
    ConsoleReporter::ReportRuns(runs);
  }
};

struct Variant {
  std::string policies;
  Scope scope;
  std::string label() const {
    return policies + (scope == Scope::kMessageBody ? "/body" : "/attributes");
  }
};

const std::vector<Variant> kVariants = {{"exact", Scope::kMessageAttributes},
                                        {"mixed", Scope::kMessageAttributes},
                                        {"mixed", Scope::kMessageBody}};

std::string name(const Variant& v, bool compiled) {
  return std::string(compiled ? "set/" : "one_by_one/") + v.label() + "/policies:1000";
}

}  // namespace
}  // namespace sluice::api::sns

int main(int argc, char** argv) {
  using namespace sluice::api::sns;
  for (const Variant& v : kVariants)
    for (bool compiled : {true, false})
      benchmark::RegisterBenchmark(name(v, compiled).c_str(), [v, compiled](benchmark::State& s) {
        run(s, v.policies, v.scope, compiled);
      });
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  Reporter reporter(isatty(STDOUT_FILENO) ? Reporter::OO_ColorTabular : Reporter::OO_Tabular);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  for (const Variant& v : kVariants) {
    const auto set = reporter.ns.find(name(v, true));
    const auto one = reporter.ns.find(name(v, false));
    if (set == reporter.ns.end() || one == reporter.ns.end()) continue;
    std::printf("%s, 1000 policies: %.0f ns one by one, %.0f ns as a set (%.1fx)\n",
                v.label().c_str(), one->second, set->second, one->second / set->second);
  }
  return 0;
}
