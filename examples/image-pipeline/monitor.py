#!/usr/bin/env python3
"""Live figures of the pipeline, once a second, until every upload is through or time is up.

    monitor.py --endpoint URL --metrics URL --store DIR --manifest FILE [--max-seconds S]
               [--ready-file FILE] [--hook-log FILE] [--audit-log FILE]

Each line: seconds since start, uploads per second and so far (from FILE.progress, the
uploader's), each queue's visible and in-flight messages (GetQueueAttributes
ApproximateNumberOfMessages / ApproximateNumberOfMessagesNotVisible), the outputs written so
far and the workers running now, the dead-letter queue's depth, the notifications the audit
webhook has recorded (--audit-log, audit.py's), and each web backend's health as the control
plane's /metrics has it. Lines of --hook-log (the control plane's output) about depth hooks, and
what the hooks printed there, are shown as they come. Exits 0 once the uploader is done, both queues are empty, every upload but the
poison one has both outputs and the poison one is in the dead-letter queue twice (once from
each queue); exits 1 if that has not happened within --max-seconds. --ready-file is created once
the queues are found, when the clock starts.
"""

import argparse
import os
import re
import sys
import time
import urllib.request

from botocore.exceptions import BotoCoreError, ClientError

from common import DLQ, OUTPUTS, POOLS, clients, live_workers, read_json

HEALTH = re.compile(r'^sluice_target_health\{([^}]*)\} 1$', re.M)
LABEL = re.compile(r'(\w+)="([^"]*)"')
# The control plane's lines about a depth hook's runs (not its "queue depths:" lines), and the
# hook's own.
HOOK_LINE = re.compile(r"^(sluice-controlplane: queue (?!depths:)\S+: |scale\.py: )")


class NewLines:
    """The lines appended to a file since the last call."""

    def __init__(self, path):
        self.path = path
        self.offset = 0

    def read(self):
        if not self.path:
            return []
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        complete = data[:data.rfind(b"\n") + 1]
        self.offset += len(complete)
        return complete.decode(errors="replace").splitlines()


def line_count(path):
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except (FileNotFoundError, TypeError):
        return 0


def backend_health(url):
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            text = response.read().decode()
    except OSError as e:
        return f"(no metrics: {e})"
    states = []
    for match in HEALTH.finditer(text):
        labels = dict(LABEL.findall(match.group(1)))
        states.append(f"{labels.get('target', '?').split(':')[0]} {labels.get('state', '?')}")
    return ", ".join(sorted(states)) or "(no targets)"


def outputs(store, pool):
    try:
        return sum(1 for n in os.listdir(os.path.join(store, OUTPUTS[pool])) if ".tmp." not in n)
    except FileNotFoundError:
        return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True, help="the queue service's URL")
    parser.add_argument("--metrics", required=True, help="the control plane's /metrics URL")
    parser.add_argument("--store", required=True)
    parser.add_argument("--manifest", required=True, help="the uploader's manifest path")
    parser.add_argument("--max-seconds", type=float, default=90)
    parser.add_argument("--ready-file")
    parser.add_argument("--hook-log", help="the control plane's output")
    parser.add_argument("--audit-log", help="audit.py's record of notifications")
    args = parser.parse_args()
    _, sqs = clients(args.endpoint, read_timeout=2)
    urls = {name: sqs.get_queue_url(QueueName=name)["QueueUrl"] for name in (*POOLS, DLQ)}
    if args.ready_file:
        open(args.ready_file, "w").close()
    started = time.monotonic()
    last_uploaded, last_at = 0, started
    hook_lines = NewLines(args.hook_log)
    hook_lines.read()
    print("   t  uploads/s  uploads | resize vis/fly done wk |    tag vis/fly done wk | dlq | "
          "audit | backends", flush=True)
    while time.monotonic() - started < args.max_seconds:
        time.sleep(max(0.0, 1 - (time.monotonic() - started) % 1))
        now = time.monotonic()
        progress = read_json(args.manifest + ".progress", {})
        uploaded, total = progress.get("uploaded", 0), progress.get("total", 0)
        rate = (uploaded - last_uploaded) / (now - last_at)
        last_uploaded, last_at = uploaded, now
        depth = {}
        try:
            for name, url in urls.items():
                attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
                    "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
                attributes = attributes["Attributes"]
                depth[name] = (int(attributes["ApproximateNumberOfMessages"]),
                               int(attributes["ApproximateNumberOfMessagesNotVisible"]))
        except (BotoCoreError, ClientError) as e:
            print(f"{now - started:4.0f}s  queue service unreachable: {e}", flush=True)
            continue
        done = {pool: outputs(args.store, pool) for pool in POOLS}
        workers = live_workers(args.store)
        for line in hook_lines.read():
            if HOOK_LINE.match(line):
                print(f">>> hook: {line}", flush=True)
        print(f"{now - started:4.0f}s  {rate:9.1f}  {uploaded:3d}/{total:<3d} |"
              + "".join(f" {pool:>6} {depth[pool][0]:3d}/{depth[pool][1]:<3d} {done[pool]:4d} "
                        f"{workers[pool]:2d} |" for pool in POOLS)
              + f" {depth[DLQ][0]:3d} | {line_count(args.audit_log):5d} | "
              + backend_health(args.metrics), flush=True)
        expected = total - 1
        if (progress.get("done") and all(depth[p] == (0, 0) for p in POOLS)
                and all(done[p] == expected for p in POOLS) and depth[DLQ][0] == len(POOLS)):
            print(f"every upload through after {now - started:.0f} s", flush=True)
            return 0
    print(f"monitor: the pipeline was not through after {args.max_seconds:.0f} s",
          file=sys.stderr, flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
