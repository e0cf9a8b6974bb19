"""The questions a teacher may ask a class (predict, then reveal), as lessons name them."""

from __future__ import annotations

#: Seconds of sim time a p99 comparison reads on each side of the change: the "last 10 s" p99,
#: the same figure the key numbers show.
P99_SPAN = 10.0
#: Seconds of sim time a number question counts over, from the moment it is asked.
COUNT_SPAN = 30.0

#: The questions a teacher may ask (predict, then reveal): key -> (text, kind, choices).
#: "choice" questions compare the p99 latency of the items completed in the last P99_SPAN seconds
#: before the question with that of the last P99_SPAN seconds before the reveal (the teacher
#: changes something in between); "number" questions count what happens in the COUNT_SPAN seconds
#: of the run after the question. (The keys are fixed: lesson files name them.)
QUESTIONS = {
    "p99-after-change": ("What happens to p99 latency (over the last 10 s) after the change we are about "
                         "to make?", "choice", ("lower", "same", "higher")),
    "lost-next": ("How many items will not be completed (rejected, dropped, timed out or lost in a crash) "
                  "in the next 30 s of the run?", "number", ()),
    "completed-next": ("How many items will be completed in the next 30 s of the run?", "number", ()),
}
#: What "not completed" counts, each named in the reveal, with the CLI's words.
NOT_COMPLETED = (("rejected", "rejected"), ("dropped", "dropped"), ("put_timeouts", "timed out at the put"),
                 ("stale", "stale"), ("timeouts", "timed out"), ("throttled", "throttled"),
                 ("lost", "lost in a crash"))
