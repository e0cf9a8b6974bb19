"""A small, exact model of asyncio's event loop, on virtual time.

The engine must behave like the asyncio program a scenario stands for: the same
FIFO order of waiting getters, putters and semaphore acquirers, the same wake-up
order at one instant. The surest way is to run the same algorithms, so this
module ports the parts of asyncio the program uses (event loop, Future, Task,
sleep, timeout, Queue, Semaphore, Event) to generators on a virtual clock:

- ``Loop`` keeps a FIFO ready queue of callbacks and a heap of timers keyed
  ``(when, seq)``. Time jumps to the next timer only when nothing is ready, and
  all timers due then are appended in (when, seq) order, which is exactly what
  asyncio's ``_run_once`` does under a clock where deadlines never tie.
- A coroutine here is a generator; ``yield from fut`` is ``await fut``. A task
  resumes one ready-queue hop after the future it waits on is done, as in
  asyncio, so same-instant events interleave the same way.

Nothing here touches asyncio, I/O or the wall clock.
"""

from __future__ import annotations

from collections import deque
from heapq import heappop, heappush

PENDING, DONE, CANCELLED = 0, 1, 2
_INFINITY = float("inf")


class Cancelled(BaseException):
    """asyncio.CancelledError: thrown into a task at its await point."""


class Killed(BaseException):
    """Ends the running task at once (a crash); ``after`` runs once it has unwound."""

    def __init__(self, after):
        super().__init__()
        self.after = after


class Loop:
    """The event loop: a ready queue of callbacks and a timer heap on virtual time.

    Callbacks take no arguments; a Task or a sleeping Future is itself the
    callback (``__call__``), which saves an allocation on every hop.
    """

    __slots__ = ("now", "ready", "timers", "_seq", "current", "halt", "spent")

    def __init__(self, now: float = 0.0):
        self.now = now
        self.ready = deque()  # callables, run FIFO
        self.timers = []  # (when, seq, callable): seq keeps equal deadlines FIFO
        self._seq = 0
        self.current = None  # the task running now (asyncio.current_task())
        self.halt = False  # set to stop run_until at the end of this instant
        # Callbacks the last run_until with a budget ran: the work a sandbox pays for.
        self.spent = 0

    def call_soon(self, callback) -> None:
        self.ready.append(callback)

    def call_at(self, when: float, callback) -> None:
        self._seq += 1
        heappush(self.timers, (when, self._seq, callback))

    def next_deadline(self) -> float | None:
        """When the next timer fires (possibly one whose work was cancelled), or None."""
        return self.timers[0][0] if self.timers else None

    def run_until(self, until: float, max_callbacks: float = _INFINITY) -> bool:
        """Run every callback due at or before ``until``, then set the clock to it.

        Returns True if ``until`` was reached. Stops early if ``halt`` is set (at
        the end of an instant) or once ``max_callbacks`` callbacks have run (a
        work budget, counted in callbacks because one instant may hold any
        amount of work: 256 workers finishing together, a burst of 10,000).
        A budget may stop the loop inside an instant; the next call carries on
        from the very next callback, so where it stops changes nothing about
        the run. ``settled`` says whether the present instant is complete."""
        ready = self.ready
        timers = self.timers
        popleft = ready.popleft
        append = ready.append
        budget = max_callbacks
        while True:
            if budget == _INFINITY:
                while ready:
                    popleft()()
            else:
                # (Re-test ``ready`` before each pop: a crash empties it mid-instant.)
                while ready:
                    if budget <= 0:
                        self.spent = max_callbacks
                        return False
                    budget -= 1
                    popleft()()
            if self.halt:
                self.spent = max_callbacks - budget
                return False
            if not timers or timers[0][0] > until:
                break
            if budget <= 0:
                self.spent = max_callbacks
                return False
            budget -= 1
            when, _, callback = heappop(timers)
            self.now = when
            if type(callback) is Future and not (timers and timers[0][0] == when):
                # The common case, inlined: one sleep ends alone at this
                # instant; its Future.__call__ just readies its waiters.
                if callback.state == PENDING:
                    callback.state = DONE
                    waiters = callback.callbacks
                    callback.callbacks = None
                    if type(waiters) is list:
                        ready.extend(waiters)
                    elif waiters is not None:
                        append(waiters)
                continue
            append(callback)
            while timers and timers[0][0] == when:
                append(heappop(timers)[2])
        if self.now < until < _INFINITY:
            self.now = until
        self.spent = max_callbacks - budget  # (nan without a budget: nobody counts that work)
        return True

    @property
    def settled(self) -> bool:
        """True when nothing is left to run at the present instant (a budget
        did not stop the loop inside it): the moment a control may act on."""
        return not self.ready and not (self.timers and self.timers[0][0] <= self.now)

    def detach(self):
        """Give the loop fresh, throwaway queues; return the real ones.

        A crashed service is torn down by closing its generators, whose cleanup
        code may schedule things; with the queues detached it schedules nothing
        that will run. ``attach`` puts the real (emptied) queues back."""
        real = (self.ready, self.timers)
        self.ready = deque()
        self.timers = []
        return real

    def attach(self, real) -> None:
        ready, timers = real
        ready.clear()
        timers.clear()
        self.ready, self.timers = ready, timers


class Future:
    """asyncio.Future: a result that is set once; its callbacks run one hop later.

    ``callbacks`` is None, one callable, or a list (most futures have exactly
    one waiter, so no list is made for them). Calling a future sets its
    result unless it was cancelled: that is a sleep's timer callback.
    """

    __slots__ = ("loop", "state", "callbacks")

    def __init__(self, loop: Loop):
        self.loop = loop
        self.state = PENDING
        self.callbacks = None

    def done(self) -> bool:
        return self.state != PENDING

    def cancelled(self) -> bool:
        return self.state == CANCELLED

    def add_done_callback(self, callback) -> None:
        if self.state != PENDING:
            self.loop.ready.append(callback)
        elif self.callbacks is None:
            self.callbacks = callback
        elif type(self.callbacks) is list:
            self.callbacks.append(callback)
        else:
            self.callbacks = [self.callbacks, callback]

    def remove_done_callback(self, callback) -> None:
        callbacks = self.callbacks
        if callbacks is callback:
            self.callbacks = None
        elif type(callbacks) is list:
            self.callbacks = [c for c in callbacks if c is not callback] or None

    def _schedule_callbacks(self) -> None:
        callbacks = self.callbacks
        if callbacks is not None:
            self.callbacks = None
            if type(callbacks) is list:
                self.loop.ready.extend(callbacks)
            else:
                self.loop.ready.append(callbacks)

    def set_result(self, _value=None) -> None:
        self.state = DONE
        self._schedule_callbacks()

    def __call__(self) -> None:
        # futures._set_result_unless_cancelled, the timer callback of a sleep
        if self.state == PENDING:
            self.set_result()

    def cancel(self) -> bool:
        if self.state != PENDING:
            return False
        self.state = CANCELLED
        self._schedule_callbacks()
        return True

    def __iter__(self):
        # ``yield from fut`` is ``await fut``: suspend only if not done yet.
        # (A task resumed from a cancelled future gets Cancelled thrown in.)
        if self.state == PENDING:
            yield self
        if self.state == CANCELLED:
            raise Cancelled


class Task(Future):
    """asyncio.Task: drives a generator; its first step runs one hop after creation.

    The generator yields the pending Future it waits for; the task is that
    future's callback (``__call__`` is the step), so it resumes one hop after
    the future is done, with Cancelled thrown in if it was cancelled.
    """

    __slots__ = ("gen", "waiting_on", "must_cancel", "cancel_requests", "group")

    def __init__(self, loop: Loop, gen, group=None, start=True):
        Future.__init__(self, loop)
        self.gen = gen
        self.waiting_on = None
        self.must_cancel = False
        self.cancel_requests = 0
        self.group = group  # the TaskGroup told when this task is done
        if start:
            loop.ready.append(self)

    def __call__(self) -> None:
        if self.state:  # done already (PENDING is 0)
            return
        waited = self.waiting_on
        self.waiting_on = None
        self.loop.current = self
        try:
            if self.must_cancel or (waited is not None and waited.state == CANCELLED):
                self.must_cancel = False
                future = self.gen.throw(Cancelled())
            else:
                future = self.gen.send(None)
        except StopIteration:
            self._done(DONE)
            return
        except Cancelled:
            self._done(CANCELLED)
            return
        except Killed as killed:
            self.state = CANCELLED
            killed.after()
            return
        if future is None:  # a bare yield (asyncio.sleep(0)): Task.__step reschedules itself
            self.loop.ready.append(self)
            return
        callbacks = future.callbacks
        if callbacks is None:
            future.callbacks = self
        elif type(callbacks) is list:
            callbacks.append(self)
        else:
            future.callbacks = [callbacks, self]
        self.waiting_on = future
        if self.must_cancel and future.cancel():
            self.must_cancel = False

    def _done(self, state: int) -> None:
        if self.group is not None:
            # TaskGroup._on_task_done: registered first, so it runs first
            self.loop.ready.append(_GroupDone(self.group, self))
        if state == DONE:
            Future.set_result(self)
        else:
            Future.cancel(self)

    def cancel(self) -> bool:
        if self.state != PENDING:
            return False
        self.cancel_requests += 1
        if self.waiting_on is not None and self.waiting_on.cancel():
            return True
        self.must_cancel = True
        return True

    def uncancel(self) -> int:
        if self.cancel_requests > 0:
            self.cancel_requests -= 1
        return self.cancel_requests


def sleep(loop: Loop, delay: float) -> Future | None:
    """asyncio.sleep(delay): ``yield sleep(loop, delay)``.

    A delay of 0 or less (-0.0 included: a call whose luck draws a zero-length time) is
    asyncio's ``__sleep0``: a bare yield, after which the task is scheduled again at once, behind
    what is ready now, with no timer (a timer would wait until nothing else is ready). The Task
    takes the ``None`` this returns as that yield.

    asyncio also cancels the timer if the sleep is cancelled; here the timer
    just finds its future cancelled and does nothing, which is the same."""
    if delay <= 0:
        return None
    future = Future(loop)
    loop._seq += 1
    heappush(loop.timers, (loop.now + delay, loop._seq, future))
    return future


def shield(loop: Loop, inner: Task) -> Future:
    """asyncio.shield(inner): a future that follows ``inner`` and whose cancellation (a timeout
    of the one awaiting it) leaves ``inner`` running. Its two callbacks are asyncio's, in the
    same order, so every hop happens when it does in asyncio."""
    if inner.state != PENDING:
        return inner
    outer = Future(loop)

    def inner_done() -> None:  # _inner_done_callback
        if outer.state != PENDING:  # the waiter gave up: nothing to pass on
            return
        if inner.state == CANCELLED:
            outer.cancel()
        else:
            outer.set_result()

    def outer_done() -> None:  # _outer_done_callback
        if inner.state == PENDING:
            inner.remove_done_callback(inner_done)

    inner.add_done_callback(inner_done)
    outer.add_done_callback(outer_done)
    return outer


class _Deadline:
    """The state of one ``asyncio.timeout`` block; calling it is the timer firing."""

    __slots__ = ("task", "expiring", "armed")

    def __init__(self, task: Task):
        self.task = task
        self.expiring = False
        self.armed = True  # False once the block is left: the timer does nothing

    def __call__(self) -> None:
        if self.armed:
            self.armed = False
            self.task.cancel()
            self.expiring = True


def timeout(loop: Loop, task: Task, delay: float, body):
    """``async with asyncio.timeout(delay): await body`` for delay > 0.

    The deadline cancels the task; on the way out the cancellation becomes
    TimeoutError unless someone else also cancelled the task.
    """
    deadline = _Deadline(task)
    loop.call_at(loop.now + delay, deadline)
    cancelling = task.cancel_requests
    try:
        return (yield from body)
    except Cancelled:
        if deadline.expiring:
            deadline.expiring = False
            if task.uncancel() <= cancelling:
                raise TimeoutError from None
        raise
    finally:
        deadline.armed = False
        if deadline.expiring:  # expired as the body finished: nothing to convert
            task.uncancel()


def _wakeup_next(waiters: deque) -> None:
    while waiters:
        waiter = waiters.popleft()
        if waiter.state == PENDING:
            waiter.set_result(None)
            break


class QueueFull(Exception):
    """asyncio.QueueFull: put_nowait on a full queue."""


class Queue:
    """asyncio.Queue, line for line, with a maxsize that may change while it runs."""

    __slots__ = ("loop", "maxsize", "items", "getters", "putters", "unfinished", "finished", "order",
                 "forming", "last_empty")

    def __init__(self, loop: Loop, maxsize: int, order: str = "fifo", forming: float = 0.0):
        self.loop = loop
        self.maxsize = maxsize  # 0 = unbounded, as in asyncio
        # Which item get takes: "fifo" (asyncio.Queue), "lifo" (asyncio.LifoQueue) or
        # "adaptive-lifo": the newest once the queue has not been empty for ``forming`` seconds
        # (the program's AdaptiveLifoQueue: its _put and _get, here put_nowait and get_nowait).
        self.order = order
        self.forming = forming
        self.last_empty = loop.now
        self.items = deque()
        self.getters = deque()  # futures of tasks waiting in get(), FIFO
        self.putters = deque()  # futures of tasks waiting in put(), FIFO
        self.unfinished = 0  # put minus task_done, for join()
        self.finished = Event(loop)
        self.finished.set()

    def qsize(self) -> int:
        return len(self.items)

    def full(self) -> bool:
        return 0 < self.maxsize <= len(self.items)

    def resize(self, maxsize: int) -> None:
        """Change maxsize. Growing wakes one waiting putter per new free slot;
        shrinking evicts nothing, new puts just wait (asyncio has no resize; this
        is what one would do if it had)."""
        old_free = (self.maxsize - len(self.items)) if self.maxsize > 0 else None
        self.maxsize = maxsize
        if maxsize <= 0:
            wake = len(self.putters)
        else:
            wake = max(0, maxsize - len(self.items) - max(old_free or 0, 0))
        for _ in range(wake):
            _wakeup_next(self.putters)

    def put(self, item):
        while self.full():
            putter = Future(self.loop)
            self.putters.append(putter)
            try:
                yield putter
            except BaseException:
                putter.cancel()
                try:
                    self.putters.remove(putter)
                except ValueError:
                    pass
                if not self.full() and putter.state != CANCELLED:
                    _wakeup_next(self.putters)
                raise
        self.put_nowait(item)

    def put_nowait(self, item) -> None:
        if self.full():
            raise QueueFull
        if not self.items:
            self.last_empty = self.loop.now
        self.items.append(item)
        self.unfinished += 1
        self.finished.clear()
        _wakeup_next(self.getters)

    def get(self):
        while not self.items:
            getter = Future(self.loop)
            self.getters.append(getter)
            try:
                yield getter
            except BaseException:
                getter.cancel()
                try:
                    self.getters.remove(getter)
                except ValueError:
                    pass
                if self.items and getter.state != CANCELLED:
                    _wakeup_next(self.getters)
                raise
        return self.get_nowait()

    def standing(self) -> float:
        """Seconds the queue has not been empty (0 when it is empty)."""
        return self.loop.now - self.last_empty if self.items else 0.0

    def serves_newest(self) -> bool:
        """Whether a get now takes the newest item: lifo always, adaptive-lifo once a queue has
        stood for more than ``forming`` seconds."""
        order = self.order
        return order == "lifo" or (order == "adaptive-lifo" and self.standing() > self.forming)

    def get_nowait(self):
        items = self.items
        if self.order == "fifo" or not self.serves_newest():
            item = items.popleft()
        else:
            item = items.pop()
        if not items:
            self.last_empty = self.loop.now
        _wakeup_next(self.putters)
        return item

    def task_done(self) -> None:
        self.unfinished -= 1
        if self.unfinished == 0:
            self.finished.set()

    def join(self):
        if self.unfinished > 0:
            yield from self.finished.wait()


class QueueShutDown(Exception):
    """asyncio.QueueShutDown (3.13+): put on a shut-down queue, or get on one that is also empty."""


class ShutdownQueue(Queue):
    """asyncio.Queue of Python 3.13+, with shutdown(), line for line. A separate class so the
    plain Queue's hot paths carry no shutdown checks; only the handbook's printed program
    (join=at-start) shuts its queue down before it is done with it."""

    __slots__ = ("is_shutdown",)

    def __init__(self, loop: Loop, maxsize: int, order: str = "fifo", forming: float = 0.0):
        Queue.__init__(self, loop, maxsize, order, forming)
        self.is_shutdown = False

    def shutdown(self) -> None:
        """shutdown(immediate=False): every waiting getter and putter wakes to re-check."""
        self.is_shutdown = True
        for waiters in (self.getters, self.putters):
            while waiters:
                waiter = waiters.popleft()
                if waiter.state == PENDING:
                    waiter.set_result(None)

    def put(self, item):
        while self.full():
            if self.is_shutdown:
                raise QueueShutDown
            putter = Future(self.loop)
            self.putters.append(putter)
            try:
                yield putter
            except BaseException:
                putter.cancel()
                try:
                    self.putters.remove(putter)
                except ValueError:
                    pass
                if not self.full() and putter.state != CANCELLED:
                    _wakeup_next(self.putters)
                raise
        self.put_nowait(item)

    def put_nowait(self, item) -> None:
        if self.is_shutdown:
            raise QueueShutDown
        Queue.put_nowait(self, item)

    def get(self):
        while not self.items:
            if self.is_shutdown:
                raise QueueShutDown
            getter = Future(self.loop)
            self.getters.append(getter)
            try:
                yield getter
            except BaseException:
                getter.cancel()
                try:
                    self.getters.remove(getter)
                except ValueError:
                    pass
                if self.items and getter.state != CANCELLED:
                    _wakeup_next(self.getters)
                raise
        return self.get_nowait()

    def get_nowait(self):
        if not self.items and self.is_shutdown:
            raise QueueShutDown
        return Queue.get_nowait(self)


class Event:
    """asyncio.Event."""

    __slots__ = ("loop", "value", "waiters")

    def __init__(self, loop: Loop):
        self.loop = loop
        self.value = False
        self.waiters = deque()

    def set(self) -> None:
        if not self.value:
            self.value = True
            for waiter in self.waiters:
                if waiter.state == PENDING:
                    waiter.set_result(True)

    def clear(self) -> None:
        self.value = False

    def wait(self):
        if self.value:
            return True
        waiter = Future(self.loop)
        self.waiters.append(waiter)
        try:
            yield waiter
            return True
        finally:
            self.waiters.remove(waiter)


class Semaphore:
    """asyncio.Semaphore (Python 3.11.7), with a limit that may change while it runs.

    ``limit`` None means no semaphore at all: acquire never waits. Shrinking the
    limit below the permits in use leaves ``value`` negative, a debt that
    releases pay back before anyone else gets a permit.
    """

    __slots__ = ("loop", "limit", "value", "waiters", "holders")

    def __init__(self, loop: Loop, limit: int | None):
        self.loop = loop
        self.limit = limit
        self.value = limit or 0
        self.waiters = deque()  # futures of tasks waiting in acquire(), FIFO
        self.holders = 0  # permits in use (also counted with no limit)

    def locked(self) -> bool:
        if self.limit is None:
            return False
        if self.value <= 0:
            return True
        for waiter in self.waiters:
            if waiter.state != CANCELLED:
                return True
        return False

    def acquire(self):
        if not self.locked():
            self.value -= 1
            self.holders += 1
            return True
        waiter = Future(self.loop)
        self.waiters.append(waiter)
        try:
            try:
                yield waiter
            finally:
                self.waiters.remove(waiter)
        except Cancelled:
            if waiter.state != CANCELLED:
                self.value += 1
                self._wake_up_next()
            raise
        self.holders += 1
        if self.value > 0:
            self._wake_up_next()
        return True

    def try_acquire(self) -> bool:
        """acquire() when it would not wait; False (and nothing taken) when it would."""
        if self.locked():
            return False
        self.value -= 1
        self.holders += 1
        return True

    def release(self) -> None:
        self.holders -= 1
        self.value += 1
        self._wake_up_next()

    def _wake_up_next(self) -> None:
        # asyncio never calls this with value <= 0; with a shrunk limit we can.
        if self.value <= 0 and self.limit is not None:
            return
        for waiter in self.waiters:
            if waiter.state == PENDING:
                self.value -= 1
                waiter.set_result(True)
                return

    def set_limit(self, limit: int | None) -> None:
        """Change the number of permits; waiters proceed if permits became free."""
        self.limit = limit
        if limit is None:
            for waiter in self.waiters:
                if waiter.state == PENDING:
                    waiter.set_result(True)
            return
        self.value = limit - self.holders - sum(1 for w in self.waiters if w.state == DONE)
        while self.value > 0 and any(w.state == PENDING for w in self.waiters):
            self._wake_up_next()


class _GroupDone:
    """TaskGroup._on_task_done for one finished task, as a ready-queue callback."""

    __slots__ = ("group", "task")

    def __init__(self, group, task):
        self.group = group
        self.task = task

    def __call__(self) -> None:
        self.group.tasks.discard(self.task)
        self.group._check_completed()


class TaskGroup:
    """asyncio.TaskGroup's bookkeeping: the tasks it started, and waiting for
    all of them on exit. (Errors never reach a group here: a crash tears the
    whole service down at once; see engine.)"""

    __slots__ = ("loop", "tasks", "light", "on_completed", "light_done_callback")

    def __init__(self, loop: Loop):
        self.loop = loop
        self.tasks: set[Task] = set()
        # Tasks run without a Task object (see engine._Request), counted until
        # their done callback has run.
        self.light = 0
        self.on_completed: Future | None = None
        self.light_done_callback = self.light_done  # bound once, used per request

    def light_done(self) -> None:
        self.light -= 1
        self._check_completed()

    def _check_completed(self) -> None:
        if (self.on_completed is not None and not self.tasks and not self.light
                and self.on_completed.state == PENDING):
            self.on_completed.set_result(True)

    def create_task(self, gen) -> Task:
        task = Task(self.loop, gen, self)
        self.tasks.add(task)
        return task

    def wait(self):
        """``__aexit__`` of ``async with TaskGroup()``: wait until every task is done."""
        while self.tasks or self.light:
            if self.on_completed is None:
                self.on_completed = Future(self.loop)
            yield self.on_completed
            self.on_completed = None
