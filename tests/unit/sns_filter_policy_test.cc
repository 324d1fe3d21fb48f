#include "sns_filter_policy.h"

#include <string>

#include <gtest/gtest.h>

namespace sluice::api::sns {
namespace {

MessageAttributes attrs(std::initializer_list<std::pair<const std::string, MessageAttribute>> l) {
  return MessageAttributes(l);
}
MessageAttribute str(std::string v) {
  return {"String", std::move(v)};
}
MessageAttribute num(std::string v) {
  return {"Number", std::move(v)};
}
MessageAttribute arr(std::string v) {
  return {"String.Array", std::move(v)};
}

// Whether `policy` (which must parse) matches the attributes; a policy that does not parse fails
// the test.
bool attr_match(std::string_view policy, const MessageAttributes& a) {
  std::string error;
  const auto p = parse_filter_policy(policy, Scope::kMessageAttributes, &error);
  if (!p) {
    ADD_FAILURE() << policy << " did not parse: " << error;
    return false;
  }
  return matches(*p, a);
}

bool body_match(std::string_view policy, std::string_view body) {
  std::string error;
  const auto p = parse_filter_policy(policy, Scope::kMessageBody, &error);
  if (!p) {
    ADD_FAILURE() << policy << " did not parse: " << error;
    return false;
  }
  return matches(*p, body);
}

// The refusal's message without the common prefix, which every refusal must carry.
std::string refusal(std::string_view policy, Scope scope = Scope::kMessageAttributes) {
  std::string error;
  if (parse_filter_policy(policy, scope, &error)) {
    ADD_FAILURE() << policy << " parsed";
    return "";
  }
  const std::string prefix = "Invalid parameter: FilterPolicy: ";
  EXPECT_EQ(error.substr(0, prefix.size()), prefix) << error;
  return error.substr(std::min(prefix.size(), error.size()));
}

bool parses(std::string_view policy, Scope scope = Scope::kMessageAttributes) {
  std::string error;
  return parse_filter_policy(policy, scope, &error).has_value();
}

// A policy with one key holding `n` distinct string values.
std::string values(std::string_view key, int n) {
  std::string out = "\"" + std::string(key) + "\": [";
  for (int i = 0; i < n; ++i) out += (i ? ",\"v" : "\"v") + std::to_string(i) + "\"";
  return out + "]";
}

TEST(SnsFilterPolicy, ExactStringAsInAwsDocs) {
  const std::string p = R"({"customer_interests": ["rugby", "tennis"]})";
  EXPECT_TRUE(attr_match(p, attrs({{"customer_interests", str("rugby")}})));
  EXPECT_TRUE(attr_match(p, attrs({{"customer_interests", str("tennis")}})));
  EXPECT_TRUE(attr_match(p, attrs({{"customer_interests", arr(R"(["rugby", "tennis"])")}})));
  EXPECT_FALSE(attr_match(p, attrs({{"customer_interests", str("baseball")}})));
  EXPECT_FALSE(attr_match(p, attrs({{"customer_interests", arr(R"(["baseball"])")}})));
  EXPECT_FALSE(attr_match(p, attrs({{"customer_interests", str("Rugby")}})));
  EXPECT_FALSE(attr_match(p, attrs({{"other", str("rugby")}})));
  EXPECT_TRUE(body_match(p, R"({"customer_interests": "rugby"})"));
  EXPECT_TRUE(body_match(p, R"({"customer_interests": "tennis"})"));
  EXPECT_FALSE(body_match(p, R"({"customer_interests": "baseball"})"));
}

TEST(SnsFilterPolicy, ExactNumberComparesNumerically) {
  const std::string p = R"({"price_usd": [301.5]})";
  EXPECT_TRUE(attr_match(p, attrs({{"price_usd", num("301.5")}})));
  EXPECT_TRUE(attr_match(p, attrs({{"price_usd", num("3.015e2")}})));
  EXPECT_TRUE(attr_match(p, attrs({{"price_usd", {"Number.float", "301.50"}}})));
  // Five digits after the point: 301.500001 is 301.5, 301.50001 is not.
  EXPECT_TRUE(attr_match(p, attrs({{"price_usd", num("301.500001")}})));
  EXPECT_FALSE(attr_match(p, attrs({{"price_usd", num("301.50001")}})));
  EXPECT_FALSE(attr_match(p, attrs({{"price_usd", num("301.4")}})));
  // A string attribute is not a number, even when it reads like one.
  EXPECT_FALSE(attr_match(p, attrs({{"price_usd", str("301.5")}})));
  EXPECT_TRUE(attr_match(p, attrs({{"price_usd", arr("[1, 301.5]")}})));
  EXPECT_TRUE(body_match(p, R"({"price_usd": 3.015e2})"));
  EXPECT_FALSE(body_match(p, R"({"price_usd": "301.5"})"));
}

TEST(SnsFilterPolicy, Prefix) {
  const std::string p = R"({"customer_interests": [{"prefix": "bas"}]})";
  EXPECT_TRUE(attr_match(p, attrs({{"customer_interests", str("baseball")}})));
  EXPECT_TRUE(attr_match(p, attrs({{"customer_interests", str("basketball")}})));
  EXPECT_FALSE(attr_match(p, attrs({{"customer_interests", str("rugby")}})));
  EXPECT_FALSE(attr_match(p, attrs({{"customer_interests", str("ba")}})));
  EXPECT_TRUE(body_match(p, R"({"customer_interests": "basketball"})"));
  EXPECT_FALSE(body_match(p, R"({"customer_interests": "volleyball"})"));
}

TEST(SnsFilterPolicy, Suffix) {
  const std::string p = R"({"customer_interests": [{"suffix": "ball"}]})";
  EXPECT_TRUE(attr_match(p, attrs({{"customer_interests", str("baseball")}})));
  EXPECT_TRUE(attr_match(p, attrs({{"customer_interests", arr(R"(["rugby", "football"])")}})));
  EXPECT_FALSE(attr_match(p, attrs({{"customer_interests", str("rugby")}})));
  EXPECT_FALSE(attr_match(p, attrs({{"customer_interests", str("balls")}})));
  EXPECT_TRUE(body_match(p, R"({"customer_interests": "baseball"})"));
  EXPECT_FALSE(body_match(p, R"({"customer_interests": "tennis"})"));
}

TEST(SnsFilterPolicy, EqualsIgnoreCase) {
  const std::string p = R"({"customer_interests": [{"equals-ignore-case": "tEnnis"}]})";
  EXPECT_TRUE(attr_match(p, attrs({{"customer_interests", str("TENNIS")}})));
  EXPECT_TRUE(attr_match(p, attrs({{"customer_interests", str("Tennis")}})));
  EXPECT_TRUE(attr_match(p, attrs({{"customer_interests", str("tennis")}})));
  EXPECT_FALSE(attr_match(p, attrs({{"customer_interests", str("tennis2")}})));
  EXPECT_FALSE(attr_match(p, attrs({{"customer_interests", str("rugby")}})));
  EXPECT_TRUE(body_match(p, R"({"customer_interests": "TENNIS"})"));
  EXPECT_FALSE(body_match(p, R"({"customer_interests": "baseball"})"));
}

TEST(SnsFilterPolicy, AnythingButStrings) {
  const std::string p = R"({"customer_interests": [{"anything-but": ["rugby", "tennis"]}]})";
  EXPECT_TRUE(attr_match(p, attrs({{"customer_interests", str("baseball")}})));
  EXPECT_TRUE(attr_match(p, attrs({{"customer_interests", str("volleyball")}})));
  EXPECT_FALSE(attr_match(p, attrs({{"customer_interests", str("rugby")}})));
  EXPECT_FALSE(attr_match(p, attrs({{"customer_interests", str("tennis")}})));
  // An array matches when one of its elements is something else.
  EXPECT_TRUE(attr_match(p, attrs({{"customer_interests", arr(R"(["rugby", "baseball"])")}})));
  EXPECT_FALSE(attr_match(p, attrs({{"customer_interests", arr(R"(["rugby", "tennis"])")}})));
  // The key must be present.
  EXPECT_FALSE(attr_match(p, attrs({{"other", str("baseball")}})));
  EXPECT_TRUE(body_match(p, R"({"customer_interests": "baseball"})"));
  EXPECT_FALSE(body_match(p, R"({"customer_interests": "rugby"})"));

  const std::string single = R"({"event": [{"anything-but": "order_cancelled"}]})";
  EXPECT_TRUE(attr_match(single, attrs({{"event", str("order_placed")}})));
  EXPECT_FALSE(attr_match(single, attrs({{"event", str("order_cancelled")}})));
}

TEST(SnsFilterPolicy, AnythingButNumbersAsInAwsDocs) {
  const std::string p = R"({"price": [{"anything-but": [100, 500]}]})";
  EXPECT_TRUE(attr_match(p, attrs({{"price", num("101")}})));
  EXPECT_TRUE(attr_match(p, attrs({{"price", num("100.1")}})));
  EXPECT_FALSE(attr_match(p, attrs({{"price", num("100")}})));
  EXPECT_FALSE(attr_match(p, attrs({{"price", num("1e2")}})));
  EXPECT_TRUE(body_match(p, R"({"price": 101})"));
  EXPECT_TRUE(body_match(p, R"({"price": [100, 50]})"));
  EXPECT_FALSE(body_match(p, R"({"price": 100})"));
  EXPECT_FALSE(body_match(p, R"({"price": [100, 500]})"));
}

TEST(SnsFilterPolicy, AnythingButPrefixAndSuffix) {
  const std::string prefix = R"({"event": [{"anything-but": {"prefix": "order-"}}]})";
  EXPECT_TRUE(attr_match(prefix, attrs({{"event", str("data-entry")}})));
  EXPECT_FALSE(attr_match(prefix, attrs({{"event", str("order-cancelled")}})));
  EXPECT_TRUE(body_match(prefix, R"({"event": "data-entry"})"));
  EXPECT_FALSE(body_match(prefix, R"({"event": "order-placed"})"));

  const std::string suffix = R"({"event": [{"anything-but": {"suffix": "-cancelled"}}]})";
  EXPECT_TRUE(attr_match(suffix, attrs({{"event", str("order-placed")}})));
  EXPECT_FALSE(attr_match(suffix, attrs({{"event", str("order-cancelled")}})));
  EXPECT_TRUE(body_match(suffix, R"({"event": "order-placed"})"));
  EXPECT_FALSE(body_match(suffix, R"({"event": "order-cancelled"})"));
}

TEST(SnsFilterPolicy, NumericEquals) {
  const std::string p = R"({"price_usd": [{"numeric": ["=", 301.5]}]})";
  EXPECT_TRUE(attr_match(p, attrs({{"price_usd", num("301.5")}})));
  EXPECT_TRUE(attr_match(p, attrs({{"price_usd", num("3.015e2")}})));
  EXPECT_FALSE(attr_match(p, attrs({{"price_usd", num("301.6")}})));
  EXPECT_FALSE(attr_match(p, attrs({{"price_usd", str("301.5")}})));
  EXPECT_TRUE(body_match(p, R"({"price_usd": 301.5})"));
  EXPECT_TRUE(body_match(p, R"({"price_usd": 3.015e2})"));
  EXPECT_FALSE(body_match(p, R"({"price_usd": 301})"));
}

TEST(SnsFilterPolicy, NumericRanges) {
  const std::string negative = R"({"price_usd": [{"numeric": ["<", 0]}]})";
  EXPECT_TRUE(attr_match(negative, attrs({{"price_usd", num("-0.5")}})));
  EXPECT_FALSE(attr_match(negative, attrs({{"price_usd", num("0")}})));
  EXPECT_FALSE(attr_match(negative, attrs({{"price_usd", num("12")}})));
  // Beyond the policy range a value still compares on the right side of every bound.
  EXPECT_TRUE(attr_match(negative, attrs({{"price_usd", num("-5e12")}})));

  const std::string band = R"({"price_usd": [{"numeric": [">", 0, "<=", 150]}]})";
  EXPECT_FALSE(attr_match(band, attrs({{"price_usd", num("0")}})));
  EXPECT_TRUE(attr_match(band, attrs({{"price_usd", num("0.00001")}})));
  EXPECT_TRUE(attr_match(band, attrs({{"price_usd", num("150")}})));
  EXPECT_FALSE(attr_match(band, attrs({{"price_usd", num("150.00001")}})));
  EXPECT_FALSE(attr_match(band, attrs({{"price_usd", num("2e9")}})));
  EXPECT_TRUE(body_match(band, R"({"price_usd": 99.99})"));
  EXPECT_FALSE(body_match(band, R"({"price_usd": -1})"));
  EXPECT_FALSE(body_match(band, R"({"price_usd": "99"})"));

  const std::string at_least = R"({"n": [{"numeric": [">=", 10, "<", 20]}]})";
  EXPECT_TRUE(attr_match(at_least, attrs({{"n", num("10")}})));
  EXPECT_FALSE(attr_match(at_least, attrs({{"n", num("20")}})));
  EXPECT_FALSE(attr_match(at_least, attrs({{"n", num("9.99999")}})));

  const std::string at_most = R"({"n": [{"numeric": ["<=", 5]}]})";
  EXPECT_TRUE(attr_match(at_most, attrs({{"n", num("5")}})));
  EXPECT_FALSE(attr_match(at_most, attrs({{"n", num("5.00001")}})));
  // A Number attribute that is not a number matches no numeric condition.
  EXPECT_FALSE(attr_match(at_most, attrs({{"n", num("five")}})));
  EXPECT_FALSE(attr_match(at_most, attrs({{"n", num("nan")}})));
}

TEST(SnsFilterPolicy, ExistsAsInAwsDocs) {
  const std::string present = R"({"store": [{"exists": true}]})";
  EXPECT_TRUE(attr_match(present, attrs({{"store", str("example_corp")}})));
  EXPECT_TRUE(attr_match(present, attrs({{"store", num("1")}})));
  EXPECT_FALSE(attr_match(present, attrs({{"customer_interests", str("baseball")}})));
  EXPECT_FALSE(attr_match(present, attrs({})));
  // SNS ignores Binary attributes, so they do not exist for a policy.
  EXPECT_FALSE(attr_match(present, attrs({{"store", {"Binary", "AAEC"}}})));
  EXPECT_TRUE(body_match(present, R"({"store": "example_corp"})"));
  EXPECT_FALSE(body_match(present, R"({"customer_interests": "baseball"})"));

  const std::string absent = R"({"store": [{"exists": false}]})";
  EXPECT_FALSE(attr_match(absent, attrs({{"store", str("example_corp")}})));
  EXPECT_TRUE(attr_match(absent, attrs({{"customer_interests", str("baseball")}})));
  EXPECT_TRUE(attr_match(absent, attrs({{"store", {"Binary", "AAEC"}}})));
  EXPECT_TRUE(body_match(absent, R"({"customer_interests": "baseball"})"));
  EXPECT_FALSE(body_match(absent, R"({"store": "example_corp"})"));
}

TEST(SnsFilterPolicy, CidrIpv4) {
  const std::string p = R"({"source_ip": [{"cidr": "10.0.0.0/24"}]})";
  EXPECT_TRUE(attr_match(p, attrs({{"source_ip", str("10.0.0.0")}})));
  EXPECT_TRUE(attr_match(p, attrs({{"source_ip", str("10.0.0.255")}})));
  EXPECT_FALSE(attr_match(p, attrs({{"source_ip", str("10.0.1.0")}})));
  EXPECT_FALSE(attr_match(p, attrs({{"source_ip", str("not an address")}})));
  EXPECT_FALSE(attr_match(p, attrs({{"source_ip", str("::ffff:10.0.0.1")}})));
  EXPECT_TRUE(body_match(p, R"({"source_ip": "10.0.0.7"})"));
  EXPECT_FALSE(body_match(p, R"({"source_ip": "192.168.0.7"})"));

  const std::string odd = R"({"ip": [{"cidr": "10.0.0.0/23"}]})";
  EXPECT_TRUE(attr_match(odd, attrs({{"ip", str("10.0.1.200")}})));
  EXPECT_FALSE(attr_match(odd, attrs({{"ip", str("10.0.2.0")}})));

  const std::string any = R"({"ip": [{"cidr": "0.0.0.0/0"}]})";
  EXPECT_TRUE(attr_match(any, attrs({{"ip", str("203.0.113.9")}})));
  EXPECT_FALSE(attr_match(any, attrs({{"ip", str("2001:db8::1")}})));
}

TEST(SnsFilterPolicy, CidrIpv6) {
  const std::string p = R"({"source_ip": [{"cidr": "2001:db8::/32"}]})";
  EXPECT_TRUE(attr_match(p, attrs({{"source_ip", str("2001:db8:1::1")}})));
  EXPECT_TRUE(attr_match(p, attrs({{"source_ip", str("2001:0db8:ffff::")}})));
  EXPECT_FALSE(attr_match(p, attrs({{"source_ip", str("2001:db9::1")}})));
  EXPECT_FALSE(attr_match(p, attrs({{"source_ip", str("10.0.0.1")}})));
  EXPECT_TRUE(body_match(p, R"({"source_ip": "2001:db8::42"})"));
  EXPECT_FALSE(body_match(p, R"({"source_ip": "fe80::1"})"));
}

TEST(SnsFilterPolicy, AndAcrossKeysOrWithinListAsInAwsDocs) {
  const std::string p =
      R"({"customer_interests": ["rugby"], "price_usd": [{"numeric": [">", 100]}]})";
  EXPECT_TRUE(
      attr_match(p, attrs({{"customer_interests", str("rugby")}, {"price_usd", num("100.5")}})));
  EXPECT_FALSE(
      attr_match(p, attrs({{"customer_interests", str("rugby")}, {"price_usd", num("100")}})));
  EXPECT_FALSE(attr_match(p, attrs({{"customer_interests", str("rugby")}})));
  EXPECT_FALSE(
      attr_match(p, attrs({{"customer_interests", str("tennis")}, {"price_usd", num("500")}})));
  EXPECT_TRUE(body_match(p, R"({"customer_interests": "rugby", "price_usd": 120})"));
  EXPECT_FALSE(body_match(p, R"({"customer_interests": "rugby", "price_usd": 20})"));

  // A list mixes operators; any one of them is enough.
  const std::string mixed =
      R"({"k": ["exact", {"prefix": "pre"}, {"numeric": [">", 10]}, {"exists": false}]})";
  EXPECT_TRUE(attr_match(mixed, attrs({{"k", str("exact")}})));
  EXPECT_TRUE(attr_match(mixed, attrs({{"k", str("prefixed")}})));
  EXPECT_TRUE(attr_match(mixed, attrs({{"k", num("11")}})));
  EXPECT_TRUE(attr_match(mixed, attrs({})));
  EXPECT_FALSE(attr_match(mixed, attrs({{"k", str("other")}})));
  EXPECT_FALSE(attr_match(mixed, attrs({{"k", num("9")}})));
}

TEST(SnsFilterPolicy, StoreExampleFromAwsDocs) {
  const std::string p = R"({
    "store": ["example_corp"],
    "event": [{"anything-but": "order_cancelled"}],
    "customer_interests": ["rugby", "football", "baseball"],
    "price_usd": [{"numeric": [">=", 100]}]
  })";
  const MessageAttributes good = attrs({{"store", str("example_corp")},
                                        {"event", str("order_placed")},
                                        {"customer_interests", arr(R"(["soccer", "rugby"])")},
                                        {"price_usd", num("210.75")}});
  EXPECT_TRUE(attr_match(p, good));
  MessageAttributes cheap = good;
  cheap["price_usd"] = num("99.99");
  EXPECT_FALSE(attr_match(p, cheap));
  MessageAttributes cancelled = good;
  cancelled["event"] = str("order_cancelled");
  EXPECT_FALSE(attr_match(p, cancelled));
  EXPECT_TRUE(body_match(p, R"({"store": "example_corp", "event": "order_placed",
      "customer_interests": ["soccer", "rugby"], "price_usd": 210.75})"));
}

TEST(SnsFilterPolicy, OrOperatorAsInAwsDocs) {
  const std::string p = R"({"source": ["aws.cloudwatch"],
      "$or": [{"metricName": ["CPUUtilization", "ReadLatency"]},
              {"namespace": ["AWS/EC2", "AWS/ES"]}]})";
  EXPECT_TRUE(attr_match(
      p, attrs({{"source", str("aws.cloudwatch")}, {"metricName", str("ReadLatency")}})));
  EXPECT_TRUE(
      attr_match(p, attrs({{"source", str("aws.cloudwatch")}, {"namespace", str("AWS/ES")}})));
  EXPECT_FALSE(
      attr_match(p, attrs({{"source", str("aws.cloudwatch")}, {"namespace", str("AWS/S3")}})));
  EXPECT_FALSE(
      attr_match(p, attrs({{"source", str("aws.ec2")}, {"metricName", str("ReadLatency")}})));
  EXPECT_TRUE(body_match(p, R"({"source": "aws.cloudwatch", "namespace": "AWS/EC2"})"));
  EXPECT_FALSE(body_match(p, R"({"source": "aws.cloudwatch"})"));

  // Nested inside a body key, the alternatives are relative to it.
  const std::string nested = R"({"a": {"$or": [{"b": ["x"]}, {"c": [{"prefix": "y"}]}]}})";
  EXPECT_TRUE(body_match(nested, R"({"a": {"b": "x"}})"));
  EXPECT_TRUE(body_match(nested, R"({"a": {"c": "yes"}})"));
  EXPECT_FALSE(body_match(nested, R"({"b": "x"})"));
  EXPECT_FALSE(body_match(nested, R"({"a": {"c": "no"}})"));
}

TEST(SnsFilterPolicy, OrIsAnOrdinaryKeyUnlessItHoldsTwoObjects) {
  const std::string p = R"({"$or": ["a", "b"]})";
  EXPECT_TRUE(attr_match(p, attrs({{"$or", str("a")}})));
  EXPECT_FALSE(attr_match(p, attrs({{"$or", str("c")}})));
  // One object only: "$or" is a key whose list holds an object without a known operator.
  EXPECT_EQ(refusal(R"({"$or": [{"a": ["x"]}]})"), "Unrecognized match type a");
}

TEST(SnsFilterPolicy, NestedBodyKeys) {
  const std::string p =
      R"({"order": {"customer": {"tier": ["gold"]}, "total": [{"numeric": [">", 5]}]}})";
  EXPECT_TRUE(body_match(p, R"({"order": {"customer": {"tier": "gold"}, "total": 10}})"));
  EXPECT_FALSE(body_match(p, R"({"order": {"customer": {"tier": "silver"}, "total": 10}})"));
  EXPECT_FALSE(body_match(p, R"({"order": {"customer": {"tier": "gold"}, "total": 1}})"));
  EXPECT_FALSE(body_match(p, R"({"customer": {"tier": "gold"}, "total": 10})"));
  // The leaf must not be an object.
  EXPECT_FALSE(body_match(p, R"({"order": {"customer": {"tier": {"x": "gold"}}, "total": 10}})"));
  // Arrays of objects on the way are searched element by element.
  EXPECT_TRUE(
      body_match(R"({"items": {"sku": ["A1"]}})", R"({"items": [{"sku": "B2"}, {"sku": "A1"}]})"));
  EXPECT_FALSE(body_match(R"({"items": {"sku": ["A1"]}})", R"({"items": [{"sku": "B2"}]})"));
}

TEST(SnsFilterPolicy, BodyLiterals) {
  EXPECT_TRUE(body_match(R"({"flag": [true]})", R"({"flag": true})"));
  EXPECT_FALSE(body_match(R"({"flag": [true]})", R"({"flag": "true"})"));
  EXPECT_FALSE(body_match(R"({"flag": [true]})", R"({"flag": false})"));
  EXPECT_TRUE(body_match(R"({"v": [null]})", R"({"v": null})"));
  EXPECT_FALSE(body_match(R"({"v": [null]})", R"({"v": "null"})"));
  EXPECT_FALSE(body_match(R"({"v": [null]})", R"({})"));
  // Attribute values are strings: the literal true is not the string "true".
  EXPECT_FALSE(attr_match(R"({"flag": [true]})", attrs({{"flag", str("true")}})));
  EXPECT_TRUE(attr_match(R"({"flag": [true]})", attrs({{"flag", arr("[false, true]")}})));
}

TEST(SnsFilterPolicy, BodyMustBeAJsonObject) {
  EXPECT_FALSE(body_match(R"({"store": [{"exists": false}]})", "not json"));
  EXPECT_FALSE(body_match(R"({"store": [{"exists": false}]})", R"(["store"])"));
  EXPECT_FALSE(body_match("{}", "plain text"));
  EXPECT_TRUE(body_match("{}", R"({"any": 1})"));
}

TEST(SnsFilterPolicy, ScopesDoNotMix) {
  std::string error;
  const auto attr = parse_filter_policy(R"({"k": ["v"]})", Scope::kMessageAttributes, &error);
  const auto body = parse_filter_policy(R"({"k": ["v"]})", Scope::kMessageBody, &error);
  ASSERT_TRUE(attr && body);
  EXPECT_EQ(attr->scope(), Scope::kMessageAttributes);
  EXPECT_FALSE(matches(*attr, R"({"k": "v"})"));
  EXPECT_TRUE(matches(*body, R"({"k": "v"})"));
  EXPECT_FALSE(matches(*body, attrs({{"k", str("v")}})));
  EXPECT_TRUE(matches(*attr, attrs({{"k", str("v")}})));
}

TEST(SnsFilterPolicy, EmptyPolicyMatchesEverything) {
  EXPECT_TRUE(attr_match("{}", attrs({})));
  EXPECT_TRUE(attr_match("{}", attrs({{"k", str("v")}})));
}

TEST(SnsFilterPolicy, AttributeTypes) {
  const std::string p = R"({"k": ["v"]})";
  EXPECT_TRUE(attr_match(p, attrs({{"k", {"String.custom", "v"}}})));
  EXPECT_FALSE(attr_match(p, attrs({{"k", {"Binary", "v"}}})));
  // A String.Array that is not a JSON array holds nothing to match, but exists.
  EXPECT_FALSE(attr_match(p, attrs({{"k", arr("v")}})));
  EXPECT_TRUE(attr_match(R"({"k": [{"exists": true}]})", attrs({{"k", arr("v")}})));
  // Objects inside a String.Array are not values.
  EXPECT_FALSE(attr_match(p, attrs({{"k", arr(R"([{"k": "v"}])")}})));
}

TEST(SnsFilterPolicy, RefusesMalformedDocuments) {
  EXPECT_EQ(refusal(R"({"k": ["v"])"), "failed to parse JSON.");
  EXPECT_EQ(refusal(""), "failed to parse JSON.");
  EXPECT_EQ(refusal(R"(["k"])"), "Filter policy must be a JSON object");
  EXPECT_EQ(refusal(R"({"k": "v"})"), "\"k\" must be an object or an array");
  EXPECT_EQ(refusal(R"({"k": 5})"), "\"k\" must be an object or an array");
  EXPECT_EQ(refusal(R"({"k": []})"), "Empty arrays are not allowed");
  EXPECT_EQ(refusal(R"({"k": {}})", Scope::kMessageBody), "Empty objects are not allowed");
  EXPECT_EQ(refusal(R"({"k": [["v"]]})"),
            "Match value must be String, number, true, false, or null");
  EXPECT_EQ(refusal(R"({"k": {"n": ["v"]}})"),
            "Filter policy scope MessageAttributes does not support nested filter policy");
  EXPECT_TRUE(parses(R"({"k": {"n": ["v"]}})", Scope::kMessageBody));
  EXPECT_EQ(refusal(std::string(256 * 1024 + 1, ' ')), "Filter policy is too large");
  std::string deep = "[\"v\"]";
  for (int i = 0; i < 40; ++i) deep = "{\"k\": " + deep + "}";
  EXPECT_EQ(refusal(deep, Scope::kMessageBody), "Filter policy is too deeply nested");
}

TEST(SnsFilterPolicy, RefusesBadOperators) {
  EXPECT_EQ(refusal(R"({"k": [{"contains": "v"}]})"), "Unrecognized match type contains");
  EXPECT_EQ(refusal(R"({"k": [{"prefix": "a", "suffix": "b"}]})"),
            "Only one key allowed in match expression");
  EXPECT_EQ(refusal(R"({"k": [{}]})"), "Only one key allowed in match expression");
  EXPECT_EQ(refusal(R"({"k": [{"prefix": 5}]})"), "prefix match pattern must be a string");
  EXPECT_EQ(refusal(R"({"k": [{"prefix": ""}]})"), "Null prefix not allowed");
  EXPECT_EQ(refusal(R"({"k": [{"suffix": ["a"]}]})"), "suffix match pattern must be a string");
  EXPECT_EQ(refusal(R"({"k": [{"equals-ignore-case": 1}]})"),
            "equals-ignore-case match pattern must be a string");
  EXPECT_EQ(refusal(R"({"k": [{"exists": "true"}]})"),
            "exists match pattern must be either true or false.");
  EXPECT_EQ(refusal(R"({"k": [{"anything-but": [true]}]})"),
            "Inside anything but list, start|null|boolean is not supported.");
  EXPECT_EQ(refusal(R"({"k": [{"anything-but": null}]})"),
            "Inside anything but list, start|null|boolean is not supported.");
  EXPECT_EQ(refusal(R"({"k": [{"anything-but": []}]})"), "Empty arrays are not allowed");
  EXPECT_EQ(refusal(R"({"k": [{"anything-but": {"contains": "a"}}]})"),
            "Unsupported anything-but pattern: contains");
  EXPECT_EQ(refusal(R"({"k": [{"anything-but": {"prefix": "a", "suffix": "b"}}]})"),
            "Value of anything-but must be an array or single string/number value.");
  EXPECT_EQ(refusal(R"({"k": [{"anything-but": {"suffix": 3}}]})"),
            "suffix match pattern must be a string");
}

TEST(SnsFilterPolicy, RefusesBadNumericExpressions) {
  EXPECT_EQ(refusal(R"({"k": [{"numeric": 5}]})"), "Value of numeric must be an array.");
  EXPECT_EQ(refusal(R"({"k": [{"numeric": []}]})"), "Value of numeric must be an array.");
  EXPECT_EQ(refusal(R"({"k": [{"numeric": ["!=", 5]}]})"),
            "Unrecognized numeric range operator: !=");
  EXPECT_EQ(refusal(R"({"k": [{"numeric": [5, ">"]}]})"), "Invalid member in numeric match: 5");
  EXPECT_EQ(refusal(R"({"k": [{"numeric": [">"]}]})"), "Value of > must be numeric");
  EXPECT_EQ(refusal(R"({"k": [{"numeric": ["=", "5"]}]})"), "Value of = must be numeric");
  EXPECT_EQ(refusal(R"({"k": [{"numeric": ["=", 5, "<", 6]}]})"),
            "Too many elements in numeric expression");
  EXPECT_EQ(refusal(R"({"k": [{"numeric": ["<", 5, ">", 1]}]})"),
            "Too many elements in numeric expression");
  EXPECT_EQ(refusal(R"({"k": [{"numeric": [">", 1, ">", 5]}]})"), "Bad numeric range operator: >");
  EXPECT_EQ(refusal(R"({"k": [{"numeric": [">", 1, "<", 5, "<", 6]}]})"),
            "Too many elements in numeric expression");
  EXPECT_EQ(refusal(R"({"k": [{"numeric": [">", 5, "<", 5]}]})"), "Bottom must be less than top");
  EXPECT_EQ(refusal(R"({"k": [{"numeric": [">=", 6, "<=", 5]}]})"), "Bottom must be less than top");
  // The numeric range limit, for ranges and exact numbers alike.
  EXPECT_TRUE(parses(R"({"k": [{"numeric": [">=", -1e9, "<=", 1e9]}], "j": [1000000000]})"));
  EXPECT_EQ(refusal(R"({"k": [{"numeric": ["<", 1000000001]}]})"),
            "Numeric values must be between -1.0E9 and 1.0E9, got 1000000001");
  EXPECT_EQ(refusal(R"({"k": [-1e10]})"),
            "Numeric values must be between -1.0E9 and 1.0E9, got -10000000000.0");
  EXPECT_EQ(refusal(R"({"k": [{"anything-but": [2e9]}]})"),
            "Numeric values must be between -1.0E9 and 1.0E9, got 2000000000.0");
}

TEST(SnsFilterPolicy, RefusesBadCidrs) {
  EXPECT_EQ(refusal(R"({"k": [{"cidr": "10.0.0.0"}]})"), "Malformed CIDR, one '/' required");
  EXPECT_EQ(refusal(R"({"k": [{"cidr": "10.0.0.0/8/8"}]})"), "Malformed CIDR, one '/' required");
  EXPECT_EQ(refusal(R"({"k": [{"cidr": 10}]})"), "cidr match pattern must be a string");
  EXPECT_EQ(refusal(R"({"k": [{"cidr": "10.0.0.300/8"}]})"), "Nonstandard IP address: 10.0.0.300");
  EXPECT_EQ(refusal(R"({"k": [{"cidr": "10.0.0.0/33"}]})"),
            "Malformed CIDR, mask bits must be an integer between 0 and 32");
  EXPECT_EQ(refusal(R"({"k": [{"cidr": "10.0.0.0/"}]})"),
            "Malformed CIDR, mask bits must be an integer between 0 and 32");
  EXPECT_EQ(refusal(R"({"k": [{"cidr": "10.0.0.0/-1"}]})"),
            "Malformed CIDR, mask bits must be an integer between 0 and 32");
  EXPECT_EQ(refusal(R"({"k": [{"cidr": "2001:db8::/129"}]})"),
            "Malformed CIDR, mask bits must be an integer between 0 and 128");
  EXPECT_EQ(refusal(R"({"k": [{"cidr": "2001:db8::/1x"}]})"),
            "Malformed CIDR, mask bits must be an integer between 0 and 128");
  EXPECT_TRUE(parses(R"({"k": [{"cidr": "::/0"}]})"));
}

TEST(SnsFilterPolicy, AtMostFiveKeys) {
  EXPECT_TRUE(parses(R"({"a": ["1"], "b": ["1"], "c": ["1"], "d": ["1"], "e": ["1"]})"));
  EXPECT_EQ(refusal(R"({"a": ["1"], "b": ["1"], "c": ["1"], "d": ["1"], "e": ["1"], "f": ["1"]})"),
            "Filter policy can not have more than 5 keys");
  // Nested keys count by their leaves.
  EXPECT_EQ(refusal(R"({"a": {"b": ["1"], "c": ["1"], "d": ["1"]}, "e": {"f": ["1"], "g": ["1"]},
                      "h": ["1"]})",
                    Scope::kMessageBody),
            "Filter policy can not have more than 5 keys");
  EXPECT_TRUE(
      parses(R"({"a": {"b": ["1"], "c": ["1"], "d": ["1"]}, "e": {"f": ["1"], "g": ["1"]}})",
             Scope::kMessageBody));
  // With $or, the keys one message must satisfy together: the widest alternative counts.
  EXPECT_TRUE(parses(R"({"a": ["1"], "b": ["1"], "$or": [{"c": ["1"], "d": ["1"], "e": ["1"]},
                                                        {"f": ["1"], "g": ["1"]}]})"));
  EXPECT_EQ(refusal(R"({"a": ["1"], "b": ["1"], "$or": [{"c": ["1"]},
                      {"d": ["1"], "e": ["1"], "f": ["1"], "g": ["1"]}]})"),
            "Filter policy can not have more than 5 keys");
}

TEST(SnsFilterPolicy, AtMost150Combinations) {
  // AWS's example: 3 x 1 x 2 = 6.
  EXPECT_TRUE(parses(R"({"key_a": ["value_one", "value_two", "value_three"],
                         "key_b": ["value_one"], "key_c": ["value_one", "value_two"]})"));
  EXPECT_TRUE(parses("{" + values("a", 150) + "}"));
  EXPECT_EQ(refusal("{" + values("a", 151) + "}"), "Filter policy is too complex");
  EXPECT_TRUE(parses("{" + values("a", 3) + "," + values("b", 5) + "," + values("c", 10) + "}"));
  EXPECT_EQ(refusal("{" + values("a", 2) + "," + values("b", 76) + "}"),
            "Filter policy is too complex");
  // A $or group adds its alternatives: 2 x (40 + 35) = 150, 2 x (40 + 36) = 152.
  EXPECT_TRUE(parses("{" + values("a", 2) + ", \"$or\": [{" + values("b", 40) + "}, {" +
                     values("c", 35) + "}]}"));
  EXPECT_EQ(refusal("{" + values("a", 2) + ", \"$or\": [{" + values("b", 40) + "}, {" +
                    values("c", 36) + "}]}"),
            "Filter policy is too complex");
  // Large products saturate instead of wrapping around.
  EXPECT_EQ(refusal("{" + values("a", 150) + "," + values("b", 150) + "," + values("c", 150) + "," +
                    values("d", 150) + "," + values("e", 150) + "}"),
            "Filter policy is too complex");
}

}  // namespace
}  // namespace sluice::api::sns
