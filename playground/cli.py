"""The command line: run a scenario headless, print its trace or its asyncio program.

    backpressure-playground [serve] [--host H] [--port P] [limits...]
    backpressure-playground present [LINK | --lesson NAME] [--no-browser] [--port P] [limits...]
    backpressure-playground run LINK [--until SECONDS] [--json]
    backpressure-playground trace LINK [--until SECONDS]
    backpressure-playground code LINK
    backpressure-playground presets

LINK is anything `Scenario.from_link` takes: a query (``queue=5&policy=reject``),
``preset=NAME`` or a whole URL pasted from the browser. Errors are sentences on stderr
with exit status 2, the way argparse reports its own; stdout then stays empty.

`main(argv)` returns the exit status instead of exiting, so tests call it in-process.
With no command it starts the web server (``serve``).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import sys
from collections.abc import Callable, Sequence

from playground.model import script
from playground.model.compare import Comparison
from playground.model.script import RunLink
from playground.model.presets import PRESETS
from playground.model.scenario import Scenario, ScenarioError
from playground.program import codegen
from playground.sim import trace
from playground.sim.engine import Engine, check_hiccup
from playground.web import export

PROG = "backpressure-playground"

#: Sim seconds the trace command advances between prints: small enough that a long or
#: endless trace streams instead of piling up in memory, large enough to print in bulk.
TRACE_CHUNK = 1.0


class UsageError(Exception):
    """A refused command line; ``str(e)`` is the sentence to print."""


# Commands ------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    run = _run_link(args)
    comparison = run.comparison
    scenario = comparison.a
    until = _until(args.until, scenario, run)
    every = _every(args.every)
    runs = [_run_headless(s, until, run.log(side), every, keep=bool(every or args.csv))
            for side, s in (("a", comparison.a), ("b", comparison.b)) if s is not None]
    if args.csv:
        if comparison.b is None:
            _write(args.csv, export.windows_csv(runs[0][0]))
        else:
            _write(args.csv, export.compared_windows_csv(runs[0][0], runs[1][0]))
    if comparison.b is None:
        summary = runs[0][1]
        if args.json:
            print(json.dumps({**summary, "link": run.to_link()}))
        else:
            print(format_summary(scenario, summary, run.to_link()))
        return 0
    (_, a), (_, b) = runs
    if args.json:
        print(json.dumps({"a": a, "b": b, "link": run.to_link(), "label": comparison.label()}))
    else:
        print(format_comparison(comparison, a, b, run.to_link()))
    return 0


def _run_link(args: argparse.Namespace) -> RunLink:
    """The command's link, with its log (``do=``), moment (``at=``) and ``--hiccup`` entries."""
    run = RunLink.from_link(args.link)
    hiccups = _hiccups(getattr(args, "hiccup", None), None)
    if hiccups:
        entries = sorted([*run.entries, *(script.Entry(at, None, control) for at, control in hiccups)],
                         key=lambda entry: entry.t)  # stable: the link's entries first at one instant
        run = RunLink.of(run.comparison, entries, run.at)
    return run


def _run_headless(scenario: Scenario, until, log, every, keep: bool) -> tuple[Engine, dict]:
    """Run one service headless to ``until``, applying its log; (engine, summary)."""
    # Nobody reads the trace here; the metrics windows are kept whole only when asked for.
    engine = Engine(scenario, event_cap=0, keep_windows=10**7 if keep else 240)
    engine.play(log)
    engine.run(until)
    _say_skipped(engine)
    summary = engine.summary()
    if every:
        summary["series"] = _series(engine, every)
    return engine, summary


def _say_skipped(engine: Engine, tag: str = "") -> None:
    for at, control, why in engine.skipped:
        entry = script.Entry(at, None, control).text()
        print(f"{PROG}: {tag}the log's entry {entry} was skipped when the run reached it: {why}", file=sys.stderr)


def cmd_trace(args: argparse.Namespace) -> int:
    run = _run_link(args)
    comparison = run.comparison
    until = _until(args.until, comparison.a, run)
    # One engine, or A and B side by side: each line then starts with its service's letter, and
    # lines of the same instant come A's first.
    services = [("", "a", comparison.a)] if comparison.b is None else [("A ", "a", comparison.a),
                                                                        ("B ", "b", comparison.b)]
    runs = []
    for tag, side, scenario in services:
        engine = Engine(scenario, event_cap=None)  # read every chunk
        engine.play(run.log(side))
        runs.append((tag, engine))
    out = sys.stdout
    now = 0.0
    while True:
        target = now + TRACE_CHUNK
        if until is not None:
            target = min(target, until)
        lines = []
        for tag, engine in runs:
            if engine.finished:
                continue
            engine.run(target)
            lines += [(event[0], tag + trace.line(event)) for event in engine.read_events()]
        if lines:
            lines.sort(key=lambda line: line[0])  # stable: A's first at the same instant
            out.write("".join(text + "\n" for _, text in lines))
            out.flush()
        now = target
        if all(engine.finished or (until is not None and engine.now >= until) for _, engine in runs):
            for tag, engine in runs:
                _say_skipped(engine, tag)
            return 0
        for tag, engine in runs:
            if until is None and not engine.finished and engine.next_event_time() is None and not engine.script:
                # A finite run that can make no more progress: nothing will ever happen again.
                raise UsageError(f"the run{' of ' + tag.strip() if tag else ''} stopped making progress "
                                 f"at {engine.now:.3f} s before it finished.")


def cmd_code(args: argparse.Namespace) -> int:
    run = RunLink.from_link(args.link)
    comparison = run.comparison
    if run.entries:
        print(f"{PROG}: the program is the run's start; the link's do= entries "
              f"({script.format_do(list(run.entries[:3]))}{', ...' if len(run.entries) > 3 else ''}) are controls "
              "applied during the run, which a program does not script.", file=sys.stderr)
    if args.python is None:
        # The variant that runs where this command runs: a user on 3.11 who pipes the program
        # into python3 gets one that works (a 3.13 program there exits with one sentence).
        needs_313 = any(s is not None and codegen.needs_python_313(s) for s in (comparison.a, comparison.b))
        args.python = "3.13" if sys.version_info >= (3, 13) or needs_313 else "3.11"
    if comparison.b is None:
        if args.diff:
            raise UsageError("--diff compares service A's program with B's: give B's keys as b.KEY=VALUE "
                             "(e.g. preset=webhook-ingestion&b.policy=drop-oldest).")
        source = codegen.generate(comparison.a, python=args.python, ideal_clock=args.ideal_clock)
        sys.stdout.write(source if source.endswith("\n") else source + "\n")
        return 0
    if not args.diff:
        raise UsageError("this link compares two services (it has b. keys): add --diff for the difference "
                         "between their programs, or drop the b. keys for one program.")
    sys.stdout.writelines(codegen.diff(comparison.a, comparison.b, python=args.python,
                                       ideal_clock=args.ideal_clock))
    return 0


def cmd_presets(args: argparse.Namespace) -> int:
    rows = [(preset.name, preset.title, preset.link) for preset in PRESETS.values()]
    print(_table([("name", "title", "link"), *rows]))
    return 0


# Parsing -------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Watch an async service take load: bounded queues, semaphores, timeouts and "
        "drop policies, simulated exactly as the asyncio program they stand for.",
        epilog="LINK is a share link's query (queue=5&policy=reject), preset=NAME, or a whole URL "
        "pasted from the browser. Quote it in the shell: & separates commands there.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, handler: Callable[[argparse.Namespace], int], help: str):
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(handler=handler)
        return sub

    def link(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("link", metavar="LINK", help="the scenario: query, preset=NAME or URL")

    def until(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--until", metavar="SECONDS",
            help="stop at this sim time (needed when the link runs endlessly, i.e. items=0)",
        )

    def hiccup(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--hiccup", metavar="AT:FACTOR:SECONDS", action="append",
            help="at sim time AT, make the downstream FACTOR times slower for SECONDS (may repeat)",
        )

    run = command("run", cmd_run, "run a scenario headless and print a summary of the run")
    link(run)
    until(run)
    hiccup(run)
    run.add_argument("--every", metavar="SECONDS",
                     help="with the summary, the run as a series of spans this long (goodput, "
                     "throughput, arrivals a second, outcomes)")
    run.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    run.add_argument("--csv", metavar="FILE",
                     help="also write the run's metrics windows (every 0.5 s) to FILE as CSV, "
                     "the columns the page charts")

    trace_ = command("trace", cmd_trace, "print the event trace, one event a line, as it happens")
    link(trace_)
    until(trace_)
    hiccup(trace_)

    code = command("code", cmd_code, "print the asyncio program the scenario stands for")
    link(code)
    code.add_argument("--ideal-clock", action="store_true",
                      help="run it on an ideal clock (appended, standard library only), so that "
                      "'python program.py [SECONDS]' prints the playground's trace exactly")
    code.add_argument("--diff", action="store_true",
                      help="for a link with b. keys: the unified diff of service A's program and B's")
    code.add_argument("--python", choices=codegen.PYTHONS, default=None,
                      help="the variant: 3.13 shuts the queue down with queue.shutdown() (the "
                      "handbook's idiom); 3.11 uses one None sentinel per worker (for Python 3.11 "
                      "and 3.12). Both print the same trace. Default: the one for the Python this "
                      "command runs under (3.13 for a scenario that needs it)")

    command("presets", cmd_presets, "list the presets: name, title and link")

    serve = command("serve", cmd_serve, "start the web server (the default command)")
    add_server_options(serve)
    add_server_options(parser)

    present = command("present", cmd_present,
                      "start the web server for a class: listen on the network (--host 0.0.0.0 unless "
                      "given), print the presenter's and the phones' addresses, open the presenter")
    present.add_argument("link", metavar="LINK", nargs="?", default=None,
                         help="the scenario to present (default: the lesson below)")
    present.add_argument("--lesson", metavar="NAME", default=None,
                         help="present a lesson (default: handbook-in-fifteen-minutes, when no LINK)")
    present.add_argument("--no-browser", action="store_true", help="print the address, do not open a browser")
    add_server_options(present)
    return parser


#: Server options: (option, settings field, help). Each also reads PLAYGROUND_<FIELD>;
#: the help ends with the field's default, read from Settings.
SERVER_OPTIONS = [
    ("--host", "host", "address to listen on"),
    ("--port", "port", "port to listen on"),
    ("--max-sessions", "max_sessions", "live sessions at most; past it new ones get 503"),
    ("--max-sessions-per-client", "max_sessions_per_client", "live sessions per client address"),
    ("--max-streams-per-session", "max_streams_per_session", "open frame streams per session"),
    ("--max-streams-per-client", "max_streams_per_client", "open frame streams per client address"),
    ("--max-rooms", "max_rooms", "rooms (a class watching one session) at most; past it 503"),
    ("--max-rooms-per-client", "max_rooms_per_client", "live rooms one client address may hold; past it 429"),
    ("--max-room-viewers", "max_room_viewers", "viewers one room may have, and viewer streams per address"),
    ("--frame-rate", "frame_rate", "frames per second per stream"),
    ("--grace", "grace", "seconds an unwatched session lives on"),
    ("--lifetime", "lifetime", "seconds a session lives at most"),
    ("--tick-budget", "tick_budget", "engine callbacks one session may run per frame"),
    ("--max-items", "max_items", "items a simulated service may hold with no memory limit"),
    ("--send-timeout", "send_timeout", "seconds a frame may take to send before its stream is closed"),
    ("--header-timeout", "header_timeout", "seconds a client has to send a request's headers"),
    ("--body-timeout", "body_timeout", "seconds a client has to send a request's body"),
    ("--max-body", "max_body", "bytes a request body may have; past it 413"),
    ("--socket-send-buffer", "socket_send_buffer", "bytes of kernel send buffer per connection"),
    ("--forwarded-allow-ips", "forwarded_allow_ips",
     "proxies whose X-Forwarded-For names the client, comma-separated, or *"),
    ("--state", "state", "SQLite file live sessions and rooms are kept in across restarts, or none"),
]


def add_server_options(parser: argparse.ArgumentParser) -> None:
    from playground.web.settings import Settings

    from playground.web.store import default_path

    for option, field, help in SERVER_OPTIONS:
        default = str(default_path()) if field == "state" else getattr(Settings, field)
        shown = f"{default:g}" if isinstance(default, float) else str(default) or "none"
        parser.add_argument(option, dest=field, metavar=field.split("_")[-1].upper(), default=None,
                            help=f"{help} (default {shown}); env PLAYGROUND_{field.upper()}")


def cmd_serve(args: argparse.Namespace, host: str | None = None, presenting: str | None = None) -> int:
    """Serve; ``host`` is the listening address when neither --host nor PLAYGROUND_HOST says one,
    and ``presenting`` the presenter's path to print (and open) once the server listens."""
    from playground.web import addresses
    from playground.web.app import create_app
    from playground.web.serving import ListenError, listen, serve
    from playground.web.settings import Settings, SettingsError
    from playground.web.store import default_path

    options = {field: getattr(args, field, None) for _, field, _ in SERVER_OPTIONS}
    if options["host"] is None and "PLAYGROUND_HOST" not in os.environ:
        options["host"] = host
    if options["state"] is None and "PLAYGROUND_STATE" not in os.environ:
        options["state"] = str(default_path())  # a server keeps its runs unless told not to
    try:
        settings = Settings.from_env(**options)
    except SettingsError as error:
        raise UsageError(str(error)) from None
    try:
        sockets = listen(settings)  # first, so a port in use is a sentence, not a traceback
    except ListenError as error:
        raise UsageError(str(error)) from None
    app = create_app(settings)
    # Hundreds of simulations make many short-lived objects; the collector's
    # default thresholds then run full collections often enough to stall every
    # stream at once. Collect less often (cycles are still collected), and keep
    # the objects made at start-up out of every collection.
    gc.set_threshold(100_000, 50, 1000)
    gc.freeze()
    port = sockets[0].getsockname()[1]  # the one chosen, for --port 0
    here, *network = addresses.openable_urls(settings.host, port)
    if presenting is None:
        elsewhere = f"; from another machine: {', '.join(url + '/' for url in network)}" if network else ""
        print(f"Backpressure Playground: open {here}/{elsewhere} (Ctrl-C stops it)", flush=True)
    else:
        print(f"Backpressure Playground: on the projector, open {here}{presenting}", flush=True)
        if network:
            print(f"Phones join at {network[0]}/r/CODE (the code and its QR are on the projector)", flush=True)
        else:
            print("No phone can reach this server: it listens only on this computer (--host "
                  f"{settings.host}), or the computer has no network address.", flush=True)
        if not getattr(args, "no_browser", False):
            _open_browser_soon(f"{here}{presenting}")
    try:
        serve(app, settings, sockets)
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C after a clean shutdown
        pass
    return 0


def cmd_present(args: argparse.Namespace) -> int:
    from urllib.parse import quote

    from playground.teach import course

    if args.link is not None and args.lesson is not None:
        raise UsageError("present takes a LINK or --lesson NAME, not both.")
    if args.link is not None:
        link = RunLink.from_link(args.link).to_link()  # refused here with its sentence, not on the page
        path = f"/present?{link}"
    else:
        name = args.lesson or "handbook-in-fifteen-minutes"
        if course.lesson(name) is None:
            raise UsageError(f"there is no lesson {name!r}; there is {', '.join(course.lessons())}.")
        path = f"/present?lesson={quote(name)}"
    return cmd_serve(args, host="0.0.0.0", presenting=path)


def _open_browser_soon(url: str) -> None:
    """Open ``url`` in the default browser once the server is listening (it is: the sockets are
    bound before serving starts), from a thread so a slow browser start does not hold it."""
    import threading
    import webbrowser

    threading.Timer(0.5, webbrowser.open, args=(url,)).start()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 itself on a malformed command line
    handler = getattr(args, "handler", None)
    if handler is None:
        handler = cmd_serve  # no command: start the web server
    try:
        return handler(args)
    except (ScenarioError, UsageError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`... | head`): stop quietly. Point stdout at devnull so the
        # interpreter's final flush does not complain again (Python's signal docs recipe).
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass  # stdout has no file descriptor (captured in a test): nothing to flush
        return 1


def _write(path: str, text: str) -> None:
    """Write ``text`` to ``path`` ('-' is stdout), or say in one sentence why it cannot be."""
    if path == "-":
        sys.stdout.write(text)
        return
    try:
        with open(path, "w", encoding="utf-8", newline="") as file:
            file.write(text)
    except OSError as error:
        raise UsageError(f"--csv could not write {path!r}: {error.strerror or error}.") from None


def _every(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        every = float(raw)
    except ValueError:
        every = math.nan
    if not (0.5 <= every <= 3600) or every % 0.5:
        raise UsageError(f"--every must be a multiple of 0.5 s (the metrics window) from 0.5 to 3600; "
                         f"got {raw!r}.")
    return every


def _series(engine: Engine, every: float) -> list[dict]:
    """The run in spans of ``every`` seconds: per-second rates and counts of each span."""
    spans: dict[int, list] = {}
    for window in engine.metrics.windows:
        spans.setdefault(int(window.start // every), []).append(window)
    series = []
    for index in sorted(spans):
        windows = spans[index]
        seconds = sum(w.end - w.start for w in windows)
        outcomes = {key: sum(w.outcomes[key] for w in windows) for key in windows[0].outcomes}
        series.append({
            "start": index * every, "end": index * every + seconds,
            "arrival_rate": sum(w.arrived for w in windows) / seconds,
            "goodput": outcomes["completed"] / seconds,
            "throughput": sum(w.calls_done for w in windows) / seconds,
            "outcomes": outcomes,
        })
    return series


def _hiccups(values: list[str] | None, until: float | None) -> list[tuple[float, dict]]:
    """--hiccup AT:FACTOR:SECONDS options as (sim time, hiccup control), in time order."""
    hiccups = []
    for value in values or []:
        parts = value.split(":")
        try:
            at, factor, seconds = (float(part) for part in parts)
            if len(parts) != 3 or not math.isfinite(at) or at < 0:
                raise ValueError
        except ValueError:
            raise UsageError(f"--hiccup takes AT:FACTOR:SECONDS (sim time, slowdown, length), for "
                             f"example 30:10:5; got {value!r}.") from None
        if until is not None and at > until:
            raise UsageError(f"--hiccup {value} starts at {at:g} s, after the run stops (--until {until:g}).")
        try:
            check_hiccup(factor, seconds)
        except ScenarioError as error:
            raise UsageError(f"--hiccup {value}: {error}") from None
        hiccups.append((at, {"action": "hiccup", "factor": factor, "seconds": seconds}))
    return sorted(hiccups, key=lambda hiccup: hiccup[0])


def _until(raw: str | None, scenario: Scenario, run: RunLink | None = None) -> float | None:
    """The --until sim time as a float (the link's at= if it has one), or None for 'to the end
    of a finite run'."""
    if raw is None and run is not None and run.at is not None:
        return run.at
    if raw is None:
        drains = run is not None and any(entry.control.get("action") == "drain" for entry in run.entries)
        if scenario.items == 0 and not drains:
            raise UsageError(
                "this scenario runs endlessly (items=0); pass --until SECONDS to say when to stop, "
                "or give the link items=N."
            )
        return None
    try:
        until = float(raw)
    except ValueError:
        until = math.nan
    if not math.isfinite(until) or until < 0:
        raise UsageError(f"--until must be a finite number of seconds, 0 or more; got {raw!r}.")
    return until


# Output --------------------------------------------------------------------------------


def format_summary(scenario: Scenario, summary: dict, link: str | None = None) -> str:
    """The human summary of a run: one aligned table."""
    return _table([("link", link or scenario.to_link()), *_summary_rows((scenario,), summary)])


def format_comparison(comparison: Comparison, a: dict, b: dict, link: str | None = None) -> str:
    """Two runs on the same arrivals, side by side: one row a measure, A's and B's columns."""
    scenarios = (comparison.a, comparison.b)
    rows_a, rows_b = _summary_rows(scenarios, a), _summary_rows(scenarios, b)
    return "\n".join([f"link            {link or comparison.to_link()}", comparison.label(), ""]) + "\n" + _table(
        [("", "A", "B"), *((name, value_a, value_b) for (name, value_a), (_, value_b) in zip(rows_a, rows_b))])


def _summary_rows(scenarios: Sequence[Scenario], summary: dict) -> list[tuple[str, str]]:
    """A run's measures as (name, value) rows; a measure only some scenarios can have is shown
    when any of ``scenarios`` has it (so compared runs get the same rows)."""
    def uses(key: str) -> bool:
        return any(getattr(s, key) for s in scenarios)

    def ms(seconds: float | None) -> str:
        return "-" if seconds is None else f"{seconds * 1000:.1f} ms"

    end = "finished" if summary["finished"] else "stopped"
    rows = [
        ("sim time", f"{summary['sim_time']:.3f} s ({end})"),
        ("arrived", str(summary["arrived"])),
        ("completed", str(summary["completed"])),
        ("rejected", str(summary["rejected"])),
        ("dropped", str(summary["dropped"])),
        ("put timeouts", str(summary["put_timeouts"])),
        ("stale", str(summary["stale"])),
        ("call timeouts", str(summary["timeouts"])),
        *([("throttled", str(summary["throttled"]))] if uses("rate_limit") else []),
        ("lost (crash)", str(summary["lost"])),
        ("in system", str(summary["in_system"])),
    ]
    if uses("rate_limit") or uses("retries"):
        rows += [("calls attempted", str(summary["attempts"])), ("retries", str(summary["retries"]))]
    if uses("client_retries"):
        rows.append(("request retries", str(summary["request_retries"])))
    if uses("memory"):
        rows.append(("crashes", str(summary["crashes"])))
    rows += [
        ("throughput", f"{summary['throughput']:.2f} items/s"),
        ("latency mean", ms(summary["latency_mean"])),
        ("latency p50", ms(summary["latency_p50"])),
        ("latency p95", ms(summary["latency_p95"])),
        ("latency p99", ms(summary["latency_p99"])),
        ("mean in system", f"{summary['mean_in_system']:.2f} items"),
    ]
    return rows


def _table(rows: Sequence[Sequence[str]]) -> str:
    """Rows as left-aligned columns; the last column is not padded."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths)), row[-1]]) for row in rows
    )
