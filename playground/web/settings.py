"""Server settings: limits and rates, from the command line or the environment.

Every setting has an environment variable ``PLAYGROUND_<NAME>`` (for example
``PLAYGROUND_MAX_SESSIONS=200``) and a command-line option ``--max-sessions``;
the option wins.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields


class SettingsError(ValueError):
    """A setting was refused; ``str(e)`` names it, its value and what is allowed."""


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    #: Live sessions in this process; past it new sessions get 503.
    max_sessions: int = 1000
    #: Live sessions per client address. A class of 60 behind one school NAT
    #: address must each get their own; the per-session work budget, not this
    #: cap, is what keeps one session from slowing the others.
    max_sessions_per_client: int = 100
    #: Open frame streams per session (a tab needs one; a reload briefly two).
    max_streams_per_session: int = 4
    #: Open frame streams per client address.
    max_streams_per_client: int = 200
    #: Rooms (a class watching one session) in this process; past it 503.
    max_rooms: int = 50
    #: Live rooms one client address may hold; past it 429 (a teacher needs one, a spare or two).
    max_rooms_per_client: int = 3
    #: Viewers one room may have: a lecture hall. Also the viewer streams one address may hold
    #: (a hall behind one school address); viewers do not count against max_streams_per_client.
    max_room_viewers: int = 1000
    #: Frames per second each stream gets.
    frame_rate: float = 20.0
    #: Seconds a session with no open stream lives on before it is reaped.
    grace: float = 30.0
    #: Seconds a session may live at most.
    lifetime: float = 7200.0
    #: Simulation work one session may do per frame, in engine callbacks (about
    #: 4 µs each, so ~4 ms). Counted in callbacks, not instants: one instant may
    #: hold any amount of work. A session that needs more falls behind real time.
    tick_budget: int = 1000
    #: Items one simulated service may hold when the scenario sets no memory
    #: limit; past it the run halts with a sentence (the sandbox's own limit).
    max_items: int = 50_000
    #: Control requests per session: a burst of this many, refilled per second.
    control_burst: int = 30
    control_rate: float = 10.0
    #: Largest request body accepted, in bytes.
    max_body: int = 4096
    #: Seconds a frame may take to send before the stream is closed.
    send_timeout: float = 10.0
    #: Seconds a client has to send a request's headers (slowloris), and its body.
    header_timeout: float = 10.0
    body_timeout: float = 10.0
    #: Bytes of kernel send buffer per connection. Small, so a client that stops
    #: reading blocks its stream's sends within seconds (then send_timeout ends it)
    #: instead of pinning megabytes of socket buffer for minutes.
    socket_send_buffer: int = 16384
    #: Addresses (comma-separated, or *) of proxies whose X-Forwarded-For is
    #: trusted for the client address; empty: trust none, use the peer address.
    forwarded_allow_ips: str = ""
    #: The SQLite file live sessions and rooms are written to, so a restart brings them back;
    #: "none" keeps them in memory only. (``serve`` defaults to store.default_path(); an app
    #: made in code keeps nothing unless told.)
    state: str = "none"

    @classmethod
    def from_env(cls, environ=None, **overrides) -> "Settings":
        """Defaults, then ``PLAYGROUND_*`` variables, then ``overrides`` (not None)."""
        environ = os.environ if environ is None else environ
        values = {}
        for field in fields(cls):
            raw = environ.get(f"PLAYGROUND_{field.name.upper()}")
            if raw is not None:
                values[field.name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.validated(**values)

    @classmethod
    def validated(cls, **values) -> "Settings":
        converted = {}
        types = {field.name: field.type for field in fields(cls)}
        for name, raw in values.items():
            if name not in types:
                raise SettingsError(f"unknown setting {name!r}.")
            kind = types[name]
            if kind == "str":
                converted[name] = str(raw)
                continue
            try:
                value = int(raw) if kind == "int" else float(raw)
            except (TypeError, ValueError):
                raise SettingsError(f"{name} must be a {'whole ' if kind == 'int' else ''}number; "
                                    f"got {raw!r}.") from None
            low = 0 if name == "port" else 0.001
            if not math.isfinite(value) or value < low or (name == "port" and value > 65535):
                allowed = "0 to 65535" if name == "port" else "greater than 0"
                raise SettingsError(f"{name} must be {allowed}; got {raw!r}.")
            converted[name] = value
        return cls(**converted)
