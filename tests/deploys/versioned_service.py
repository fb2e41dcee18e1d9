"""A small HTTP service on 127.0.0.1 whose version is a file its deploy script writes: a real process.

    python versioned_service.py VERSION_FILE

prints `listening PORT` once it serves. GET /health answers 200 "ok <version>" at once; a version listed
in $BAD_VERSIONS (default "2.0") answers 500 on every 4th request and takes $BAD_DELAY seconds (0.12)
for every answer. GET /version answers the version.
"""

from __future__ import annotations

import itertools
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

VERSION_FILE = Path(sys.argv[1])
BAD = set(os.environ.get("BAD_VERSIONS", "2.0").split(","))
DELAY = float(os.environ.get("BAD_DELAY", "0.12"))
COUNTER = itertools.count(1)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        version = VERSION_FILE.read_text().strip() if VERSION_FILE.exists() else "none"
        status, body = 200, f"ok {version}"
        if self.path == "/version":
            body = version
        elif version in BAD:
            time.sleep(DELAY)
            if next(COUNTER) % 4 == 0:
                status, body = 500, f"error in {version}"
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()
