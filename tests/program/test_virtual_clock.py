"""Tests for the virtual-clock asyncio loop (tests/virtual_clock.py)."""

import asyncio
import heapq
import time

import pytest
from virtual_clock import VirtualClockLoop, run, run_program


def now():
    return asyncio.get_running_loop().time()


# ---------------------------------------------------------------- clock jumps


def test_sleeps_fire_in_time_order_with_exact_times():
    log = []

    async def sleeper(name, delay):
        await asyncio.sleep(delay)
        log.append((now(), name))

    async def main():
        assert isinstance(asyncio.get_running_loop(), VirtualClockLoop)
        assert now() == 0.0
        await asyncio.gather(sleeper("a", 0.3), sleeper("b", 0.1),
                             sleeper("c", 0.2))
        return now()

    assert run(main()) == 0.3
    assert log == [(0.1, "b"), (0.2, "c"), (0.3, "a")]


def test_an_hour_of_sleeping_takes_no_wall_time():
    async def main():
        await asyncio.sleep(3600)
        for _ in range(1000):
            await asyncio.sleep(1.5)
        return now()

    start = time.perf_counter()
    assert run(main()) == 3600 + 1000 * 1.5
    assert time.perf_counter() - start < 0.5


def test_clock_does_not_move_while_callbacks_are_ready():
    fired = []

    async def main():
        asyncio.get_running_loop().call_at(1.0, fired.append, True)
        for _ in range(100):
            await asyncio.sleep(0)  # yields, never schedules a timer
            assert now() == 0.0
        assert not fired
        await asyncio.sleep(2)
        return now()

    assert run(main()) == 2.0
    assert fired == [True]


def test_no_clock_resolution_fudge():
    # asyncio treats timers within clock_resolution (1e-9) of now as due;
    # the engine does not: each timer runs at its own exact deadline.
    seen = []

    async def main():
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        loop.call_at(1.0, lambda: seen.append(loop.time()))
        loop.call_at(1.0 + 5e-10, lambda: seen.append(loop.time()))
        loop.call_at(2.0, done.set_result, None)
        await done

    run(main())
    assert seen == [1.0, 1.0 + 5e-10]


# ------------------------------------------------------ FIFO among equal ties


def test_stock_asyncio_heap_does_not_keep_ties_fifo():
    # Why the FIFO test below is meaningful: asyncio's own timer heap compares
    # TimerHandles by `when` only, so 50 equal deadlines pop out scrambled.
    loop = asyncio.new_event_loop()
    try:
        heap = []
        for i in range(50):
            heapq.heappush(heap, asyncio.TimerHandle(1.0, print, (i,), loop))
        popped = [heapq.heappop(heap)._args[0] for _ in range(50)]
    finally:
        loop.close()
    assert popped != list(range(50))


def test_equal_deadlines_fire_in_scheduling_order():
    order = []

    async def sleeper(i):
        await asyncio.sleep(1.0)
        order.append(i)

    async def main():
        tasks = [asyncio.create_task(sleeper(i)) for i in range(50)]
        await asyncio.gather(*tasks)
        return now()

    assert run(main()) == 1.0
    assert order == list(range(50))


def test_call_at_with_same_when_scheduled_later_fires_after():
    order = []

    async def main():
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        loop.call_at(2.0, order.append, "first")
        await asyncio.sleep(1.0)
        # Same deadline, scheduled later -> fires later.
        loop.call_at(2.0, order.append, "second")
        loop.call_at(2.0, done.set_result, None)
        await done
        return now()

    assert run(main()) == 2.0
    assert order == ["first", "second"]


def test_timers_in_the_past_fire_without_moving_the_clock_back():
    order = []

    async def main():
        loop = asyncio.get_running_loop()
        await asyncio.sleep(5)
        loop.call_at(1.0, order.append, "past")
        loop.call_later(-3, order.append, "negative")
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return now()

    assert run(main()) == 5.0
    assert order == ["past", "negative"]


# ------------------------------------------------ ready-queue order, rule 3


def test_ready_queue_order_after_a_jump():
    order = []

    async def main():
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def timer(name):
            order.append((loop.time(), name))
            loop.call_soon(lambda: order.append((loop.time(), name + " soon")))

        loop.call_at(1.0, timer, "T1")
        loop.call_later(1.0, timer, "T2")
        loop.call_at(1.5, done.set_result, None)
        await done

    run(main())
    assert order == [(1.0, "T1"), (1.0, "T2"),
                     (1.0, "T1 soon"), (1.0, "T2 soon")]


def test_zero_delay_timer_runs_after_already_ready_callbacks():
    # call_later(0) during an iteration becomes due at the start of the next
    # one and is appended after the callbacks already in the ready queue.
    order = []

    async def main():
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def kick():
            loop.call_soon(order.append, "soon A")
            loop.call_later(0, order.append, "later 0")
            loop.call_soon(order.append, "soon B")
            loop.call_later(0, done.set_result, None)

        loop.call_at(3.0, kick)
        await done
        return now()

    assert run(main()) == 3.0
    assert order == ["soon A", "soon B", "later 0"]


def test_only_callbacks_present_at_iteration_start_run():
    # asyncio's ntodo idiom: a callback scheduled by a running callback waits
    # for the next iteration, so a due zero-delay timer overtakes it.
    order = []

    async def main():
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def a():
            order.append("A")
            loop.call_soon(order.append, "A's soon")

        def kick():
            loop.call_soon(a)
            loop.call_later(0, order.append, "later 0")
            loop.call_later(0, done.set_result, None)

        loop.call_at(1.0, kick)
        await done

    run(main())
    assert order == ["A", "later 0", "A's soon"]


def test_cancelled_timer_does_not_move_the_clock():
    seen = []

    async def main():
        loop = asyncio.get_running_loop()
        handle = loop.call_at(1.0, seen.append, "cancelled timer ran")
        task = asyncio.create_task(asyncio.sleep(100))
        await asyncio.sleep(0)
        handle.cancel()
        loop.call_at(2.0, lambda: seen.append(loop.time()))
        await asyncio.sleep(3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return now()

    # The cancelled 100 s sleep never makes the clock jump to 100.
    assert run(main()) == 3.0
    assert seen == [2.0]


def test_many_cancelled_timers_are_compacted():
    async def main():
        loop = asyncio.get_running_loop()
        for _ in range(1000):
            async with asyncio.timeout(10):  # cancelled on exit
                await asyncio.sleep(0.001)
        return len(loop._vheap)

    assert run(main()) < 300


# ---------------------------------------------------- timeouts, cancellation


def test_asyncio_timeout_fires_at_exactly_its_deadline():
    async def main():
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                await asyncio.sleep(1)
        return now()

    assert run(main()) == 0.5


def test_wait_for_times_out_at_exactly_its_deadline():
    async def main():
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.sleep(1), timeout=0.5)
        t = now()
        # Not timed out: returns the value at the inner coroutine's time.
        assert await asyncio.wait_for(asyncio.sleep(0.25, "ok"), 1) == "ok"
        return t, now()

    assert run(main()) == (0.5, 0.75)


def test_taskgroup_error_cancels_siblings_at_the_failure_time():
    log = []

    async def fails():
        await asyncio.sleep(2)
        raise ValueError("boom")

    async def long():
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            log.append(("cancelled", now()))
            raise

    async def main():
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(fails())
                tg.create_task(long())
        except* ValueError:
            log.append(("caught", now()))

    run(main())
    assert log == [("cancelled", 2.0), ("caught", 2.0)]


def test_event_wakes_waiters_in_order():
    log = []

    async def waiter(i, ev):
        await ev.wait()
        log.append((now(), i))

    async def main():
        ev = asyncio.Event()
        tasks = [asyncio.create_task(waiter(i, ev)) for i in range(3)]
        await asyncio.sleep(0.7)
        ev.set()
        await asyncio.gather(*tasks)

    run(main())
    assert log == [(0.7, 0), (0.7, 1), (0.7, 2)]


# ------------------------------------------ queue / semaphore / workers trace

QUEUE_PROGRAM = '''
import asyncio

async def main():
    loop = asyncio.get_running_loop()
    q = asyncio.Queue(maxsize=2)
    sem = asyncio.Semaphore(2)

    def ev(msg):
        print(f"{round(loop.time(), 3):.3f} {msg}")

    async def producer():
        for i in range(6):
            await q.put(i)
            ev(f"put {i}")
        for _ in range(3):
            await q.put(None)

    async def worker(w):
        while True:
            item = await q.get()
            if item is None:
                return
            async with sem:
                ev(f"w{w} start {item}")
                await asyncio.sleep(0.15)
                ev(f"w{w} done {item}")

    async with asyncio.TaskGroup() as tg:
        tg.create_task(producer())
        for w in range(3):
            tg.create_task(worker(w))
    ev("end")

if __name__ == "__main__":
    asyncio.run(main())
'''

# Derived by hand from the asyncio.Queue / Semaphore wake-up rules:
# t=0: P puts 0,1 and blocks on 2; w0 and w1 take 0,1 and the two permits
#      (w0's get wakes P); w2 finds the queue empty and waits; P puts 2
#      (waking w2) and 3, blocks on 4; w2 takes 2 (waking P) but waits for a
#      permit; P puts 4 and blocks on 5.
# t=0.15: w0 finishes (its permit goes to w2), takes 3 (waking P) and queues
#      for a permit; w1 finishes (permit -> w0), takes 4, queues for a
#      permit.  Then w2 starts 2, P puts 5 (+ a sentinel), w0 starts 3.
# t=0.30: w2 finishes (permit -> w1), takes 5, queues; w0 finishes
#      (permit -> w2) and takes a sentinel.  w1 starts 4, w2 starts 5.
# t=0.45: both finish, take the last sentinels, the TaskGroup exits.
QUEUE_TRACE = [
    "0.000 put 0",
    "0.000 put 1",
    "0.000 w0 start 0",
    "0.000 w1 start 1",
    "0.000 put 2",
    "0.000 put 3",
    "0.000 put 4",
    "0.150 w0 done 0",
    "0.150 w1 done 1",
    "0.150 w2 start 2",
    "0.150 put 5",
    "0.150 w0 start 3",
    "0.300 w2 done 2",
    "0.300 w0 done 3",
    "0.300 w1 start 4",
    "0.300 w2 start 5",
    "0.450 w1 done 4",
    "0.450 w2 done 5",
    "0.450 end",
]


def test_queue_semaphore_workers_exact_trace():
    assert run_program(QUEUE_PROGRAM) == QUEUE_TRACE


def test_queue_program_is_deterministic():
    assert all(run_program(QUEUE_PROGRAM) == QUEUE_TRACE for _ in range(20))


# ------------------------------------------------------------------- until


def test_run_until_stops_an_endless_producer_at_until():
    ticks = []
    state = {}

    async def producer():
        try:
            while True:
                ticks.append(now())
                await asyncio.sleep(1.0)
        finally:
            state["unwound_at"] = now()

    async def main():
        state["loop"] = asyncio.get_running_loop()
        await producer()

    assert run(main(), until=5) is None
    # The tick due at exactly t=5 still happens (due when <= until).
    assert ticks == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert state["unwound_at"] == 5.0
    assert state["loop"].time() == 5.0
    assert state["loop"].is_closed()


def test_run_until_returns_result_if_main_finishes_first():
    async def main():
        await asyncio.sleep(2)
        return "done"

    assert run(main(), until=5) == "done"


def test_run_propagates_main_exception():
    async def main():
        await asyncio.sleep(1)
        raise KeyError("x")

    with pytest.raises(KeyError):
        run(main())


PROGRAM = '''
import asyncio

async def ticker(name, period):
    try:
        while True:
            await asyncio.sleep(period)
            print(f"{asyncio.get_running_loop().time():.1f} {name}")
    finally:
        print("unwinding " + name)

async def main():
    print("start")
    async with asyncio.TaskGroup() as tg:
        tg.create_task(ticker("fast", 1.0))
        tg.create_task(ticker("slow", 1.5))

if __name__ == "__main__":
    print("MAIN BLOCK RAN")
    asyncio.run(main())
'''


def test_run_program_returns_lines_up_to_until():
    assert run_program(PROGRAM, until=3) == [
        "start",
        "1.0 fast",
        "1.5 slow",
        "2.0 fast",
        # Both due at 3.0: "slow" scheduled its timer first (at t=1.5,
        # "fast" at t=2.0), so FIFO among ties puts it first.
        "3.0 slow",
        "3.0 fast",
    ]  # "unwinding ..." lines come after until and are excluded


def test_run_program_without_until_and_custom_main():
    source = (
        "import asyncio\n"
        "async def go():\n"
        "    await asyncio.sleep(0.25)\n"
        "    print('t', asyncio.get_running_loop().time())\n"
        "    print('multi\\nline')\n"
        "async def main():\n"
        "    raise AssertionError('wrong entry point')\n"
        "if __name__ == '__main__':\n"
        "    asyncio.run(main())\n"
    )
    assert run_program(source, main="go") == ["t 0.25", "multi", "line"]


# ---------------------------------------------------------------- deadlock


def test_deadlock_raises_runtime_error():
    async def main():
        await asyncio.Event().wait()

    with pytest.raises(RuntimeError, match="deadlock at t=0.0"):
        run(main())


def test_deadlock_after_time_has_passed():
    async def main():
        q = asyncio.Queue()
        await asyncio.sleep(2.5)
        await q.get()  # nobody will ever put

    with pytest.raises(RuntimeError, match="deadlock at t=2.5"):
        run(main())


def test_deadlock_in_run_program():
    source = (
        "import asyncio\n"
        "async def main():\n"
        "    print('before')\n"
        "    await asyncio.get_running_loop().create_future()\n"
    )
    with pytest.raises(RuntimeError, match="deadlock"):
        run_program(source)
