"""The load sweep's wall time: a full sweep (20 points x 20,000 arrivals) per link, through the
process pool as the server runs it, and sequentially in this process for comparison. Prints
numbers; it is not a test. Target: under 10 s on the 2-core machine.

    python bench/sweep.py                         # the default links, pool of 1 and 2, 3 repeats
    python bench/sweep.py --workers 1 --repeats 5 'v=1&preset=retry-storm'
    python bench/sweep.py --profile 'v=1&preset=retry-storm'   # cProfile its slowest point
    python bench/sweep.py --presets --workers 1 --repeats 1 --no-sequential   # every preset
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import statistics
import time

from playground.web import sweep

LINKS = [
    "v=1&preset=webhook-ingestion",
    "v=1&preset=background-jobs",
    "v=1&preset=no-semaphore",
    "v=1&preset=retry-storm",
    "v=1&arrivals=poisson&rate=60&workers=4&limit=4&service_time=0.05&service_dist=exponential&queue=0",
]


async def pooled(link: str, arrivals: int) -> tuple[float, sweep.Sweep]:
    sweep._cache.clear()  # time the work, not the cache
    started = time.perf_counter()
    run = sweep.start(link, arrivals=arrivals)
    await run.wait()
    return time.perf_counter() - started, run


def sequential(link: str, arrivals: int) -> tuple[float, list[tuple[float, float]]]:
    """The same points one after another in this process; also each point's (seconds, rate)."""
    one = sweep.Sweep(link, arrivals=arrivals)
    sides = [one.a] + ([one.b] if one.b is not None else [])
    each = []
    for rate in one.rates:
        for scenario in sides:
            started = time.perf_counter()
            sweep.run_point(scenario.to_link(), rate, arrivals)
            each.append((time.perf_counter() - started, rate))
    return sum(seconds for seconds, _ in each), each


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("links", nargs="*", default=LINKS)
    parser.add_argument("--presets", action="store_true", help="every preset's link (comparisons too)")
    parser.add_argument("--arrivals", type=int, default=sweep.ARRIVALS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="pool sizes to time")
    parser.add_argument("--no-sequential", action="store_true")
    parser.add_argument("--profile", action="store_true", help="cProfile each link's slowest point")
    args = parser.parse_args()
    if args.presets:
        from playground.model.presets import PRESETS
        args.links = [f"v=1&preset={name}" for name in PRESETS]

    load = os.getloadavg()
    print(f"cpus {os.cpu_count()}  load avg {load[0]:.2f} {load[1]:.2f}  arrivals {args.arrivals}  "
          f"points {sweep.POINTS}  repeats {args.repeats} (median shown, all in brackets)")
    print(f"{'link':<44} {'pool':>5} {'median s':>9}  {'runs':<22} {'capped':>6}  {'slowest point':>13}",
          flush=True)
    for link in args.links:
        try:
            sweep.Sweep(link)
        except Exception as refused:  # a preset without an arrival rate to vary (asap, closed)
            print(f"{link[:44]:<44} {'':>5} {'-':>9}  (no sweep: {str(refused)[:70]})", flush=True)
            continue
        for workers in args.workers:
            sweep.shutdown()
            sweep.POOL_WORKERS = workers
            asyncio.run(pooled(link, 200))  # start the pool's processes outside the timing
            times, capped = [], 0
            for _ in range(args.repeats):
                elapsed, run = asyncio.run(pooled(link, args.arrivals))
                assert run.status == "done", (run.status, run.error)
                times.append(elapsed)
                capped = sum(1 for side in ("a", "b") for p in run.result[side] or () if p["capped"])
            runs = " ".join(f"{t:.2f}" for t in times)
            print(f"{link[:44]:<44} {workers:>5} {statistics.median(times):>9.2f}  [{runs:<20}] {capped:>6}",
                  flush=True)
        if not args.no_sequential:
            times = []
            for _ in range(args.repeats):
                total, each = sequential(link, args.arrivals)
                times.append(total)
            seconds, rate = max(each)
            runs = " ".join(f"{t:.2f}" for t in times)
            print(f"{link[:44]:<44} {'seq':>5} {statistics.median(times):>9.2f}  [{runs:<20}] {'':>6}  "
                  f"{seconds:.2f} s @ {rate / sweep.Sweep(link).capacity:.0%}")
        if args.profile:
            one = sweep.Sweep(link, arrivals=args.arrivals)
            _, each = sequential(link, args.arrivals)
            _, rate = max(each)
            profiler = cProfile.Profile()
            profiler.runcall(sweep.run_point, one.a.to_link(), rate, args.arrivals)
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
            print(f"-- cProfile of {link} at rate {rate}:\n" + out.getvalue())
    sweep.shutdown()


if __name__ == "__main__":
    main()
