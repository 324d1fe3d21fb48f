#!/usr/bin/env python3
"""Checks the pipeline's end state against what the uploader sent; prints PASS or FAIL.

    verify.py --endpoint URL --store DIR --manifest FILE --killed-worker NAME
              --audit-log FILE --hook-log FILE --scaled FILE

Every upload but the poison one must have been published, and have exactly one resized image
whose longer side is 256 pixels with the aspect ratio kept, and exactly one tag record with the
orientation, size class and background colour the uploader painted. The poison upload must have
no output and be in the dead-letter queue once from each queue. Every message the killed worker
held when it died must have been finished by another worker on a later receive. Both queues
must be empty.

The audit webhook's record (--audit-log) must hold every published upload and nothing else;
copies it was sent twice (the same message id again: http delivery is at least once) are counted,
not failed. The resize pool must have been scaled: the control plane's output (--hook-log) shows
the depth hook run on the way up and exit 0, workers the hook started (listed in --scaled, as
scale.py writes it) finished messages, and once the queue drained the hook ran on the way down
and none of those workers is left running. Exits 1 on any difference, each named.
"""

import argparse
import json
import os
import re
import sys
import time

from PIL import Image

from common import DLQ, DONE, HELD, OUTPUTS, POOLS, PUBLISHED, alive, clients, read_json

SIDE = 256
# The control plane's lines for a depth hook's start and end (docs/controlplane-config.md).
HOOK_STARTED = re.compile(r"queue resize: \d+ visible messages, (above|below) \d+: started ")
HOOK_ENDED = re.compile(r"queue resize: \S+ \(pid \d+, (up|down)\) (.*)$")


def expected_size(width, height):
    longer = max(width, height)
    return (SIDE, round(height * SIDE / width)) if longer == width else (
        round(width * SIDE / height), SIDE)


def expected_tags(upload):
    width, height = upload["width"], upload["height"]
    pixels = width * height
    orientation = "landscape" if width > height else "portrait" if height > width else "square"
    return {
        "orientation": orientation,
        "size_class": "small" if pixels < 500_000 else "medium" if pixels < 2_000_000 else "large",
        "colour": upload["colour"],
    }


def listing(path):
    try:
        return sorted(os.listdir(path))
    except FileNotFoundError:
        return []


def completions(store):
    """Every completion record of every worker, in file order."""
    records = []
    for name in listing(os.path.join(store, DONE)):
        with open(os.path.join(store, DONE, name)) as f:
            records += [dict(json.loads(line), pool=name.split("-")[0]) for line in f]
    return records


def json_lines(path):
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def check_audit(path, published, failures):
    entries = json_lines(path)
    by_message = {}
    for e in entries:
        by_message[e["message_id"]] = e["upload_id"]
    seen = set(by_message.values())
    uploads_per_id = {}
    for upload_id in by_message.values():
        uploads_per_id[upload_id] = uploads_per_id.get(upload_id, 0) + 1
    missing, extra = published - seen, seen - published
    if missing:
        failures.append(f"the audit webhook never got {len(missing)} published uploads: "
                        + ", ".join(sorted(missing)[:5]))
    if extra:
        failures.append(f"the audit webhook got uploads never published: {sorted(extra)[:5]}")
    print(f"  audit webhook: {len(entries)} notifications, {len(seen)} of {len(published)} "
          f"published uploads; sent again (same message id): {len(entries) - len(by_message)}; "
          f"uploads published more than once: "
          f"{sum(1 for n in uploads_per_id.values() if n > 1)}")


def check_scaling(hook_log, scaled_path, by_worker, failures):
    try:
        with open(hook_log) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        lines = []
    starts = [m.group(1) for m in map(HOOK_STARTED.search, lines) if m]
    ends = [(m.group(1), m.group(2)) for m in map(HOOK_ENDED.search, lines) if m]
    scaled = []
    try:
        with open(scaled_path) as f:
            scaled = [(int(pid), name) for pid, name in (line.split() for line in f)]
    except FileNotFoundError:
        pass
    scaled_done = sum(by_worker.get(name, 0) for _, name in scaled)
    # Told to stop, a worker finishes the messages it holds first.
    deadline = time.monotonic() + 10
    running = [name for pid, name in scaled if alive(pid)]
    while running and time.monotonic() < deadline:
        time.sleep(0.2)
        running = [name for pid, name in scaled if alive(pid)]
    if ("up", "exited with status 0") not in ends:
        failures.append(f"the depth hook never ran on the way up and exited 0 (runs: {ends})")
    if not scaled_done:
        failures.append("no worker started by the depth hook finished a message")
    if ("down", "exited with status 0") not in ends:
        failures.append(f"the depth hook never ran on the way down and exited 0 (runs: {ends})")
    if running:
        failures.append(f"workers started by the depth hook still run: {', '.join(running)}")
    print(f"  depth hook on resize: {starts.count('above')} runs up, {starts.count('below')} down "
          f"({', '.join(f'{d} {how}' for d, how in ends) or 'none ended'}); {len(scaled)} workers "
          f"started, {scaled_done} completions by them, {len(running)} still running")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--store", required=True)
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--killed-worker", required=True)
    parser.add_argument("--audit-log", required=True, help="audit.py's record")
    parser.add_argument("--hook-log", required=True, help="the control plane's output")
    parser.add_argument("--scaled", required=True, help="scale.py's list of workers started")
    args = parser.parse_args()
    store = args.store
    failures = []
    manifest = read_json(args.manifest)
    if not manifest:
        print(f"FAIL: no manifest at {args.manifest}")
        return 1
    good = {i: u for i, u in manifest.items() if not u.get("poison")}
    poison = [i for i, u in manifest.items() if u.get("poison")]

    published = set(listing(os.path.join(store, PUBLISHED)))
    if published != set(manifest):
        failures.append(f"published {len(published)} of {len(manifest)} uploads")

    resized = listing(os.path.join(store, OUTPUTS["resize"]))
    if resized != sorted(f"{i}.jpg" for i in good):
        failures.append(f"resized outputs are {len(resized)} files, not one for each of the "
                        f"{len(good)} images")
    wrong_size = []
    for upload_id, upload in good.items():
        path = os.path.join(store, OUTPUTS["resize"], f"{upload_id}.jpg")
        if os.path.exists(path):
            with Image.open(path) as image:
                want = expected_size(upload["width"], upload["height"])
                if image.size != want:
                    wrong_size.append(f"{upload_id} {image.size} not {want}")
    if wrong_size:
        failures.append("wrong resized sizes: " + "; ".join(wrong_size[:5]))

    tagged = listing(os.path.join(store, OUTPUTS["tag"]))
    if tagged != sorted(f"{i}.json" for i in good):
        failures.append(f"tag records are {len(tagged)} files, not one for each of the "
                        f"{len(good)} images")
    wrong_tags = []
    for upload_id, upload in good.items():
        record = read_json(os.path.join(store, OUTPUTS["tag"], f"{upload_id}.json"))
        if record and record["tags"] != expected_tags(upload):
            wrong_tags.append(f"{upload_id} {record['tags']} not {expected_tags(upload)}")
    if wrong_tags:
        failures.append("wrong tags: " + "; ".join(wrong_tags[:5]))

    records = completions(store)
    messages = {}
    for r in records:
        messages.setdefault((r["pool"], r["upload_id"]), set()).add(r["message_id"])
    delivered_twice = sum(1 for ids in messages.values() if len(ids) > 1)
    redelivered = [r for r in records if r["receive_count"] > 1]
    by_worker = {}
    for r in records:
        by_worker[r["worker"]] = by_worker.get(r["worker"], 0) + 1

    held = read_json(os.path.join(store, HELD, f"{args.killed_worker}.json"), {})
    if not held:
        failures.append(f"{args.killed_worker} held no message when it was killed")
    for message_id, upload_id in held.items():
        finishers = [r for r in records if r["message_id"] == message_id
                     and r["worker"] != args.killed_worker and r["receive_count"] > 1]
        if finishers:
            print(f"  {upload_id}: held by {args.killed_worker} when killed, finished by "
                  f"{finishers[0]['worker']} on receive {finishers[0]['receive_count']}")
        else:
            failures.append(f"{upload_id}, held by the killed {args.killed_worker}, was not "
                            "finished by another worker after a redelivery")

    _, sqs = clients(args.endpoint, read_timeout=10)
    arns = {}
    for pool in POOLS:
        url = sqs.get_queue_url(QueueName=pool)["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "QueueArn", "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
        attributes = attributes["Attributes"]
        arns[attributes["QueueArn"]] = pool
        left = (int(attributes["ApproximateNumberOfMessages"])
                + int(attributes["ApproximateNumberOfMessagesNotVisible"]))
        if left:
            failures.append(f"{pool} still holds {left} messages")
    dlq_url = sqs.get_queue_url(QueueName=DLQ)["QueueUrl"]
    dead = []
    for _ in range(3):
        dead += sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                    VisibilityTimeout=30, AttributeNames=["All"]).get(
                                        "Messages", [])
    dead_from = sorted(
        f"{json.loads(m['Body'])['upload_id']} from "
        f"{arns.get(m['Attributes'].get('DeadLetterQueueSourceArn'), '?')}" for m in dead)
    want_dead = sorted(f"{p} from {pool}" for p in poison for pool in POOLS)
    if dead_from != want_dead:
        failures.append(f"dead-letter queue holds {dead_from or 'nothing'}, not {want_dead}")

    print(f"  uploads: {len(manifest)} ({len(good)} images, {len(poison)} poison), "
          f"{len(published)} published; retried uploads: "
          f"{sum(1 for u in manifest.values() if u['attempts'] > 1)}")
    print(f"  resized: {len(resized)}, tagged: {len(tagged)}; completions by worker: "
          + ", ".join(f"{w} {n}" for w, n in sorted(by_worker.items())))
    print(f"  redelivered and finished: {len(redelivered)}; delivered twice to one pool: "
          f"{delivered_twice}; dead-letter queue: {', '.join(dead_from) or 'empty'}")
    check_audit(args.audit_log, published, failures)
    check_scaling(args.hook_log, args.scaled, by_worker, failures)
    if failures:
        print("FAIL: " + "\n      ".join(failures))
        return 1
    print(f"PASS: all {len(good)} images resized and tagged exactly as expected, the poison one "
          f"dead-lettered from both queues, every upload audited, the resize pool scaled up and "
          f"back down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
