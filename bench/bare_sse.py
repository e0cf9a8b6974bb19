"""The baseline for ``bench/load.py``: SSE with no simulation behind it.

A minimal Starlette app under uvicorn, one process, serving a fixed ~1.5 KB frame at 20 frames/s
per connection with the same ``EventSourceResponse`` options as the playground's stream (ping 15,
send timeout, shutdown event and grace period, the same extra headers) and the same tick loop
(sleep to the next tick, never burst to catch up). The difference between this and the playground
under the same load is what the simulation, frame building and JSON encoding cost.

    python bench/bare_sse.py --port 8001 [--frame-rate 20] [--frame-bytes 1500]

Endpoints: ``GET /stream`` (SSE, ``event: frame``), ``GET /healthz`` (JSON).
"""

from __future__ import annotations

import argparse
import json
import time

import anyio
import uvicorn
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

SEND_TIMEOUT = 10.0  # the playground's default Settings.send_timeout


def make_frame(size: int) -> str:
    """A fixed, compact JSON object of about ``size`` bytes (no newlines, like a real frame)."""
    body = {"n": 0, "run": 0, "t": 12.345, "status": "running", "speed": 1.0, "pad": ""}
    base = len(json.dumps(body, separators=(",", ":")))
    body["pad"] = "x" * max(0, size - base)
    return json.dumps(body, separators=(",", ":"))


def create_app(frame_rate: float = 20.0, frame_bytes: int = 1500) -> Starlette:
    frame = make_frame(frame_bytes)
    interval = 1 / frame_rate
    state = {"streams": 0, "frames": 0}

    async def events(shutdown: anyio.Event):
        clock = time.monotonic
        state["streams"] += 1
        n = 0
        try:
            n += 1
            state["frames"] += 1
            yield ServerSentEvent(data=frame, event="frame", id=str(n), retry=1000)
            next_at = clock() + interval
            while True:
                delay = next_at - clock()
                if delay > 0:
                    await anyio.sleep(delay)
                if shutdown.is_set():
                    yield ServerSentEvent(data='{"reason":"the server is shutting down"}', event="bye")
                    return
                next_at = max(next_at + interval, clock())
                n += 1
                state["frames"] += 1
                yield ServerSentEvent(data=frame, event="frame", id=str(n))
        finally:
            state["streams"] -= 1

    async def stream(request: Request):
        shutdown = anyio.Event()
        return EventSourceResponse(
            events(shutdown),
            ping=15,
            send_timeout=SEND_TIMEOUT,
            shutdown_event=shutdown,
            shutdown_grace_period=0.5,
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def healthz(request: Request):
        return JSONResponse({"status": "ok", "streams": state["streams"], "frames": state["frames"]})

    return Starlette(routes=[Route("/stream", stream), Route("/healthz", healthz)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--frame-rate", type=float, default=20.0)
    parser.add_argument("--frame-bytes", type=int, default=1500)
    args = parser.parse_args()
    app = create_app(args.frame_rate, args.frame_bytes)
    # The same uvicorn settings as `python -m playground` (playground/cli.py), quieter.
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning",
                            timeout_graceful_shutdown=1, access_log=False)
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
