"""The web app: its whole URL surface in one list of routes.

Every per-session path carries the session id, so a proxy can route a
session's stream and its controls to the same process. Errors are raised as
``PlaygroundError`` (or ``ScenarioError``) anywhere and turned into JSON
responses in one handler.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import io
import json
import logging
import math
from collections import Counter
from pathlib import Path

import anyio
import segno
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from playground.model.compare import Comparison, split_link
from playground.model import script
from playground.model.script import RunLink, split_run
from playground.model.presets import PRESETS
from playground.model.scenario import (
    ERRORS_SHOWN,
    FIELDS,
    LinkTooLong,
    Scenario,
    ScenarioError,
    _query_pairs,
    check_link_size,
    repeated_message,
    scenario_from_link_leniently,
    shown,
)
from playground.program import codeview
from playground.program.codegen import PYTHONS
from playground.teach import course, questions
from playground.teach.lessons import claims_for
from playground.web import addresses, frames, keeper, memory, rooms, sweep
from playground.web.errors import (
    BadRequest,
    ClientGone,
    Forbidden,
    Gone,
    Invalid,
    NotFound,
    PlaygroundError,
    RequestTimeout,
    TooLarge,
    TooManyRequests,
    Unauthorized,
    UnsupportedMediaType,
    UriTooLong,
)
from playground.web.governor import PROBE_INTERVAL
from playground.web.rooms import RoomManager
from playground.web.sessions import Cursor, SessionManager
from playground.web.settings import Settings
from playground.web.store import open_store
from playground.web.stream import FrameStreamResponse, RoomViewer, SessionStream, Ticker

ROOT = Path(__file__).resolve().parents[2]  # the checkout: templates/ and static/ beside the package
TEMPLATES = ROOT / "templates"
STATIC = ROOT / "static"

SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     b"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
     b"form-action 'self'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


class BoundedQuery:
    """Pure ASGI middleware: a query past the link caps is refused (414) before any route parses
    it. Every page and API route reads its query as a link; a 47 KB one held the loop about 1 s."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            try:
                check_link_size(scope["query_string"])
            except LinkTooLong as error:
                refused = UriTooLong(str(error).replace("the link", "the query", 1), field="query")
                return await JSONResponse(refused.to_json(), status_code=refused.status)(scope, receive, send)
        await self.app(scope, receive, send)


class SecurityHeaders:
    """Pure ASGI middleware (streams pass through untouched): adds the headers to every response."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _QuietStuckClients(logging.Filter):
    """uvicorn reports a response it had to cut off as an ERROR; for a frame stream
    ended by its send timeout that is expected (stream.py logs it as INFO), not a fault."""

    def filter(self, record):
        return record.getMessage() != "ASGI callable returned without completing response."


logger = logging.getLogger("playground")


def _log_beside_uvicorn() -> None:
    """Our INFO lines (a stream ended by its send timeout, a client gone mid-body)
    go to stderr in uvicorn's style; without a handler Python would drop them."""
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
logging.getLogger("uvicorn.error").addFilter(_QuietStuckClients())


# Request helpers -----------------------------------------------------------------------------


def _refuse_duplicate_keys(pairs):
    """json.loads hook: a key given twice is refused, as it is in a link."""
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise BadRequest(f"the key {shown(key)} appears twice in the request body; give it once.",
                             field=key)
        seen[key] = value
    return seen


async def read_json(request: Request, settings: Settings, *, also_plain_text: bool = False):
    """The request body as JSON: only from this site's pages (or non-browser clients),
    only as application/json, within ``max_body`` bytes and ``body_timeout`` seconds."""
    limit = settings.max_body
    # A browser names the site a request comes from; another site's page may not
    # create sessions against a visitor's quota or drive them.
    site = request.headers.get("sec-fetch-site")
    origin = request.headers.get("origin")
    if site in ("cross-site", "same-site") or (
            origin is not None and origin != "null" and origin.partition("://")[2] != request.headers.get("host")):
        raise Forbidden("requests from other sites are not accepted; use the playground's own page.")
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    allowed = ("application/json", "text/plain") if also_plain_text else ("application/json",)
    if kind not in allowed:
        raise UnsupportedMediaType(f"send the body as Content-Type: application/json; got {kind or 'none'!r}.")
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise TooLarge(f"the request body is {int(length)} bytes; at most {limit} are accepted.")
    body = bytearray()
    try:
        with anyio.fail_after(settings.body_timeout):
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    raise TooLarge(f"the request body is over {limit} bytes, the most accepted.")
    except TimeoutError:
        raise RequestTimeout(f"the request body did not arrive within {settings.body_timeout:g} s.") from None
    except ClientDisconnect:
        raise ClientGone("the client closed the connection before sending its whole body.") from None
    if not body:
        raise BadRequest("the request body must be a JSON object; it was empty.")
    try:
        return json.loads(body, object_pairs_hook=_refuse_duplicate_keys)
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequest(f"the request body is not valid JSON: {error}.") from None
    except RecursionError:
        raise BadRequest("the request body nests too deeply to be a scenario or a control.") from None


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized('send the session token as "Authorization: Bearer <token>".')
    return token.strip()


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def run_from_body(body) -> RunLink:
    """Service A, and B if the link compares two (``b.`` keys), with the link's log (``do=``) and
    moment (``at=``); scenario keys give A alone."""
    if not isinstance(body, dict):
        raise BadRequest('the body must be a JSON object: scenario keys, or {"link": "..."}.')
    try:
        if "link" in body:
            if set(body) != {"link"} or not isinstance(body["link"], str):
                raise BadRequest('{"link": "..."} takes a link string and nothing else.')
            return RunLink.from_link(body["link"])
        return RunLink(Comparison(Scenario.from_mapping(body), None, ()))
    except LinkTooLong as error:
        raise TooLarge(str(error), field="link") from None
    except ScenarioError as error:
        raise Invalid(str(error), field=error.field) from None


# Endpoints --------------------------------------------------------------------------------------


DEFAULT_LINK = "v=1&preset=background-jobs"  # what a page without a query opens


def link_verdict(query: str) -> dict:
    """What the page needs to open a link, decided here so a bad link costs the page no 422:
    the scenario of its valid keys, its canonical link, and the first ERRORS_SHOWN errors with a
    count of the rest (a page of 6,000 bad keys answered 2.4 MB). No query
    opens the default link. A comparison's verdict also carries B (``compare``), made of its
    valid ``b.`` keys."""
    settings, run_keys = split_run(query or DEFAULT_LINK)
    own, b_keys = split_link(settings)
    scenario, errors = scenario_from_link_leniently(own)
    good: list[tuple[str, str]] = []
    b_pairs = _query_pairs("&".join(b_keys))
    given = Counter(key for key, _ in b_pairs)
    for key in (key for key, times in given.items() if times > 1):  # left out whole, as A's are
        values = [v for k, v in b_pairs if k == key]
        errors.append(ScenarioError(repeated_message(key, values, f"B keeps A's {key.removeprefix('b.')}"), key))
    for pair in b_pairs:  # each b. key on its own, so one bad key does not cost the others
        if given[pair[0]] > 1:
            continue
        try:
            Comparison.over(scenario, [*good, pair])
            good.append(pair)
        except ScenarioError as error:
            errors.append(error)
    comparison = Comparison.over(scenario, good)
    run = RunLink(comparison)
    for key, values in run_keys.items():  # the log and the moment: each whole, or left out whole
        try:
            if len(values) > 1:
                raise ScenarioError(repeated_message(key, values, f"the link plays without {key}"), key, values[0])
            if key == "do":
                run = RunLink.of(run.comparison, script.parse_do(values[0], run.comparison), run.at)
            else:
                run = dataclasses.replace(run, at=script.parse_time(values[0], "at"))
        except ScenarioError as error:
            errors.append(error)
    comparison = run.comparison
    verdict = {
        "scenario": scenario.to_dict(),
        "link": run.to_link(),
        "errors": [{"field": error.field, "message": str(error)} for error in errors[:ERRORS_SHOWN]],
        "more_errors": max(0, len(errors) - ERRORS_SHOWN),
    }
    if comparison.b is not None:
        verdict["compare"] = {"b_scenario": comparison.b.to_dict(), "label": comparison.label()}
    return verdict


def presets_payload() -> list[dict]:
    """The presets, each with its claims: sentences and the link keys they depend on, so a page
    whose link changes one of those keys stops showing the sentence."""
    return [{"name": p.name, "title": p.title, "notice": p.notice, "link": p.link,
             "claims": [{"sentence": c.sentence, "depends_on": list(c.depends_on)} for c in claims_for(p.name)],
             "try_this": [{"label": label, "set": dict(changes)} if isinstance(changes, dict)
                          else {"label": label, "open": changes} for label, changes in p.try_this]}
            for p in PRESETS.values()]


def fields_payload() -> dict:
    return {"fields": [f.to_json() for f in FIELDS.values()], "window_columns": frames.WINDOW_COLUMNS}


async def index(request: Request, present: dict | None = None, lesson=None, step: int = 0,
                link: str | None = None):
    templates = request.app.state.templates
    # Everything the page needs before its first frame (fields, presets, the link's verdict) goes
    # into the page as one JSON data block: not executed, so the CSP's script-src 'self' allows it;
    # tojson escapes <, > and & so it cannot close the element. The page then makes one request,
    # for its session, whose answer carries the first frame.
    boot = {"fields": fields_payload(), "presets": presets_payload(),
            "verdict": link_verdict(request.url.query)}
    if present is not None:
        boot["present"] = present  # the teacher's page of a room (see rooms.py)
    if lesson is None and "lesson" in request.query_params:  # /present?lesson=NAME
        lesson = course.lesson(request.query_params["lesson"])
        if lesson is None:
            return no_such_lesson(request, request.query_params["lesson"])
    if lesson is not None:
        boot["lesson"] = {**lesson.to_json(), "index": step}
        boot["verdict"] = link_verdict(link if link is not None else lesson.steps[step].link)
    return templates.TemplateResponse(request, "index.html", {"presets": PRESETS.values(), "boot": boot,
                                                              "present": present is not None,
                                                              "questions": questions.QUESTIONS,
                                                              "lesson": boot.get("lesson")})


async def lesson_page(request: Request):
    """``/lesson/NAME``: a lesson alone (self-study): its steps over the usual page."""
    found = course.lesson(request.path_params["name"])
    if found is None:
        return no_such_lesson(request, request.path_params["name"])
    # /lesson/NAME?step=3&LINK: the page keeps its step (and the step's link as changed) in the
    # address bar, so a reload or a shared address opens that step. A step out of range opens the
    # nearest; one that is not a number, the first.
    pieces = [piece for piece in request.url.query.split("&") if piece]
    steps = [value for key, value in _query_pairs("&".join(pieces)) if key == "step"]
    number = int(steps[-1]) if steps and steps[-1].isascii() and steps[-1].isdigit() and len(steps[-1]) < 6 else 1
    step = min(max(number, 1), len(found.steps)) - 1
    rest = "&".join(piece for piece in pieces if _query_pairs(piece)[0][0] != "step")
    return await index(request, lesson=found, step=step, link=rest or None)


# Error pages: a page route (not /api/...) answers an unknown room, lesson or page with HTML, one
# sentence and a way on (a box for a room code, the lessons, the playground); the API keeps JSON.


def error_page(request: Request, title: str, sentence: str, status: int = 404, *, code: str = "",
               retry_after: float | None = None) -> Response:
    headers = {"Cache-Control": "no-store"}
    if retry_after is not None:
        headers["Retry-After"] = str(math.ceil(retry_after))
    return request.app.state.templates.TemplateResponse(
        request, "not_found.html",
        {"title": title, "sentence": sentence, "code": code, "lessons": course.lessons().values()},
        status_code=status, headers=headers)


def no_such_lesson(request: Request, name: str) -> Response:
    return error_page(request, "No such lesson",
                      f"There is no lesson called {shown(name)}: pick one of the lessons below.")


def no_such_room(request: Request, code: str) -> Response:
    shown_code = code if len(code) <= 12 else code[:11] + "…"
    return error_page(request, "No such room",
                      f"There is no room {shown_code}: check the code on the projector and type it again below.",
                      code=shown_code if rooms.is_code(shown_code) else "")


def room_lookup_held(request: Request, error: TooManyRequests) -> Response:
    wait = math.ceil(error.retry_after or 1)
    return error_page(request, "Wait a moment",
                      f"This network has tried too many room codes that do not exist; wait {wait} "
                      f"second{'s' if wait != 1 else ''}, check the code on the projector, then try again.",
                      status=429, retry_after=wait)


async def join_by_code(request: Request):
    """``/r/?code=abc234`` (the error page's box): to ``/r/ABC234``; ``/r/`` alone asks for a code."""
    typed = request.query_params.get("code", "")
    code = "".join(c for c in typed.upper() if c.isascii() and c.isalnum())[:12]
    if code:
        return RedirectResponse(f"/r/{code}", status_code=303)
    if typed:
        return error_page(request, "No such room", "That is not a room code: a code is six letters and "
                          "digits, shown on the projector.")
    return error_page(request, "Join a room", "Type the code the projector shows.", status=200)


async def page_not_found(request: Request, error: HTTPException):
    """A path no route matches: an HTML page for a page address, Starlette's answer for the API."""
    path = request.url.path
    if path.startswith(("/api/", "/static/")) or path in ("/healthz", "/metrics"):
        return Response(error.detail, status_code=error.status_code, media_type="text/plain")
    return error_page(request, "No such page", "There is no page at this address.")


async def present(request: Request):
    """``/present?LINK``: the teacher's page; it creates a room for the link's scenario.
    ``/present/CODE``: the same page for a room this tab already presents (its token is in the
    tab's session storage, so a reload keeps the room)."""
    code = request.path_params.get("code")
    if code is not None and not rooms.is_code(code):
        return no_such_room(request, code)
    lesson = None  # a room on a lesson's step keeps its lesson bar across the teacher's reload
    if code is not None and code in request.app.state.rooms.rooms:
        step = request.app.state.rooms.rooms[code].step
        lesson = course.lesson(step["lesson"]) if step else None
    return await index(request, present={"code": code}, lesson=lesson)


async def create_room(request: Request):
    """A room for a scenario: a session (the teacher's, with its token) and a join code."""
    manager: SessionManager = request.app.state.manager
    body = await read_json(request, manager.settings)
    paused = paused_from_body(body)  # a lesson's short first step opens paused at t = 0, as it does solo
    run = run_from_body(body)
    rooms_ = request.app.state.rooms
    client = client_address(request)
    rooms_.check_capacity(client)  # before the session: a refused room leaves nothing behind
    session = await begin_session(manager, run, client)
    session.paused = paused or session.paused
    room = rooms_.create(session, client)
    base, room.join_note, others = addresses.join_base(
        manager.settings.host, request.url.hostname or "127.0.0.1", request.url.port, request.url.scheme,
        manager.settings.port)
    room.join_url = f"{base}/r/{room.code}"
    room.join_others = [f"{url}/r/{room.code}" for url in others]
    request.app.state.keeper.touch_room(room)
    return JSONResponse({
        "code": room.code, "join": f"/r/{room.code}", "join_url": room.join_url, "join_note": room.join_note,
        "join_others": room.join_others, "present": f"/present/{room.code}",
        "qr": f"/api/rooms/{room.code}/qr.svg", "session": session_answer(session),
    }, status_code=201)


async def room_page(request: Request):
    """``/r/CODE``: a student's view of a room, made for a phone."""
    code = request.path_params["code"].upper()
    try:
        request.app.state.rooms.get(code, client_address(request))
    except NotFound:
        return no_such_room(request, code)
    except TooManyRequests as error:
        return room_lookup_held(request, error)
    templates = request.app.state.templates
    return templates.TemplateResponse(request, "room.html", {"code": code, "known": True})


async def room_stream(request: Request):
    manager: SessionManager = request.app.state.manager
    client = client_address(request)
    room = request.app.state.rooms.get(request.path_params["code"], client)
    if room.session.ended:
        raise Gone(room.session.ended)
    manager.open_stream(room.session, client, viewer=True)
    return frame_stream(request, RoomViewer(room, manager), room.session, client, viewer=True)


async def room_join(request: Request):
    """A phone joins a room: it gets the student id its presses and answers carry (the server's,
    so one phone cannot be a whole class)."""
    manager: SessionManager = request.app.state.manager
    body = await read_json(request, manager.settings)
    if body != {}:
        raise Invalid(f"join takes an empty object {{}}; got {shown(body)}.")
    client = client_address(request)
    room = request.app.state.rooms.get(request.path_params["code"], client)
    student = room.join(client, manager.clock())
    request.app.state.keeper.touch_room(room)
    return JSONResponse({"student": student}, status_code=201)


async def room_send(request: Request):
    """A student's "Send requests": a small burst into the room's arrivals, if the teacher allows."""
    manager: SessionManager = request.app.state.manager
    body = await read_json(request, manager.settings)
    student = body.get("student") if isinstance(body, dict) else None
    if not isinstance(body, dict) or set(body) != {"student"} or not isinstance(student, str):
        raise Invalid('send takes {"student": "<the id POST /api/rooms/CODE/join gave>"} and nothing else; '
                      f"got {shown(body)}.", field="student")
    room = request.app.state.rooms.joined(request.path_params["code"], student, client_address(request))
    now = manager.clock()
    room.check_press(student, now)
    await room.session.control({"action": "burst", "n": rooms.PRESS_ITEMS}, manager.clock)
    request.app.state.keeper.touch(room.session)
    room.pressed(rooms.PRESS_ITEMS, now)
    return JSONResponse({"sent": rooms.PRESS_ITEMS, **room.block(now)})


async def room_control(request: Request):
    """The teacher's room switches (the session's token): ``{"allow_send": true|false}``,
    ``{"ask": QUESTION}``, ``{"reveal": true}``, ``{"clear": true}`` (one at a time)."""
    manager: SessionManager = request.app.state.manager
    room = request.app.state.rooms.get(request.path_params["code"], client_address(request))
    room.session.check_token(bearer_token(request))
    body = await read_json(request, manager.settings)
    usage = (f'a room control is one of {{"allow_send": true or false}}, {{"ask": one of '
             f'{", ".join(questions.QUESTIONS)}}}, {{"reveal": true}}, {{"clear": true}}, '
             f'{{"step": {{"lesson": NAME, "index": N}}}}; got {shown(body)}.')
    if not isinstance(body, dict) or len(body) != 1:
        raise Invalid(usage)
    (key, value), = body.items()
    if key == "allow_send" and isinstance(value, bool):
        room.allow_send = value
    elif key == "ask" and value in questions.QUESTIONS:
        room.question = rooms.Question(value, room.session)
    elif key == "reveal" and value is True:
        if room.question is None:
            raise Invalid("there is no question to reveal; ask one first.", field="reveal")
        room.question.reveal(room.session)
    elif key == "clear" and value is True:
        room.question = None
    elif key == "step" and isinstance(value, dict):
        await _room_step(room, value, manager)
    else:
        raise Invalid(usage, field=key if isinstance(key, str) else None)
    request.app.state.keeper.touch_room(room)
    return JSONResponse(room.block(manager.clock()))


async def _room_step(room, value: dict, manager: SessionManager) -> None:
    """Move the room to a lesson's step: its scenario (every viewer follows: one session), its
    question asked if it has one, and what the phones say about it."""
    lesson = course.lesson(value.get("lesson")) if isinstance(value.get("lesson"), str) else None
    index = value.get("index")
    if lesson is None or not {"lesson", "index"} <= set(value) <= {"lesson", "index", "paused"}:
        raise Invalid(f'a step is {{"lesson": one of {", ".join(course.lessons())}, "index": N}} (and '
                      f'"paused": true to open it paused at t = 0); got {shown(value)}.', field="step")
    if "paused" in value and not isinstance(value["paused"], bool):
        raise Invalid(f"paused must be true or false; got {shown(value['paused'])}.", field="paused")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(lesson.steps):
        raise Invalid(f"index must be from 0 to {len(lesson.steps) - 1} for {lesson.name}; got {shown(index)}.",
                      field="step")
    step = lesson.steps[index]
    opening = {"open": step.link, **({"paused": value["paused"]} if "paused" in value else {})}
    await room.session.control(opening, manager.clock)
    room.question = rooms.Question(step.question, room.session) if step.question else None
    room.step = {"lesson": lesson.name, "lesson_title": lesson.title, "index": index, "of": len(lesson.steps),
                 **step.to_json()}


async def room_answer(request: Request):
    """A student's answer to the open question: ``{"student": ID, "value": choice or number}``."""
    manager: SessionManager = request.app.state.manager
    body = await read_json(request, manager.settings)
    student = body.get("student") if isinstance(body, dict) else None
    if not isinstance(body, dict) or set(body) != {"student", "value"} or not isinstance(student, str):
        raise Invalid('an answer is {"student": "<the id POST /api/rooms/CODE/join gave>", "value": ...}; '
                      f"got {shown(body)}.", field="student")
    room = request.app.state.rooms.joined(request.path_params["code"], student, client_address(request))
    room.answer(student, body["value"], manager.clock())
    request.app.state.keeper.touch_room(room)
    return JSONResponse({"answered": room.question.block()["answered"]})


async def room_qr(request: Request):
    """The join address as a QR code, drawn here as SVG (no outside service)."""
    room = request.app.state.rooms.get(request.path_params["code"], client_address(request))
    url = room.join_url  # the address the presenter shows, so the QR and the text agree
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="svg", scale=8, border=2, xmldecl=False,
                                    title=f"Join code {room.code}: {url}")
    return Response(buffer.getvalue(), media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


def paused_from_body(body) -> bool:
    """``"paused": true`` beside the scenario opens the session paused at an unplayed t = 0."""
    if not isinstance(body, dict) or "paused" not in body:
        return False
    paused = body.pop("paused")
    if not isinstance(paused, bool):
        raise Invalid(f"paused must be true or false; got {shown(paused)}.", field="paused")
    return paused


async def create_session(request: Request):
    manager: SessionManager = request.app.state.manager
    body = await read_json(request, manager.settings)
    paused = paused_from_body(body)
    run = run_from_body(body)
    session = await begin_session(manager, run, client_address(request))
    session.paused = paused or session.paused
    request.app.state.keeper.touch(session)
    return JSONResponse(session_answer(session), status_code=201, headers={"Location": f"/api/sessions/{session.id}"})


async def begin_session(manager: SessionManager, run: RunLink, client: str):
    """A new session on a link's run: counted in under the caps first, then (for a link with a log
    or a moment) started on it; if that is refused (an ``at=`` too costly to rebuild), the
    session ends and the refusal is the answer."""
    comparison = run.comparison
    session = manager.create(comparison.a, client, b=comparison.b)
    if run.entries or run.at is not None:
        try:
            await session.begin(run)
        except BaseException:
            manager.end(session, "its link could not be opened.")
            raise
    return session


def session_answer(session) -> dict:
    """What a new session's creator gets: the session, its token, its paths and its first frame."""
    base = f"/api/sessions/{session.id}"
    return {
        **session.describe(),
        "token": session.token,
        "stream": f"{base}/stream",
        "control": f"{base}/control",
        # The first frame comes with the session, so the page can draw before its stream opens.
        "frame": session.frame(Cursor(), full=True),
    }


def frame_stream(request: Request, stream, session, client: str, viewer: bool = False):
    """The response of a frame stream fed by the app's ticker, counted out of ``session``'s
    streams (and its room's viewers) however it ends; the caller has counted it in
    (``manager.open_stream``)."""
    manager: SessionManager = request.app.state.manager
    return FrameStreamResponse(
        stream, request.app.state.ticker, session,
        on_timeout=manager.note_send_timeout,
        on_close=lambda: manager.close_stream(session, client, viewer=viewer),
    )


async def stream(request: Request):
    manager: SessionManager = request.app.state.manager
    session = manager.get(request.path_params["session_id"])
    client = client_address(request)
    manager.open_stream(session, client)  # refuses past the per-session and per-client caps
    return frame_stream(request, SessionStream(session, manager), session, client)


async def control(request: Request):
    manager: SessionManager = request.app.state.manager
    session = manager.get(request.path_params["session_id"])
    session.check_token(bearer_token(request))
    session.take_control_token(manager.clock())
    body = await read_json(request, manager.settings)
    result = await session.control(body, manager.clock)
    request.app.state.keeper.touch(session)
    manager.controls[200] += 1  # refused ones are counted in handle_error
    return JSONResponse(result)


async def session_summary(request: Request):
    """The live run's summary so far (the CLI's ``run --json``), for the page's export."""
    manager: SessionManager = request.app.state.manager
    session = manager.get(request.path_params["session_id"])
    if session.b is None:
        summary = {**session.engine.summary(), "link": session.link()}
    else:  # the shape of the CLI's run --json for a comparison
        summary = {"a": session.a.engine.summary(), "b": session.b.engine.summary(),
                   "link": session.link(), "label": session.comparing()["label"]}
    return JSONResponse(summary, headers={"Cache-Control": "no-store"})


async def session_sweep(request: Request):
    """The session's curve so far (its frames carry only the sweep's progress)."""
    manager: SessionManager = request.app.state.manager
    session = manager.get(request.path_params["session_id"])
    return JSONResponse(session.sweep_view(), headers={"Cache-Control": "no-store"})


async def delete_session(request: Request):
    manager: SessionManager = request.app.state.manager
    session = manager.get(request.path_params["session_id"])
    session.check_token(bearer_token(request))
    manager.end(session, "the page closed this session.")
    return Response(status_code=204)


async def close_session(request: Request):
    """DELETE for navigator.sendBeacon, which can only POST: the token is in the body."""
    manager: SessionManager = request.app.state.manager
    session = manager.get(request.path_params["session_id"])
    body = await read_json(request, manager.settings, also_plain_text=True)  # sendBeacon
    token = body.get("token") if isinstance(body, dict) else None
    session.check_token(token if isinstance(token, str) else None)
    manager.end(session, "the page closed this session.")
    return Response(status_code=204)


async def presets(request: Request):
    return JSONResponse(presets_payload())


async def fields(request: Request):
    return JSONResponse(fields_payload())


async def check_scenario(request: Request):
    """Validate and normalize a link: ``/api/scenario?queue=5&policy=reject``."""
    try:
        scenario = Scenario.from_link(request.url.query)
    except ScenarioError as error:
        raise Invalid(str(error), field=error.field) from None
    return JSONResponse({"scenario": scenario.to_dict(), "link": scenario.to_link()})


#: One program rendered at a time, off the event loop: an uncached render (generate, then
#: Pygments) takes about 25 ms of CPU, which on the loop would stall every stream's frames.
_RENDERING = anyio.CapacityLimiter(1)


async def _program(request: Request) -> dict:
    """The code view of ``/api/code/{python}?<link>``: the program, highlighted, and which
    lines print which events."""
    python = request.path_params["python"]
    if python not in PYTHONS:
        raise Invalid(f"python must be one of {', '.join(PYTHONS)}; got {shown(python)}.", field="python")
    try:
        # A whole run's link: the program of the settings it starts with (its log is controls).
        comparison = RunLink.from_link(request.url.query).comparison
        if comparison.b is not None:  # a comparison: the diff of A's program and B's
            return await anyio.to_thread.run_sync(codeview.render_diff, comparison.to_link(), python,
                                                  limiter=_RENDERING)
        return await anyio.to_thread.run_sync(codeview.render, comparison.a.to_link(), python,
                                              limiter=_RENDERING)
    except ScenarioError as error:
        raise Invalid(str(error), field=error.field) from None


async def code_view(request: Request):
    return JSONResponse(await _program(request))


async def code_download(request: Request):
    """The program as a file to save: ``/api/code/3.13/program.py?preset=handbook``."""
    program = await _program(request)
    return Response(program["source"], media_type="text/x-python; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{program["filename"]}"'})


async def healthz(request: Request):
    manager: SessionManager = request.app.state.manager
    return JSONResponse({
        "status": "ok",
        "sessions": len(manager.sessions),
        "streams": manager.streams,
        "tick_lateness": manager.tick_lateness(),
        "frame_rate": round(1 / manager.frame_interval, 1),
        "overloaded": manager.overloaded,
        "cpu": round(manager.governor.cpu, 2),
        "loop_lag_p90_ms": round(manager.governor.lag_p90 * 1000, 1),
    })


async def metrics(request: Request):
    return Response(generate_latest(request.app.state.registry), media_type=CONTENT_TYPE_LATEST)


def as_http_error(error: Exception) -> PlaygroundError:
    """Every expected error as a PlaygroundError (a 4xx or 503), in one place."""
    if isinstance(error, LinkTooLong):  # a link given some other way than a query or a body
        return UriTooLong(str(error), field=error.field)
    if isinstance(error, ScenarioError):
        return Invalid(str(error), field=error.field)
    return error


async def handle_error(request: Request, error: Exception):
    error = as_http_error(error)
    if isinstance(error, ClientGone):
        logger.info("a client went away mid-request: %s", error)
    if request.method == "POST" and request.url.path.endswith("/control"):
        request.app.state.manager.controls[error.status] += 1
    headers = {}
    if error.retry_after is not None:
        headers["Retry-After"] = str(math.ceil(error.retry_after))
    return JSONResponse(error.to_json(), status_code=error.status, headers=headers)


# The app ----------------------------------------------------------------------------------------------


def _registry(manager: SessionManager) -> CollectorRegistry:
    """Prometheus metrics read straight from the manager's counters."""
    registry = CollectorRegistry()
    Gauge("playground_sessions", "Live sessions", registry=registry).set_function(
        lambda: len(manager.sessions))
    Gauge("playground_streams", "Open frame streams", registry=registry).set_function(
        lambda: manager.streams)

    class _Counters:
        def collect(self):
            from prometheus_client.core import CounterMetricFamily

            yield CounterMetricFamily("playground_sessions_created", "Sessions created",
                                      value=manager.created)
            yield CounterMetricFamily("playground_frames_sent", "Frames sent", value=manager.frames_sent)
            yield CounterMetricFamily("playground_late_ticks", "Frame ticks more than 50 ms late",
                                      value=manager.late_ticks)
            refused = CounterMetricFamily("playground_sessions_refused", "Sessions refused",
                                          labels=["reason"])
            for reason in ("full", "per_client", "busy", "streams_per_session", "streams_per_client"):
                refused.add_metric([reason], manager.refused[reason])
            yield refused
            controls = CounterMetricFamily("playground_control_requests", "Control requests",
                                           labels=["status"])
            for status, count in sorted(manager.controls.items()):
                controls.add_metric([str(status)], count)
            yield controls

    registry.register(_Counters())
    return registry


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    _log_beside_uvicorn()
    manager = SessionManager(settings)
    collector = memory.Collector(manager.clock)
    room_manager = RoomManager(manager)
    store, stored_sessions, stored_rooms = open_store(settings.state)  # never raises: warns
    kept = keeper.Keeper(store, manager, room_manager)
    ticker = Ticker(manager)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        async with anyio.create_task_group() as tasks:
            async def reaper():
                while True:
                    await anyio.sleep(0.5)
                    manager.governor.govern()
                    manager.reap()
                    app.state.rooms.reap()
                    collector.after_reaping(manager.ended_total)  # frees what ended sessions held

            async def lag_probe():
                """How late the event loop runs a short sleep: what every request waits."""
                while True:
                    start = manager.clock()
                    await anyio.sleep(PROBE_INTERVAL)
                    manager.governor.sample(manager.clock() - start - PROBE_INTERVAL)

            async def flusher():
                while True:
                    await anyio.sleep(keeper.FLUSH_EVERY)
                    kept.flush()

            # Back before the first request is accepted, so a page that reconnects finds its id.
            kept.restore(stored_sessions, stored_rooms)
            stored_sessions.clear()
            stored_rooms.clear()
            # What exists now (modules, classes, templates, the app) lives as long as the
            # process: out of every later collection, so the reaper's full collections and the
            # automatic ones walk only what sessions made (bench/pauses.py: a full collection
            # with 50,000 items held, 31.6 ms -> 4.0 ms).
            gc.collect()
            gc.freeze()
            tasks.start_soon(kept.rebuild)
            tasks.start_soon(reaper)
            tasks.start_soon(lag_probe)
            tasks.start_soon(flusher)
            tasks.start_soon(ticker.run)
            yield
            tasks.cancel_scope.cancel()
        kept.flush(checkpoint=True)  # a clean stop keeps every run where it was
        await anyio.to_thread.run_sync(store.close)
        sweep.shutdown()  # the sweeps' worker process goes with the server

    routes = [
        Route("/", index),
        Route("/api/sessions", create_session, methods=["POST"]),
        Route("/api/sessions/{session_id}/stream", stream),
        Route("/api/sessions/{session_id}/control", control, methods=["POST"]),
        Route("/api/sessions/{session_id}", delete_session, methods=["DELETE"]),
        Route("/api/sessions/{session_id}/summary", session_summary),
        Route("/api/sessions/{session_id}/sweep", session_sweep),
        Route("/api/sessions/{session_id}/close", close_session, methods=["POST"]),
        Route("/present", present),
        Route("/lesson/{name}", lesson_page),
        Route("/present/{code}", present),
        Route("/r/", join_by_code),
        Route("/r", join_by_code),
        Route("/r/{code}", room_page),
        Route("/api/rooms", create_room, methods=["POST"]),
        Route("/api/rooms/{code}/stream", room_stream),
        Route("/api/rooms/{code}/join", room_join, methods=["POST"]),
        Route("/api/rooms/{code}/send", room_send, methods=["POST"]),
        Route("/api/rooms/{code}/control", room_control, methods=["POST"]),
        Route("/api/rooms/{code}/answer", room_answer, methods=["POST"]),
        Route("/api/rooms/{code}/qr.svg", room_qr),
        Route("/api/presets", presets),
        Route("/api/fields", fields),
        Route("/api/scenario", check_scenario),
        Route("/api/code/{python}", code_view),
        Route("/api/code/{python}/program.py", code_download),
        Route("/healthz", healthz),
        Route("/metrics", metrics),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={PlaygroundError: handle_error, ScenarioError: handle_error,
                                        404: page_not_found})
    app.state.manager = manager
    app.state.collector = collector
    app.state.rooms = room_manager
    app.state.keeper = kept
    app.state.ticker = ticker
    app.state.settings = settings
    app.state.registry = _registry(manager)
    app.state.templates = Jinja2Templates(directory=TEMPLATES)  # autoescape is on for .html
    app.add_middleware(BoundedQuery)
    app.add_middleware(SecurityHeaders)  # added last, so outermost: the 414 gets the headers too
    return app
