"""The asyncio program a scenario stands for, as runnable Python source.

The page's code view shows it, and the fidelity tests run it on a virtual
clock against the engine: same tasks, same awaits, same random draws, so the
same events at the same times. Only what the scenario uses is emitted, so the
handbook's scenario reads like the handbook.

It comes in two variants: for Python 3.13+ (the default, the handbook's idiom: main
joins the queue, then ``queue.shutdown()`` makes each idle worker's ``get()`` raise
``QueueShutDown``) and for 3.11 and 3.12 (one ``None`` sentinel per worker instead).
Both print the same trace. One thing differs from the handbook on purpose: producers
finish before the queue is joined. The handbook joins first, so ``join()`` returns at
once and its producer's put fails; ``join=at-start`` prints it that way, as printed.
"""

from __future__ import annotations

import difflib
from functools import partial
from pathlib import Path
from textwrap import dedent, indent

from playground.model.scenario import Scenario, ScenarioError
from playground.sim.draws import LOGNORMAL_SIGMA
from playground.sim.engine import abandoning, client_retrying, retrying
from playground.sim.limiters import Gradient2Limiter, VegasLimiter
from playground.sim.world import bucket_depth


def _num(value) -> str:
    """A constant as Python source that evaluates to exactly the same value."""
    return repr(value)


PYTHONS = ("3.13", "3.11")
"""The program's variants: for Python 3.13+ (queue.shutdown()) and for 3.11 and 3.12 (sentinels)."""


def diff(a: Scenario, b: Scenario, *, python: str = "3.13", ideal_clock: bool = False) -> list[str]:
    """The unified diff of service A's program and B's (lines with their endings)."""
    a_lines, b_lines = (generate(s, python=python, ideal_clock=ideal_clock).splitlines(keepends=True)
                        for s in (a, b))
    return list(difflib.unified_diff(a_lines, b_lines, "A.py", "B.py"))


def needs_python_313(scenario: Scenario) -> bool:
    """Whether the scenario has no 3.11 variant (the handbook as printed joins the queue at
    start and shuts it down: queue.shutdown() or nothing)."""
    return scenario.join == "at-start"


def generate(scenario: Scenario, *, python: str = "3.13", ideal_clock: bool = False) -> str:
    """The complete program for ``scenario``: its blocks in order, each built by the function
    below named for it (and, where there is one, for the engine method it mirrors).

    ``python`` picks the variant (see PYTHONS). With ``ideal_clock`` the program runs on
    ``playground/program/ideal_clock.py``'s loop, appended to it (standard library only), and prints
    the engine's trace line for line."""
    if python not in PYTHONS:
        raise ValueError(f"python must be one of {', '.join(PYTHONS)}; got {python!r}")
    if scenario.join == "at-start" and python != "3.13":
        raise ScenarioError("join=at-start is the handbook's program as printed, which shuts its queue "
                            "down with queue.shutdown(): it needs Python 3.13 (there is no 3.11 variant).",
                            "join", "at-start")
    parts: list[str] = []
    for block in (partial(_header, python=python), _constants, _state, _clock, _draws, _memory, _world,
                  _downstream, _queue, _submit, _producers, _limiter, partial(_worker, python=python),
                  partial(_main, python=python)):
        parts += block(scenario)
    source = _two_blank_lines("\n\n".join(part.strip("\n") for part in parts)) + "\n"
    if ideal_clock:
        source = _on_the_ideal_clock(source, scenario)
    return source


_REAL_CLOCK_MAIN = '''

if __name__ == "__main__":
    asyncio.run(main())
'''


def _on_the_ideal_clock(source: str, scenario: Scenario) -> str:
    """The program, run by the ideal-clock loop instead of asyncio.run."""
    assert source.endswith(_REAL_CLOCK_MAIN), "the program ends with its asyncio.run guard"
    text = Path(__file__).with_name("ideal_clock.py").read_text()
    runner = text[text.index('"""\n') + 4:].strip("\n")  # without its module docstring
    until = ("until = float(sys.argv[1]) if len(sys.argv) > 1 else None"
             if scenario.items else
             "if len(sys.argv) < 2:\n"
             '        sys.exit("This run is endless: give the simulated seconds to stop at, '
             'as in: python program.py 60")\n'
             "    until = float(sys.argv[1])")
    return (source[: -len(_REAL_CLOCK_MAIN)] + "\n\n\n"
            "# The ideal clock (from the Backpressure Playground, playground/ideal_clock.py): time\n"
            "# jumps from one timer to the next with no lag, and timers due at the same instant\n"
            "# fire in the order they were set, so this prints the playground's trace exactly.\n"
            "# Usage: python program.py [SECONDS]  (stop at SECONDS of simulated time)\n\n"
            + runner + "\n\n\n"
            'if __name__ == "__main__":\n'
            "    import sys\n\n"
            f"    {until}\n"
            "    run_on_ideal_clock(main(), until)\n")


def _needs_arrival_random(s: Scenario) -> bool:
    return s.arrivals in ("poisson", "wave", "bursts") and not (
        s.producer == "closed" and s.arrivals == "bursts")


def _backs_off(s: Scenario) -> bool:
    """Whether the program has a backoff(): workers or clients retry."""
    return retrying(s) or client_retrying(s)


def _needs_retry_random(s: Scenario) -> bool:
    return _backs_off(s) and s.jitter != "none"


def _header(s: Scenario, python: str) -> list[str]:
    """The module docstring and imports."""
    parts: list[str] = []
    add = parts.append
    imports = ["asyncio"]
    if s.items == 0:
        imports.append("itertools")
    if (s.arrivals == "wave" or s.service_dist != "constant" or s.codel == "on"
            or (s.limit and s.limiter == "vegas")):
        imports.append("math")
    if _needs_arrival_random(s) or _needs_retry_random(s):
        imports.append("random")
    if s.service_dist == "lognormal":
        imports.append("statistics")
    if (retrying(s) and s.retry_budget) or (s.limit and s.limiter != "fixed"):
        imports.insert(1, "collections")
    if python == "3.13":
        imports.append("sys")
    add(f'"""The asyncio program behind a Backpressure Playground scenario.\n\n'
        f"Link: {s.alone_link()}\n"
        + _runs_with(s, python) + '"""\n\n'
        + "".join(f"import {name}\n" for name in imports)
        + (_version_guard(s) if python == "3.13" else ""))
    return parts


def _version_guard(s: Scenario) -> str:
    """Run on 3.11 or 3.12, a 3.13 program would print its trace and then a 60-line
    ExceptionGroup (asyncio has no QueueShutDown there): it says why in one sentence instead."""
    other = ("it is the handbook's example as printed, which shuts its queue down with queue.shutdown()"
             if needs_python_313(s) else
             f"for 3.11 and 3.12 ask for the other variant: backpressure-playground code --python 3.11 '{s.alone_link()}'")
    return ("\nif sys.version_info < (3, 13):  # asyncio.Queue.shutdown() and QueueShutDown are new in 3.13\n"
            f'    sys.exit("This program needs Python 3.13 or newer; {other}.")\n')


def _runs_with(s: Scenario, python: str) -> str:
    """The docstring's lines on which Python runs the program and what it prints."""
    if python == "3.11":  # unchanged since the first version, byte for byte
        return ("Run it with Python 3.11 or newer. It prints each event with the seconds\n"
                "since the start, as the playground's event log does.\n")
    prints = "It prints each event with the seconds since the start, as the\nplayground's event log does.\n"
    if s.join == "at-start":
        return ("This is the handbook's example as printed: it needs Python 3.13 or newer,\n"
                "and it fails (main() joins the queue before anything was put; see main()).\n" + prints)
    return "Run it with Python 3.13 or newer (for 3.11 and 3.12: code --python 3.11).\n" + prints


def _constants(s: Scenario) -> list[str]:
    """The scenario's numbers, one named constant each, with what it means."""
    parts: list[str] = []
    add = parts.append
    closed = s.producer == "closed"
    endless = s.items == 0
    constants = []

    def const(name, value, comment):
        constants.append((name, _num(value), comment))

    if closed:
        const("PRODUCERS", s.producers, "closed producers; each waits for its put")
    if s.arrivals != "asap" and not (closed and s.arrivals == "bursts"):
        const("RATE", s.rate, "arrivals per second, all producers together")
    if s.arrivals in ("bursts", "wave"):
        const("PERIOD", s.period, "seconds between bursts" if s.arrivals == "bursts"
              else "seconds of one wave of the arrival rate")
    if s.arrivals == "bursts":
        const("BURST", s.burst, "items in one burst")
    if not endless:
        const("ITEMS", s.items, "items to produce, then drain and shut down")
    const("QUEUE_SIZE", s.queue, "asyncio.Queue(maxsize=...); 0 = unbounded")
    if s.policy == "timeout":
        const("PUT_TIMEOUT", s.put_timeout, "seconds a put may wait for room")
    if s.max_age:
        const("MAX_AGE", s.max_age, "seconds; older items are stale when a worker takes them")
    if s.codel == "on":
        const("CODEL_TARGET", s.codel_target, "seconds of queueing delay CoDel accepts")
    if s.codel == "on" or s.discipline == "adaptive-lifo":
        const("CODEL_INTERVAL", s.codel_interval,
              "seconds the delay may stand above target" if s.codel == "on" and s.discipline != "adaptive-lifo" else
              "seconds a queue may stand before LIFO" if s.codel != "on" else
              "seconds the delay may stand above target; a queue, before LIFO")
    const("WORKERS", s.workers, "worker tasks")
    if s.limit:
        if s.limiter != "fixed":
            const("LIMIT", s.limit, "the limiter's permits at the start: downstream calls at once")
            const("LIMIT_MIN", s.limit_min, "the fewest permits it goes down to")
            const("LIMIT_MAX", s.limit_max, "the most permits it goes up to")
        if s.limiter == "aimd":
            const("AIMD_BACKOFF", s.aimd_backoff, "a failed call multiplies the permits by this")
        elif s.limiter == "vegas":
            const("VEGAS_ALPHA", s.vegas_alpha, "grow while fewer than this × log10(limit) calls queue")
            const("VEGAS_BETA", s.vegas_beta, "shrink once more than this × log10(limit) calls queue")
            const("PROBE_EVERY", VegasLimiter.PROBE_EVERY, "× limit: calls between no-load probes")
        elif s.limiter == "gradient2":
            const("TOLERANCE", s.gradient_tolerance, "calls may be this many times their average")
            const("SMOOTHING", s.gradient_smoothing, "the part of the way the limit moves per call")
            const("QUEUE_ALLOWANCE", Gradient2Limiter.QUEUE, "calls let queue at the downstream")
            const("LONG_WINDOW", Gradient2Limiter.LONG_WINDOW, "calls the long-run average is over")
            const("WARMUP", Gradient2Limiter.WARMUP, "calls averaged plainly first")
        else:
            const("LIMIT", s.limit, "semaphore permits: downstream calls at once")
    const("SERVICE_TIME", s.service_time, f"seconds of one downstream call ({s.service_dist})")
    if _lucky(s):
        const("SEED", s.seed, "the run's seed: every call's luck comes from it")
    if s.timeout:
        const("TIMEOUT", s.timeout, "seconds a downstream call may take")
    if s.capacity:
        const("CAPACITY", s.capacity, "calls the downstream takes before it slows down")
        if s.contention:
            const("CONTENTION", s.contention, "how much each call past CAPACITY slows every call")
    if s.rate_limit:
        const("RATE_LIMIT", s.rate_limit, "calls a second the downstream admits")
        const("RATE_BURST", bucket_depth(s.rate_limit, s.rate_burst), "calls it admits at once")
    if retrying(s):
        const("RETRIES", s.retries, "retries of a failed call")
    if client_retrying(s):
        const("CLIENT_RETRIES", s.client_retries, "times a refused request comes back")
    if _backs_off(s):
        const("BACKOFF", s.backoff, f"seconds before the first retry ({s.jitter} jitter)")
        const("BACKOFF_CAP", s.backoff_cap, "the longest backoff")
    if retrying(s) and s.retry_budget:
        const("RETRY_BUDGET", s.retry_budget, "retries per first attempt, over the last 10 s")
    if s.memory:
        const("MEMORY", s.memory, "items the service can hold before it runs out of memory")
        const("RESTART", s.restart, "seconds a crashed service takes to restart")
    width = max(len(f"{n} = {v}") for n, v, _ in constants)
    add("\n".join(f"{f'{n} = {v}':<{width}}  # {c}" for n, v, c in constants) + "\n")
    return parts


def _state(s: Scenario) -> list[str]:
    """Module-level state: random streams, item ids, counters."""
    parts: list[str] = []
    add = parts.append
    endless = s.items == 0
    needs_arrival_random = _needs_arrival_random(s)
    state = []
    if needs_arrival_random:
        state.append(f'arrival_random = random.Random("arrivals-{s.seed}")  # when work arrives')
    if _needs_retry_random(s):
        state.append(f'retry_random = random.Random("retries-{s.seed}")  # backoff jitter')
    state.append("item_ids = itertools.count()" if endless else "item_ids = iter(range(ITEMS))")
    if s.max_age:
        state.append("arrived_at = {}  # item -> when it was produced")
    if s.capacity:
        state.append("in_flight = 0  # downstream calls under way")
    if s.memory:
        state.append("held = 0  # items the service holds: queued, with workers, waiting to be put")
    state.append("started = 0.0")
    add("\n".join(state) + "\n")
    return parts


def _clock(s: Scenario) -> list[str]:
    """now() and log(): the trace's time and lines."""
    parts: list[str] = []
    add = parts.append
    add(dedent('''
        def now():
            """Seconds since the program started."""
            return asyncio.get_running_loop().time() - started


        def log(message):
            print(f"{now():.3f} {message}")
    '''))
    return parts


def _draws(s: Scenario) -> list[str]:
    """arrival_gap() and service_time(): the random draws (mirrors sim/draws.py)."""
    parts: list[str] = []
    add = parts.append
    closed = s.producer == "closed"
    rate_expr = "RATE / PRODUCERS" if closed else "RATE"
    if s.arrivals in ("poisson", "bursts") and not (closed and s.arrivals == "bursts"):
        add(dedent(f'''
            def arrival_gap():
                """Seconds until the next arrival: Poisson arrivals."""
                return arrival_random.expovariate({rate_expr})
        '''))
    elif s.arrivals == "steady":
        add(dedent(f'''
            def arrival_gap():
                """Seconds until the next arrival: evenly spaced."""
                return 1 / ({rate_expr})
        '''))
    elif s.arrivals == "wave":
        add(dedent(f'''
            def arrival_gap():
                """Seconds until the next arrival: Poisson, with a rate that swings
                between 0 and twice the mean over PERIOD seconds (by thinning)."""
                rate = {rate_expr}
                start = t = now()
                while True:
                    t += arrival_random.expovariate(2 * rate)
                    if arrival_random.random() < (1 + math.sin(2 * math.pi * t / PERIOD)) / 2:
                        return t - start
        '''))
    if s.service_dist == "constant":
        add(dedent('''
            def service_time():
                """Seconds one downstream call takes: always the same."""
                return SERVICE_TIME
        '''))
        return parts
    add(dedent('''
        def luck(item, attempt):
            """A number in (0, 1) that belongs to call number `attempt` (0 = the first) of
            `item`: SplitMix64 over SEED, item and attempt. Not a stream, so what happened to
            other items (refused, dropped, retried) cannot change an item's luck."""
            mask = (1 << 64) - 1
            z = (SEED * 0x9E3779B97F4A7C15 + item * 0xD1B54A32D192ED03 + attempt * 0x8CB92BA72F3D8DD7) & mask
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
            return (((z ^ (z >> 31)) >> 11) + 0.5) / 9007199254740992.0  # / 2**53
    '''))
    if s.service_dist == "exponential":
        doc = "exponential, mean SERVICE_TIME"
        body = "return -math.log(1.0 - luck(item, attempt)) * SERVICE_TIME"
    else:
        doc = "lognormal (a heavy tail), mean SERVICE_TIME"
        body = (f"sigma = {_num(LOGNORMAL_SIGMA)}\n    "
                "normal = statistics.NormalDist().inv_cdf(luck(item, attempt))\n    "
                "return math.exp(math.log(SERVICE_TIME) - sigma**2 / 2 + sigma * normal)")
    add(dedent(f'''
        def service_time(item, attempt):
            """Seconds call number `attempt` of `item` takes: {doc}
            (the inverse of its CDF at the call's luck)."""
            {{body}}
    ''').replace("{body}", body))
    return parts


def _lucky(s: Scenario) -> bool:
    """Whether call times are drawn (from each call's luck), not constant."""
    return s.service_dist != "constant"


def _memory(s: Scenario) -> list[str]:
    """admit() and forget(): the memory limit and the crash (mirrors Engine._crash)."""
    parts: list[str] = []
    add = parts.append
    if s.memory:
        add(dedent('''
            class OutOfMemory(Exception):
                """The service held more than MEMORY items."""


            def admit():
                """Count one more item held. Past the limit the whole service crashes at
                once: every task dies and everything it held is lost."""
                global held
                held += 1
                if held > MEMORY:
                    for task in asyncio.all_tasks():
                        if task is not main_task and task is not asyncio.current_task():
                            task.cancel()
                    raise OutOfMemory(held)


            def forget():
                """One item fewer held: it reached its outcome."""
                global held
                held -= 1
        '''))
    return parts


def _world(s: Scenario) -> list[str]:
    """The rate limit, the retry budget and the backoff (mirrors sim/world.py)."""
    parts: list[str] = []
    add = parts.append
    if s.rate_limit:
        add(dedent('''
            class Throttled(Exception):
                """The downstream refused a call: over its rate limit (HTTP 429)."""


            class TokenBucket:
                """The downstream's rate limit: RATE_LIMIT calls a second, RATE_BURST at once."""

                def __init__(self):
                    self.tokens = RATE_BURST
                    self.at = 0.0

                def take(self):
                    t = now()
                    self.tokens = min(RATE_BURST, self.tokens + (t - self.at) * RATE_LIMIT)
                    self.at = t
                    if self.tokens >= 1:
                        self.tokens -= 1
                        return True
                    return False


            bucket = TokenBucket()
        '''))
    if not _backs_off(s):
        return parts
    if retrying(s) and s.retry_budget:
        add(dedent('''
            class RetryBudget:
                """Retries may be at most RETRY_BUDGET of the first attempts of the last 10 s."""

                def __init__(self):
                    self.firsts = collections.deque()
                    self.retries = collections.deque()

                def first(self):
                    self.firsts.append(now())

                def may_retry(self):
                    t = now()
                    for times in (self.firsts, self.retries):
                        while times and times[0] <= t - 10.0:
                            times.popleft()
                    if len(self.retries) + 1 > RETRY_BUDGET * len(self.firsts):
                        return False
                    self.retries.append(t)
                    return True


            budget = RetryBudget()
        '''))
    body = {
        "none": "return min(BACKOFF_CAP, BACKOFF * 2 ** (attempt - 1))",
        "full": "return retry_random.uniform(0, min(BACKOFF_CAP, BACKOFF * 2 ** (attempt - 1)))",
        "equal": ("ceiling = min(BACKOFF_CAP, BACKOFF * 2 ** (attempt - 1))\n"
                  "    return ceiling / 2 + retry_random.uniform(0, ceiling / 2)"),
        "decorrelated": "return min(BACKOFF_CAP, retry_random.uniform(BACKOFF, previous * 3))",
    }[s.jitter]
    doc = {
        "none": "exponential: BACKOFF, doubling, up to BACKOFF_CAP",
        "full": "exponential with full jitter: anywhere from 0 to BACKOFF doubling, up to BACKOFF_CAP",
        "equal": "exponential with equal jitter: half of BACKOFF doubling, plus up to as much again",
        "decorrelated": "decorrelated jitter: from BACKOFF to three times the last backoff, up to BACKOFF_CAP",
    }[s.jitter]
    add(dedent(f'''
        def backoff(attempt, previous):
            """Seconds to wait before retry number attempt (1, 2, ...): {doc}."""
            {{body}}
    ''').replace("{body}", body))
    return parts


def _downstream(s: Scenario) -> list[str]:
    """downstream(): one call (mirrors Service.downstream and call_downstream)."""
    parts: list[str] = []
    add = parts.append
    # Drawn call times belong to the call (its item and attempt); a constant one needs neither.
    params, args, draw = (("item, attempt=0", "item, attempt", "service_time(item, attempt)") if _lucky(s)
                          else ("item", "item", "service_time()"))
    if s.capacity and s.contention:
        add(dedent(f'''
            async def downstream({params}):
                """The downstream call. Past CAPACITY calls at once it slows down: a call
                that starts while n calls are in flight takes service_time() * n / CAPACITY,
                and (1 + CONTENTION * (n - CAPACITY)) times that for the contention among
                them, so past CAPACITY the calls it completes per second fall."""
                global in_flight
                in_flight += 1
                try:
                    duration = {draw} * max(1, in_flight / CAPACITY)
                    if in_flight > CAPACITY:
                        duration *= 1 + CONTENTION * (in_flight - CAPACITY)
                    await asyncio.sleep(duration)
                finally:
                    in_flight -= 1
        '''))
    elif s.capacity:
        add(dedent(f'''
            async def downstream({params}):
                """The downstream call. Past CAPACITY calls at once it slows down: a call
                that starts while n calls are in flight takes service_time() * n / CAPACITY."""
                global in_flight
                in_flight += 1
                try:
                    await asyncio.sleep({draw} * max(1, in_flight / CAPACITY))
                finally:
                    in_flight -= 1
        '''))
    else:
        add(dedent(f'''
            async def downstream({params}):
                """The downstream call."""
                await asyncio.sleep({draw})
        '''))
    if abandoning(s):
        throttle = ("    if not bucket.take():  # over the rate limit: refused at once\n"
                    "        raise Throttled(item)\n") if s.rate_limit else ""
        add(dedent(f'''
            def call_downstream({params}):
                """Send one call to the downstream. It runs in a task of its own: a caller
                that stops waiting (a timeout) walks away, and the downstream goes on
                working on the call to its end, still counted in flight."""
        ''') + throttle + f"    return asyncio.create_task(downstream({args}))\n")
    elif s.rate_limit:
        # Over the rate limit the call is refused before it starts: no time, no draw.
        parts[-1] = _after_docstring(parts[-1], "if not bucket.take():\n    raise Throttled(item)")
    return parts


def _after_docstring(function: str, lines: str) -> str:
    """``function``'s source with ``lines`` (at body level) right after its docstring."""
    head, _, rest = function.partition('"""')
    doc, _, body = rest.partition('"""\n')
    return head + '"""' + doc + '"""\n' + indent(lines, "    ") + "\n" + body


def queue_class(s: Scenario) -> str:
    """What serve() makes its queue with: asyncio's own class, or the one _queue writes."""
    if s.codel != "on" and s.discipline == "fifo":
        return "asyncio.Queue"
    if s.codel != "on" and s.discipline == "lifo":
        return "asyncio.LifoQueue"
    return {"fifo": "TimedQueue", "lifo": "TimedLifoQueue", "adaptive-lifo": "AdaptiveLifoQueue"}[s.discipline]


def _queue(s: Scenario) -> list[str]:
    """The queue's class when asyncio has none for it, and CoDel (mirror kernel.Queue's order
    and sim/codel.py)."""
    parts: list[str] = []
    add = parts.append
    name = queue_class(s)
    timed = s.codel == "on"
    adaptive = s.discipline == "adaptive-lifo"
    if timed:
        add(dedent('''
            class CoDel:
                """Controlled Delay (RFC 8289, section 5), asked by a worker for each item it takes.

                Once the time items wait in the queue has stood above CODEL_TARGET for a whole
                CODEL_INTERVAL, the item taken is dropped, and the next ones too, a drop every
                CODEL_INTERVAL / sqrt(drops so far), until an item has waited less than the target
                or the queue is empty. The RFC drops in a loop inside dequeue(); here that loop is
                the worker's: a dropped item is logged and the worker takes the next at once."""

                def __init__(self):
                    self.first_above = 0.0  # when the delay will have stood above target an interval
                    self.dropping = False
                    self.drop_next = 0.0
                    self.count = 0  # drops in this (or the last) dropping state
                    self.last_count = 0
                    self.after = ""  # "enter" or "drop": the item before was dropped

                def ok_to_drop(self, waited, left):
                    """The RFC's dodequeue(): has the delay stood above the target an interval?"""
                    if waited < CODEL_TARGET or left <= 1:  # at most one item behind it
                        self.first_above = 0.0
                        return False
                    if self.first_above == 0.0:
                        self.first_above = now() + CODEL_INTERVAL
                        return False
                    return now() >= self.first_above

                def drop(self, waited, left):
                    """Drop the item just taken, which waited `waited` s with `left` behind it?"""
                    ok = self.ok_to_drop(waited, left)
                    after, self.after = self.after, ""
                    if after == "enter":  # the item after the drop that began dropping: served
                        return False
                    if self.dropping:
                        if not ok:
                            self.dropping = False
                            return False
                        if after == "drop":  # still above target: the next drop comes sooner
                            self.drop_next = self.drop_next + CODEL_INTERVAL / math.sqrt(self.count)
                        if now() >= self.drop_next:
                            self.count += 1
                            self.after = "drop"
                            self.emptied(left)
                            return True
                        return False
                    if ok:
                        self.dropping = True
                        delta = self.count - self.last_count
                        recent = now() - self.drop_next < 16 * CODEL_INTERVAL
                        self.count = delta if delta > 1 and recent else 1
                        self.drop_next = now() + CODEL_INTERVAL / math.sqrt(self.count)
                        self.last_count = self.count
                        self.after = "enter"
                        self.emptied(left)
                        return True
                    return False

                def emptied(self, left):
                    """Nothing left after a drop: the RFC's next dodequeue() finds the queue empty."""
                    if left == 0:
                        self.first_above = 0.0
                        if self.after == "drop":
                            self.dropping = False
                        self.after = ""
        '''))
    if not name.startswith("asyncio."):
        doc = {
            "fifo": "An asyncio.Queue that notes how long the item taken waited in it (CoDel reads it).",
            "lifo": "An asyncio.LifoQueue (newest first) that notes how long the item taken waited in it\n"
                    "    (CoDel reads it).",
            "adaptive-lifo": "Adaptive LIFO (Facebook's, in \"Fail at scale\", 2015): oldest first while the\n"
                             "    queue keeps emptying; newest first once it has not been empty for\n"
                             "    CODEL_INTERVAL, because under a backlog the newest requests are the ones\n"
                             "    whose callers are still waiting.",
        }[s.discipline]
        if timed and adaptive:
            doc += " It notes how long the item taken\n    waited in it (CoDel reads it)."
        lines = [f"class {name}(asyncio.Queue):", f'    """{doc}"""', ""]
        if adaptive or timed:
            lines += ["    def _init(self, maxsize):", "        super()._init(maxsize)"]
            if adaptive:
                lines += ["        self.last_empty = now()  # the last moment it was empty"]
            if timed:
                lines += ["        self.codel = CoDel()  # the workers ask it of every item they take"]
            lines += [""]
        lines += ["    def _put(self, item):"]
        if adaptive:
            lines += ["        if not self._queue:", "            self.last_empty = now()"]
        lines += ["        self._queue.append((now(), item))  # when it went in" if timed else
                  "        self._queue.append(item)", ""]
        lines += ["    def _get(self):"]
        took = "entry" if timed else "item"
        if adaptive:
            lines += ["        if now() - self.last_empty > CODEL_INTERVAL:  # a queue stands: newest first",
                      f"            {took} = self._queue.pop()",
                      "        else:",
                      f"            {took} = self._queue.popleft()",
                      "        if not self._queue:",
                      "            self.last_empty = now()"]
        else:
            lines += [f"        {took} = self._queue.{'pop' if s.discipline == 'lifo' else 'popleft'}()"]
        if timed:
            lines += ["        put_at, item = entry", "        self.waited = now() - put_at"]
        lines += ["        return item"]
        add("\n".join(lines) + "\n")
    return parts


def _submit(s: Scenario) -> list[str]:
    """submit(): produce one item and put it, per policy (mirrors Service.request and put)."""
    parts: list[str] = []
    add = parts.append
    produced = ['log(f"produce {item} qsize before: {queue.qsize()}")']
    if s.max_age:
        produced.append("arrived_at[item] = now()")
    # A request put with put_nowait and no retries holds memory only once the queue takes
    # it: one that is refused never held any (mirrors Engine.produce).
    admit_after_put = s.memory and s.policy == "reject" and not client_retrying(s)
    if s.memory and not admit_after_put:
        produced.append("admit()")
    # Lines that run when an item reaches its outcome before a worker takes it.
    gone = (["arrived_at.pop(item)"] if s.max_age else []) + (["forget()"] if s.memory else [])
    if s.policy == "block":
        doc = "waits for room: backpressure"
        put = ["await queue.put(item)"]
    elif s.policy == "timeout":
        doc = "waits for room, but gives up after PUT_TIMEOUT seconds"
        put = ["try:",
               "    async with asyncio.timeout(PUT_TIMEOUT):",
               "        await queue.put(item)",
               "except TimeoutError:",
               '    log(f"put-timeout {item}")',
               *("    " + line for line in gone),
               "    return"]
    elif s.policy == "reject":
        doc = "never waits: a full queue rejects the new item"
        put = ["try:",
               "    queue.put_nowait(item)",
               "except asyncio.QueueFull:",
               '    log(f"rejected {item}: queue full")',
               *("    " + line for line in gone if line != "forget()"),
               "    return",
               *(["admit()"] if admit_after_put else [])]
    else:
        doc = "never waits: a full queue drops its oldest item to make room"
        put = ["while queue.full():",
               "    oldest = queue.get_nowait()",
               "    queue.task_done()",
               '    log(f"dropped {oldest} to make room for {item}")',
               *(["    arrived_at.pop(oldest)"] if s.max_age else []),
               *(["    forget()"] if s.memory else []),
               "queue.put_nowait(item)"]
    if client_retrying(s):
        doc += ".\n    A refused request comes back after a backoff, up to CLIENT_RETRIES times"
        put = _client_retry_loop(s, gone)
    if s.join == "at-start" and gone and not admit_after_put:
        # Shut down under it, the put raises QueueShutDown: the item was never the queue's, and
        # the service no longer holds it (mirrors the engine, which frees it).
        put = ["try:", *("    " + line for line in put),
               "except asyncio.QueueShutDown:", *("    " + line for line in gone), "    raise"]
    put = "\n".join(put)
    add("\n\nasync def submit(queue, item):\n"
        f'    """Produce one item and put it in the queue; the put {doc}."""\n'
        + indent("\n".join(produced) + "\n" + put + "\n"
                 + 'log(f"enqueued {item} qsize after: {queue.qsize()}")\n', "    "))
    return parts


def _client_retry_loop(s: Scenario, gone: list[str]) -> list[str]:
    """submit()'s put with client retries (mirrors Service.client_request)."""
    if s.policy == "reject":
        attempt = ["try:", "    queue.put_nowait(item)", "except asyncio.QueueFull:"]
        refused = 'log(f"rejected {item}: queue full")'
    else:
        attempt = ["try:", "    async with asyncio.timeout(PUT_TIMEOUT):", "        await queue.put(item)",
                   "except TimeoutError:"]
        refused = 'log(f"put-timeout {item}")'
    attempt += ["    if attempt == CLIENT_RETRIES:",
                "        " + refused,
                *("        " + line for line in gone),
                "        return",
                "    attempt += 1",
                "    delay = backoff(attempt, delay)",
                '    log(f"request {item} retry {attempt} in {delay:.3f}")',
                "    await asyncio.sleep(delay)",
                "else:",
                "    break"]
    return ["attempt = 0",
            "delay = BACKOFF  # the last backoff (decorrelated jitter grows from it)",
            "while True:",
            *("    " + line for line in attempt)]


def _producers(s: Scenario) -> list[str]:
    """producer() or arrivals() and bursts() (mirrors Service.producer, arrivals, bursts)."""
    parts: list[str] = []
    add = parts.append
    closed = s.producer == "closed"
    if closed:
        if s.arrivals == "asap":
            add(dedent('''
                async def producer(queue):
                    """A closed producer: no pause between items, so the queue alone sets the pace."""
                    for item in item_ids:
                        await submit(queue, item)
            '''))
        elif s.arrivals == "bursts":
            add(dedent('''
                async def producer(queue):
                    """A closed producer: every PERIOD seconds a burst of BURST items, each
                    waiting for its put before the next."""
                    while True:
                        await asyncio.sleep(PERIOD)
                        for _ in range(BURST):
                            item = next(item_ids, None)
                            if item is None:
                                return
                            await submit(queue, item)
            '''))
        else:
            add(dedent('''
                async def producer(queue):
                    """A closed producer: it waits for each put before producing the next item."""
                    while True:
                        await asyncio.sleep(arrival_gap())
                        item = next(item_ids, None)
                        if item is None:
                            return
                        await submit(queue, item)
            '''))
    else:
        if s.arrivals == "bursts":
            add(dedent('''
                async def bursts(queue, requests):
                    """Every PERIOD seconds, BURST requests arrive at once."""
                    while True:
                        await asyncio.sleep(PERIOD)
                        for _ in range(BURST):
                            item = next(item_ids, None)
                            if item is None:
                                return
                            requests.create_task(submit(queue, item))
            '''))
        start_bursts = "\n        requests.create_task(bursts(queue, requests))" if s.arrivals == "bursts" else ""
        add(dedent('''
            async def arrivals(queue):
                """Open arrivals: every request is its own task awaiting its put, as in a
                web server; requests that cannot get in pile up as waiting putters."""
                async with asyncio.TaskGroup() as requests:{start_bursts}
                    while True:
                        await asyncio.sleep(arrival_gap())
                        item = next(item_ids, None)
                        if item is None:
                            break
                        requests.create_task(submit(queue, item))
        ''').replace("{start_bursts}", start_bursts))
    return parts


def _limiter_learns_failure(s: Scenario) -> list[str]:
    """In an except branch of a call under an adaptive limiter: the line that tells it the call failed."""
    if s.limiter == "fixed":
        return []
    return ["    permit.failed = True  # the limiter " + ("backs off" if s.limiter != "gradient2" else "is told")]


def _limiter_name(s: Scenario) -> str:
    return "limiter" if s.limiter != "fixed" else "semaphore"


def _permit(s: Scenario) -> str:
    """The line that holds a permit around one call."""
    return "async with limiter.permit() as permit:" if s.limiter != "fixed" else "async with semaphore:"


#: The limiter class each adaptive rule is in the program (and in sim/limiters.py).
LIMITER_CLASSES = {"aimd": "AIMDLimiter", "vegas": "VegasLimiter", "gradient2": "Gradient2Limiter"}


def _limiter(s: Scenario) -> list[str]:
    """The adaptive limiter and its Permit (mirrors sim/limiters.py)."""
    if not s.limit or s.limiter == "fixed":
        return []
    if s.limiter != "aimd":
        return [_LATENCY_LIMITERS[s.limiter] + _ACQUIRE + _LATENCY_RELEASE, _TIMED_PERMIT]
    return [dedent('''
        class AIMDLimiter:
            """Like asyncio.Semaphore(LIMIT), but the number of permits moves with how the calls
            went (Netflix concurrency-limits' AIMDLimit): a call that failed (timed out, throttled)
            multiplies the limit by AIMD_BACKOFF, one that succeeded while at least half the limit
            was in use adds one; it stays from LIMIT_MIN to LIMIT_MAX. First come, first served."""

            def __init__(self):
                self.limit = LIMIT
                self.in_use = 0
                self.waiters = collections.deque()

            def permit(self):
                return Permit(self)

            async def acquire(self):
                """Wait for a permit; return the calls in flight with it (what the limit samples)."""
                if self.in_use < self.limit and not self.waiters:
                    self.in_use += 1
                    return self.in_use
                waiter = asyncio.get_running_loop().create_future()
                self.waiters.append(waiter)
                try:
                    return await waiter
                except asyncio.CancelledError:  # (the service is torn down: a crash, the end)
                    if waiter.done() and not waiter.cancelled():
                        self.in_use -= 1  # handed a permit it will not use
                    raise

            def release(self, in_flight, failed):
                self.in_use -= 1
                if failed:  # multiplicative decrease
                    self.limit = int(self.limit * AIMD_BACKOFF)
                elif in_flight * 2 >= self.limit:  # additive increase, while the limit is in use
                    self.limit = self.limit + 1
                self.limit = min(LIMIT_MAX, max(LIMIT_MIN, self.limit))
                while self.waiters and self.in_use < self.limit:
                    waiter = self.waiters.popleft()
                    if not waiter.done():  # (a cancelled waiter gets nothing)
                        self.in_use += 1
                        waiter.set_result(self.in_use)


        class Permit:
            """One permit, held by `async with limiter.permit() as permit:`. Set permit.failed
            when the call failed: the limiter learns it as the permit goes back."""

            def __init__(self, limiter):
                self.limiter = limiter
                self.failed = False

            async def __aenter__(self):
                self.in_flight = await self.limiter.acquire()
                return self

            async def __aexit__(self, *exc_info):
                self.limiter.release(self.in_flight, self.failed)
    ''')]


_LATENCY_LIMITERS = {
    "vegas": dedent('''
        class VegasLimiter:
            """Like asyncio.Semaphore(LIMIT), but the number of permits moves with how slow the calls
            are (Netflix concurrency-limits' VegasLimit, after TCP Vegas). The calls queued at the
            downstream are estimated from how much slower a call was than the fastest one seen (its
            time at no load); with log = log10(limit), at least 1, the limit grows by VEGAS_BETA × log
            while about none queue, by log while fewer than VEGAS_ALPHA × log do, and shrinks by log
            once more than VEGAS_BETA × log do, or a call failed. It grows only while at least half
            of it is in use; it stays from LIMIT_MIN to LIMIT_MAX. First come, first served."""

            def __init__(self):
                self.estimate = float(LIMIT)
                self.limit = LIMIT
                self.in_use = 0
                self.waiters = collections.deque()
                self.no_load = 0.0  # the fastest round trip since the last probe
                self.probe_count = 0

            def update(self, rtt, in_flight, failed):
                if rtt <= 0:  # throttled before it left: no round trip to learn from
                    return
                self.probe_count += 1
                if PROBE_EVERY * self.estimate <= self.probe_count:
                    # A probe: this call's time is the no-load one now (the downstream may have
                    # got faster or slower for good). Netflix draws the 0.75 in PROBE_EVERY at random.
                    self.probe_count = 0
                    self.no_load = rtt
                    return
                if self.no_load == 0 or rtt < self.no_load:  # the fastest yet
                    self.no_load = rtt
                    return
                estimate = self.estimate
                queued = math.ceil(estimate * (1 - self.no_load / rtt))
                log = max(1, int(math.log10(int(estimate))))
                if failed:
                    new = estimate - log
                elif in_flight * 2 < estimate:  # not using the limit: nothing learned about it
                    return
                elif queued <= log:  # about nothing queued: grow fast
                    new = estimate + VEGAS_BETA * log
                elif queued < VEGAS_ALPHA * log:
                    new = estimate + log
                elif queued > VEGAS_BETA * log:  # a queue formed: shrink
                    new = estimate - log
                else:  # between alpha and beta: where it wants to be
                    return
                self.estimate = max(LIMIT_MIN, min(LIMIT_MAX, new))
                self.limit = int(self.estimate)
    '''),
    "gradient2": dedent('''
        class Gradient2Limiter:
            """Like asyncio.Semaphore(LIMIT), but the number of permits moves with how slow the calls
            are (Netflix concurrency-limits' Gradient2Limit). A call's round trip is compared with
            the long-run average of them: gradient = TOLERANCE × average / this, held to 0.5-1, and
            the limit moves SMOOTHING of the way to limit × gradient + QUEUE_ALLOWANCE. So calls
            slower than TOLERANCE times the average shrink it; others let it grow. Failures are
            not read. It moves only while at least half of it is in use; it stays from LIMIT_MIN
            to LIMIT_MAX. First come, first served."""

            def __init__(self):
                self.estimate = float(LIMIT)
                self.limit = LIMIT
                self.in_use = 0
                self.waiters = collections.deque()
                self.long_rtt = 0.0  # the long-run average round trip
                self.samples = 0
                self.rtt_sum = 0.0

            def update(self, rtt, in_flight, failed):
                if rtt <= 0:  # throttled before it left: no round trip to learn from
                    return
                estimate = self.estimate
                if self.samples < WARMUP:
                    self.samples += 1
                    self.rtt_sum += rtt
                    self.long_rtt = self.rtt_sum / self.samples
                else:  # an exponential average over LONG_WINDOW calls
                    factor = 2.0 / (LONG_WINDOW + 1)
                    self.long_rtt = self.long_rtt * (1 - factor) + rtt * factor
                long_rtt = self.long_rtt
                if long_rtt / rtt > 2:  # latency came back down after a long overload: catch up
                    self.long_rtt = long_rtt * 0.95
                if in_flight < estimate / 2:  # not using the limit: nothing learned about it
                    return
                gradient = max(0.5, min(1.0, TOLERANCE * long_rtt / rtt))
                new = estimate * gradient + QUEUE_ALLOWANCE
                new = estimate * (1 - SMOOTHING) + new * SMOOTHING
                self.estimate = max(LIMIT_MIN, min(LIMIT_MAX, new))
                self.limit = int(self.estimate)
    '''),
}

_ACQUIRE = indent(dedent('''
    def permit(self):
        return Permit(self)

    async def acquire(self):
        """Wait for a permit; return the calls in flight with it (what the limit samples)."""
        if self.in_use < self.limit and not self.waiters:
            self.in_use += 1
            return self.in_use
        waiter = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:  # (the service is torn down: a crash, the end)
            if waiter.done() and not waiter.cancelled():
                self.in_use -= 1  # handed a permit it will not use
            raise
'''), "    ")

_LATENCY_RELEASE = indent(dedent('''
    def release(self, in_flight, failed, rtt):
        self.in_use -= 1
        self.update(rtt, in_flight, failed)
        while self.waiters and self.in_use < self.limit:
            waiter = self.waiters.popleft()
            if not waiter.done():  # (a cancelled waiter gets nothing)
                self.in_use += 1
                waiter.set_result(self.in_use)
'''), "    ")

_TIMED_PERMIT = dedent('''
    class Permit:
        """One permit, held by `async with limiter.permit() as permit:`. Set permit.failed when
        the call failed: the limiter learns that, and how long the call took, as it goes back."""

        def __init__(self, limiter):
            self.limiter = limiter
            self.failed = False

        async def __aenter__(self):
            self.in_flight = await self.limiter.acquire()
            self.start = asyncio.get_running_loop().time()
            return self

        async def __aexit__(self, *exc_info):
            rtt = asyncio.get_running_loop().time() - self.start
            self.limiter.release(self.in_flight, self.failed, rtt)
''')


def _worker(s: Scenario, python: str) -> list[str]:
    """worker() (mirrors Service.worker)."""
    parts: list[str] = []
    add = parts.append
    done = ["forget()"] if s.memory else []
    if retrying(s):
        call = _retry_loop(s)
    else:
        if s.timeout or s.rate_limit:
            call = ["try:"]
            if s.timeout:
                call += [*_timed_call(s), "except TimeoutError:", *_limiter_learns_failure(s),
                         '    log(f"{name} timeout {item}")', *("    " + line for line in done)]
            else:
                call += ["    await downstream(item)"]
            if s.rate_limit:
                call += ["except Throttled:", *_limiter_learns_failure(s), '    log(f"{name} throttled {item}")',
                         *("    " + line for line in done)]
            call += ["else:", '    log(f"{name} handled {item}")', *("    " + line for line in done)]
        else:
            call = ["await downstream(item)", 'log(f"{name} handled {item}")', *done]
        if s.limit:
            call = [_permit(s), *("    " + line for line in call)]
    call = "\n".join(call)
    stale = ""
    if s.max_age:
        stale = "\n".join([
            "if now() - arrived_at.pop(item) > MAX_AGE:",
            '    log(f"{name} stale {item}")',
            *(["    forget()"] if s.memory else []),
            "    queue.task_done()",
            "    continue",
        ]) + "\n"
    if s.codel == "on":
        stale += "\n".join([
            "if queue.codel.drop(queue.waited, queue.qsize()):",
            '    log(f"{name} codel-dropped {item}")',
            *(["    forget()"] if s.memory else []),
            "    queue.task_done()",
            "    continue",
        ]) + "\n"
    signature = f"name, queue, {_limiter_name(s)}" if s.limit else "name, queue"
    if python == "3.11":
        take = ('    """Take items one at a time until the shutdown sentinel arrives."""\n'
                "    while True:\n"
                "        item = await queue.get()\n"
                "        if item is None:  # the shutdown sentinel (Python 3.13+: queue.shutdown())\n"
                '            log(f"{name} shutdown")\n'
                "            return\n")
    else:
        take = ('    """Take items one at a time until the queue is shut down."""\n'
                "    while True:\n"
                "        try:\n"
                "            item = await queue.get()\n"
                "        except asyncio.QueueShutDown:  # shut down and empty: no more work\n"
                '            log(f"{name} shutdown")\n'
                "            return\n")
    add(f"\n\nasync def worker({signature}):\n" + take
        + indent(stale + call + "\n" + "queue.task_done()\n", "        "))
    return parts


def _timed_call(s: Scenario, args: str = "item") -> list[str]:
    """The call under the call timeout, inside worker()'s try (mirrors Service.timed_call)."""
    if abandoning(s):
        return [f"    call = call_downstream({args})",
                "    async with asyncio.timeout(TIMEOUT):",
                "        await asyncio.shield(call)  # a timeout stops the waiting, not the call"]
    return ["    async with asyncio.timeout(TIMEOUT):", f"        await downstream({args})"]


def _retry_loop(s: Scenario) -> list[str]:
    """worker()'s call with retries (mirrors Service.attempts): the permit is held for one
    attempt and let go for the backoff; the last failure is the item's outcome."""
    done = ["forget()"] if s.memory else []
    args = "item, attempt" if _lucky(s) else "item"  # a retry is a new call, with its own luck
    attempt = ["try:"]
    if s.timeout:
        attempt += [*_timed_call(s, args), "except TimeoutError:", '    failed = "timeout"', *_limiter_learns_failure(s)]
    else:
        attempt += [f"    await downstream({args})"]
    if s.rate_limit:
        attempt += ["except Throttled:", '    failed = "throttled"', *_limiter_learns_failure(s)]
    attempt += ["else:", '    log(f"{name} handled {item}")', *("    " + line for line in done), "    break"]
    if s.limit:
        attempt = [_permit(s), *("    " + line for line in attempt)]
    give_up = "if attempt == RETRIES or not budget.may_retry():" if s.retry_budget else "if attempt == RETRIES:"
    loop = [*attempt,
            give_up,
            '    log(f"{name} {failed} {item}")',
            *("    " + line for line in done),
            "    break",
            "attempt += 1",
            "delay = backoff(attempt, delay)",
            'log(f"{name} retry {item} in {delay:.3f}")',
            "await asyncio.sleep(delay)  # without the permit: others may call meanwhile"]
    return [*(["budget.first()"] if s.retry_budget else []),
            "attempt = 0",
            "delay = BACKOFF  # the last backoff (decorrelated jitter grows from it)",
            "while True:",
            *("    " + line for line in loop)]


def _main(s: Scenario, python: str) -> list[str]:
    """serve() and main() (mirrors Service.serve and the Engine's restarts)."""
    parts: list[str] = []
    add = parts.append
    closed = s.producer == "closed"
    if closed:
        start_producers = "producers = [tg.create_task(producer(queue)) for _ in range(PRODUCERS)]"
    else:
        start_producers = "producers = [tg.create_task(arrivals(queue))]"
    worker_args = f"queue, {_limiter_name(s)}" if s.limit else "queue"
    serve = [f"queue = {queue_class(s)}(maxsize=QUEUE_SIZE)"]
    if s.limit:
        serve.append(f"limiter = {LIMITER_CLASSES[s.limiter]}()" if s.limiter != "fixed" else
                     "semaphore = asyncio.Semaphore(LIMIT)")
    start_workers = ["    for n in range(WORKERS):",
                     f'        tg.create_task(worker(f"worker-{{n}}", {worker_args}))']
    if s.join == "at-start":  # the handbook as printed
        serve += [
            "async with asyncio.TaskGroup() as tg:",
            *(["    tg.create_task(producer(queue))"] if s.producers == 1 else
              ["    for _ in range(PRODUCERS):", "        tg.create_task(producer(queue))"]),
            *start_workers,
            "    # As printed: no task has run yet, nothing was put, so join() returns at once and",
            "    # shutdown() makes the producer's first put raise QueueShutDown, which the TaskGroup",
            "    # raises as an ExceptionGroup. The fix: await the producer before joining.",
            "    await queue.join()",
            "    queue.shutdown()",
        ]
    else:
        serve += [
            "async with asyncio.TaskGroup() as tg:",
            f"    {start_producers}",
            *start_workers,
            "    for task in producers:  # producing ends first: join() before that returns too early",
            "        await task",
            "    await queue.join()  # every item put has been taken and marked done",
        ]
        if python == "3.11":
            serve += ["    for _ in range(WORKERS):  # then one shutdown sentinel per worker",
                      "        await queue.put(None)"]
        else:
            serve += ["    queue.shutdown()  # then each worker's get() raises QueueShutDown"]
    serve = "\n".join(serve) + "\n"
    if s.memory:
        add(dedent('''
            async def serve():
                """One life of the service; an out-of-memory crash ends it early."""
        ''') + indent(serve, "    "))
        add(dedent('''
            async def main():
                global started, held, main_task
                started = asyncio.get_running_loop().time()
                main_task = asyncio.current_task()
                while True:
                    try:
                        await serve()
                        return
                    except* OutOfMemory:
                        log(f"out of memory: {held} items lost")
                        held = 0
                    await asyncio.sleep(RESTART)
                    log("restarted")
        '''))
    else:
        add("\n\nasync def main():\n"
            "    global started\n"
            "    started = asyncio.get_running_loop().time()\n"
            + indent(serve, "    "))
    add(dedent('''

        if __name__ == "__main__":
            asyncio.run(main())
    '''))
    return parts


def _two_blank_lines(source: str) -> str:
    """Two blank lines before each top-level def or class, as PEP 8 has it."""
    lines = source.split("\n")
    out: list[str] = []
    for line in lines:
        if line.startswith(("def ", "async def ", "class ", 'if __name__')):
            while out and out[-1] == "":
                out.pop()
            out.extend(["", ""])
        out.append(line)
    return "\n".join(out)
