"""The engine: the asyncio program a scenario stands for, run on virtual time.

``Service`` below is the generated program (see ``playground.program.codegen``) written
against ``kernel``, our port of asyncio, instead of asyncio itself: the same
tasks, the same awaits in the same order, the same random draws. Parity tests
run both and compare their traces line by line. What the program cannot do —
change a parameter while it runs, take a burst or a drain from a teacher — is
added here in the way asyncio would do it if it could.

``Engine`` owns what outlives a crash of the service: the clock, the random
streams, item ids, the trace and the metrics; and it takes the controls.
"""

from __future__ import annotations

from collections import deque

from playground.model.scenario import Scenario, ScenarioError, as_changed, shown
from playground.model.script import HICCUP_FACTOR, HICCUP_SECONDS, check_hiccup  # noqa: F401 (the CLI's)

from . import draws, world
from .codel import CoDel
from .limiters import adaptive_limiter, tune
from . import trace as ev
from .kernel import (
    Cancelled,
    Killed,
    Loop,
    Queue,
    QueueShutDown,
    Semaphore,
    ShutdownQueue,
    Task,
    TaskGroup,
    shield,
    sleep,
    timeout,
)
from .metrics import Metrics

#: Items listed one by one in a snapshot's queue; the rest are summarized.
QUEUE_DISPLAY_CAP = 64
#: Overload policies whose put waits for room.
WAITING_POLICIES = frozenset(("block", "timeout"))
#: Blocked open requests listed one by one in a snapshot.
BLOCKED_DISPLAY_CAP = 64


class Item:
    """One unit of work, with the moments it passed each stage."""

    __slots__ = ("id", "arrived", "enqueued", "got", "started")

    def __init__(self, item_id: int, arrived: float):
        self.id = item_id
        self.arrived = arrived  # produced (the request arrived)
        # Set as the item gets there (read only for completed items):
        # enqueued (its put returned), got (a worker took it from the queue),
        # started (its downstream call began, permit held).


class WorkerSlot:
    """What one worker task is doing, for snapshots.

    state: ``idle`` (waiting in get), ``permit`` (holding an item, waiting for
    a semaphore permit), ``calling`` (in the downstream call), ``done``.
    """

    __slots__ = ("index", "task", "state", "item", "since", "retiring", "permit", "granted")

    def __init__(self, index: int):
        self.index = index
        self.task = None
        self.permit = 0  # with an adaptive limiter: the calls in flight when its permit was granted
        self.granted = 0.0  # and when: the call's round trip is from then to the permit's release
        self.state = "idle"
        self.item = None
        self.since = 0.0
        self.retiring = False


class ProducerSlot:
    """What one closed producer is doing: ``pausing`` between items,
    ``blocked`` in put with an item, or ``done``."""

    __slots__ = ("index", "task", "state", "item", "since", "retiring", "burst_left")

    def __init__(self, index: int):
        self.index = index
        self.task = None
        self.state = "pausing"
        self.item = None
        self.since = 0.0
        self.retiring = False
        self.burst_left = 0


class _Request:
    """The first step of an open request's task: ``request(item)`` up to its put.

    Most puts do not wait (room in the queue, or a policy that never waits), so
    most requests end in their first step; making a Task and a generator for
    each would cost more than the rest of the request. Only a put that waits
    becomes a real Task, started right here, so nothing else can tell.
    """

    __slots__ = ("service", "item_id")

    def __init__(self, service: "Service", item_id: int):
        self.service = service
        self.item_id = item_id

    def __call__(self) -> None:
        service = self.service
        loop = service.loop
        requests = service.requests
        queue = service.queue
        try:
            item = service.engine.produce(self.item_id, len(queue.items))
        except Killed as killed:
            killed.after()
            return
        if service.put_would_wait():
            requests.light -= 1
            retrying = client_retrying(service.engine.scenario)
            task = Task(loop, service.client_request(item) if retrying else service.put(item), requests,
                        start=False)
            requests.tasks.add(task)
            task()
        else:
            service.put_now(item)
            loop.ready.append(requests.light_done_callback)  # TaskGroup._on_task_done, one hop on


class _Requests:
    """The first steps of a burst's requests, ``_Request`` after ``_Request``, one per turn of the
    loop. In asyncio a burst is one step that calls create_task 10,000 times, leaving 10,000
    first steps in the ready queue; here one entry stands for them all and puts itself back at
    the front before each runs, so they run in the same order, each counted as one callback,
    and no single callback makes 10,000 objects (it took 10 ms: a frame's whole budget)."""

    __slots__ = ("service", "next", "end")

    def __init__(self, service: "Service", first: int, end: int):
        self.service = service
        self.next = first
        self.end = end

    def __call__(self) -> None:
        item_id = self.next
        self.next = item_id + 1
        if self.next < self.end:
            # Before the request runs: a crash in it empties this ready queue, and these go too.
            self.service.loop.ready.appendleft(self)
        _Request(self.service, item_id)()


def slowdown(scenario: Scenario, in_flight: int) -> float:
    """How many times longer than drawn a call starting now would take (for display; the
    call's own duration is computed step by step in Service.call_downstream)."""
    capacity = scenario.capacity
    if not capacity:
        return 1.0
    factor = max(1.0, in_flight / capacity)
    if scenario.contention and in_flight > capacity:
        factor *= 1 + scenario.contention * (in_flight - capacity)
    return factor


#: A hiccup's factor and length: the ranges a control may ask for.
def abandoning(scenario: Scenario) -> bool:
    """Whether a timed-out call goes on in the downstream (its own task, awaited through shield)."""
    return scenario.abandon == "continue" and bool(scenario.timeout)


def client_retrying(scenario: Scenario) -> bool:
    """Whether open requests whose put failed come back after a backoff."""
    return bool(scenario.client_retries and scenario.producer == "open"
                and scenario.policy in ("reject", "timeout"))


def retrying(scenario: Scenario) -> bool:
    """Whether workers run the retry loop: retries are on and a call can fail."""
    return bool(scenario.retries and (scenario.timeout or scenario.rate_limit))


class Service:
    """One life of the service: its queue, semaphore and tasks.

    An out-of-memory crash ends it; a restart builds a new one. Everything here
    mirrors a function of the generated program; comments name it.
    """

    def __init__(self, engine: "Engine"):
        self.engine = engine
        loop = self.loop = engine.loop
        scenario = engine.scenario
        self.queue = (ShutdownQueue if scenario.join == "at-start" else Queue)(
            loop, scenario.queue, scenario.discipline, scenario.codel_interval)
        # codel=on: the queue's CoDel state, asked by every worker for every item it takes.
        self.codel = CoDel(scenario.codel_target, scenario.codel_interval) if scenario.codel == "on" else None
        self.errors: list[str] = []  # exceptions that ended tasks (only the printed handbook has any)
        # serve()'s semaphore, or with an adaptive limiter (aimd, vegas, gradient2) its limiter.
        self.adaptive = scenario.limiter != "fixed"
        self.semaphore = adaptive_limiter(loop, scenario) if self.adaptive else Semaphore(loop, scenario.limit or None)
        self.in_flight = 0  # downstream calls under way
        self.calls: list[Task] = []  # with abandon=continue: calls running in tasks of their own
        self.abandoned: list[Task] = []  # the ones whose caller timed out and walked away
        self.group = TaskGroup(loop)  # main's TaskGroup: producers, workers
        self.requests = TaskGroup(loop)  # open requests (and control bursts)
        self.workers: list[WorkerSlot] = []
        self.producers: list[ProducerSlot] = []
        self.arrivals_task = None  # open arrivals loop
        self.arrivals_pausing = False  # it is sleeping until the next arrival
        self.bursts_task = None  # open arrivals: the periodic bursts loop
        self.blocked: dict[Item, float] = {}  # open requests waiting in put -> since
        self.backing_off: dict[Item, float] = {}  # open requests waiting to retry their put -> since
        self.shutting_down = False
        self.main = Task(loop, self.serve())

    @property
    def moving_limit(self) -> int | None:
        """An adaptive limiter's limit now; None with a fixed semaphore (its limit is the scenario's)."""
        return self.semaphore.limit if self.adaptive else None

    # serve() ------------------------------------------------------------------

    def serve(self):
        """main()/serve(): start producers and workers; once producing is over,
        join the queue and tell each worker to shut down."""
        scenario = self.engine.scenario
        if scenario.producer == "closed":
            for _ in range(scenario.producers):
                self.add_producer()
        else:
            self.arrivals_task = self.group.create_task(self.arrivals())
        self.add_workers(scenario.workers)
        if scenario.join == "at-start":
            yield from self.serve_as_printed()
            return
        while True:  # for task in producers: await task
            task = self._live_producer_task()
            if task is None:
                break
            yield task
        yield from self.requests.wait()  # control bursts of a closed run
        yield from self.queue.join()
        self.shutting_down = True
        for _ in range(sum(1 for w in self.workers if not w.retiring)):
            yield from self.queue.put(None)  # one shutdown sentinel per worker
        yield from self.group.wait()
        self.engine._finish()

    def serve_as_printed(self):
        """The rest of main() as the handbook prints it: ``await queue.join()`` comes before the
        producers have put anything, so it returns at once (nothing is unfinished), and
        ``queue.shutdown()`` runs before any task has taken a step. Then each producer's first
        put raises QueueShutDown and ends its task; each worker's get() finds the queue shut
        down and empty and raises it too (the worker logs its shutdown). The TaskGroup ends
        with an ExceptionGroup of the producers' errors, which main() does not catch."""
        yield from self.queue.join()
        self.queue.shutdown()
        yield from self.group.wait()
        errors = self.errors
        if errors:
            count = f"{len(errors)} sub-exception{'s' if len(errors) > 1 else ''}"
            self.engine.fail(f"ExceptionGroup: unhandled errors in a TaskGroup ({count}): {', '.join(errors)}")
        else:
            self.engine._finish()

    def _live_producer_task(self):
        for slot in self.producers:
            if not slot.task.done():
                return slot.task
        if self.arrivals_task is not None and not self.arrivals_task.done():
            return self.arrivals_task
        return None

    # Producers -----------------------------------------------------------------

    def add_producer(self) -> None:
        taken = {slot.index for slot in self.producers if slot.state != "done"}
        index = next(i for i in range(len(taken) + 1) if i not in taken)
        slot = ProducerSlot(index)
        slot.since = self.loop.now
        self.producers = [s for s in self.producers if s.state != "done"] + [slot]
        slot.task = self.group.create_task(self.producer(slot))

    def producer(self, slot: ProducerSlot):
        """producer(): a closed producer; each item waits for its put before the next."""
        engine = self.engine
        loop = self.loop
        while True:
            scenario = engine.scenario
            pattern = scenario.arrivals
            if pattern != "asap" and not (pattern == "bursts" and slot.burst_left > 0):
                rate = scenario.rate / scenario.producers
                if pattern == "bursts":
                    gap = scenario.period
                    slot.burst_left = scenario.burst
                elif pattern == "steady":
                    gap = 1 / rate
                elif pattern == "wave":
                    gap = draws.wave_gap(engine.arrival_random, rate, scenario.period, loop.now)
                else:
                    gap = draws.poisson_gap(engine.arrival_random, rate)
                slot.state = "pausing"
                slot.since = loop.now
                try:
                    yield sleep(loop, gap)
                except Cancelled:  # drained or retired while pausing
                    break
            if slot.burst_left > 0:
                slot.burst_left -= 1
            if slot.retiring:
                break
            item_id = engine.next_id()
            if item_id is None:
                break
            item = engine.produce(item_id, self.queue.qsize())
            slot.state = "blocked"
            slot.item = item
            slot.since = loop.now
            try:
                yield from self.put(item)
            except QueueShutDown:  # the printed handbook's put, after its early shutdown()
                self.errors.append("QueueShutDown")
                engine.outcome(item, "lost")  # the task dies with the item it was putting
                break
            slot.item = None
        slot.state = "done"
        slot.item = None

    def arrivals(self):
        """arrivals(): open arrivals; every request is its own task awaiting its put."""
        engine = self.engine
        loop = self.loop
        requests = self.requests
        if engine.scenario.arrivals == "bursts":
            self.bursts_task = requests.create_task(self.bursts())
        while not engine.draining and engine.scenario.producer == "open":
            scenario = engine.scenario
            if scenario.arrivals == "steady":
                gap = 1 / scenario.rate
            elif scenario.arrivals == "wave":
                gap = draws.wave_gap(engine.arrival_random, scenario.rate, scenario.period, loop.now)
            else:
                gap = draws.poisson_gap(engine.arrival_random, scenario.rate)
            self.arrivals_pausing = True
            try:
                yield sleep(loop, gap)
            except Cancelled:  # drained or switched to closed producers
                break
            finally:
                self.arrivals_pausing = False
            item_id = engine.next_id()
            if item_id is None:
                break
            requests.light += 1  # start_request(item_id), inlined: it runs per item
            loop.ready.append(_Request(self, item_id))
        yield from requests.wait()

    def bursts(self):
        """bursts(): ``burst`` requests at once every ``period`` seconds."""
        engine = self.engine
        while True:
            try:
                yield sleep(self.loop, engine.scenario.period)
            except Cancelled:
                return
            burst = engine.scenario.burst
            ids = engine.next_ids(burst)
            if ids:
                # burst × requests.create_task(request(item)), as one entry of the ready queue.
                self.requests.light += len(ids)
                self.loop.ready.append(_Requests(self, ids.start, ids.stop))
            if len(ids) < burst:
                return

    def request(self, item_id: int):
        """request(): one open arrival, as a task. (Arrivals use _Request, which
        is the same task made only when its put has to wait.)"""
        item = self.engine.produce(item_id, self.queue.qsize())
        if client_retrying(self.engine.scenario):
            yield from self.client_request(item)
        else:
            yield from self.put(item)

    def start_request(self, item_id: int) -> None:
        """requests.create_task(request(item)): its first step runs one hop from now."""
        self.requests.light += 1
        self.loop.ready.append(_Request(self, item_id))

    def put(self, item: Item):
        """put(): the overload policy decides what a put does when the queue is full."""
        if not self.put_would_wait():
            self.put_now(item)
            return
        engine = self.engine
        loop = self.loop
        queue = self.queue
        scenario = engine.scenario
        self.blocked[item] = loop.now
        try:
            if scenario.policy == "timeout":
                yield from timeout(loop, loop.current, scenario.put_timeout, queue.put(item))
            else:
                yield from queue.put(item)
        except TimeoutError:
            engine.record(ev.PUT_TIMEOUT, item.id, None)
            engine.outcome(item, "put-timeout")
            return
        finally:
            del self.blocked[item]
        item.enqueued = loop.now
        engine.record(ev.ENQUEUED, item.id, queue.qsize())

    def put_would_wait(self) -> bool:
        """Whether a put must become a task: it waits for room, or (with client retries) it
        may be refused and come back after a backoff."""
        if not self.queue.full():
            return False
        scenario = self.engine.scenario
        return scenario.policy in WAITING_POLICIES or client_retrying(scenario)

    def client_request(self, item: Item):
        """submit() with client retries: a put that is refused (rejected, or timed out) is
        tried again after a backoff, up to client_retries times; the last refusal is the
        item's outcome. The request stays pending, and held, while it backs off."""
        engine = self.engine
        loop = self.loop
        queue = self.queue
        attempt = 0
        delay = engine.scenario.backoff  # decorrelated jitter grows from the last backoff
        while True:
            scenario = engine.scenario
            if not queue.full():
                self.put_now(item)
                return
            if scenario.policy == "reject":
                failed = "rejected"
            elif scenario.policy == "timeout":
                failed = None
                self.blocked[item] = loop.now
                try:
                    yield from timeout(loop, loop.current, scenario.put_timeout, queue.put(item))
                except TimeoutError:
                    failed = "put-timeout"
                finally:
                    del self.blocked[item]
                if failed is None:
                    item.enqueued = loop.now
                    engine.record(ev.ENQUEUED, item.id, queue.qsize())
                    return
            else:  # the policy changed while it backed off: a plain put now
                yield from self.put(item)
                return
            if attempt >= scenario.client_retries or scenario.producer != "open":
                engine.record(ev.REJECTED if failed == "rejected" else ev.PUT_TIMEOUT, item.id, None)
                engine.outcome(item, failed)
                return
            attempt += 1
            delay = engine.backoff(attempt, delay)
            engine.request_retries += 1
            engine.record(ev.REQUEST_RETRY, item.id, (attempt, delay))
            self.backing_off[item] = loop.now
            try:
                yield sleep(loop, delay)
            finally:
                del self.backing_off[item]

    def put_now(self, item: Item) -> None:
        """A put that does not wait: the queue has room, or the policy never waits.
        (With room, asyncio.timeout would arm and disarm a timer that never fires.)"""
        engine = self.engine
        queue = self.queue
        if queue.full():
            if engine.scenario.policy == "reject":  # put_nowait raised QueueFull
                engine.record(ev.REJECTED, item.id, None)
                engine.outcome(item, "rejected")
                return
            while queue.full():  # drop-oldest
                oldest = queue.get_nowait()
                queue.task_done()
                engine.record(ev.DROPPED, oldest.id, item.id)
                engine.outcome(oldest, "dropped")
        queue.put_nowait(item)
        now = item.enqueued = self.loop.now
        engine.events.append((now, ev.ENQUEUED, item.id, len(queue.items)))

    # Workers ----------------------------------------------------------------------

    def add_workers(self, count: int) -> None:
        """``count`` × create_task(worker()), each on the lowest free slot index, in one pass
        (one at a time rebuilt and sorted the list each: 256 workers took 7 ms in one step)."""
        live = [s for s in self.workers if s.state != "done"]
        taken = {slot.index for slot in live}
        now = self.loop.now
        added = []
        index = 0
        while len(added) < count:
            if index not in taken:
                slot = WorkerSlot(index)
                slot.since = now
                added.append(slot)
            index += 1
        self.workers = sorted(live + added, key=lambda s: s.index)
        for slot in added:  # in index order, as one add at a time would
            slot.task = self.group.create_task(self.worker(slot))

    def worker(self, slot: WorkerSlot):
        """worker(): get an item, hold a permit, call the downstream, task_done."""
        engine = self.engine
        loop = self.loop
        queue = self.queue
        items = queue.items
        index = slot.index
        while not slot.retiring:
            slot.state = "idle"
            slot.item = None
            slot.since = loop.now
            if items:  # get() does not suspend when an item is there
                item = queue.get_nowait()
            else:
                try:
                    item = yield from queue.get()
                except Cancelled:  # retired while idle
                    break
                except QueueShutDown:  # 3.13's shutdown(): shut down and empty, no more work
                    break
            if item is None:
                break
            now = loop.now
            item.got = now
            scenario = engine.scenario
            if scenario.max_age and now - item.arrived > scenario.max_age:
                engine.record(ev.STALE, item.id, index)
                engine.outcome(item, "stale")
                queue.task_done()
                continue
            if self.codel is not None and self.codel.drop(now - item.enqueued, now, len(items)):
                engine.record(ev.CODEL_DROP, item.id, index)
                engine.codel_dropped += 1
                engine.outcome(item, "dropped")
                queue.task_done()
                continue
            slot.item = item
            if retrying(scenario):
                yield from self.attempts(slot, item)
            else:
                self.end_call(slot, item, (yield from self.call(slot, item)))
            queue.task_done()
        engine.record(ev.SHUTDOWN, index, None)
        slot.state = "done"
        slot.item = None
        slot.since = loop.now

    def call(self, slot: WorkerSlot, item: Item, attempt: int = 0):
        """One attempt of worker()'s call: take a permit, then call the downstream (or be
        throttled). Returns None if the call was handled, else why it failed ("throttled",
        "timeout"); the caller logs the outcome and releases the permit."""
        engine = self.engine
        loop = self.loop
        slot.state = "permit"
        slot.since = loop.now
        semaphore = self.semaphore
        granted = semaphore.try_acquire()
        if not granted:
            granted = yield from semaphore.acquire()
        slot.permit = granted
        slot.state = "calling"
        slot.since = slot.granted = loop.now
        if not attempt:
            item.started = loop.now
        scenario = engine.scenario
        engine.attempts += 1
        if scenario.rate_limit and not engine.admit_call():
            return "throttled"
        if scenario.timeout:
            try:
                yield from self.timed_call(slot, item.id, attempt)
            except TimeoutError:
                return "timeout"
            engine.useful_call_seconds += loop.now - slot.since
            return None
        # downstream() without the try/finally: nothing cancels this call
        # (a crash discards the whole service, in_flight included).
        yield self.call_downstream(item.id, attempt)
        self.flight(-1)
        engine.useful_call_seconds += loop.now - slot.since
        return None

    def end_call(self, slot: WorkerSlot, item: Item, failed: str | None) -> None:
        """Without retries: log the call's outcome while the permit is still held, then
        release the permit."""
        engine = self.engine
        if failed is None:
            engine.record(ev.HANDLED, item.id, slot.index)
            engine.completed(item)
        else:
            engine.record(ev.THROTTLED if failed == "throttled" else ev.TIMEOUT, item.id, slot.index)
            engine.outcome(item, failed)
        self.release(slot, failed)

    def release(self, slot: WorkerSlot, failed: str | None) -> None:
        """The permit back (``async with``'s exit): an adaptive limiter learns how the call went."""
        if self.adaptive:
            self.semaphore.release(slot.permit, failed is not None, self.loop.now - slot.granted)
        else:
            self.semaphore.release()

    def attempts(self, slot: WorkerSlot, item: Item):
        """worker()'s retry loop: attempt the call; a failure (timed out, throttled) is
        retried after a backoff, slept without the permit, up to ``retries`` times and
        within the retry budget; the last failure is the item's outcome."""
        engine = self.engine
        loop = self.loop
        index = slot.index
        if engine.scenario.retry_budget:
            engine.budget.first(loop.now)
        attempt = 0
        delay = engine.scenario.backoff  # decorrelated jitter grows from the last backoff
        while True:
            failed = yield from self.call(slot, item, attempt)
            if failed is None:
                engine.record(ev.HANDLED, item.id, index)
                engine.completed(item)
                self.release(slot, None)
                return
            self.release(slot, failed)
            scenario = engine.scenario
            if attempt >= scenario.retries or (
                    scenario.retry_budget and not engine.budget.may_retry(loop.now, scenario.retry_budget)):
                engine.record(ev.THROTTLED if failed == "throttled" else ev.TIMEOUT, item.id, index)
                engine.outcome(item, failed)
                return
            attempt += 1
            delay = engine.backoff(attempt, delay)
            engine.retries += 1
            engine.record(ev.RETRY, item.id, (index, delay))
            slot.state = "backoff"
            slot.since = loop.now
            yield sleep(loop, delay)

    def timed_call(self, slot: WorkerSlot, item_id: int, attempt: int):
        """The call under the call timeout; raises TimeoutError when the caller gives up.

        With abandon=continue the call runs in a task of its own (call_downstream() in the
        program) and the caller awaits it through asyncio.shield: the timeout stops the
        waiting, not the call, which stays in flight to its end."""
        loop = self.loop
        scenario = self.engine.scenario
        if scenario.abandon == "continue":
            call = Task(loop, self.downstream(item_id, attempt))
            self.calls.append(call)
            if len(self.calls) > 64 and len(self.calls) > 4 * self.in_flight:
                self.calls = [c for c in self.calls if not c.state]
            try:
                yield from timeout(loop, slot.task, scenario.timeout, iter(shield(loop, call)))
            except TimeoutError:
                self.abandoned.append(call)
                self.engine.abandoned_calls += 1
                raise
        else:
            yield from timeout(loop, slot.task, scenario.timeout, self.downstream(item_id, attempt))

    def abandoned_now(self) -> int:
        """Calls still in flight whose caller timed out and moved on."""
        self.abandoned = [call for call in self.abandoned if not call.state]
        return len(self.abandoned)

    def downstream(self, item_id: int, attempt: int):
        """downstream(): one call, counted in flight until it ends or is cancelled."""
        try:
            yield self.call_downstream(item_id, attempt)
        finally:
            self.flight(-1)

    def flight(self, change: int) -> None:
        """Count a call into or out of the downstream, integrating the calls in flight over
        time (the downstream's call-seconds, which the theory panel reads)."""
        engine = self.engine
        now = self.loop.now
        engine.call_seconds += self.in_flight * (now - engine.flight_since)
        engine.flight_since = now
        self.in_flight += change

    def call_downstream(self, item_id: int, attempt: int):
        """Start a downstream call: count it in flight, return the sleep it takes.

        Past its capacity the downstream slows down: a call that starts while n
        calls are in flight (itself included) takes ``service x max(1, n / capacity)``,
        and with contention c, ``x (1 + c (n - capacity))`` more when n > capacity, so
        that n calls kept in flight complete ``capacity / (service (1 + c (n - capacity)))``
        per second: past capacity, throughput falls."""
        engine = self.engine
        scenario = engine.scenario
        self.flight(+1)
        dist = scenario.service_dist
        duration = (scenario.service_time if dist == "constant" else
                    draws.service_time(draws.luck(scenario.seed, item_id, attempt), dist, scenario.service_time))
        capacity = scenario.capacity
        if capacity:
            n = self.in_flight
            duration = duration * max(1, n / capacity)
            if scenario.contention and n > capacity:
                duration *= 1 + scenario.contention * (n - capacity)
        if engine.hiccup_until > self.loop.now:
            duration *= engine.hiccup_factor
        return sleep(self.loop, duration)

    # Live changes -------------------------------------------------------------------

    def apply(self, old: Scenario, new: Scenario) -> None:
        """Give running tasks a changed scenario the way asyncio would."""
        if new.queue != old.queue:
            self.queue.resize(new.queue)
        self.queue.order, self.queue.forming = new.discipline, new.codel_interval
        if new.codel == "off":
            self.codel = None
        elif self.codel is None:  # turned on: it starts as the RFC's does, with no history
            self.codel = CoDel(new.codel_target, new.codel_interval)
        else:
            self.codel.target, self.codel.interval = new.codel_target, new.codel_interval
        if self.adaptive:
            limiter = self.semaphore
            tune(limiter, new)
            # A new starting limit starts it again there; new bounds keep what it learned, clamped.
            if new.limit != old.limit:
                limiter.low, limiter.high = new.limit_min, new.limit_max
                limiter.set_limit(new.limit)
            else:
                limiter.set_bounds(new.limit_min, new.limit_max)
        elif new.limit != old.limit:
            self.semaphore.set_limit(new.limit or None)
        if new.workers != old.workers and not self.shutting_down:
            live = [w for w in self.workers if not w.retiring and w.state != "done"]
            self.add_workers(max(0, new.workers - len(live)))
            for slot in sorted(live, key=lambda s: s.index)[new.workers:]:
                slot.retiring = True
                if slot.state == "idle":
                    slot.task.cancel()
        if self.engine.draining:
            return
        if new.producer != old.producer:
            if new.producer == "closed":
                self._stop_arrivals()
                for _ in range(new.producers):
                    self.add_producer()
            else:
                for slot in self.producers:
                    self._retire_producer(slot)
                self.arrivals_task = self.group.create_task(self.arrivals())
        elif new.producer == "closed" and new.producers != old.producers:
            live = [p for p in self.producers if not p.retiring and p.state != "done"]
            for _ in range(new.producers - len(live)):
                self.add_producer()
            for slot in sorted(live, key=lambda s: s.index)[new.producers:]:
                self._retire_producer(slot)
        if new.producer == "open" and new.arrivals != old.arrivals and self.arrivals_task is not None:
            if new.arrivals == "bursts" and (self.bursts_task is None or self.bursts_task.done()):
                if not self.arrivals_task.done():
                    self.bursts_task = self.requests.create_task(self.bursts())
            elif new.arrivals != "bursts" and self.bursts_task is not None:
                self.bursts_task.cancel()

    def _retire_producer(self, slot: ProducerSlot) -> None:
        slot.retiring = True
        if slot.state == "pausing":
            slot.task.cancel()

    def _stop_arrivals(self) -> None:
        """Stop producing: pausing producers stop now; blocked ones finish their put."""
        for slot in self.producers:
            if slot.state == "pausing":
                slot.task.cancel()
        # Only a pausing arrivals loop is cancelled; one already waiting for its
        # requests to finish must not be (main awaits it, and would die with it).
        if self.arrivals_task is not None and self.arrivals_pausing:
            self.arrivals_task.cancel()
        if self.bursts_task is not None and not self.bursts_task.done():
            self.bursts_task.cancel()

    def held_items(self):
        """Every item the service holds: queued, with workers, waiting to be put."""
        yield from (item for item in self.queue.items if item is not None)
        yield from (slot.item for slot in self.workers if slot.item is not None)
        yield from self.blocked
        yield from self.backing_off

    def all_tasks(self):
        yield self.main
        yield from self.group.tasks
        yield from self.requests.tasks
        yield from (call for call in self.calls if not call.state)


class Engine:
    """A run of one scenario on virtual time: ``advance(t)``, controls, snapshots.

    Deterministic: the scenario (with its seed) and the log of controls, each
    stamped with the sim time it was applied at, give the same run, event for
    event. ``control_log`` holds that log.
    """

    def __init__(self, scenario: Scenario, *, window: float = 0.5, keep_windows: int = 240,
                 event_cap: int | None = 10_000):
        self.window = window
        self.keep_windows = keep_windows
        self.event_cap = event_cap
        self._start(scenario)

    def _start(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.initial = scenario  # the scenario at time 0, for replay
        self.loop = Loop()
        self.arrival_random = draws.arrival_stream(scenario.seed)
        self.retry_random = world.retry_stream(scenario.seed)
        # The downstream's rate limit and the client's retry budget outlive a crash of the
        # service (the program keeps them at module level, outside serve()).
        self.bucket = world.TokenBucket(world.bucket_depth(scenario.rate_limit, scenario.rate_burst))
        self.budget = world.RetryBudget()
        self.attempts = 0  # downstream calls attempted, throttled ones included
        # A hiccup (a control): calls that start before hiccup_until take hiccup_factor times longer.
        self.hiccup_until = float("-inf")
        self.hiccup_factor = 1.0
        self.retries = 0  # retries slept for
        self.request_retries = 0  # open requests sent again after a refused put
        self.codel_dropped = 0  # of the dropped items, the ones CoDel dropped (the rest: drop-oldest)
        self.abandoned_calls = 0  # calls left running in the downstream after a timeout
        # The downstream's work: calls in flight integrated over time (up to flight_since), and
        # the part of it spent on calls that completed an item (the rest timed out or was abandoned).
        self.call_seconds = 0.0
        self.flight_since = 0.0
        self.useful_call_seconds = 0.0
        self.events: deque = deque(maxlen=self.event_cap)
        self.events_overflowed = False  # the last read found the ring full
        self.metrics = Metrics(self.window, self.keep_windows)
        self._unread_windows = 0
        self._halt_when_finished = False
        self.issued = 0  # item ids handed out
        self.draining = False
        self.finished = False
        self.ended_at: float | None = None  # sim time of the run's last event, once finished
        self.crashes = 0
        self.failure: str | None = None  # what main() raised, if it did (the printed handbook)
        self.restart_at = None  # while crashed: when the service comes back
        self.control_log: list[tuple[float, dict]] = []
        # Controls still to come (a link's do=): each is applied when the run reaches its time,
        # and moves to control_log; one refused then is skipped, with why, in `skipped`.
        self.script: deque[tuple[float, dict]] = deque()
        self.skipped: list[tuple[float, dict, str]] = []
        self.admit = None  # (engine, control) -> None or raise ScenarioError: the sandbox's say
        # Callbacks run under a work budget so far: what replaying this run would cost.
        self.work = 0
        self._update_id_limit()
        self.service = Service(self)

    # Time -----------------------------------------------------------------------

    @property
    def now(self) -> float:
        return self.loop.now

    def play(self, log) -> None:
        """Apply these (time, control) pairs as the run reaches their times (in order, from now)."""
        self.script = deque(log)

    def advance(self, to_time: float, max_callbacks: float = float("inf")) -> bool:
        """Run every event up to and including ``to_time``; the clock ends there.

        With ``max_callbacks`` (a work budget) it may stop earlier, even inside
        an instant; it returns whether it reached ``to_time``. Where it stops
        changes nothing about the run: the next advance carries on. Scripted
        controls due by ``to_time`` are applied on the way, each on a settled
        instant, as a control sent at that time is."""
        script = self.script
        while script and script[0][0] <= to_time:
            at = max(script[0][0], self.loop.now)
            spent = self.work
            if not self._advance(at, max_callbacks) or not self.loop.settled:
                return False
            max_callbacks -= self.work - spent
            self._apply_scripted(*script.popleft())
        return self._advance(to_time, max_callbacks)

    def _apply_scripted(self, at: float, control: dict) -> None:
        try:
            if self.admit is not None:
                self.admit(self, control)
            self.apply(control)
        except ScenarioError as error:
            self.skipped.append((at, control, str(error)))

    def _advance(self, to_time: float, max_callbacks: float = float("inf")) -> bool:
        if to_time < self.loop.now:
            raise ValueError(f"cannot go back in time from {self.loop.now} to {to_time}")
        reached = self.loop.run_until(to_time, max_callbacks)
        if max_callbacks != float("inf"):
            self.work += self.loop.spent
        if reached or self.loop.settled:  # windows close on a complete instant only
            self._close_windows(self.loop.now)
        return reached

    @property
    def settled(self) -> bool:
        """Nothing is left to run at this instant: a control may act now."""
        return self.loop.settled

    def next_event_time(self) -> float | None:
        return self.loop.next_deadline()

    def run(self, until: float | None = None, max_callbacks: float = float("inf")) -> bool:
        """Run to sim time ``until``, or to the end of a finite run (whichever first).

        With ``max_callbacks`` (a work budget, as in ``advance``) it may stop earlier and
        return False; calling it again carries on. Returns True otherwise."""
        loop = self.loop
        if until is None and not self.scenario.items and not self.draining and not any(
                control.get("action") == "drain" for _, control in self.script):
            raise ValueError("an endless run needs an end time: run(until=...)")
        while self.script and not self.finished and (until is None or self.script[0][0] <= until):
            at = max(self.script[0][0], loop.now)
            if not self._run(at, max_callbacks) or not loop.settled:
                return False
            if not self.finished:
                self._apply_scripted(*self.script.popleft())
        return self._run(until, max_callbacks)

    def _run(self, until: float | None, max_callbacks: float) -> bool:
        loop = self.loop
        if not self.finished:
            self._halt_when_finished = True
            try:
                reached = loop.run_until(float("inf") if until is None else until, max_callbacks)
            finally:
                self._halt_when_finished = False
                loop.halt = False
            if not reached and not self.finished:  # out of budget (halt only comes with finished)
                if loop.settled:
                    self._close_windows(loop.now)
                return False
        self._close_windows(loop.now)
        if until is not None and until > loop.now:
            self._advance(until)
        return True

    # Called by the service ----------------------------------------------------------

    def next_id(self) -> int | None:
        """The next item id, or None once producing is over (items reached, or drain)."""
        item_id = self.issued
        if item_id >= self._id_limit:
            return None
        self.issued = item_id + 1
        return item_id

    def next_ids(self, n: int) -> range:
        """next_id() ``n`` times at once: the ids issued, fewer than ``n`` once producing is over."""
        first = self.issued
        self.issued = first + int(max(0, min(n, self._id_limit - first)))
        return range(first, self.issued)

    def _update_id_limit(self) -> None:
        """Recompute what produce() reads per item from the scenario and the drain flag."""
        scenario = self.scenario
        self._id_limit = -1 if self.draining else (scenario.items or float("inf"))
        # A full queue refuses an arrival at once (put_nowait, nobody retries it).
        self._full_refuses = scenario.policy == "reject" and not client_retrying(scenario)

    def produce(self, item_id: int, qsize: int) -> Item:
        """An item arrives: log it, count it in memory; past the limit, crash."""
        now = self.loop.now
        item = Item(item_id, now)
        self.events.append((now, ev.PRODUCE, item_id, qsize))
        metrics = self.metrics
        if now >= metrics._end:
            self._close_windows(now)
        if self._full_refuses and self.service.queue.full():
            # put_nowait will raise QueueFull right away: a refused request never held memory.
            metrics.refused_arrival(now)
            return item
        metrics.arrival(now)
        memory = self.scenario.memory
        if memory and metrics.in_system > memory:
            self._crash()
        return item

    def backoff(self, attempt: int, previous: float) -> float:
        """Seconds before retry number ``attempt`` (workers' and clients' alike: one stream)."""
        scenario = self.scenario
        return world.backoff(self.retry_random, scenario.jitter, scenario.backoff, scenario.backoff_cap,
                             attempt, previous)

    def admit_call(self) -> bool:
        """The downstream's rate limit: a token for a call starting now, or a refusal."""
        scenario = self.scenario
        return self.bucket.take(self.loop.now, scenario.rate_limit,
                                world.bucket_depth(scenario.rate_limit, scenario.rate_burst))

    def outcome(self, item: Item, reason: str) -> None:
        now = self.loop.now
        metrics = self.metrics
        if now >= metrics._end:
            self._close_windows(now)
        metrics.outcome(now, item, reason)

    def completed(self, item: Item) -> None:
        """outcome(item, "completed"), the common case, made cheap."""
        now = self.loop.now
        metrics = self.metrics
        if now >= metrics._end:
            self._close_windows(now)
        metrics.completed(now, item)

    def record(self, kind: str, a, b) -> None:
        """Add an event to the trace (a ring: unread old events fall off)."""
        self.events.append((self.loop.now, kind, a, b))

    def _finish(self) -> None:
        self.finished = True
        self.ended_at = self.loop.now  # a frame's clock may pass it; the run's figures stop here
        if self._halt_when_finished:
            self.loop.halt = True  # run() ends with this instant

    def fail(self, error: str) -> None:
        """main() raised ``error``: the program is over, as if asyncio.run() had raised it."""
        self.failure = error
        self.record(ev.FAILED, error, None)
        self._finish()

    def _crash(self) -> None:
        """Out of memory: the service dies at once with everything it held."""
        loop = self.loop
        now = loop.now
        lost = self.metrics.in_system
        self.metrics.lose_all(now, lost, sum(now - item.arrived for item in self.service.held_items()))
        self.crashes += 1
        self.record(ev.CRASH, lost, None)
        # Tear the service down: no task of it may run or schedule anything again.
        real_queues = loop.detach()
        for task in list(self.service.all_tasks()):
            if not task.gen.gi_running:  # the crashing task unwinds by itself
                task.gen.close()
        self.restart_at = now + self.scenario.restart

        def after_unwinding():
            loop.attach(real_queues)
            loop.call_at(self.restart_at, self._restart)

        raise Killed(after_unwinding)

    def _restart(self) -> None:
        self.restart_at = None
        self.record(ev.RESTART, None, None)
        self.service = Service(self)

    def _close_windows(self, now: float) -> None:
        if now >= self.metrics._end:
            if self.restart_at is not None:
                # Down after a crash: the dead service's queue and calls are gone with it (its
                # objects still hold their last counts; what the service holds now is nothing).
                queue = in_flight = 0
                limit = None
            else:
                service = self.service
                queue, in_flight = service.queue.qsize(), service.in_flight
                limit = service.moving_limit
            closed = self.metrics.close_until(now, queue, in_flight, limit)
            self._unread_windows += len(closed)

    # Controls ----------------------------------------------------------------------------

    def check(self, control: dict) -> Scenario | None:
        """Raise ScenarioError if ``control`` would be refused now; change nothing.

        Returns the scenario a ``set`` would make (None for actions). ``apply``
        runs this first, so a refused control leaves the run exactly as it was,
        and a caller can check several controls before applying any."""
        if not isinstance(control, dict):
            raise ScenarioError("a control must be a JSON object.", None, control)
        if "set" in control:
            changes = control["set"]
            if not isinstance(changes, dict) or not changes:
                raise ScenarioError("set must be an object of parameters to change.", "set", changes)
            if "seed" in changes:
                raise ScenarioError("seed cannot change while running; reset with a new link instead.",
                                    "seed", changes["seed"])
            if "join" in changes:
                raise ScenarioError("join cannot change while running: main() joins the queue once; "
                                    "open a link with the new value instead.", "join", changes["join"])
            if "limiter" in changes:
                raise ScenarioError("limiter cannot change while running: serve() makes its semaphore or "
                                    "limiter once; open a link with the new value instead.", "limiter",
                                    changes["limiter"])
            if "preset" in changes:
                raise ScenarioError("preset cannot change while running; open its link instead.",
                                    "preset", changes["preset"])
            try:
                return self.scenario.replace(**changes)
            except ScenarioError as error:
                raise as_changed(error, changes) from None
        action = control.get("action")
        if action == "burst":
            n = control.get("n", 10)
            if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 10_000:
                raise ScenarioError(f"n must be an integer from 1 to 10000; got {shown(n)}.", "n", n)
            if self.draining or self.finished:
                raise ScenarioError("the run is draining or finished: no more arrivals. Reset to start "
                                    "again.", "action", "burst")
            if self.restart_at is not None:
                raise ScenarioError("the service is down after running out of memory; burst once it "
                                    "restarts.", "action", "burst")
        elif action == "hiccup":
            check_hiccup(control.get("factor"), control.get("seconds"))
        elif action not in ("drain", "reset"):
            raise ScenarioError(
                f"unknown control {shown(control)}; use set, or action burst, hiccup, drain or reset.",
                "action", action)
        return None

    def apply(self, control: dict) -> Scenario:
        """Apply one control now and log it. Raises ScenarioError (and changes
        nothing) if it is invalid. Controls: ``{"set": {key: value}}``,
        ``{"action": "burst", "n": N}``, ``{"action": "drain"}``,
        ``{"action": "hiccup", "factor": F, "seconds": S}`` (calls that start in the next S
        seconds take F times longer),
        ``{"action": "reset"}``."""
        # Settle the present first: what is due now runs before the control, as
        # it does when a logged control is replayed after advance(at).
        self._advance(self.loop.now)
        new = self.check(control)
        if new is not None:
            old = self.scenario
            self.scenario = new
            self._update_id_limit()
            if self.restart_at is None:
                self.service.apply(old, new)
        elif control["action"] == "burst":
            self._burst(control.get("n", 10))
        elif control["action"] == "drain":
            self._drain()
        elif control["action"] == "hiccup":
            # The downstream stalls for a while (a GC pause, a failover, a noisy neighbour).
            self.hiccup_factor = float(control["factor"])
            self.hiccup_until = self.loop.now + float(control["seconds"])
        else:  # reset
            self._start(self.scenario)
            return self.scenario
        self.control_log.append((self.loop.now, control))
        return self.scenario

    def _burst(self, n: int) -> None:
        service = self.service
        for _ in range(n):
            item_id = self.next_id()
            if item_id is None:
                break
            service.start_request(item_id)

    def _drain(self) -> None:
        if self.draining:
            return
        self.draining = True
        self._update_id_limit()
        if self.restart_at is None:
            self.service._stop_arrivals()

    @classmethod
    def replay(cls, scenario: Scenario, control_log, until: float, **options) -> "Engine":
        """Rebuild a run from its first scenario and control log, up to ``until``."""
        engine = cls(scenario, **options)
        engine.play(control_log)
        engine.advance(until)
        return engine

    # Reading -------------------------------------------------------------------------------

    def read_events(self) -> list[tuple]:
        """Events since the last read: ``(time, kind, a, b)`` tuples (see trace).
        If the ring is full, older unread events have fallen off (see
        ``events_overflowed``)."""
        events = list(self.events)
        self.events_overflowed = len(events) == self.event_cap
        self.events.clear()
        return events

    def read_windows(self) -> list:
        """Metrics windows closed since the last read."""
        n = min(self._unread_windows, len(self.metrics.windows))
        self._unread_windows = 0
        return list(self.metrics.windows)[-n:] if n else []

    def busy_call_seconds(self) -> float:
        """The downstream's call-seconds so far: calls in flight integrated over sim time."""
        open_calls = self.service.in_flight if self.restart_at is None else 0
        return self.call_seconds + open_calls * (self.loop.now - self.flight_since)

    def totals(self) -> dict:
        m = self.metrics
        o = m.outcomes
        return {
            "arrived": m.arrived,
            "completed": o["completed"],
            "rejected": o["rejected"],
            "dropped": o["dropped"],
            "put_timeouts": o["put-timeout"],
            "stale": o["stale"],
            "timeouts": o["timeout"],
            "throttled": o["throttled"],
            "lost": o["lost"],
            "in_system": m.in_system,
            # Attempts, counted apart from items: calls tried (throttled ones included), retries
            # of calls and of refused requests, calls abandoned in the downstream, calls in it now.
            "attempts": self.attempts,
            "retries": self.retries,
            "request_retries": self.request_retries,
            "abandoned_calls": self.abandoned_calls,
            "downstream_in_flight": self.service.in_flight if self.restart_at is None else 0,
            "task_errors": len(self.service.errors),  # tasks ended by an exception
            "codel_dropped": self.codel_dropped,  # of "dropped", the items CoDel dropped
        }

    def summary(self) -> dict:
        """The run so far, as the CLI's ``--json`` prints it."""
        m = self.metrics
        # A finished run's figures are taken at its last event, as `run` stops there, however far
        # past it a session's clock has moved since.
        now = self.ended_at if self.finished else self.loop.now
        completed = m.outcomes["completed"]
        latency_sum, latency = m.totals_now()
        summary = self.totals()
        summary.update({
            "throughput": completed / now if now > 0 else 0.0,
            "latency_mean": latency_sum / completed if completed else None,
            "latency_p50": latency.quantile(0.50),
            "latency_p95": latency.quantile(0.95),
            "latency_p99": latency.quantile(0.99),
            "mean_in_system": m.mean_in_system(now),
            "mean_time_in_system": m.sojourn_now() / m.left if m.left else None,
            "arrival_rate": m.arrived / now if now > 0 else 0.0,
            "peak_in_system": m.in_system_peak,
            "crashes": self.crashes,
            "sim_time": now,
            "finished": self.finished,
        })
        return summary

    def snapshot(self) -> dict:
        """What the page needs to draw this moment."""
        service = self.service
        now = self.loop.now
        scenario = self.scenario
        queue = service.queue
        down = self.restart_at is not None
        items = queue.items if not down else ()  # a crashed service holds nothing
        shown = [item for _, item in zip(range(QUEUE_DISPLAY_CAP), items) if item is not None]
        blocked = list(service.blocked.items()) if not down else []
        return {
            "now": now,
            "finished": self.finished,
            "failure": self.failure,
            "draining": self.draining,
            "down_until": self.restart_at,
            "producers": [
                {"index": p.index, "state": p.state, "since": p.since,
                 "item": p.item.id if p.item is not None else None}
                for p in service.producers if p.state != "done"
            ] if not down else [],
            "blocked": {
                "count": len(blocked),
                "oldest_since": min((since for _, since in blocked), default=None),
                "items": [[item.id, since] for item, since in blocked[:BLOCKED_DISPLAY_CAP]],
            },
            "queue": {
                "maxsize": queue.maxsize,
                "size": len(items),
                "items": [[item.id, now - item.arrived] for item in shown],
                "more": max(0, len(items) - len(shown)),
                "oldest_age": (now - items[0].arrived) if items and items[0] is not None else None,
                "putters": len(queue.putters) if not down else 0,
                "getters": len(queue.getters) if not down else 0,
            },
            "workers": [
                {"index": w.index, "state": w.state, "since": w.since,
                 "item": w.item.id if w.item is not None else None, "retiring": w.retiring}
                for w in service.workers if w.state != "done"
            ] if not down else [],
            "semaphore": {
                # An aimd limiter's limit now (it moves); a fixed semaphore's is the scenario's.
                "limit": scenario.limit if down or service.moving_limit is None else service.moving_limit,
                "held": service.semaphore.holders if not down else 0,
                "waiting": sum(1 for w in service.workers if w.state == "permit") if not down else 0,
            },
            "downstream": {
                "in_flight": service.in_flight if not down else 0,
                "capacity": scenario.capacity,
                "slowdown": slowdown(scenario, service.in_flight),
            },
            "memory": {"held": self.metrics.in_system, "limit": scenario.memory,
                       "peak": self.metrics.in_system_peak, "crashes": self.crashes},
            "totals": self.totals(),
        }
