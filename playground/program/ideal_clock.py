"""An ideal clock for asyncio: the loop the playground's simulation equals, line for line.

Standard library only: ``code LINK --ideal-clock`` appends this module's text to the program, so
that ``python program.py`` prints the engine's trace exactly. Its rules:

1. ``loop.time()`` starts at 0.0 and only moves when nothing is ready to run; it then jumps to
   the deadline of the earliest live timer (no wall clock, no sleeping, no scheduling lag).
2. Timers are ordered by ``(when, seq)``, ``seq`` being scheduling order, so equal deadlines fire
   in the order they were set. (Stock asyncio's heap compares ``when`` only, so ties come out in
   heap order, and it treats timers due within its clock resolution as due.)
3. A timer is due when ``when <= now``. Due timers join the ready queue in ``(when, seq)``
   order, then the callbacks present at that moment run FIFO, as ``BaseEventLoop._run_once``.
4. Nothing ready and no timers while the program still runs is a deadlock: RuntimeError.
"""

import asyncio
import heapq
import itertools
from asyncio import events


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


def run_on_ideal_clock(coro, until=None, on_until=None):
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
        except Exception as error:
            # What asyncio.run() would raise, also said as a trace line (the playground's
            # trace ends with it): "main() raised ExceptionGroup: ...: QueueShutDown".
            text = f"{type(error).__name__}: {error}"
            if isinstance(error, BaseExceptionGroup):
                text += ": " + ", ".join(type(e).__name__ for e in error.exceptions)
            print(f"{loop_holder[0].time():.3f} main() raised {text}")
            raise
