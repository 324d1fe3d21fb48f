#!/usr/bin/env python3
"""The audit webhook: an http endpoint subscribed to the `uploads` topic, keeping a record of
every upload notification it is sent.

    audit.py --listen ADDR:PORT --log FILE

The queue service POSTs to it as SNS does. A SubscriptionConfirmation is confirmed with a plain
GET of its SubscribeURL; each Notification's message id and upload id are appended to FILE as a
JSON line, and it is answered 200. Delivery to http endpoints is at least once: a copy whose 200
was lost on the way comes again and is recorded again, with the same message id.
"""

import argparse
import json
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def answer(self, status, text=""):
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        kind = self.headers.get("x-amz-sns-message-type", "")
        try:
            length = int(self.headers.get("Content-Length", ""))
            envelope = json.loads(self.rfile.read(length))
        except ValueError as e:
            self.answer(400, f"a JSON body with its Content-Length is expected: {e}")
            return
        if kind == "SubscriptionConfirmation":
            try:
                with urllib.request.urlopen(envelope["SubscribeURL"], timeout=5) as reply:
                    reply.read()
            except (KeyError, OSError) as e:
                print(f"audit: cannot confirm the subscription to {envelope.get('TopicArn')}: "
                      f"{e}", file=sys.stderr, flush=True)
                self.answer(500, "not confirmed")
                return
            print(f"audit: subscription to {envelope.get('TopicArn')} confirmed", flush=True)
            self.answer(200)
        elif kind == "Notification":
            try:
                upload_id = json.loads(envelope["Message"])["upload_id"]
                message_id = envelope["MessageId"]
            except (KeyError, TypeError, ValueError) as e:
                self.answer(400, f"not an upload notification: {e}")
                return
            self.server.record({"message_id": message_id, "upload_id": upload_id})
            self.answer(200)
        else:
            self.answer(400, f"x-amz-sns-message-type {kind!r} is not handled")


class AuditServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, log_path):
        super().__init__(address, Handler)
        self.lock = threading.Lock()
        self.log = open(log_path, "a")

    def record(self, entry):
        with self.lock:
            self.log.write(json.dumps(entry) + "\n")
            self.log.flush()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", required=True, help="ADDR:PORT")
    parser.add_argument("--log", required=True, help="the JSON lines file of notifications")
    args = parser.parse_args()
    host, _, port = args.listen.rpartition(":")
    if not host or not port.isdigit():
        parser.error(f"--listen must be ADDR:PORT, not {args.listen!r}")
    server = AuditServer((host, int(port)), args.log)
    print(f"audit: listening on {args.listen}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
