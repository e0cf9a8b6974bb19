"""Find (and, with ``--install``, install) the chromium the browser tests drive.

    python tests/e2e/browser_setup.py            # say which browser the tests would use
    python tests/e2e/browser_setup.py --install  # get one if there is none (the README runs this)

Where the browser comes from, first match wins:

1. ``PLAYGROUND_CHROMIUM``: the path (or name on ``PATH``) of a Chromium or Chrome executable;
   if it is set but names nothing, that is an error (never silently another browser).
2. ``chromium``, ``chromium-browser``, ``google-chrome``, ``google-chrome-stable`` on ``PATH``
   (Debian's ``apt-get install chromium`` puts ``chromium`` there).
3. Playwright's own download (``python -m playwright install chromium``), launched without a path.

``--install`` (only when none of these launches): on Debian/Ubuntu, as root or with passwordless
sudo, ``apt-get update && apt-get install -y chromium``; then ``python -m playwright install
chromium`` (with ``--with-deps`` when it may use apt), which needs Playwright's download site.
If still nothing launches it exits 1 with one sentence (``MISSING``) saying what to do.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ENV_VAR = "PLAYGROUND_CHROMIUM"
NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: Stands for "Playwright's own download": launch without ``executable_path``.
PLAYWRIGHT = "playwright"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
MISSING = (
    "No chromium for the browser tests (tests/e2e): install one with "
    "`sudo apt-get install chromium` (Debian/Ubuntu), or "
    "`python -m playwright install --with-deps chromium` where the internet is reachable, "
    f"or set {ENV_VAR} to a Chromium/Chrome executable, then run the tests again."
)


class BrowserMissing(Exception):
    """No browser can be had; ``str()`` is one sentence saying what is missing and what to do."""


def find_executable() -> str | None:
    """The executable from ``PLAYGROUND_CHROMIUM`` or ``PATH``; None when neither has one.

    Raises BrowserMissing when ``PLAYGROUND_CHROMIUM`` is set but names no executable."""
    wanted = os.environ.get(ENV_VAR, "").strip()
    if wanted:
        found = shutil.which(wanted)
        if found is None:
            raise BrowserMissing(
                f"{ENV_VAR}={wanted!r} is not an executable file: point it at a Chromium/Chrome "
                f"executable, or unset it to use chromium from PATH or Playwright's download."
            )
        return found
    for name in NAMES:
        found = shutil.which(name)
        if found is not None:
            return found
    return None


def launch(playwright, **options):
    """Launch chromium with ``playwright`` (a started sync Playwright): the executable found by
    ``find_executable``, else Playwright's own download. Raises BrowserMissing if neither runs."""
    from playwright.sync_api import Error

    executable = find_executable()
    options = {"args": ARGS, **options}
    if executable is not None:
        try:
            return playwright.chromium.launch(executable_path=executable, **options)
        except Error as error:
            raise BrowserMissing(
                f"{executable} does not start as a headless chromium "
                f"({_first_line(error)}); {MISSING[0].lower()}{MISSING[1:]}"
            ) from error
    try:
        return playwright.chromium.launch(**options)
    except Error as error:
        raise BrowserMissing(MISSING) from error


def describe() -> str:
    """Which browser the tests will use (launches it once to be sure). Raises BrowserMissing."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            where = find_executable() or f"Playwright's download ({playwright.chromium.executable_path})"
            return f"{where}, version {browser.version}"
        finally:
            browser.close()


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _privilege() -> list[str] | None:
    """``[]`` as root, ``["sudo", "-n"]`` with passwordless sudo, else None."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return []
    if shutil.which("sudo"):
        probe = subprocess.run(["sudo", "-n", "true"], capture_output=True)
        if probe.returncode == 0:
            return ["sudo", "-n"]
    return None


def _run(command: list[str]) -> bool:
    print("==> " + " ".join(command), flush=True)
    try:
        return subprocess.run(command).returncode == 0
    except OSError as error:
        print(f"    {error}", flush=True)
        return False


def _works() -> str | None:
    try:
        return describe()
    except BrowserMissing:
        return None


def install() -> str:
    """Make sure a browser launches, installing one if needed; returns ``describe()``.

    Raises BrowserMissing when nothing could be installed."""
    find_executable()  # a wrong PLAYGROUND_CHROMIUM is the user's to fix, not ours to paper over
    found = _works()
    if found:
        return found
    sudo = _privilege()
    apt = shutil.which("apt-get") is not None and Path("/etc/debian_version").exists()
    if apt and sudo is not None:
        env = ["env", "DEBIAN_FRONTEND=noninteractive"]
        if (_run([*sudo, "apt-get", "update"])
                and _run([*sudo, *env, "apt-get", "install", "-y", "chromium"])):
            found = _works()
            if found:
                return found
    # Playwright's own build; --with-deps has it apt-get the libraries that build needs.
    command = [sys.executable, "-m", "playwright", "install", "chromium"]
    if apt and sudo is not None:
        command.insert(-1, "--with-deps")
    if _run(command):
        found = _works()
        if found:
            return found
    raise BrowserMissing(MISSING)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv not in ([], ["--install"]):
        print(__doc__.strip().splitlines()[0] + "\nusage: browser_setup.py [--install]", file=sys.stderr)
        return 2
    try:
        found = install() if argv else describe()
    except BrowserMissing as missing:
        print(f"error: {missing}", file=sys.stderr)
        return 1
    print(f"==> browser for the tests: {found}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
