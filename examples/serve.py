#!/usr/bin/env python3
"""A stand-in for a model server: one process per GPU under corral.

Listens on $PORT (or 8000 + $CORRAL_WORKER), answers POST /infer after a fake 50 ms
"forward pass", and on SIGTERM stops accepting, finishes the requests in flight and
exits 0 -- what corral's graceful stop expects of a worker. Standard library only.
"""
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

worker = int(os.environ.get("CORRAL_WORKER", "0"))
port = int(os.environ.get("PORT", str(8000 + worker)))
gpu = os.environ.get("CUDA_VISIBLE_DEVICES", "")


def log(msg, **fields):
    # One JSON object per line: corral keeps the fields when it builds its records.
    print(json.dumps({"level": "info", "msg": msg, **fields}), flush=True)


class Handler(BaseHTTPRequestHandler):
    def _reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._reply(200, {"worker": worker, "pid": os.getpid(), "gpu": gpu})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        payload = self.rfile.read(length) if length else b""
        time.sleep(0.05)  # the "forward pass"
        self._reply(200, {"worker": worker, "bytes": len(payload)})

    def log_message(self, fmt, *args):
        pass  # access logs off: one line per request is noise at inference rates


server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
server.daemon_threads = False  # server_close() waits for requests in flight


def on_term(signum, _frame):
    log("stopping: finishing requests in flight", signal=signal.Signals(signum).name)
    threading.Thread(target=server.shutdown, daemon=True).start()


signal.signal(signal.SIGTERM, on_term)
signal.signal(signal.SIGINT, on_term)
log("model loaded, serving", port=port, gpu=gpu)
server.serve_forever()
server.server_close()
log("stopped")
sys.exit(0)
