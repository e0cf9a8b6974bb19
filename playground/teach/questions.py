"""The questions a teacher may ask a class (predict, then reveal), as lessons name them."""

from __future__ import annotations

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
