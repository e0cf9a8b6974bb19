"""Load test: N concurrent SSE clients against one server process, and a bare-SSE baseline.

For each target (the playground, then ``bench/bare_sse.py``) and each client count, this script
starts the server as a subprocess on a free port (one process, a fresh one per row), opens N
streams from this process over loopback, ramps them up in batches, lets them settle, and then
measures a steady window:

    python bench/load.py                                   # 500 clients, both targets, 10 s window
    python bench/load.py --clients 100,500,1000 --seconds 10
    python bench/load.py --clients 1000 --max-sessions 600 --targets playground   # the 503 path
    python bench/load.py --clients 500 --targets playground --profile              # + py-spy
    python bench/load.py --targets playground@/tmp/before,playground,bare   # before/after a change

The client side is deliberately thin: ``asyncio.open_connection``, a raw HTTP/1.1 request, and a
byte count of ``event: frame`` lines with the arrival time of each read that carried one. Sessions
are created with a raw ``POST /api/sessions`` too. This process competes with the server for the
same cores, so its own CPU share is printed next to the server's.

Columns (see bench/README.md): fps mean/min per client over the window, p50/p99/max gap between
consecutive frames of one client (all clients pooled), server and client CPU as % of one core
(from /proc/<pid>/stat and os.times), the rest of the machine's busy time in the same unit (other
processes, and kernel work charged to neither: /proc/stat), server RSS at the end of the window, the server's own p99 tick lateness (from /healthz,
playground only), and /healthz latency (p50/max) timed during the window.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
MARK = b"event: frame"
CLK_TCK = os.sysconf("SC_CLK_TCK")
CPUS = os.cpu_count() or 1


# /proc ----------------------------------------------------------------------------------------


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat(5)


def proc_rss_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process, in MB."""
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":")
                values[key] = int(value.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def machine_cpu() -> tuple[int, int]:
    """(busy, total) jiffies over all cores, from /proc/stat."""
    with open("/proc/stat") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    idle = parts[3] + parts[4]  # idle + iowait
    total = sum(parts[:8])  # user nice system idle iowait irq softirq steal
    return total - idle, total


def own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


# Raw HTTP ------------------------------------------------------------------------------------


async def http(port: int, method: str, path: str, body: bytes = b"", timeout: float = 10.0):
    """One request on its own connection (Connection: close): (status, body, seconds)."""
    started = time.perf_counter()

    async def go():
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            head = (f"{method} {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
            writer.write(head.encode() + body)
            data = await reader.read()  # the server closes after the response
        finally:
            writer.close()
        header, _, payload = data.partition(b"\r\n\r\n")
        status = int(header.split(b" ", 2)[1]) if header.startswith(b"HTTP/") else 0
        return status, payload

    status, payload = await asyncio.wait_for(go(), timeout)
    return status, payload, time.perf_counter() - started


class Stream:
    """One SSE client: the arrival time of every frame it got."""

    __slots__ = ("times", "status", "closed", "error", "first", "writer", "task")

    def __init__(self):
        self.times: list[float] = []
        self.status = 0
        self.closed = False  # the server ended the stream
        self.error: str | None = None
        self.first = asyncio.Event()
        self.writer = None
        self.task = None


async def run_stream(stream: Stream, port: int, path: str) -> None:
    try:
        reader, writer = await asyncio.open_connection(HOST, port)
        stream.writer = writer
        writer.write((f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
                      f"Accept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n").encode())
        head = await reader.readuntil(b"\r\n\r\n")
        stream.status = int(head.split(b" ", 2)[1])
        if stream.status != 200:
            stream.first.set()
            return
        times = stream.times
        read = reader.read
        now = time.monotonic
        keep = len(MARK) - 1
        tail = b""
        first = stream.first
        while True:
            data = await read(65536)
            if not data:
                stream.closed = True
                return
            n = data.count(MARK)
            if tail:  # a mark split across two reads
                n += (tail + data[:keep]).count(MARK)
            tail = data[-keep:]
            if n:
                t = now()
                if n == 1:
                    times.append(t)
                else:
                    times.extend([t] * n)
                if first is not None:
                    first.set()
                    first = None
    except asyncio.CancelledError:
        raise
    except Exception as error:  # noqa: BLE001 - recorded, reported as a count
        stream.error = type(error).__name__
    finally:
        stream.first.set()


# Servers -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_server(target: str, port: int, args) -> tuple[subprocess.Popen, object]:
    env = dict(os.environ)
    cwd = ROOT
    if target.startswith("playground"):
        # "playground@PATH" runs another checkout (say, the commit before a change)
        # side by side with this one: `python -m` imports the package from its cwd.
        _, _, other = target.partition("@")
        if other:
            cwd = Path(other).resolve()
            env["PYTHONPATH"] = str(cwd)
        command = [sys.executable, "-m", "playground", "--port", str(port)]
        env["PLAYGROUND_MAX_SESSIONS"] = str(args.max_sessions)
        env["PLAYGROUND_STATE"] = "none"  # each run starts empty, and leaves no state file
        env["PLAYGROUND_MAX_SESSIONS_PER_CLIENT"] = str(args.max_sessions)
        env["PLAYGROUND_MAX_STREAMS_PER_CLIENT"] = str(args.max_sessions)
    else:
        command = [sys.executable, str(ROOT / "bench" / "bare_sse.py"), "--port", str(port)]
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL)
    return process, log


async def wait_ready(port: int, process: subprocess.Popen, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode}")
        try:
            status, _, _ = await http(port, "GET", "/healthz", timeout=1.0)
            if status == 200:
                return
        except (OSError, asyncio.TimeoutError):
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the server did not answer /healthz in time")


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# One row -------------------------------------------------------------------------------------


def pct(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


async def open_clients(target: str, port: int, clients: int, args, refused: Counter) -> list[Stream]:
    """Create the sessions and open the streams, ``--ramp-batch`` at a time."""
    streams: list[Stream] = []
    body = json.dumps({"link": args.link}).encode()
    for start in range(0, clients, args.ramp_batch):
        count = min(args.ramp_batch, clients - start)
        if target.startswith("playground"):
            results = await asyncio.gather(
                *(http(port, "POST", "/api/sessions", body) for _ in range(count)),
                return_exceptions=True)
            paths = []
            for result in results:
                if isinstance(result, BaseException):
                    refused[f"error:{type(result).__name__}"] += 1
                    continue
                status, payload, _ = result
                if status == 201:
                    paths.append(json.loads(payload)["stream"])
                else:
                    refused[status] += 1
        else:
            paths = ["/stream"] * count
        batch = []
        for path in paths:
            stream = Stream()
            stream.task = asyncio.create_task(run_stream(stream, port, path))
            batch.append(stream)
        streams += batch
        if batch:  # wait for this batch's first frames before the next (bounded)
            try:
                await asyncio.wait_for(asyncio.gather(*(s.first.wait() for s in batch)),
                                       args.first_timeout)
            except asyncio.TimeoutError:
                pass
    return streams


async def time_healthz(port: int, window: float, every: float) -> tuple[list[float], list[dict]]:
    latencies, bodies = [], []
    deadline = time.monotonic() + window
    while time.monotonic() < deadline:
        try:
            status, payload, seconds = await http(port, "GET", "/healthz", timeout=5.0)
            latencies.append(seconds if status == 200 else float("inf"))
            if status == 200:
                bodies.append(json.loads(payload))
        except (OSError, asyncio.TimeoutError):
            latencies.append(float("inf"))
        await asyncio.sleep(every)
    return latencies, bodies


def start_profiler(pid: int, seconds: float, out: Path):
    try:
        return subprocess.Popen(["py-spy", "record", "-d", str(int(round(seconds))), "-p", str(pid),
                                 "-o", str(out), "--format", "raw", "--nonblocking", "--rate", "400"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except FileNotFoundError:
        print("  (py-spy is not installed: pip install py-spy)", file=sys.stderr)
        return None


def summarize_profile(path: Path, top: int = 20) -> str:
    """Top functions by self and total samples, from py-spy's raw (collapsed-stack) output."""
    own, total, samples = Counter(), Counter(), 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        samples += n
        frames = stack.split(";")
        own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
    if not samples:
        return "  (no samples)"
    lines = [f"  {samples} samples; top {top} by self time:"]
    lines += [f"  {100 * n / samples:5.1f}%  {frame}" for frame, n in own.most_common(top)]
    lines.append(f"  top {top} by total (inclusive) time:")
    lines += [f"  {100 * n / samples:5.1f}%  {frame}" for frame, n in total.most_common(top)]
    return "\n".join(lines)


async def run_row(target: str, clients: int, args) -> dict:
    port = free_port()
    process, log = start_server(target, port, args)
    refused: Counter = Counter()
    streams: list[Stream] = []
    row = {"target": target, "clients": clients}
    try:
        await wait_ready(port, process)
        ramp_started = time.monotonic()
        streams = await open_clients(target, port, clients, args, refused)
        row["ramp_s"] = round(time.monotonic() - ramp_started, 1)
        await asyncio.sleep(args.settle)

        profiler = None
        if args.profile:
            profile_path = Path(tempfile.gettempdir()) / f"load-{target}-{clients}.txt"
            profiler = start_profiler(process.pid, args.seconds, profile_path)
        health = asyncio.create_task(time_healthz(port, args.seconds, args.healthz_every))
        t0 = time.monotonic()
        server0, own0, box0 = proc_cpu_seconds(process.pid), own_cpu_seconds(), machine_cpu()
        await asyncio.sleep(args.seconds)
        t1 = time.monotonic()
        server1, own1, box1 = proc_cpu_seconds(process.pid), own_cpu_seconds(), machine_cpu()
        rss, hwm = proc_rss_mb(process.pid)
        latencies, bodies = await health
        if profiler is not None:
            _, err = profiler.communicate(timeout=args.seconds + 30)
            if profiler.returncode == 0 and profile_path.exists():
                row["profile"] = summarize_profile(profile_path)
                row["profile_file"] = str(profile_path)
            else:
                row["profile"] = f"  py-spy failed: {err.decode(errors='replace').strip()[-500:]}"
    finally:
        for stream in streams:
            if stream.task is not None:
                stream.task.cancel()
            if stream.writer is not None:
                stream.writer.close()
        if streams:
            await asyncio.gather(*(s.task for s in streams if s.task), return_exceptions=True)
        stop_server(process)
        log.seek(0)
        server_log = log.read().decode(errors="replace")
        log.close()
    if process.returncode not in (0, -signal.SIGTERM) or any(s.closed for s in streams):
        row["server_log_tail"] = server_log[-2000:]  # why the server ended streams or itself

    span = t1 - t0
    fps, gaps = [], []
    for stream in streams:
        if stream.status != 200:
            if stream.status:
                refused[stream.status] += 1
            elif stream.error:
                refused[f"error:{stream.error}"] += 1
            continue
        times = stream.times
        lo, hi = bisect.bisect_left(times, t0), bisect.bisect_right(times, t1)
        fps.append((hi - lo) / span)
        window = times[lo:hi]
        gaps.extend(b - a for a, b in zip(window, window[1:]))
    gaps.sort()
    latencies.sort()
    busy = CPUS * (box1[0] - box0[0]) / max(1, box1[1] - box0[1])  # in cores
    late = [b.get("tick_lateness", {}).get("p99_ms") for b in bodies if "tick_lateness" in b]
    row.update({
        "streams": len(fps),
        "refused_503": refused.pop(503, 0),
        "other_failures": dict(refused),
        "closed_by_server": sum(1 for s in streams if s.closed),
        "fps_mean": sum(fps) / len(fps) if fps else 0.0,
        "fps_min": min(fps) if fps else 0.0,
        "gap_p50_ms": 1000 * pct(gaps, 0.50) if gaps else None,
        "gap_p99_ms": 1000 * pct(gaps, 0.99) if gaps else None,
        "gap_max_ms": 1000 * gaps[-1] if gaps else None,
        "server_cpu_pct": 100 * (server1 - server0) / span,
        "client_cpu_pct": 100 * (own1 - own0) / span,
        "machine_busy_pct": 100 * busy,
        "other_cpu_pct": 100 * busy - 100 * (server1 - server0 + own1 - own0) / span,
        "server_rss_mb": rss,
        "server_hwm_mb": hwm,
        "tick_late_p99_ms": max(late) if late else None,
        "healthz_n": len(latencies),
        "healthz_p50_ms": 1000 * pct(latencies, 0.5) if latencies else None,
        "healthz_max_ms": 1000 * latencies[-1] if latencies else None,
        "window_s": span,
    })
    return row


# Output --------------------------------------------------------------------------------------

COLUMNS = [
    ("target", "target", "{}"),
    ("clients", "clients", "{}"),
    ("streams", "streams", "{}"),
    ("503", "refused_503", "{}"),
    ("closed", "closed_by_server", "{}"),
    ("fps mean", "fps_mean", "{:.2f}"),
    ("fps min", "fps_min", "{:.2f}"),
    ("gap p50", "gap_p50_ms", "{:.1f}"),
    ("gap p99", "gap_p99_ms", "{:.1f}"),
    ("gap max", "gap_max_ms", "{:.0f}"),
    ("srv cpu%", "server_cpu_pct", "{:.0f}"),
    ("cli cpu%", "client_cpu_pct", "{:.0f}"),
    ("other cpu%", "other_cpu_pct", "{:.0f}"),
    ("rss MB", "server_rss_mb", "{:.0f}"),
    ("late p99", "tick_late_p99_ms", "{:.0f}"),
    ("hz p50", "healthz_p50_ms", "{:.1f}"),
    ("hz max", "healthz_max_ms", "{:.1f}"),
]


def fmt(row: dict, key: str, spec: str) -> str:
    value = row.get(key)
    if value is None:
        return "-"
    if isinstance(value, float) and value == float("inf"):
        return "timeout"
    return spec.format(value)


def table(rows: list[dict]) -> str:
    cells = [[title for title, _, _ in COLUMNS]]
    cells += [[fmt(row, key, spec) for _, key, spec in COLUMNS] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(COLUMNS))]
    lines = []
    for n, r in enumerate(cells):
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


async def main_async(args) -> list[dict]:
    rows = []
    for target in args.targets:
        for clients in args.clients:
            print(f"# {target}, {clients} clients: ramping up ...", file=sys.stderr, flush=True)
            row = await run_row(target, clients, args)
            rows.append(row)
            notes = []
            if row["other_failures"]:
                notes.append(f"failures {row['other_failures']}")
            if row["closed_by_server"]:
                notes.append(f"{row['closed_by_server']} streams closed by the server")
            print(f"#   ramp {row.get('ramp_s')} s, {row['streams']} streams, "
                  f"{row['healthz_n']} /healthz timed, RSS peak {row['server_hwm_mb']:.0f} MB"
                  + (f"; {'; '.join(notes)}" if notes else ""), file=sys.stderr, flush=True)
            if "server_log_tail" in row:
                print(row["server_log_tail"], file=sys.stderr)
            if "profile" in row:
                print(f"# py-spy profile of the server ({target}, {clients} clients, "
                      f"{row.get('profile_file', '')}):\n{row['profile']}", file=sys.stderr, flush=True)
            await asyncio.sleep(1)  # let sockets in TIME_WAIT and the CPU settle between rows
    return rows


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="N SSE clients against the playground and a bare "
                                                 "SSE baseline; prints one row per (target, clients).")
    parser.add_argument("--clients", default="500",
                        help="client counts, comma-separated (default 500), e.g. 100,500,1000")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window (default 10)")
    parser.add_argument("--link", default="v=1", help="the scenario of every session (default v=1)")
    parser.add_argument("--targets", default="playground,bare",
                        help="playground, bare or both (default playground,bare)")
    parser.add_argument("--max-sessions", type=int, default=100_000,
                        help="PLAYGROUND_MAX_SESSIONS and _PER_CLIENT for the server (default "
                             "100000, so nothing is refused); lower it to exercise the 503 path")
    parser.add_argument("--ramp-batch", type=int, default=50, help="streams opened at a time (default 50)")
    parser.add_argument("--first-timeout", type=float, default=5.0,
                        help="seconds to wait for a batch's first frames before the next (default 5)")
    parser.add_argument("--settle", type=float, default=2.0,
                        help="seconds after the ramp before the window starts (default 2)")
    parser.add_argument("--healthz-every", type=float, default=0.5,
                        help="pause between timed /healthz requests in the window (default 0.5 s)")
    parser.add_argument("--profile", action="store_true",
                        help="py-spy the server during each window and print its top functions "
                             "(py-spy costs the box some CPU: take the table from a run without it)")
    parser.add_argument("--json", metavar="PATH", help="also write the rows as JSON to PATH")
    args = parser.parse_args(argv)
    try:
        args.clients = [int(c) for c in args.clients.split(",") if c.strip()]
    except ValueError:
        parser.error(f"--clients takes whole numbers separated by commas; got {args.clients!r}")
    if not args.clients or min(args.clients) < 1:
        parser.error("--clients needs at least one count of 1 or more")
    args.targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    if not args.targets or any(t != "bare" and t.partition("@")[0] != "playground" for t in args.targets):
        parser.error("--targets takes playground, playground@PATH (another checkout), bare")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(args.clients) * 2 + 256
    if soft < want:  # one socket per stream, plus the short-lived requests
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, want), hard))
    before = machine_cpu()
    time.sleep(1.0)
    after = machine_cpu()
    idle_busy = 100 * CPUS * (after[0] - before[0]) / max(1, after[1] - before[1])
    print(f"# the machine was {idle_busy:.0f}% busy (% of one core, {CPUS} cores) before the run"
          + ("; something else is running: the numbers below share the CPU with it"
             if idle_busy > 20 else ""), file=sys.stderr, flush=True)
    started = time.monotonic()
    rows = asyncio.run(main_async(args))
    print(f"\nload: {', '.join(map(str, args.clients))} clients x {args.targets}, link {args.link!r}, "
          f"{args.seconds:g} s window, {CPUS} CPUs, server and clients on one machine "
          f"({time.monotonic() - started:.0f} s in all; machine {idle_busy:.0f}% busy before it)")
    print(table(rows))
    if args.json:
        clean = [{k: v for k, v in row.items() if k != "profile"} for row in rows]
        Path(args.json).write_text(json.dumps(clean, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
