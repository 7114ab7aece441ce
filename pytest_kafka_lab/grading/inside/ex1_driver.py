"""The grader's driver for exercise 1: one real failed delivery handed to the
submission's own delivery_callback, and what the module counted meanwhile."""

from __future__ import annotations

import importlib
import json
import re
import reprlib
import types
from collections.abc import Mapping
from typing import Any

from confluent_kafka import Producer

TOPIC = "orders"
PARTITION = 99
ATTEMPTS = 5
# Counters of deliveries by their name; a tally of failures may well grow.
DELIVERED = re.compile(r"deliver|success|succeed|sent|acked", re.IGNORECASE)
FAILURES = re.compile(r"fail|error|(^|_)err(_|$)|lost|undeliver|missed", re.IGNORECASE)
OPAQUE = (types.ModuleType, type, types.FunctionType, types.BuiltinFunctionType,
          types.MethodType, Mapping, list, tuple, set, frozenset, str, bytes, int, float)


def holders(module: Any) -> list[tuple[str, Any]]:
    found = [(name, value) for name, value in vars(module).items()
             if not name.startswith("__")]
    owner = getattr(getattr(module, "delivery_callback", None), "__self__", None)
    if owner is not None and not isinstance(owner, types.ModuleType) \
            and not any(value is owner for _, value in found):
        found.append(("delivery_callback.__self__", owner))
    return found


def look(seen: dict[str, Any], where: str, value: Any) -> None:
    name = where.rsplit(".", 1)[-1]
    if FAILURES.search(name):
        return
    if isinstance(value, Mapping):
        try:
            keys = [key for key in list(value) if isinstance(key, (int, str))]
        except Exception:  # a mapping that cannot be listed counts nothing we can see
            return
        seen[where] = ("keys", keys, value)
    elif isinstance(value, int) and not isinstance(value, bool) and DELIVERED.search(name):
        seen[where] = ("count", value, None)


def tallies(module: Any) -> dict[str, Any]:
    """The module's mappings and delivery counters: in its globals, and one level into
    the objects held there (a tracker instance, the owner of a bound callback)."""
    seen: dict[str, Any] = {}
    for name, value in holders(module):
        look(seen, name, value)
        if isinstance(value, OPAQUE):
            continue
        try:
            attributes = list(vars(value).items())
        except Exception:  # no __dict__ (slots, builtins), or one that refuses
            continue
        for attribute, inner in attributes:
            look(seen, f"{name}.{attribute}", inner)
    return seen


def shows_delivery(value: Any, depth: int = 0) -> bool:
    """Whether what a mapping now holds for the partition records a delivery: a positive
    count, a non-empty list, or such an entry not named as a failure (a
    {"delivered": 0, "failed": 1} record of the partition is a failure kept apart)."""
    if isinstance(value, bool) or value is None:
        return bool(value)
    if isinstance(value, (int, float)):
        return value > 0
    if isinstance(value, (str, bytes, list, tuple, set, frozenset)):
        return len(value) > 0
    if depth > 2:
        return True
    try:
        items = list(value.items()) if isinstance(value, Mapping) else list(vars(value).items())
    except Exception:
        return True
    return any(shows_delivery(inner, depth + 1) for key, inner in items
               if not FAILURES.search(str(key)))


def snapshot(seen: dict[str, Any]) -> dict[str, Any]:
    """``tallies()`` as data for the grader, which compares the two snapshots itself:
    a count's value; a mapping's keys, and what it holds for the failed partition (shown,
    and whether that records a delivery)."""
    shot: dict[str, Any] = {}
    for where, (kind, now, mapping) in seen.items():
        if kind == "count":
            shot[where] = {"kind": "count", "value": now}
            continue
        entry: dict[str, Any] = {"kind": "keys", "keys": [str(key) for key in now]}
        for key in now:
            if str(key) == str(PARTITION):
                try:
                    held = mapping[key]
                except Exception:
                    held = "?"
                entry["at_partition"] = {"key": repr(key), "held": reprlib.repr(held),
                                         "delivery": shows_delivery(held)}
        shot[where] = entry
    return shot


def replay(order: dict[str, Any]) -> dict[str, Any]:
    try:
        exercise = importlib.import_module("exercise_producer")
    except BaseException as error:
        return {"import_failed": repr(error)}
    callback = getattr(exercise, "delivery_callback", None)
    if not callable(callback):
        return {"callback": False, "defined": sorted(
            name for name, value in vars(exercise).items()
            if callable(value) and not name.startswith("_")
            and getattr(value, "__module__", None) == exercise.__name__)}
    before = snapshot(tallies(exercise))
    answer: dict[str, Any] = {"callback": True}
    for _ in range(ATTEMPTS):
        # A producer that does not know the topic's partitions yet reports the bad
        # partition to the callback (Local: Unknown partition); one that already has the
        # topic's metadata (rarely, on a loaded machine) raises it from produce() instead,
        # and a fresh producer tries again.
        producer = Producer({"bootstrap.servers": "localhost:9092"})
        try:
            producer.produce(TOPIC, key=order["customer_id"].encode("utf-8"),
                             value=json.dumps(order).encode("utf-8"), partition=PARTITION,
                             on_delivery=callback)
            break
        except Exception as error:
            answer["produce_raised"] = repr(error)
    else:
        return answer
    answer.pop("produce_raised", None)
    try:
        answer["remaining"] = producer.flush(30)
    except BaseException as error:  # the callback's own exception, raised through flush()
        answer["raised"] = repr(error)
    answer["tallies"] = {"before": before, "after": snapshot(tallies(exercise))}
    return answer
