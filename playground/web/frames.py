"""Frames: what the page needs to draw one moment, as compact JSON.

A frame is the engine's snapshot (rounded, capped), the metrics windows closed
since the previous frame, and the events since then in the handbook's words.
Floats are rounded to what a person can see, so a typical frame stays well
under 2 KB; lists that could grow with the scenario (queued items, blocked
requests, workers, events) are capped and say how many more there are.
"""

from __future__ import annotations

import weakref

import orjson

from playground.sim import trace
from playground.sim.engine import Engine, slowdown

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

_STATES = {"idle": "i", "permit": "p", "calling": "c", "backoff": "r", "pausing": "w", "blocked": "b"}
#: Which workers a capped list keeps first: calling, waiting for a permit, backing off, idle.
_WORKER_ORDER = {"calling": 0, "permit": 1, "backoff": 2, "idle": 3}


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
    workers_rest: dict[str, int] = {}
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
        live = [w for w in service.workers if w.state != "done"]
        waiting = sum(1 for w in live if w.state == "permit")
        if len(live) > WORKER_ITEMS:
            # More workers than a frame lists: the busy ones first (calling, then waiting for a
            # permit, then the rest), and the ones left out as counts per state.
            live.sort(key=lambda w: _WORKER_ORDER.get(w.state, 4))
            for w in live[WORKER_ITEMS:]:
                code = _STATES[w.state]
                workers_rest[code] = workers_rest.get(code, 0) + 1
        for w in live[:WORKER_ITEMS]:
            workers.append([w.index, _STATES[w.state], w.item.id if w.item is not None else None,
                            round(now - w.since, 2)])
        held = service.semaphore.holders
        in_flight = service.in_flight
    live_workers = sum(1 for w in service.workers if w.state != "done") if not down else 0
    return {
        "producers": producers,
        # The arrival rate now (a control may have changed it since the last full frame's scenario).
        "rate": scenario.rate,
        # How work arrives now, for the same reason: open arrivals, or this many closed producers.
        "producer": scenario.producer,
        "producer_count": scenario.producers,
        "blocked": {"n": blocked_n, "oldest": blocked_oldest, "items": blocked_items},
        "queue": {"max": queue.maxsize, "n": size, "items": items, "more": size - len(items),
                  "oldest": oldest},
        "workers": workers,
        "workers_more": live_workers - len(workers),
        # The workers left out of "workers", by state code (busy ones are never left out first).
        "workers_rest": workers_rest,
        # An adaptive limiter's limit moves: the frame carries it now (and the limit it started at).
        "semaphore": {"limit": scenario.limit if down or service.moving_limit is None else service.moving_limit,
                      "held": held, "waiting": waiting,
                      **({"limiter": scenario.limiter, "initial": scenario.limit} if scenario.limiter != "fixed" else {})},
        "downstream": {"in_flight": in_flight, "capacity": scenario.capacity,
                       "slowdown": round(slowdown(scenario, in_flight), 2),
                       # Calls in flight whose caller timed out and moved on (abandon=continue).
                       "abandoned": service.abandoned_now() if not down else 0,
                       # A hiccup under way: [factor, seconds left], else None.
                       "hiccup": ([engine.hiccup_factor, round(engine.hiccup_until - now, 2)]
                                  if engine.hiccup_until > now else None)},
        "memory": {"held": metrics.in_system, "limit": scenario.memory,
                   "peak": metrics.in_system_peak, "crashes": engine.crashes},
        "totals": engine.totals(),
        "down_until": _r(engine.restart_at),
        "draining": engine.draining,
        "final_window": final_window(engine),
    }


#: engine -> ((metrics, windows closed), row): a finished run's last, partial window.
_FINAL = weakref.WeakKeyDictionary()


def final_window(engine: Engine) -> list | None:
    """A finished run's last, partial window as a row (see WINDOW_COLUMNS), or None.

    Windows close every 0.5 s of sim time, so a run that ends between two window ends would
    never show its last moments (and a run shorter than one window would show nothing at all).
    Read-only: the metrics are not changed; the row is the open window as if it closed now."""
    metrics = engine.metrics
    now = engine.loop.now
    start = metrics._end - metrics.window
    if not engine.finished or now <= start + 1e-9:
        return None
    # Built once per finished run: the clock goes on ticking after the end, the window does not.
    key = (id(metrics), metrics.closed)
    cached = _FINAL.get(engine)
    if cached is not None and cached[0] == key:
        return cached[1]
    done = metrics._completed
    # It ends with the last completion in it (the run's end), or now if nothing completed.
    end = done[-1][1] if done else now
    down = engine.restart_at is not None
    service = engine.service
    w = metrics.open_window(end if end > start + 1e-9 else now,
                            0 if down else service.queue.qsize(),
                            0 if down else service.in_flight,
                            None if down else service.moving_limit)
    row = window(w)
    _FINAL[engine] = (key, row)
    return row


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
        _r(data["parts"]["permit"]["p95"], 4),
        outcomes["throttled"],
        data["limit"],
    ]


#: Names of a window row's columns, in order (the page reads them from /api/frame-format).
WINDOW_COLUMNS = [
    "t", "arrival_rate", "throughput", "goodput",
    "rejected", "dropped", "put_timeout", "stale", "timeout", "lost",
    "p50", "p95", "p99", "put_p95", "queue_p95", "service_p95",
    "queue", "in_flight", "memory", "memory_peak",
    # Added after the others, at the end, so older readers' indexes still hold:
    "permit_p95",
    "throttled",
    "limit",  # an aimd limiter's limit as the window closed; null with a fixed semaphore
]


def events(raw_events: list) -> tuple[list, int]:
    """The newest events as ``[time, kind, text]``, and how many older ones were left out."""
    skipped = max(0, len(raw_events) - FRAME_EVENTS)
    return [[_r(e[0]), e[1], trace.describe(e)] for e in raw_events[skipped:]], skipped


def encode(frame: dict) -> str:
    # orjson: frames are the server's hot path (tens of thousands a second), and
    # it encodes them several times faster than the json module.
    return orjson.dumps(frame).decode()
