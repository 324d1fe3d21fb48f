#!/usr/bin/env python3
"""The control plane's depth hook for a worker pool: more workers when the pool's queue backs up,
back to the standing pool when it has drained.

    scale.py --netns NS --store DIR --endpoint URL --pids FILE [--add N] [--delay S]
             [--max-seconds S]

Run by sluice-controlplane (queues.depth_hooks), which names the queue and the crossing in
SLUICE_QUEUE, SLUICE_QUEUE_CROSSED (up or down) and SLUICE_QUEUE_DEPTH; the pool is the queue's
name. Up starts N more workers (worker.py, named POOL-sK, K counting every one ever started) in
network namespace NS, where the queue service is, and appends "PID NAME" for each to FILE, so
that whoever owns FILE can stop them all. Down sends SIGTERM to every one of them still running:
each stops once it has finished the messages it holds. Either way it returns at once; the
workers' own output goes to FILE.log.
"""

import argparse
import os
import signal
import subprocess
import sys

from common import POOLS, alive

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker.py")


def started(pids_file):
    """[(pid, name)] of every worker the hook has started."""
    try:
        with open(pids_file) as f:
            return [(int(pid), name) for pid, name in (line.split() for line in f if line.strip())]
    except FileNotFoundError:
        return []


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--netns", required=True, help="the namespace the workers run in")
    parser.add_argument("--store", required=True)
    parser.add_argument("--endpoint", required=True, help="the queue service's URL")
    parser.add_argument("--pids", required=True, help="the file listing the workers started")
    parser.add_argument("--add", type=int, default=3, help="workers started on the way up")
    parser.add_argument("--delay", type=float, default=0.0, help="worker.py --delay")
    parser.add_argument("--max-seconds", type=float, default=120, help="worker.py --max-seconds")
    args = parser.parse_args()
    pool, crossed = os.environ.get("SLUICE_QUEUE", ""), os.environ.get("SLUICE_QUEUE_CROSSED", "")
    depth = os.environ.get("SLUICE_QUEUE_DEPTH", "?")
    if pool not in POOLS or crossed not in ("up", "down"):
        sys.exit(f"scale.py: run as a depth hook of one of the queues {', '.join(POOLS)}: "
                 f"SLUICE_QUEUE={pool!r}, SLUICE_QUEUE_CROSSED={crossed!r}")
    if not 1 <= args.add <= 16:
        parser.error(f"--add must be 1-16, not {args.add}")
    workers = started(args.pids)
    if crossed == "up":
        names = []
        with open(args.pids, "a") as pids, open(args.pids + ".log", "a") as log:
            for k in range(len(workers) + 1, len(workers) + args.add + 1):
                name = f"{pool}-s{k}"
                process = subprocess.Popen(
                    ["ip", "netns", "exec", args.netns, sys.executable, WORKER, pool,
                     "--name", name, "--store", args.store, "--endpoint", args.endpoint,
                     "--delay", str(args.delay), "--max-seconds", str(args.max_seconds)],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
                pids.write(f"{process.pid} {name}\n")
                names.append(name)
        print(f"scale.py: {pool} {depth} visible, up: started {', '.join(names)}", flush=True)
    else:
        stopped = []
        for pid, name in workers:
            if alive(pid):
                os.kill(pid, signal.SIGTERM)
                stopped.append(name)
        print(f"scale.py: {pool} {depth} visible, down: SIGTERM to {', '.join(stopped) or 'none'}",
              flush=True)


if __name__ == "__main__":
    main()
