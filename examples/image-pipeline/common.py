"""Names and helpers shared by the image pipeline's programs."""

import json
import os

import boto3
from botocore.config import Config

TOPIC = "uploads"
POOLS = ("resize", "tag")
DLQ = "uploads-dlq"
REGION = "us-east-1"

# The store's folders: originals from the web tier, the workers' outputs, their completion logs
# and the messages each worker holds right now.
ORIGINALS = "originals"
PUBLISHED = "published"
OUTPUTS = {"resize": "resized", "tag": "tags"}
DONE = "done"
HELD = "held"

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
