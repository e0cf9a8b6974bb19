"""Lessons: sequences of steps a teacher advances while every viewer follows, as data files.

A lesson is a TOML file in ``playground/teach/courses/``: a title, a summary and ``[[steps]]``, each with
a ``title``, a ``link`` (a scenario or a comparison), a ``notice`` and optionally a ``question``
(a key of ``questions.QUESTIONS``) and a ``try_this`` sentence. Every lesson is checked when it loads:
a bad link or question fails loudly, naming the file and the step.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from playground.model.compare import Comparison
from playground.model.scenario import ScenarioError
from playground.teach.questions import QUESTIONS

COURSES = Path(__file__).resolve().parent / "courses"


@dataclass(frozen=True)
class Step:
    title: str
    link: str
    notice: str
    question: str | None = None
    try_this: str | None = None

    def to_json(self) -> dict:
        return {"title": self.title, "link": self.link, "notice": self.notice, "question": self.question,
                "try_this": self.try_this}


@dataclass(frozen=True)
class Lesson:
    name: str
    title: str
    summary: str
    steps: tuple[Step, ...]

    def to_json(self) -> dict:
        return {"name": self.name, "title": self.title, "summary": self.summary,
                "steps": [step.to_json() for step in self.steps]}


class LessonError(ValueError):
    """A lesson file that does not hold: the message names the file, the step and what is wrong."""


def load(path: Path) -> Lesson:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    where = path.name
    steps = []
    for number, raw in enumerate(data.get("steps", ()), 1):
        unknown = set(raw) - {"title", "link", "notice", "question", "try_this"}
        if unknown or not all(isinstance(raw.get(key), str) and raw[key] for key in ("title", "link", "notice")):
            raise LessonError(f"{where}, step {number}: a step has a title, a link and a notice (text), and "
                              f"may have a question and try_this; got {sorted(raw)}.")
        try:
            link = Comparison.from_link(raw["link"]).to_link()
        except ScenarioError as error:
            raise LessonError(f"{where}, step {number}: its link does not open: {error}") from None
        question = raw.get("question")
        if question is not None and question not in QUESTIONS:
            raise LessonError(f"{where}, step {number}: question must be one of {', '.join(QUESTIONS)}; "
                              f"got {question!r}.")
        steps.append(Step(raw["title"], link, raw["notice"], question, raw.get("try_this")))
    if not steps or not isinstance(data.get("title"), str):
        raise LessonError(f"{where}: a lesson has a title and at least one step.")
    return Lesson(path.stem, data["title"], data.get("summary", ""), tuple(steps))


@cache
def lessons() -> dict[str, Lesson]:
    """Every lesson shipped in the package, by name (its file's name)."""
    return {path.stem: load(path) for path in sorted(COURSES.glob("*.toml"))}


def lesson(name: str) -> Lesson | None:
    return lessons().get(name)
