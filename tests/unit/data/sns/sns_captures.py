"""Captures for tests/unit/sns_codec_test.cc, made and checked with real botocore.

  python3 tests/unit/data/sns/sns_captures.py requests > tests/unit/data/sns/requests.txt
  python3 tests/unit/data/sns/sns_captures.py check-replies tests/unit/data/sns/replies.txt

`requests`: the request body botocore's serializer writes for each case below, one line each:
`case<TAB>action<TAB>body`. Nothing is sent: a before-send hook records the request and answers
with an empty reply.

`check-replies`: replies.txt holds the replies Sluice's encoder writes (the C++ test compares the
encoder with them byte for byte; SNS_REPLIES_OUT=FILE makes it write them instead). Each line is
`case<TAB>action<TAB>status<TAB>body`, the body with backslash, tab and newline escaped. This
parses each with botocore's QueryParser against the operation's output shape (or as an error)
and asserts the parsed result, so the encoder's bytes are the ones botocore understands.
"""
import sys

import botocore
import botocore.awsrequest
import botocore.parsers
import botocore.session

TOPIC = "arn:aws:sns:us-east-1:000000000000:orders"
FIFO_TOPIC = "arn:aws:sns:us-east-1:000000000000:orders.fifo"
SUBSCRIPTION = TOPIC + ":6b0e71bd-7e97-4d97-80ce-4a0994e55286"
QUEUE = "arn:aws:sqs:us-east-1:000000000000:inbox"

REQUESTS = [
    ("CreateTopic", "create_topic", dict(
        Name="orders", Attributes={"DisplayName": "Orders & more", "DeliveryPolicy": "{}"},
        Tags=[{"Key": "team", "Value": "core"}, {"Key": "env", "Value": ""}])),
    ("CreateTopicFifo", "create_topic", dict(
        Name="orders.fifo", Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "true"})),
    ("DeleteTopic", "delete_topic", dict(TopicArn=TOPIC)),
    ("ListTopics", "list_topics", dict(NextToken="page-2")),
    ("GetTopicAttributes", "get_topic_attributes", dict(TopicArn=TOPIC)),
    ("SetTopicAttributes", "set_topic_attributes", dict(
        TopicArn=TOPIC, AttributeName="DisplayName", AttributeValue="new name")),
    ("SubscribeSqs", "subscribe", dict(
        TopicArn=TOPIC, Protocol="sqs", Endpoint=QUEUE, ReturnSubscriptionArn=True,
        Attributes={"RawMessageDelivery": "true",
                    "FilterPolicy": '{"kind": ["order", {"prefix": "ret"}]}'})),
    ("SubscribeHttp", "subscribe", dict(
        TopicArn=TOPIC, Protocol="https", Endpoint="https://example.test/hook?a=1&b=2")),
    ("ConfirmSubscription", "confirm_subscription", dict(
        TopicArn=TOPIC, Token="2336412f37fb687f5d51e6e2425c464de1", AuthenticateOnUnsubscribe="true")),
    ("Unsubscribe", "unsubscribe", dict(SubscriptionArn=SUBSCRIPTION)),
    ("ListSubscriptions", "list_subscriptions", dict(NextToken="t1")),
    ("ListSubscriptionsByTopic", "list_subscriptions_by_topic", dict(TopicArn=TOPIC)),
    ("GetSubscriptionAttributes", "get_subscription_attributes", dict(SubscriptionArn=SUBSCRIPTION)),
    ("SetSubscriptionAttributes", "set_subscription_attributes", dict(
        SubscriptionArn=SUBSCRIPTION, AttributeName="FilterPolicyScope",
        AttributeValue="MessageBody")),
    ("Publish", "publish", dict(
        TopicArn=TOPIC, Message="hello <world> & \"friends\"\nline 2", Subject="Greetings!",
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "order"},
            "price": {"DataType": "Number", "StringValue": "12.50"},
            "blob": {"DataType": "Binary", "BinaryValue": b"Hello binary world!"},
            "tags": {"DataType": "String.Array", "StringValue": '["a", "b"]'},
        })),
    ("PublishTarget", "publish", dict(
        TargetArn=TOPIC, Message='{"default": "x", "sqs": "y"}', MessageStructure="json")),
    ("PublishFifo", "publish", dict(
        TopicArn=FIFO_TOPIC, Message="x", MessageGroupId="g1", MessageDeduplicationId="d1")),
    ("PublishBatch", "publish_batch", dict(TopicArn=TOPIC, PublishBatchRequestEntries=[
        {"Id": "a", "Message": "one"},
        {"Id": "b", "Message": "two", "Subject": "s", "MessageAttributes": {
            "n": {"DataType": "Number", "StringValue": "42"},
            "k": {"DataType": "String.custom", "StringValue": "v"}}},
    ])),
    ("TagResource", "tag_resource", dict(ResourceArn=TOPIC, Tags=[{"Key": "team", "Value": "core"}])),
    ("UntagResource", "untag_resource", dict(ResourceArn=TOPIC, TagKeys=["team", "env"])),
    ("ListTagsForResource", "list_tags_for_resource", dict(ResourceArn=TOPIC)),
]

# What botocore must parse out of each encoded reply (ResponseMetadata aside).
REPLIES = {
    "CreateTopic": {"TopicArn": TOPIC},
    "DeleteTopic": {},
    "ListTopics": {"Topics": [{"TopicArn": TOPIC}, {"TopicArn": FIFO_TOPIC}],
                   "NextToken": "page-2"},
    "ListTopicsEmpty": {"Topics": []},
    "GetTopicAttributes": {"Attributes": {"TopicArn": TOPIC, "DisplayName": "Orders & <more>",
                                          "SubscriptionsConfirmed": "1"}},
    "SetTopicAttributes": {},
    "Subscribe": {"SubscriptionArn": SUBSCRIPTION},
    "SubscribePending": {"SubscriptionArn": "pending confirmation"},
    "ConfirmSubscription": {"SubscriptionArn": SUBSCRIPTION},
    "Unsubscribe": {},
    "ListSubscriptions": {"Subscriptions": [
        {"SubscriptionArn": SUBSCRIPTION, "Owner": "000000000000", "Protocol": "sqs",
         "Endpoint": QUEUE, "TopicArn": TOPIC},
        {"SubscriptionArn": "PendingConfirmation", "Owner": "000000000000", "Protocol": "https",
         "Endpoint": "https://example.test/hook?a=1&b=2", "TopicArn": TOPIC}],
        "NextToken": "t2"},
    "ListSubscriptionsByTopic": {"Subscriptions": []},
    "GetSubscriptionAttributes": {"Attributes": {"RawMessageDelivery": "true",
                                                 "FilterPolicy": '{"kind": ["order"]}'}},
    "SetSubscriptionAttributes": {},
    "Publish": {"MessageId": "9f1b6a62-0d5a-4b43-9d3e-6c1e2f0a9b11"},
    "PublishFifo": {"MessageId": "9f1b6a62-0d5a-4b43-9d3e-6c1e2f0a9b12",
                    "SequenceNumber": "10000000000000000001"},
    "PublishBatch": {
        "Successful": [{"Id": "a", "MessageId": "m-1"},
                       {"Id": "c", "MessageId": "m-3", "SequenceNumber": "10000000000000000003"}],
        "Failed": [{"Id": "b", "Code": "InternalError", "Message": "try again",
                    "SenderFault": False}]},
    "TagResource": {},
    "UntagResource": {},
    "ListTagsForResource": {"Tags": [{"Key": "team", "Value": "core"},
                                     {"Key": "env", "Value": ""}]},
}

ERRORS = {
    "ErrorNotFound": {"Type": "Sender", "Code": "NotFound", "Message": "Topic does not exist"},
    "ErrorInternal": {"Type": "Receiver", "Code": "InternalError",
                      "Message": "Internal <error> & more"},
}


def unescape(s):
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            i += 1
            out.append({"t": "\t", "n": "\n"}.get(s[i], s[i]))
        else:
            out.append(s[i])
        i += 1
    return "".join(out)


def client():
    session = botocore.session.get_session()
    c = session.create_client("sns", region_name="us-east-1", endpoint_url="http://x",
                              aws_access_key_id="a", aws_secret_access_key="b")
    c.meta.config.retries = {"max_attempts": 0}
    return c


def capture_requests():
    c = client()
    captured = []

    def before_send(request, **_):
        captured.append(request)
        return botocore.awsrequest.AWSResponse(request.url, 500, {}, None)

    c.meta.events.register("before-send", before_send)
    for case, method, args in REQUESTS:
        captured.clear()
        try:
            getattr(c, method)(**args)
        except Exception:
            pass
        body = captured[0].body or b""
        if isinstance(body, bytes):
            body = body.decode()
        action = dict(kv.split("=", 1) for kv in body.split("&"))["Action"]
        print("\t".join([case, action, body]))


def check_replies(path):
    model = client().meta.service_model
    parser = botocore.parsers.QueryParser()
    seen = set()
    with open(path) as f:
        for line in f:
            case, action, status, body = line.rstrip("\n").split("\t")
            body = unescape(body)
            response = {"status_code": int(status), "headers": {}, "body": body.encode()}
            if case in ERRORS:
                parsed = parser.parse(response, model.operation_model(action).output_shape)
                assert parsed["Error"] == ERRORS[case], (case, parsed)
                assert parsed["ResponseMetadata"]["RequestId"] == "req-1", (case, parsed)
            else:
                parsed = parser.parse(response, model.operation_model(action).output_shape)
                meta = parsed.pop("ResponseMetadata")
                assert meta["RequestId"] == "req-1", (case, meta)
                assert parsed == REPLIES[case], (case, parsed, REPLIES[case])
            seen.add(case)
    missing = (set(REPLIES) | set(ERRORS)) - seen
    assert not missing, f"no reply captured for {sorted(missing)}"
    print(f"{len(seen)} replies parsed by botocore {botocore.__version__} as expected")


if sys.argv[1:2] == ["requests"]:
    capture_requests()
elif sys.argv[1:2] == ["check-replies"] and len(sys.argv) == 3:
    check_replies(sys.argv[2])
else:
    sys.exit(__doc__)
