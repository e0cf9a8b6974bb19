"""The keeper: writes every live session and room to the store, and rebuilds them after a restart.

A session is written as what replay needs: per service its first scenario (a link) and its
control log, the sim time it reached, and the page's switches (speed, pause); a room as its code,
its lesson step, its question with the answers, its students and switches. Nothing is written on
the frame path: a change (a control, a room switch, an answer) marks the session or room, and
``flush`` -- every FLUSH_EVERY s -- turns what is marked into records (only the log entries not
yet written), plus, every CHECKPOINT_EVERY s, the sim time of every session that moved on. The
store writes them in its own thread.

On start, ``restore`` puts every stored session and room back at once, under the same ids and
code (so a page or a phone that reconnects is not told "unknown" and sent off to a new run), each
held -- no frames, no controls -- until ``rebuild`` has replayed it to the sim time it had
reached. Replays go one at a time through the process's replay budget (as a fork does), those a
page is already waiting on first, then rooms, then the cheapest, so restoring many heavy sessions
slows the restores, not the live streams.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict

import anyio

from playground.model.scenario import Scenario, ScenarioError
from playground.web import rooms as rooms_
from playground.web.sessions import Session, SessionManager, replay_side
from playground.web.store import NullStore, Store

logger = logging.getLogger("playground")

#: Seconds between two flushes of what changed (what a kill -9 may lose of the controls).
FLUSH_EVERY = 0.25
#: Seconds between two checkpoints of every session's sim time (what a kill -9 may lose of a run).
CHECKPOINT_EVERY = 2.0
#: Budgets of engine work a restore may take per frame interval: a few, so a class's run is back
#: within seconds, while one restore at a time leaves most of each interval to the live streams.
RESTORE_BUDGETS = 4


class Keeper:
    """Between the live sessions and rooms and the store: what to write, and bringing them back."""

    def __init__(self, store: Store, manager: SessionManager, rooms: rooms_.RoomManager):
        self.store = store
        self.manager = manager
        self.rooms = rooms
        self.enabled = not isinstance(store, NullStore)
        self.dirty: set[str] = set()  # session ids changed since the last flush
        self.dirty_rooms: set[str] = set()  # room codes changed since the last flush
        # Per session: per side, the engine last written and how many of its log entries were,
        # and the sim times written (a checkpoint skips a session that has not moved).
        self.written: dict[str, tuple] = {}
        self.pending: list[Session] = []  # restored, waiting for their replay
        self.last_checkpoint = 0.0
        self.restore_seconds: float | None = None  # how long the last rebuild took (for tests, bench)
        if self.enabled:
            manager.on_end.append(self.ended)

    # What changed ------------------------------------------------------------------------------------

    def touch(self, session: Session) -> None:
        """``session`` changed (made, a control): written at the next flush."""
        if self.enabled:
            self.dirty.add(session.id)

    def touch_room(self, room) -> None:
        if self.enabled:
            self.dirty_rooms.add(room.code)
            self.dirty.add(room.session.id)

    def ended(self, session: Session) -> None:
        self.dirty.discard(session.id)
        self.written.pop(session.id, None)
        self.store.delete(session.id)

    def flush(self, *, checkpoint: bool | None = None) -> int:
        """Hand the store a record of each changed session and room (and, at a checkpoint, of every
        session whose sim time moved); returns how many records. Cheap: no I/O here."""
        if not self.enabled:
            return 0
        now = self.manager.clock()
        if checkpoint is None:
            checkpoint = now - self.last_checkpoint >= CHECKPOINT_EVERY
        sessions = self.manager.sessions
        failed = set(self.store.unsaved)  # (the writer thread adds to it; take what is there now)
        self.store.unsaved.difference_update(failed)
        for session_id in failed:
            self.written.pop(session_id, None)  # its last write failed: write it whole
        ids = self.dirty | failed
        if checkpoint:
            self.last_checkpoint = now
            ids.update(session_id for session_id, session in sessions.items()
                       if not session.restoring and self._times(session) != self.written.get(session_id, (None,))[-1])
        self.dirty.clear()
        count = 0
        for session_id in ids:
            session = sessions.get(session_id)
            if session is None or session.restoring or session.ended:
                continue
            self.store.save_session(self.session_record(session))
            count += 1
            if session.room is not None:
                self.dirty_rooms.add(session.room.code)
        for code in self.dirty_rooms:
            room = self.rooms.rooms.get(code)
            if room is not None and not room.session.ended and not room.session.restoring:
                self.store.save_room(room_record(room))
                count += 1
        self.dirty_rooms.clear()
        return count

    @staticmethod
    def _times(session: Session) -> tuple:
        return tuple(round(side.engine.now, 6) for side in session.sides)

    def session_record(self, session: Session) -> dict:
        """The session as the store keeps it: only the log entries not written yet, unless a side's
        engine was replaced (a reset, a new step, a fork, a swap): then every entry, anew."""
        before = self.written.get(session.id)
        engines = tuple(side.engine for side in session.sides)
        replace = before is None or before[0] != engines
        controls = []
        counts = []
        for index, engine in enumerate(engines):
            start = 0 if replace else before[1][index]
            log = engine.control_log
            controls.extend((index, seq, at, control) for seq, (at, control) in enumerate(log[start:], start))
            counts.append(len(log))
        times = self._times(session)
        self.written[session.id] = (engines, tuple(counts), times)
        state = {
            "link": session.link(),  # what the page shows (read by people; restore uses the sides)
            "client": session.client,
            # Per service: its first scenario, where it is, and the link's entries still to come.
            "sides": [{"initial": side.engine.initial.to_link(), "t": side.engine.now,
                       "script": [[at, control] for at, control in side.engine.script]} for side in session.sides],
            "speed": session.speed,
            "paused": session.paused,
            "run": session.run,
            "layout": session.layout,
            "age": self.manager.clock() - session.created,
            "work": sum(engine.work for engine in engines),  # what a restore will replay, roughly
        }
        return {"id": session.id, "token_hash": session.token_hash, "state": state, "controls": controls,
                "replace": replace}

    # Coming back ---------------------------------------------------------------------------------------

    def restore(self, session_records: list[dict], room_records: list[dict]) -> int:
        """Put every stored session and room back, held until ``rebuild`` has replayed it; a
        record that does not make a session is dropped with a warning. Returns how many sessions."""
        manager = self.manager
        now = manager.clock()
        by_id = {}
        for record in session_records:
            try:
                session = self._held_session(record, now)
            except (KeyError, TypeError, ValueError, ScenarioError) as error:
                logger.warning("left out stored session %s, which could not be read: %s", record.get("id"), error)
                self.store.delete(record.get("id"))
                continue
            manager.adopt(session)
            by_id[session.id] = session
        for record in room_records:
            session = by_id.get(record["session"])
            if session is None:
                continue
            try:
                room = restore_room(record, session, now)
            except (KeyError, TypeError, ValueError) as error:
                logger.warning("left out stored room %s, which could not be read: %s", record.get("code"), error)
                continue
            self.rooms.rooms[room.code] = room
        self.pending = list(by_id.values())
        return len(by_id)

    def _held_session(self, record: dict, now: float) -> Session:
        state = record["state"]
        sides = state["sides"]
        logs: list[list] = [[] for _ in sides]
        for side, _, at, control in record["controls"]:
            logs[side].append((float(at), control))
        scenarios = [Scenario.from_link(side["initial"]) for side in sides]
        session = Session(record["id"], None, state["client"], scenarios[0], self.manager.settings, now,
                          b=scenarios[1] if len(scenarios) > 1 else None, replays=self.manager.replays)
        session.token_hash = record["token_hash"]
        session.created = now - float(state["age"])
        session.speed = float(state["speed"])
        session.paused = bool(state["paused"])
        session.run = int(state["run"])
        session.layout = int(state["layout"])
        session.restoring = True
        session.restored = anyio.Event()
        session.restore_plan = {"scenarios": scenarios, "logs": logs, "times": [float(side["t"]) for side in sides],
                                "scripts": [[(float(at), control) for at, control in side.get("script", [])]
                                            for side in sides],
                                "work": int(state.get("work", 0))}
        return session  # not in self.written: its first write after it comes back is whole

    async def rebuild(self) -> None:
        """Replay every restored session to where it was, one at a time, through the replay budget."""
        started = time.perf_counter()
        budget = self.manager.settings.tick_budget * RESTORE_BUDGETS
        replays = self.manager.replays
        count = len(self.pending)
        while self.pending:
            # Someone already waiting on its stream goes next (a page that came back), then rooms.
            session = min(self.pending, key=lambda s: (s.streams == 0, s.room is None, s.restore_plan["work"]))
            self.pending.remove(session)
            plan = session.restore_plan
            try:
                if not session.ended:
                    await replays.wait_for_turn()
                    sides = [await replay_side(scenario, log, until, budget, replays, script=later,
                                               admit=session._admit)
                             for scenario, log, until, later in zip(plan["scenarios"], plan["logs"], plan["times"],
                                                                    plan["scripts"])]
                    session.a = sides[0]
                    session.b = sides[1] if len(sides) > 1 else None
                    session._check_sandbox()
            except (ScenarioError, ValueError) as error:  # a log this version no longer replays
                logger.warning("could not restore session %s: %s", session.id, error)
                session.restoring = False
                self.manager.end(session, "this run could not be rebuilt after the server restarted; "
                                          "start it again from its link.")
            finally:
                session.restoring = False
                session.restore_plan = None
                now = self.manager.clock()
                session.wall = now
                session.idle_since = now  # its pages get the whole grace period to come back
                if session.room is not None:
                    session.room.teacher_left = now
                session.restored.set()
            self.touch(session)
        self.restore_seconds = time.perf_counter() - started
        if count:
            logger.info("restored %d sessions and %d rooms in %.2f s", count, len(self.rooms.rooms),
                        self.restore_seconds)


def room_record(room) -> dict:
    question = room.question
    state = {
        "client": room.client,
        "allow_send": room.allow_send,
        "step": room.step,
        "join_url": room.join_url, "join_note": room.join_note, "join_others": room.join_others,
        # The students' ids (so phones keep theirs and each answer still counts once).
        "students": {student: found.address for student, found in room.students.items()},
        "question": None if question is None else {
            "key": question.key, "answers": question.answers, "revealed": question.revealed,
            "actual": question.actual, "detail": question.detail, "about": question.about,
            "before": question.before, "end": question.end},
    }
    return {"code": room.code, "session": room.session.id, "state": state}


def restore_room(record: dict, session: Session, now: float):
    state = record["state"]
    room = rooms_.Room(record["code"], session, now, state["client"])
    session.room = room
    room.allow_send = bool(state["allow_send"])
    room.step = state["step"]
    room.join_url, room.join_note, room.join_others = state["join_url"], state["join_note"], state["join_others"]
    for student, address in state["students"].items():
        room.students[student] = rooms_.Student(address, now)
        room.addresses.setdefault(address, OrderedDict())[student] = None
    held = state["question"]
    if held is not None:
        question = rooms_.Question.__new__(rooms_.Question)  # as it was asked, not asked again now
        question.key = held["key"]
        question.text, question.kind, question.choices = rooms_.QUESTIONS[held["key"]]
        for name in ("answers", "revealed", "actual", "detail", "about", "before", "end"):
            setattr(question, name, held[name])
        room.question = question
    return room
