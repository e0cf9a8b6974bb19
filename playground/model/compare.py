"""Two services on the same load: a link's ``b.`` keys describe service B as overrides of A.

``preset=webhook-ingestion&b.policy=drop-oldest`` is A, the preset, beside B, the preset with
``policy=drop-oldest``. Without ``b.`` keys a link means what it always meant. The arrival-side
keys are shared (A and B are fed the same arrivals, and with common random numbers, see
``sim/draws.py``, item k brings the same work to both), so a ``b.`` key may not change them.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from playground.model.presets import PRESETS
from playground.model.scenario import (
    FIELDS,
    Scenario,
    ScenarioError,
    _query_of,
    _query_pairs,
    link_text,
    shown,
)

PREFIX = "b."
#: Keys that decide what arrives and when: A and B share them.
#: The b. key a comparison's link names when B is the same as A (a key both sides have).
SAME_B_KEY = "workers"
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
        return cls.over(Scenario.from_link(own), _query_pairs("&".join(b_pairs)))

    @classmethod
    def over(cls, a: Scenario, b_pairs: list[tuple[str, str]]) -> "Comparison":
        """A beside the B that decoded ``(b.key, value)`` pairs (and A's comparison preset, if any)
        describe. The page's verdict tries b. keys one at a time over one A, parsing A and each
        key once (re-parsing all of them for every key made a 100-key link cost tens of ms)."""
        preset_b = PRESETS[a.preset].b if a.preset is not None else {}
        if not b_pairs and not preset_b:
            return cls(a, None, ())
        changes: dict[str, object] = dict(preset_b)  # a comparison preset's B, then the link's b. keys
        given: set[str] = set()
        for key, raw in b_pairs:
            name = key[len(PREFIX):]
            if name not in FIELDS:
                raise ScenarioError(f"{key} is not a key B can have: after b. comes a link key "
                                    f"(b.policy, b.queue, ...); got {shown(key)}.", key, raw)
            if name in SHARED:
                raise ScenarioError(f"{key} cannot differ from A's: A and B are fed the same arrivals, "
                                    f"so {', '.join(SHARED)} are shared; change {name} without b.", key, raw)
            if name in given:
                raise ScenarioError(f"{key} is given twice; give each key once.", key, raw)
            given.add(name)
            changes[name] = raw
        try:
            b = a.replace(**changes)
        except ScenarioError as error:
            message = str(error)  # name B's key as the link gave it: "b.queue must be ..."
            message = PREFIX + message if error.field and message.startswith(error.field) else "B: " + message
            raise ScenarioError(message, f"{PREFIX}{error.field}" if error.field else None, error.value) from None
        return cls(a, b, tuple((key, raw) for key, raw in changes.items() if key in given))

    def to_link(self) -> str:
        """A's canonical link, then B's keys."""
        tail = "".join(f"&{PREFIX}{key}={quote(str(raw), safe='.-')}" for key, raw in self.b_changes)
        return self.a.to_link() + tail

    def label(self) -> str:
        """What differs, e.g. "A: policy block · B: policy drop-oldest"; "A · B" if nothing does."""
        if self.b is None:
            return "A"
        differ = [key for key in FIELDS if getattr(self.a, key) != getattr(self.b, key)]
        if not differ:
            return "A · B"
        show = lambda s: "; ".join(f"{key} {link_text(getattr(s, key))}" for key in differ)  # noqa: E731
        return f"A: {show(self.a)} · B: {show(self.b)}"

    @classmethod
    def of(cls, a: Scenario, b: Scenario) -> "Comparison":
        """The comparison of two scenarios, with the link that reproduces them: A's link, then a
        ``b.`` key for each field where B differs from what that link alone gives B (nothing, or
        a comparison preset's B)."""
        for key in SHARED:
            if getattr(a, key) != getattr(b, key):
                raise ScenarioError(f"{key} differs between A and B, but A and B are fed the same "
                                    f"arrivals: {', '.join(SHARED)} are shared.", key, getattr(b, key))
        alone = cls.from_link(a.to_link()).b
        implied = alone or a
        changes = tuple((key, link_text(getattr(b, key))) for key in FIELDS
                        if getattr(b, key) != getattr(implied, key))
        if not changes and alone is None:
            # B the same as A (Compare… or a fork, before B is changed): one b. key that repeats
            # A's value keeps the link a comparison; without it the link would reopen one service.
            changes = ((SAME_B_KEY, link_text(getattr(b, SAME_B_KEY))),)
        return cls(a, b, changes)
