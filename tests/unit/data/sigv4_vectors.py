#!/usr/bin/env python3
"""Regenerates sigv4_client_vectors.txt: requests signed by real botocore clients, for
tests/unit/sigv4_test.cc to verify.

Each client is a real botocore client pointed at a fake endpoint; a 'before-send' hook captures
the request exactly as it would go on the wire and stops it there. The signing clock is pinned to
2026-11-21T10:00:00Z. Run with every interpreter whose botocore should be covered, appending:

    python3 tests/unit/data/sigv4_vectors.py > tests/unit/data/sigv4_client_vectors.txt
    /usr/bin/python3 tests/unit/data/sigv4_vectors.py --no-header \
        >> tests/unit/data/sigv4_client_vectors.txt

(the first is pip's botocore, which speaks AWS JSON 1.0 to SQS; the second Debian's
python3-botocore, which still speaks the query protocol to SQS).

Output, one vector per line, tab-separated: name, secret key, signing time (Unix seconds), the
raw HTTP/1.1 request with backslash escapes (\\r \\n \\t \\\\ \\xHH).
"""
import datetime
import sys
import types
import uuid

import botocore
import botocore.auth
import botocore.session
from botocore.auth import S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

FIXED = datetime.datetime(2026, 11, 21, 10, 0, 0)
FIXED_UNIX = 1795255200
ACCESS_KEY = "AKIASLUICETEST000001"
SECRET_KEY = "sluice/Secret+Key/For/Sigv4/Vectors0000"
TOKEN = "FwoGZXIvYXdzEXAMPLE//////////sessiontoken+with/slashes=="


class _FixedDateTime(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return FIXED

    @classmethod
    def now(cls, tz=None):
        return FIXED if tz is None else FIXED.replace(tzinfo=tz)


def pin_clock_and_ids():
    uuid.uuid4 = lambda: uuid.UUID(int=0x5105CE)
    shim = types.ModuleType("datetime")
    shim.__dict__.update(datetime.__dict__)
    shim.datetime = _FixedDateTime
    botocore.auth.datetime = shim
    if hasattr(botocore.auth, "get_current_datetime"):
        botocore.auth.get_current_datetime = lambda *a, **k: FIXED


class Captured(Exception):
    def __init__(self, request):
        super().__init__("captured")
        self.request = request


def escape(raw):
    out = []
    for b in raw:
        c = chr(b)
        if c == "\r":
            out.append("\\r")
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif c == "\\":
            out.append("\\\\")
        elif 0x20 <= b < 0x7F:
            out.append(c)
        else:
            out.append("\\x%02x" % b)
    return "".join(out)


def to_bytes(v):
    return v if isinstance(v, bytes) else str(v).encode("utf-8")


def wire(method, url, headers, body):
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    body = to_bytes(body) if body else b""
    lines = [f"{method} {target} HTTP/1.1".encode(), b"Host: " + parts.netloc.encode()]
    names = set()
    for name, value in headers.items():
        names.add(name.lower())
        lines.append(to_bytes(name) + b": " + to_bytes(value))
    if body and "content-length" not in names:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def emit(name, raw):
    tag = "botocore-" + botocore.__version__
    print(f"{tag}/{name}\t{SECRET_KEY}\t{FIXED_UNIX}\t{escape(raw)}")


def client(service, token=None):
    session = botocore.session.get_session()
    c = session.create_client(
        service,
        region_name="us-east-1",
        endpoint_url="http://localhost:9324",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        aws_session_token=token,
    )

    def stop(request, **kwargs):
        raise Captured(request)

    c.meta.events.register_first("before-send", stop)
    return c


def capture(name, c, op, **params):
    try:
        getattr(c, op)(**params)
    except Captured as e:
        r = e.request
        emit(name, wire(r.method, r.url, r.headers, r.body))
        return
    raise SystemExit(f"{name}: the request was not captured")


QUEUE = "http://localhost:9324/000000000000/orders"
FIFO = "http://localhost:9324/000000000000/orders.fifo"


def main():
    pin_clock_and_ids()
    sqs = client("sqs")
    protocol = sqs.meta.service_model.protocol
    capture(f"sqs-{protocol}/list-queues", sqs, "list_queues")
    capture(f"sqs-{protocol}/create-queue", sqs, "create_queue", QueueName="orders.fifo",
            Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"})
    capture(f"sqs-{protocol}/get-queue-url", sqs, "get_queue_url", QueueName="orders")
    capture(f"sqs-{protocol}/send-message", sqs, "send_message", QueueUrl=QUEUE,
            MessageBody="héllo wörld & <tags> + 100% \"quoted\" ~/path?x=1",
            MessageAttributes={"k": {"DataType": "String", "StringValue": "v a l"},
                               "b": {"DataType": "Binary", "BinaryValue": b"\x00\xff"}})
    capture(f"sqs-{protocol}/send-message-fifo", sqs, "send_message", QueueUrl=FIFO,
            MessageBody="x", MessageGroupId="g1", MessageDeduplicationId="d1")
    capture(f"sqs-{protocol}/receive-message", sqs, "receive_message", QueueUrl=QUEUE,
            MaxNumberOfMessages=10, WaitTimeSeconds=20, AttributeNames=["All"],
            MessageAttributeNames=["All"])
    capture(f"sqs-{protocol}/delete-message-batch", sqs, "delete_message_batch", QueueUrl=QUEUE,
            Entries=[{"Id": "a", "ReceiptHandle": "rh/1+=="}, {"Id": "b", "ReceiptHandle": "rh 2"}])
    capture(f"sqs-{protocol}/session-token", client("sqs", token=TOKEN), "list_queues")

    sns = client("sns")
    capture("sns-query/publish", sns, "publish",
            TopicArn="arn:aws:sns:us-east-1:000000000000:alerts",
            Message="a b+c=d&e/f ~ ü", Subject="subj")
    capture("sns-query/list-topics", sns, "list_topics")

    presign_sns = client("sns")
    url = presign_sns.generate_presigned_url(
        "publish", Params={"TopicArn": "arn:aws:sns:us-east-1:000000000000:alerts",
                           "Message": "presigned message"}, ExpiresIn=900, HttpMethod="GET")
    emit("sns-query/presigned-publish", wire("GET", url, {}, None))
    if protocol == "query":
        url = client("sqs").generate_presigned_url("list_queues", ExpiresIn=3600,
                                                   HttpMethod="GET")
        emit("sqs-query/presigned-list-queues", wire("GET", url, {}, None))
        url = client("sqs", token=TOKEN).generate_presigned_url("list_queues", ExpiresIn=60,
                                                                HttpMethod="GET")
        emit("sqs-query/presigned-session-token", wire("GET", url, {}, None))

    # SigV4Auth and SigV4QueryAuth on hand-made requests: an unsigned payload, a Date header
    # instead of X-Amz-Date, a path that needs normalising and encoding, a presigned URL that
    # also signs a header, an S3-style presigned URL (UNSIGNED-PAYLOAD).
    creds = Credentials(ACCESS_KEY, SECRET_KEY)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    body = b"Action=ListQueues&Version=2012-11-05"
    signed = [
        ("sigv4auth/unsigned-payload", SigV4Auth(creds, "sqs", "eu-west-3"), "POST",
         "http://localhost:9324/", body, {**form, "X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}),
        ("sigv4auth/date-header", SigV4Auth(creds, "sqs", "us-east-1"), "POST",
         "http://localhost:9324/", body, {**form, "Date": "Sat, 21 Nov 2026 10:00:00 GMT"}),
        ("sigv4auth/path-and-query", SigV4Auth(creds, "sqs", "us-east-1"), "GET",
         "http://localhost:9324/000000000000/./a//b/../orders%20q?b=2&a=&a=1&c", None,
         {"X-Custom": "  spaced    value  "}),
        ("sigv4queryauth/signed-header", SigV4QueryAuth(creds, "sqs", "us-east-1", expires=300),
         "GET", QUEUE + "?Action=GetQueueAttributes", None, {"X-Custom": "signed too"}),
        ("s3sigv4queryauth/unsigned-payload",
         S3SigV4QueryAuth(creds, "sqs", "us-east-1", expires=300), "GET",
         QUEUE + "?Action=GetQueueUrl", None, {}),
    ]
    for name, signer, method, url, data, headers in signed:
        req = AWSRequest(method=method, url=url, data=data, headers=headers)
        signer.add_auth(req)
        emit(name, wire(req.method, req.url, req.headers, req.body))


if __name__ == "__main__":
    if "--no-header" not in sys.argv:
        print("# Requests signed by real botocore clients; regenerate with sigv4_vectors.py")
        print("# (see its docstring for the exact commands).")
        print("# name\\tsecret\\tunix time\\tescaped raw request")
    main()
