"""Links whose runs and programs are pinned: every preset and every parity scenario, recorded
before the world model grew (issue 9), so a new key's default can be shown to change nothing.

``python tests/legacy_links.py`` (re)records ``tests/data/legacy_runs.json``: for each link, the
sha256 and length of the engine's trace, its summary, and the sha256 of the generated program.
Re-record only when a change to an old link's run is intended, and say so in the commit.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from playground.model.presets import PRESETS  # noqa: E402
from playground.model.scenario import Scenario  # noqa: E402
from playground.program.codegen import generate  # noqa: E402
from playground.sim import trace  # noqa: E402
from playground.sim.engine import Engine  # noqa: E402

RECORD = HERE / "data" / "legacy_runs.json"
PRESET_UNTIL = 60.0  # endless presets run this long


def links() -> list[tuple[str, float | None]]:
    from test_parity import SCENARIOS

    pinned = [(f"preset={name}", None if Scenario.from_preset(name).items else PRESET_UNTIL)
              for name, preset in PRESETS.items() if not preset.b]  # a comparison's A is another preset
    pinned += [(link, until) for _, link, until in SCENARIOS]
    return pinned


def fingerprint(link: str, until: float | None) -> dict:
    scenario = Scenario.from_link(link)
    engine = Engine(scenario, event_cap=None)
    engine.run(until)
    text = "\n".join(trace.line(event) for event in engine.read_events())
    summary = engine.summary()
    return {
        "link": link,
        "until": until,
        "trace_lines": text.count("\n") + 1 if text else 0,
        "trace_sha256": hashlib.sha256(text.encode()).hexdigest(),
        "summary": {key: (round(value, 9) if isinstance(value, float) else value)
                    for key, value in summary.items()},
        # The 3.11 variant: the program as it has always been generated (3.13's is newer; the
        # printed handbook has only a 3.13 program).
        "program_sha256": hashlib.sha256(generate(
            scenario, python="3.13" if scenario.join == "at-start" else "3.11").encode()).hexdigest(),
    }


if __name__ == "__main__":
    RECORD.write_text(json.dumps([fingerprint(link, until) for link, until in links()], indent=1) + "\n")
    print(f"recorded {RECORD}")
