"""One rule for a repeated key (issue 21, item 6): the CLI and the API refuse the link, naming the
key and its values; the page, which opens what it can of a bad link, leaves the key out whole (as
it does any bad key) and says what applies instead — never "the first is used"."""

from __future__ import annotations

import subprocess
import sys

from playground.web.app import link_verdict


def test_the_page_leaves_a_repeated_key_out_and_says_what_applies():
    verdict = link_verdict("queue=5&queue=6&rate=30")
    assert verdict["scenario"]["queue"] == 20 and verdict["scenario"]["rate"] == 30
    assert verdict["errors"] == [{"field": "queue", "message": "queue is given twice ('5' and '6'); give each key "
                                  "once; neither is used: queue is 20, the default."}]
    on_a_preset = link_verdict("preset=webhook-ingestion&rate=5&rate=7&rate=8")
    assert on_a_preset["scenario"]["rate"] == 60
    assert "none is used: rate is 60, the preset webhook-ingestion's" in on_a_preset["errors"][0]["message"]


def test_a_repeated_b_key_is_left_out_whole_too():
    verdict = link_verdict("preset=handbook&b.policy=reject&b.policy=drop-oldest&b.queue=3")
    assert verdict["compare"]["b_scenario"]["policy"] == verdict["scenario"]["policy"]
    assert verdict["compare"]["b_scenario"]["queue"] == 3  # the rest of B applies
    assert verdict["errors"] == [{"field": "b.policy", "message": "b.policy is given twice ('reject' and "
                                  "'drop-oldest'); give each key once; neither is used: B keeps A's policy."}]


def test_the_api_and_the_cli_refuse_it(make_client):
    client = make_client()
    refused = client.post("/api/sessions", json={"link": "queue=5&queue=6"})
    assert refused.status_code == 422 and "queue is given twice ('5' and '6'); give each key once" in refused.text
    cli = subprocess.run([sys.executable, "-m", "playground", "run", "queue=5&queue=6", "--until", "1"],
                         capture_output=True, text=True, timeout=60)
    assert cli.returncode != 0 and "queue is given twice ('5' and '6'); give each key once" in cli.stderr
