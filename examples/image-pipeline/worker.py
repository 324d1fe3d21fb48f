#!/usr/bin/env python3
"""A worker of the `resize` or `tag` pool: long-polls its queue, processes each upload and
deletes the message only once the output is written.

    worker.py resize|tag --name NAME --store DIR --endpoint URL [--wait S] [--max-seconds S]
              [--delay S]

resize writes DIR/resized/ID.jpg, the image scaled so that its longer side is 256 pixels; tag
writes DIR/tags/ID.json with the image's orientation, size class and dominant colour. Outputs are
keyed by the upload id and written by rename, so a message delivered twice leaves one output
(the second delivery finds it and only deletes the message). Each completion is appended to
DIR/done/NAME.jsonl; the messages the worker holds right now are listed in DIR/held/NAME.json.
While it runs, DIR/live/NAME.json names its pool and pid (for the live figures' worker counts).
--delay adds that many seconds to every message, standing in for heavier work: a slow pool lets a
backlog build up, which the control plane's depth hook answers with more workers.

An image that cannot be decoded is never deleted: its message comes back after a second, and
the queue's RedrivePolicy moves it to the dead-letter queue after its last allowed receive.
The worker stops on SIGTERM (at once while it waits for messages; after the messages it holds
otherwise, so that a pool scaled down leaves no half-written output) or after --max-seconds.
"""

import argparse
import json
import os
import signal
import sys
import time

from botocore.exceptions import BotoCoreError, ClientError
from PIL import Image

from common import COLOURS, DONE, HELD, LIVE, OUTPUTS, POOLS, clients, write_atomically

THUMBNAIL_SIDE = 256
BATCH = 4
RETRY_AFTER_S = 1


def resize(image, path):
    width, height = image.size
    scale = THUMBNAIL_SIDE / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    out = image.convert("RGB").resize(size, Image.LANCZOS)
    tmp = f"{path}.tmp.{os.getpid()}"
    out.save(tmp, "JPEG", quality=85)
    os.replace(tmp, path)
    return {"width": size[0], "height": size[1]}


def nearest_colour(pixel):
    return min(COLOURS, key=lambda name: sum((a - b) ** 2 for a, b in zip(COLOURS[name], pixel)))


def tag(image, path):
    width, height = image.size
    if width > height:
        orientation = "landscape"
    elif height > width:
        orientation = "portrait"
    else:
        orientation = "square"
    pixels = width * height
    size_class = "small" if pixels < 500_000 else "medium" if pixels < 2_000_000 else "large"
    counts = {}
    for pixel in image.convert("RGB").resize((64, 64), Image.BOX).getdata():
        name = nearest_colour(pixel)
        counts[name] = counts.get(name, 0) + 1
    tags = {
        "orientation": orientation,
        "size_class": size_class,
        "colour": max(counts, key=counts.get),
    }
    write_atomically(path, json.dumps({"tags": tags, "width": width, "height": height}) + "\n")
    return tags


class Worker:
    def __init__(self, pool, name, store, endpoint, wait, delay):
        self.pool = pool
        self.delay = delay
        self.name = name
        self.store = store
        self.wait = wait
        _, self.sqs = clients(endpoint, read_timeout=wait + 10)
        self.queue_url = self.sqs.get_queue_url(QueueName=pool)["QueueUrl"]
        self.outputs = os.path.join(store, OUTPUTS[pool])
        for folder in (self.outputs, *(os.path.join(store, f) for f in (DONE, HELD, LIVE))):
            os.makedirs(folder, exist_ok=True)
        self.held_path = os.path.join(store, HELD, f"{name}.json")
        self.done_path = os.path.join(store, DONE, f"{name}.jsonl")
        self.live_path = os.path.join(store, LIVE, f"{name}.json")
        self.held = {}
        self.busy = False
        self.stopping = False

    def on_sigterm(self, *_):
        if not self.busy:
            sys.exit(0)
        self.stopping = True

    def note_held(self):
        write_atomically(self.held_path, json.dumps(self.held))

    def output_path(self, upload_id):
        suffix = ".jpg" if self.pool == "resize" else ".json"
        return os.path.join(self.outputs, upload_id + suffix)

    def process(self, message):
        """Processes one message; True once its output exists."""
        upload = json.loads(message["Body"])
        upload_id = upload["upload_id"]
        receives = int(message["Attributes"].get("ApproximateReceiveCount", "1"))
        path = self.output_path(upload_id)
        time.sleep(self.delay)
        record = {"upload_id": upload_id, "message_id": message["MessageId"],
                  "worker": self.name, "receive_count": receives}
        if os.path.exists(path):
            record["already_done"] = True
        else:
            try:
                with Image.open(os.path.join(self.store, upload["key"])) as image:
                    image.load()
                    record["result"] = (resize if self.pool == "resize" else tag)(image, path)
            except (OSError, ValueError, Image.DecompressionBombError) as e:
                print(f"{self.name}: cannot process {upload_id} (receive {receives}): {e}",
                      file=sys.stderr, flush=True)
                return False
        with open(self.done_path, "a") as f:
            f.write(json.dumps(record) + "\n")
        return True

    def run(self, max_seconds):
        write_atomically(self.live_path, json.dumps({"pool": self.pool, "pid": os.getpid()}))
        try:
            self.loop(max_seconds)
        finally:
            os.unlink(self.live_path)

    def loop(self, max_seconds):
        deadline = time.monotonic() + max_seconds
        while time.monotonic() < deadline and not self.stopping:
            try:
                messages = self.sqs.receive_message(
                    QueueUrl=self.queue_url,
                    MaxNumberOfMessages=BATCH,
                    WaitTimeSeconds=self.wait,
                    AttributeNames=["ApproximateReceiveCount"],
                ).get("Messages", [])
            except (BotoCoreError, ClientError) as e:
                print(f"{self.name}: receive failed: {e}", file=sys.stderr, flush=True)
                time.sleep(1)
                continue
            self.busy = True
            self.held = {m["MessageId"]: json.loads(m["Body"])["upload_id"] for m in messages}
            self.note_held()
            for message in messages:
                done = self.process(message)
                # Listed as held only while it truly is: off the list before the delete.
                del self.held[message["MessageId"]]
                self.note_held()
                try:
                    if done:
                        self.sqs.delete_message(
                            QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
                    else:
                        self.sqs.change_message_visibility(
                            QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"],
                            VisibilityTimeout=RETRY_AFTER_S)
                except (BotoCoreError, ClientError) as e:
                    print(f"{self.name}: {e}", file=sys.stderr, flush=True)
            self.busy = False


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pool", choices=POOLS)
    parser.add_argument("--name", required=True)
    parser.add_argument("--store", required=True)
    parser.add_argument("--endpoint", required=True, help="the queue service's URL")
    parser.add_argument("--wait", type=int, default=5, help="long-poll seconds (1-20)")
    parser.add_argument("--max-seconds", type=float, default=300)
    parser.add_argument("--delay", type=float, default=0.0,
                        help="seconds added to every message (0-2), to make the pool slow")
    args = parser.parse_args()
    if not 1 <= args.wait <= 20:
        parser.error(f"--wait must be 1-20 seconds, not {args.wait}")
    if not 0 <= args.delay <= 2:
        parser.error(f"--delay must be 0-2 seconds, not {args.delay}")
    worker = Worker(args.pool, args.name, args.store, args.endpoint, args.wait, args.delay)
    signal.signal(signal.SIGTERM, worker.on_sigterm)
    print(f"{args.name}: long-polling {worker.queue_url} ({args.wait} s)", flush=True)
    worker.run(args.max_seconds)


if __name__ == "__main__":
    main()
