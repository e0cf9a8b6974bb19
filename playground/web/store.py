"""The store: where live sessions and rooms are written, so they outlive the process.

A run is a pure function of its first scenario, its control log and the sim time it reached, so
that (and a few switches: speed, pause, the room's lesson step and question) is all a store keeps;
``keeper.py`` makes the records and rebuilds sessions from them by replay. A store only keeps
records: ``SqliteStore`` in one file beside the process, ``NullStore`` nowhere (``--state none``).
Anything with the same four methods (a networked database, for several machines) can stand in.

Writes never run on the event loop: ``SqliteStore`` hands them to one writer thread, which writes
whatever has queued up in one transaction. A write that fails (a full disk) is a warning, and the
sessions it was for are written whole again later; a file that cannot be read is set aside.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import sqlite3
import threading
import time
from pathlib import Path
from typing import Protocol

logger = logging.getLogger("playground")

#: The schema's version, in ``PRAGMA user_version``: a file of another version is set aside.
SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,        -- the session id its page and phones reconnect with
    token_hash TEXT NOT NULL,   -- sha256 of the teacher's token, never the token
    state TEXT NOT NULL,        -- JSON: links, sim time, speed, pause, age (keeper.py)
    saved REAL NOT NULL         -- wall time (Unix) of the last write
);
CREATE TABLE IF NOT EXISTS controls (
    session TEXT NOT NULL,
    side INTEGER NOT NULL,      -- 0: service A, 1: service B
    seq INTEGER NOT NULL,       -- the entry's place in that side's Engine.control_log
    t REAL NOT NULL,            -- sim time it was applied at
    control TEXT NOT NULL,      -- JSON, as Engine.apply takes it
    PRIMARY KEY (session, side, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rooms (
    code TEXT PRIMARY KEY,
    session TEXT NOT NULL,
    state TEXT NOT NULL         -- JSON: lesson step, question and answers, students, switches
);
"""
#: Queued writes the writer takes into one transaction at most.
BATCH = 500


class Store(Protocol):
    """Keeps session and room records. Saves may return before they are written."""

    def save_session(self, record: dict) -> None:
        """``{"id", "token_hash", "state", "controls": [(side, seq, t, control)], "replace"}``:
        ``controls`` are appended, unless ``replace`` (the log was rewritten: a reset, a new step)."""

    def save_room(self, record: dict) -> None:
        """``{"code", "session", "state"}``."""

    def delete(self, session_id: str) -> None:
        """Forget a session, its controls and its room."""

    def load_all(self) -> tuple[list[dict], list[dict]]:
        """Every session record (with all its controls, in order) and every room record."""

    def close(self) -> None:
        """Write what is queued, then stop."""


class NullStore:
    """Keeps nothing: the server's state lives and dies with its process (``--state none``)."""

    unsaved: set[str] = frozenset()

    def save_session(self, record: dict) -> None:
        pass

    def save_room(self, record: dict) -> None:
        pass

    def delete(self, session_id: str) -> None:
        pass

    def load_all(self) -> tuple[list[dict], list[dict]]:
        return [], []

    def close(self) -> None:
        pass


class SqliteStore:
    """Records in one SQLite file (WAL: readers never wait on the writer, a crash loses at most
    the transaction being written), written by one thread of its own."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.connection = _open(self.path)
        self.unsaved: set[str] = set()  # sessions whose last write failed: keeper.py writes them whole
        self.writes = 0  # transactions committed, and the time they took (for bench and tests)
        self.write_seconds = 0.0
        self._failing = False  # a warning was given and no write has succeeded since
        self._queue: queue.Queue = queue.Queue()
        self._writer = threading.Thread(target=self._write_forever, name="playground-store", daemon=True)
        self._writer.start()

    # The loop's side: enqueue only ---------------------------------------------------------------

    def save_session(self, record: dict) -> None:
        self._queue.put(("session", record))

    def save_room(self, record: dict) -> None:
        self._queue.put(("room", record))

    def delete(self, session_id: str) -> None:
        self._queue.put(("delete", session_id))

    def close(self) -> None:
        self._queue.put(None)
        self._writer.join(10)

    def flushed(self, timeout: float = 5.0) -> bool:
        """Wait until every queued write is done (tests and shutdown)."""
        done = threading.Event()
        self._queue.put(("mark", done))
        return done.wait(timeout)

    def load_all(self) -> tuple[list[dict], list[dict]]:
        """Read at start, before the writer has anything to write. A record that does not decode
        is left out (one warning for all of them); the rest are restored."""
        bad = 0
        sessions: dict[str, dict] = {}
        rooms = []
        reader = self.connection  # read at start, before the writer's first write
        for session_id, token_hash, state in reader.execute("SELECT id, token_hash, state FROM sessions"):
            try:
                sessions[session_id] = {"id": session_id, "token_hash": token_hash,
                                        "state": json.loads(state), "controls": []}
            except ValueError:
                bad += 1
        rows = reader.execute("SELECT session, side, seq, t, control FROM controls ORDER BY session, side, seq")
        for session_id, side, seq, t, control in rows:
            record = sessions.get(session_id)
            if record is None:
                continue
            try:
                record["controls"].append((side, seq, t, json.loads(control)))
            except ValueError:
                sessions.pop(session_id)
                bad += 1
        for code, session_id, state in reader.execute("SELECT code, session, state FROM rooms"):
            try:
                rooms.append({"code": code, "session": session_id, "state": json.loads(state)})
            except ValueError:
                bad += 1
        if bad:
            logger.warning("%d records in %s could not be read and were left out.", bad, self.path)
        return list(sessions.values()), rooms

    # The writer thread ------------------------------------------------------------------------------

    def _write_forever(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._write(batch)
                    self.connection.close()
                    return
                batch.append(item)
            self._write(batch)
        self.connection.close()

    def _write(self, batch: list) -> None:
        marks = [item[1] for item in batch if item[0] == "mark"]
        writes = [item for item in batch if item[0] != "mark"]
        started = time.perf_counter()
        try:
            if writes:
                with self.connection:  # one transaction: all of the batch or none of it
                    for kind, payload in writes:
                        getattr(self, f"_write_{kind}")(payload)
                self.writes += 1
                self.write_seconds += time.perf_counter() - started
            if self._failing:
                logger.info("the state file %s is being written again.", self.path)
                self._failing = False
        except (sqlite3.Error, OSError) as error:
            # A full disk or a lost file must not stop the server: it runs on from memory, and
            # what this batch was for is written whole once writes work again.
            self.unsaved.update(payload["id"] for kind, payload in writes if kind == "session")
            self.unsaved.update(payload["session"] for kind, payload in writes if kind == "room")
            if not self._failing:
                logger.warning("could not write the state file %s (%s); the server runs on, and "
                               "sessions started or changed meanwhile may not survive a restart.",
                               self.path, error)
                self._failing = True
        finally:
            for done in marks:
                done.set()

    def _write_session(self, record: dict) -> None:
        run = self.connection.execute
        run("INSERT INTO sessions (id, token_hash, state, saved) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET token_hash = excluded.token_hash, state = excluded.state, "
            "saved = excluded.saved",
            (record["id"], record["token_hash"], json.dumps(record["state"]), time.time()))
        if record.get("replace"):
            run("DELETE FROM controls WHERE session = ?", (record["id"],))
        self.connection.executemany(
            "INSERT OR REPLACE INTO controls (session, side, seq, t, control) VALUES (?, ?, ?, ?, ?)",
            [(record["id"], side, seq, t, json.dumps(control)) for side, seq, t, control in record["controls"]])

    def _write_room(self, record: dict) -> None:
        self.connection.execute("INSERT OR REPLACE INTO rooms (code, session, state) VALUES (?, ?, ?)",
                                (record["code"], record["session"], json.dumps(record["state"])))

    def _write_delete(self, session_id: str) -> None:
        for table, column in (("controls", "session"), ("rooms", "session"), ("sessions", "id")):
            self.connection.execute(f"DELETE FROM {table} WHERE {column} = ?", (session_id,))


def _open(path: Path) -> sqlite3.Connection:
    """The database at ``path``, made if new; raises sqlite3.DatabaseError if it is not one of ours."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # One connection, made here and then used by the writer thread alone.
    connection = sqlite3.connect(path, check_same_thread=False)
    try:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        tables = connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if tables and version != SCHEMA_VERSION:
            raise sqlite3.DatabaseError(f"schema version {version}, not {SCHEMA_VERSION}")
        check = connection.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise sqlite3.DatabaseError(check)
        connection.execute("PRAGMA journal_mode=WAL")
        # WAL with synchronous=NORMAL: a power cut may lose the last transactions, never the file.
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.executescript(SCHEMA)
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        connection.close()
        raise
    return connection


def open_store(setting: str) -> tuple[Store, list[dict], list[dict]]:
    """The store ``--state`` names and what it holds: ``none`` keeps nothing. A file that cannot
    be read is renamed aside (``NAME.unreadable-<time>``) with one warning and a new one started;
    if no file can be written there at all, the server runs without one. Never raises."""
    if setting.strip().lower() in ("none", ""):
        return NullStore(), [], []
    path = Path(setting).expanduser()
    store = None
    try:
        store = SqliteStore(path)
        return store, *store.load_all()
    except (sqlite3.Error, OSError, ValueError) as error:
        if store is not None:
            store.close()
        aside = _set_aside(path)
        try:
            fresh = SqliteStore(path)
        except (sqlite3.Error, OSError) as again:
            logger.warning("the state file %s could not be opened (%s)%s; the server runs without one: "
                           "sessions and rooms will not survive a restart.", path, again,
                           f", and the unreadable one was moved to {aside}" if aside else "")
            return NullStore(), [], []
        logger.warning("the state file %s could not be read (%s); %s, and the server starts with no "
                       "sessions or rooms.", path, error, f"it was moved to {aside}" if aside else "a new one was made")
        return fresh, [], []


def _set_aside(path: Path) -> Path | None:
    """Rename an unreadable database (and its WAL files) out of the way; None if there was none."""
    if not path.exists():
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.unreadable-{stamp}")
    try:
        os.replace(path, aside)
    except OSError:
        return None
    for suffix in ("-wal", "-shm"):
        extra = path.with_name(path.name + suffix)
        if extra.exists():
            try:
                os.replace(extra, aside.with_name(aside.name + suffix))
            except OSError:
                pass
    return aside


def default_path() -> Path:
    """Where ``serve`` keeps its state unless told: ``$XDG_STATE_HOME/backpressure-playground/
    state.sqlite3``, ``~/.local/state/...`` without it."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "backpressure-playground" / "state.sqlite3"
