#!/usr/bin/env python3
"""The web tier: one backend behind the L4 VIP, taking uploads and publishing each once.

    web.py --listen ADDR:PORT --name NAME --store DIR --endpoint URL

POST /upload with an X-Upload-Id header (1-64 letters, digits, hyphens; the client's key for
the upload, the same on every retry) and the image as the body: the image is stored under
DIR/originals/ID and published to the `uploads` topic with its id and content type as message
attributes; 201 on the first success. A retry of an upload already published is answered 200
and publishes nothing. GET /health answers 200 for the balancer's health checks.

The web tier never decodes images: that work, and its failures, belong to the workers.
"""

import argparse
import json
import os
import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from botocore.exceptions import BotoCoreError, ClientError

from common import ORIGINALS, PUBLISHED, TOPIC, clients, write_atomically

MAX_BYTES = 16 * 1024 * 1024
UPLOAD_ID = re.compile(r"[A-Za-z0-9-]{1,64}")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def reply(self, status, document):
        body = (json.dumps(document) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/health":
            self.reply(200, {"backend": self.server.name, "status": "ok"})
        else:
            self.reply(404, {"error": f"no such path: {self.path}"})

    def do_POST(self):
        if self.path != "/upload":
            self.reply(404, {"error": f"no such path: {self.path}"})
            return
        upload_id = self.headers.get("X-Upload-Id", "")
        if not UPLOAD_ID.fullmatch(upload_id):
            self.reply(400, {"error": "X-Upload-Id must be 1-64 letters, digits and hyphens"})
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.reply(411, {"error": "Content-Length is required"})
            return
        if not 0 < length <= MAX_BYTES:
            self.reply(413, {"error": f"an image is 1 to {MAX_BYTES} bytes, not {length}"})
            return
        image = self.rfile.read(length)
        if len(image) != length:
            self.reply(400, {"error": f"body ended after {len(image)} of {length} bytes"})
            return
        content_type = self.headers.get("Content-Type", "application/octet-stream")
        self.reply(*self.server.accept(upload_id, image, content_type))


class WebServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, name, store, endpoint):
        super().__init__(address, Handler)
        self.name = name
        self.store = store
        self.sns, _ = clients(endpoint)
        self.topic_arn = self.sns.create_topic(Name=TOPIC)["TopicArn"]
        for folder in (ORIGINALS, PUBLISHED):
            os.makedirs(os.path.join(store, folder), exist_ok=True)

    def accept(self, upload_id, image, content_type):
        """Stores and publishes one upload; (status, reply document)."""
        marker = os.path.join(self.store, PUBLISHED, upload_id)
        if os.path.exists(marker):
            return 200, {"id": upload_id, "backend": self.name, "published": False}
        key = f"{ORIGINALS}/{upload_id}"
        write_atomically(os.path.join(self.store, key), image)
        message = {"upload_id": upload_id, "key": key, "bytes": len(image)}
        try:
            self.sns.publish(
                TopicArn=self.topic_arn,
                Message=json.dumps(message),
                MessageAttributes={
                    "upload_id": {"DataType": "String", "StringValue": upload_id},
                    "content_type": {"DataType": "String", "StringValue": content_type},
                },
            )
        except (BotoCoreError, ClientError) as e:
            return 503, {"error": f"cannot publish to {TOPIC}: {e}"}
        # Marked only once published: a retry after a failure anywhere before this publishes.
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            pass
        return 201, {"id": upload_id, "backend": self.name, "published": True}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", required=True, help="ADDR:PORT")
    parser.add_argument("--name", required=True)
    parser.add_argument("--store", required=True)
    parser.add_argument("--endpoint", required=True, help="the queue service's URL")
    args = parser.parse_args()
    host, _, port = args.listen.rpartition(":")
    if not host or not port.isdigit():
        parser.error(f"--listen must be ADDR:PORT, not {args.listen!r}")
    server = WebServer((host, int(port)), args.name, args.store, args.endpoint)
    print(f"{args.name}: listening on {args.listen}, publishing to {server.topic_arn}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
