// The compiled set of a topic's filter policies must pass exactly the subscriptions that
// matches() passes policy by policy: random policies over every operator against random messages,
// and targeted cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "sns_filter_policy.h"
#include "sns_filter_set.h"

namespace sluice::api::sns {
namespace {

using nlohmann::json;

std::shared_ptr<const FilterPolicy> policy(const std::string& text,
                                           Scope scope = Scope::kMessageAttributes) {
  std::string error;
  auto p = parse_filter_policy(text, scope, &error);
  EXPECT_TRUE(p.has_value()) << text << ": " << error;
  if (!p) return nullptr;
  return std::make_shared<const FilterPolicy>(std::move(*p));
}

// The positions matches() passes, one policy at a time.
std::vector<size_t> one_by_one(const std::vector<FilterSet::Member>& members,
                               const MessageAttributes& attributes, const std::string& body) {
  std::vector<size_t> out;
  for (const FilterSet::Member& m : members) {
    const bool pass =
        !m.policy || (m.policy->scope() == Scope::kMessageBody ? matches(*m.policy, body)
                                                               : matches(*m.policy, attributes));
    if (pass) out.push_back(m.position);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<size_t> by_set(const FilterSet& set, const MessageAttributes& attributes,
                           const std::string& body) {
  std::vector<size_t> out;
  set.match(attributes, body, &out);
  return out;
}

class Random {
 public:
  explicit Random(uint32_t seed) : rng_(seed) {}

  size_t below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  bool chance(int percent) { return below(100) < static_cast<size_t>(percent); }
  template <typename T>
  const T& pick(const std::vector<T>& v) {
    return v[below(v.size())];
  }

  json string() {
    static const std::vector<std::string> kStrings = {
        "x",    "xy",    "yx",          "XY",          "abc",           "ABC",         "aBc",
        "",     "a.b",   "10.0.0.1",    "10.1.2.3",    "::1",           "2001:db8::5", "ab*",
        "x\ny", "\\x41", "caf\xc3\xa9", "CAF\xc3\xa9", "192.168.1.200", "x$",          "^x",
        "t1",   "t10",   "t100"};
    return pick(kStrings);
  }
  json number() {
    static const std::vector<double> kNumbers = {0, 1, 2.5, -3, 10, 100, 1e9, -1e9, 0.00001, 7};
    return pick(kNumbers);
  }
  json scalar() {
    switch (below(6)) {
      case 0:
        return number();
      case 1:
        return chance(50) ? json(true) : json(nullptr);
      default:
        return string();
    }
  }

  json matcher() {
    switch (below(16)) {
      case 0:
        return number();
      case 1:
        return chance(50) ? json(false) : json(nullptr);
      case 2:
        return {{"prefix", nonempty()}};
      case 3:
        return {{"suffix", nonempty()}};
      case 4:
        return {{"equals-ignore-case", string()}};
      case 5: {
        json list = json::array();
        for (size_t i = 0, n = 1 + below(3); i < n; ++i)
          list.push_back(chance(60) ? string() : number());
        return {{"anything-but", chance(30) ? list[0] : list}};
      }
      case 6:
        return {{"anything-but", {{chance(50) ? "prefix" : "suffix", nonempty()}}}};
      case 7:
        return {{"numeric", numeric()}};
      case 8:
        return {{"exists", chance(50)}};
      case 9: {
        static const std::vector<std::string> kCidrs = {
            "10.0.0.0/8", "10.0.0.0/24", "192.168.1.128/25", "::/0", "2001:db8::/32", "0.0.0.0/0"};
        return {{"cidr", pick(kCidrs)}};
      }
      default:
        return string();
    }
  }

  json policy(bool body, int depth = 0) {
    json out = json::object();
    for (size_t i = 0, n = 1 + below(3); i < n; ++i) {
      json list = json::array();
      for (size_t j = 0, m = 1 + below(3); j < m; ++j) list.push_back(matcher());
      const std::string key = pick(keys_);
      out[key] = body && chance(30) ? json{{pick(keys_), list}} : list;
    }
    if (depth == 0 && chance(25)) {
      json group = json::array();
      for (size_t i = 0, n = 2 + below(2); i < n; ++i) group.push_back(policy(body, 1));
      out["$or"] = group;
    }
    return out;
  }

  MessageAttributes attributes() {
    MessageAttributes out;
    for (const std::string& key : keys_) {
      if (chance(30)) continue;
      switch (below(6)) {
        case 0:
          out[key] = {"Number", number().dump()};
          break;
        case 1: {
          json array = json::array();
          for (size_t i = 0, n = below(4); i < n; ++i) array.push_back(scalar());
          out[key] = {"String.Array", array.dump()};
          break;
        }
        case 2:
          out[key] = {chance(50) ? "Binary" : "Number", chance(50) ? "abc" : "12"};
          break;
        default:
          out[key] = {"String", string().get<std::string>()};
          break;
      }
    }
    return out;
  }

  json body_value(int depth) {
    switch (below(depth < 2 ? 6 : 4)) {
      case 0: {
        json array = json::array();
        for (size_t i = 0, n = below(4); i < n; ++i)
          array.push_back(depth < 2 && chance(20) ? body_object(depth + 1) : scalar());
        return array;
      }
      case 4:
      case 5:
        return body_object(depth + 1);
      default:
        return scalar();
    }
  }

  json body_object(int depth) {
    json out = json::object();
    for (const std::string& key : keys_)
      if (chance(60)) out[key] = body_value(depth);
    return out;
  }

 private:
  json nonempty() {
    json s = string();
    return s.get<std::string>().empty() ? json("x") : s;
  }
  json numeric() {
    switch (below(5)) {
      case 0:
        return {"=", number()};
      case 1:
        return {chance(50) ? ">" : ">=", number()};
      case 2:
        return {chance(50) ? "<" : "<=", number()};
      default: {
        double a = number().get<double>(), b = number().get<double>();
        if (a == b) b = a + 1;
        return {chance(50) ? ">" : ">=", std::min(a, b), chance(50) ? "<" : "<=", std::max(a, b)};
      }
    }
  }

  std::mt19937 rng_;
  std::vector<std::string> keys_ = {"a", "b", "c", "$or"};
};

TEST(SnsFilterSet, RandomPoliciesMatchAsOneByOne) {
  size_t compared = 0, passed = 0;
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    Random r(seed);
    std::vector<FilterSet::Member> members;
    for (size_t i = 0; i < 60; ++i) {
      if (r.chance(5)) {
        members.push_back({i, nullptr});
        continue;
      }
      const bool body = r.chance(35);
      std::string error;
      auto p = parse_filter_policy(r.policy(body).dump(),
                                   body ? Scope::kMessageBody : Scope::kMessageAttributes, &error);
      if (p) members.push_back({i, std::make_shared<const FilterPolicy>(std::move(*p))});
    }
    std::shuffle(members.begin(), members.end(), std::mt19937(seed));
    const FilterSet set(members);
    ASSERT_EQ(set.size(), members.size());
    for (int message = 0; message < 150; ++message) {
      const MessageAttributes attributes = r.attributes();
      const std::string body = r.chance(10) ? "not json" : r.body_object(0).dump();
      const auto expected = one_by_one(members, attributes, body);
      ASSERT_EQ(by_set(set, attributes, body), expected)
          << "seed " << seed << " message " << message << " body " << body;
      ++compared;
      passed += expected.size();
    }
  }
  EXPECT_EQ(compared, 40u * 150u);
  EXPECT_GT(passed, compared);  // the random messages do pass policies
}

TEST(SnsFilterSet, EveryOperatorOnAttributes) {
  const std::vector<std::string> texts = {
      R"({"k": ["Red"]})",
      R"({"k": [{"prefix": "Re"}]})",
      R"({"k": [{"suffix": "ed"}]})",
      R"({"k": [{"equals-ignore-case": "rED"}]})",
      R"({"k": [{"anything-but": ["Red", "Blue"]}]})",
      R"({"k": [{"anything-but": {"prefix": "R"}}]})",
      R"({"k": [{"anything-but": {"suffix": "d"}}]})",
      R"({"n": [{"numeric": [">", 0, "<=", 10]}]})",
      R"({"n": [5]})",
      R"({"k": [{"exists": true}]})",
      R"({"k": [{"exists": false}]})",
      R"({"ip": [{"cidr": "10.0.0.0/24"}]})",
      R"({"k": ["Blue"], "n": [{"numeric": ["<", 0]}]})",
  };
  std::vector<FilterSet::Member> members;
  for (size_t i = 0; i < texts.size(); ++i) members.push_back({i, policy(texts[i])});
  const FilterSet set(members);

  auto run = [&](const MessageAttributes& a) {
    const auto got = by_set(set, a, "");
    EXPECT_EQ(got, one_by_one(members, a, ""));
    return got;
  };
  EXPECT_EQ(run({{"k", {"String", "Red"}}}), (std::vector<size_t>{0, 1, 2, 3, 9}));
  EXPECT_EQ(run({{"k", {"String", "RED"}}}), (std::vector<size_t>{3, 4, 6, 9}));
  EXPECT_EQ(run({{"k", {"String", "Blue"}}, {"n", {"Number", "-1.5"}}}),
            (std::vector<size_t>{5, 6, 9, 12}));
  EXPECT_EQ(run({{"n", {"Number", "5"}}}), (std::vector<size_t>{7, 8, 10}));
  EXPECT_EQ(run({{"n", {"Number.float", "10.00001"}}}), (std::vector<size_t>{10}));
  // Numbers compare with five decimals: 10.000001 is 10.
  EXPECT_EQ(run({{"n", {"Number", "10.000001"}}}), (std::vector<size_t>{7, 10}));
  EXPECT_EQ(run({{"n", {"String", "5"}}}), (std::vector<size_t>{10}));  // a String is no number
  EXPECT_EQ(run({{"ip", {"String", "10.0.0.255"}}}), (std::vector<size_t>{10, 11}));
  EXPECT_EQ(run({{"ip", {"String", "10.0.1.0"}}}), (std::vector<size_t>{10}));
  EXPECT_EQ(run({{"k", {"Binary", "Red"}}}), (std::vector<size_t>{10}));  // Binary is not there
  // String.Array: any element may satisfy a condition; anything-but needs one element outside.
  EXPECT_EQ(run({{"k", {"String.Array", R"(["Red", "Blue"])"}}}),
            (std::vector<size_t>{0, 1, 2, 3, 5, 6, 9}));
  EXPECT_EQ(run({{"k", {"String.Array", R"(["Red", "Red"])"}}}),
            (std::vector<size_t>{0, 1, 2, 3, 9}));
  EXPECT_EQ(run({{"k", {"String.Array", "[]"}}}), (std::vector<size_t>{9}));
  EXPECT_EQ(run({{"k", {"String.Array", "[true, 3]"}}}), (std::vector<size_t>{4, 9}));
}

TEST(SnsFilterSet, BodyScopeNestedKeysAndOr) {
  const std::vector<std::string> texts = {
      R"({"order": {"customer": {"tier": ["gold"]}}})",
      R"({"order": {"total": [{"numeric": [">=", 100]}]}, "$or": [{"region": [{"prefix": "eu-"}]}, {"vip": [true]}]})",
      R"({"order": {"customer": {"tier": [{"exists": false}]}}})",
      R"({"tags": [{"equals-ignore-case": "URGENT"}]})",
      R"({})",
  };
  std::vector<FilterSet::Member> members;
  for (size_t i = 0; i < texts.size(); ++i)
    members.push_back({i * 10, policy(texts[i], Scope::kMessageBody)});
  members.push_back({7, policy(R"({"region": ["eu-west-1"]})")});  // attribute scope
  members.push_back({3, nullptr});
  const FilterSet set(members);
  const MessageAttributes region = {{"region", {"String", "eu-west-1"}}};

  const std::string gold =
      R"({"order": {"customer": {"tier": "gold"}, "total": 150}, "vip": true})";
  EXPECT_EQ(by_set(set, region, gold), (std::vector<size_t>{0, 3, 7, 10, 40}));
  const std::string array =
      R"({"order": [{"customer": {"tier": "silver"}}, {"total": 99}], "region": "eu-north-1",
          "tags": ["a", "Urgent"]})";
  EXPECT_EQ(by_set(set, {}, array), (std::vector<size_t>{3, 30, 40}));
  EXPECT_EQ(by_set(set, {}, R"({"order": {"customer": {}}})"), (std::vector<size_t>{3, 20, 40}));
  // A body that is not a JSON object passes no body-scope policy, not even {}.
  EXPECT_EQ(by_set(set, region, "[1]"), (std::vector<size_t>{3, 7}));
  EXPECT_EQ(by_set(set, {}, "not json"), (std::vector<size_t>{3}));
  for (const std::string& body : {gold, array, std::string("{}")})
    EXPECT_EQ(by_set(set, region, body), one_by_one(members, region, body)) << body;
}

TEST(SnsFilterSet, LiteralsAreTakenAsThemselves) {
  // Characters that mean something to Hyperscan, NUL, and bytes outside ASCII.
  const std::vector<std::string> texts = {
      R"({"k": [{"prefix": ".*"}]})",
      R"({"k": [{"suffix": "$"}]})",
      R"j({"k": [{"equals-ignore-case": "A\\B(c)"}]})j",
      R"({"k": [{"prefix": "a\u0000b"}]})",
      R"({"k": [{"equals-ignore-case": "CAFÉ"}]})",
      R"({"k": [{"suffix": "\n"}]})",
      R"({"k": [{"equals-ignore-case": ""}]})",
  };
  std::vector<FilterSet::Member> members;
  for (size_t i = 0; i < texts.size(); ++i) members.push_back({i, policy(texts[i])});
  const FilterSet set(members);
  auto run = [&](std::string value) { return by_set(set, {{"k", {"String", value}}}, ""); };
  EXPECT_EQ(run(".*x"), (std::vector<size_t>{0}));
  EXPECT_EQ(run("abc"), (std::vector<size_t>{}));
  EXPECT_EQ(run("x$"), (std::vector<size_t>{1}));
  EXPECT_EQ(run("a\\b(C)"), (std::vector<size_t>{2}));
  EXPECT_EQ(run(std::string("a\0bc", 4)), (std::vector<size_t>{3}));
  EXPECT_EQ(run("cafÉ"), (std::vector<size_t>{4}));
  EXPECT_EQ(run("café"), (std::vector<size_t>{}));  // only ASCII letters fold
  EXPECT_EQ(run("x\n"), (std::vector<size_t>{5}));
  EXPECT_EQ(run("x\ny"), (std::vector<size_t>{}));
  EXPECT_EQ(run(""), (std::vector<size_t>{6}));
}

TEST(SnsFilterSet, SuffixFoundAtTheEndOnly) {
  // The suffix occurs earlier in the value too; only the occurrence at the end counts.
  const FilterSet set({{0, policy(R"({"k": [{"suffix": "ab"}]})")},
                       {1, policy(R"({"k": [{"anything-but": {"suffix": "ab"}}]})")}});
  EXPECT_EQ(by_set(set, {{"k", {"String", "abxab"}}}, ""), (std::vector<size_t>{0}));
  EXPECT_EQ(by_set(set, {{"k", {"String", "abxa"}}}, ""), (std::vector<size_t>{1}));
}

TEST(SnsFilterSet, EmptySetAndManySetsOnOneThread) {
  const FilterSet none;
  EXPECT_EQ(none.size(), 0u);
  EXPECT_TRUE(by_set(none, {{"k", {"String", "v"}}}, "").empty());
  // Sets of different sizes used in turn share the thread's scratch.
  std::vector<FilterSet> sets;
  for (size_t n : {1, 50, 3}) {
    std::vector<FilterSet::Member> members;
    for (size_t i = 0; i < n; ++i)
      members.push_back({i, policy(R"({"k": [{"prefix": "v)" + std::to_string(i) + R"("}]})")});
    sets.emplace_back(members);
  }
  for (int round = 0; round < 3; ++round) {
    EXPECT_EQ(by_set(sets[0], {{"k", {"String", "v0"}}}, ""), (std::vector<size_t>{0}));
    EXPECT_EQ(by_set(sets[1], {{"k", {"String", "v49x"}}}, ""), (std::vector<size_t>{4, 49}));
    EXPECT_EQ(by_set(sets[2], {{"k", {"String", "v1"}}}, ""), (std::vector<size_t>{1}));
  }
}

TEST(SnsFilterSet, ThreadsMatchAtOnce) {
  std::vector<FilterSet::Member> members;
  for (size_t i = 0; i < 200; ++i)
    members.push_back(
        {i, policy(R"({"k": [{"prefix": "t)" + std::to_string(i) + R"("}, {"suffix": "-)" +
                   std::to_string(i) + R"("}], "n": [{"numeric": [">=", )" + std::to_string(i) +
                   "]}]}")});
  const FilterSet set(members);
  std::vector<int> wrong(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        const MessageAttributes a = {{"k", {"String", "t" + std::to_string((i * 7 + t) % 200)}},
                                     {"n", {"Number", std::to_string(i % 300)}}};
        if (by_set(set, a, "") != one_by_one(members, a, "")) ++wrong[t];
      }
    });
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(wrong, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace sluice::api::sns
