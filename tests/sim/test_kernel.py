"""The kernel (playground.sim.kernel) against real asyncio.

Each scenario is written twice, side by side: once with real asyncio, run on
the virtual-clock loop of ``tests/virtual_clock.py``, and once with the kernel
(generators, ``yield from``). Both record ``(time, event)`` lists, which must be
equal. Each test also pins a few facts of the expected order by hand, so that a
change breaking both sides the same way (impossible for asyncio) or a scenario
that accidentally exercises nothing is noticed.

``Queue.resize`` and ``Semaphore.set_limit`` have no asyncio counterpart; their
tests assert the behaviour their docstrings promise.
"""

import asyncio

import pytest
from virtual_clock import run

from playground.sim import kernel as k

CANCELLED = (asyncio.CancelledError, k.Cancelled)


def arun(main, until=None):
    """Run ``main()`` (an async function returning nothing) on the virtual clock; return its log."""
    log = []

    async def wrapper():
        loop = asyncio.get_running_loop()
        await main(log, loop.time)

    run(wrapper(), until=until)
    return log


def krun(main, until=100.0):
    """Run ``main(loop, log)`` (a generator) as a kernel task up to ``until``; return its log."""
    loop = k.Loop()
    log = []
    task = k.Task(loop, main(loop, log))
    loop.run_until(until)
    assert task.done(), "kernel main did not finish"
    return log


# ---------------------------------------------------------------- Queue


def test_queue_fifo_with_waiting_putters_and_getters():
    async def a_main(log, now):
        q = asyncio.Queue(maxsize=2)

        async def getter(name, pause):
            for _ in range(3):
                item = await q.get()
                log.append((now(), f"{name} got {item}"))
                await asyncio.sleep(pause)

        async def putter(name, n):
            for i in range(n):
                await q.put(f"{name}{i}")
                log.append((now(), f"{name} put {name}{i}"))

        tasks = [asyncio.create_task(getter(f"g{i}", 0.1 * (i + 1))) for i in range(3)]
        await asyncio.sleep(0.05)  # all three getters wait on an empty queue
        tasks += [asyncio.create_task(putter(p, 3)) for p in "abc"]
        await asyncio.gather(*tasks)
        log.append((now(), f"end qsize {q.qsize()}"))

    def k_main(loop, log):
        q = k.Queue(loop, 2)

        def getter(name, pause):
            for _ in range(3):
                item = yield from q.get()
                log.append((loop.now, f"{name} got {item}"))
                yield from k.sleep(loop, pause)

        def putter(name, n):
            for i in range(n):
                yield from q.put(f"{name}{i}")
                log.append((loop.now, f"{name} put {name}{i}"))

        tasks = [k.Task(loop, getter(f"g{i}", 0.1 * (i + 1))) for i in range(3)]
        yield from k.sleep(loop, 0.05)
        tasks += [k.Task(loop, putter(p, 3)) for p in "abc"]
        for task in tasks:
            yield from task
        log.append((loop.now, f"end qsize {q.qsize()}"))

    expected = arun(a_main)
    got = krun(k_main)
    assert got == expected
    # Waiting getters are served in the order they started waiting.
    assert [e for _, e in expected if " got " in e][:3] == ["g0 got a0", "g1 got a1", "g2 got a2"]
    # Waiting putters complete in the order they started waiting.
    assert [e.split()[-1] for _, e in expected if " put " in e] == [
        "a0", "a1", "a2", "b0", "c0", "b1", "c1", "c2", "b2"]
    assert expected[-1][1] == "end qsize 0"


def test_woken_putter_finds_queue_full_again_after_a_barging_put():
    async def a_main(log, now):
        q = asyncio.Queue(maxsize=1)
        q.put_nowait("x")

        async def putter(item):
            await q.put(item)
            log.append((now(), f"put {item}"))

        async def consumer():
            await asyncio.sleep(1)
            log.append((now(), f"get {q.get_nowait()}"))  # wakes the putter of a
            await q.put("barge")  # does not wait: the queue has room right now
            log.append((now(), "put barge"))
            for _ in range(3):
                await asyncio.sleep(1)
                log.append((now(), f"get {await q.get()}"))

        tasks = [asyncio.create_task(putter("a")), asyncio.create_task(putter("b")),
                 asyncio.create_task(consumer())]
        await asyncio.gather(*tasks)

    def k_main(loop, log):
        q = k.Queue(loop, 1)
        q.put_nowait("x")

        def putter(item):
            yield from q.put(item)
            log.append((loop.now, f"put {item}"))

        def consumer():
            yield from k.sleep(loop, 1)
            log.append((loop.now, f"get {q.get_nowait()}"))
            yield from q.put("barge")
            log.append((loop.now, "put barge"))
            for _ in range(3):
                yield from k.sleep(loop, 1)
                log.append((loop.now, f"get {(yield from q.get())}"))

        tasks = [k.Task(loop, putter("a")), k.Task(loop, putter("b")), k.Task(loop, consumer())]
        for task in tasks:
            yield from task

    expected = arun(a_main)
    assert krun(k_main) == expected
    # a was woken first but lost its slot to the barging put and queued again, behind b.
    assert expected == [
        (1.0, "get x"), (1.0, "put barge"),
        (2.0, "get barge"), (2.0, "put b"),
        (3.0, "get b"), (3.0, "put a"),
        (4.0, "get a"),
    ]


def test_cancelling_a_woken_getter_passes_the_wakeup_to_the_next_getter():
    async def a_main(log, now):
        q = asyncio.Queue()

        async def getter(name):
            try:
                item = await q.get()
            except asyncio.CancelledError:
                log.append((now(), f"{name} cancelled, qsize {q.qsize()}"))
                raise
            log.append((now(), f"{name} got {item}"))

        g1 = asyncio.create_task(getter("g1"))
        g2 = asyncio.create_task(getter("g2"))
        await asyncio.sleep(1)
        q.put_nowait("item")  # wakes g1 ...
        g1.cancel()  # ... which is cancelled before it runs
        results = await asyncio.gather(g1, g2, return_exceptions=True)
        log.append((now(), f"g1 cancelled: {isinstance(results[0], asyncio.CancelledError)}"))

    def k_main(loop, log):
        q = k.Queue(loop, 0)

        def getter(name):
            try:
                item = yield from q.get()
            except k.Cancelled:
                log.append((loop.now, f"{name} cancelled, qsize {q.qsize()}"))
                raise
            log.append((loop.now, f"{name} got {item}"))

        g1 = k.Task(loop, getter("g1"))
        g2 = k.Task(loop, getter("g2"))
        yield from k.sleep(loop, 1)
        q.put_nowait("item")
        g1.cancel()
        for task in (g1, g2):
            try:
                yield from task
            except k.Cancelled:
                pass
        log.append((loop.now, f"g1 cancelled: {g1.cancelled()}"))

    expected = arun(a_main)
    assert krun(k_main) == expected
    assert expected == [(1.0, "g1 cancelled, qsize 1"), (1.0, "g2 got item"), (1.0, "g1 cancelled: True")]


def test_cancelling_a_woken_putter_passes_the_wakeup_to_the_next_putter():
    async def a_main(log, now):
        q = asyncio.Queue(maxsize=1)
        q.put_nowait("x")

        async def putter(name):
            try:
                await q.put(name)
            except asyncio.CancelledError:
                log.append((now(), f"{name} cancelled"))
                raise
            log.append((now(), f"{name} put"))

        p1 = asyncio.create_task(putter("p1"))
        p2 = asyncio.create_task(putter("p2"))
        await asyncio.sleep(1)
        q.get_nowait()
        p1.cancel()
        await asyncio.gather(p1, p2, return_exceptions=True)
        log.append((now(), f"queue {list(q._queue)}"))

    def k_main(loop, log):
        q = k.Queue(loop, 1)
        q.put_nowait("x")

        def putter(name):
            try:
                yield from q.put(name)
            except k.Cancelled:
                log.append((loop.now, f"{name} cancelled"))
                raise
            log.append((loop.now, f"{name} put"))

        p1 = k.Task(loop, putter("p1"))
        p2 = k.Task(loop, putter("p2"))
        yield from k.sleep(loop, 1)
        q.get_nowait()
        p1.cancel()
        for task in (p1, p2):
            try:
                yield from task
            except k.Cancelled:
                pass
        log.append((loop.now, f"queue {list(q.items)}"))

    expected = arun(a_main)
    assert krun(k_main) == expected
    assert expected == [(1.0, "p1 cancelled"), (1.0, "p2 put"), (1.0, "queue ['p2']")]


def test_join_and_task_done_and_event_wake_in_order():
    async def a_main(log, now):
        q = asyncio.Queue(maxsize=2)
        ev = asyncio.Event()

        async def worker(name):
            while True:
                item = await q.get()
                if item is None:
                    q.task_done()
                    log.append((now(), f"{name} stop"))
                    return
                await asyncio.sleep(0.25 if name == "w0" else 0.4)
                log.append((now(), f"{name} done {item}"))
                q.task_done()

        async def waiter(name):
            await ev.wait()
            log.append((now(), f"{name} saw event"))

        waiters = [asyncio.create_task(waiter(f"e{i}")) for i in range(3)]
        workers = [asyncio.create_task(worker(f"w{i}")) for i in range(2)]
        for i in range(5):
            await q.put(i)
            log.append((now(), f"put {i}"))
        await q.join()
        log.append((now(), "joined"))
        ev.set()
        log.append((now(), "set"))
        await q.join()  # nothing unfinished: returns without waiting
        log.append((now(), "joined again"))
        for _ in workers:
            await q.put(None)
        await asyncio.gather(*workers, *waiters)
        log.append((now(), "end"))

    def k_main(loop, log):
        q = k.Queue(loop, 2)
        ev = k.Event(loop)

        def worker(name):
            while True:
                item = yield from q.get()
                if item is None:
                    q.task_done()
                    log.append((loop.now, f"{name} stop"))
                    return
                yield from k.sleep(loop, 0.25 if name == "w0" else 0.4)
                log.append((loop.now, f"{name} done {item}"))
                q.task_done()

        def waiter(name):
            yield from ev.wait()
            log.append((loop.now, f"{name} saw event"))

        waiters = [k.Task(loop, waiter(f"e{i}")) for i in range(3)]
        workers = [k.Task(loop, worker(f"w{i}")) for i in range(2)]
        for i in range(5):
            yield from q.put(i)
            log.append((loop.now, f"put {i}"))
        yield from q.join()
        log.append((loop.now, "joined"))
        ev.set()
        log.append((loop.now, "set"))
        yield from q.join()
        log.append((loop.now, "joined again"))
        for _ in workers:
            yield from q.put(None)
        for task in workers + waiters:
            yield from task
        log.append((loop.now, "end"))

    expected = arun(a_main)
    assert krun(k_main) == expected
    events = [e for _, e in expected]
    assert events.index("joined") > max(i for i, e in enumerate(events) if " done " in e)
    assert events[events.index("joined again") + 1:events.index("joined again") + 4] == [
        "e0 saw event", "e1 saw event", "e2 saw event"]


# ---------------------------------------------------------------- Semaphore


def test_semaphore_fifo_and_fairness_against_a_newcomer():
    """A released permit goes to the first waiter even if a newcomer calls
    acquire() before the woken waiter has run (asyncio >= 3.11.? fairness)."""

    async def a_main(log, now):
        sem = asyncio.Semaphore(1)

        async def user(name, hold, start=0.0):
            if start:
                await asyncio.sleep(start)
            log.append((now(), f"{name} wants"))
            await sem.acquire()
            log.append((now(), f"{name} got"))
            await asyncio.sleep(hold)
            sem.release()
            log.append((now(), f"{name} released"))

        async def first():
            await sem.acquire()
            log.append((now(), "t1 got"))
            await asyncio.sleep(1)
            sem.release()  # wakes t2, who has not run yet ...
            log.append((now(), "t1 released"))
            await sem.acquire()  # ... so this newcomer must wait behind t2 and t3
            log.append((now(), "t1 got again"))
            sem.release()

        tasks = [asyncio.create_task(first()), asyncio.create_task(user("t2", 0.5)),
                 asyncio.create_task(user("t3", 0.5)), asyncio.create_task(user("t4", 0.2, start=1.2))]
        await asyncio.gather(*tasks)
        log.append((now(), f"end locked={sem.locked()}"))

    def k_main(loop, log):
        sem = k.Semaphore(loop, 1)

        def user(name, hold, start=0.0):
            if start:
                yield from k.sleep(loop, start)
            log.append((loop.now, f"{name} wants"))
            yield from sem.acquire()
            log.append((loop.now, f"{name} got"))
            yield from k.sleep(loop, hold)
            sem.release()
            log.append((loop.now, f"{name} released"))

        def first():
            yield from sem.acquire()
            log.append((loop.now, "t1 got"))
            yield from k.sleep(loop, 1)
            sem.release()
            log.append((loop.now, "t1 released"))
            yield from sem.acquire()
            log.append((loop.now, "t1 got again"))
            sem.release()

        tasks = [k.Task(loop, first()), k.Task(loop, user("t2", 0.5)),
                 k.Task(loop, user("t3", 0.5)), k.Task(loop, user("t4", 0.2, start=1.2))]
        for task in tasks:
            yield from task
        log.append((loop.now, f"end locked={sem.locked()}"))

    expected = arun(a_main)
    assert krun(k_main) == expected
    got_order = [e.split()[0] for _, e in expected if e.endswith(" got") or e.endswith("got again")]
    assert got_order == ["t1", "t2", "t3", "t1", "t4"]
    assert expected[-1] == (2.2, "end locked=False")
    assert (2.0, "t1 got again") in expected


def test_semaphore_cancelled_woken_waiter_passes_its_permit_on():
    async def a_main(log, now):
        sem = asyncio.Semaphore(1)
        await sem.acquire()

        async def user(name):
            try:
                await sem.acquire()
            except asyncio.CancelledError:
                log.append((now(), f"{name} cancelled"))
                raise
            log.append((now(), f"{name} got"))
            sem.release()

        a = asyncio.create_task(user("a"))
        b = asyncio.create_task(user("b"))
        await asyncio.sleep(1)
        sem.release()  # wakes a
        a.cancel()  # a never runs with the permit: b must get it
        await asyncio.gather(a, b, return_exceptions=True)
        log.append((now(), f"locked={sem.locked()}"))

    def k_main(loop, log):
        sem = k.Semaphore(loop, 1)
        yield from sem.acquire()

        def user(name):
            try:
                yield from sem.acquire()
            except k.Cancelled:
                log.append((loop.now, f"{name} cancelled"))
                raise
            log.append((loop.now, f"{name} got"))
            sem.release()

        a = k.Task(loop, user("a"))
        b = k.Task(loop, user("b"))
        yield from k.sleep(loop, 1)
        sem.release()
        a.cancel()
        for task in (a, b):
            try:
                yield from task
            except k.Cancelled:
                pass
        log.append((loop.now, f"locked={sem.locked()}"))

    expected = arun(a_main)
    assert krun(k_main) == expected
    assert expected == [(1.0, "a cancelled"), (1.0, "b got"), (1.0, "locked=False")]


# ---------------------------------------------------------------- timeout


def _timeout_programs(variant):
    """``async with timeout(1)`` around a wait that completes at t=1 too.

    variant ``timer-first``: the timeout is scheduled before the body's sleep.
    variant ``body-first``: the body waits on a future whose timer was
    scheduled before the timeout. variant ``task-first``: the body awaits another
    task whose sleep was scheduled before the timeout. ``early``: the body
    finishes at 0.5, well before the deadline.
    """

    async def a_main(log, now):
        loop = asyncio.get_running_loop()
        me = asyncio.current_task()
        fut = loop.create_future()
        other = None
        if variant == "body-first":
            loop.call_later(1, fut.set_result, None)
        elif variant in ("task-first", "early"):
            async def sleeper():
                try:
                    await asyncio.sleep(1 if variant == "task-first" else 0.5)
                except asyncio.CancelledError:
                    log.append((now(), "other cancelled"))
                    raise
                log.append((now(), "other done"))
                return "other"
            other = asyncio.create_task(sleeper())
            await asyncio.sleep(0)  # let it start its sleep first
        try:
            async with asyncio.timeout(1):
                if variant == "timer-first":
                    await asyncio.sleep(1)
                    result = "sleep"
                elif variant == "body-first":
                    await fut
                    result = "body"
                else:
                    await other
                    result = "other"
            log.append((now(), f"result {result}"))
        except TimeoutError:
            log.append((now(), "TimeoutError"))
        log.append((now(), f"cancelling {me.cancelling()}"))
        await asyncio.sleep(1)  # the task is usable afterwards
        log.append((now(), "after"))

    def k_main(loop, log):
        me = loop.current
        fut = k.Future(loop)
        other = None
        if variant == "body-first":
            loop.call_at(loop.now + 1, fut.set_result)
        elif variant in ("task-first", "early"):
            def sleeper():
                try:
                    yield from k.sleep(loop, 1 if variant == "task-first" else 0.5)
                except k.Cancelled:
                    log.append((loop.now, "other cancelled"))
                    raise
                log.append((loop.now, "other done"))
                return "other"
            other = k.Task(loop, sleeper())
            # asyncio.sleep(0): one hop
            hop = k.Future(loop)
            loop.call_soon(hop.set_result)
            yield from hop

        def body():
            if variant == "timer-first":
                yield from k.sleep(loop, 1)
                return "sleep"
            if variant == "body-first":
                yield from fut
                return "body"
            yield from other
            return "other"

        try:
            result = yield from k.timeout(loop, me, 1, body())
            log.append((loop.now, f"result {result}"))
        except TimeoutError:
            log.append((loop.now, "TimeoutError"))
        log.append((loop.now, f"cancelling {me.cancel_requests}"))
        yield from k.sleep(loop, 1)
        log.append((loop.now, "after"))

    return a_main, k_main


@pytest.mark.parametrize("variant", ["timer-first", "body-first", "task-first", "early"])
def test_timeout_at_the_instant_the_body_completes(variant):
    a_main, k_main = _timeout_programs(variant)
    expected = arun(a_main)
    assert krun(k_main) == expected
    outcome = {e for _, e in expected} & {"TimeoutError", "result other", "result sleep", "result body"}
    if variant == "early":
        assert outcome == {"result other"}
    else:
        # The deadline's cancel lands before the task resumes: the result is lost.
        assert outcome == {"TimeoutError"}
    assert expected[-1][1] == "after"
    assert ("cancelling 0" in {e for _, e in expected})


def test_timeout_with_an_outside_cancel_at_the_same_instant_stays_a_cancel():
    async def a_main(log, now):
        loop = asyncio.get_running_loop()

        async def body():
            try:
                async with asyncio.timeout(1):
                    await asyncio.sleep(5)
            except TimeoutError:
                log.append((now(), "TimeoutError"))
            except asyncio.CancelledError:
                log.append((now(), "CancelledError"))
                raise

        t = asyncio.create_task(body())
        await asyncio.sleep(0)
        loop.call_later(1, t.cancel)  # scheduled after the deadline, same instant
        try:
            await t
        except asyncio.CancelledError:
            pass
        log.append((now(), f"cancelled {t.cancelled()}"))

    def k_main(loop, log):
        def body():
            try:
                yield from k.timeout(loop, loop.current, 1, k.sleep(loop, 5))
            except TimeoutError:
                log.append((loop.now, "TimeoutError"))
            except k.Cancelled:
                log.append((loop.now, "CancelledError"))
                raise

        t = k.Task(loop, body())
        hop = k.Future(loop)
        loop.call_soon(hop.set_result)
        yield from hop
        loop.call_at(loop.now + 1, lambda *_: t.cancel())
        try:
            yield from t
        except k.Cancelled:
            pass
        log.append((loop.now, f"cancelled {t.cancelled()}"))

    expected = arun(a_main)
    assert krun(k_main) == expected
    assert expected == [(1.0, "CancelledError"), (1.0, "cancelled True")]


# ---------------------------------------------------------------- no asyncio counterpart


def test_queue_resize_grow_wakes_one_putter_per_new_slot_at_once():
    loop = k.Loop()
    q = k.Queue(loop, 2)
    log = []

    def putter(name):
        yield from q.put(name)
        log.append((loop.now, f"put {name}"))

    q.put_nowait("x")
    q.put_nowait("y")
    for name in "abcd":
        k.Task(loop, putter(name))
    loop.run_until(1.0)
    assert log == [] and len(q.putters) == 4
    q.resize(4)  # two new slots: a and b, in order, at this same instant
    loop.run_until(1.0)
    assert log == [(1.0, "put a"), (1.0, "put b")]
    assert list(q.items) == ["x", "y", "a", "b"]
    assert len(q.putters) == 2
    q.resize(0)  # unbounded: everyone proceeds
    loop.run_until(1.0)
    assert log[2:] == [(1.0, "put c"), (1.0, "put d")]
    assert q.qsize() == 6 and not q.putters


def test_queue_resize_counts_putters_already_woken():
    loop = k.Loop()
    q = k.Queue(loop, 2)
    log = []

    def putter(name):
        yield from q.put(name)
        log.append(name)

    q.put_nowait("x")
    q.put_nowait("y")
    for name in "abc":
        k.Task(loop, putter(name))
    loop.run_until(1.0)
    q.get_nowait()  # wakes a (one free slot, taken by a)
    q.resize(3)  # one more slot: b, not a second wakeup of a's slot
    loop.run_until(1.0)
    assert log == ["a", "b"]
    assert list(q.items) == ["y", "a", "b"] and len(q.putters) == 1


def test_queue_resize_shrink_evicts_nothing_and_new_puts_wait():
    loop = k.Loop()
    q = k.Queue(loop, 5)
    for i in range(5):
        q.put_nowait(i)
    log = []

    def putter(name):
        yield from q.put(name)
        log.append((loop.now, name))

    q.resize(2)
    assert list(q.items) == [0, 1, 2, 3, 4] and q.full()
    k.Task(loop, putter("late"))
    loop.run_until(1.0)
    assert log == [] and len(q.putters) == 1
    for _ in range(3):  # back to 2 items: still full, nobody may put
        q.get_nowait()
    loop.run_until(2.0)
    assert log == [] and q.qsize() == 2
    q.get_nowait()  # 1 item < 2: room for the late putter
    loop.run_until(3.0)
    assert log == [(2.0, "late")]  # woken at once (the clock stood at 2.0)
    with pytest.raises(k.QueueFull):
        q.put_nowait("over")


def test_semaphore_set_limit_grow_wakes_waiters_at_once():
    loop = k.Loop()
    sem = k.Semaphore(loop, 1)
    log = []

    def user(name):
        yield from sem.acquire()
        log.append((loop.now, name))

    for name in "abcd":
        k.Task(loop, user(name))
    loop.run_until(1.0)
    assert log == [(0.0, "a")] and sem.holders == 1
    sem.set_limit(3)  # two more permits: b and c, in order
    loop.run_until(1.0)
    assert log[1:] == [(1.0, "b"), (1.0, "c")]
    assert sem.holders == 3 and sem.value == 0 and sem.locked()
    sem.set_limit(None)  # no semaphore: everyone proceeds
    loop.run_until(1.0)
    assert log[3:] == [(1.0, "d")]
    assert not sem.locked()


def test_semaphore_set_limit_counts_waiters_already_woken():
    loop = k.Loop()
    sem = k.Semaphore(loop, 1)
    log = []

    def user(name):
        yield from sem.acquire()
        log.append(name)

    for name in "abc":
        k.Task(loop, user(name))
    loop.run_until(1.0)
    sem.release()  # wakes b (not run yet)
    sem.set_limit(2)  # b takes one permit, a's gone: one more for c
    loop.run_until(1.0)
    assert log == ["a", "b", "c"]
    assert sem.holders == 2 and sem.value == 0


def test_semaphore_set_limit_shrink_leaves_a_debt_paid_by_releases():
    loop = k.Loop()
    sem = k.Semaphore(loop, 4)
    log = []

    def user(name, hold):
        yield from sem.acquire()
        log.append((loop.now, f"{name} got"))
        yield from k.sleep(loop, hold)
        sem.release()

    for i in range(4):
        k.Task(loop, user(f"h{i}", 1.0 + i))  # release at 1, 2, 3, 4
    k.Task(loop, user("w", 10))
    loop.run_until(0.5)
    assert sem.holders == 4
    sem.set_limit(2)  # nobody loses a permit; value -2 is a debt
    assert sem.value == -2 and sem.holders == 4 and sem.locked()
    loop.run_until(2.5)  # two releases pay the debt
    assert sem.value == 0 and sem.holders == 2
    assert [e for _, e in log].count("w got") == 0
    loop.run_until(3.5)  # the third release is a real free permit: w gets it
    assert log[-1] == (3.0, "w got")
    assert sem.holders == 2
