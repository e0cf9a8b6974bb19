"""Our engine vs SimPy 4 on the same M/M/c/K model. Prints numbers; it is not a test.

Model: Poisson arrivals at rate λ, exponential service with mean 1/μ, c servers,
at most K items in the system (K − c waiting), arrivals that find the system full
are rejected, open producer, the same number of arrivals for both simulators.

- Engine: ``Engine(scenario, event_cap=10_000)`` with every piece of bookkeeping on
  (metrics windows, trace events into the bounded ring), scenario
  ``arrivals=poisson&producer=open&policy=reject&workers=c&limit=c&queue=K-c&items=N``,
  then ``engine.run()`` to the end.
- SimPy: the idiomatic model: a source process sleeping ``expovariate(λ)`` between
  arrivals, one process per arrival that is rejected if all c servers are busy and
  ``len(resource.queue) >= K - c``, else holds a ``simpy.Resource(capacity=c)`` for
  ``expovariate(μ)``.

Both draw arrival gaps from a ``random.Random`` stream seeded like the engine's and give
arrival k the service time the engine gives item k (``draws.luck``: a call's own uniform
number, then ``-log(1 - u) / μ``, as the engine computes it), so their counts should agree exactly, and their means to
float rounding.

Wall time is ``time.perf_counter()`` around construction + run; engine and SimPy
runs are interleaved (A B A B ...) so machine noise hits both; medians are printed.

    python bench/engine.py                 # 200k arrivals, ρ = 0.5 0.9 1.5, 5 repeats
    python bench/engine.py --quick         # 20k arrivals, 3 repeats
    python bench/engine.py --profile       # also a cProfile of one engine run
    python bench/engine.py --baseline /tmp/before   # also another checkout's engine, interleaved
    python bench/engine.py --workers 10 --queue 40  # M/M/10/50
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import importlib
import importlib.util
import io
import math
import platform
import pstats
import statistics
import sys
import time
from pathlib import Path

import simpy

from playground.model import theory
from playground.model.scenario import Scenario
from playground.sim import draws
from playground.sim.engine import Engine


def load_baseline(path: str):
    """Another checkout's ``playground`` package, imported as ``baseline_playground`` beside ours:
    returns (its Scenario, its Engine), to time the two engines side by side in one process."""
    root = Path(path) / "playground"
    spec = importlib.util.spec_from_file_location("baseline_playground", root / "__init__.py",
                                                  submodule_search_locations=[str(root)])
    package = importlib.util.module_from_spec(spec)
    sys.modules["baseline_playground"] = package
    spec.loader.exec_module(package)
    scenario = importlib.import_module("baseline_playground.model.scenario")
    engine = importlib.import_module("baseline_playground.sim.engine")
    return scenario.Scenario, engine.Engine


def scenario_for(rho: float, servers: int, queue: int, service_time: float, arrivals: int,
                 seed: int) -> Scenario:
    rate = rho * servers / service_time
    return Scenario.from_link(
        f"arrivals=poisson&producer=open&service_dist=exponential&policy=reject&capacity=0"
        f"&rate={rate!r}&workers={servers}&limit={servers}&queue={queue}"
        f"&service_time={service_time!r}&items={arrivals}&seed={seed}"
    )


# -- our engine ---------------------------------------------------------------------------


def run_engine(scenario: Scenario, engine_class=Engine) -> dict:
    engine = engine_class(scenario, event_cap=10_000)
    engine.run()
    s = engine.summary()
    assert s["finished"] and s["arrived"] == scenario.items, s
    return {
        "arrived": s["arrived"],
        "completed": s["completed"],
        "rejected": s["rejected"],
        "blocking": s["rejected"] / s["arrived"],
        "throughput": s["completed"] / s["sim_time"],
        "mean_in_system": s["mean_in_system"],
        "latency_mean": s["latency_mean"],
        "sim_time": s["sim_time"],
    }


# -- SimPy 4 -------------------------------------------------------------------------------


def run_simpy(scenario: Scenario) -> dict:
    lam = scenario.rate
    c = scenario.workers
    waiting_room = scenario.queue  # K - c
    n = scenario.items
    arrival_rng = draws.arrival_stream(scenario.seed)

    env = simpy.Environment()
    servers = simpy.Resource(env, capacity=c)
    stats = {"completed": 0, "rejected": 0, "latency_sum": 0.0}

    def customer(env, item):
        arrived = env.now
        if servers.count == c and len(servers.queue) >= waiting_room:
            stats["rejected"] += 1
            return
        with servers.request() as req:
            yield req
            yield env.timeout(-math.log(1.0 - draws.luck(scenario.seed, item, 0)) * scenario.service_time)
        stats["completed"] += 1
        stats["latency_sum"] += env.now - arrived

    def source(env):
        for item in range(n):
            yield env.timeout(arrival_rng.expovariate(lam))
            env.process(customer(env, item))

    env.process(source(env))
    env.run()
    return simpy_result(n, stats, env.now)


def run_simpy_lean(scenario: Scenario) -> dict:
    """The lean SimPy model: c worker processes taking items from one ``Store``, the source
    rejecting an arrival that finds K − c waiting. (The bar of issue 23: one process per
    worker, as the asyncio program has, not one per arrival.)"""
    lam = scenario.rate
    c = scenario.workers
    waiting_room = scenario.queue  # K - c
    n = scenario.items
    seed = scenario.seed
    mean = scenario.service_time
    arrival_rng = draws.arrival_stream(seed)
    luck = draws.luck
    log = math.log

    env = simpy.Environment()
    store = simpy.Store(env)
    waiting = store.items
    stats = {"completed": 0, "rejected": 0, "latency_sum": 0.0}

    def source(env):
        timeout = env.timeout
        expovariate = arrival_rng.expovariate
        put = store.put
        for item in range(n):
            yield timeout(expovariate(lam))
            if len(waiting) >= waiting_room:
                stats["rejected"] += 1
            else:
                put((item, env.now))

    def worker(env):
        timeout = env.timeout
        get = store.get
        while True:
            item, arrived = yield get()
            yield timeout(-log(1.0 - luck(seed, item, 0)) * mean)
            stats["completed"] += 1
            stats["latency_sum"] += env.now - arrived

    env.process(source(env))
    for _ in range(c):
        env.process(worker(env))
    env.run()
    return simpy_result(n, stats, env.now)


def simpy_result(n: int, stats: dict, now: float) -> dict:
    """A SimPy run's figures, in run_engine's shape."""
    completed = stats["completed"]
    return {
        "arrived": n,
        "completed": completed,
        "rejected": stats["rejected"],
        "blocking": stats["rejected"] / n,
        "throughput": completed / now,
        # Everyone has left by the end, so the time integral of the number in system
        # equals the sum of sojourn times (rejected items stay 0 s).
        "mean_in_system": stats["latency_sum"] / now,
        "latency_mean": stats["latency_sum"] / completed if completed else None,
        "sim_time": now,
    }


SIMPY_MODELS = {"lean": run_simpy_lean, "resource": run_simpy}


# -- measuring ------------------------------------------------------------------------------


def timed(fn, scenario):
    gc.collect()
    start = time.perf_counter()
    result = fn(scenario)
    return time.perf_counter() - start, result


def rel(x, ref):
    if x is None or ref is None:
        return float("nan")
    if ref == 0:
        return 0.0 if x == 0 else float("inf")
    return (x - ref) / ref


def profile_engine(scenario: Scenario, top: int = 15) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    run_engine(scenario)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arrivals", type=int, default=200_000, help="arrivals per run (default 200000)")
    parser.add_argument("--loads", type=float, nargs="+", default=[0.5, 0.9, 1.5],
                        help="per-server loads ρ = λ/(cμ) (default 0.5 0.9 1.5)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each simulator per load")
    parser.add_argument("--workers", type=int, default=4, help="servers c (default 4)")
    parser.add_argument("--queue", type=int, default=10, help="waiting room K - c (default 10)")
    parser.add_argument("--service-time", type=float, default=0.05, help="mean service time 1/μ (s)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--baseline", help="another checkout whose engine is timed too, interleaved")
    parser.add_argument("--quick", action="store_true", help="20k arrivals, 3 repeats")
    parser.add_argument("--simpy", choices=sorted(SIMPY_MODELS), default="lean",
                        help="the SimPy model: lean (c worker processes and a Store, the default) or "
                             "resource (one process per arrival holding a Resource)")
    parser.add_argument("--profile", action="store_true",
                        help="also print a cProfile (top 15 by tottime) of one engine run at the middle load")
    args = parser.parse_args(argv)
    if args.quick:
        args.arrivals, args.repeats = 20_000, 3

    c, q = args.workers, args.queue
    print(f"Python {platform.python_version()} ({platform.python_implementation()}) on "
          f"{platform.platform()}, {platform.machine()}, {platform.processor() or 'cpu ?'}")
    simpy_model = SIMPY_MODELS[args.simpy]
    print(f"SimPy {simpy.__version__} ({args.simpy} model); M/M/{c}/{c + q}, service mean {args.service_time} s, "
          f"{args.arrivals} arrivals, {args.repeats} interleaved repeats, medians; seed {args.seed}")
    print()

    baseline = load_baseline(args.baseline) if args.baseline else None
    head = (f"{'rho':>4} {'arrivals':>8} {'engine jobs/s':>13} {'SimPy jobs/s':>12} {'eng/SimPy':>9}")
    if baseline:
        head += f" {'baseline jobs/s':>15} {'eng/baseline':>12}"
    print(head)
    rows = []
    differs: set[float] = set()
    for rho in args.loads:
        scenario = scenario_for(rho, c, q, args.service_time, args.arrivals, args.seed)
        t_eng, t_simpy, t_base = [], [], []
        res_eng = res_simpy = None
        if baseline:
            base_scenario = baseline[0].from_link(scenario.to_link())
        for _ in range(args.repeats):
            dt, res_eng = timed(run_engine, scenario)
            t_eng.append(dt)
            dt, res_simpy = timed(simpy_model, scenario)
            t_simpy.append(dt)
            if baseline:
                dt, res_base = timed(lambda sc: run_engine(sc, baseline[1]), base_scenario)
                t_base.append(dt)
                if res_base != res_eng:  # a change of the draws (as common random numbers were)
                    differs.add(rho)
        if rho in differs:
            print(f"  (rho={rho:g}: the baseline's run differs from this one's: its draws changed; the "
                  "timing is of the same model, not the same run)")
        eng_rate = args.arrivals / statistics.median(t_eng)
        simpy_rate = args.arrivals / statistics.median(t_simpy)
        line = (f"{rho:>4g} {args.arrivals:>8} {eng_rate:>13,.0f} {simpy_rate:>12,.0f} "
                f"{eng_rate / simpy_rate:>8.2f}x")
        if baseline:
            base_rate = args.arrivals / statistics.median(t_base)
            line += f" {base_rate:>15,.0f} {eng_rate / base_rate:>11.2f}x"
        print(line, flush=True)
        rows.append((rho, scenario, res_eng, res_simpy, t_eng, t_simpy))

    print()
    print("Raw wall times (s), engine | SimPy:")
    for rho, _, _, _, t_eng, t_simpy in rows:
        print(f"  rho={rho:g}: " + " ".join(f"{t:.3f}" for t in t_eng) + " | "
              + " ".join(f"{t:.3f}" for t in t_simpy))

    print()
    print("Agreement with M/M/c/K (theory.mmck); rel = (sim - theory) / theory")
    metrics = (("blocking", "blocking"), ("throughput", "throughput"),
               ("mean_in_system", "mean_in_system"), ("latency_mean", "mean_latency"))
    print(f"{'rho':>4} {'metric':<15} {'theory':>11} {'engine':>11} {'rel':>8} {'SimPy':>11} {'rel':>8}")
    for rho, scenario, res_eng, res_simpy, _, _ in rows:
        th = theory.mmck(scenario.rate, scenario.service_time, c, c + q)
        for key, th_key in metrics:
            ref = getattr(th, th_key)
            print(f"{rho:>4g} {key:<15} {ref:>11.5g} {res_eng[key]:>11.5g} {rel(res_eng[key], ref):>+8.2%} "
                  f"{res_simpy[key]:>11.5g} {rel(res_simpy[key], ref):>+8.2%}")
        same = (res_eng["completed"], res_eng["rejected"]) == (res_simpy["completed"], res_simpy["rejected"])
        print(f"{'':>4} {'same counts':<15} {'':>11} {str(same):>11}  (engine {res_eng['completed']} done / "
              f"{res_eng['rejected']} rejected; SimPy {res_simpy['completed']} / {res_simpy['rejected']})")

    if args.profile:
        rho = args.loads[len(args.loads) // 2]
        scenario = scenario_for(rho, c, q, args.service_time, args.arrivals, args.seed)
        print()
        print(f"cProfile of one engine run, rho={rho:g}, top 15 by tottime:")
        print(profile_engine(scenario))
    return 0


if __name__ == "__main__":
    sys.exit(main())
