"""corral_notify: the few lines a Python worker needs to talk to corral (copy this file).

corral (like systemd) gives each worker NOTIFY_SOCKET, a unix datagram socket. A worker
sends it newline-separated KEY=VALUE messages:

    READY=1                    the model is loaded; corral marks the worker ready
    WATCHDOG=1                 heartbeat (needed at least every --watchdog D)
    STATUS=text                free text shown in corral's /status
    STOPPING=1                 the worker is shutting down on purpose
    WATCHDOG=trigger           the worker knows it is broken: corral restarts it now
    X_CORRAL_BATCH=<n> <secs>  one inference batch (feeds corral_batch_size and
                               corral_batch_duration_seconds in /metrics)
    X_CORRAL_QUEUE=<n>         requests waiting in the worker (corral_queue_depth, the
                               metric to autoscale on)

Every function here is a no-op when NOTIFY_SOCKET is unset (running without corral), sends
exactly one datagram, and never raises: a failed send is reported once on stderr and the
worker carries on serving.

With `corral --listen ADDR`, corral owns the listening socket and passes it as fd 3
(LISTEN_FDS=1, LISTEN_PID=<this pid>); listen_socket() returns it.

Hang dumps: when the worker runs under corral (NOTIFY_SOCKET is set), importing this module
installs faulthandler.register(signal.SIGQUIT, all_threads=True). corral sends SIGQUIT (its
--watchdog-signal) to a worker whose heartbeat stopped, before it stops it; the stack of every
thread goes to stderr, and corral puts it in the exit record's `dump`. A worker that handles
SIGQUIT itself keeps its own handler (this one is installed only while SIGQUIT is at its
default).
"""
import faulthandler
import os
import signal
import socket
import sys
import threading
import time

_sock = None  # one unbound datagram socket, reused for every send
_warned = False


def _send(message):
    global _sock, _warned
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return False
    if addr.startswith("@"):  # abstract namespace: "@name" means "\0name"
        addr = "\0" + addr[1:]
    try:
        if _sock is None:
            _sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        _sock.sendto(message.encode(), addr)
        return True
    except OSError as err:
        if not _warned:
            _warned = True
            print(f"corral_notify: cannot send to NOTIFY_SOCKET={os.environ.get('NOTIFY_SOCKET')}: {err}", file=sys.stderr, flush=True)
        return False


def ready(status=None):
    """The worker can serve: READY=1 (optionally with a STATUS= line in the same datagram)."""
    return _send("READY=1" + (f"\nSTATUS={_one_line(status)}" if status else ""))


def trigger():
    """WATCHDOG=trigger: the worker knows it is broken (a poisoned CUDA context, say); corral
    stops and restarts it at once, reason watchdog."""
    return _send("WATCHDOG=trigger")


def heartbeat():
    """WATCHDOG=1. Send it from the loop that does the work, so a hung model stops it."""
    return _send("WATCHDOG=1")


def batch(size, seconds):
    """One inference batch of `size` items that took `seconds`."""
    return _send(f"X_CORRAL_BATCH={int(size)} {float(seconds):.6f}")


QUEUE_EVERY = 0.05  # at most 20 X_CORRAL_QUEUE datagrams a second
_queue_lock = threading.Lock()
_queue_sent_at = 0.0
_queue_pending = None  # the latest value not sent yet
_queue_timer = None


def _queue_flush():
    global _queue_sent_at, _queue_pending, _queue_timer
    with _queue_lock:
        n, _queue_pending, _queue_timer = _queue_pending, None, None
        if n is None:
            return
        _queue_sent_at = time.monotonic()
    _send(f"X_CORRAL_QUEUE={n}")


def queue(n):
    """Requests waiting in the worker now. Call it on every change: at most 20 datagrams a
    second go out, and the latest value always does (a trailing send, from a timer thread)."""
    global _queue_pending, _queue_timer
    if not os.environ.get("NOTIFY_SOCKET"):
        return False
    with _queue_lock:
        _queue_pending = max(0, int(n))
        wait = _queue_sent_at + QUEUE_EVERY - time.monotonic()
        if wait > 0:
            if _queue_timer is None:
                _queue_timer = threading.Timer(wait, _queue_flush)
                _queue_timer.daemon = True
                _queue_timer.start()
            return True
    _queue_flush()
    return True


def status(text):
    """Free text for corral's /status (one line)."""
    return _send("STATUS=" + _one_line(text))


def stopping():
    """STOPPING=1: the worker is shutting down on purpose."""
    return _send("STOPPING=1")


def _one_line(text):
    return " ".join(str(text).splitlines())


def listen_socket():
    """The listening socket corral passed as fd 3, or None when there is none for this process.

    LISTEN_PID guards against a child that merely inherited the environment of its parent."""
    try:
        fds = int(os.environ.get("LISTEN_FDS", "0"))
        pid = int(os.environ.get("LISTEN_PID", "0"))
    except ValueError:
        return None
    if fds < 1 or pid != os.getpid():
        return None
    return socket.socket(fileno=3)  # family and type are read from the fd itself


def _install_dump_handler():
    if not os.environ.get("NOTIFY_SOCKET") or not hasattr(signal, "SIGQUIT"):
        return
    try:
        if signal.getsignal(signal.SIGQUIT) == signal.SIG_DFL:
            faulthandler.register(signal.SIGQUIT, all_threads=True)
    except (ValueError, RuntimeError, OSError):
        pass  # not the main thread, or stderr unusable: no dump, nothing else changes


_install_dump_handler()
