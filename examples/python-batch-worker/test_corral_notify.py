"""Tests of corral_notify with a real unix datagram receiver: python3 -m unittest"""
import fcntl
import os
import socket
import tempfile
import unittest
from unittest import mock

import corral_notify


class Receiver:
    """A datagram socket standing in for corral's NOTIFY_SOCKET."""

    def __init__(self, abstract):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.settimeout(2)
        if abstract:
            name = f"corral-notify-test-{os.getpid()}-{id(self)}"
            self.sock.bind("\0" + name)
            self.env = "@" + name
        else:
            self.dir = tempfile.TemporaryDirectory()
            self.env = os.path.join(self.dir.name, "notify.sock")
            self.sock.bind(self.env)

    def recv(self):
        return self.sock.recv(4096).decode()

    def close(self):
        self.sock.close()
        if hasattr(self, "dir"):
            self.dir.cleanup()


class NotifyTest(unittest.TestCase):
    def check_all(self, abstract):
        r = Receiver(abstract)
        self.addCleanup(r.close)
        with mock.patch.dict(os.environ, {"NOTIFY_SOCKET": r.env}):
            self.assertTrue(corral_notify.ready())
            self.assertEqual(r.recv(), "READY=1")
            corral_notify.ready("warm")
            self.assertEqual(r.recv(), "READY=1\nSTATUS=warm")
            corral_notify.heartbeat()
            self.assertEqual(r.recv(), "WATCHDOG=1")
            corral_notify.batch(8, 0.0125)
            self.assertEqual(r.recv(), "X_CORRAL_BATCH=8 0.012500")
            corral_notify.status("loading\nweights")
            self.assertEqual(r.recv(), "STATUS=loading weights")
            corral_notify.stopping()
            self.assertEqual(r.recv(), "STOPPING=1")

    def test_path_address(self):
        self.check_all(abstract=False)

    def test_abstract_address(self):
        self.check_all(abstract=True)

    def test_one_datagram_per_call(self):
        r = Receiver(abstract=True)
        self.addCleanup(r.close)
        with mock.patch.dict(os.environ, {"NOTIFY_SOCKET": r.env}):
            for i in range(5):
                corral_notify.batch(i + 1, 0.001)
        self.assertEqual([r.recv().split()[0] for _ in range(5)], [f"X_CORRAL_BATCH={i + 1}" for i in range(5)])

    def test_noop_without_notify_socket(self):
        env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
        with mock.patch.dict(os.environ, env, clear=True):
            for call in (corral_notify.ready, corral_notify.heartbeat, corral_notify.stopping):
                self.assertFalse(call())
            self.assertFalse(corral_notify.batch(1, 0.1))
            self.assertFalse(corral_notify.status("x"))

    def test_send_error_never_raises(self):
        with mock.patch.dict(os.environ, {"NOTIFY_SOCKET": "/nonexistent/dir/notify.sock"}), \
                mock.patch("sys.stderr") as err, mock.patch.object(corral_notify, "_warned", False):
            self.assertFalse(corral_notify.ready())
            self.assertFalse(corral_notify.heartbeat())
        written = "".join(c.args[0] for c in err.write.call_args_list)
        self.assertEqual(written.count("corral_notify: cannot send"), 1)  # logged once


class ListenSocketTest(unittest.TestCase):
    def setUp(self):
        # Put a listening socket on fd 3, as corral does; keep whatever fd 3 was.
        try:
            self.saved = os.dup(3)
        except OSError:
            self.saved = None
        server = socket.create_server(("127.0.0.1", 0))
        # Move it well above fd 3 (it may have been given fd 3 itself).
        self.listener = socket.socket(fileno=fcntl.fcntl(server.fileno(), fcntl.F_DUPFD_CLOEXEC, 10))
        server.close()
        os.dup2(self.listener.fileno(), 3)

    def tearDown(self):
        if self.saved is not None:
            os.dup2(self.saved, 3)
            os.close(self.saved)
        else:
            os.close(3)
        self.listener.close()

    def test_matching_pid(self):
        with mock.patch.dict(os.environ, {"LISTEN_FDS": "1", "LISTEN_PID": str(os.getpid())}):
            s = corral_notify.listen_socket()
        self.assertIsNotNone(s)
        self.assertEqual(s.getsockname(), self.listener.getsockname())
        self.assertEqual(s.type, socket.SOCK_STREAM)
        s.detach()  # fd 3 is restored in tearDown

    def test_other_pid(self):
        with mock.patch.dict(os.environ, {"LISTEN_FDS": "1", "LISTEN_PID": str(os.getpid() + 1)}):
            self.assertIsNone(corral_notify.listen_socket())

    def test_unset(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("LISTEN_")}
        with mock.patch.dict(os.environ, env, clear=True):
            self.assertIsNone(corral_notify.listen_socket())

    def test_garbage(self):
        with mock.patch.dict(os.environ, {"LISTEN_FDS": "x", "LISTEN_PID": str(os.getpid())}):
            self.assertIsNone(corral_notify.listen_socket())


if __name__ == "__main__":
    unittest.main()
