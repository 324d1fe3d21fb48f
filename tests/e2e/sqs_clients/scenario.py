#!/usr/bin/env python3
"""One SQS scenario driven through a real AWS client against an endpoint.

    scenario.py --endpoint http://127.0.0.1:PORT [--client boto3|cli] [--aws PATH] [--auth]

--client boto3 uses the boto3 of the Python that runs this file (pip's speaks AWS JSON 1.0,
Debian's python3-boto3 the query protocol); --client cli runs `aws sqs ...` commands with the
CLI named by --aws (pip's awscli v1 speaks JSON, Debian's awscli v2.9 query). Credentials come
from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. --auth also checks that a wrong secret and an
unknown key are refused (the server must verify signatures).

Every step checks what it got against SQS's documented behaviour and the run stops at the first
difference with a message naming the step, exiting 1. differential.py imports this module to run
the same steps and compare the shapes of the replies across servers.
"""

import argparse
import base64
import hashlib
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import time
import uuid

# The REFERENCE vectors: three attributes, one of each family, and their MD5.
STRING_ATTR = ("attribName1", {"DataType": "String", "StringValue": "attribValue 1"})
NUMBER_ATTR = (
    "customNumberTypeAttrib",
    {"DataType": "Number.float", "StringValue": "4563442423554324324264524243.32543234"},
)
BINARY_ATTR = ("binaryAttribute", {"DataType": "Binary", "BinaryValue": b"Hello binary world!"})
ALL_ATTRS_MD5 = "c932db14a896c663f83c260297d594ff"

# Characters that XML and JSON both have to carry: markup, quotes, control whitespace, non-ASCII
# in two, three and four UTF-8 bytes.
TRICKY_BODY = "héllo <&> \"quoted\" 'single'\ttab\r\ncrlf ☃ 🌊 end"

MAX_MESSAGE_BYTES = 1048576
POLL_TRIES = 10


class ApiError(Exception):
    """An error reply from the server: its code as the client reports it and the HTTP status."""

    def __init__(self, code, status, message):
        super().__init__(f"{code} (HTTP {status}): {message}")
        self.code = code
        self.status = status
        self.message = message


class StepFailure(Exception):
    pass


def md5_hex(data):
    return hashlib.md5(data).hexdigest()


def md5_of_attributes(attrs):
    """MD5OfMessageAttributes as SQS computes it (REFERENCE.md)."""
    out = bytearray()

    def field(raw):
        out.extend(struct.pack(">I", len(raw)))
        out.extend(raw)

    for name in sorted(attrs):
        value = attrs[name]
        field(name.encode())
        field(value["DataType"].encode())
        if value["DataType"].startswith("Binary"):
            out.append(2)
            field(value["BinaryValue"])
        else:
            out.append(1)
            field(value["StringValue"].encode())
    return md5_hex(bytes(out))


# --- clients -----------------------------------------------------------------------------------


class Boto3Client:
    """boto3's low-level SQS client; retries off so that every reply is the server's first."""

    def __init__(self, endpoint, region, access_key, secret_key, debug=False):
        import boto3
        import botocore

        if debug:
            boto3.set_stream_logger("")
        self.endpoint = endpoint
        self.region = region
        self.name = f"boto3 {boto3.__version__} (botocore {botocore.__version__})"
        self._boto3 = boto3
        self.sqs = self._make(access_key, secret_key)
        self.protocol = self.sqs.meta.service_model.protocol

    def _make(self, access_key, secret_key):
        from botocore.config import Config

        session = self._boto3.session.Session(
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=self.region,
        )
        return session.client(
            "sqs",
            endpoint_url=self.endpoint,
            config=Config(retries={"total_max_attempts": 1}, connect_timeout=10, read_timeout=60),
        )

    def with_credentials(self, access_key, secret_key):
        other = object.__new__(Boto3Client)
        other.__dict__.update(self.__dict__)
        other.sqs = self._make(access_key, secret_key)
        return other

    # Any bytes as a Binary attribute value.
    arbitrary_binary = True

    def supports(self, operation, member=None):
        model = self.sqs.meta.service_model
        if operation not in model.operation_names:
            return False
        return member is None or member in model.operation_model(operation).input_shape.members

    def call(self, operation, **params):
        from botocore import xform_name
        from botocore.exceptions import ClientError

        try:
            reply = getattr(self.sqs, xform_name(operation))(**params)
        except ClientError as e:
            err = e.response.get("Error", {})
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            raise ApiError(err.get("Code"), status, err.get("Message")) from None
        reply.pop("ResponseMetadata", None)
        return reply


def kebab(name):
    """The CLI's flag for a member: QueueUrl -> queue-url, AWSAccountIds -> aws-account-ids."""
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1-\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1-\2", name).lower()


class CliClient:
    """`aws sqs <command>` with one flag per request member, structures as JSON text."""

    # Linux refuses single arguments over 128 KiB; longer ones go through file://.
    ARG_LIMIT = 64 * 1024

    def __init__(self, aws, endpoint, region, access_key, secret_key, debug=False):
        self.aws = aws
        self.endpoint = endpoint
        self.region = region
        self.debug = debug
        self.access_key = access_key
        self.secret_key = secret_key
        version = subprocess.run([aws, "--version"], capture_output=True, text=True, timeout=60)
        self.version = (version.stdout + version.stderr).strip()
        self.name = f"{aws}: {self.version}"
        self.v2 = self.version.startswith("aws-cli/2.")
        # SQS moved to AWS JSON 1.0 in CLI v2 2.15.41 and in botocore 1.34.90 (CLI v1).
        if self.v2:
            self.protocol = "json" if self._version("aws-cli") >= (2, 15, 41) else "query"
        else:
            self.protocol = "json" if self._version("botocore") >= (1, 34, 90) else "query"
        self._tmp = tempfile.mkdtemp(prefix="sqs-cli-")
        self._help = {}

    def _version(self, component):
        m = re.search(component + r"/(\d+)\.(\d+)\.(\d+)", self.version)
        return tuple(int(x) for x in m.groups()) if m else (0, 0, 0)

    def with_credentials(self, access_key, secret_key):
        other = object.__new__(CliClient)
        other.__dict__.update(self.__dict__)
        other.access_key = access_key
        other.secret_key = secret_key
        return other

    def _env(self):
        env = dict(os.environ)
        env.update(
            AWS_ACCESS_KEY_ID=self.access_key,
            AWS_SECRET_ACCESS_KEY=self.secret_key,
            AWS_MAX_ATTEMPTS="1",
            AWS_RETRY_MODE="standard",
            AWS_PAGER="",
            PAGER="cat",
            MANPAGER="cat",
        )
        env.pop("AWS_SESSION_TOKEN", None)
        env.pop("AWS_PROFILE", None)
        return env

    # Binary values go through the command line as text (see _jsonable).
    arbitrary_binary = False

    def supports(self, operation, member=None):
        if operation not in self._help:
            out = subprocess.run(
                [self.aws, "sqs", kebab(operation), "help"],
                capture_output=True,
                text=True,
                env=self._env(),
                timeout=60,
            )
            # Man-page rendering may overstrike bold text (X\bX).
            self._help[operation] = re.sub(r".\x08", "", out.stdout) if out.returncode == 0 else ""
        text = self._help[operation]
        return bool(text) and (member is None or f"--{kebab(member)}" in text)

    def _arg(self, text):
        if len(text.encode()) <= self.ARG_LIMIT:
            return text
        fd, path = tempfile.mkstemp(dir=self._tmp)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        return "file://" + path

    @staticmethod
    def _jsonable(value):
        if isinstance(value, bytes):
            # Binary values are given raw: awscli v1 takes blobs raw, v2 is told so by
            # --cli-binary-format raw-in-base64-out.
            return value.decode("ascii")
        if isinstance(value, dict):
            return {k: CliClient._jsonable(v) for k, v in value.items()}
        if isinstance(value, list):
            return [CliClient._jsonable(v) for v in value]
        return value

    def call(self, operation, **params):
        argv = [self.aws, "sqs", kebab(operation), "--endpoint-url", self.endpoint]
        argv += ["--region", self.region, "--output", "json"]
        if self.v2:
            argv += ["--cli-binary-format", "raw-in-base64-out"]
        if self.debug:
            argv.append("--debug")
        for key, value in params.items():
            argv.append("--" + kebab(key))
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                argv += value
            elif isinstance(value, (dict, list)):
                argv.append(self._arg(json.dumps(self._jsonable(value), ensure_ascii=False)))
            else:
                argv.append(self._arg(str(value)))
        done = subprocess.run(argv, capture_output=True, text=True, env=self._env(), timeout=90)
        if self.debug:
            sys.stderr.write(done.stderr)
        if done.returncode != 0:
            m = re.search(r"An error occurred \(([^)]+)\)[^:]*: ?(.*)", done.stderr)
            if m:
                raise ApiError(m.group(1), None, m.group(2).strip())
            raise RuntimeError(
                f"{' '.join(argv[:3])} exited {done.returncode} without a service error:\n"
                + done.stderr[-4000:]
            )
        reply = json.loads(done.stdout) if done.stdout.strip() else {}
        for message in reply.get("Messages", []):
            for value in message.get("MessageAttributes", {}).values():
                if "BinaryValue" in value:
                    value["BinaryValue"] = base64.b64decode(value["BinaryValue"])
        return reply


# --- reply shapes ------------------------------------------------------------------------------


def shape_of(value, path="", out=None):
    """Sorted key paths with the types of their values; lists as [] over their elements."""
    if out is None:
        out = set()
    if isinstance(value, dict):
        if path:
            out.add(f"{path}:map")
        for key, item in value.items():
            shape_of(item, f"{path}.{key}" if path else key, out)
    elif isinstance(value, list):
        out.add(f"{path}:list")
        for item in value:
            shape_of(item, path + "[]", out)
    else:
        out.add(f"{path}:{type(value).__name__}")
    return out


# --- the scenario ------------------------------------------------------------------------------


class Scenario:
    """The steps. strict: the first failed check ends the run; otherwise failed checks and
    aborted steps are collected in `deviations` and the run goes on with the next step."""

    def __init__(self, client, prefix, auth=False, strict=True, log=sys.stderr):
        self.c = client
        self.prefix = prefix
        self.auth = auth
        self.strict = strict
        self.log = log
        self.records = []  # (label, "ok", shape) or (label, "error", code)
        self.deviations = []
        self.step = ""
        self.urls = {}
        self.arns = {}
        self.account = ""
        self.system_names = client.supports("ReceiveMessage", "MessageSystemAttributeNames")

    # helpers

    def say(self, text):
        print(f"[{self.step}] {text}", file=self.log, flush=True)

    def fail(self, what):
        message = f"step '{self.step}': {what}"
        if self.strict:
            raise StepFailure(message)
        self.deviations.append(message)
        self.say("DEVIATION " + what)

    def check(self, cond, what):
        if not cond:
            self.fail(what)
        return bool(cond)

    def eq(self, got, want, what):
        return self.check(got == want, f"{what}: got {got!r}, want {want!r}")

    def call(self, label, operation, expect=None, record=True, **params):
        """Calls `operation`; with `expect` (an error code) the call must fail with that code."""
        label = f"{self.step}/{label}"
        try:
            reply = self.c.call(operation, **params)
        except ApiError as e:
            self.records.append((label, "error", e.code))
            if expect is None:
                self.fail(f"{operation} ({label}) failed: {e}")
                raise StepFailure(f"{operation} failed") from None
            self.eq(e.code, expect, f"{operation} ({label}) error code")
            return e
        if record:
            self.records.append((label, "ok", tuple(sorted(shape_of(reply)))))
        if expect is not None:
            self.fail(f"{operation} ({label}) succeeded, want error {expect}: {reply!r:.300}")
        return reply

    def receive(self, label, url, **params):
        params.setdefault("AttributeNames", ["All"])
        params.setdefault("MessageAttributeNames", ["All"])
        if self.system_names:
            params.setdefault("MessageSystemAttributeNames", ["All"])
        params = {k: v for k, v in params.items() if v is not None}
        # Empty polls are recorded apart: how many happen is timing, not shape.
        reply = self.call(label, "ReceiveMessage", QueueUrl=url, record=False, **params)
        messages = reply.get("Messages", [])
        self.records.append(
            (f"{self.step}/{label}" + ("" if messages else ":empty"), "ok",
             tuple(sorted(shape_of(reply))))
        )
        return messages

    def receive_until(self, label, url, count, **params):
        """Receives until `count` messages came or POLL_TRIES polls of a second went by."""
        got = []
        for _ in range(POLL_TRIES):
            got += self.receive(label, url, WaitTimeSeconds=1, MaxNumberOfMessages=10, **params)
            if len(got) >= count:
                break
        return got

    def expect_empty(self, label, url):
        messages = self.receive(label, url, WaitTimeSeconds=1, MaxNumberOfMessages=10)
        self.check(not messages, f"{label}: want no message, got {len(messages)}: {messages!r:.300}")

    def check_url(self, url, name):
        m = re.fullmatch(r"https?://[^/]+/(\d{12})/([A-Za-z0-9_.-]+)", url or "")
        if self.check(m, f"queue URL {url!r} is not http://HOST/ACCOUNT/NAME"):
            self.eq(m.group(2), name, "queue name in URL")
            self.account = m.group(1)

    def create(self, key, name, **params):
        reply = self.call(f"create {key}", "CreateQueue", QueueName=name, **params)
        url = reply.get("QueueUrl")
        self.check_url(url, name)
        self.urls[key] = url
        attrs = self.call(
            f"attributes {key}", "GetQueueAttributes", QueueUrl=url, AttributeNames=["All"]
        ).get("Attributes", {})
        arn = attrs.get("QueueArn", "")
        self.check(
            re.fullmatch(rf"arn:aws:sqs:{re.escape(self.c.region)}:\d{{12}}:{re.escape(name)}", arn),
            f"QueueArn {arn!r} of {name}",
        )
        self.arns[key] = arn
        return url, attrs

    def name(self, key):
        return f"{self.prefix}-{key}"

    # steps

    def step_queues(self):
        name = self.name("std")
        url, _ = self.create("std", name, tags={"team": "e2e"})
        got = self.call("get url", "GetQueueUrl", QueueName=name)
        self.eq(got.get("QueueUrl"), url, "GetQueueUrl")
        again = self.call("create same", "CreateQueue", QueueName=name)
        self.eq(again.get("QueueUrl"), url, "CreateQueue of an existing queue, same attributes")
        self.call(
            "create different",
            "CreateQueue",
            expect="QueueAlreadyExists",
            QueueName=name,
            Attributes={"VisibilityTimeout": "31"},
        )
        self.call("create bad name", "CreateQueue", expect="InvalidParameterValue",
                  QueueName="bad name!")
        self.call(
            "get url missing",
            "GetQueueUrl",
            expect="AWS.SimpleQueueService.NonExistentQueue",
            QueueName=self.name("missing"),
        )

    def step_message(self):
        url = self.urls["std"]
        attrs = dict([STRING_ATTR, NUMBER_ATTR, BINARY_ATTR])
        self.eq(md5_of_attributes(attrs), ALL_ATTRS_MD5, "this script's attribute MD5")
        sent = self.call("send", "SendMessage", QueueUrl=url, MessageBody=TRICKY_BODY,
                         MessageAttributes=attrs)
        self.eq(sent.get("MD5OfMessageBody"), md5_hex(TRICKY_BODY.encode()), "MD5OfMessageBody")
        self.eq(sent.get("MD5OfMessageAttributes"), ALL_ATTRS_MD5, "MD5OfMessageAttributes")
        self.check(sent.get("MessageId"), "SendMessage gave no MessageId")
        before = int(time.time() * 1000)

        msgs = self.receive_until("receive", url, 1, VisibilityTimeout=30)
        self.eq(len(msgs), 1, "messages received")
        m = msgs[0]
        self.eq(m.get("MessageId"), sent.get("MessageId"), "received MessageId")
        self.eq(m.get("Body"), TRICKY_BODY, "received Body")
        self.eq(m.get("MD5OfBody"), md5_hex(TRICKY_BODY.encode()), "MD5OfBody")
        self.eq(m.get("MessageAttributes"), attrs, "received MessageAttributes")
        self.eq(m.get("MD5OfMessageAttributes"), ALL_ATTRS_MD5, "received MD5OfMessageAttributes")
        a = m.get("Attributes", {})
        for key in ("SenderId", "SentTimestamp", "ApproximateReceiveCount",
                    "ApproximateFirstReceiveTimestamp"):
            self.check(key in a, f"system attribute {key} missing from {sorted(a)}")
        self.eq(a.get("ApproximateReceiveCount"), "1", "ApproximateReceiveCount")
        for key in ("SentTimestamp", "ApproximateFirstReceiveTimestamp"):
            value = a.get(key, "")
            # Epoch milliseconds: 13 digits, within a day of this machine's clock.
            self.check(value.isdigit() and abs(int(value) - before) < 86400000,
                       f"{key} {value!r} is not epoch milliseconds near {before}")
        self.check("FifoQueue" not in a and "MessageGroupId" not in a,
                   f"FIFO attributes on a standard queue's message: {sorted(a)}")

        self.call("change visibility", "ChangeMessageVisibility", QueueUrl=url,
                  ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
        # Asked for by name this time: only those come, and the MD5 covers them.
        again = self.receive_until("receive again", url, 1, VisibilityTimeout=30,
                                   AttributeNames=["ApproximateReceiveCount"],
                                   MessageSystemAttributeNames=None,
                                   MessageAttributeNames=["attribName1", "binaryAttribute"])
        self.eq(len(again), 1, "messages received after ChangeMessageVisibility 0")
        self.eq(again[0].get("MessageId"), sent.get("MessageId"), "MessageId received again")
        self.eq(again[0].get("Attributes"), {"ApproximateReceiveCount": "2"},
                "system attributes asked by name, after a second receive")
        some = dict([STRING_ATTR, BINARY_ATTR])
        self.eq(again[0].get("MessageAttributes"), some, "message attributes asked by name")
        self.eq(again[0].get("MD5OfMessageAttributes"), md5_of_attributes(some),
                "MD5OfMessageAttributes of the attributes returned")
        self.check(again[0].get("ReceiptHandle") != m["ReceiptHandle"],
                   "the second receive reused the receipt handle")
        self.call("delete", "DeleteMessage", QueueUrl=url, ReceiptHandle=again[0]["ReceiptHandle"])
        self.expect_empty("receive after delete", url)
        self.call("change visibility bad handle", "ChangeMessageVisibility",
                  expect="ReceiptHandleIsInvalid", QueueUrl=url,
                  ReceiptHandle="not-a-receipt-handle", VisibilityTimeout=10)
        self.call("delete bad handle", "DeleteMessage", expect="ReceiptHandleIsInvalid",
                  QueueUrl=url, ReceiptHandle="not-a-receipt-handle")

    def step_batch(self):
        url = self.urls["std"]
        raw = bytes(range(256)) if self.c.arbitrary_binary else b"printable binary ~"
        extra = {
            "custom.name-1_x": {"DataType": "String.custom-label_1", "StringValue": "välue ☃ 🌊 <&>"},
            "raw": {"DataType": "Binary.octets", "BinaryValue": raw},
            "n": {"DataType": "Number", "StringValue": "-12.5"},
        }
        entries = [
            {"Id": "plain", "MessageBody": "batch one"},
            {"Id": "with-attrs", "MessageBody": "batch two", "MessageAttributes": extra},
            {"Id": "delayed_0", "MessageBody": "batch three", "DelaySeconds": 0},
            # U+0001 is outside the characters SQS accepts; only this entry may fail.
            {"Id": "bad", "MessageBody": "bad \u0001 body"},
        ]
        sent = self.call("send batch", "SendMessageBatch", QueueUrl=url, Entries=entries)
        ok = {e.get("Id"): e for e in sent.get("Successful", [])}
        failed = {e.get("Id"): e for e in sent.get("Failed", [])}
        self.eq(sorted(ok), ["delayed_0", "plain", "with-attrs"], "SendMessageBatch Successful ids")
        self.eq(sorted(failed), ["bad"], "SendMessageBatch Failed ids")
        if "bad" in failed:
            self.eq(failed["bad"].get("Code"), "InvalidMessageContents", "failed entry Code")
            self.eq(failed["bad"].get("SenderFault"), True, "failed entry SenderFault")
        for e in entries[:3]:
            got = ok.get(e["Id"], {})
            self.eq(got.get("MD5OfMessageBody"), md5_hex(e["MessageBody"].encode()),
                    f"MD5OfMessageBody of {e['Id']}")
        self.eq(ok.get("with-attrs", {}).get("MD5OfMessageAttributes"),
                md5_of_attributes(extra), "MD5OfMessageAttributes of with-attrs")

        # "custom.*" asks for the names that start with "custom.", and "n" is left out.
        msgs = self.receive_until("receive batch", url, 3, VisibilityTimeout=60,
                                  MessageAttributeNames=["custom.*", "raw"])
        self.eq(sorted(m.get("Body") for m in msgs), ["batch one", "batch three", "batch two"],
                "bodies received from the batch")
        asked = {k: v for k, v in extra.items() if k != "n"}
        for m in msgs:
            if m.get("Body") == "batch two":
                self.eq(m.get("MessageAttributes"), asked, "attributes of with-attrs received")
                self.eq(m.get("MD5OfMessageAttributes"), md5_of_attributes(asked),
                        "received MD5OfMessageAttributes of with-attrs")
            else:
                self.check("MessageAttributes" not in m and "MD5OfMessageAttributes" not in m,
                           f"attributes on a message sent without: {m!r:.300}")
        handles = {m.get("Body"): m["ReceiptHandle"] for m in msgs}

        change = self.call(
            "change visibility batch", "ChangeMessageVisibilityBatch", QueueUrl=url,
            Entries=[{"Id": f"c{i}", "ReceiptHandle": h, "VisibilityTimeout": 120}
                     for i, h in enumerate(handles.values())]
            + [{"Id": "bogus", "ReceiptHandle": "not-a-receipt-handle", "VisibilityTimeout": 5}],
        )
        self.eq(sorted(e.get("Id") for e in change.get("Successful", [])),
                [f"c{i}" for i in range(len(handles))], "ChangeMessageVisibilityBatch Successful")
        bad = change.get("Failed", [])
        if self.eq([e.get("Id") for e in bad], ["bogus"], "ChangeMessageVisibilityBatch Failed"):
            self.eq(bad[0].get("Code"), "ReceiptHandleIsInvalid", "failed change Code")
            self.eq(bad[0].get("SenderFault"), True, "failed change SenderFault")

        delete = self.call(
            "delete batch", "DeleteMessageBatch", QueueUrl=url,
            Entries=[{"Id": f"d{i}", "ReceiptHandle": h} for i, h in enumerate(handles.values())]
            + [{"Id": "bogus", "ReceiptHandle": "not-a-receipt-handle"}],
        )
        self.eq(sorted(e.get("Id") for e in delete.get("Successful", [])),
                [f"d{i}" for i in range(len(handles))], "DeleteMessageBatch Successful")
        bad = delete.get("Failed", [])
        if self.eq([e.get("Id") for e in bad], ["bogus"], "DeleteMessageBatch Failed"):
            self.eq(bad[0].get("Code"), "ReceiptHandleIsInvalid", "failed delete Code")
            self.eq(bad[0].get("SenderFault"), True, "failed delete SenderFault")
        self.call("send batch duplicate ids", "SendMessageBatch",
                  expect="AWS.SimpleQueueService.BatchEntryIdsNotDistinct", QueueUrl=url,
                  Entries=[{"Id": "same", "MessageBody": "a"}, {"Id": "same", "MessageBody": "b"}])
        self.expect_empty("receive after batch delete", url)

    def step_dead_letter(self):
        dlq, _ = self.create("dlq", self.name("dlq"))
        src, _ = self.create("src", self.name("src"))
        policy = {"deadLetterTargetArn": self.arns["dlq"], "maxReceiveCount": 1}
        self.call("set redrive", "SetQueueAttributes", QueueUrl=src,
                  Attributes={"RedrivePolicy": json.dumps(policy)})
        got = self.call("get redrive", "GetQueueAttributes", QueueUrl=src,
                        AttributeNames=["RedrivePolicy"]).get("Attributes", {})
        try:
            stored = json.loads(got.get("RedrivePolicy", ""))
        except ValueError:
            stored = None
        self.check(
            isinstance(stored, dict)
            and stored.get("deadLetterTargetArn") == self.arns["dlq"]
            and str(stored.get("maxReceiveCount")) == "1",
            f"RedrivePolicy read back as {got.get('RedrivePolicy')!r}",
        )
        sent = self.call("send", "SendMessage", QueueUrl=src, MessageBody="to the dead letters")
        first = self.receive_until("receive source", src, 1, VisibilityTimeout=0)
        self.eq(len(first), 1, "first receive from the source queue")
        # The next receive would be the second: over maxReceiveCount, so the message moves.
        again = self.receive("receive source again", src, WaitTimeSeconds=1, VisibilityTimeout=0)
        self.check(not again, "message received again past maxReceiveCount 1")
        moved = self.receive_until("receive dlq", dlq, 1, VisibilityTimeout=30)
        if self.eq(len(moved), 1, "messages in the dead-letter queue"):
            m = moved[0]
            self.eq(m.get("Body"), "to the dead letters", "dead-letter Body")
            self.eq(m.get("MessageId"), sent.get("MessageId"), "dead-letter MessageId")
            self.eq(m.get("Attributes", {}).get("DeadLetterQueueSourceArn"), self.arns["src"],
                    "DeadLetterQueueSourceArn")
        sources = self.call("list sources", "ListDeadLetterSourceQueues", QueueUrl=dlq)
        self.eq(sources.get("queueUrls"), [src], "ListDeadLetterSourceQueues")
        if not moved:
            return
        if self.c.supports("StartMessageMoveTask"):
            self.call("visible again", "ChangeMessageVisibility", QueueUrl=dlq,
                      ReceiptHandle=moved[0]["ReceiptHandle"], VisibilityTimeout=0)
            self.move_back(src, dlq)
        else:
            self.say("the client has no StartMessageMoveTask")
            self.call("delete dlq", "DeleteMessage", QueueUrl=dlq,
                      ReceiptHandle=moved[0]["ReceiptHandle"])

    def move_back(self, src, dlq):
        """StartMessageMoveTask from the DLQ to where its messages came from."""
        # Room for the receive that follows the move, whatever count the moved message carries.
        policy = {"deadLetterTargetArn": self.arns["dlq"], "maxReceiveCount": 5}
        self.call("raise maxReceiveCount", "SetQueueAttributes", QueueUrl=src,
                  Attributes={"RedrivePolicy": json.dumps(policy)})
        task = self.call("start move", "StartMessageMoveTask", SourceArn=self.arns["dlq"])
        self.check(task.get("TaskHandle"), f"StartMessageMoveTask gave no TaskHandle: {task}")
        back = self.receive_until("receive moved back", src, 1, VisibilityTimeout=30)
        if self.eq([m.get("Body") for m in back], ["to the dead letters"], "messages moved back"):
            self.call("delete moved", "DeleteMessage", QueueUrl=src,
                      ReceiptHandle=back[0]["ReceiptHandle"])
        tasks = self.call("list moves", "ListMessageMoveTasks",
                          SourceArn=self.arns["dlq"]).get("Results", [])
        if self.eq(len(tasks), 1, "ListMessageMoveTasks results"):
            self.check(tasks[0].get("Status") in ("RUNNING", "COMPLETED"),
                       f"move task status {tasks[0].get('Status')!r}")
            self.eq(tasks[0].get("SourceArn"), self.arns["dlq"], "move task SourceArn")
        self.expect_empty("dlq after move", dlq)

    def step_fifo(self):
        url, attrs = self.create("fifo", self.name("fifo") + ".fifo",
                                 Attributes={"FifoQueue": "true"})
        self.eq(attrs.get("FifoQueue"), "true", "FifoQueue")
        self.eq(attrs.get("ContentBasedDeduplication"), "false", "ContentBasedDeduplication")
        order = [("g1", "g1-m1"), ("g2", "g2-m1"), ("g1", "g1-m2"), ("g2", "g2-m2")]
        sent = {}
        for group, body in order:
            r = self.call("send", "SendMessage", QueueUrl=url, MessageBody=body,
                          MessageGroupId=group, MessageDeduplicationId=f"dedup-{body}")
            self.check(str(r.get("SequenceNumber", "")).isdigit(),
                       f"SequenceNumber of a FIFO send: {r.get('SequenceNumber')!r}")
            sent[body] = r
        self.call("send duplicate", "SendMessage", QueueUrl=url, MessageBody="g1-repeated",
                  MessageGroupId="g1", MessageDeduplicationId="dedup-g1-m1")
        self.call("send without group", "SendMessage", expect="MissingParameter", QueueUrl=url,
                  MessageBody="no group", MessageDeduplicationId="dedup-none")
        # No deduplication id and no ContentBasedDeduplication; a per-message delay.
        self.call("send without dedup id", "SendMessage", expect="InvalidParameterValue",
                  QueueUrl=url, MessageBody="no dedup", MessageGroupId="g1")
        self.call("send delayed", "SendMessage", expect="InvalidParameterValue", QueueUrl=url,
                  MessageBody="delayed", MessageGroupId="g1", MessageDeduplicationId="dedup-delay",
                  DelaySeconds=5)

        received = []
        for _ in range(POLL_TRIES):
            batch = self.receive("receive", url, WaitTimeSeconds=1, MaxNumberOfMessages=10,
                                 VisibilityTimeout=60)
            groups = [m.get("Attributes", {}).get("MessageGroupId") for m in batch]
            # While a group has a message in flight, the group gives nothing more.
            blocked = self.receive("receive while in flight", url, MaxNumberOfMessages=10)
            for m in blocked:
                self.check(m.get("Attributes", {}).get("MessageGroupId") not in groups,
                           f"{m.get('Body')!r} delivered while its group had one in flight")
            received += batch + blocked
            if batch + blocked:
                done = self.call("delete", "DeleteMessageBatch", QueueUrl=url, Entries=[
                    {"Id": f"m{i}", "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(batch + blocked)])
                self.check(not done.get("Failed"), f"FIFO deletes failed: {done.get('Failed')}")
            if len(received) >= len(order):
                break
        bodies = [m.get("Body") for m in received]
        self.eq(sorted(bodies), sorted(b for _, b in order), "FIFO bodies (the duplicate suppressed)")
        for group in ("g1", "g2"):
            self.eq([b for b in bodies if b.startswith(group)], [f"{group}-m1", f"{group}-m2"],
                    f"order within group {group}")
        for m in received:
            a = m.get("Attributes", {})
            body = m.get("Body")
            self.eq(a.get("MessageGroupId"), body[:2], f"MessageGroupId of {body}")
            self.eq(a.get("MessageDeduplicationId"), f"dedup-{body}",
                    f"MessageDeduplicationId of {body}")
            if body in sent:
                self.eq(a.get("SequenceNumber"), sent[body].get("SequenceNumber"),
                        f"SequenceNumber of {body}")
        self.expect_empty("receive after all", url)

    def step_purge(self):
        url = self.urls["std"]
        for i in range(3):
            self.call("send", "SendMessage", QueueUrl=url, MessageBody=f"purge me {i}")
        self.call("send delayed", "SendMessage", QueueUrl=url, MessageBody="later", DelaySeconds=900)
        a = self.call("counts", "GetQueueAttributes", QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed"]).get("Attributes", {})
        self.eq(a, {"ApproximateNumberOfMessages": "3", "ApproximateNumberOfMessagesNotVisible": "0",
                    "ApproximateNumberOfMessagesDelayed": "1"}, "message counts before purging")
        self.call("purge", "PurgeQueue", QueueUrl=url)
        self.expect_empty("receive after purge", url)
        self.call("purge again", "PurgeQueue", expect="AWS.SimpleQueueService.PurgeQueueInProgress",
                  QueueUrl=url)

    def step_tags(self):
        url = self.urls["std"]
        got = self.call("list initial", "ListQueueTags", QueueUrl=url)
        self.eq(got.get("Tags"), {"team": "e2e"}, "tags given at CreateQueue")
        self.call("tag", "TagQueue", QueueUrl=url, Tags={"env": "tëst ☃", "owner": "sluice"})
        got = self.call("list tagged", "ListQueueTags", QueueUrl=url)
        self.eq(got.get("Tags"), {"team": "e2e", "env": "tëst ☃", "owner": "sluice"},
                "tags after TagQueue")
        self.call("untag", "UntagQueue", QueueUrl=url, TagKeys=["env", "team"])
        got = self.call("list untagged", "ListQueueTags", QueueUrl=url)
        self.eq(got.get("Tags"), {"owner": "sluice"}, "tags after UntagQueue")

    def step_attributes(self):
        url = self.urls["std"]
        name = self.name("std")
        self.call("set", "SetQueueAttributes", QueueUrl=url, Attributes={
            "VisibilityTimeout": "45", "MessageRetentionPeriod": "3600", "DelaySeconds": "0",
            "ReceiveMessageWaitTimeSeconds": "0", "MaximumMessageSize": str(MAX_MESSAGE_BYTES)})
        a = self.call("get all", "GetQueueAttributes", QueueUrl=url,
                      AttributeNames=["All"]).get("Attributes", {})
        want = {"VisibilityTimeout": "45", "MessageRetentionPeriod": "3600", "DelaySeconds": "0",
                "ReceiveMessageWaitTimeSeconds": "0", "MaximumMessageSize": str(MAX_MESSAGE_BYTES),
                "QueueArn": self.arns["std"]}
        for key, value in want.items():
            self.eq(a.get(key), value, f"attribute {key}")
        for key in ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed", "CreatedTimestamp", "LastModifiedTimestamp"):
            self.check(str(a.get(key, "")).isdigit(), f"attribute {key} = {a.get(key)!r}")
        self.check("FifoQueue" not in a, "FifoQueue listed for a standard queue")
        self.eq(a.get("QueueArn", "").rsplit(":", 1)[-1], name, "QueueArn's name")
        some = self.call("get some", "GetQueueAttributes", QueueUrl=url,
                         AttributeNames=["VisibilityTimeout", "DelaySeconds"]).get("Attributes", {})
        self.eq(some, {"VisibilityTimeout": "45", "DelaySeconds": "0"}, "attributes asked by name")
        self.call("set out of range", "SetQueueAttributes", expect="InvalidAttributeValue",
                  QueueUrl=url, Attributes={"VisibilityTimeout": "43201"})
        self.call("get unknown", "GetQueueAttributes", expect="InvalidAttributeName",
                  QueueUrl=url, AttributeNames=["NoSuchAttribute"])

        self.call("add permission", "AddPermission", QueueUrl=url, Label="e2e-send",
                  AWSAccountIds=[self.account], Actions=["SendMessage", "ReceiveMessage"])
        got = self.call("get policy", "GetQueueAttributes", QueueUrl=url,
                        AttributeNames=["Policy"]).get("Attributes", {})
        try:
            statements = json.loads(got.get("Policy", "")).get("Statement", [])
        except (ValueError, AttributeError):
            statements = None
        self.check(isinstance(statements, list) and [st.get("Sid") for st in statements] == ["e2e-send"],
                   f"Policy after AddPermission: {got.get('Policy')!r}")
        self.call("remove permission", "RemovePermission", QueueUrl=url, Label="e2e-send")
        got = self.call("get policy removed", "GetQueueAttributes", QueueUrl=url,
                        AttributeNames=["Policy"]).get("Attributes", {})
        try:
            left = json.loads(got["Policy"]).get("Statement", []) if "Policy" in got else []
        except ValueError:
            left = None
        self.eq(left, [], "Policy statements after RemovePermission")
        self.call("remove unknown permission", "RemovePermission", expect="InvalidParameterValue",
                  QueueUrl=url, Label="e2e-send")

    def step_size(self):
        url = self.urls["std"]
        body = "x" * MAX_MESSAGE_BYTES
        sent = self.call("send largest", "SendMessage", QueueUrl=url, MessageBody=body)
        self.eq(sent.get("MD5OfMessageBody"), md5_hex(body.encode()), "MD5 of the largest message")
        self.call("send too large", "SendMessage", expect="InvalidParameterValue", QueueUrl=url,
                  MessageBody=body + "x")
        half = "y" * (MAX_MESSAGE_BYTES // 2 + 1)
        self.call("send batch too large", "SendMessageBatch",
                  expect="AWS.SimpleQueueService.BatchRequestTooLong", QueueUrl=url,
                  Entries=[{"Id": "a", "MessageBody": half}, {"Id": "b", "MessageBody": half}])
        msgs = self.receive_until("receive largest", url, 1)
        if self.eq(len(msgs), 1, "largest message received"):
            self.eq(len(msgs[0].get("Body", "")), MAX_MESSAGE_BYTES, "largest body's length")
            self.eq(msgs[0].get("MD5OfBody"), md5_hex(body.encode()), "largest body's MD5")
            self.call("delete", "DeleteMessage", QueueUrl=url, ReceiptHandle=msgs[0]["ReceiptHandle"])

    def step_list(self):
        got = self.call("list prefix", "ListQueues", QueueNamePrefix=self.prefix)
        self.eq(sorted(got.get("QueueUrls", [])), sorted(self.urls.values()), "ListQueues by prefix")
        urls = self.list_in_pages()
        self.eq(sorted(urls), sorted(self.urls.values()), "ListQueues by prefix, two at a time")
        got = self.call("list fifo prefix", "ListQueues", QueueNamePrefix=self.name("fifo"))
        self.eq(got.get("QueueUrls"), [self.urls["fifo"]], "ListQueues by the FIFO queue's prefix")
        got = self.call("list none", "ListQueues", QueueNamePrefix=self.name("nothing"))
        self.eq(got.get("QueueUrls", []), [], "ListQueues with a prefix nothing has")

    def list_in_pages(self):
        if isinstance(self.c, CliClient):
            # The CLI pages by itself: --page-size 2 makes it follow NextToken.
            return self.call("list pages", "ListQueues", QueueNamePrefix=self.prefix,
                             PageSize=2).get("QueueUrls", [])
        urls, token = [], None
        for _ in range(len(self.urls) + 1):
            page = self.call("list page", "ListQueues", QueueNamePrefix=self.prefix, MaxResults=2,
                             **({"NextToken": token} if token else {}))
            self.check(len(page.get("QueueUrls", [])) <= 2, f"a page of 2 held {page}")
            urls += page.get("QueueUrls", [])
            token = page.get("NextToken")
            if not token:
                break
        return urls

    def step_auth(self):
        key = os.environ["AWS_ACCESS_KEY_ID"]
        wrong_secret = self.c.with_credentials(key, "not-the-secret")
        self._expect_refused(wrong_secret, "SignatureDoesNotMatch")
        unknown_key = self.c.with_credentials("AKIDUNKNOWNTOSLUICE", "whatever")
        self._expect_refused(unknown_key, "InvalidClientTokenId")

    def _expect_refused(self, client, code):
        try:
            client.call("ListQueues", QueueNamePrefix=self.prefix)
        except ApiError as e:
            self.records.append((f"{self.step}/{code}", "error", e.code))
            self.eq(e.code, code, "error code of a badly signed request")
            if e.status is not None:
                self.eq(e.status, 403, "HTTP status of a badly signed request")
            return
        self.fail(f"a request signed for {code} was answered")

    def step_delete(self):
        for key, url in self.urls.items():
            self.call(f"delete {key}", "DeleteQueue", QueueUrl=url)
        self.call("get url deleted", "GetQueueUrl", expect="AWS.SimpleQueueService.NonExistentQueue",
                  QueueName=self.name("std"))
        self.call("send deleted", "SendMessage", expect="AWS.SimpleQueueService.NonExistentQueue",
                  QueueUrl=self.urls["std"], MessageBody="gone")
        got = self.call("list after", "ListQueues", QueueNamePrefix=self.prefix)
        self.eq(got.get("QueueUrls", []), [], "ListQueues after DeleteQueue")

    def steps(self):
        steps = [
            ("queues", self.step_queues),
            ("message", self.step_message),
            ("batch", self.step_batch),
            ("dead-letter", self.step_dead_letter),
            ("fifo", self.step_fifo),
            ("purge", self.step_purge),
            ("tags", self.step_tags),
            ("attributes", self.step_attributes),
            ("size", self.step_size),
            ("list", self.step_list),
        ]
        if self.auth:
            steps.append(("auth", self.step_auth))
        steps.append(("delete", self.step_delete))
        return steps

    def run(self):
        self.say(f"client {self.c.name}, {self.c.protocol} protocol, queues {self.prefix}-*")
        for name, step in self.steps():
            self.step = name
            self.say("start")
            try:
                step()
            except StepFailure:
                if self.strict:
                    raise
            except Exception as e:  # noqa: BLE001 - lenient runs go on past a broken step
                if self.strict:
                    raise StepFailure(f"step '{name}': {type(e).__name__}: {e}") from e
                self.fail(f"aborted: {type(e).__name__}: {str(e)[:1000]}")
        self.step = "end"


def make_client(args):
    key = os.environ.get("AWS_ACCESS_KEY_ID")
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not key or not secret:
        raise SystemExit("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set")
    if args.client == "cli":
        return CliClient(args.aws, args.endpoint, args.region, key, secret, args.debug)
    return Boto3Client(args.endpoint, args.region, key, secret, args.debug)


def isolate_from_user_config():
    # No profile, config file or instance metadata of the machine may leak into the run.
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL",
                "AWS_ENDPOINT_URL_SQS"):
        os.environ.pop(var, None)


def probe(make):
    try:
        client = make()
    except (ImportError, OSError, subprocess.SubprocessError) as e:
        print(f"no client: {type(e).__name__}: {e}")
        return 3
    print(f"protocol={client.protocol} name={client.name}")
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--endpoint", default=os.environ.get("SQS_ENDPOINT_URL"))
    p.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    p.add_argument("--client", choices=["boto3", "cli"], default="boto3")
    p.add_argument("--aws", default="aws", help="the CLI for --client cli")
    p.add_argument("--prefix", default=None, help="queue name prefix (default: random)")
    p.add_argument("--auth", action="store_true", help="the server verifies signatures")
    p.add_argument("--debug", action="store_true", help="client debug logging on stderr")
    p.add_argument("--lenient", action="store_true",
                   help="run every step and list every failed check instead of stopping")
    p.add_argument("--probe", action="store_true",
                   help="only print the client's wire protocol and version (exit 3: no client)")
    args = p.parse_args()
    isolate_from_user_config()
    if args.probe:
        args.endpoint = args.endpoint or "http://127.0.0.1:9"
        return probe(lambda: make_client(args))
    if not args.endpoint:
        p.error("--endpoint (or SQS_ENDPOINT_URL) is required")
    scenario = Scenario(make_client(args), args.prefix or f"e2e-{uuid.uuid4().hex[:8]}",
                        auth=args.auth, strict=not args.lenient)
    try:
        scenario.run()
    except StepFailure as e:
        print(f"FAILED: {e}", file=sys.stderr)
        return 1
    if scenario.deviations:
        print("FAILED:\n  " + "\n  ".join(scenario.deviations), file=sys.stderr)
        return 1
    print(f"PASSED: {scenario.c.name} ({scenario.c.protocol}), {len(scenario.records)} calls")
    return 0


if __name__ == "__main__":
    sys.exit(main())
