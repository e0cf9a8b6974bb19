"""Where the tests find Python 3.13, which runs the program's 3.13 variant (queue.shutdown()).

``$PLAYGROUND_PYTHON313`` if set, else ``python3.13`` on PATH, else pyenv's newest 3.13
(``$(pyenv root)/versions/3.13*/bin/python3``). Without one the tests that need it fail with one
sentence saying what to install: they never skip, as the browser tests never do.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest


def _candidates() -> list[str]:
    found = [os.environ.get("PLAYGROUND_PYTHON313", ""), shutil.which("python3.13") or ""]
    root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    found += sorted((str(p) for p in Path(root).glob("versions/3.13*/bin/python3")), reverse=True)
    return [path for path in found if path]


@cache
def _find() -> str | None:
    for path in _candidates():
        try:
            version = subprocess.run([path, "-c", "import sys; print(sys.version_info[:2])"],
                                     capture_output=True, text=True, timeout=30).stdout.strip()
        except OSError:
            continue
        if version == "(3, 13)":
            return path
    return None


def python313() -> str:
    """The path of a Python 3.13 interpreter, or fail the calling test saying what to install."""
    path = _find()
    if path is None:
        pytest.fail("these tests run the program's Python 3.13 variant and found no Python 3.13: "
                    "install it (e.g. pyenv install 3.13) or point $PLAYGROUND_PYTHON313 at one.",
                    pytrace=False)
    return path
