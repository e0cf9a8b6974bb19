"""The event trace, in the handbook's vocabulary.

Events are stored as small tuples ``(time, kind, a, b)`` and turned into text
only when someone reads them: the engine records far more than anyone prints.
The generated asyncio program prints the same lines (see codegen).
"""

from __future__ import annotations

PRODUCE = "produce"  # a: item, b: qsize before the put
ENQUEUED = "enqueued"  # a: item, b: qsize after the put
HANDLED = "handled"  # a: item, b: worker
SHUTDOWN = "shutdown"  # a: worker
REJECTED = "rejected"  # a: item
DROPPED = "dropped"  # a: evicted item, b: the item that took its place
PUT_TIMEOUT = "put-timeout"  # a: item
STALE = "stale"  # a: item, b: worker
CODEL_DROP = "codel-drop"  # a: item, b: worker (CoDel dropped it as the worker took it)
TIMEOUT = "timeout"  # a: item, b: worker
THROTTLED = "throttled"  # a: item, b: worker
RETRY = "retry"  # a: item, b: (worker, seconds of backoff)
REQUEST_RETRY = "request-retry"  # a: item, b: (attempt, seconds of backoff)
CRASH = "crash"  # a: items lost
RESTART = "restart"
FAILED = "failed"  # a: what main() raised, as "ExceptionGroup: ...: QueueShutDown"

_TEXT = {
    PRODUCE: "produce {a} qsize before: {b}",
    ENQUEUED: "enqueued {a} qsize after: {b}",
    HANDLED: "worker-{b} handled {a}",
    SHUTDOWN: "worker-{a} shutdown",
    REJECTED: "rejected {a}: queue full",
    DROPPED: "dropped {a} to make room for {b}",
    PUT_TIMEOUT: "put-timeout {a}",
    STALE: "worker-{b} stale {a}",
    CODEL_DROP: "worker-{b} codel-dropped {a}",
    TIMEOUT: "worker-{b} timeout {a}",
    THROTTLED: "worker-{b} throttled {a}",
    RETRY: "worker-{b[0]} retry {a} in {b[1]:.3f}",
    REQUEST_RETRY: "request {a} retry {b[0]} in {b[1]:.3f}",
    CRASH: "out of memory: {a} items lost",
    RESTART: "restarted",
    FAILED: "main() raised {a}",
}


def describe(event: tuple) -> str:
    """The event's message, without its time: ``worker-0 handled 3``."""
    _time, kind, a, b = event
    return _TEXT[kind].format(a=a, b=b)


def line(event: tuple) -> str:
    """The event as a trace line: ``0.150 worker-0 handled 3``."""
    return f"{event[0]:.3f} {describe(event)}"

