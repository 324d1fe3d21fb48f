"""Names and helpers shared by the image pipeline's programs."""

import json
import os

import boto3
from botocore.config import Config

TOPIC = "uploads"
POOLS = ("resize", "tag")
DLQ = "uploads-dlq"
REGION = "us-east-1"

# The store's folders: originals from the web tier, the workers' outputs, their completion logs,
# the messages each worker holds right now and the workers running now.
ORIGINALS = "originals"
PUBLISHED = "published"
OUTPUTS = {"resize": "resized", "tag": "tags"}
DONE = "done"
HELD = "held"
LIVE = "live"

# The named colours the client paints with and the tag worker matches pixels to.
COLOURS = {
    "red": (220, 40, 40),
    "orange": (240, 140, 30),
    "yellow": (235, 210, 50),
    "green": (40, 170, 60),
    "blue": (40, 80, 210),
    "purple": (130, 50, 160),
    "white": (245, 245, 245),
    "black": (20, 20, 20),
}


def clients(endpoint, read_timeout=30):
    """boto3's SNS and SQS clients for the queue service at endpoint."""
    session = boto3.session.Session(
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "demo"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "demo"),
        region_name=REGION,
    )
    config = Config(
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=2,
        read_timeout=read_timeout,
    )
    return (
        session.client("sns", endpoint_url=endpoint, config=config),
        session.client("sqs", endpoint_url=endpoint, config=config),
    )


def write_atomically(path, data):
    """Writes data (bytes or text) to path through a temporary file and a rename: readers see
    the whole file or none, and writing it again leaves one file."""
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    os.replace(tmp, path)


def read_json(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (FileNotFoundError, json.JSONDecodeError):
        return default


def alive(pid):
    """True while process pid runs (a zombie, finished but not yet reaped, is not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            # The state follows the command name, which is in parentheses and may hold spaces.
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def live_workers(store):
    """{pool: number of its workers running now}, from the workers' DIR/live files."""
    counts = dict.fromkeys(POOLS, 0)
    try:
        names = os.listdir(os.path.join(store, LIVE))
    except FileNotFoundError:
        return counts
    for name in names:
        record = read_json(os.path.join(store, LIVE, name))
        if record and record.get("pool") in counts and alive(record.get("pid", 0)):
            counts[record["pool"]] += 1
    return counts
