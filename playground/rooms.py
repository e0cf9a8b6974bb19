"""Rooms: a class watches one simulation, the teacher's, from their own screens.

A room is a session (the teacher drives it with the session's token, as any page does) plus a
short join code and its viewers. Students open ``/r/CODE`` and watch the same engine: every tick
the room makes one frame, encodes it once, and every viewer's stream writes those same bytes; a
viewer that joins late, or missed a tick, gets one full frame (also made once per tick). When the
teacher allows it, each student's "Send requests" adds a small burst to the room's arrivals --
rate-limited per student and per address, and nothing else a student sends can change the run.
"""

from __future__ import annotations

import math
import secrets
import time
from collections import OrderedDict, deque

from . import frames
from .errors import Forbidden, Full, Gone, Invalid, NotFound, TooManyRequests
from .ratelimit import Bucket
from .scenario import shown
from .sessions import Cursor, Session, SessionManager

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
#: Presses per address a second (a school NAT holds a whole class: generous, but bounded).
ADDRESS_RATE, ADDRESS_BURST = 60.0, 120
#: Students remembered per room for their rate limits (the oldest forgotten first).
STUDENTS_REMEMBERED = 2000
#: Seconds the class total counts back ("the class sent 412 requests in the last 10 s").
CLASS_WINDOW = 10.0


#: The questions a teacher may ask (predict, then reveal): key -> (text, kind, choices).
#: "choice" questions compare the p99 latency of the last QUESTION_SPAN seconds before the question
#: with that of the last QUESTION_SPAN seconds before the reveal (the teacher changes something in
#: between); "number" questions count what happened between question and reveal.
QUESTIONS = {
    "p99-after-change": ("What happens to p99 latency after the change we are about to make?", "choice",
                         ("lower", "same", "higher")),
    "lost-next": ("How many items will be lost between now and the reveal?", "number", ()),
    "completed-next": ("How many items will be completed between now and the reveal?", "number", ()),
}
#: Seconds of sim time a p99 comparison reads on each side of the change.
QUESTION_SPAN = 10.0
#: Within this factor p99 counts as "same".
SAME_WITHIN = 0.10
ANSWER_MAX = 1_000_000


def is_code(text: object) -> bool:
    return isinstance(text, str) and len(text) == CODE_LENGTH and all(c in ALPHABET for c in text)


class Question:
    """One prediction: asked, answered anonymously by the class, then revealed against the run."""

    def __init__(self, key: str, session: Session):
        self.key = key
        self.text, self.kind, self.choices = QUESTIONS[key]
        self.answers: dict[str, object] = {}  # student id -> answer (the latest counts)
        self.revealed = False
        self.actual: object = None
        self.detail = ""
        self.before = self._reading(session)

    @staticmethod
    def _reading(session: Session) -> dict:
        engine = session.engine
        totals = engine.totals()
        lost = sum(totals[key] for key in ("rejected", "dropped", "put_timeouts", "stale", "timeouts",
                                           "throttled", "lost"))
        return {"t": engine.now, "lost": lost, "completed": totals["completed"], "p99": _recent_p99(session)}

    def answer(self, student: str, value) -> None:
        if self.revealed:
            raise Invalid("this question has been revealed; wait for the next one.", field="value")
        if self.kind == "choice":
            if value not in self.choices:
                raise Invalid(f"value must be one of {', '.join(self.choices)}; got {shown(value)}.", field="value")
        elif isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= ANSWER_MAX:
            raise Invalid(f"value must be a whole number from 0 to {ANSWER_MAX:,}; got {shown(value)}.", field="value")
        self.answers[student] = value
        while len(self.answers) > STUDENTS_REMEMBERED:
            self.answers.pop(next(iter(self.answers)))

    def reveal(self, session: Session) -> None:
        after = self._reading(session)
        seconds = after["t"] - self.before["t"]
        if self.kind == "number":
            key = "lost" if self.key == "lost-next" else "completed"
            self.actual = after[key] - self.before[key]
            self.detail = f"{self.actual:,} {'lost' if key == 'lost' else 'completed'} in {seconds:.0f} s of the run"
        else:
            p_before, p_after = self.before["p99"], after["p99"]
            if p_before is None or p_after is None:
                self.actual, self.detail = None, "no p99 to compare: nothing completed in one of the two spans"
            else:
                ratio = p_after / p_before if p_before else float("inf")
                self.actual = "same" if abs(ratio - 1) <= SAME_WITHIN else ("higher" if ratio > 1 else "lower")
                self.detail = (f"p99 over the last {QUESTION_SPAN:g} s: {p_before * 1000:,.0f} ms when asked, "
                               f"{p_after * 1000:,.0f} ms at the reveal")
        self.revealed = True

    def block(self) -> dict:
        out = {"key": self.key, "text": self.text, "kind": self.kind, "choices": list(self.choices),
               "answered": len(self.answers), "revealed": self.revealed}
        if self.revealed:
            values = list(self.answers.values())
            if self.kind == "choice":
                out["guesses"] = {choice: values.count(choice) for choice in self.choices}
            else:
                out["guesses"] = _spread(values)
            out["actual"] = self.actual
            out["detail"] = self.detail
        return out


def _recent_p99(session: Session) -> float | None:
    """The p99 latency of the items completed in the last QUESTION_SPAN s of the run (the session's
    windows), or None if there were none."""
    engine = session.engine
    windows = [row for _, row in session.a.windows if row[0] > engine.now - QUESTION_SPAN]
    p99 = frames.WINDOW_COLUMNS.index("p99")
    values = [row[p99] for row in windows if row[p99] is not None]
    return max(values) if values else None


def _spread(values: list) -> dict:
    """A number question's guesses, without names: how many, the median and the quartiles, and
    counts in five bands between the smallest and largest guess."""
    if not values:
        return {"count": 0}
    ordered = sorted(values)
    at = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"count": len(ordered), "low": ordered[0], "q1": at(0.25), "median": at(0.5), "q3": at(0.75),
            "high": ordered[-1]}


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
        self.students: OrderedDict[str, Bucket] = OrderedDict()
        self.addresses: dict[str, Bucket] = {}
        self.cursor = Cursor()  # what the broadcast has sent
        self.tick = -1  # the tick the broadcast frame below is for
        self.delta: str | None = None
        self.full: tuple[int, str] | None = None
        self.question: Question | None = None
        self.step: dict | None = None  # the lesson step the room is on: {lesson, title, index, of, ...}

    # What the room says ---------------------------------------------------------------------

    def block(self, now: float) -> dict:
        """The room's own figures, in every frame its teacher and viewers get."""
        while self.presses and self.presses[0][0] < now - CLASS_WINDOW:
            self.presses.popleft()
        return {"code": self.code, "watching": self.viewers, "allow_send": self.allow_send,
                "class_sent": sum(n for _, n in self.presses), "class_window": CLASS_WINDOW,
                "question": None if self.question is None else self.question.block(), "step": self.step}

    def broadcast(self, tick: int, now: float) -> str:
        """The frame of ``tick`` for every viewer: made and encoded once, whoever asks first."""
        if tick != self.tick:
            self.session.catch_up(now)
            frame = self.session.frame(self.cursor, full=self.tick < 0)
            frame["room"] = self.block(now)
            frame["tick"] = tick
            self.delta = frames.encode(frame)
            self.tick = tick
        return self.delta

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

    def check_press(self, student: str, address: str, now: float) -> None:
        """Refuse a press (with a sentence) unless the teacher allows it and it is within the
        student's and the address's rate; counts it if not refused."""
        if self.session.ended:
            raise Gone(self.session.ended)
        if not self.allow_send:
            raise Forbidden("the teacher has not opened sending requests in this room.")
        bucket = self.students.get(student)
        if bucket is None:
            bucket = self.students[student] = Bucket(PRESS_RATE, PRESS_BURST, now)
            while len(self.students) > STUDENTS_REMEMBERED:
                self.students.popitem(last=False)
        self.students.move_to_end(student)
        shared = self._address(address, now)
        if not bucket.take(now):
            raise TooManyRequests(f"one press a second, please: try again in {bucket.wait():.1f} s.",
                                  retry_after=max(1, math.ceil(bucket.wait())))
        if not shared.take(now):
            raise TooManyRequests("this network is sending too many presses at once; try again shortly.",
                                  retry_after=1)

    def check_answer_rate(self, address: str, now: float) -> None:
        """Answers share the address's bucket with presses: a network cannot flood the room."""
        if not self._address(address, now).take(now):
            raise TooManyRequests("this network is sending too many answers at once; try again shortly.",
                                  retry_after=1)

    def _address(self, address: str, now: float) -> Bucket:
        """The bucket one network address's presses and answers share."""
        bucket = self.addresses.get(address)
        if bucket is None:
            bucket = self.addresses[address] = Bucket(ADDRESS_RATE, ADDRESS_BURST, now)
        return bucket

    def pressed(self, items: int, now: float) -> None:
        self.presses.append((now, items))


class RoomManager:
    """Every room of this process: created under a cap, found by code, ended when the teacher
    has been away for TEACHER_AWAY."""

    def __init__(self, sessions: SessionManager, clock=time.monotonic):
        self.sessions = sessions
        self.clock = clock
        self.rooms: dict[str, Room] = {}

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

    def get(self, code: str) -> Room:
        room = self.rooms.get(code.upper()) if isinstance(code, str) else None
        if room is None:
            raise NotFound("there is no room with that code; check it on the projector.")
        return room

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
