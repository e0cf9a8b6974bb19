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
from .errors import Forbidden, Full, Gone, NotFound, TooManyRequests
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


def is_code(text: object) -> bool:
    return isinstance(text, str) and len(text) == CODE_LENGTH and all(c in ALPHABET for c in text)


class Bucket:
    """A token bucket: ``take(now)`` is True while there is a token."""

    __slots__ = ("tokens", "at", "rate", "burst")

    def __init__(self, rate: float, burst: int, now: float):
        self.rate, self.burst, self.tokens, self.at = rate, burst, float(burst), now

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def wait(self) -> float:
        return max(0.1, (1 - self.tokens) / self.rate)


class Room:
    """One session, its join code, its viewers and what the class has sent."""

    def __init__(self, code: str, session: Session, now: float):
        self.code = code
        self.session = session
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

    # What the room says ---------------------------------------------------------------------

    def block(self, now: float) -> dict:
        """The room's own figures, in every frame its teacher and viewers get."""
        while self.presses and self.presses[0][0] < now - CLASS_WINDOW:
            self.presses.popleft()
        return {"code": self.code, "watching": self.viewers, "allow_send": self.allow_send,
                "class_sent": sum(n for _, n in self.presses), "class_window": CLASS_WINDOW}

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
        """A whole frame (scenario, history) for a viewer joining or catching up: once per tick."""
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
        shared = self.addresses.setdefault(address, Bucket(ADDRESS_RATE, ADDRESS_BURST, now))
        if not bucket.take(now):
            raise TooManyRequests(f"one press a second, please: try again in {bucket.wait():.1f} s.",
                                  retry_after=max(1, math.ceil(bucket.wait())))
        if not shared.take(now):
            raise TooManyRequests("this network is sending too many presses at once; try again shortly.",
                                  retry_after=1)

    def pressed(self, items: int, now: float) -> None:
        self.presses.append((now, items))


class RoomManager:
    """Every room of this process: created under a cap, found by code, ended when the teacher
    has been away for TEACHER_AWAY."""

    def __init__(self, sessions: SessionManager, clock=time.monotonic):
        self.sessions = sessions
        self.clock = clock
        self.rooms: dict[str, Room] = {}

    def create(self, session: Session) -> Room:
        settings = self.sessions.settings
        if len(self.rooms) >= settings.max_rooms:
            self.sessions.end(session, "the playground already has as many rooms as it may hold.")
            raise Full(f"the playground already holds {settings.max_rooms} rooms, the most it may; try again "
                       "shortly.", retry_after=30)
        while True:
            code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
            if code not in self.rooms:
                break
        room = Room(code, session, self.clock())
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
