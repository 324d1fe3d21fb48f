// The SQS scenario of scenario.py, driven through the AWS SDK for JavaScript v3
// (@aws-sdk/client-sqs, AWS JSON 1.0), which also verifies MD5OfMessageBody on every send and
// receive itself.
//
//   node scenario.mjs --endpoint http://127.0.0.1:PORT [--auth] [--prefix NAME] [--debug]
//
// Credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. The run stops at the first
// failed check with a message naming the step and exits 1.
import { createHash, randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";

import * as sqs from "@aws-sdk/client-sqs";

const STRING_ATTR = ["attribName1", { DataType: "String", StringValue: "attribValue 1" }];
const NUMBER_ATTR = [
  "customNumberTypeAttrib",
  { DataType: "Number.float", StringValue: "4563442423554324324264524243.32543234" },
];
const BINARY_ATTR = [
  "binaryAttribute",
  { DataType: "Binary", BinaryValue: new TextEncoder().encode("Hello binary world!") },
];
const ALL_ATTRS_MD5 = "c932db14a896c663f83c260297d594ff";
const TRICKY_BODY = "héllo <&> \"quoted\" 'single'\ttab\r\ncrlf ☃ 🌊 end";
const MAX_MESSAGE_BYTES = 1048576;
const POLL_TRIES = 10;

// The error name the SDK gives each error the scenario provokes, beside the query code it reads
// from x-amzn-query-error.
const JSON_NAMES = {
  "AWS.SimpleQueueService.NonExistentQueue": "QueueDoesNotExist",
  QueueAlreadyExists: "QueueNameExists",
  ReceiptHandleIsInvalid: "ReceiptHandleIsInvalid",
  "AWS.SimpleQueueService.BatchEntryIdsNotDistinct": "BatchEntryIdsNotDistinct",
  "AWS.SimpleQueueService.PurgeQueueInProgress": "PurgeQueueInProgress",
  InvalidAttributeValue: "InvalidAttributeValue",
  InvalidAttributeName: "InvalidAttributeName",
  InvalidParameterValue: "InvalidParameterValue",
  MissingParameter: "MissingParameter",
  SignatureDoesNotMatch: "SignatureDoesNotMatch",
  InvalidClientTokenId: "InvalidClientTokenId",
  "AWS.SimpleQueueService.BatchRequestTooLong": "BatchRequestTooLong",
};

class StepFailure extends Error {}

const md5 = (data) => createHash("md5").update(data).digest("hex");

function md5OfAttributes(attrs) {
  const parts = [];
  const field = (bytes) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(bytes.length);
    parts.push(len, Buffer.from(bytes));
  };
  for (const name of Object.keys(attrs).sort()) {
    const value = attrs[name];
    field(Buffer.from(name));
    field(Buffer.from(value.DataType));
    if (value.DataType.startsWith("Binary")) {
      parts.push(Buffer.from([2]));
      field(value.BinaryValue);
    } else {
      parts.push(Buffer.from([1]));
      field(Buffer.from(value.StringValue));
    }
  }
  return md5(Buffer.concat(parts));
}

// Comparable form of a value: Uint8Array as hex, objects with sorted keys.
function canonical(value) {
  if (value instanceof Uint8Array) return `bytes:${Buffer.from(value).toString("hex")}`;
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonical(value[k])]),
    );
  }
  return value;
}
const same = (a, b) => JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
const show = (v) => {
  const text = JSON.stringify(canonical(v));
  return text === undefined ? String(v) : text.slice(0, 300);
};
const sorted = (list) => [...list].sort();

// Commands by action name: SendMessage -> SendMessageCommand.
function command(action, input) {
  return new sqs[`${action}Command`](input);
}

class Scenario {
  constructor({ endpoint, region, accessKeyId, secretAccessKey, prefix, auth, debug, lenient }) {
    this.endpoint = endpoint;
    this.region = region;
    this.accessKeyId = accessKeyId;
    this.prefix = prefix;
    this.auth = auth;
    this.debug = debug;
    this.lenient = lenient;
    this.deviations = [];
    this.client = this.makeClient(accessKeyId, secretAccessKey);
    this.urls = {};
    this.arns = {};
    this.step = "";
    this.calls = 0;
  }

  makeClient(accessKeyId, secretAccessKey) {
    const client = new sqs.SQSClient({
      endpoint: this.endpoint,
      region: this.region,
      credentials: { accessKeyId, secretAccessKey },
      maxAttempts: 1,
    });
    if (this.debug) {
      client.middlewareStack.add(
        (next) => async (args) => {
          const r = args.request;
          console.error(`>>> ${r.method} ${r.path}`, r.headers, String(r.body ?? "").slice(0, 4000));
          return next(args);
        },
        { step: "finalizeRequest", priority: "low", name: "sluiceDebugRequest" },
      );
      client.middlewareStack.add(
        (next) => async (args) => {
          const out = await next(args);
          console.error("<<<", out.response?.statusCode, out.response?.headers);
          return out;
        },
        { step: "deserialize", name: "sluiceDebugResponse" },
      );
    }
    return client;
  }

  say(text) {
    console.error(`[${this.step}] ${text}`);
  }

  // Throws, or in a lenient run notes the failure and goes on.
  fail(what) {
    const message = `step '${this.step}': ${what}`;
    if (!this.lenient) throw new StepFailure(message);
    this.deviations.push(message);
    this.say(`DEVIATION ${what}`);
  }

  check(cond, what) {
    if (!cond) this.fail(what);
  }

  eq(got, want, what) {
    if (!same(got, want)) this.fail(`${what}: got ${show(got)}, want ${show(want)}`);
  }

  // Sends `action`; with `expect` (the query error code) it must fail with that error.
  async call(label, action, input, expect) {
    this.calls += 1;
    let reply;
    try {
      reply = await this.client.send(command(action, input));
    } catch (e) {
      if (!e.$metadata) throw e; // a client-side failure (a checksum mismatch among them)
      if (expect === undefined) {
        this.fail(`${action} (${label}) failed: ${e.name} ${e.Code ?? ""}: ${e.message}`);
      }
      this.checkError(e, expect, `${action} (${label})`);
      return e;
    }
    if (expect !== undefined) {
      this.fail(`${action} (${label}) succeeded, want error ${expect}: ${show(reply)}`);
    }
    delete reply.$metadata;
    return reply;
  }

  checkError(e, expect, what) {
    this.eq(e.Code, expect, `${what} error code (x-amzn-query-error)`);
    this.eq(e.name, JSON_NAMES[expect], `${what} error name`);
  }

  async receive(label, url, extra = {}) {
    const input = {
      QueueUrl: url,
      AttributeNames: ["All"],
      MessageSystemAttributeNames: ["All"],
      MessageAttributeNames: ["All"],
      ...extra,
    };
    const reply = await this.call(label, "ReceiveMessage", input);
    return reply.Messages ?? [];
  }

  async receiveUntil(label, url, count, extra = {}) {
    let got = [];
    for (let i = 0; i < POLL_TRIES && got.length < count; i++) {
      got = got.concat(
        await this.receive(label, url, { WaitTimeSeconds: 1, MaxNumberOfMessages: 10, ...extra }),
      );
    }
    return got;
  }

  async expectEmpty(label, url) {
    const got = await this.receive(label, url, { WaitTimeSeconds: 1, MaxNumberOfMessages: 10 });
    this.check(got.length === 0, `${label}: want no message, got ${show(got)}`);
  }

  checkUrl(url, name) {
    const m = /^https?:\/\/[^/]+\/(\d{12})\/([A-Za-z0-9_.-]+)$/.exec(url ?? "");
    this.check(m, `queue URL ${show(url)} is not http://HOST/ACCOUNT/NAME`);
    this.eq(m[2], name, "queue name in URL");
  }

  name(key) {
    return `${this.prefix}-${key}`;
  }

  async create(key, name, input = {}) {
    const reply = await this.call(`create ${key}`, "CreateQueue", { QueueName: name, ...input });
    const url = reply.QueueUrl;
    this.checkUrl(url, name);
    this.urls[key] = url;
    const attrs =
      (await this.call(`attributes ${key}`, "GetQueueAttributes", {
        QueueUrl: url,
        AttributeNames: ["All"],
      })).Attributes ?? {};
    const arn = attrs.QueueArn ?? "";
    this.check(
      new RegExp(`^arn:aws:sqs:${this.region}:\\d{12}:${name.replace(/\./g, "\\.")}$`).test(arn),
      `QueueArn ${show(arn)} of ${name}`,
    );
    this.arns[key] = arn;
    return [url, attrs];
  }

  async stepQueues() {
    const name = this.name("std");
    const [url] = await this.create("std", name, { tags: { team: "e2e" } });
    this.eq((await this.call("get url", "GetQueueUrl", { QueueName: name })).QueueUrl, url, "GetQueueUrl");
    this.eq(
      (await this.call("create same", "CreateQueue", { QueueName: name })).QueueUrl,
      url,
      "CreateQueue of an existing queue, same attributes",
    );
    await this.call(
      "create different",
      "CreateQueue",
      { QueueName: name, Attributes: { VisibilityTimeout: "31" } },
      "QueueAlreadyExists",
    );
    await this.call("create bad name", "CreateQueue", { QueueName: "bad name!" }, "InvalidParameterValue");
    await this.call(
      "get url missing",
      "GetQueueUrl",
      { QueueName: this.name("missing") },
      "AWS.SimpleQueueService.NonExistentQueue",
    );
  }

  async stepMessage() {
    const url = this.urls.std;
    const attrs = Object.fromEntries([STRING_ATTR, NUMBER_ATTR, BINARY_ATTR]);
    this.eq(md5OfAttributes(attrs), ALL_ATTRS_MD5, "this script's attribute MD5");
    const sent = await this.call("send", "SendMessage", {
      QueueUrl: url,
      MessageBody: TRICKY_BODY,
      MessageAttributes: attrs,
    });
    this.eq(sent.MD5OfMessageBody, md5(TRICKY_BODY), "MD5OfMessageBody");
    this.eq(sent.MD5OfMessageAttributes, ALL_ATTRS_MD5, "MD5OfMessageAttributes");
    this.check(sent.MessageId, "SendMessage gave no MessageId");
    const before = Date.now();

    const msgs = await this.receiveUntil("receive", url, 1, { VisibilityTimeout: 30 });
    this.eq(msgs.length, 1, "messages received");
    const m = msgs[0];
    this.eq(m.MessageId, sent.MessageId, "received MessageId");
    this.eq(m.Body, TRICKY_BODY, "received Body");
    this.eq(m.MD5OfBody, md5(TRICKY_BODY), "MD5OfBody");
    this.eq(m.MessageAttributes, attrs, "received MessageAttributes");
    this.eq(m.MD5OfMessageAttributes, ALL_ATTRS_MD5, "received MD5OfMessageAttributes");
    const a = m.Attributes ?? {};
    for (const key of ["SenderId", "SentTimestamp", "ApproximateReceiveCount", "ApproximateFirstReceiveTimestamp"]) {
      this.check(key in a, `system attribute ${key} missing from ${show(Object.keys(a))}`);
    }
    this.eq(a.ApproximateReceiveCount, "1", "ApproximateReceiveCount");
    for (const key of ["SentTimestamp", "ApproximateFirstReceiveTimestamp"]) {
      const v = a[key] ?? "";
      this.check(
        /^\d+$/.test(v) && Math.abs(Number(v) - before) < 86400000,
        `${key} ${show(v)} is not epoch milliseconds near ${before}`,
      );
    }
    this.check(!("MessageGroupId" in a), `FIFO attributes on a standard queue's message: ${show(a)}`);

    await this.call("change visibility", "ChangeMessageVisibility", {
      QueueUrl: url,
      ReceiptHandle: m.ReceiptHandle,
      VisibilityTimeout: 0,
    });
    // Asked for by name this time: only those come, and the MD5 covers them.
    const again = await this.receiveUntil("receive again", url, 1, {
      VisibilityTimeout: 30,
      AttributeNames: ["ApproximateReceiveCount"],
      MessageSystemAttributeNames: undefined,
      MessageAttributeNames: ["attribName1", "binaryAttribute"],
    });
    this.eq(again.length, 1, "messages received after ChangeMessageVisibility 0");
    this.eq(again[0].MessageId, sent.MessageId, "MessageId received again");
    this.eq(again[0].Attributes, { ApproximateReceiveCount: "2" }, "system attributes asked by name, after a second receive");
    const some = Object.fromEntries([STRING_ATTR, BINARY_ATTR]);
    this.eq(again[0].MessageAttributes, some, "message attributes asked by name");
    this.eq(again[0].MD5OfMessageAttributes, md5OfAttributes(some), "MD5OfMessageAttributes of the attributes returned");
    this.check(again[0].ReceiptHandle !== m.ReceiptHandle, "the second receive reused the receipt handle");
    await this.call("delete", "DeleteMessage", { QueueUrl: url, ReceiptHandle: again[0].ReceiptHandle });
    await this.expectEmpty("receive after delete", url);
    await this.call(
      "change visibility bad handle",
      "ChangeMessageVisibility",
      { QueueUrl: url, ReceiptHandle: "not-a-receipt-handle", VisibilityTimeout: 10 },
      "ReceiptHandleIsInvalid",
    );
    await this.call(
      "delete bad handle",
      "DeleteMessage",
      { QueueUrl: url, ReceiptHandle: "not-a-receipt-handle" },
      "ReceiptHandleIsInvalid",
    );
  }

  async stepBatch() {
    const url = this.urls.std;
    const extra = {
      "custom.name-1_x": { DataType: "String.custom-label_1", StringValue: "välue ☃ 🌊 <&>" },
      raw: { DataType: "Binary.octets", BinaryValue: Uint8Array.from({ length: 256 }, (_, i) => i) },
      n: { DataType: "Number", StringValue: "-12.5" },
    };
    const entries = [
      { Id: "plain", MessageBody: "batch one" },
      { Id: "with-attrs", MessageBody: "batch two", MessageAttributes: extra },
      { Id: "delayed_0", MessageBody: "batch three", DelaySeconds: 0 },
      { Id: "bad", MessageBody: "bad \u0001 body" },
    ];
    const sent = await this.call("send batch", "SendMessageBatch", { QueueUrl: url, Entries: entries });
    const ok = Object.fromEntries((sent.Successful ?? []).map((e) => [e.Id, e]));
    const failed = Object.fromEntries((sent.Failed ?? []).map((e) => [e.Id, e]));
    this.eq(sorted(Object.keys(ok)), ["delayed_0", "plain", "with-attrs"], "SendMessageBatch Successful ids");
    this.eq(Object.keys(failed), ["bad"], "SendMessageBatch Failed ids");
    this.eq(failed.bad.Code, "InvalidMessageContents", "failed entry Code");
    this.eq(failed.bad.SenderFault, true, "failed entry SenderFault");
    for (const e of entries.slice(0, 3)) {
      this.eq(ok[e.Id].MD5OfMessageBody, md5(e.MessageBody), `MD5OfMessageBody of ${e.Id}`);
    }
    this.eq(ok["with-attrs"].MD5OfMessageAttributes, md5OfAttributes(extra), "MD5OfMessageAttributes of with-attrs");

    // "custom.*" asks for the names that start with "custom.", and "n" is left out.
    const msgs = await this.receiveUntil("receive batch", url, 3, {
      VisibilityTimeout: 60,
      MessageAttributeNames: ["custom.*", "raw"],
    });
    this.eq(sorted(msgs.map((m) => m.Body)), ["batch one", "batch three", "batch two"], "bodies received from the batch");
    const asked = { "custom.name-1_x": extra["custom.name-1_x"], raw: extra.raw };
    for (const m of msgs) {
      if (m.Body === "batch two") {
        this.eq(m.MessageAttributes, asked, "attributes of with-attrs received");
        this.eq(m.MD5OfMessageAttributes, md5OfAttributes(asked), "received MD5OfMessageAttributes of with-attrs");
      } else {
        this.check(!m.MessageAttributes && !m.MD5OfMessageAttributes, `attributes on a message sent without: ${show(m)}`);
      }
    }
    const handles = msgs.map((m) => m.ReceiptHandle);

    const change = await this.call("change visibility batch", "ChangeMessageVisibilityBatch", {
      QueueUrl: url,
      Entries: [
        ...handles.map((h, i) => ({ Id: `c${i}`, ReceiptHandle: h, VisibilityTimeout: 120 })),
        { Id: "bogus", ReceiptHandle: "not-a-receipt-handle", VisibilityTimeout: 5 },
      ],
    });
    this.eq(sorted((change.Successful ?? []).map((e) => e.Id)), handles.map((_, i) => `c${i}`), "ChangeMessageVisibilityBatch Successful");
    this.eq((change.Failed ?? []).map((e) => e.Id), ["bogus"], "ChangeMessageVisibilityBatch Failed");
    this.eq(change.Failed[0].Code, "ReceiptHandleIsInvalid", "failed change Code");
    this.eq(change.Failed[0].SenderFault, true, "failed change SenderFault");

    const del = await this.call("delete batch", "DeleteMessageBatch", {
      QueueUrl: url,
      Entries: [
        ...handles.map((h, i) => ({ Id: `d${i}`, ReceiptHandle: h })),
        { Id: "bogus", ReceiptHandle: "not-a-receipt-handle" },
      ],
    });
    this.eq(sorted((del.Successful ?? []).map((e) => e.Id)), handles.map((_, i) => `d${i}`), "DeleteMessageBatch Successful");
    this.eq((del.Failed ?? []).map((e) => e.Id), ["bogus"], "DeleteMessageBatch Failed");
    this.eq(del.Failed[0].Code, "ReceiptHandleIsInvalid", "failed delete Code");
    this.eq(del.Failed[0].SenderFault, true, "failed delete SenderFault");
    await this.call(
      "send batch duplicate ids",
      "SendMessageBatch",
      { QueueUrl: url, Entries: [{ Id: "same", MessageBody: "a" }, { Id: "same", MessageBody: "b" }] },
      "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
    );
    await this.expectEmpty("receive after batch delete", url);
  }

  async stepDeadLetter() {
    const [dlq] = await this.create("dlq", this.name("dlq"));
    const [src] = await this.create("src", this.name("src"));
    const policy = { deadLetterTargetArn: this.arns.dlq, maxReceiveCount: 1 };
    await this.call("set redrive", "SetQueueAttributes", {
      QueueUrl: src,
      Attributes: { RedrivePolicy: JSON.stringify(policy) },
    });
    const got = (await this.call("get redrive", "GetQueueAttributes", { QueueUrl: src, AttributeNames: ["RedrivePolicy"] })).Attributes ?? {};
    let stored;
    try {
      stored = JSON.parse(got.RedrivePolicy ?? "");
    } catch {
      stored = undefined;
    }
    this.check(
      stored && stored.deadLetterTargetArn === this.arns.dlq && String(stored.maxReceiveCount) === "1",
      `RedrivePolicy read back as ${show(got.RedrivePolicy)}`,
    );
    const sent = await this.call("send", "SendMessage", { QueueUrl: src, MessageBody: "to the dead letters" });
    const first = await this.receiveUntil("receive source", src, 1, { VisibilityTimeout: 0 });
    this.eq(first.length, 1, "first receive from the source queue");
    const again = await this.receive("receive source again", src, { WaitTimeSeconds: 1, VisibilityTimeout: 0 });
    this.check(again.length === 0, "message received again past maxReceiveCount 1");
    const moved = await this.receiveUntil("receive dlq", dlq, 1, { VisibilityTimeout: 30 });
    this.eq(moved.length, 1, "messages in the dead-letter queue");
    this.eq(moved[0].Body, "to the dead letters", "dead-letter Body");
    this.eq(moved[0].MessageId, sent.MessageId, "dead-letter MessageId");
    this.eq(moved[0].Attributes?.DeadLetterQueueSourceArn, this.arns.src, "DeadLetterQueueSourceArn");
    const sources = await this.call("list sources", "ListDeadLetterSourceQueues", { QueueUrl: dlq });
    this.eq(sources.queueUrls, [src], "ListDeadLetterSourceQueues");

    // StartMessageMoveTask from the DLQ back to where the message came from.
    await this.call("visible again", "ChangeMessageVisibility", { QueueUrl: dlq, ReceiptHandle: moved[0].ReceiptHandle, VisibilityTimeout: 0 });
    // Room for the receive that follows the move, whatever count the moved message carries.
    await this.call("raise maxReceiveCount", "SetQueueAttributes", {
      QueueUrl: src,
      Attributes: { RedrivePolicy: JSON.stringify({ ...policy, maxReceiveCount: 5 }) },
    });
    const task = await this.call("start move", "StartMessageMoveTask", { SourceArn: this.arns.dlq });
    this.check(task.TaskHandle, `StartMessageMoveTask gave no TaskHandle: ${show(task)}`);
    const back = await this.receiveUntil("receive moved back", src, 1, { VisibilityTimeout: 30 });
    this.eq(back.map((m) => m.Body), ["to the dead letters"], "messages moved back");
    await this.call("delete moved", "DeleteMessage", { QueueUrl: src, ReceiptHandle: back[0].ReceiptHandle });
    const tasks = (await this.call("list moves", "ListMessageMoveTasks", { SourceArn: this.arns.dlq })).Results ?? [];
    this.eq(tasks.length, 1, "ListMessageMoveTasks results");
    this.check(["RUNNING", "COMPLETED"].includes(tasks[0].Status), `move task status ${show(tasks[0].Status)}`);
    this.eq(tasks[0].SourceArn, this.arns.dlq, "move task SourceArn");
    await this.expectEmpty("dlq after move", dlq);
  }

  async stepFifo() {
    const [url, attrs] = await this.create("fifo", `${this.name("fifo")}.fifo`, { Attributes: { FifoQueue: "true" } });
    this.eq(attrs.FifoQueue, "true", "FifoQueue");
    this.eq(attrs.ContentBasedDeduplication, "false", "ContentBasedDeduplication");
    const order = [["g1", "g1-m1"], ["g2", "g2-m1"], ["g1", "g1-m2"], ["g2", "g2-m2"]];
    const sent = {};
    for (const [group, body] of order) {
      const r = await this.call("send", "SendMessage", {
        QueueUrl: url,
        MessageBody: body,
        MessageGroupId: group,
        MessageDeduplicationId: `dedup-${body}`,
      });
      this.check(/^\d+$/.test(r.SequenceNumber ?? ""), `SequenceNumber of a FIFO send: ${show(r.SequenceNumber)}`);
      sent[body] = r;
    }
    await this.call("send duplicate", "SendMessage", {
      QueueUrl: url,
      MessageBody: "g1-repeated",
      MessageGroupId: "g1",
      MessageDeduplicationId: "dedup-g1-m1",
    });
    await this.call(
      "send without group",
      "SendMessage",
      { QueueUrl: url, MessageBody: "no group", MessageDeduplicationId: "dedup-none" },
      "MissingParameter",
    );
    // No deduplication id and no ContentBasedDeduplication; a per-message delay.
    await this.call("send without dedup id", "SendMessage", { QueueUrl: url, MessageBody: "no dedup", MessageGroupId: "g1" }, "InvalidParameterValue");
    await this.call(
      "send delayed",
      "SendMessage",
      { QueueUrl: url, MessageBody: "delayed", MessageGroupId: "g1", MessageDeduplicationId: "dedup-delay", DelaySeconds: 5 },
      "InvalidParameterValue",
    );

    let received = [];
    for (let i = 0; i < POLL_TRIES && received.length < order.length; i++) {
      const batch = await this.receive("receive", url, { WaitTimeSeconds: 1, MaxNumberOfMessages: 10, VisibilityTimeout: 60 });
      const groups = batch.map((m) => m.Attributes?.MessageGroupId);
      const blocked = await this.receive("receive while in flight", url, { MaxNumberOfMessages: 10 });
      for (const m of blocked) {
        this.check(!groups.includes(m.Attributes?.MessageGroupId), `${m.Body} delivered while its group had one in flight`);
      }
      const now = batch.concat(blocked);
      received = received.concat(now);
      if (now.length) {
        const done = await this.call("delete", "DeleteMessageBatch", {
          QueueUrl: url,
          Entries: now.map((m, j) => ({ Id: `m${j}`, ReceiptHandle: m.ReceiptHandle })),
        });
        this.check(!done.Failed?.length, `FIFO deletes failed: ${show(done.Failed)}`);
      }
    }
    const bodies = received.map((m) => m.Body);
    this.eq(sorted(bodies), sorted(order.map(([, b]) => b)), "FIFO bodies (the duplicate suppressed)");
    for (const group of ["g1", "g2"]) {
      this.eq(bodies.filter((b) => b.startsWith(group)), [`${group}-m1`, `${group}-m2`], `order within group ${group}`);
    }
    for (const m of received) {
      const a = m.Attributes ?? {};
      this.eq(a.MessageGroupId, m.Body.slice(0, 2), `MessageGroupId of ${m.Body}`);
      this.eq(a.MessageDeduplicationId, `dedup-${m.Body}`, `MessageDeduplicationId of ${m.Body}`);
      this.eq(a.SequenceNumber, sent[m.Body]?.SequenceNumber, `SequenceNumber of ${m.Body}`);
    }
    await this.expectEmpty("receive after all", url);
  }

  async stepPurge() {
    const url = this.urls.std;
    for (let i = 0; i < 3; i++) {
      await this.call("send", "SendMessage", { QueueUrl: url, MessageBody: `purge me ${i}` });
    }
    await this.call("send delayed", "SendMessage", { QueueUrl: url, MessageBody: "later", DelaySeconds: 900 });
    const counts = await this.call("counts", "GetQueueAttributes", {
      QueueUrl: url,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"],
    });
    this.eq(
      counts.Attributes,
      { ApproximateNumberOfMessages: "3", ApproximateNumberOfMessagesNotVisible: "0", ApproximateNumberOfMessagesDelayed: "1" },
      "message counts before purging",
    );
    await this.call("purge", "PurgeQueue", { QueueUrl: url });
    await this.expectEmpty("receive after purge", url);
    await this.call("purge again", "PurgeQueue", { QueueUrl: url }, "AWS.SimpleQueueService.PurgeQueueInProgress");
  }

  async stepTags() {
    const url = this.urls.std;
    this.eq((await this.call("list initial", "ListQueueTags", { QueueUrl: url })).Tags, { team: "e2e" }, "tags given at CreateQueue");
    await this.call("tag", "TagQueue", { QueueUrl: url, Tags: { env: "tëst ☃", owner: "sluice" } });
    this.eq(
      (await this.call("list tagged", "ListQueueTags", { QueueUrl: url })).Tags,
      { team: "e2e", env: "tëst ☃", owner: "sluice" },
      "tags after TagQueue",
    );
    await this.call("untag", "UntagQueue", { QueueUrl: url, TagKeys: ["env", "team"] });
    this.eq((await this.call("list untagged", "ListQueueTags", { QueueUrl: url })).Tags, { owner: "sluice" }, "tags after UntagQueue");
  }

  async stepAttributes() {
    const url = this.urls.std;
    const want = {
      VisibilityTimeout: "45",
      MessageRetentionPeriod: "3600",
      DelaySeconds: "0",
      ReceiveMessageWaitTimeSeconds: "0",
      MaximumMessageSize: String(MAX_MESSAGE_BYTES),
    };
    await this.call("set", "SetQueueAttributes", { QueueUrl: url, Attributes: want });
    const a = (await this.call("get all", "GetQueueAttributes", { QueueUrl: url, AttributeNames: ["All"] })).Attributes ?? {};
    for (const [key, value] of Object.entries({ ...want, QueueArn: this.arns.std })) {
      this.eq(a[key], value, `attribute ${key}`);
    }
    for (const key of [
      "ApproximateNumberOfMessages",
      "ApproximateNumberOfMessagesNotVisible",
      "ApproximateNumberOfMessagesDelayed",
      "CreatedTimestamp",
      "LastModifiedTimestamp",
    ]) {
      this.check(/^\d+$/.test(a[key] ?? ""), `attribute ${key} = ${show(a[key])}`);
    }
    this.check(!("FifoQueue" in a), "FifoQueue listed for a standard queue");
    const some = (await this.call("get some", "GetQueueAttributes", {
      QueueUrl: url,
      AttributeNames: ["VisibilityTimeout", "DelaySeconds"],
    })).Attributes;
    this.eq(some, { VisibilityTimeout: "45", DelaySeconds: "0" }, "attributes asked by name");
    await this.call("set out of range", "SetQueueAttributes", { QueueUrl: url, Attributes: { VisibilityTimeout: "43201" } }, "InvalidAttributeValue");
    await this.call("get unknown", "GetQueueAttributes", { QueueUrl: url, AttributeNames: ["NoSuchAttribute"] }, "InvalidAttributeName");

    const account = /\/(\d{12})\//.exec(url)[1];
    await this.call("add permission", "AddPermission", {
      QueueUrl: url,
      Label: "e2e-send",
      AWSAccountIds: [account],
      Actions: ["SendMessage", "ReceiveMessage"],
    });
    const policy = (await this.call("get policy", "GetQueueAttributes", { QueueUrl: url, AttributeNames: ["Policy"] })).Attributes ?? {};
    let sids;
    try {
      sids = JSON.parse(policy.Policy).Statement.map((st) => st.Sid);
    } catch {
      sids = undefined;
    }
    this.eq(sids, ["e2e-send"], `statements of the Policy after AddPermission ${show(policy.Policy)}`);
    await this.call("remove permission", "RemovePermission", { QueueUrl: url, Label: "e2e-send" });
    const after = (await this.call("get policy removed", "GetQueueAttributes", { QueueUrl: url, AttributeNames: ["Policy"] })).Attributes ?? {};
    let left;
    try {
      left = after.Policy === undefined ? [] : JSON.parse(after.Policy).Statement;
    } catch {
      left = undefined;
    }
    this.eq(left, [], "Policy statements after RemovePermission");
    await this.call("remove unknown permission", "RemovePermission", { QueueUrl: url, Label: "e2e-send" }, "InvalidParameterValue");
  }

  async stepSize() {
    const url = this.urls.std;
    const body = "x".repeat(MAX_MESSAGE_BYTES);
    const sent = await this.call("send largest", "SendMessage", { QueueUrl: url, MessageBody: body });
    this.eq(sent.MD5OfMessageBody, md5(body), "MD5 of the largest message");
    await this.call("send too large", "SendMessage", { QueueUrl: url, MessageBody: `${body}x` }, "InvalidParameterValue");
    const half = "y".repeat(MAX_MESSAGE_BYTES / 2 + 1);
    await this.call(
      "send batch too large",
      "SendMessageBatch",
      { QueueUrl: url, Entries: [{ Id: "a", MessageBody: half }, { Id: "b", MessageBody: half }] },
      "AWS.SimpleQueueService.BatchRequestTooLong",
    );
    const msgs = await this.receiveUntil("receive largest", url, 1);
    this.eq(msgs.length, 1, "largest message received");
    this.eq(msgs[0].Body.length, MAX_MESSAGE_BYTES, "largest body's length");
    this.eq(msgs[0].MD5OfBody, md5(body), "largest body's MD5");
    await this.call("delete", "DeleteMessage", { QueueUrl: url, ReceiptHandle: msgs[0].ReceiptHandle });
  }

  async stepList() {
    const all = await this.call("list prefix", "ListQueues", { QueueNamePrefix: this.prefix });
    this.eq(sorted(all.QueueUrls ?? []), sorted(Object.values(this.urls)), "ListQueues by prefix");
    let urls = [];
    let token;
    for (let i = 0; i <= Object.keys(this.urls).length; i++) {
      const page = await this.call("list page", "ListQueues", { QueueNamePrefix: this.prefix, MaxResults: 2, NextToken: token });
      this.check((page.QueueUrls ?? []).length <= 2, `a page of 2 held ${show(page)}`);
      urls = urls.concat(page.QueueUrls ?? []);
      token = page.NextToken;
      if (!token) break;
    }
    this.eq(sorted(urls), sorted(Object.values(this.urls)), "ListQueues by prefix, two at a time");
    const fifo = await this.call("list fifo prefix", "ListQueues", { QueueNamePrefix: this.name("fifo") });
    this.eq(fifo.QueueUrls, [this.urls.fifo], "ListQueues by the FIFO queue's prefix");
    const none = await this.call("list none", "ListQueues", { QueueNamePrefix: this.name("nothing") });
    this.eq(none.QueueUrls ?? [], [], "ListQueues with a prefix nothing has");
  }

  async stepAuth() {
    for (const [key, secret, code] of [
      [this.accessKeyId, "not-the-secret", "SignatureDoesNotMatch"],
      ["AKIDUNKNOWNTOSLUICE", "whatever", "InvalidClientTokenId"],
    ]) {
      const client = this.makeClient(key, secret);
      let error;
      try {
        await client.send(new sqs.ListQueuesCommand({ QueueNamePrefix: this.prefix }));
      } catch (e) {
        error = e;
      }
      this.check(error?.$metadata, `a request signed for ${code} was answered: ${error}`);
      this.checkError(error, code, "a badly signed ListQueues");
      this.eq(error.$metadata.httpStatusCode, 403, "HTTP status of a badly signed request");
    }
  }

  async stepDelete() {
    for (const [key, url] of Object.entries(this.urls)) {
      await this.call(`delete ${key}`, "DeleteQueue", { QueueUrl: url });
    }
    await this.call("get url deleted", "GetQueueUrl", { QueueName: this.name("std") }, "AWS.SimpleQueueService.NonExistentQueue");
    await this.call(
      "send deleted",
      "SendMessage",
      { QueueUrl: this.urls.std, MessageBody: "gone" },
      "AWS.SimpleQueueService.NonExistentQueue",
    );
    const after = await this.call("list after", "ListQueues", { QueueNamePrefix: this.prefix });
    this.eq(after.QueueUrls ?? [], [], "ListQueues after DeleteQueue");
  }

  async run() {
    this.say(`client @aws-sdk/client-sqs (AWS JSON 1.0), queues ${this.prefix}-*`);
    const steps = [
      ["queues", this.stepQueues],
      ["message", this.stepMessage],
      ["batch", this.stepBatch],
      ["dead-letter", this.stepDeadLetter],
      ["fifo", this.stepFifo],
      ["purge", this.stepPurge],
      ["tags", this.stepTags],
      ["attributes", this.stepAttributes],
      ["size", this.stepSize],
      ["list", this.stepList],
      ...(this.auth ? [["auth", this.stepAuth]] : []),
      ["delete", this.stepDelete],
    ];
    for (const [name, step] of steps) {
      this.step = name;
      this.say("start");
      try {
        await step.call(this);
      } catch (e) {
        if (e instanceof StepFailure) throw e;
        const message = `step '${name}': ${e.name}: ${e.message}`;
        if (!this.lenient) throw new StepFailure(message);
        this.deviations.push(`${message} (step aborted)`);
      }
    }
  }
}

async function main() {
  const { values } = parseArgs({
    options: {
      endpoint: { type: "string", default: process.env.SQS_ENDPOINT_URL },
      region: { type: "string", default: process.env.AWS_DEFAULT_REGION ?? "us-east-1" },
      prefix: { type: "string", default: `e2e-${randomBytes(4).toString("hex")}` },
      auth: { type: "boolean", default: false },
      debug: { type: "boolean", default: false },
      // Run every step and list every failed check instead of stopping at the first.
      lenient: { type: "boolean", default: false },
    },
  });
  const accessKeyId = process.env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = process.env.AWS_SECRET_ACCESS_KEY;
  if (!values.endpoint || !accessKeyId || !secretAccessKey) {
    console.error("usage: AWS_ACCESS_KEY_ID=.. AWS_SECRET_ACCESS_KEY=.. node scenario.mjs --endpoint URL [--auth]");
    return 2;
  }
  const scenario = new Scenario({ ...values, accessKeyId, secretAccessKey });
  try {
    await scenario.run();
  } catch (e) {
    console.error(`FAILED: ${e.message}`);
    return 1;
  }
  if (scenario.deviations.length) {
    console.error(`FAILED:\n  ${scenario.deviations.join("\n  ")}`);
    return 1;
  }
  const pkg = JSON.parse(
    await readFile(new URL("./node_modules/@aws-sdk/client-sqs/package.json", import.meta.url)),
  );
  console.log(`PASSED: @aws-sdk/client-sqs ${pkg.version}, ${scenario.calls} calls`);
  return 0;
}

process.exitCode = await main();
