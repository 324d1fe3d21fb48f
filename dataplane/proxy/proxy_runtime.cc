#include "proxy_runtime.h"

#include <fmt/format.h>

namespace sluice::proxy {

std::shared_ptr<const ProxyRuntime> build_runtime(ProxyConfig config, uint64_t generation) {
  auto runtime = std::make_shared<ProxyRuntime>();
  runtime->generation = generation;
  runtime->config = std::move(config);
  for (const Listener& listener : runtime->config.listeners)
    runtime->matchers.push_back(std::make_unique<RuleMatcher>(listener));
  const std::vector<TargetGroup>& groups = runtime->config.target_groups;
  for (size_t i = 0; i < groups.size(); ++i) {
    runtime->group_index.emplace(groups[i].name, i);
    std::vector<std::string>& keys = runtime->target_keys.emplace_back();
    for (const Target& t : groups[i].targets) {
      const std::string a = format_ip_address(t.address);
      keys.push_back(t.address.is_v4() ? fmt::format("{}:{}", a, t.port)
                                       : fmt::format("[{}]:{}", a, t.port));
      runtime->all_target_keys.insert(keys.back());
    }
  }
  return runtime;
}

}  // namespace sluice::proxy
