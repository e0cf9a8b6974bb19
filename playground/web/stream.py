"""The frame streams: one Server-Sent Events connection per tab, all fed by one ticker.

Each stream used to be its own generator under sse-starlette: every tick it slept, woke,
caught its session up, built and encoded a frame, and sse-starlette formatted and sent it
under a fresh cancel scope, with four tasks per stream around it. Now one ``Ticker`` task
per process wakes a few times per frame interval (``PHASES``: not every stream in one burst,
and not one wake-up per stream either), and for each stream of that phase catches its
session up, makes its frame (once for all the streams of a session that have seen the same
thing, and once per tick for all the viewers of a room) and writes the bytes straight
through the connection's ASGI ``send``. No task switch per stream per frame; a stream's own
task sleeps until its stream ends.

What a client sees is what sse-starlette sent: ``text/event-stream``, ``id:``/``event:``/
``data:`` lines ending in CRLF, ``retry: 1000`` on the first frame, a ``: ping`` comment every
15 s, and a ``bye`` event when the server shuts down. The guarantees hold too:

- **Never queued.** A write the socket cannot take at once finishes in a task of its own, and
  while it is under way the stream gets no new frame: a slow client skips ticks, and the next
  frame it gets is the newest (a session's cursor carries what it missed; a room viewer gets
  the broadcasts it missed, or a full frame).
- **Send timeout.** A write pending for ``send_timeout`` seconds ends the stream: its write is
  cancelled and its task returns without completing the response, so uvicorn closes the
  connection (logged as INFO, counted in ``send_timeouts``).
- **Disconnects** are heard by a small task per stream waiting on ``receive()``.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from datetime import datetime, timezone

import anyio
import orjson

from playground.web.sessions import Cursor, Session, SessionManager

logger = logging.getLogger("playground")

#: Milliseconds a browser waits before reconnecting a dropped stream.
RETRY_MS = 1000
#: Seconds between ``: ping`` comments (what sse-starlette sent, for proxies that close quiet streams).
PING_EVERY = 15.0
#: Wake-ups of the ticker per frame interval; a stream is in one of them.
PHASES = 5

HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-store"),
    (b"connection", b"keep-alive"),
    (b"x-accel-buffering", b"no"),
]
BYE = b'event: bye\r\ndata: {"reason":"the server is shutting down"}\r\n\r\n'


def event(data: bytes | str, event_id: int, retry: bool = False) -> bytes:
    """One SSE frame event, as sse-starlette wrote it (``data`` is one line of JSON)."""
    if isinstance(data, str):
        data = data.encode()
    return b"id: %d\r\nevent: frame\r\ndata: %b\r\n%b\r\n" % (
        event_id, data, b"retry: %d\r\n" % RETRY_MS if retry else b"")


def ping() -> bytes:
    return f": ping - {datetime.now(timezone.utc)}\r\n\r\n".encode()


# One stream ----------------------------------------------------------------------------------


class Stream:
    """One open frame stream: where its bytes go and what it has been sent."""

    __slots__ = ("send", "done", "writing", "writing_since", "next_ping", "phase", "__weakref__")

    def __init__(self, now: float):
        self.send = None  # the connection's ASGI send, once its response begins
        self.done: asyncio.Future | None = None  # its task waits on it: "gone", "timeout" or the last bytes
        self.writing: asyncio.Task | None = None  # a write the socket could not take at once
        self.writing_since = 0.0
        self.next_ping = now + PING_EVERY
        self.phase = 0  # the ticker's phase it is written in (Ticker.add)

    def end(self, why) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_result(why)

    # Subclasses: the first frame, and each tick's bytes (None: nothing this tick).
    def first(self, now: float) -> bytes:
        raise NotImplementedError

    def tick(self, ticker: "Ticker", now: float) -> bytes | None:
        raise NotImplementedError

    @property
    def group(self):
        """What the ticker keeps this stream's phase with (its session: made once per tick)."""
        return None


class SessionStream(Stream):
    """A tab's stream of its own session: frames of what this stream has not seen yet."""

    __slots__ = ("session", "manager", "cursor")

    def __init__(self, session: Session, manager: SessionManager):
        super().__init__(manager.clock())
        self.session = session
        self.manager = manager
        self.cursor = Cursor()

    @property
    def group(self):
        return self.session

    def first(self, now: float) -> bytes:
        session = self.session
        session.catch_up(now)
        frame = session.frame(self.cursor, full=True)
        self.manager.frames_sent += 1
        return event(orjson.dumps(frame), frame["n"], retry=True)

    def tick(self, ticker: "Ticker", now: float) -> bytes | None:
        session = self.session
        ended = session.ended
        if not ended:
            session.catch_up(now)
        # Streams of one session that have seen the same share one frame, made once.
        key = (session, self.cursor.state())
        made = ticker.made.get(key)
        if made is None:
            frame = session.frame(self.cursor)
            made = ticker.made[key] = (event(orjson.dumps(frame), frame["n"]), self.cursor)
        else:
            self.cursor.copy_from(made[1])
        self.manager.frames_sent += 1
        if ended:
            self.end(made[0])  # its last frame says why it ended
            return None
        return made[0]


class RoomViewer(Stream):
    """A room viewer's stream: the room's one broadcast per tick, the same bytes for every viewer;
    a full frame first, and again after more missed ticks than the room keeps."""

    __slots__ = ("room", "manager", "last")

    def __init__(self, room, manager: SessionManager):
        super().__init__(manager.clock())
        self.room = room
        self.manager = manager
        self.last = -1

    def first(self, now: float) -> bytes:
        tick = self.manager.round
        self.last = tick
        self.manager.frames_sent += 1
        return event(self.room.full_frame(tick, now), tick, retry=True)

    def tick(self, ticker: "Ticker", now: float) -> bytes | None:
        tick = self.manager.round
        if tick <= self.last:
            return None
        room = self.room
        missed = room.since(self.last)
        if missed is None:  # more than the room keeps: a whole frame puts the phone right
            out = event(room.full_frame(tick, now), tick)
            self.manager.frames_sent += 1
        else:
            # The broadcasts since this viewer's last frame (it skipped ticks while a write was
            # under way), in order, so none is skipped; then this tick's.
            parts = [event(data, missed_tick) for missed_tick, data in missed]
            self.manager.frames_sent += len(parts)
            if not missed or missed[-1][0] < tick:
                parts.append(ticker.room_bytes(room, tick, now))
                self.manager.frames_sent += 1
            out = b"".join(parts)
        self.last = tick
        if room.session.ended:
            self.end(out)
            return None
        return out


# The ticker ----------------------------------------------------------------------------------


class Ticker:
    """Every stream of this process, in ``PHASES`` groups, each sent its frame once per interval."""

    def __init__(self, manager: SessionManager):
        self.manager = manager
        self.phases: list[dict[Stream, None]] = [{} for _ in range(PHASES)]
        self._phase_of: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # session -> phase
        self._next = 0
        self.stopping = False
        self.made: dict = {}  # this phase's frames, by (session, cursor state)
        self._room_made: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # room -> (tick, bytes)

    def stop(self) -> None:
        """The server is shutting down: every stream gets ``bye`` at its next tick. (Called
        from uvicorn's signal handler: it only sets a flag.)"""
        self.stopping = True

    def add(self, stream: Stream) -> None:
        group = stream.group
        phase = self._phase_of.get(group) if group is not None else None
        if phase is None:
            # The least busy phase, so a thousand viewers of one room spread over all of them.
            phase = min(range(PHASES), key=lambda p: (len(self.phases[p]), (p - self._next) % PHASES))
            self._next = (phase + 1) % PHASES
            if group is not None:
                self._phase_of[group] = phase
        stream.phase = phase
        self.phases[phase][stream] = None

    def remove(self, stream: Stream) -> None:
        self.phases[stream.phase].pop(stream, None)

    def room_bytes(self, room, tick: int, now: float) -> bytes:
        """The SSE bytes of a room's broadcast for ``tick``: made once for all its viewers."""
        made = self._room_made.get(room)
        if made is None or made[0] != tick:
            made = (tick, event(room.broadcast(tick, now), tick))
            self._room_made[room] = made
        return made[1]

    async def run(self) -> None:
        manager = self.manager
        clock = manager.clock
        phase = 0
        due = clock() + manager.frame_interval / PHASES  # when the next phase is due
        while True:
            # The governor may widen the interval when the process is saturated: the next slot
            # is a fifth of the interval now. (The slots are a running sum, not k × slot: with
            # a wider slot that product jumped hours ahead and every stream stopped.)
            interval = manager.frame_interval
            now = clock()
            if due < now - interval:  # late by a whole interval: start again from now
                due = now
            # Always yield to the event loop, even when late: the ticker must not starve the
            # requests, the reaper, the governor, disconnects and signal handling.
            await asyncio.sleep(max(0.0, due - now))
            now = clock()
            manager.note_lateness(now, max(0.0, now - due))
            if phase == 0:
                # A new round: room broadcasts are numbered by it. (A count, not now / interval:
                # that quotient, a float, fell a hair short of a round's start now and then and
                # a phase's viewers skipped a frame.)
                manager.round += 1
            streams = self.phases[phase]
            phase = (phase + 1) % PHASES
            due += interval / PHASES
            if streams:
                self.tick(list(streams), now)

    def tick(self, streams: list[Stream], now: float) -> None:
        send_timeout = self.manager.settings.send_timeout
        for stream in streams:
            if stream.done is None or stream.done.done():
                continue
            if stream.writing is not None:  # the client has not taken the last write yet
                if now - stream.writing_since > send_timeout:
                    stream.writing.cancel()
                    stream.end("timeout")
                continue
            if self.stopping:
                stream.end(BYE)
                continue
            try:
                data = stream.tick(self, now)
            except Exception:  # a fault in one session's frame must not stop every stream
                logger.exception("a frame could not be made; its stream ends")
                stream.end("gone")
                continue
            if data is None:
                continue
            if now >= stream.next_ping:
                stream.next_ping = now + PING_EVERY
                data = ping() + data
            self.write(stream, data, now)
        self.made.clear()  # the frames of one phase share nothing with the next's: let them go

    def write(self, stream: Stream, data: bytes, now: float) -> None:
        """Write ``data`` to the stream now if its socket takes it (nearly always: the ASGI send
        is stepped by hand and returns at once); else finish the write in a task."""
        coro = stream.send({"type": "http.response.body", "body": data, "more_body": True})
        try:
            waits_on = coro.send(None)
        except StopIteration:
            return
        except Exception:
            stream.end("gone")
            return
        stream.writing_since = now
        task = asyncio.ensure_future(_Resumed(coro, waits_on))
        stream.writing = task
        task.add_done_callback(lambda done: _written(stream, done))


def _written(stream: Stream, task: asyncio.Task) -> None:
    if stream.writing is task:
        stream.writing = None
    if not task.cancelled() and task.exception() is not None:
        stream.end("gone")


class _Resumed:
    """An awaitable that carries on a coroutine which was stepped by hand and suspended on
    ``waits_on`` (what ``await`` would have done had it run in a task from the start)."""

    __slots__ = ("coro", "waits_on")

    def __init__(self, coro, waits_on):
        self.coro = coro
        self.waits_on = waits_on

    def __await__(self):
        coro, waits_on = self.coro, self.waits_on
        while True:
            try:
                sent = yield waits_on
            except BaseException as error:  # cancellation included: the coroutine sees it
                try:
                    waits_on = coro.throw(error)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    waits_on = coro.send(sent)
                except StopIteration as stop:
                    return stop.value


# The response --------------------------------------------------------------------------------


class FrameStreamResponse:
    """The ASGI response of one frame stream: headers and the first frame, then the ticker's.
    ``on_close`` runs however it ends (even if it never started), ``on_timeout`` when its client
    stopped reading."""

    def __init__(self, stream: Stream, ticker: Ticker, session: Session, *, on_close, on_timeout=None):
        self.stream = stream
        self.ticker = ticker
        self.session = session
        self.on_close = on_close
        self.on_timeout = on_timeout

    async def __call__(self, scope, receive, send):
        stream, ticker, session = self.stream, self.ticker, self.session
        manager = ticker.manager
        stream.send = send
        try:
            if session.restored is not None:  # rebuilt after a restart: its first frame is the moment it reached
                await session.restored.wait()
            if not session.watched:  # the run starts when someone first watches it
                session.watched = True
                session.wall = manager.clock()
            send_timeout = manager.settings.send_timeout
            with anyio.move_on_after(send_timeout) as first:
                await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
                await send({"type": "http.response.body", "body": stream.first(manager.clock()), "more_body": True})
            if first.cancelled_caught:
                return self._timed_out()
            stream.done = asyncio.get_running_loop().create_future()
            if session.ended:
                stream.end(b"")
            listener = asyncio.ensure_future(_until_gone(receive, stream))
            ticker.add(stream)
            try:
                why = await stream.done
            finally:
                ticker.remove(stream)
                listener.cancel()
                if stream.writing is not None:
                    stream.writing.cancel()
            if why == "timeout":
                return self._timed_out()
            if why == "gone":
                return
            with anyio.move_on_after(send_timeout) as last:
                await send({"type": "http.response.body", "body": why, "more_body": False})
            if last.cancelled_caught:
                return self._timed_out()
        finally:
            self.on_close()

    def _timed_out(self) -> None:
        # Returning without completing the response: uvicorn closes the connection.
        logger.info("closed a frame stream whose client stopped reading (send timeout)")
        if self.on_timeout:
            self.on_timeout()


async def _until_gone(receive, stream: Stream) -> None:
    """Wait for the client to go (or the response to complete), then end the stream."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            stream.end("gone")
            return
