#!/usr/bin/env python3
"""Differential check: scenario.py's boto3 steps against moto_server and against Sluice.

    differential.py --endpoint http://127.0.0.1:PORT [--moto-endpoint URL]

Starts `moto_server` on a free loopback port (unless --moto-endpoint names a running one), runs
the scenario against it and against the Sluice endpoint with the boto3 of the Python that runs
this file (pip's: AWS JSON 1.0, Debian's: query), and compares, call by call, the shape of each
reply (its key paths and value types, not the values) and each error code. A difference passes
only when DIFFERENCES below lists it, with the reason; docs/sqs-compatibility.md mirrors that
table. Moto is a reference for shapes, not for behaviour: its failed checks are printed, not
counted, and where it departs from AWS the table says so. Sluice's run must pass every check.
Exits 0 when every difference is listed and Sluice passed, 1 otherwise.
"""

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scenario  # noqa: E402

# (call label pattern, difference pattern, who departs from AWS, why). Labels are "step/call";
# differences are "+path:type" (only Sluice's reply has it), "-path:type" (only moto's),
# "moto ok, sluice CODE", "moto CODE, sluice ok", "moto CODE, sluice CODE".
DIFFERENCES = [
    (r".*", r"[+]Attributes\.SluiceDurability:str",
     "sluice", "Sluice's per-queue durability policy (docs/queue-engine.md), an extension that "
     "GetQueueAttributes lists for All; clients keep attribute names they do not know"),
    (r"batch/send batch", r"[+]Failed(\[\].*|:list)",
     "moto", "moto accepts a body with U+0001, which SQS refuses (InvalidMessageContents); "
     "Sluice reports that entry in Failed"),
    (r"batch/(receive batch|change visibility batch|delete batch|send batch duplicate ids)",
     r"call made only against sluice",
     "moto", "query protocol: moto puts the U+0001 body it accepted into its XML reply, which is "
     "then not well-formed; boto3 cannot parse it and moto's batch step ends there"),
    (r"dead-letter/receive dlq", r"[+]Messages\[\]\.Attributes\.DeadLetterQueueSourceArn:str",
     "moto", "moto does not add DeadLetterQueueSourceArn to messages moved to a dead-letter queue"),
    (r"dead-letter/start move", r"moto 500, sluice ok",
     "moto", "moto answers StartMessageMoveTask with an internal error"),
    (r"dead-letter/(receive moved back|delete moved|list moves)",
     r"call made only against sluice",
     "moto", "the calls after StartMessageMoveTask, which moto fails"),
    (r"purge/purge again", r"moto ok, sluice AWS\.SimpleQueueService\.PurgeQueueInProgress",
     "moto", "moto allows a second PurgeQueue within 60 seconds; SQS refuses it"),
    (r"attributes/set out of range", r"moto ok, sluice InvalidAttributeValue",
     "moto", "moto accepts VisibilityTimeout 43201 (the maximum is 43200)"),
    (r"list/list page", r"[+]NextToken:str",
     "moto", "moto ignores MaxResults and answers every queue in one page"),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MotoServer:
    """moto_server on loopback, stopped on exit."""

    def __init__(self, timeout=60):
        exe = shutil.which("moto_server")
        if not exe:
            raise SystemExit("moto_server not found on PATH (pip install 'moto[server]')")
        self.port = free_port()
        self.proc = subprocess.Popen(
            [exe, "-H", "127.0.0.1", "-p", str(self.port)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit("moto_server exited: " + self.proc.stderr.read().decode()[-2000:])
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise SystemExit(f"moto_server did not listen on port {self.port} within {timeout} s")

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def by_label(records):
    """label -> set of outcomes: shapes (tuples of paths) or ("error", code)."""
    out = {}
    for label, kind, data in records:
        out.setdefault(label, set()).add(data if kind == "ok" else ("error", data))
    return out


def describe(outcome):
    return outcome[1] if isinstance(outcome, tuple) and outcome[:1] == ("error",) else "ok"


def differences(moto, sluice):
    """[(label, difference)] between the two runs' outcomes."""
    found = []
    a, b = by_label(moto), by_label(sluice)
    for label in sorted(set(a) | set(b)):
        # Empty polls inside receive loops depend on timing; compare them only where both had one.
        if label.endswith(":empty") and not (label in a and label in b):
            continue
        if label not in a or label not in b:
            found.append((label, f"call made only against {'sluice' if label in b else 'moto'}"))
            continue
        ea = {describe(o) for o in a[label]}
        eb = {describe(o) for o in b[label]}
        if ea != eb:
            found.append((label, f"moto {'/'.join(sorted(ea))}, sluice {'/'.join(sorted(eb))}"))
            continue
        pa = set().union(*(o for o in a[label] if describe(o) == "ok"))
        pb = set().union(*(o for o in b[label] if describe(o) == "ok"))
        found += [(label, f"+{p}") for p in sorted(pb - pa)]
        found += [(label, f"-{p}") for p in sorted(pa - pb)]
    return found


def listed(label, difference):
    for label_re, diff_re, _, _ in DIFFERENCES:
        if re.fullmatch(label_re, label) and re.fullmatch(diff_re, difference):
            return True
    return False


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--endpoint", help="Sluice's SQS endpoint")
    p.add_argument("--moto-endpoint", help="a running moto_server (default: start one)")
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--debug", action="store_true", help="boto3 debug logging on stderr")
    p.add_argument("--probe", action="store_true",
                   help="only print boto3's wire protocol (exit 3: no boto3 or moto_server)")
    args = p.parse_args()
    scenario.isolate_from_user_config()
    key = os.environ.get("AWS_ACCESS_KEY_ID")
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not key or not secret:
        raise SystemExit("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set")
    if args.probe:
        if not shutil.which("moto_server"):
            print("no moto_server on PATH (pip install 'moto[server]')")
            return 3
        return scenario.probe(
            lambda: scenario.Boto3Client("http://127.0.0.1:9", args.region, key, secret))
    if not args.endpoint:
        p.error("--endpoint is required")

    run = uuid.uuid4().hex[:8]
    moto_server = None if args.moto_endpoint else MotoServer()
    try:
        moto_url = args.moto_endpoint or moto_server.endpoint
        print(f"moto at {moto_url}", file=sys.stderr)
        moto_client = scenario.Boto3Client(moto_url, args.region, key, secret, args.debug)
        # The auth step is left out: moto checks no signature (the client tests cover it).
        moto = scenario.Scenario(moto_client, f"diff-moto-{run}", strict=False)
        moto.run()
    finally:
        if moto_server:
            moto_server.stop()
    sluice_client = scenario.Boto3Client(args.endpoint, args.region, key, secret, args.debug)
    sluice = scenario.Scenario(sluice_client, f"diff-sluice-{run}", strict=False)
    sluice.run()

    print(f"\n{sluice_client.name}, {sluice_client.protocol} protocol")
    print(f"moto departed from AWS in {len(moto.deviations)} checks:")
    for d in moto.deviations:
        print("  " + d.splitlines()[0][:300])
    found = differences(moto.records, sluice.records)
    unlisted = [(label, d) for label, d in found if not listed(label, d)]
    print(f"{len(found)} differences in reply shapes and error codes, {len(unlisted)} not listed:")
    for label, d in found:
        print(f"  {'LISTED  ' if listed(label, d) else 'UNLISTED'} {label}: {d}")
    if sluice.deviations:
        print(f"Sluice failed {len(sluice.deviations)} checks:")
        for d in sluice.deviations:
            print("  " + d[:600])
    ok = not unlisted and not sluice.deviations
    print("PASSED" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
