"""Every claim of every preset holds on a headless run (playground/lessons.py), and every preset
notice sentence that promises an outcome has a claim behind it."""

from __future__ import annotations

import pytest

from playground.model.presets import PRESETS
from playground.teach.lessons import CLAIMS, claims_holding

ALL = [(name, claim) for name, claims in CLAIMS.items() for claim in claims]


@pytest.mark.parametrize("name, claim", ALL, ids=[f"{n}: {c.sentence[:50]}" for n, c in ALL])
def test_a_preset_claim_holds(name, claim):
    failure = claim.check(PRESETS[name].link)
    assert failure is None, f"{name}: {claim.sentence!r} does not hold: {failure}"


#: A lesson must not hang on one lucky draw: the page's seed box offers any seed.
OTHER_SEEDS = tuple(range(2, 26))  # with the default seed 1: every seed from 1 to 25


@pytest.mark.parametrize("name, claim", ALL, ids=[f"{n}: {c.sentence[:50]}" for n, c in ALL])
def test_a_preset_claim_holds_at_other_seeds(name, claim):
    failures = {seed: claim.check(f"{PRESETS[name].link}&seed={seed}") for seed in OTHER_SEEDS}
    failures = {seed: seen for seed, seen in failures.items() if seen is not None}
    assert not failures, f"{name}: {claim.sentence!r} does not hold at seeds {failures}"


def test_claims_belong_to_presets_and_name_real_keys():
    from playground.model.scenario import FIELDS

    for name, claims in CLAIMS.items():
        assert name in PRESETS
        for claim in claims:
            keys = set(FIELDS) | {f"b.{key}" for key in FIELDS}  # b.: what a comparison's B changes
            assert claim.depends_on and set(claim.depends_on) <= keys, claim


def test_a_link_that_changes_what_a_claim_depends_on_drops_it():
    holding = claims_holding("unbounded-oom", {"queue": 50})
    assert any("crashes out of memory" in s for s in holding) is False  # depends on queue
    assert any("A queue limit alone" in s for s in holding)  # does not: it is about queue limits
    assert claims_holding("no-semaphore", {}) and not claims_holding("no-semaphore", {"limit": 8})


@pytest.mark.parametrize("name, words", [
    ("no-semaphore", ["Set the limit to 8", "half of the 65 items"]),
    ("unbounded-oom", ["crashes out of memory", "A queue limit alone does not save it",
                       "reject when full, and the crash goes away"]),
])
def test_the_notice_says_what_the_claims_check(name, words):
    for word in words:
        assert word in PRESETS[name].notice


def test_the_retry_presets_say_what_their_claims_check():
    assert "stays under a third of what it was for minutes" in PRESETS["retry-storm"].notice
    assert "back to what it was within ten seconds" in PRESETS["retry-budget"].notice


def test_every_try_this_change_is_a_valid_change_of_its_preset():
    from playground.model.scenario import Scenario

    for name, preset in PRESETS.items():
        for label, changes in preset.try_this:
            if isinstance(changes, str):  # opens another preset's link
                assert Scenario.from_link(changes) != Scenario.from_preset(name) and label.strip()
                continue
            changed = Scenario.from_preset(name).replace(**changes)
            assert changed != Scenario.from_preset(name) and label.strip(), (name, label)


def test_the_printed_handbooks_fix_is_the_handbook():
    from playground.model.scenario import Scenario

    printed = PRESETS["handbook-as-printed"]
    assert printed.try_this == (("Apply the fix: await the producer, then join", "preset=handbook"),)
    fixed = Scenario.from_preset("handbook-as-printed").replace(join="after-producers")
    assert fixed.to_dict() | {"preset": None} == Scenario.from_preset("handbook").to_dict() | {"preset": None}


def test_a_comparison_presets_notice_states_exactly_its_claims():
    """Every outcome sentence of a comparison preset's notice is a claim, word for word, and each
    claim is in the notice."""
    comparisons = [name for name, preset in PRESETS.items() if preset.b]
    assert len(comparisons) >= 5
    for name in comparisons:
        notice = PRESETS[name].notice
        for claim in CLAIMS[name]:
            assert claim.sentence in notice, (name, claim.sentence)
        # What is left once the claims are taken out sets the scene; it states no outcome.
        rest = notice
        for claim in CLAIMS[name]:
            rest = rest.replace(claim.sentence, "")
        assert len(rest.strip()) < 260, (name, rest)


def test_a_comparison_claim_is_dropped_when_the_link_changes_b():
    assert not any("B completes at least" in s for s in claims_holding("semaphore-vs-none", {"b.limit": 4}))
    assert any("B completes at least" in s for s in claims_holding("semaphore-vs-none", {"items": 5}))
