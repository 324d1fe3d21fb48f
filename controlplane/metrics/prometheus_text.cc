#include "prometheus_text.h"

#include <fmt/format.h>

#include <cmath>

namespace sluice::controlplane {
namespace {

std::string escape(const std::string& v, bool quotes) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quotes) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{}", v);
}

}  // namespace

PrometheusText::Family& PrometheusText::family(const std::string& name, const std::string& help,
                                               const char* type) {
  auto [it, inserted] = families_.try_emplace(name);
  if (inserted) {
    order_.push_back(name);
    it->second.help = help;
    it->second.type = type;
  }
  return it->second;
}

void PrometheusText::sample(std::string& out, const std::string& name, const Labels& labels,
                            double value) {
  out += name;
  if (!labels.empty()) {
    out += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i != 0) out += ',';
      out += labels[i].first + "=\"" + escape(labels[i].second, true) + '"';
    }
    out += '}';
  }
  out += ' ' + number(value) + '\n';
}

void PrometheusText::counter(const std::string& name, const std::string& help, const Labels& labels,
                             double value) {
  sample(family(name, help, "counter").samples, name, labels, value);
}

void PrometheusText::gauge(const std::string& name, const std::string& help, const Labels& labels,
                           double value) {
  sample(family(name, help, "gauge").samples, name, labels, value);
}

void PrometheusText::histogram(const std::string& name, const std::string& help,
                               const Labels& labels, std::span<const double> bounds,
                               std::span<const uint64_t> counts, double sum) {
  std::string& out = family(name, help, "histogram").samples;
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds.size() && i < counts.size(); ++i) {
    cumulative += counts[i];
    Labels with_le = labels;
    with_le.emplace_back("le", i < bounds.size() ? number(bounds[i]) : "+Inf");
    sample(out, name + "_bucket", with_le, static_cast<double>(cumulative));
  }
  sample(out, name + "_sum", labels, sum);
  sample(out, name + "_count", labels, static_cast<double>(cumulative));
}

std::string PrometheusText::take() {
  std::string out;
  for (const std::string& name : order_) {
    const Family& f = families_[name];
    out += "# HELP " + name + ' ' + escape(f.help, false) + '\n';
    out += "# TYPE " + name + ' ' + f.type + '\n';
    out += f.samples;
  }
  order_.clear();
  families_.clear();
  return out;
}

}  // namespace sluice::controlplane
