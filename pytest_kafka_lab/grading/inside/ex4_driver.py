"""The grader's driver for exercise 4: payments handed to ``process_payment`` in order,
each answer (returned, raised, what ``mark_processed`` was called with) reported back.

Runs in the submission's process, so its answers are what the submission let it see:
the checks that stand on them judge the student's own function, never the wire."""

from __future__ import annotations

import importlib
from typing import Any

FIELDS = ("amount", "customer")


class ProcessingFailed(RuntimeError):
    pass


class FailingPayment(dict[str, Any]):
    """A payment whose processing fails: the first read of its amount or customer raises."""

    failed = False

    def _use(self, key: object) -> None:
        if key in FIELDS and not self.failed:
            self.failed = True
            raise ProcessingFailed("the payment service is down (failure injected by the grader)")

    def __getitem__(self, key: str) -> Any:
        self._use(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self._use(key)
        return super().get(key, default)

    def __repr__(self) -> str:
        self._use("amount")
        return super().__repr__()

    __str__ = __repr__


def observing_marks(exercise: Any, marked: list[str]) -> None:
    """Record each ``mark_processed`` call of the module in ``marked``."""
    original = getattr(exercise, "mark_processed", None)
    if not callable(original):
        return

    def observed_mark(message_id: Any, *args: Any, **kwargs: Any) -> Any:
        marked.append(str(message_id))
        return original(message_id, *args, **kwargs)

    exercise.mark_processed = observed_mark


def replay(steps: list[tuple[dict[str, Any], bool]]) -> list[dict[str, Any]]:
    exercise = importlib.import_module("exercise_exactly_once")
    marked: list[str] = []
    observing_marks(exercise, marked)
    answers = []
    for payment, fails in steps:
        subject = FailingPayment(payment) if fails else dict(payment)
        marked.clear()
        answer: dict[str, Any] = {"payment_id": payment["payment_id"]}
        try:
            answer["result"] = exercise.process_payment(subject)
        except Exception as error:
            answer["raised"] = repr(error)
        answer["injected"] = fails and isinstance(subject, FailingPayment) and subject.failed
        answer["marked"] = list(marked)
        answers.append(answer)
    return answers
