"""Tests for playground.model.scenario: defaults, the link vocabulary, errors and round trips."""

import dataclasses
import json
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from playground.model.presets import PRESETS
from playground.model.scenario import (
    FIELDS,
    GROUPS,
    Scenario,
    ScenarioError,
    format_number,
)

# -- defaults and FIELDS ---------------------------------------------------------------------


def test_defaults():
    s = Scenario()
    assert s.to_dict() == {
        "arrivals": "poisson", "rate": 20.0, "burst": 50, "period": 5.0, "producer": "open",
        "producers": 1, "items": 0, "join": "after-producers", "queue": 20, "policy": "block", "put_timeout": 1.0,
        "max_age": 0.0, "discipline": "fifo", "codel": "off", "codel_target": 0.005, "codel_interval": 0.1,
        "workers": 4, "limit": 4, "limiter": "fixed", "limit_min": 1, "limit_max": 256, "aimd_backoff": 0.9,
        "vegas_alpha": 3, "vegas_beta": 6, "gradient_tolerance": 1.5, "gradient_smoothing": 0.2,
        "service_time": 0.1,
        "service_dist": "exponential", "timeout": 0.0, "abandon": "stop", "capacity": 0, "contention": 0.0, "rate_limit": 0.0, "rate_burst": 0, "retries": 0,
        "backoff": 0.1, "backoff_cap": 10.0, "jitter": "full", "client_retries": 0, "retry_budget": 0.0, "memory": 0,
        "restart": 2.0, "seed": 1, "preset": None,
    }
    assert s.to_link() == "v=1"
    assert Scenario.from_link("") == s
    assert Scenario.from_mapping({}) == s


def test_fields_match_the_dataclass_in_order():
    # Links list keys in FIELDS order and the page draws sliders in it; both must agree.
    assert [f.name for f in dataclasses.fields(Scenario)] == [*FIELDS, "preset"]


def test_field_types_and_defaults():
    s = Scenario()
    for key, field in FIELDS.items():
        assert field.key == key
        assert field.group in GROUPS
        assert field.label and field.hint and "\n" not in field.hint
        value = getattr(s, key)
        assert value == field.default
        expected = {"int": int, "float": float, "choice": str}[field.kind]
        assert type(value) is expected, key
        if field.kind == "choice":
            assert field.default in field.choices and field.minimum is None
        else:
            assert field.minimum <= field.default <= field.maximum


def test_fields_to_json_is_json():
    data = [field.to_json() for field in FIELDS.values()]
    assert json.loads(json.dumps(data)) == data
    queue = FIELDS["queue"].to_json()
    assert queue["label"] == "Queue size" and queue["zero_means"] == "unbounded"
    assert FIELDS["policy"].to_json()["choices"] == ["block", "timeout", "reject", "drop-oldest"]


def test_to_dict_is_json():
    s = Scenario.from_preset("handbook")
    assert json.loads(json.dumps(s.to_dict())) == s.to_dict()


# -- link forms ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "link",
    [
        "queue=5&policy=reject",
        "?queue=5&policy=reject",
        "http://host:8000/?queue=5&policy=reject",
        "https://example.org/play?v=1&queue=5&policy=reject#frame",
        "/?queue=5&policy=reject",
        "  queue=5&policy=reject&  ",
    ],
)
def test_link_forms(link):
    s = Scenario.from_link(link)
    assert (s.queue, s.policy) == (5, "reject")
    assert s.to_link() == "v=1&queue=5&policy=reject"


def test_url_with_preset_and_override():
    s = Scenario.from_link("http://host:8000/?preset=handbook&rate=80")
    assert s.preset == "handbook" and s.rate == 80.0 and s.queue == 2
    assert s.to_link() == "v=1&preset=handbook&rate=80"


def test_url_without_query_is_defaults():
    assert Scenario.from_link("http://host:8000/") == Scenario()


def test_percent_and_plus_decoding():
    assert Scenario.from_link("policy=drop%2Doldest").policy == "drop-oldest"
    # In a query "+" is a space (as URLSearchParams reads it), and spaces are not numbers.
    with pytest.raises(ScenarioError, match=r"got ' 5'"):
        Scenario.from_link("queue=+5")


def test_preset_overrides_in_any_order():
    a = Scenario.from_link("queue=7&preset=handbook")
    b = Scenario.from_link("preset=handbook&queue=7")
    assert a == b and a.queue == 7 and a.workers == 3


def test_canonical_formatting():
    s = Scenario().replace(rate=2, service_time="0.15", period=2.0, put_timeout=1e-3, seed=4294967295)
    assert s.to_link() == "v=1&rate=2&period=2&put_timeout=0.001&service_time=0.15&seed=4294967295"
    assert format_number(20) == "20"
    assert format_number(2.0) == "2"
    assert format_number(0.15) == "0.15"
    assert format_number(0.1 + 0.2) == "0.30000000000000004"


def test_default_values_are_not_written():
    assert Scenario.from_link("queue=20&policy=block").to_link() == "v=1"


def test_numbers_accepted():
    s = Scenario.from_link("rate=1e2&queue=%2B5&service_time=.5&max_age=-0")
    assert (s.rate, s.queue, s.service_time, s.max_age) == (100.0, 5, 0.5, 0.0)
    assert s.to_link() == "v=1&rate=100&queue=5&service_time=0.5"


def test_version():
    assert Scenario.from_link("v=1&queue=5").queue == 5
    assert Scenario.from_mapping({"v": 1, "queue": 5}).queue == 5


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "link, field, value, text",
    [
        ("queue=-3", "queue", "-3", "queue must be an integer from 0 to 10000 (0 = unbounded); got '-3'."),
        ("policy=lifo", "policy", "lifo", "policy must be one of block, timeout, reject, drop-oldest; got 'lifo'."),
        ("rate=fast", "rate", "fast", "rate must be a number from 0.1 to 2000 items/s; got 'fast'."),
        ("rate=abc", "rate", "abc", "got 'abc'"),
        ("rate=nan", "rate", "nan", "got 'nan'"),
        ("rate=inf", "rate", "inf", "got 'inf'"),
        ("rate=1e999", "rate", "1e999", "got '1e999'"),
        ("rate=1,5", "rate", "1,5", "got '1,5'"),
        ("rate=0.05", "rate", "0.05", "from 0.1 to 2000"),
        ("workers=2.5", "workers", "2.5", "workers must be an integer from 1 to 256; got '2.5'."),
        ("workers=0", "workers", "0", "from 1 to 256"),
        ("seed=4294967296", "seed", "4294967296", "from 0 to 4294967295"),
        ("seed=" + "9" * 5000, "seed", "9" * 5000, "seed must be an integer"),
        ("queue=", "queue", "", "got ''"),
        ("policy=", "policy", "", "got ''"),
        ("queue", "queue", "", "got ''"),
        ("queue=5&queue=6", "queue", "6", "queue is given twice ('5' and '6')"),
        ("qeue=4", "qeue", "4", "unknown key 'qeue'; known keys: v, preset, arrivals, rate,"),
        ("v=2", "v", "2", "v must be 1"),
        ("v=", "v", "", "got ''"),
        ("preset=nope", "preset", "nope", "handbook, webhook-ingestion"),
        ("policy=Block", "policy", "Block", "got 'Block'"),
        ("max_age=-1", "max_age", "-1", "max_age must be a number from 0 to 3600 s (0 = off); got '-1'."),
        ("arrivals=asap", "arrivals", "asap", "arrivals=asap needs producer=closed: "),
        ("preset=handbook&producer=open", "arrivals", "asap", "arrivals=asap needs producer=closed"),
    ],
)
def test_link_errors(link, field, value, text):
    with pytest.raises(ScenarioError) as info:
        Scenario.from_link(link)
    e = info.value
    assert e.field == field
    assert e.value == value
    assert text in str(e)
    assert str(e).endswith((".", "?"))


def test_unknown_key_suggests():
    with pytest.raises(ScenarioError, match=r"Did you mean 'put_timeout'\?"):
        Scenario.from_link("put-timeout=3")


@pytest.mark.parametrize("link", [
    "arrivals=asap&producer=closed&policy=reject",
    "arrivals=asap&producer=closed&policy=drop-oldest",
    "arrivals=asap&producer=closed&queue=0",
])
def test_asap_needs_a_put_that_waits(link):
    with pytest.raises(ScenarioError) as caught:
        Scenario.from_link(link)
    assert caught.value.field == "arrivals"
    assert "never pauses" in str(caught.value)


def test_asap_with_closed_is_fine():
    s = Scenario.from_link("arrivals=asap&producer=closed")
    assert s.arrivals == "asap"
    assert Scenario.from_link(s.to_link()) == s


def test_replace():
    s = Scenario.from_preset("handbook")
    t = s.replace(queue="5", rate=3)
    assert (t.queue, t.rate, t.preset) == (5, 3.0, "handbook")
    assert type(t.rate) is float
    assert s.queue == 2  # unchanged: scenarios are immutable


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"queue": "-1"}, "queue"),
        ({"queue": True}, "queue"),
        ({"workers": 2.5}, "workers"),
        ({"qeue": 5}, "qeue"),
        ({"producer": "open"}, "arrivals"),  # the handbook's arrivals are asap
        ({"preset": "webhook-ingestion"}, "preset"),
    ],
)
def test_replace_errors(changes, field):
    with pytest.raises(ScenarioError) as info:
        Scenario.from_preset("handbook").replace(**changes)
    assert info.value.field == field


def test_constructor_validates():
    with pytest.raises(ScenarioError) as info:
        Scenario(queue=-3)
    assert info.value.field == "queue"
    with pytest.raises(ScenarioError):
        Scenario(preset="nope")
    with pytest.raises(dataclasses.FrozenInstanceError):
        Scenario().queue = 3


def test_from_mapping_numbers():
    s = Scenario.from_mapping({"queue": 5.0, "workers": "8", "rate": 3, "policy": "reject", "preset": None})
    assert (s.queue, s.workers, s.rate, s.policy, s.preset) == (5, 8, 3.0, "reject", None)
    assert type(s.queue) is int and type(s.rate) is float
    assert Scenario.from_mapping({"preset": "handbook", "queue": 4}).to_link() == "v=1&preset=handbook&queue=4"


@pytest.mark.parametrize(
    "data, field",
    [
        ({"queue": True}, "queue"),
        ({"rate": False}, "rate"),
        ({"queue": 5.5}, "queue"),
        ({"queue": "5.5"}, "queue"),
        ({"queue": None}, "queue"),
        ({"rate": float("nan")}, "rate"),
        ({"rate": float("inf")}, "rate"),
        ({"rate": 10**400}, "rate"),
        ({"policy": 3}, "policy"),
        ({"v": True}, "v"),
        ({"v": 2}, "v"),
        ({"preset": 3}, "preset"),
        ({"link": "queue=5"}, "link"),
        ({3: 4}, None),
    ],
)
def test_from_mapping_errors(data, field):
    with pytest.raises(ScenarioError) as info:
        Scenario.from_mapping(data)
    assert info.value.field == field


def test_from_mapping_refuses_non_mapping():
    with pytest.raises(ScenarioError):
        Scenario.from_mapping(["queue", 5])


def test_error_pickles():
    e = ScenarioError("queue must be ...", "queue", "-3")
    f = pickle.loads(pickle.dumps(e))
    assert (str(f), f.field, f.value) == (str(e), "queue", "-3")


# -- properties ------------------------------------------------------------------------------


def _field_values(field):
    if field.kind == "choice":
        return st.sampled_from(field.choices)
    if field.kind == "int":
        return st.integers(field.minimum, field.maximum)
    round_values = [v for v in (0, 0.001, 0.1, 0.15, 0.5, 1, 2, 2.5, 10, 60, 100, 3600, field.minimum, field.maximum)
                    if field.minimum <= v <= field.maximum]
    return st.one_of(
        st.sampled_from(round_values),
        st.floats(field.minimum, field.maximum, allow_nan=False, allow_infinity=False),
    )


@st.composite
def scenarios(draw):
    values = {key: draw(_field_values(field)) for key, field in FIELDS.items()}
    if values["join"] == "at-start":
        # the printed handbook's early join needs closed asap producers and a finite run
        values.update(producer="closed", arrivals="asap", items=max(1, values["items"]))
    if values["arrivals"] == "asap":
        # asap needs closed producers whose put can wait (see test_asap_needs_a_put_that_waits)
        values["producer"] = "closed"
        values["queue"] = max(1, values["queue"])
        if values["policy"] not in ("block", "timeout"):
            values["policy"] = "block"
        if values["rate_limit"]:
            # a throttled call failing at once would make the next item at the same instant:
            # asap with a rate limit needs a finite run (or retries without a budget)
            values["items"] = max(1, values["items"])
    if values["vegas_alpha"] >= values["vegas_beta"]:  # Vegas' sweet spot lies between them
        values["vegas_beta"] = values["vegas_alpha"] + 1
    if values["limiter"] != "fixed":  # it starts at limit, within [limit_min, limit_max]
        low, high = sorted((values["limit_min"], values["limit_max"]))
        values.update(limit_min=low, limit_max=high, limit=min(high, max(low, values["limit"])))
    if values["policy"] == "drop-oldest":
        values["discipline"] = "fifo"  # making room takes the oldest only from a FIFO queue
    preset = draw(st.none() | st.sampled_from(list(PRESETS)))
    return Scenario(**values, preset=preset)


@settings(max_examples=300)
@given(scenarios())
def test_link_round_trip(s):
    link = s.to_link()
    assert Scenario.from_link(link) == s
    assert Scenario.from_link("http://host:8000/?" + link) == s
    assert Scenario.from_mapping(s.to_dict()) == s


@settings(max_examples=100)
@given(scenarios(), st.lists(st.sampled_from([k for k in FIELDS if k not in ("arrivals", "producer")]), unique=True))
def test_replace_round_trip(s, keys):
    # Take some values from another scenario: replace keeps the preset and the link still works.
    other = Scenario.from_preset("handbook") if s.producer == "closed" else Scenario()
    if s.limiter != "fixed":  # another limit may fall outside this one's [limit_min, limit_max]
        keys = [key for key in keys if key not in ("limit", "limit_min", "limit_max")]
    if not {"vegas_alpha", "vegas_beta"} <= set(keys):  # one alone may cross the other
        keys = [key for key in keys if key not in ("vegas_alpha", "vegas_beta")]
    t = s.replace(**{key: getattr(other, key) for key in keys})
    assert t.preset == s.preset
    assert Scenario.from_link(t.to_link()) == t


_junk = st.text(alphabet=st.sampled_from("=&?#%+-.,0123456789eE aбx_:/\x00"), max_size=30)
_keys = st.sampled_from(["v", "preset", *FIELDS, "x", ""]) | _junk
_values = (
    st.sampled_from(["", "nan", "inf", "-0", "1e999", "%zz", "%ff%fe", "asap", "closed", "handbook", "2.5", "01"])
    | st.integers(-10, 10**12).map(str)
    | st.floats(allow_nan=True, allow_infinity=True).map(repr)
    | _junk
    | st.text(max_size=20)
)


@settings(max_examples=500)
@given(st.lists(st.tuples(_keys, _values), max_size=6), st.sampled_from(["", "?", "http://h/?", "/p?"]))
def test_garbage_links_raise_only_scenario_error(pairs, prefix):
    link = prefix + "&".join(f"{k}={v}" for k, v in pairs)
    try:
        s = Scenario.from_link(link)
    except ScenarioError as e:
        assert str(e).strip()
    else:
        assert Scenario.from_link(s.to_link()) == s


@settings(max_examples=300)
@given(st.text(max_size=80))
def test_any_text_raises_only_scenario_error(link):
    try:
        Scenario.from_link(link)
    except ScenarioError:
        pass


@settings(max_examples=300)
@given(st.dictionaries(_keys, st.none() | st.booleans() | st.integers() | st.floats() | _values, max_size=5))
def test_garbage_mappings_raise_only_scenario_error(data):
    try:
        Scenario.from_mapping(data)
    except ScenarioError:
        pass
