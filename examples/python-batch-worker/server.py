#!/usr/bin/env python3
"""A dynamic-batching inference server for corral, standard library only (PyTorch optional).

    POST /infer   {"inputs": [floats...]}  ->  {"outputs": [16 floats], "batch_size": n, "worker": i}
    GET  /health  200

Requests from many connections are queued; one batching loop takes up to MAX_BATCH of them
(env, default 8), waiting at most MAX_WAIT_MS (env, default 5) for the batch to fill, runs
the model once on the whole batch and hands every caller its row.

With corral: READY=1 once the model is loaded, STATUS= text, X_CORRAL_BATCH= per batch and
WATCHDOG=1 from the batching loop itself (a hung model call stops the heartbeats and corral
restarts the worker). The listening socket is the one corral passes as fd 3 (--listen), else
PORT (default 8000 + CORRAL_WORKER) is bound here.

SIGTERM: accept what is already waiting in the kernel backlog, then stop accepting, answer
every queued request, exit 0. No connection is accepted and then dropped.
"""
import json
import os
import queue
import random
import signal
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from socketserver import ThreadingMixIn

import corral_notify

WORKER = int(os.environ.get("CORRAL_WORKER", "0"))
DEVICE = "cpu"  # set by main() once the model is loaded; reported with each answer
MAX_BATCH = int(os.environ.get("MAX_BATCH", "8"))
MAX_WAIT = float(os.environ.get("MAX_WAIT_MS", "5")) / 1000
DRAIN_MAX = float(os.environ.get("DRAIN_MAX_MS", "5000")) / 1000  # see main()
DIM, HIDDEN = 16, 64  # the model: Linear(16, 64) - ReLU - Linear(64, 16)
# Heartbeat a few times per watchdog period (corral sets WATCHDOG_USEC with --watchdog).
BEAT_EVERY = min(1.0, int(os.environ.get("WATCHDOG_USEC", "3000000")) / 1e6 / 3)


def log(msg):
    # corral turns each stdout line into a JSON log record.
    print(f"worker {WORKER}: {msg}", flush=True)


# ---------------------------------------------------------------------------- the model

def pad(xs):
    """Inputs padded with zeros or truncated to DIM."""
    xs = [float(x) for x in xs[:DIM]]
    return xs + [0.0] * (DIM - len(xs))


def load_model():
    """Returns (run, device): run(list of input rows) -> list of output rows."""
    try:
        import torch
        if torch.cuda.is_available():
            # corral set CUDA_VISIBLE_DEVICES to this worker's GPU, so "cuda" is that GPU.
            torch.manual_seed(0)
            net = torch.nn.Sequential(
                torch.nn.Linear(DIM, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, DIM)
            ).cuda().eval()

            def run_torch(rows):
                with torch.inference_mode():
                    out = net(torch.tensor(rows, dtype=torch.float32, device="cuda"))
                    return out.cpu().tolist()  # .cpu() waits for the GPU

            props = torch.cuda.get_device_properties(0)
            uuid = str(getattr(props, "uuid", "") or "")  # torch >= 2.0; for logs and checks
            if uuid and not uuid.startswith("GPU-"):
                uuid = "GPU-" + uuid
            where = f"cuda:{os.environ.get('CUDA_VISIBLE_DEVICES', '?')} ({props.name}{', ' + uuid if uuid else ''})"
            return run_torch, where
    except ImportError:
        pass
    # Pure-Python fallback: the same math with fixed pseudo-random weights.
    rng = random.Random(0)
    w1 = [[rng.uniform(-0.25, 0.25) for _ in range(DIM)] for _ in range(HIDDEN)]
    b1 = [rng.uniform(-0.1, 0.1) for _ in range(HIDDEN)]
    w2 = [[rng.uniform(-0.125, 0.125) for _ in range(HIDDEN)] for _ in range(DIM)]
    b2 = [rng.uniform(-0.1, 0.1) for _ in range(DIM)]

    def run_cpu(rows):
        out = []
        for x in rows:
            h = [max(0.0, sum(w * v for w, v in zip(ws, x)) + b) for ws, b in zip(w1, b1)]
            out.append([sum(w * v for w, v in zip(ws, h)) + b for ws, b in zip(w2, b2)])
        return out

    return run_cpu, "cpu"


# ---------------------------------------------------------------------------- batching

class Request:
    """One queued inference: the handler thread waits on `done` for the batching loop."""

    def __init__(self, inputs):
        self.inputs = pad(inputs)
        self.done = threading.Event()
        self.output = None
        self.batch_size = 0
        self.error = None


requests = queue.Queue()
closing = threading.Event()  # set once no new request can arrive

# Requests taken and not answered yet (queued, or in the batch being run): the worker's queue
# depth, reported to corral on every change (corral_queue_depth, the figure to autoscale on;
# the helper sends at most 20 datagrams a second, the latest value always).
waiting = 0
waiting_lock = threading.Lock()


def count_waiting(delta):
    global waiting
    with waiting_lock:
        waiting += delta
        corral_notify.queue(waiting)


def batching_loop(run):
    """Collects batches and runs the model. Heartbeats come from here on purpose."""
    last_beat = 0.0
    while True:
        now = time.monotonic()
        if now - last_beat >= BEAT_EVERY:
            corral_notify.heartbeat()  # only reached when the model call returned
            last_beat = now
        try:
            first = requests.get(timeout=BEAT_EVERY)
        except queue.Empty:
            if closing.is_set():
                return  # nothing queued and nothing more can come
            continue
        batch = [first]
        deadline = time.monotonic() + MAX_WAIT
        while len(batch) < MAX_BATCH:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                batch.append(requests.get(timeout=left))
            except queue.Empty:
                break
        start = time.monotonic()
        try:
            outputs = run([r.inputs for r in batch])
        except Exception as err:  # a failed batch fails its requests, not the worker
            outputs = [None] * len(batch)
            for r in batch:
                r.error = repr(err)
        seconds = time.monotonic() - start
        corral_notify.batch(len(batch), seconds)
        for r, out in zip(batch, outputs):
            r.output, r.batch_size = out, len(batch)
            r.done.set()


# ---------------------------------------------------------------------------- HTTP

class Handler(BaseHTTPRequestHandler):
    # HTTP/1.0: one request per connection, so a finished request never leaves an idle
    # keep-alive connection that would hold up a graceful stop.
    timeout = 30  # seconds a client may take to send its request

    def do_GET(self):
        if self.path == "/health":
            self.reply(200, {"ok": True, "worker": WORKER})
        else:
            self.reply(404, {"error": "not found"})

    def do_POST(self):
        if self.path != "/infer":
            return self.reply(404, {"error": "not found"})
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            inputs = body["inputs"]
            if not isinstance(inputs, list):
                raise ValueError("inputs must be a list")
            req = Request(inputs)
        except (ValueError, KeyError, TypeError) as err:
            return self.reply(400, {"error": f"bad request: {err}"})
        count_waiting(+1)
        requests.put(req)
        req.done.wait()
        count_waiting(-1)
        if req.error:
            return self.reply(500, {"error": req.error})
        self.reply(200, {"outputs": req.output, "batch_size": req.batch_size, "worker": WORKER, "device": DEVICE})

    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass  # no access log; corral's metrics cover the batches


class Server(ThreadingMixIn, HTTPServer):
    """A thread per connection, on a socket we already have (no bind, no listen)."""
    daemon_threads = False  # server_close() waits for the handler threads
    block_on_close = True

    def __init__(self, sock):
        self.socket = sock
        super().__init__(sock.getsockname(), Handler, bind_and_activate=False)


def open_socket():
    sock = corral_notify.listen_socket()  # corral's fd 3 with --listen
    if sock is None:
        port = int(os.environ.get("PORT", str(8000 + WORKER)))
        sock = socket.create_server((os.environ.get("HOST", "127.0.0.1"), port))
    # accept() returns every 50 ms to look at the stop flag. A receive timeout, NOT
    # O_NONBLOCK: the socket is shared by every worker, and O_NONBLOCK would be too.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 0, 50_000))
    return sock


def main():
    stop = threading.Event()
    # The handler only sets a flag: the accept loop looks at it between accepts, so a
    # connection is never accepted and then abandoned.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    sock = open_socket()
    corral_notify.status("loading model")
    global DEVICE
    run, device = load_model()
    DEVICE = device
    run([[0.0] * DIM])  # warm-up (on a GPU: CUDA context, kernels)
    batcher = threading.Thread(target=batching_loop, args=(run,), name="batcher")
    batcher.start()
    server = Server(sock)
    corral_notify.ready(f"serving on {device}, max batch {MAX_BATCH}, max wait {MAX_WAIT * 1000:g} ms")
    log(f"ready on {device}")

    draining_since = None
    while True:
        if draining_since is None and stop.is_set():
            draining_since = time.monotonic()
            corral_notify.stopping()
            corral_notify.status("draining")
            log("SIGTERM: accepting what is queued, then stopping")
        try:
            conn, addr = sock.accept()
        except (TimeoutError, BlockingIOError, InterruptedError):
            # Nothing waiting. After SIGTERM, an empty backlog means we are done: every
            # connection made before it has been accepted (by us or by a sibling worker).
            if draining_since is not None:
                break
            continue
        server.process_request(conn, addr)  # a thread answers it
        # Under steady traffic the backlog never empties: stop accepting DRAIN_MAX after SIGTERM
        # anyway, so that what was accepted still finishes within corral's --grace.
        if draining_since is not None and time.monotonic() - draining_since > DRAIN_MAX:
            break

    server.server_close()  # waits for every handler thread: all accepted requests answered
    closing.set()
    batcher.join()
    log("stopped cleanly")
    sys.exit(0)


if __name__ == "__main__":
    main()
