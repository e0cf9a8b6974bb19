"""Churn: sessions and rooms created, watched briefly and abandoned, round after round; the
server's RSS after each round once everything has been reaped (issue 18, item 8).

One round: 75 sessions (``POST /api/sessions``), each stream opened for ``--watch`` seconds
then closed; 15 rooms (``POST /api/rooms``), each with one viewer for the same time; then
everything is abandoned and the script waits until ``/healthz`` says 0 sessions (the server runs
with ``PLAYGROUND_GRACE=1``) and a moment more, and reads VmRSS from ``/proc/PID/status``.

    python bench/churn.py                          # 10 rounds against this checkout
    python bench/churn.py --rounds 3 --watch 1
    python bench/churn.py --baseline /tmp/base     # the same rounds against another checkout too,
                                                   # printed side by side

Memory that comes back: RSS after the last round within 10 % of RSS after the first.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
LINK = "preset=webhook-ingestion"
#: Seconds an unwatched session lives: short, so a round is reaped quickly, but longer than 90
#: concurrent creations take before their streams open.
GRACE = 3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS line")


class Served:
    """``python -m playground`` from ``checkout`` on a free port, with PLAYGROUND_* overrides."""

    def __init__(self, checkout: Path = ROOT, python: str = sys.executable, **env):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environ = {k: v for k, v in os.environ.items() if not k.startswith("PLAYGROUND_")}
        environ["PLAYGROUND_STATE"] = "none"  # each run starts empty, and leaves no state file
        environ.update({f"PLAYGROUND_{k.upper()}": str(v) for k, v in env.items()})
        environ["PYTHONUNBUFFERED"] = "1"
        self.log = tempfile.TemporaryFile(mode="w+b")
        self.process = subprocess.Popen([python, "-m", "playground", "--port", str(self.port)],
                                        cwd=checkout, env=environ, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while True:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                self.log.seek(0)
                raise RuntimeError(f"the server did not start:\n{self.log.read().decode(errors='replace')}")
            try:
                if httpx.get(self.url + "/healthz", timeout=0.5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.05)

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_mb(self) -> float:
        return rss_kb(self.pid) / 1024

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


async def _watch(client: httpx.AsyncClient, url: str, seconds: float) -> int:
    """Open a stream, read it for ``seconds``, close it; the bytes read."""
    got = 0
    try:
        async with asyncio.timeout(seconds):
            async with client.stream("GET", url) as response:
                response.raise_for_status()
                async for chunk in response.aiter_bytes():
                    got += len(chunk)
    except TimeoutError:
        pass
    return got


async def churn_round(url: str, sessions: int = 75, rooms: int = 15, watch: float = 1.5,
                      link: str = LINK, at_once: int = 25) -> dict:
    """One round of creating, watching and abandoning (does not wait for the reaping); at most
    ``at_once`` sessions are being created or watched at a time."""
    limits = httpx.Limits(max_connections=at_once + 10)
    gate = asyncio.Semaphore(at_once)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        async def create(path: str) -> dict:
            response = await client.post(path, json={"link": link})
            assert response.status_code == 201, (path, response.status_code, response.text)
            return response.json()

        async def session() -> int:
            async with gate:
                made = await create("/api/sessions")
                return await _watch(client, made["stream"], watch)

        async def room() -> int:
            async with gate:
                made = await create("/api/rooms")
                return await _watch(client, f"/api/rooms/{made['code']}/stream", watch)

        # Each stream opens as soon as its session exists (the grace is short).
        read = await asyncio.gather(*(session() for _ in range(sessions)), *(room() for _ in range(rooms)))
    return {"streams": len(read), "bytes": sum(read)}


def wait_reaped(url: str, timeout: float = 60.0) -> float:
    """Seconds until /healthz says no sessions and no streams remain."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        health = httpx.get(url + "/healthz", timeout=5).json()
        if health["sessions"] == 0 and health["streams"] == 0:
            return time.monotonic() - start
        time.sleep(0.25)
    raise RuntimeError(f"not everything was reaped within {timeout:g} s: {health}")


def run(server: Served, rounds: int, settle: float = 3.0, **round_args) -> list[float]:
    """RSS (MB) at start and after each round, once everything is reaped."""
    readings = [server.rss_mb()]
    for _ in range(rounds):
        asyncio.run(churn_round(server.url, **round_args))
        wait_reaped(server.url)
        time.sleep(settle)  # a few reaper ticks after the last session ended
        readings.append(server.rss_mb())
    return readings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--sessions", type=int, default=75)
    parser.add_argument("--rooms", type=int, default=15)
    parser.add_argument("--watch", type=float, default=1.5, help="seconds each stream is read")
    parser.add_argument("--baseline", type=Path, help="another checkout to run the same rounds against")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="an extra environment variable for the servers (e.g. MALLOC_ARENA_MAX=2)")
    args = parser.parse_args()
    for pair in args.env:
        name, _, value = pair.partition("=")
        os.environ[name] = value
    targets = [("this", ROOT)] + ([("baseline", args.baseline.resolve())] if args.baseline else [])
    columns = {}
    for name, checkout in targets:
        server = Served(checkout, grace=GRACE, max_rooms=max(50, args.rooms), max_rooms_per_client=max(50, args.rooms))
        try:
            started = time.monotonic()
            columns[name] = run(server, args.rounds, sessions=args.sessions, rooms=args.rooms, watch=args.watch)
            print(f"{name} ({checkout}): {time.monotonic() - started:.0f} s", file=sys.stderr)
        finally:
            server.stop()
    names = list(columns)
    print("round  " + "  ".join(f"{name + ' RSS MB':>16}" for name in names))
    for index in range(args.rounds + 1):
        label = "start" if index == 0 else str(index)
        print(f"{label:>5}  " + "  ".join(f"{columns[name][index]:16.1f}" for name in names))
    for name in names:
        first, last = columns[name][1], columns[name][-1]
        print(f"{name}: last round {last:.1f} MB vs first {first:.1f} MB: {100 * (last / first - 1):+.1f} %")


if __name__ == "__main__":
    main()
