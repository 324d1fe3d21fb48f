"""Capture the SQS requests botocore sends, for tests/unit/sqs_codec_test.cc.

Run with a botocore that speaks AWS JSON 1.0 (pip, >= 1.34.90) and with one that speaks the
query protocol (Debian's python3-botocore), appending to one file:

  python3 tests/unit/data/sqs_requests.py > tests/unit/data/sqs_requests.txt
  /usr/bin/python3 tests/unit/data/sqs_requests.py >> tests/unit/data/sqs_requests.txt
  python3 tests/unit/data/sqs_requests.py --query StartMessageMoveTask CancelMessageMoveTask \
      ListMessageMoveTasks >> tests/unit/data/sqs_requests.txt

Debian's botocore (1.29) predates the message move task actions (2023) and skips them. The last
command captures their query form: `--query CASE...` runs pip's botocore with its own SQS model
switched to the query protocol, whose serializer botocore still has. Those three actions carry
only scalar members, which the query protocol writes as `Name=value` whatever the model's
list and map traits, so the form is the one a query-era client sends.

Each request is one line: `protocol<TAB>case<TAB>target<TAB>content-type<TAB>body`, the body
with backslash, tab and newline escaped as \\\\, \\t and \\n. Nothing is sent: a before-send
hook records the request and answers with an empty reply.
"""
import json
import os
import sys
import tempfile

import botocore
import botocore.awsrequest
import botocore.session

URL = "http://127.0.0.1:9324/000000000000/orders"
ARN = "arn:aws:sqs:us-east-1:000000000000:orders"
DLQ_ARN = ARN + "-dlq"
BINARY = b"Hello binary world!"

CALLS = [
    ("SendMessage", "send_message", dict(
        QueueUrl=URL, MessageBody="hello <world> & \"friends\"", DelaySeconds=5,
        MessageAttributes={
            "attribName1": {"DataType": "String", "StringValue": "attribValue 1"},
            "binaryAttribute": {"DataType": "Binary", "BinaryValue": BINARY},
        },
        MessageSystemAttributes={
            "AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-abc"}})),
    ("SendMessageFifo", "send_message", dict(
        QueueUrl=URL + ".fifo", MessageBody="x", MessageGroupId="g1",
        MessageDeduplicationId="d1")),
    ("SendMessageBatch", "send_message_batch", dict(QueueUrl=URL, Entries=[
        {"Id": "a", "MessageBody": "one"},
        {"Id": "b", "MessageBody": "two", "DelaySeconds": 3, "MessageAttributes": {
            "n": {"DataType": "Number", "StringValue": "42"}}},
    ])),
    ("ReceiveMessage", "receive_message", dict(
        QueueUrl=URL, MaxNumberOfMessages=10, VisibilityTimeout=60, WaitTimeSeconds=20,
        AttributeNames=["All"], MessageAttributeNames=["attr.*", "x"],
        ReceiveRequestAttemptId="r1")),
    ("DeleteMessage", "delete_message", dict(QueueUrl=URL, ReceiptHandle="rh-1")),
    ("DeleteMessageBatch", "delete_message_batch", dict(QueueUrl=URL, Entries=[
        {"Id": "a", "ReceiptHandle": "rh-1"}, {"Id": "b", "ReceiptHandle": "rh-2"}])),
    ("ChangeMessageVisibility", "change_message_visibility", dict(
        QueueUrl=URL, ReceiptHandle="rh-1", VisibilityTimeout=0)),
    ("ChangeMessageVisibilityBatch", "change_message_visibility_batch", dict(
        QueueUrl=URL, Entries=[{"Id": "a", "ReceiptHandle": "rh-1", "VisibilityTimeout": 30},
                               {"Id": "b", "ReceiptHandle": "rh-2", "VisibilityTimeout": 45}])),
    ("CreateQueue", "create_queue", dict(
        QueueName="orders", Attributes={"VisibilityTimeout": "45", "DelaySeconds": "2"},
        tags={"team": "core", "env": "test"})),
    ("GetQueueUrl", "get_queue_url", dict(QueueName="orders", QueueOwnerAWSAccountId="1")),
    ("DeleteQueue", "delete_queue", dict(QueueUrl=URL)),
    ("PurgeQueue", "purge_queue", dict(QueueUrl=URL)),
    ("ListQueues", "list_queues", dict(QueueNamePrefix="ord", MaxResults=5, NextToken="t")),
    ("GetQueueAttributes", "get_queue_attributes", dict(
        QueueUrl=URL, AttributeNames=["VisibilityTimeout", "QueueArn"])),
    ("SetQueueAttributes", "set_queue_attributes", dict(
        QueueUrl=URL, Attributes={"VisibilityTimeout": "10",
                                  "RedrivePolicy": '{"maxReceiveCount":"3"}'})),
    ("TagQueue", "tag_queue", dict(QueueUrl=URL, Tags={"team": "core"})),
    ("UntagQueue", "untag_queue", dict(QueueUrl=URL, TagKeys=["team", "env"])),
    ("ListQueueTags", "list_queue_tags", dict(QueueUrl=URL)),
    ("AddPermission", "add_permission", dict(
        QueueUrl=URL, Label="AliceSend", AWSAccountIds=["111122223333", "444455556666"],
        Actions=["SendMessage", "ReceiveMessage"])),
    ("RemovePermission", "remove_permission", dict(QueueUrl=URL, Label="AliceSend")),
    ("ListDeadLetterSourceQueues", "list_dead_letter_source_queues", dict(
        QueueUrl=URL + "-dlq", MaxResults=10, NextToken="n1")),
    ("StartMessageMoveTask", "start_message_move_task", dict(
        SourceArn=DLQ_ARN, DestinationArn=ARN, MaxNumberOfMessagesPerSecond=50)),
    ("CancelMessageMoveTask", "cancel_message_move_task", dict(TaskHandle="task-1")),
    ("ListMessageMoveTasks", "list_message_move_tasks", dict(SourceArn=DLQ_ARN, MaxResults=10)),
]


def escape(text):
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def query_model_session():
    """A session whose SQS model is this botocore's own with its protocol set to query."""
    session = botocore.session.get_session()
    loader = session.get_component("data_loader")
    model = loader.load_service_model("sqs", "service-2")
    model["metadata"]["protocol"] = "query"
    model["metadata"]["protocols"] = ["query"]
    model["metadata"]["xmlNamespace"] = "http://queue.amazonaws.com/doc/2012-11-05/"
    directory = tempfile.mkdtemp()
    version = os.path.join(directory, "sqs", model["metadata"]["apiVersion"])
    os.makedirs(version)
    with open(os.path.join(version, "service-2.json"), "w") as f:
        json.dump(model, f)
    loader.search_paths.insert(0, directory)
    return session


def main():
    only = sys.argv[2:] if sys.argv[1:2] == ["--query"] else None
    session = query_model_session() if only else botocore.session.get_session()
    client = session.create_client(
        "sqs", region_name="us-east-1", endpoint_url="http://127.0.0.1:9324",
        aws_access_key_id="x", aws_secret_access_key="y")
    captured = []

    def before_send(request, **_):
        captured.append(request)
        return botocore.awsrequest.AWSResponse(request.url, 500, {}, None)

    client.meta.events.register("before-send", before_send)
    client.meta.config.retries = {"max_attempts": 0}
    for case, method, args in CALLS:
        if only is not None and case not in only:
            continue
        if not hasattr(client, method):
            print(f"{case}: not in botocore {botocore.__version__}'s SQS model, skipped",
                  file=sys.stderr)
            continue
        captured.clear()
        try:
            getattr(client, method)(**args)
        except Exception:
            pass
        request = captured[0]
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        target = request.headers.get("X-Amz-Target", b"")
        ctype = request.headers.get("Content-Type", b"")
        target = target.decode() if isinstance(target, bytes) else target
        ctype = ctype.decode() if isinstance(ctype, bytes) else ctype
        protocol = "json" if target else "query"
        print("\t".join([protocol, case, target or "-", ctype, escape(body.decode())]))


main()
