#!/usr/bin/env python3
"""SNS scenarios driven through a real AWS client against sluice-dataplane's endpoint.

    scenario.py --endpoint http://127.0.0.1:PORT [--client boto3|cli] [--aws PATH] [--part P]

--client boto3 uses the boto3 of the Python that runs this file; --client cli runs `aws sns ...`
and `aws sqs ...` commands with the CLI named by --aws. Credentials come from AWS_ACCESS_KEY_ID
and AWS_SECRET_ACCESS_KEY.

--part clients (the default): a topic with two queue subscriptions (one raw, one filtered), an
https subscription refused, a publish with String, Number and Binary attributes whose deliveries
are checked field by field (the envelope's signature verified against the certificate fetched
from its SigningCertURL), filter routing, attributes, tags, PublishBatch, unsubscribe, topic
deletion, and a FIFO topic feeding a FIFO queue (group order, deduplication). Then http
endpoints (a server in this process, on loopback): the SubscriptionConfirmation handshake (by
the SubscribeURL, unsigned, and by ConfirmSubscription), notifications with their x-amz-sns-*
headers, raw delivery and filtering; with boto3 also delivery policies, retries of an endpoint
that fails or is down, the subscription's dead-letter queue, and deliveries resuming once the
endpoint is back.

--part filters: a table of filter policies, one per subscription, every operator in both scopes,
each with messages that must and must not reach its queue.

The run stops at the first difference with a message naming the step and exits 1; it prints
PASSED on success. --probe only prints the client's protocol and version (exit 3: no client).
"""

import argparse
import base64
import http.server
import json
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import urllib.request
import uuid

POLL_TRIES = 10
CERT_PATH = "/SimpleNotificationService-sluice.pem"


class ApiError(Exception):
    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code


class StepFailure(Exception):
    pass


# --- clients -----------------------------------------------------------------------------------


class Boto3Client:
    """boto3's low-level SNS and SQS clients, retries off."""

    def __init__(self, endpoint, region, access_key, secret_key):
        import boto3
        import botocore
        from botocore.config import Config

        self.endpoint = endpoint
        self.region = region
        self.name = f"boto3 {boto3.__version__} (botocore {botocore.__version__})"
        session = boto3.session.Session(
            aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=region
        )
        config = Config(retries={"total_max_attempts": 1}, connect_timeout=10, read_timeout=60)
        self.clients = {
            service: session.client(service, endpoint_url=endpoint, config=config)
            for service in ("sns", "sqs")
        }
        self.protocol = self.clients["sns"].meta.service_model.protocol

    # Any bytes as a Binary attribute value.
    arbitrary_binary = True

    def call(self, service, operation, **params):
        from botocore import xform_name
        from botocore.exceptions import ClientError

        try:
            reply = getattr(self.clients[service], xform_name(operation))(**params)
        except ClientError as e:
            err = e.response.get("Error", {})
            raise ApiError(err.get("Code"), err.get("Message")) from None
        reply.pop("ResponseMetadata", None)
        return reply


def kebab(name):
    """The CLI's flag for a member: TopicArn -> topic-arn, MessageAttributeNames -> ..."""
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1-\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1-\2", name).lower()


class CliClient:
    """`aws <service> <command>` with one flag per request member, structures as JSON text."""

    # Members whose flag is not their kebab-case name (--endpoint would clash with --endpoint-url).
    FLAGS = {"Endpoint": "notification-endpoint"}

    def __init__(self, aws, endpoint, region, access_key, secret_key):
        self.aws = aws
        self.endpoint = endpoint
        self.region = region
        self.access_key = access_key
        self.secret_key = secret_key
        version = subprocess.run([aws, "--version"], capture_output=True, text=True, timeout=60)
        self.version = (version.stdout + version.stderr).strip()
        if version.returncode != 0 or not self.version.startswith("aws-cli/"):
            raise OSError(f"{aws} --version: {self.version}")
        self.name = f"{aws}: {self.version}"
        self.v2 = self.version.startswith("aws-cli/2.")
        self.protocol = "query"  # SNS has no other protocol in any CLI
        # The queues that check the deliveries are read through boto3 when this Python has it:
        # a CLI call costs an interpreter start, and the SNS calls are what is under test.
        try:
            self.queues = Boto3Client(endpoint, region, access_key, secret_key)
            self.name += f"; queues read with {self.queues.name}"
        except ImportError:
            self.queues = None

    # Binary values go through the command line as text.
    arbitrary_binary = False

    def _env(self):
        env = dict(os.environ)
        env.update(
            AWS_ACCESS_KEY_ID=self.access_key,
            AWS_SECRET_ACCESS_KEY=self.secret_key,
            AWS_MAX_ATTEMPTS="1",
            AWS_RETRY_MODE="standard",
            AWS_PAGER="",
        )
        return env

    @staticmethod
    def _jsonable(value):
        # awscli v1 takes blobs raw, v2 is told so by --cli-binary-format raw-in-base64-out.
        if isinstance(value, bytes):
            return value.decode("ascii")
        if isinstance(value, dict):
            return {k: CliClient._jsonable(v) for k, v in value.items()}
        if isinstance(value, list):
            return [CliClient._jsonable(v) for v in value]
        return value

    def call(self, service, operation, **params):
        if service == "sqs" and self.queues is not None:
            return self.queues.call(service, operation, **params)
        argv = [self.aws, service, kebab(operation), "--endpoint-url", self.endpoint]
        argv += ["--region", self.region, "--output", "json"]
        if self.v2:
            argv += ["--cli-binary-format", "raw-in-base64-out"]
        for key, value in params.items():
            flag = self.FLAGS.get(key, kebab(key)) if service == "sns" else kebab(key)
            if isinstance(value, bool):
                argv.append(("--" if value else "--no-") + flag)
                continue
            argv.append("--" + flag)
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                argv += value
            elif isinstance(value, (dict, list)):
                argv.append(json.dumps(self._jsonable(value), ensure_ascii=False))
            else:
                argv.append(str(value))
        done = subprocess.run(argv, capture_output=True, text=True, env=self._env(), timeout=90)
        if done.returncode != 0:
            m = re.search(r"An error occurred \(([^)]+)\)[^:]*: ?(.*)", done.stderr)
            if m:
                raise ApiError(m.group(1), m.group(2).strip())
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


# --- signatures --------------------------------------------------------------------------------


def canonical_notification(envelope):
    """SNS's string to sign for a Notification (SignatureVersion 1)."""
    out = ""
    for key in ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"):
        if key in envelope:
            out += f"{key}\n{envelope[key]}\n"
    return out.encode()


def canonical_confirmation(message):
    """SNS's string to sign for a SubscriptionConfirmation."""
    keys = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
    return "".join(f"{key}\n{message[key]}\n" for key in keys).encode()


def verify_sha1_rsa(cert_pem, data, signature):
    """True when `signature` is data's SHA1withRSA under the certificate's key."""
    try:
        from cryptography import x509
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
    except ImportError:
        return verify_with_openssl(cert_pem, data, signature)
    key = x509.load_pem_x509_certificate(cert_pem).public_key()
    try:
        key.verify(signature, data, padding.PKCS1v15(), hashes.SHA1())
        return True
    except InvalidSignature:
        return False


def verify_with_openssl(cert_pem, data, signature):
    with tempfile.TemporaryDirectory(prefix="sns-sig-") as tmp:
        cert, key, sig, body = (os.path.join(tmp, n) for n in ("c.pem", "k.pem", "s", "d"))
        for path, content in ((cert, cert_pem), (sig, signature), (body, data)):
            with open(path, "wb") as f:
                f.write(content)
        subprocess.run(["openssl", "x509", "-in", cert, "-pubkey", "-noout", "-out", key],
                       check=True, capture_output=True, timeout=30)
        done = subprocess.run(["openssl", "dgst", "-sha1", "-verify", key, "-signature", sig, body],
                              capture_output=True, timeout=30)
        return done.returncode == 0


# --- an http endpoint -------------------------------------------------------------------------


class EndpointServer:
    """A subscriber's http endpoint on loopback: records every POST (path, headers, body) and
    answers each with `status`; down() closes its port, up() opens the same port again."""

    def __init__(self):
        self.posts = queue.Queue()
        self.status = 200
        self.server = None
        self.port = 0
        self.up()

    def up(self):
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the name http.server calls
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length).decode()
                headers = {k.lower(): v for k, v in self.headers.items()}
                owner.posts.put((self.path, headers, body))
                self.send_response(owner.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def down(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def take(self, timeout):
        try:
            return self.posts.get(timeout=timeout)
        except queue.Empty:
            return None


# --- the scenarios -----------------------------------------------------------------------------


class Scenario:
    def __init__(self, client, prefix, log=sys.stderr):
        self.c = client
        self.prefix = prefix
        self.log = log
        self.step = ""
        self.calls = 0
        self.certs = {}
        # Refusals and corner cases are checked once, with boto3; the CLIs, an interpreter start
        # per call, run the main path.
        self.full = isinstance(client, Boto3Client)

    def say(self, text):
        print(f"[{self.step}] {text}", file=self.log, flush=True)

    def fail(self, what):
        raise StepFailure(f"step '{self.step}': {what}")

    def check(self, cond, what):
        if not cond:
            self.fail(what)

    def eq(self, got, want, what):
        self.check(got == want, f"{what}: got {got!r}, want {want!r}")

    def call(self, service, operation, expect=None, **params):
        """Calls `operation`; with `expect` (an error code) the call must fail with that code."""
        self.calls += 1
        try:
            reply = self.c.call(service, operation, **params)
        except ApiError as e:
            if expect is None:
                self.fail(f"{service} {operation} failed: {e}")
            self.eq(e.code, expect, f"{operation} error code")
            return e
        if expect is not None:
            self.fail(f"{operation} succeeded, want error {expect}: {reply!r:.300}")
        return reply

    def sns(self, operation, expect=None, **params):
        return self.call("sns", operation, expect, **params)

    def sqs(self, operation, expect=None, **params):
        return self.call("sqs", operation, expect, **params)

    def name(self, key):
        return f"{self.prefix}-{key}"

    def create_queue(self, key, fifo=False):
        name = self.name(key) + (".fifo" if fifo else "")
        attrs = {"Attributes": {"FifoQueue": "true"}} if fifo else {}
        url = self.sqs("CreateQueue", QueueName=name, **attrs)["QueueUrl"]
        arn = self.sqs("GetQueueAttributes", QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        return url, arn

    def subscribe(self, topic, queue_arn, **attributes):
        params = {"TopicArn": topic, "Protocol": "sqs", "Endpoint": queue_arn}
        if attributes:
            params["Attributes"] = attributes
        params["ReturnSubscriptionArn"] = True
        arn = self.sns("Subscribe", **params)["SubscriptionArn"]
        self.check(arn.startswith(topic + ":"), f"subscription ARN {arn!r} is not under {topic}")
        return arn

    def receive_all(self, url, count):
        """Receives (and deletes) until `count` messages came or POLL_TRIES polls went by, then
        makes sure nothing more is there."""
        got = []
        for _ in range(POLL_TRIES):
            if len(got) >= count:
                break
            reply = self.sqs("ReceiveMessage", QueueUrl=url, MaxNumberOfMessages=10,
                             WaitTimeSeconds=1, MessageAttributeNames=["All"],
                             AttributeNames=["All"])
            messages = reply.get("Messages", [])
            got += messages
            if messages:
                entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                           for i, m in enumerate(messages)]
                deleted = self.sqs("DeleteMessageBatch", QueueUrl=url, Entries=entries)
                self.check(not deleted.get("Failed"), f"DeleteMessageBatch: {deleted!r:.300}")
        self.eq(len(got), count, f"messages in {url}: {[m['Body'][:80] for m in got]!r}")
        # A publish is answered once every copy is in its queue: nothing is still on its way.
        extra = self.sqs("ReceiveMessage", QueueUrl=url, MaxNumberOfMessages=10,
                         WaitTimeSeconds=0).get("Messages", [])
        self.check(not extra, f"{url}: unexpected extra messages {extra!r:.500}")
        return got

    def certificate(self, url):
        if url not in self.certs:
            # Fetched as any subscriber would: a plain GET, unsigned.
            with urllib.request.urlopen(url, timeout=10) as reply:
                self.certs[url] = reply.read()
            self.check(b"-----BEGIN CERTIFICATE-----" in self.certs[url],
                       f"{url} is not a PEM certificate: {self.certs[url][:200]!r}")
        return self.certs[url]

    def check_envelope(self, body, topic, message_id, message, subscription, subject=None):
        """Parses and checks a notification envelope; returns it."""
        try:
            e = json.loads(body)
        except ValueError:
            self.fail(f"delivery is not a JSON envelope: {body[:300]!r}")
        self.eq(e.get("Type"), "Notification", "envelope Type")
        self.eq(e.get("MessageId"), message_id, "envelope MessageId (the publish reply's)")
        self.eq(e.get("TopicArn"), topic, "envelope TopicArn")
        self.eq(e.get("Message"), message, "envelope Message")
        self.eq(e.get("Subject"), subject, "envelope Subject")
        self.check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z", e.get("Timestamp", "")),
                   f"envelope Timestamp {e.get('Timestamp')!r}")
        self.eq(e.get("SignatureVersion"), "1", "envelope SignatureVersion")
        self.eq(e.get("SigningCertURL"), self.c.endpoint + CERT_PATH, "envelope SigningCertURL")
        unsubscribe = e.get("UnsubscribeURL", "")
        self.check(unsubscribe.startswith(self.c.endpoint + "/?Action=Unsubscribe&SubscriptionArn=")
                   and unsubscribe.endswith(subscription),
                   f"envelope UnsubscribeURL {unsubscribe!r} for {subscription}")
        signature = base64.b64decode(e.get("Signature", ""), validate=True)
        cert = self.certificate(e["SigningCertURL"])
        self.check(verify_sha1_rsa(cert, canonical_notification(e), signature),
                   f"envelope Signature does not verify: {body[:600]}")
        return e

    # --- part "clients" ---

    def attributes(self):
        binary = b"\x00\x01\xfe\xffbin" if self.c.arbitrary_binary else b"binary text"
        return binary, {
            "color": {"DataType": "String", "StringValue": "red"},
            "size": {"DataType": "Number", "StringValue": "42.5"},
            "blob": {"DataType": "Binary", "BinaryValue": binary},
        }

    def step_setup(self):
        self.topic = self.sns("CreateTopic", Name=self.name("topic"))["TopicArn"]
        self.check(re.fullmatch(rf"arn:aws:sns:{self.c.region}:\d{{12}}:{self.name('topic')}",
                                self.topic), f"TopicArn {self.topic!r}")
        if self.full:
            again = self.sns("CreateTopic", Name=self.name("topic"))["TopicArn"]
            self.eq(again, self.topic, "CreateTopic of an existing topic")
        self.raw_url, raw_arn = self.create_queue("raw")
        self.filtered_url, filtered_arn = self.create_queue("filtered")
        self.raw_sub = self.subscribe(self.topic, raw_arn, RawMessageDelivery="true")
        self.policy = {"color": ["red"], "size": [{"numeric": [">", 40]}]}
        self.filtered_sub = self.subscribe(self.topic, filtered_arn,
                                           FilterPolicy=json.dumps(self.policy))
        if self.full:
            self.sns("Subscribe", expect="InvalidParameter", TopicArn=self.topic,
                     Protocol="https", Endpoint="https://127.0.0.1:9/sns")

    def step_publish(self):
        binary, attrs = self.attributes()
        message = "hello <&> \"quoted\" ☃ " + self.prefix
        reply = self.sns("Publish", TopicArn=self.topic, Message=message, Subject="greeting",
                         MessageAttributes=attrs)
        message_id = reply.get("MessageId", "")
        self.check(re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                                message_id), f"MessageId {message_id!r}")
        # Raw: the bare message, the attributes carried over as SQS attributes.
        [raw] = self.receive_all(self.raw_url, 1)
        self.eq(raw["Body"], message, "raw delivery body")
        got = raw.get("MessageAttributes", {})
        self.eq(sorted(got), ["blob", "color", "size"], "raw delivery attribute names")
        self.eq((got["color"]["DataType"], got["color"].get("StringValue")), ("String", "red"),
                "raw String attribute")
        self.eq((got["size"]["DataType"], got["size"].get("StringValue")), ("Number", "42.5"),
                "raw Number attribute")
        self.eq((got["blob"]["DataType"], got["blob"].get("BinaryValue")), ("Binary", binary),
                "raw Binary attribute")
        # Filtered (red, 42.5 > 40): the signed envelope.
        [wrapped] = self.receive_all(self.filtered_url, 1)
        e = self.check_envelope(wrapped["Body"], self.topic, message_id, message,
                                self.filtered_sub, subject="greeting")
        self.eq(e.get("MessageAttributes"), {
            "color": {"Type": "String", "Value": "red"},
            "size": {"Type": "Number", "Value": "42.5"},
            "blob": {"Type": "Binary", "Value": base64.b64encode(binary).decode()},
        }, "envelope MessageAttributes")
        self.check(not wrapped.get("MessageAttributes"),
                   f"an envelope delivery carries no SQS attributes: {wrapped!r:.300}")

        # Routing: blue, or red but too small, reach only the raw queue.
        for color, size in (("blue", "50"), ("red", "40")):
            self.sns("Publish", TopicArn=self.topic, Message=f"{color}-{size}", MessageAttributes={
                "color": {"DataType": "String", "StringValue": color},
                "size": {"DataType": "Number", "StringValue": size},
            })
        bodies = sorted(m["Body"] for m in self.receive_all(self.raw_url, 2))
        self.eq(bodies, ["blue-50", "red-40"], "raw queue bodies")
        self.receive_all(self.filtered_url, 0)
        # No attributes at all: no match for the filtered subscription; no Subject in the envelope
        # of an unfiltered one is checked by the batch step.
        self.sns("Publish", TopicArn=self.topic, Message="plain")
        self.eq([m["Body"] for m in self.receive_all(self.raw_url, 1)], ["plain"], "raw body")
        self.receive_all(self.filtered_url, 0)

    def step_attributes(self):
        listed = []
        params = {}
        for _ in range(50):
            page = self.sns("ListTopics", **params)
            listed += [t["TopicArn"] for t in page.get("Topics", [])]
            if not page.get("NextToken"):
                break
            params["NextToken"] = page["NextToken"]
        self.check(self.topic in listed, f"ListTopics lacks {self.topic}: {listed!r:.500}")
        self.sns("SetTopicAttributes", TopicArn=self.topic, AttributeName="DisplayName",
                 AttributeValue="E2E topic")
        attrs = self.sns("GetTopicAttributes", TopicArn=self.topic)["Attributes"]
        self.eq(attrs.get("TopicArn"), self.topic, "GetTopicAttributes TopicArn")
        self.eq(attrs.get("DisplayName"), "E2E topic", "GetTopicAttributes DisplayName")
        if self.full:
            self.sns("GetTopicAttributes", expect="NotFound", TopicArn=self.topic + "-none")

        subs = self.sns("ListSubscriptionsByTopic", TopicArn=self.topic)["Subscriptions"]
        self.eq(sorted(s["SubscriptionArn"] for s in subs),
                sorted([self.raw_sub, self.filtered_sub]), "ListSubscriptionsByTopic")
        for s in subs:
            self.eq((s["Protocol"], s["TopicArn"]), ("sqs", self.topic), "subscription fields")
        everything = []
        params = {}
        for _ in range(50):
            page = self.sns("ListSubscriptions", **params)
            everything += [s["SubscriptionArn"] for s in page.get("Subscriptions", [])]
            if not page.get("NextToken"):
                break
            params["NextToken"] = page["NextToken"]
        self.check({self.raw_sub, self.filtered_sub} <= set(everything),
                   f"ListSubscriptions lacks ours: {everything!r:.500}")

        raw = self.sns("GetSubscriptionAttributes", SubscriptionArn=self.raw_sub)["Attributes"]
        self.eq(raw.get("RawMessageDelivery"), "true", "RawMessageDelivery")
        self.eq((raw.get("Protocol"), raw.get("TopicArn"), raw.get("SubscriptionArn")),
                ("sqs", self.topic, self.raw_sub), "raw subscription attributes")
        filtered = self.sns("GetSubscriptionAttributes",
                            SubscriptionArn=self.filtered_sub)["Attributes"]
        self.eq(json.loads(filtered.get("FilterPolicy", "null")), self.policy, "FilterPolicy")
        # A new policy takes effect for the next publish; a malformed one is refused.
        self.sns("SetSubscriptionAttributes", SubscriptionArn=self.filtered_sub,
                 AttributeName="FilterPolicy", AttributeValue=json.dumps({"color": ["blue"]}))
        if self.full:
            self.sns("SetSubscriptionAttributes", expect="InvalidParameter",
                     SubscriptionArn=self.filtered_sub, AttributeName="FilterPolicy",
                     AttributeValue='{"color": [{"numeric": ["<"]}]}')
        self.sns("Publish", TopicArn=self.topic, Message="blue now",
                 MessageAttributes={"color": {"DataType": "String", "StringValue": "blue"}})
        self.receive_all(self.raw_url, 1)
        [m] = self.receive_all(self.filtered_url, 1)
        self.eq(json.loads(m["Body"]).get("Message"), "blue now", "message of the new policy")
        # Body scope: the same key looked up in the message's JSON.
        self.sns("SetSubscriptionAttributes", SubscriptionArn=self.filtered_sub,
                 AttributeName="FilterPolicyScope", AttributeValue="MessageBody")
        for body in ('{"color": "blue"}', '{"color": "red"}', "not json"):
            self.sns("Publish", TopicArn=self.topic, Message=body,
                     MessageAttributes={"color": {"DataType": "String", "StringValue": "blue"}})
        self.receive_all(self.raw_url, 3)
        [m] = self.receive_all(self.filtered_url, 1)
        self.eq(json.loads(m["Body"]).get("Message"), '{"color": "blue"}', "body-scope routing")
        got = self.sns("GetSubscriptionAttributes", SubscriptionArn=self.filtered_sub)["Attributes"]
        self.eq(got.get("FilterPolicyScope"), "MessageBody", "FilterPolicyScope")

    def step_tags(self):
        self.sns("TagResource", ResourceArn=self.topic,
                 Tags=[{"Key": "team", "Value": "e2e"}, {"Key": "env", "Value": "test"}])
        tags = self.sns("ListTagsForResource", ResourceArn=self.topic).get("Tags", [])
        self.eq(sorted((t["Key"], t["Value"]) for t in tags), [("env", "test"), ("team", "e2e")],
                "tags")
        self.sns("UntagResource", ResourceArn=self.topic, TagKeys=["env"])
        tags = self.sns("ListTagsForResource", ResourceArn=self.topic).get("Tags", [])
        self.eq([(t["Key"], t["Value"]) for t in tags], [("team", "e2e")], "tags after untag")

    def step_batch(self):
        # The filtered subscription still has {"color": ["blue"]} on the message body.
        entries = []
        for i in range(10):
            body = json.dumps({"color": "blue" if i % 2 == 0 else "green", "n": i})
            entry = {"Id": f"e{i}", "Message": body,
                     "MessageAttributes": {"n": {"DataType": "Number", "StringValue": str(i)}}}
            if i == 3:
                entry["Subject"] = "third"
            entries.append(entry)
        reply = self.sns("PublishBatch", TopicArn=self.topic, PublishBatchRequestEntries=entries)
        self.eq(reply.get("Failed", []), [], "PublishBatch Failed")
        ids = {s["Id"]: s["MessageId"] for s in reply.get("Successful", [])}
        self.eq(sorted(ids), sorted(e["Id"] for e in entries), "PublishBatch Successful ids")
        self.eq(len(set(ids.values())), 10, "PublishBatch MessageIds are distinct")
        raw = self.receive_all(self.raw_url, 10)
        self.eq(sorted(json.loads(m["Body"])["n"] for m in raw), list(range(10)), "raw batch")
        for m in raw:
            n = json.loads(m["Body"])["n"]
            self.eq(m["MessageAttributes"]["n"].get("StringValue"), str(n), "batch attribute")
        wrapped = self.receive_all(self.filtered_url, 5)
        seen = []
        for m in wrapped:
            n = json.loads(json.loads(m["Body"])["Message"])["n"]
            seen.append(n)
            self.check_envelope(m["Body"], self.topic, ids[f"e{n}"], entries[n]["Message"],
                                self.filtered_sub, subject=entries[n].get("Subject"))
        self.eq(sorted(seen), [0, 2, 4, 6, 8], "filtered batch")
        if not self.full:
            return
        too_many = entries + [{"Id": "e10", "Message": "x"}]
        self.sns("PublishBatch", expect="TooManyEntriesInBatchRequest", TopicArn=self.topic,
                 PublishBatchRequestEntries=too_many)

    def step_unsubscribe(self):
        self.sns("Unsubscribe", SubscriptionArn=self.filtered_sub)
        subs = self.sns("ListSubscriptionsByTopic", TopicArn=self.topic)["Subscriptions"]
        self.eq([s["SubscriptionArn"] for s in subs], [self.raw_sub], "after Unsubscribe")
        self.sns("Publish", TopicArn=self.topic, Message='{"color": "blue"}')
        self.receive_all(self.raw_url, 1)
        self.receive_all(self.filtered_url, 0)
        self.sns("DeleteTopic", TopicArn=self.topic)
        topics = [t["TopicArn"] for t in self.sns("ListTopics").get("Topics", [])]
        self.check(self.topic not in topics, f"ListTopics still has {self.topic}")
        if self.full:
            self.sns("Publish", expect="NotFound", TopicArn=self.topic, Message="gone")
            self.sns("GetSubscriptionAttributes", expect="NotFound", SubscriptionArn=self.raw_sub)
        for url in (self.raw_url, self.filtered_url):
            self.sqs("DeleteQueue", QueueUrl=url)

    def step_fifo(self):
        name = self.name("order") + ".fifo"
        topic = self.sns("CreateTopic", Name=name, Attributes={"FifoTopic": "true"})["TopicArn"]
        self.eq(topic.rsplit(":", 1)[1], name, "FIFO TopicArn")
        if self.full:
            self.sns("CreateTopic", expect="InvalidParameter", Name=self.name("nofifo"),
                     Attributes={"FifoTopic": "true"})
        url, arn = self.create_queue("order", fifo=True)
        sub = self.subscribe(topic, arn)
        if self.full:
            self.sns("Publish", expect="InvalidParameter", TopicArn=topic, Message="no group",
                     MessageDeduplicationId="d0")
        sent = [("a", "d1", "a1"), ("b", "d2", "b1"), ("a", "d3", "a2"), ("a", "d1", "a1-dup"),
                ("b", "d4", "b2"), ("a", "d5", "a3")]
        ids = {}
        for group, dedup, body in sent:
            reply = self.sns("Publish", TopicArn=topic, Message=body, MessageGroupId=group,
                             MessageDeduplicationId=dedup)
            self.check(reply.get("MessageId"), f"FIFO publish {body}: {reply!r}")
            self.check(reply.get("SequenceNumber"), f"FIFO publish {body} has no SequenceNumber")
            ids[body] = reply["MessageId"]
        got = self.receive_all(url, 5)
        order = {}
        for m in got:
            e = self.check_envelope(m["Body"], topic, ids[json.loads(m["Body"])["Message"]],
                                    json.loads(m["Body"])["Message"], sub)
            order.setdefault(m["Attributes"].get("MessageGroupId"), []).append(e["Message"])
        self.eq(order, {"a": ["a1", "a2", "a3"], "b": ["b1", "b2"]}, "FIFO group order")
        self.sns("DeleteTopic", TopicArn=topic)
        self.sqs("DeleteQueue", QueueUrl=url)

    # --- part "filters" ---

    def step_filters(self):
        """Each policy gets its topic and raw-delivery queue; each row publishes a message whose
        body names the row, and the queue must hold exactly the rows marked True."""
        def s(v):
            return {"DataType": "String", "StringValue": v}

        def n(v):
            return {"DataType": "Number", "StringValue": v}

        def arr(v):
            return {"DataType": "String.Array", "StringValue": json.dumps(v)}

        attr_table = [
            ({"store": ["example_corp"]},
             [({"store": s("example_corp")}, True), ({"store": s("Example_Corp")}, False),
              ({}, False), ({"other": s("example_corp")}, False)]),
            ({"price": [301.5]},
             [({"price": n("301.5")}, True), ({"price": n("3.015e2")}, True),
              ({"price": n("301.6")}, False), ({"price": s("301.5")}, False)]),
            ({"event": [{"prefix": "order-"}]},
             [({"event": s("order-created")}, True), ({"event": s("reorder-x")}, False)]),
            ({"file": [{"suffix": ".png"}]},
             [({"file": s("cat.png")}, True), ({"file": s("cat.png.txt")}, False)]),
            ({"color": [{"anything-but": "red"}]},
             [({"color": s("blue")}, True), ({"color": s("red")}, False), ({}, False)]),
            ({"color": [{"anything-but": ["red", "green"]}]},
             [({"color": s("blue")}, True), ({"color": s("green")}, False)]),
            ({"code": [{"anything-but": [100, 200]}]},
             [({"code": n("300")}, True), ({"code": n("200")}, False)]),
            ({"env": [{"anything-but": {"prefix": "prod"}}]},
             [({"env": s("staging")}, True), ({"env": s("production")}, False)]),
            ({"sport": [{"equals-ignore-case": "Tennis"}]},
             [({"sport": s("TENNIS")}, True), ({"sport": s("tennis ")}, False)]),
            ({"price": [{"numeric": [">", 0, "<=", 150]}]},
             [({"price": n("150")}, True), ({"price": n("0.001")}, True),
              ({"price": n("0")}, False), ({"price": n("150.01")}, False)]),
            ({"price": [{"numeric": ["=", 5]}]},
             [({"price": n("5.0")}, True), ({"price": n("5.00001")}, False)]),
            ({"price": [{"numeric": [">=", -10, "<", -1]}]},
             [({"price": n("-10")}, True), ({"price": n("-1")}, False)]),
            ({"flag": [{"exists": True}]},
             [({"flag": s("x")}, True), ({"other": s("x")}, False)]),
            ({"flag": [{"exists": False}]},
             [({"other": s("x")}, True), ({}, True), ({"flag": s("x")}, False)]),
            ({"source_ip": [{"cidr": "10.0.0.0/24"}]},
             [({"source_ip": s("10.0.0.255")}, True), ({"source_ip": s("10.0.1.0")}, False),
              ({"source_ip": s("2001:db8::1")}, False)]),
            ({"source_ip": [{"cidr": "2001:db8::/32"}]},
             [({"source_ip": s("2001:db8:ffff::1")}, True), ({"source_ip": s("2001:db9::1")},
                                                              False)]),
            ({"colors": ["red"]},
             [({"colors": arr(["blue", "red"])}, True), ({"colors": arr(["blue"])}, False)]),
            ({"binary": [{"exists": True}]},
             [({"binary": {"DataType": "Binary", "BinaryValue": b"x"}}, False)]),
            ({"a": ["1"], "$or": [{"b": ["x"]}, {"c": [{"numeric": [">", 10]}]}]},
             [({"a": s("1"), "b": s("x")}, True), ({"a": s("1"), "c": n("11")}, True),
              ({"a": s("1"), "c": n("10")}, False), ({"b": s("x")}, False)]),
            ({"store": ["a", "b"], "kind": [{"prefix": "x"}]},
             [({"store": s("b"), "kind": s("xy")}, True), ({"store": s("b"), "kind": s("y")},
                                                           False)]),
        ]
        body_table = [
            ({"order": {"customer": {"tier": ["gold"]}}},
             [({"order": {"customer": {"tier": "gold"}}}, True),
              ({"order": {"customer": {"tier": "silver"}}}, False),
              ({"order": {"tier": "gold"}}, False), ("not json", False)]),
            ({"items": {"sku": [{"prefix": "AB"}]}},
             [({"items": [{"sku": "X1"}, {"sku": "AB7"}]}, True),
              ({"items": [{"sku": "X1"}]}, False)]),
            ({"total": [{"numeric": [">=", 100]}], "paid": [True]},
             [({"total": 100, "paid": True}, True), ({"total": 100, "paid": False}, False),
              ({"total": "100", "paid": True}, False)]),
            ({"tags": ["urgent"]},
             [({"tags": ["low", "urgent"]}, True), ({"tags": []}, False)]),
            ({"note": [None]},
             [({"note": None}, True), ({"note": "null"}, False)]),
            ({"deleted": [{"exists": False}], "id": [{"exists": True}]},
             [({"id": 1}, True), ({"id": 1, "deleted": True}, False), ({}, False)]),
            ({"$or": [{"a": {"b": ["x"]}}, {"c": [{"suffix": "z"}]}]},
             [({"a": {"b": "x"}}, True), ({"c": "zz"}, True), ({"a": {"b": "y"}, "c": "y"},
                                                                False)]),
            ({"user": {"name": [{"equals-ignore-case": "ADA"}], "ip": [{"cidr": "192.0.2.0/24"}]}},
             [({"user": {"name": "ada", "ip": "192.0.2.9"}}, True),
              ({"user": {"name": "ada", "ip": "192.0.3.9"}}, False)]),
        ]
        cases = [("MessageAttributes", p, rows) for p, rows in attr_table]
        cases += [("MessageBody", p, rows) for p, rows in body_table]
        checked = 0
        for index, (scope, policy, rows) in enumerate(cases):
            self.say(f"{scope} {json.dumps(policy)}")
            topic = self.sns("CreateTopic", Name=self.name(f"f{index}"))["TopicArn"]
            url, arn = self.create_queue(f"f{index}")
            self.subscribe(topic, arn, RawMessageDelivery="true", FilterPolicy=json.dumps(policy),
                           FilterPolicyScope=scope)
            want = []
            for row, (message, delivered) in enumerate(rows):
                if scope == "MessageAttributes":
                    body = f"row {row}"
                    self.sns("Publish", TopicArn=topic, Message=body, MessageAttributes=message)
                else:
                    body = message if isinstance(message, str) else json.dumps(
                        dict(message, row=row))
                    self.sns("Publish", TopicArn=topic, Message=body)
                if delivered:
                    want.append(body)
            got = sorted(m["Body"] for m in self.receive_all(url, len(want)))
            self.eq(got, sorted(want), f"{scope} policy {json.dumps(policy)}: delivered rows")
            checked += len(rows)
            self.sns("DeleteTopic", TopicArn=topic)
            self.sqs("DeleteQueue", QueueUrl=url)
        self.say(f"{len(cases)} policies, {checked} messages as expected")

    # --- http endpoints ---

    def post(self, endpoint, kind, timeout=10):
        """The endpoint's next POST, which must be of type `kind`."""
        got = endpoint.take(timeout)
        self.check(got is not None, f"no {kind} POST reached the endpoint within {timeout} s")
        path, headers, body = got
        self.eq(headers.get("x-amz-sns-message-type"), kind, f"x-amz-sns-message-type of {path}")
        return path, headers, body

    def no_post(self, endpoint, within):
        got = endpoint.take(within)
        self.check(got is None, f"unexpected POST {got!r:.400}")

    def step_http(self):
        endpoint = EndpointServer()
        try:
            self.http_deliveries(endpoint)
        finally:
            endpoint.down()

    def confirm_by_url(self, confirmation):
        # As an endpoint does it: a plain GET of the SubscribeURL, unsigned.
        with urllib.request.urlopen(confirmation["SubscribeURL"], timeout=10) as reply:
            xml = reply.read().decode()
        found = re.search(r"<SubscriptionArn>([^<]+)</SubscriptionArn>", xml)
        self.check(found is not None, f"ConfirmSubscription by URL: {xml[:400]!r}")
        return found.group(1)

    def http_deliveries(self, endpoint):
        topic = self.sns("CreateTopic", Name=self.name("http"))["TopicArn"]
        reply = self.sns("Subscribe", TopicArn=topic, Protocol="http",
                         Endpoint=endpoint.url("/sns"))
        self.eq(reply.get("SubscriptionArn"), "pending confirmation", "Subscribe reply")
        path, headers, body = self.post(endpoint, "SubscriptionConfirmation")
        self.eq(path, "/sns", "confirmation path")
        c = json.loads(body)
        self.eq((c.get("Type"), c.get("TopicArn")), ("SubscriptionConfirmation", topic),
                "confirmation Type and TopicArn")
        self.eq(headers.get("x-amz-sns-topic-arn"), topic, "x-amz-sns-topic-arn")
        self.eq(headers.get("x-amz-sns-message-id"), c.get("MessageId"), "x-amz-sns-message-id")
        self.check(c.get("SubscribeURL", "").startswith(
            self.c.endpoint + "/?Action=ConfirmSubscription&TopicArn="), f"SubscribeURL {c!r:.400}")
        cert = self.certificate(c["SigningCertURL"])
        self.check(verify_sha1_rsa(cert, canonical_confirmation(c),
                                   base64.b64decode(c["Signature"], validate=True)),
                   f"confirmation Signature does not verify: {body[:600]}")
        listed = self.sns("ListSubscriptionsByTopic", TopicArn=topic)["Subscriptions"]
        self.eq([s["SubscriptionArn"] for s in listed], ["PendingConfirmation"],
                "a subscription waiting for its confirmation")
        sub = self.confirm_by_url(c)
        self.check(sub.startswith(topic + ":"), f"confirmed subscription ARN {sub!r}")

        # A raw subscription, confirmed through the client with the token.
        self.sns("Subscribe", TopicArn=topic, Protocol="http", Endpoint=endpoint.url("/raw"),
                 Attributes={"RawMessageDelivery": "true"})
        _, _, body = self.post(endpoint, "SubscriptionConfirmation")
        raw_sub = self.sns("ConfirmSubscription", TopicArn=topic,
                           Token=json.loads(body)["Token"])["SubscriptionArn"]
        self.check(raw_sub.startswith(topic + ":") and raw_sub != sub, f"raw ARN {raw_sub!r}")

        binary, attrs = self.attributes()
        message = "to an endpoint ☃ " + self.prefix
        message_id = self.sns("Publish", TopicArn=topic, Message=message, Subject="web",
                              MessageAttributes=attrs)["MessageId"]
        posts = {}
        for _ in range(2):
            path, headers, body = self.post(endpoint, "Notification")
            posts[path] = (headers, body)
        self.eq(sorted(posts), ["/raw", "/sns"], "paths POSTed")
        headers, body = posts["/sns"]
        e = self.check_envelope(body, topic, message_id, message, sub, subject="web")
        self.eq(e.get("MessageAttributes", {}).get("color"), {"Type": "String", "Value": "red"},
                "envelope attribute")
        for name, want in (("x-amz-sns-message-id", message_id), ("x-amz-sns-topic-arn", topic),
                           ("x-amz-sns-subscription-arn", sub), ("x-amz-sns-rawdelivery", "false")):
            self.eq(headers.get(name), want, name)
        self.check(headers.get("content-type", "").startswith("text/plain"),
                   f"Content-Type {headers.get('content-type')!r}")
        headers, body = posts["/raw"]
        self.eq(body, message, "raw POST body")
        self.eq(headers.get("x-amz-sns-subscription-arn"), raw_sub, "raw subscription header")
        self.eq(headers.get("x-amz-sns-rawdelivery"), "true", "x-amz-sns-rawdelivery")

        # A filter policy routes http deliveries as it does queue ones.
        self.sns("SetSubscriptionAttributes", SubscriptionArn=raw_sub,
                 AttributeName="FilterPolicy", AttributeValue=json.dumps({"color": ["red"]}))
        self.sns("Publish", TopicArn=topic, Message="blue one", MessageAttributes={
            "color": {"DataType": "String", "StringValue": "blue"}})
        path, _, body = self.post(endpoint, "Notification")
        self.eq((path, json.loads(body)["Message"]), ("/sns", "blue one"), "filtered publish")
        self.no_post(endpoint, 1)
        self.sns("Unsubscribe", SubscriptionArn=raw_sub)
        if self.full:
            self.http_retries(endpoint, topic, sub)
        self.sns("DeleteTopic", TopicArn=topic)

    def http_retries(self, endpoint, topic, sub):
        self.sns("Subscribe", expect="InvalidParameter", TopicArn=topic, Protocol="http",
                 Endpoint="http://127.0.0.1:notaport/")
        for bad in ({"healthyRetryPolicy": {"numRetries": 101}},
                    {"healthyRetryPolicy": {"minDelayTarget": 30, "maxDelayTarget": 10}},
                    {"healthyRetryPolicy": {"numRetries": 100, "minDelayTarget": 3600}},
                    {"throttlePolicy": {"maxReceivesPerSecond": 0}}):
            self.sns("SetSubscriptionAttributes", expect="InvalidParameter", SubscriptionArn=sub,
                     AttributeName="DeliveryPolicy", AttributeValue=json.dumps(bad))
        dlq_url, dlq_arn = self.create_queue("http-dlq")
        policy = {"healthyRetryPolicy": {"numRetries": 2, "minDelayTarget": 1,
                                         "maxDelayTarget": 1}}
        self.sns("SetSubscriptionAttributes", SubscriptionArn=sub, AttributeName="DeliveryPolicy",
                 AttributeValue=json.dumps(policy))
        self.sns("SetSubscriptionAttributes", SubscriptionArn=sub, AttributeName="RedrivePolicy",
                 AttributeValue=json.dumps({"deadLetterTargetArn": dlq_arn}))
        got = self.sns("GetSubscriptionAttributes", SubscriptionArn=sub)["Attributes"]
        effective = json.loads(got.get("EffectiveDeliveryPolicy", "{}"))
        self.eq(effective.get("healthyRetryPolicy", {}).get("numRetries"), 2,
                "EffectiveDeliveryPolicy numRetries")

        # Failing with 500: the first try and two retries, then the dead-letter queue.
        endpoint.status = 500
        message_id = self.sns("Publish", TopicArn=topic, Message="refused")["MessageId"]
        for attempt in range(3):
            _, headers, _ = self.post(endpoint, "Notification")
            self.eq(headers.get("x-amz-sns-message-id"), message_id, f"try {attempt + 1}")
        [dead] = self.receive_all(dlq_url, 1)
        self.eq(json.loads(dead["Body"]).get("MessageId"), message_id, "dead-lettered MessageId")
        self.eq(dead.get("MessageAttributes", {}).get("ErrorCode", {}).get("StringValue"),
                "ServerError", "dead-lettered ErrorCode")
        self.no_post(endpoint, 1.5)

        # Down (the port closed): the tries fail to connect and the copy is dead-lettered.
        endpoint.status = 200
        endpoint.down()
        self.sns("Publish", TopicArn=topic, Message="while down")
        [dead] = self.receive_all(dlq_url, 1)
        self.eq(json.loads(dead["Body"]).get("Message"), "while down", "dead-lettered while down")
        self.check("connect" in dead["MessageAttributes"]["ErrorMessage"]["StringValue"],
                   f"ErrorMessage {dead['MessageAttributes']!r:.300}")

        # Back: deliveries resume, including one whose first try found the endpoint down.
        policy["healthyRetryPolicy"].update(numRetries=5, minDelayTarget=2, maxDelayTarget=2)
        self.sns("SetSubscriptionAttributes", SubscriptionArn=sub, AttributeName="DeliveryPolicy",
                 AttributeValue=json.dumps(policy))
        self.sns("Publish", TopicArn=topic, Message="first try while down")
        self.no_post(endpoint, 0.5)
        endpoint.up()
        _, _, body = self.post(endpoint, "Notification", timeout=15)
        self.eq(json.loads(body)["Message"], "first try while down", "retried after coming back")
        self.sns("Publish", TopicArn=topic, Message="back")
        _, _, body = self.post(endpoint, "Notification")
        self.eq(json.loads(body)["Message"], "back", "delivered once back")
        self.receive_all(dlq_url, 0)

        # A queue subscription whose queue was deleted: its copy goes to its dead-letter queue.
        gone_url, gone_arn = self.create_queue("gone")
        self.subscribe(topic, gone_arn, RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn}))
        self.sqs("DeleteQueue", QueueUrl=gone_url)
        self.sns("Publish", TopicArn=topic, Message="to a deleted queue")
        self.post(endpoint, "Notification")
        [dead] = self.receive_all(dlq_url, 1)
        self.eq(json.loads(dead["Body"]).get("Message"), "to a deleted queue",
                "dead-lettered queue copy")
        self.eq(dead["MessageAttributes"]["ErrorCode"]["StringValue"], "ClientError",
                "ErrorCode of a queue copy not taken")
        self.sqs("DeleteQueue", QueueUrl=dlq_url)

    def run(self, part):
        self.say(f"client {self.c.name}, {self.c.protocol} protocol, names {self.prefix}-*")
        if part == "filters":
            steps = [("filters", self.step_filters)]
        else:
            steps = [("setup", self.step_setup), ("publish", self.step_publish),
                     ("attributes", self.step_attributes), ("tags", self.step_tags),
                     ("batch", self.step_batch), ("unsubscribe", self.step_unsubscribe),
                     ("fifo", self.step_fifo), ("http", self.step_http)]
        for name, step in steps:
            self.step = name
            self.say("start")
            try:
                step()
            except StepFailure:
                raise
            except Exception as e:  # noqa: BLE001 - named with its step
                raise StepFailure(f"step '{name}': {type(e).__name__}: {e}") from e


def make_client(args):
    key = os.environ.get("AWS_ACCESS_KEY_ID")
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not key or not secret:
        raise SystemExit("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set")
    if args.client == "cli":
        return CliClient(args.aws, args.endpoint, args.region, key, secret)
    return Boto3Client(args.endpoint, args.region, key, secret)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--endpoint")
    p.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    p.add_argument("--client", choices=["boto3", "cli"], default="boto3")
    p.add_argument("--aws", default="aws", help="the CLI for --client cli")
    p.add_argument("--part", choices=["clients", "filters"], default="clients")
    p.add_argument("--probe", action="store_true",
                   help="only print the client's protocol and version (exit 3: no client)")
    args = p.parse_args()
    # No profile, config file or instance metadata of the machine may leak into the run.
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL",
                "AWS_ENDPOINT_URL_SNS", "AWS_ENDPOINT_URL_SQS"):
        os.environ.pop(var, None)
    if args.probe:
        args.endpoint = "http://127.0.0.1:9"
        try:
            client = make_client(args)
        except (ImportError, OSError, subprocess.SubprocessError) as e:
            print(f"no client: {type(e).__name__}: {e}")
            return 3
        print(f"protocol={client.protocol} name={client.name}")
        return 0
    if not args.endpoint:
        p.error("--endpoint is required")
    scenario = Scenario(make_client(args), f"sns-{uuid.uuid4().hex[:8]}")
    try:
        scenario.run(args.part)
    except StepFailure as e:
        print(f"FAILED: {e}", file=sys.stderr)
        return 1
    print(f"PASSED: {scenario.c.name} ({scenario.c.protocol}), {scenario.calls} calls")
    return 0


if __name__ == "__main__":
    sys.exit(main())
