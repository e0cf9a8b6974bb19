"""Two services on the same load: a link's ``b.`` keys describe service B as overrides of A.

``preset=webhook-ingestion&b.policy=drop-oldest`` is A, the preset, beside B, the preset with
``policy=drop-oldest``. Without ``b.`` keys a link means what it always meant. The arrival-side
keys are shared (A and B are fed the same arrivals, and with common random numbers, see
``sim/draws.py``, item k brings the same work to both), so a ``b.`` key may not change them.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from .scenario import FIELDS, Scenario, ScenarioError, _query_of, _query_pairs, format_number, shown

PREFIX = "b."
#: Keys that decide what arrives and when: A and B share them.
SHARED = ("arrivals", "rate", "burst", "period", "producer", "producers", "items", "seed")


def split_link(link: str) -> tuple[str, list[str]]:
    """A link's own keys (service A) as a query, and its ``b.`` pieces (``b.key=value``) in order."""
    own, b_pairs = [], []
    for piece in _query_of(link).split("&"):
        key = piece.partition("=")[0]
        (b_pairs if key.startswith(PREFIX) else own).append(piece)
    return "&".join(own), b_pairs


@dataclass(frozen=True)
class Comparison:
    """Service A (the link without its ``b.`` keys) and service B (A with them), or B None."""

    a: Scenario
    b: Scenario | None
    b_changes: tuple[tuple[str, str], ...]
    """B's keys as the link gave them, without the prefix, in order."""

    @classmethod
    def from_link(cls, link: str) -> "Comparison":
        if not isinstance(link, str):
            raise ScenarioError(f"a link must be text; got {shown(link)}.")
        own, b_pairs = split_link(link)
        a = Scenario.from_link(own)
        if not b_pairs:
            return cls(a, None, ())
        changes: dict[str, str] = {}
        for key, raw in _query_pairs("&".join(b_pairs)):
            name = key[len(PREFIX):]
            if name not in FIELDS:
                raise ScenarioError(f"{key} is not a key B can have: after b. comes a link key "
                                    f"(b.policy, b.queue, ...); got {shown(key)}.", key, raw)
            if name in SHARED:
                raise ScenarioError(f"{key} cannot differ from A's: A and B are fed the same arrivals, "
                                    f"so {', '.join(SHARED)} are shared; change {name} without b.", key, raw)
            if name in changes:
                raise ScenarioError(f"{key} is given twice; give each key once.", key, raw)
            changes[name] = raw
        try:
            b = a.replace(**changes)
        except ScenarioError as error:
            message = str(error)  # name B's key as the link gave it: "b.queue must be ..."
            message = PREFIX + message if error.field and message.startswith(error.field) else "B: " + message
            raise ScenarioError(message, f"{PREFIX}{error.field}" if error.field else None, error.value) from None
        return cls(a, b, tuple(changes.items()))

    def to_link(self) -> str:
        """A's canonical link, then B's keys."""
        tail = "".join(f"&{PREFIX}{key}={quote(str(raw), safe='.-')}" for key, raw in self.b_changes)
        return self.a.to_link() + tail

    def label(self) -> str:
        """What differs, e.g. "A: policy block · B: policy drop-oldest"."""
        if self.b is None:
            return "A"
        a = "; ".join(f"{key} {getattr(self.a, key)}" for key, _ in self.b_changes)
        b = "; ".join(f"{key} {getattr(self.b, key)}" for key, _ in self.b_changes)
        return f"A: {a} · B: {b}"

    @classmethod
    def of(cls, a: Scenario, b: Scenario) -> "Comparison":
        """The comparison of two scenarios whose link reproduces them (B's keys: what differs)."""
        changes = []
        for key in FIELDS:
            value = getattr(b, key)
            if value != getattr(a, key):
                if key in SHARED:
                    raise ScenarioError(f"{key} differs between A and B, but A and B are fed the same "
                                        f"arrivals: {', '.join(SHARED)} are shared.", key, value)
                changes.append((key, value if isinstance(value, str) else format_number(value)))
        return cls(a, b, tuple(changes))
