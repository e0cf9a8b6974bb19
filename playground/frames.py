"""Frames: what the page needs to draw one moment, as compact JSON.

A frame is the engine's snapshot (rounded, capped), the metrics windows closed
since the previous frame, and the events since then in the handbook's words.
Floats are rounded to what a person can see, so a typical frame stays well
under 2 KB; lists that could grow with the scenario (queued items, blocked
requests, workers, events) are capped and say how many more there are.
"""

from __future__ import annotations

import json

from .sim import trace
from .sim.engine import Engine

#: Queued items drawn one by one; the rest are a count.
QUEUE_ITEMS = 40
#: Blocked requests listed one by one.
BLOCKED_ITEMS = 20
#: Workers listed one by one (up to 256 are possible).
WORKER_ITEMS = 64
#: Events carried by one frame; older ones in the same frame are counted.
FRAME_EVENTS = 40
#: Windows a full frame carries, so a (re)connecting page can fill its charts.
HISTORY_WINDOWS = 120

_STATES = {"idle": "i", "permit": "p", "calling": "c", "pausing": "w", "blocked": "b"}


def _r(value, digits=3):
    return None if value is None else round(value, digits)


def snapshot(engine: Engine) -> dict:
    """The engine's state at this moment, compact."""
    raw = engine.snapshot()
    now = raw["now"]
    queue = raw["queue"]
    items = queue["items"][:QUEUE_ITEMS]
    blocked = raw["blocked"]
    workers = raw["workers"]
    return {
        "producers": [[p["index"], _STATES[p["state"]], _r(now - p["since"], 2), p["item"]]
                      for p in raw["producers"]],
        "blocked": {
            "n": blocked["count"],
            "oldest": _r(now - blocked["oldest_since"], 2) if blocked["oldest_since"] is not None else None,
            "items": [[item, _r(now - since, 2)] for item, since in blocked["items"][:BLOCKED_ITEMS]],
        },
        "queue": {
            "max": queue["maxsize"],
            "n": queue["size"],
            "items": [[item, _r(age, 2)] for item, age in items],
            "more": queue["size"] - len(items),
            "oldest": _r(queue["oldest_age"], 2),
        },
        "workers": [[w["index"], _STATES[w["state"]], w["item"], _r(now - w["since"], 2)]
                    for w in workers[:WORKER_ITEMS]],
        "workers_more": max(0, len(workers) - WORKER_ITEMS),
        "semaphore": raw["semaphore"],
        "downstream": {**raw["downstream"], "slowdown": _r(raw["downstream"]["slowdown"], 2)},
        "memory": raw["memory"],
        "totals": raw["totals"],
        "down_until": _r(raw["down_until"]),
        "draining": raw["draining"],
    }


def window(w) -> list:
    """One closed metrics window as a flat row (see WINDOW_COLUMNS)."""
    data = w.to_json()
    latency = data["latency"]
    outcomes = data["outcomes"]
    return [
        _r(data["end"], 2), _r(data["arrival_rate"], 1), _r(data["throughput"], 1),
        _r(data["goodput"], 1),
        outcomes["rejected"], outcomes["dropped"], outcomes["put-timeout"], outcomes["stale"],
        outcomes["timeout"], outcomes["lost"],
        _r(latency["p50"], 4), _r(latency["p95"], 4), _r(latency["p99"], 4),
        _r(data["parts"]["put"]["p95"], 4), _r(data["parts"]["queue"]["p95"], 4),
        _r(data["parts"]["service"]["p95"], 4),
        data["queue"], data["in_flight"], data["memory"], data["memory_peak"],
    ]


#: Names of a window row's columns, in order (the page reads them from /api/frame-format).
WINDOW_COLUMNS = [
    "t", "arrival_rate", "throughput", "goodput",
    "rejected", "dropped", "put_timeout", "stale", "timeout", "lost",
    "p50", "p95", "p99", "put_p95", "queue_p95", "service_p95",
    "queue", "in_flight", "memory", "memory_peak",
]


def events(raw_events: list) -> tuple[list, int]:
    """The newest events as ``[time, kind, text]``, and how many older ones were left out."""
    skipped = max(0, len(raw_events) - FRAME_EVENTS)
    return [[_r(e[0]), e[1], trace.describe(e)] for e in raw_events[skipped:]], skipped


def encode(frame: dict) -> str:
    return json.dumps(frame, separators=(",", ":"))
