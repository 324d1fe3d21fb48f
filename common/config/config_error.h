// The one error type of configuration parsing and checking, shared by the dataplane and the
// control plane. Messages name the source, the line where known, and the key.
#pragma once

#include <stdexcept>

namespace sluice {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace sluice
