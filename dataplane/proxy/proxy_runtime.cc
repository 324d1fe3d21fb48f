#include "proxy_runtime.h"

namespace sluice::proxy {

std::shared_ptr<const ProxyRuntime> build_runtime(ProxyConfig config, uint64_t generation) {
  auto runtime = std::make_shared<ProxyRuntime>();
  runtime->generation = generation;
  runtime->config = std::move(config);
  for (const Listener& listener : runtime->config.listeners)
    runtime->matchers.push_back(std::make_unique<RuleMatcher>(listener));
  const std::vector<TargetGroup>& groups = runtime->config.target_groups;
  for (size_t i = 0; i < groups.size(); ++i) runtime->group_index.emplace(groups[i].name, i);
  return runtime;
}

}  // namespace sluice::proxy
