#!/usr/bin/env python3
"""The client: makes N images and uploads them, plus one poison image, through the VIP.

    uploader.py --url http://VIP/upload --count N --manifest FILE [--rate R] [--threads T]

Image i is i's own: a size from a fixed list, a background in one of the workers' named colours
and a few smaller rectangles of other colours (at most a fifth of the area), as JPEG or PNG. The
poison image is a JPEG header followed by bytes no decoder takes. Each upload opens a new
connection (so the balancer spreads them) and is retried, with the same X-Upload-Id, on
connection errors, timeouts and 5xx answers. FILE gets what was uploaded and what the pipeline
must make of it; FILE.progress is rewritten after every upload for the live figures.
"""

import argparse
import http.client
import io
import json
import random
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

from PIL import Image, ImageDraw

from common import COLOURS, write_atomically

SIZES = [(640, 480), (480, 640), (800, 800), (1200, 900), (900, 1200), (1920, 1080), (1080, 1920),
         (1500, 1500), (1024, 576), (400, 300)]
ATTEMPTS = 10
POISON_ID = "poison"


def make_image(i):
    """(bytes, content type, description) of image i."""
    rng = random.Random(i)
    width, height = SIZES[i % len(SIZES)]
    names = list(COLOURS)
    background = names[i % len(names)]
    image = Image.new("RGB", (width, height), COLOURS[background])
    draw = ImageDraw.Draw(image)
    others = [n for n in names if n != background]
    for _ in range(3):
        w, h = rng.randint(width // 10, width // 4), rng.randint(height // 10, height // 4)
        x, y = rng.randint(0, width - w), rng.randint(0, height - h)
        draw.rectangle([x, y, x + w - 1, y + h - 1], fill=COLOURS[rng.choice(others)])
    fmt = "JPEG" if i % 2 == 0 else "PNG"
    out = io.BytesIO()
    image.save(out, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return out.getvalue(), f"image/{fmt.lower()}", {
        "width": width, "height": height, "colour": background, "format": fmt}


def make_poison():
    rng = random.Random(-1)
    return b"\xff\xd8\xff\xe0" + bytes(rng.randrange(256) for _ in range(4096))


class Uploader:
    def __init__(self, url, manifest, total):
        parsed = urllib.parse.urlsplit(url)
        self.host, self.port, self.path = parsed.hostname, parsed.port or 80, parsed.path
        self.manifest = manifest
        self.total = total
        self.lock = threading.Lock()
        self.uploads = {}
        self.retries = 0
        self.started = time.monotonic()

    def post(self, upload_id, body, content_type):
        connection = http.client.HTTPConnection(self.host, self.port, timeout=5)
        try:
            connection.request("POST", self.path, body=body, headers={
                "X-Upload-Id": upload_id, "Content-Type": content_type})
            response = connection.getresponse()
            return response.status, json.loads(response.read() or b"{}")
        finally:
            connection.close()

    def upload(self, i):
        """Makes image i (the poison one for None) and uploads it."""
        if i is None:
            upload_id, body, content_type, expected = POISON_ID, make_poison(), "image/jpeg", {
                "poison": True}
        else:
            upload_id, (body, content_type, expected) = f"img-{i:04d}", make_image(i)
        error = None
        for attempt in range(1, ATTEMPTS + 1):
            try:
                status, reply = self.post(upload_id, body, content_type)
                if status in (200, 201):
                    break
                error = f"HTTP {status}: {reply.get('error')}"
                if status < 500:
                    raise SystemExit(f"uploader: {upload_id} refused: {error}")
            except (OSError, http.client.HTTPException, ValueError) as e:
                error = f"{type(e).__name__}: {e}"
            with self.lock:
                self.retries += 1
            time.sleep(0.2 * attempt)
        else:
            raise SystemExit(f"uploader: {upload_id} failed {ATTEMPTS} times, last: {error}")
        with self.lock:
            self.uploads[upload_id] = dict(expected, backend=reply["backend"], attempts=attempt,
                                           bytes=len(body))
            self.note_progress(done=False)

    def note_progress(self, done):
        write_atomically(self.manifest + ".progress", json.dumps({
            "uploaded": len(self.uploads), "total": self.total, "retries": self.retries,
            "seconds": round(time.monotonic() - self.started, 2), "done": done}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--count", type=int, required=True, help="images besides the poison one")
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--rate", type=float, default=5.0, help="uploads started per second")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--poison-at", type=int, default=5, help="the poison upload's position")
    args = parser.parse_args()
    if not 1 <= args.count <= 10_000 or args.rate <= 0 or args.threads < 1:
        parser.error("--count must be 1-10000, --rate above 0 and --threads at least 1")
    jobs = list(range(args.count))
    jobs.insert(min(args.poison_at, len(jobs)), None)
    uploader = Uploader(args.url, args.manifest, len(jobs))
    uploader.note_progress(done=False)
    with ThreadPoolExecutor(args.threads) as pool:
        futures = []
        for n, job in enumerate(jobs):
            time.sleep(max(0.0, uploader.started + n / args.rate - time.monotonic()))
            futures.append(pool.submit(uploader.upload, job))
        for future in futures:
            future.result()
    uploader.note_progress(done=True)
    write_atomically(args.manifest, json.dumps(uploader.uploads, indent=1, sort_keys=True))
    seconds = time.monotonic() - uploader.started
    by_backend = {}
    for upload in uploader.uploads.values():
        by_backend[upload["backend"]] = by_backend.get(upload["backend"], 0) + 1
    print(f"uploader: {len(jobs)} uploads in {seconds:.1f} s ({len(jobs) / seconds:.1f}/s), "
          f"{uploader.retries} retries; by backend: "
          + ", ".join(f"{b} {n}" for b, n in sorted(by_backend.items())), flush=True)


if __name__ == "__main__":
    sys.exit(main())
