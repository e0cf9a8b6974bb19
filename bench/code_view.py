"""Does the code view slow other users? Prints numbers; it is not a test.

Starts a server, then asks it for N programs no cache has seen (distinct seeds) all at once,
while probing /healthz every 20 ms: the probe's latency is what every stream's frames wait too.

    python bench/code_view.py [--renders 40]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import time

import httpx

LINK = ("retries=3&timeout=0.1&rate_limit=30&capacity=4&contention=0.2&memory=100&max_age=1"
        "&policy=timeout&client_retries=2&jitter=decorrelated&retry_budget=0.1&abandon=continue&arrivals=wave")


async def flood(port: int, renders: int) -> list[float]:
    base = random.randrange(10**6)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
        await client.get("/healthz")
        lags: list[float] = []
        done = asyncio.Event()

        async def probe():
            while not done.is_set():
                started = time.perf_counter()
                await client.get("/healthz")
                lags.append(time.perf_counter() - started)
                await asyncio.sleep(0.02)

        async def ask():
            await asyncio.gather(*(client.get(f"/api/code/3.13?{LINK}&seed={base + i}") for i in range(renders)))
            done.set()

        await asyncio.gather(probe(), ask())
        return sorted(lags)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=40)
    args = parser.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "playground", "--port", str(port)],
                              env={**os.environ, "PLAYGROUND_STATE": "none"},  # no state file
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(2.5)
        lags = asyncio.run(flood(port, args.renders))
    finally:
        server.terminate()
        server.wait()
    print(f"/healthz during {args.renders} uncached code renders ({len(lags)} probes): "
          f"median {lags[len(lags) // 2] * 1000:.1f} ms, worst {lags[-1] * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
