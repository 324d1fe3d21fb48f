// Prometheus text exposition (format 0.0.4). Samples are grouped by metric family whatever order
// they are added in, each family with one HELP and one TYPE line; label values are escaped.
// The control plane reads its counters from the dataplane at scrape time, so it needs a writer
// rather than a registry of live metric objects.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace sluice::controlplane {

using Labels = std::vector<std::pair<std::string, std::string>>;

class PrometheusText {
 public:
  void counter(const std::string& name, const std::string& help, const Labels& labels,
               double value);
  void gauge(const std::string& name, const std::string& help, const Labels& labels, double value);
  // `counts` has one more entry than `bounds`: the observations above the last bound.
  void histogram(const std::string& name, const std::string& help, const Labels& labels,
                 std::span<const double> bounds, std::span<const uint64_t> counts, double sum);

  std::string take();

 private:
  struct Family {
    std::string help, type, samples;
  };
  Family& family(const std::string& name, const std::string& help, const char* type);
  static void sample(std::string& out, const std::string& name, const Labels& labels, double value);

  std::vector<std::string> order_;
  std::map<std::string, Family> families_;
};

}  // namespace sluice::controlplane
