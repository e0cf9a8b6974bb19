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

import contextlib
import io
import itertools
import linecache
import sys
import types

__all__ = ["VirtualClockLoop", "UntilReached", "run", "run_program"]


from playground.program.ideal_clock import UntilReached, VirtualClockLoop  # noqa: E402
from playground.program.ideal_clock import run_on_ideal_clock as _run  # noqa: E402


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
