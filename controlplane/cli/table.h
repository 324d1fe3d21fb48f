// Plain-text tables for sluicectl: columns padded to their widest cell, numbers right-aligned.
#pragma once

#include <string>
#include <vector>

namespace sluice::controlplane {

class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace sluice::controlplane
