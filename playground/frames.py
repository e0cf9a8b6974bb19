"""Frames: what the page needs to draw one moment, as compact JSON.

A frame is the engine's snapshot (rounded, capped), the metrics windows closed
since the previous frame, and the events since then in the handbook's words.
Floats are rounded to what a person can see, so a typical frame stays well
under 2 KB; lists that could grow with the scenario (queued items, blocked
requests, workers, events) are capped and say how many more there are.
"""

from __future__ import annotations

import orjson

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
    """The engine's state at this moment, compact. (Read straight from the
    service rather than through Engine.snapshot(): this runs for every frame.)"""
    now = engine.loop.now
    scenario = engine.scenario
    service = engine.service
    metrics = engine.metrics
    down = engine.restart_at is not None
    queue = service.queue
    items = []
    size = 0
    oldest = None
    blocked_n, blocked_oldest, blocked_items = 0, None, []
    producers, workers = [], []
    held = waiting = in_flight = 0
    if not down:
        size = len(queue.items)
        for item in queue.items:
            if item is None:
                continue
            if oldest is None:
                oldest = round(now - item.arrived, 2)
            if len(items) == QUEUE_ITEMS:
                break
            items.append([item.id, round(now - item.arrived, 2)])
        blocked = service.blocked
        blocked_n = len(blocked)
        if blocked_n:
            for item, since in blocked.items():
                if blocked_oldest is None:
                    blocked_oldest = round(now - since, 2)
                blocked_items.append([item.id, round(now - since, 2)])
                if len(blocked_items) == BLOCKED_ITEMS:
                    break
        producers = [[p.index, _STATES[p.state], round(now - p.since, 2),
                      p.item.id if p.item is not None else None]
                     for p in service.producers if p.state != "done"]
        for w in service.workers:
            if w.state == "done":
                continue
            if w.state == "permit":
                waiting += 1
            if len(workers) < WORKER_ITEMS:
                workers.append([w.index, _STATES[w.state], w.item.id if w.item is not None else None,
                                round(now - w.since, 2)])
        held = service.semaphore.holders
        in_flight = service.in_flight
    live_workers = sum(1 for w in service.workers if w.state != "done") if not down else 0
    return {
        "producers": producers,
        "blocked": {"n": blocked_n, "oldest": blocked_oldest, "items": blocked_items},
        "queue": {"max": queue.maxsize, "n": size, "items": items, "more": size - len(items),
                  "oldest": oldest},
        "workers": workers,
        "workers_more": live_workers - len(workers),
        "semaphore": {"limit": scenario.limit, "held": held, "waiting": waiting},
        "downstream": {"in_flight": in_flight, "capacity": scenario.capacity,
                       "slowdown": round(max(1.0, in_flight / scenario.capacity), 2)
                       if scenario.capacity else 1.0},
        "memory": {"held": metrics.in_system, "limit": scenario.memory,
                   "peak": metrics.in_system_peak, "crashes": engine.crashes},
        "totals": engine.totals(),
        "down_until": _r(engine.restart_at),
        "draining": engine.draining,
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
    # orjson: frames are the server's hot path (tens of thousands a second), and
    # it encodes them several times faster than the json module.
    return orjson.dumps(frame).decode()
