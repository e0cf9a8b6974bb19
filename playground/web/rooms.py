"""Rooms: a class watches one simulation, the teacher's, from their own screens.

A room is a session (the teacher drives it with the session's token, as any page does) plus a
short join code and its viewers. Students open ``/r/CODE`` and watch the same engine: every tick
the room makes one frame, encodes it once, and every viewer's stream writes those same bytes; a
viewer that joins late, or missed a tick, gets one full frame (also made once per tick). When the
teacher allows it, each student's "Send requests" adds a small burst to the room's arrivals --
rate-limited per student, and nothing else a student sends can change the run.

A student is an id the room issued (``join``), not one the phone makes up: one phone cannot be a
thousand students. An address holds at most STUDENTS_PER_ADDRESS ids in a room, and each id has
its own press bucket, so the students behind one school NAT share it fairly: no id can drain a
bucket the others need. Join codes are looked up under a per-address limit on unknown codes.
"""

from __future__ import annotations

import math
import secrets
import statistics
import time
from collections import OrderedDict, deque

from playground.model.scenario import shown
from playground.teach.questions import COUNT_SPAN, NOT_COMPLETED, P99_SPAN, QUESTIONS
from playground.web import frames
from playground.web.errors import (
    Forbidden,
    Full,
    Gone,
    Invalid,
    NotFound,
    TooManyRequests,
)
from playground.web.ratelimit import Bucket
from playground.web.sessions import Cursor, Session, SessionManager

#: Join codes: six characters from an alphabet without look-alikes (no 0/O, 1/I/L), easy to read
#: off a projector and type on a phone: 31^6, about 890 million codes.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
#: A room ends after this long with no teacher connected (its viewers are told).
TEACHER_AWAY = 30 * 60.0
#: Items one press of "Send requests" adds to the room's arrivals.
PRESS_ITEMS = 5
#: Presses per student: a burst of PRESS_BURST, refilled at PRESS_RATE a second.
PRESS_RATE, PRESS_BURST = 1.0, 3
#: Answers per student: a burst of 3, refilled at one a second (one counts per question).
ANSWER_RATE, ANSWER_BURST = 1.0, 3
#: Student ids one address may hold in a room: a class of 60 behind one school NAT, each with a
#: second tab. This, not a shared bucket, bounds what an address sends: 120 presses a second.
STUDENTS_PER_ADDRESS = 120
#: Student ids one room holds (past it, the longest idle is released if idle long enough).
STUDENTS_REMEMBERED = 2000
#: Seconds an id may go unused before the room may release it for a new one (its phone joins again).
STUDENT_IDLE = 600.0
#: Unknown join codes one address may look up: MISS_BURST, refilled at MISS_RATE a second; once
#: spent, every room lookup from that address is refused for MISS_LOCKOUT s. Generous enough that a
#: class of 60 behind one school address can mistype (one student's typos must not lock the class
#: out); 31^6 codes and 50 rooms at one guess per 2 s: about a year of guessing per room found.
MISS_RATE, MISS_BURST, MISS_LOCKOUT = 30 / 60, 30, 30.0
#: Addresses whose misses are remembered (the oldest forgotten first).
ADDRESSES_REMEMBERED = 10_000
#: Broadcasts a room keeps for viewers that woke late (a second at 20 frames a second).
RESEND_TICKS = 20
#: Seconds the class total counts back ("the class sent 412 requests in the last 10 s").
CLASS_WINDOW = 10.0


#: Within this factor p99 counts as "same".
SAME_WITHIN = 0.10
ANSWER_MAX = 1_000_000


def is_code(text: object) -> bool:
    return isinstance(text, str) and len(text) == CODE_LENGTH and all(c in ALPHABET for c in text)


def not_joined(code: object, student: object) -> Forbidden:
    """The one answer for a press or an answer whose id this room did not issue, and for a room
    that does not exist: send and answer tell a guesser nothing /r/CODE would not."""
    code = code.upper() if isinstance(code, str) and is_code(code.upper()) else "CODE"
    return Forbidden(f"student {shown(student)} is not an id room {code} issued; open /r/{code} "
                     "to join the room and get one.", field="student")


class Question:
    """One prediction: asked, answered anonymously by the class, then revealed against the run."""

    def __init__(self, key: str, session: Session):
        self.key = key
        self.text, self.kind, self.choices = QUESTIONS[key]
        self.answers: dict[str, object] = {}  # student id -> answer (the latest counts)
        self.revealed = False
        self.actual: object = None
        self.detail = ""
        # A comparison's questions are about service A (the one the class's presses feed first).
        self.about = "service A" if session.b is not None else None
        self.before = self._reading(session)
        self.end: dict | None = None  # a number question's reading at the end of its span

    @staticmethod
    def _reading(session: Session) -> dict:
        engine = session.engine
        totals = engine.totals()
        return {"t": engine.now, "totals": {key: totals[key] for key, _ in NOT_COMPLETED + (("completed", ""),)},
                "p99": key_p99(engine)["p99"]}

    def watch(self, session: Session) -> None:
        """Take a number question's reading once its span has passed (called every broadcast)."""
        if self.kind == "number" and self.end is None and not self.revealed:
            if session.engine.now >= self.before["t"] + COUNT_SPAN or session.finished:
                self.end = self._reading(session)

    def answer(self, student: str, value) -> None:
        if self.revealed:
            raise Invalid("this question has been revealed; wait for the next one.", field="value")
        if self.kind == "choice":
            if value not in self.choices:
                raise Invalid(f"value must be one of {', '.join(self.choices)}; got {shown(value)}.", field="value")
        elif isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= ANSWER_MAX:
            raise Invalid(f"value must be a whole number from 0 to {ANSWER_MAX:,}; got {shown(value)}.", field="value")
        if student not in self.answers and len(self.answers) >= STUDENTS_REMEMBERED:
            # Refused, not the oldest pushed out: answers already given must survive a flood.
            raise TooManyRequests(f"this question already has {len(self.answers):,} answers, the most it counts "
                                  f"({STUDENTS_REMEMBERED:,}).", retry_after=60)
        self.answers[student] = value

    def reveal(self, session: Session) -> None:
        self.watch(session)
        after = self.end or self._reading(session)
        seconds = after["t"] - self.before["t"]
        of = f" of {self.about}" if self.about else ""
        if self.kind == "number":
            change = {key: after["totals"][key] - self.before["totals"][key] for key in after["totals"]}
            span = (f"in the {seconds:.1f} s after the question" if self.end is not None
                    else f"in the first {seconds:.1f} s of the {COUNT_SPAN:g} s asked about, revealed early")
            if self.key == "completed-next":
                self.actual = change["completed"]
                self.detail = f"{self.actual:,} completed{of} {span}"
            else:
                self.actual = sum(change[key] for key, _ in NOT_COMPLETED)
                named = ", ".join(f"{change[key]:,} {word}" for key, word in NOT_COMPLETED if change[key])
                self.detail = f"{self.actual:,} not completed{of} {span}" + (f": {named}" if named else "")
        else:
            p_before, p_after = self.before["p99"], after["p99"]
            if p_before is None or p_after is None:
                self.actual, self.detail = None, "no p99 to compare: nothing completed in one of the two spans"
            else:
                ratio = p_after / p_before if p_before else float("inf")
                self.actual = "same" if abs(ratio - 1) <= SAME_WITHIN else ("higher" if ratio > 1 else "lower")
                self.detail = (f"p99{of} over the last {P99_SPAN:g} s: {_ms(p_before)} when asked, "
                               f"{_ms(p_after)} at the reveal")
        self.revealed = True

    def block(self) -> dict:
        out = {"key": self.key, "text": self.text + (f" (about {self.about})" if self.about else ""),
               "kind": self.kind, "choices": list(self.choices), "answered": len(self.answers),
               "revealed": self.revealed, "about": self.about}
        if self.kind == "number":
            out["span"] = {"from": round(self.before["t"], 3), "seconds": COUNT_SPAN, "done": self.end is not None}
        if self.revealed:
            values = list(self.answers.values())
            if self.kind == "choice":
                out["guesses"] = {choice: values.count(choice) for choice in self.choices}
            else:
                out["guesses"] = _spread(values)
            out["actual"] = self.actual
            out["detail"] = self.detail
        return out


def key_p99(engine) -> dict:
    """The p99 a room shows and asks about: exact (nearest rank, as the run's summary) over the
    items completed in the last P99_SPAN s of sim time; once the run has finished, the run's own
    p99 (what ``run --json`` prints), so a finished run keeps its number."""
    if engine.finished:
        return {"p99": engine.metrics.latency.quantile(0.99), "span": "whole run",
                "completed": engine.metrics.outcomes["completed"]}
    p99, completed = engine.metrics.recent_p99(engine.now, P99_SPAN)
    return {"p99": p99, "span": f"last {P99_SPAN:g} s", "completed": completed}


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds < 1 else f"{seconds:,.2f} s"


def _spread(values: list) -> dict:
    """A number question's guesses, without names: how many, the median and the quartiles, and
    counts in five bands between the smallest and largest guess."""
    if not values:
        return {"count": 0}
    ordered = sorted(values)
    q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive") if len(ordered) > 1 else ordered * 3
    return {"count": len(ordered), "low": ordered[0], "q1": q1, "median": statistics.median(ordered), "q3": q3,
            "high": ordered[-1]}


class Student:
    """One phone in a room: the address its id was issued to, and its own buckets."""

    __slots__ = ("address", "presses", "answers", "used")

    def __init__(self, address: str, now: float):
        self.address = address
        self.presses = Bucket(PRESS_RATE, PRESS_BURST, now)
        self.answers = Bucket(ANSWER_RATE, ANSWER_BURST, now)
        self.used = now


class Room:
    """One session, its join code, its viewers and what the class has sent."""

    def __init__(self, code: str, session: Session, now: float, client: str = ""):
        self.code = code
        self.session = session
        self.client = client  # the address that created it (its rooms are capped per address)
        self.viewers = 0
        self.allow_send = False
        self.teacher_left: float | None = now  # when the last teacher stream closed (None: one is open)
        self.presses: deque = deque()  # (wall time, items) of recent presses
        self.students: OrderedDict[str, Student] = OrderedDict()  # issued id -> student, least used first
        self.addresses: dict[str, OrderedDict[str, None]] = {}  # address -> its ids, least used first
        self.cursor = Cursor()  # what the broadcast has sent
        self.tick = -1  # the tick the broadcast frame below is for
        self.delta: str | None = None
        # The last few broadcasts, (tick, data) in order: each delta follows the one before, so a
        # viewer whose task woke a tick late sends the ones it missed instead of skipping them.
        self.sent: deque = deque(maxlen=RESEND_TICKS)
        self.full: tuple[int, str] | None = None
        self.question: Question | None = None
        self.step: dict | None = None  # the lesson step the room is on: {lesson, title, index, of, ...}
        # The address phones open (a network address when the teacher is on this machine), a
        # sentence when no phone can reach the server, and other addresses it may be reached at.
        self.join_url = f"/r/{code}"
        self.join_note: str | None = None
        self.join_others: list[str] = []

    # What the room says ---------------------------------------------------------------------

    def block(self, now: float) -> dict:
        """The room's own figures, in every frame its teacher and viewers get."""
        while self.presses and self.presses[0][0] < now - CLASS_WINDOW:
            self.presses.popleft()
        return {"code": self.code, "watching": self.viewers, "allow_send": self.allow_send,
                "class_sent": sum(n for _, n in self.presses), "class_window": CLASS_WINDOW,
                "question": None if self.question is None else self.question.block(), "step": self.step,
                "join_url": self.join_url, "join_note": self.join_note,
                "p99": {name: key_p99(side.engine) for name, side in zip("ab", self.session.sides)}}

    def broadcast(self, tick: int, now: float) -> str:
        """The frame of ``tick`` for every viewer: made and encoded once, whoever asks first."""
        if tick > self.tick:  # (a viewer late for an older tick gets the newest: the chain holds)
            self.session.catch_up(now)
            if self.question is not None:
                self.question.watch(self.session)
            frame = self.session.frame(self.cursor, full=self.tick < 0)
            frame["room"] = self.block(now)
            frame["tick"] = tick
            self.delta = frames.encode(frame)
            self.tick = tick
            self.sent.append((tick, self.delta))
        return self.delta

    def since(self, last: int) -> list[tuple[int, str]] | None:
        """The broadcasts after tick ``last``, in order, if the ring still holds the one after it
        (else None: the viewer needs a full frame)."""
        sent = list(self.sent)
        for index, (tick, _) in enumerate(sent):
            if tick > last:
                return sent[index:] if index > 0 and sent[index - 1][0] == last else None
        return []

    def full_frame(self, tick: int, now: float) -> str:
        """A whole frame (scenario, history) for a viewer joining or catching up: once per tick.
        Made when first asked, so the teacher's own stream may have moved the run on since the
        tick's broadcast: it can be a moment ahead of it (the next broadcast repeats a window or
        an event the page already has, which it takes in its stride)."""
        if self.full is None or self.full[0] != tick:
            self.broadcast(tick, now)  # the tick's delta first, so the two agree on the present
            frame = self.session.frame(Cursor(), full=True)
            frame["room"] = self.block(now)
            frame["tick"] = tick
            self.full = (tick, frames.encode(frame))
        return self.full[1]

    # What students may do ---------------------------------------------------------------------

    def join(self, address: str, now: float) -> str:
        """Issue a student id to a phone at ``address``, within the address's and the room's share."""
        if self.session.ended:
            raise Gone(self.session.ended)
        held = self.addresses.setdefault(address, OrderedDict())
        if len(held) >= STUDENTS_PER_ADDRESS and not self._release(next(iter(held)), now):
            raise TooManyRequests(f"this network already holds {len(held)} student ids in room {self.code}, the most "
                                  f"one address may ({STUDENTS_PER_ADDRESS}); keep using this tab's, or try again "
                                  f"in {STUDENT_IDLE / 60:.0f} minutes.", retry_after=STUDENT_IDLE)
        if len(self.students) >= STUDENTS_REMEMBERED and not self._release(next(iter(self.students)), now):
            raise TooManyRequests(f"room {self.code} already has {len(self.students):,} students, the most a room "
                                  f"may ({STUDENTS_REMEMBERED:,}).", retry_after=60)
        student = secrets.token_hex(12)
        self.students[student] = Student(address, now)
        held[student] = None
        return student

    def _release(self, student: str, now: float) -> bool:
        """Forget ``student`` if it has been idle STUDENT_IDLE (its phone will join again)."""
        found = self.students[student]
        if now - found.used < STUDENT_IDLE:
            return False
        del self.students[student]
        held = self.addresses[found.address]
        del held[student]
        if not held:
            del self.addresses[found.address]
        return True

    def student(self, student: object, now: float) -> Student:
        """The student an issued id names (marked as just used), or 403 with the sentence an
        unknown room's code also gets (see RoomManager.student)."""
        found = self.students.get(student) if isinstance(student, str) else None
        if found is None:
            raise not_joined(self.code, student)
        found.used = now
        self.students.move_to_end(student)
        self.addresses[found.address].move_to_end(student)
        return found

    def check_press(self, student_id: object, now: float) -> None:
        """Refuse a press (with a sentence) unless it comes from an issued id, the teacher allows
        it and it is within the student's rate; counts it if not refused."""
        student = self.student(student_id, now)
        if self.session.ended:
            raise Gone(self.session.ended)
        if not self.allow_send:
            raise Forbidden("the teacher has not opened sending requests in this room.")
        if not student.presses.take(now):
            wait = student.presses.wait()
            raise TooManyRequests(f"one press a second, please: try again in {wait:.1f} s.",
                                  retry_after=max(1, math.ceil(wait)))

    def answer(self, student_id: object, value, now: float) -> None:
        """One answer per issued id to the open question (the latest counts), at its own rate."""
        student = self.student(student_id, now)
        if self.question is None:
            raise Invalid("there is no question open in this room.", field="value")
        if not student.answers.take(now):
            raise TooManyRequests(f"at most {ANSWER_BURST} answers at once, then one a second; try again in "
                                  f"{student.answers.wait():.1f} s.", retry_after=1)
        self.question.answer(student_id, value)

    def pressed(self, items: int, now: float) -> None:
        self.presses.append((now, items))


class RoomManager:
    """Every room of this process: created under a cap, found by code, ended when the teacher
    has been away for TEACHER_AWAY."""

    def __init__(self, sessions: SessionManager, clock=time.monotonic):
        self.sessions = sessions
        self.clock = clock
        self.rooms: dict[str, Room] = {}
        self.misses: OrderedDict[str, Bucket] = OrderedDict()  # address -> its unknown-code lookups

    def check_capacity(self, client: str) -> None:
        """Refuse a new room when the process holds as many as it may (503), or when ``client``
        already holds its share (429): one address must not take every room."""
        settings = self.sessions.settings
        if len(self.rooms) >= settings.max_rooms:
            raise Full(f"the playground already holds {settings.max_rooms} rooms, the most it may; "
                       "try again shortly.", retry_after=30)
        held = sum(1 for room in self.rooms.values() if room.client == client and not room.session.ended)
        if held >= settings.max_rooms_per_client:
            raise TooManyRequests(f"this address already holds {held} live rooms, the most one address may "
                                  f"(max_rooms_per_client is {settings.max_rooms_per_client}); end one "
                                  "(close its teacher's tab) or try again later.", retry_after=60)

    def create(self, session: Session, client: str) -> Room:
        self.check_capacity(client)
        while True:
            code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
            if code not in self.rooms:
                break
        room = Room(code, session, self.clock(), client)
        session.room = room
        self.rooms[code] = room
        return room

    def get(self, code: object, client: str) -> Room:
        """The room of ``code``, for a lookup from ``client``: 404 if there is none, and 429 for
        every lookup once the address has tried too many unknown codes (guessing is slow)."""
        now = self.clock()
        misses = self.misses.get(client)
        if misses is not None and not misses.ready(now):
            raise TooManyRequests(f"this address has looked up {MISS_BURST} unknown room codes, the most it may "
                                  f"in {MISS_BURST / MISS_RATE:.0f} s; check the code on the projector and try "
                                  f"again in {math.ceil(misses.wait())} s.", retry_after=misses.wait())
        key = code.upper() if isinstance(code, str) else None
        room = self.rooms.get(key) if is_code(key) else None
        if room is None:
            if misses is None:
                misses = self.misses[client] = Bucket(MISS_RATE, MISS_BURST, now)
                while len(self.misses) > ADDRESSES_REMEMBERED:
                    self.misses.popitem(last=False)
            self.misses.move_to_end(client)
            misses.take(now)
            if not misses.ready(now):
                # Spent: held below zero so the next token is MISS_LOCKOUT s away, not 6 s.
                misses.tokens -= MISS_RATE * MISS_LOCKOUT
            raise NotFound("there is no room with that code; check it on the projector.")
        return room

    def joined(self, code: object, student: object, client: str) -> Room:
        """The room a student's press or answer is for: an unknown room answers as an unknown id
        does (403, the same sentence), though it counts as an unknown code."""
        try:
            return self.get(code, client)
        except NotFound:
            raise not_joined(code, student) from None

    def reap(self) -> int:
        """Forget rooms whose session ended; end those whose teacher has been away too long."""
        now = self.clock()
        ended = 0
        for code, room in list(self.rooms.items()):
            session = room.session
            teachers = session.streams - room.viewers
            if teachers > 0:
                room.teacher_left = None
            elif room.teacher_left is None:
                room.teacher_left = now
            if not session.ended and room.teacher_left is not None and now - room.teacher_left > TEACHER_AWAY:
                self.sessions.end(session, f"The teacher has been away for {TEACHER_AWAY / 60:.0f} minutes, "
                                           "so this room has ended. Thank you for watching.")
            if session.ended and room.viewers == 0:
                del self.rooms[code]
                ended += 1
        return ended
