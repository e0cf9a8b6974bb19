"""Run real asyncio programs on a virtual clock.

The point is to compare a real asyncio program, event by event and time by
time, with the discrete-event simulation engine.  The loop below follows the
engine's rules exactly:

1. ``loop.time()`` starts at 0.0 and only moves when nothing is ready to run;
   it then jumps to the deadline of the earliest non-cancelled timer.
2. Timers are ordered by ``(when, seq)``, ``seq`` being scheduling order, so
   equal deadlines fire FIFO.  (Stock asyncio keeps ``TimerHandle`` objects in
   a heap compared by ``when`` only, so ties come out in arbitrary order.)
3. A timer is due when ``when <= now`` (no ``clock_resolution`` fudge).  Due
   timers are appended to the ready queue in ``(when, seq)`` order, then the
   ``len(ready)`` callbacks present at that moment run FIFO, exactly like
   ``BaseEventLoop._run_once``.
4. No wall clock, no sleeping.  Nothing ready and no timers while the loop
   is supposed to keep running is a deadlock -> ``RuntimeError``.

No I/O is polled: the programs are pure compute + asyncio primitives.  Thread
wake-ups (``call_soon_threadsafe``, ``to_thread``) are not supported: a
program waiting on a thread looks like a deadlock.

API: ``VirtualClockLoop``, ``run(coro, until=...)``,
``run_program(source, until=..., main=...)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import io
import itertools
import linecache
import sys
import types
from asyncio import events

__all__ = ["VirtualClockLoop", "UntilReached", "run", "run_program"]


class UntilReached(Exception):
    """Raised out of the loop when the next timer lies past ``until``."""


class VirtualClockLoop(asyncio.SelectorEventLoop):
    """A SelectorEventLoop whose clock is virtual and whose timers tie FIFO.

    Subclassing SelectorEventLoop (rather than BaseEventLoop) gives us a
    working ``close()``, self-pipe and ``_process_events`` for free; we just
    never poll the selector.
    """

    def __init__(self) -> None:
        self._now = 0.0  # set before super().__init__ in case it reads time()
        # Our own timer heap of (when, seq, TimerHandle).  ``seq`` is unique,
        # so the handles themselves are never compared.  The base class's
        # ``self._scheduled`` list stays empty (close() clears it, harmless).
        self._vheap: list[tuple[float, int, events.TimerHandle]] = []
        self._vseq = itertools.count()
        # If set, stop (raise UntilReached) instead of jumping past it.
        self.until: float | None = None
        super().__init__()

    # Rule 1: virtual time.  Every timer API (call_later, sleep, timeout,
    # wait_for) reads the clock through this method.
    def time(self) -> float:
        return self._now

    # Rule 2: call_later() delegates here, and asyncio.sleep / asyncio.timeout
    # / wait_for all end up here, so this is the single place that assigns
    # ``seq``.  Mirrors BaseEventLoop.call_at except for the heap it uses.
    def call_at(self, when, callback, *args, context=None):
        if when is None:
            raise TypeError("when cannot be None")
        self._check_closed()
        if self._debug:
            self._check_thread()
            self._check_callback(callback, "call_at")
        timer = events.TimerHandle(when, callback, args, self, context)
        if timer._source_traceback:
            del timer._source_traceback[-1]
        heapq.heappush(self._vheap, (when, next(self._vseq), timer))
        # _scheduled=True makes TimerHandle.cancel() notify
        # _timer_handle_cancelled(), which counts cancelled timers for us.
        timer._scheduled = True
        return timer

    def _pop_cancelled(self) -> None:
        """Drop cancelled timers (whole heap if mostly cancelled, else head).

        Same housekeeping as asyncio: keeps the heap small when many
        timeouts are set and then cancelled.
        """
        heap = self._vheap
        if len(heap) > 100 and self._timer_cancelled_count * 2 > len(heap):
            keep = []
            for entry in heap:
                if entry[2]._cancelled:
                    entry[2]._scheduled = False
                else:
                    keep.append(entry)
            heapq.heapify(keep)
            self._vheap = heap = keep
            self._timer_cancelled_count = 0
        while heap and heap[0][2]._cancelled:
            self._timer_cancelled_count -= 1
            heapq.heappop(heap)[2]._scheduled = False

    # Rules 1, 3, 4: one loop iteration, same shape as BaseEventLoop._run_once
    # but the selector poll is replaced by the clock jump.
    def _run_once(self) -> None:
        self._pop_cancelled()
        heap = self._vheap
        if not self._ready and not self._stopping:
            # Nothing to run: jump to the earliest live timer (never back).
            if not heap:
                raise RuntimeError(
                    f"virtual clock deadlock at t={self._now!r}: nothing "
                    "ready to run and no timers pending"
                )
            when = heap[0][0]
            if self.until is not None and when > self.until:
                self._now = max(self._now, self.until)
                raise UntilReached(self.until)
            if when > self._now:
                self._now = when
        # Append every due timer, in (when, seq) order, after whatever is
        # already ready (e.g. call_soon callbacks, or timers scheduled with
        # delay 0 during the previous iteration).
        now = self._now
        ready = self._ready
        while heap and heap[0][0] <= now:
            _, _, handle = heapq.heappop(heap)
            handle._scheduled = False
            ready.append(handle)
        # Run exactly the callbacks present now; anything they schedule runs
        # in the next iteration (asyncio's ntodo idiom).
        for _ in range(len(ready)):
            handle = ready.popleft()
            if handle._cancelled:
                continue
            handle._run()
        handle = None  # break reference cycles on exceptions, as asyncio does


def _run(coro, until, on_until=None):
    """asyncio.run on a fresh VirtualClockLoop, honouring ``until``.

    asyncio.Runner (3.11+) does the proper shutdown for us: cancel remaining
    tasks and let them unwind, shut down async generators and the default
    executor, close the loop.
    """
    loop_holder = []

    def factory():
        loop = VirtualClockLoop()
        loop.until = until
        loop_holder.append(loop)
        return loop

    with asyncio.Runner(loop_factory=factory) as runner:
        try:
            return runner.run(coro)
        except UntilReached:
            loop = loop_holder[0]
            if on_until is not None:
                on_until()
            # Unwinding (during Runner.close) may itself sleep: let the clock
            # run freely from here on.
            loop.until = None
            return None


def run(coro, *, until: float | None = None):
    """Like ``asyncio.run(coro)`` but on a VirtualClockLoop.

    If ``until`` is given and main is still running when the next timer would
    fire after ``until``, stop at virtual time ``until``: remaining tasks are
    cancelled and unwound, the loop closed, and None returned.  Otherwise
    main's result is returned (or its exception raised).
    """
    return _run(coro, until)


class _LineSink(io.StringIO):
    """stdout replacement; ``freeze()`` stops recording (output after until)."""

    def __init__(self):
        super().__init__()
        self.frozen_at: int | None = None

    def freeze(self):
        self.frozen_at = len(self.getvalue())

    def lines(self) -> list[str]:
        text = self.getvalue()
        if self.frozen_at is not None:
            text = text[: self.frozen_at]
        return text.splitlines()


_program_ids = itertools.count()


def run_program(source: str, *, until: float | None = None,
                main: str = "main") -> list[str]:
    """Exec ``source`` as a fresh module, run its ``main()`` and return the
    printed lines (only those printed at virtual time <= ``until``)."""
    name = f"_virtual_program_{next(_program_ids)}"  # not "__main__"
    filename = f"<{name}>"
    # Register source so tracebacks from the program show its lines.
    linecache.cache[filename] = (len(source), None,
                                 source.splitlines(True), filename)
    module = types.ModuleType(name)
    module.__file__ = filename
    # Some machinery (dataclasses, pickling, typing) looks modules up here.
    sys.modules[name] = module
    sink = _LineSink()
    try:
        with contextlib.redirect_stdout(sink):
            exec(compile(source, filename, "exec"), module.__dict__)
            _run(getattr(module, main)(), until, on_until=sink.freeze)
    finally:
        sys.modules.pop(name, None)
        linecache.cache.pop(filename, None)
    return sink.lines()
