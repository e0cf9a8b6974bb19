"""A real playground server in a subprocess, and readers for its frame streams.

The server is started as ``python -m playground --port N`` on a free port with
``PLAYGROUND_*`` overrides, polled until ``/healthz`` answers, and terminated
after; its log (stdout and stderr together) is kept so a test can check it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from httpx_sse import connect_sse

ROOT = Path(__file__).resolve().parent.parent

#: Seconds a test client keeps an idle connection for reuse: under the server's keep-alive
#: (5 s), so a pooled connection is never reused just as the server closes it. That race
#: reset one student's send in a CI run of the 100-address flood (ECONNRESET on a POST).
KEEPALIVE_EXPIRY = 2.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """One ``python -m playground`` process on a free port."""

    def __init__(self, env: dict[str, object], port: int | None = None):
        # A caller-chosen port restarts a server where a page expects it.
        self.port = free_port() if port is None else port
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_file = tempfile.TemporaryFile(mode="w+b")
        environ = {k: v for k, v in os.environ.items() if not k.startswith("PLAYGROUND_")}
        # A test's server keeps nothing across restarts unless the test gives it a state file.
        environ.update({"PLAYGROUND_STATE": "none", **{f"PLAYGROUND_{k.upper()}": str(v) for k, v in env.items()}})
        environ["PYTHONUNBUFFERED"] = "1"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "playground", "--port", str(self.port)],
            cwd=ROOT, env=environ, stdout=self.log_file, stderr=subprocess.STDOUT,
        )
        self.pid = self.process.pid
        self._wait_until_up()

    def _wait_until_up(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=0.5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the server did not answer /healthz within {timeout} s:\n{self.log()}")

    def log(self) -> str:
        self.log_file.seek(0)
        return self.log_file.read().decode("utf-8", "replace")

    def rss_kb(self) -> int:
        """The server's resident set size, from /proc/<pid>/status."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS line")

    def healthz(self) -> dict:
        return httpx.get(self.url + "/healthz", timeout=2).json()

    def create(self, body: dict | None = None, patience: float = 0.0, **query) -> dict:
        """POST /api/sessions; returns the 201 body (with absolute stream/control URLs). With
        ``patience``, a 503 (the governor still slowed down by what ran before) is waited out as
        the page does, for its retry_after, for up to that many seconds."""
        deadline = time.monotonic() + patience
        while True:
            response = httpx.post(self.url + "/api/sessions", json=body if body is not None else query,
                                  timeout=5)
            if response.status_code != 503 or time.monotonic() >= deadline:
                break
            time.sleep(min(1.0, float(response.json().get("retry_after", 1))))
        assert response.status_code == 201, response.text
        data = response.json()
        data["stream_url"] = self.url + data["stream"]
        data["control_url"] = self.url + data["control"]
        return data

    def control(self, session: dict, body: dict) -> dict:
        response = httpx.post(session["control_url"], json=body, timeout=5,
                              headers={"Authorization": f"Bearer {session['token']}"})
        assert response.status_code == 200, response.text
        return response.json()

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def read_frames(url: str, count: int, timeout: float = 10.0, headers=None) -> list:
    """Open a stream, read ``count`` SSE events (any kind), close it; returns the ServerSentEvents."""
    events = []
    with httpx.Client(timeout=timeout) as client:
        with connect_sse(client, "GET", url, headers=dict(headers or {})) as source:
            assert source.response.status_code == 200
            iterator = source.iter_sse()  # keep it: a discarded iterator closes the response
            for sse in iterator:
                events.append(sse)
                if len(events) >= count:
                    break
    return events


class StreamReader:
    """Reads one stream in a thread, keeping every event with the time it arrived."""

    def __init__(self, url: str, headers=None):
        self.url = url
        self.events: list[tuple[float, object]] = []  # (monotonic time, ServerSentEvent)
        self.status: int | None = None
        self.closed_at: float | None = None  # when the server ended the stream
        self.error: BaseException | None = None
        self._stop = False
        self._client = httpx.Client(timeout=httpx.Timeout(10.0, read=30.0))
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(headers,), daemon=True)
        self._thread.start()

    def _run(self, headers) -> None:
        try:
            with connect_sse(self._client, "GET", self.url, headers=dict(headers or {})) as source:
                self.status = source.response.status_code
                self._started.set()
                iterator = source.iter_sse()
                for sse in iterator:
                    self.events.append((time.monotonic(), sse))
                    if self._stop:
                        return
            self.closed_at = time.monotonic()
        except BaseException as error:  # noqa: BLE001 - reported to the test
            if not self._stop:
                self.error = error
            self.closed_at = time.monotonic()
        finally:
            self._started.set()

    def frames(self, since: float = 0.0) -> list[dict]:
        return [json.loads(sse.data) for at, sse in list(self.events)
                if sse.event == "frame" and at >= since]

    def wait_for(self, predicate, timeout: float = 5.0):
        """The first frame (parsed) satisfying ``predicate``, waiting up to ``timeout``."""
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            frames = self.frames()
            for frame in frames[seen:]:
                if predicate(frame):
                    return frame
            seen = len(frames)
            if self.error is not None:
                raise AssertionError(f"the stream failed: {self.error!r}")
            time.sleep(0.01)
        raise AssertionError(f"no frame matched within {timeout} s; last: {self.frames()[-1:]}")

    def wait_started(self, timeout: float = 5.0) -> None:
        assert self._started.wait(timeout), "the stream did not open"

    def join(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def close(self) -> None:
        self._stop = True  # the reader returns at the next event (frames come 20 times a second)
        self._thread.join(1)
        self._client.close()
        self._thread.join(5)
