"""The frame stream: one Server-Sent Events connection per tab carries everything.

The generator wakes at the frame rate, catches its session up with the wall
clock and yields the newest frame. It never queues frames: while a slow client
is still taking the last one, ticks pass and the next frame it gets is the
newest (a client that never reads costs one suspended generator, and
sse-starlette's send timeout ends it).
"""

from __future__ import annotations

import math
import random

import anyio
from sse_starlette import ServerSentEvent

from playground.web import frames
from playground.web.sessions import Cursor, Session, SessionManager

#: Milliseconds a browser waits before reconnecting a dropped stream.
RETRY_MS = 1000


async def frame_events(session: Session, manager: SessionManager, shutdown: anyio.Event):
    """Frames for one stream until the session ends, the client goes, or the server stops.

    The caller counts the stream in and out (``manager.open_stream``/``close_stream``,
    around the whole response, so a stream whose generator never started is counted out too)."""
    clock = manager.clock
    cursor = Cursor()
    if session.restored is not None:  # rebuilt after a restart: its first frame is the moment it reached
        await session.restored.wait()
    if not session.watched:  # the run starts when someone first watches it
        session.watched = True
        session.wall = clock()
    session.catch_up(clock())
    yield _frame(session, manager, cursor, full=True, retry=True)
    next_at = _phase(clock(), manager.frame_interval)
    while True:
        # Always yield to the event loop, even when late: a stream that only
        # slept when early would starve every other stream, the reaper, the
        # governor, disconnect detection and signal handling.
        await anyio.sleep(max(0.0, next_at - clock()))
        if shutdown.is_set():
            yield ServerSentEvent(data='{"reason":"the server is shutting down"}', event="bye")
            return
        now = clock()
        manager.note_lateness(now, max(0.0, now - next_at))
        # The next tick is one interval on; a late stream does not burst to
        # catch up (and the governor widens the interval when the process is saturated).
        interval = manager.frame_interval
        if now - next_at < interval:
            next_at += interval
        else:
            # Late by a whole tick: restart at a random phase, so the streams
            # that were late together do not stay bunched together.
            next_at = _phase(now, interval)
        if session.ended:
            yield _frame(session, manager, cursor)
            return
        session.catch_up(now)
        yield _frame(session, manager, cursor)


#: Phases a frame interval is split into. Streams tick at one of them, chosen at
#: random: not all together (every tick one burst of N writes, the last of them
#: late), and not each alone either (the event loop then wakes once per stream
#: instead of once per phase, which costs CPU).
PHASES = 5


def _phase(now: float, interval: float) -> float:
    """The first tick of a stream starting (or restarting) at ``now``: a random one
    of the next ``PHASES`` slots of a grid all streams share."""
    slot = interval / PHASES
    return (math.floor(now / slot) + 1 + random.randrange(PHASES)) * slot


def _frame(session: Session, manager: SessionManager, cursor: Cursor, full=False, retry=False):
    frame = session.frame(cursor, full=full)
    manager.frames_sent += 1
    return ServerSentEvent(data=frames.encode(frame), event="frame", id=str(frame["n"]),
                           retry=RETRY_MS if retry else None)


async def room_events(room, manager: SessionManager, shutdown: anyio.Event):
    """A room viewer's frames: the room's one broadcast frame per tick, the same bytes for every
    viewer; a full frame first, and again after a missed tick (a slow viewer skips ticks rather
    than queueing them, and the full frame puts its charts and log right)."""
    clock = manager.clock
    session = room.session
    if session.restored is not None:
        await session.restored.wait()
    if not session.watched:
        session.watched = True
        session.wall = clock()
    interval = manager.frame_interval
    tick = math.floor(clock() / interval)
    yield ServerSentEvent(data=room.full_frame(tick, clock()), event="frame", id=str(tick), retry=RETRY_MS)
    last = tick
    while True:
        interval = manager.frame_interval
        # Every viewer wakes on the same grid, so one tick's frame is made once for all of them.
        tick = math.floor(clock() / interval) + 1
        await anyio.sleep(max(0.0, tick * interval - clock()))
        if shutdown.is_set():
            yield ServerSentEvent(data='{"reason":"the server is shutting down"}', event="bye")
            return
        now = clock()
        manager.note_lateness(now, max(0.0, now - tick * interval))
        # The broadcasts since this viewer's last frame (another viewer may have made this tick's
        # already, or this task woke late and missed some): sent in order, so none is skipped.
        missed = room.since(last)
        if missed is None:  # more than the room keeps: a whole frame puts the phone right
            data = room.full_frame(tick, now)
        else:
            for missed_tick, missed_data in missed:
                manager.frames_sent += 1
                yield ServerSentEvent(data=missed_data, event="frame", id=str(missed_tick))
                last = missed_tick
            if last >= tick:
                continue
            data = room.broadcast(tick, now)
        manager.frames_sent += 1
        yield ServerSentEvent(data=data, event="frame", id=str(tick))
        last = tick
        if session.ended:
            return
