"""Runs one function of a submission module in the graded process, observed.

``python -m pytest_kafka_lab.grading.runner SPEC`` imports the submission's module (as
the course allows: every file imports as a module), replaces the functions named in
``wrap`` with observers that report each call and can inject failures, calls
``call(*args, **kwargs)`` and reports what it returned or raised.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_kafka_lab.grading.events import emit


def load(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def observed(name: str, function: Callable[..., Any], plan: dict[str, Any]) -> Callable[..., Any]:
    """``function`` reporting every call; ``plan["fail"]`` = {id: n} makes the calls for a
    first argument whose ``plan["key"]`` field is ``id`` raise n times before the real one."""
    failures: dict[str, int] = dict(plan.get("fail", {}))
    key = plan.get("key")

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        subject = args[0] if args else None
        ident = subject.get(key) if key and isinstance(subject, dict) else None
        if ident is not None and failures.get(ident, 0) > 0:
            failures[ident] -= 1
            emit("call", function=name, ident=ident, outcome="injected-failure")
            raise RuntimeError(f"injected failure for {ident}")
        try:
            result = function(*args, **kwargs)
        except Exception as error:
            emit("call", function=name, ident=ident, outcome="raised", error=repr(error))
            raise
        emit("call", function=name, ident=ident, outcome="returned", result=result,
             argument=subject if isinstance(subject, (dict, str, int, float)) else None)
        return result

    return wrapper


def main() -> int:
    spec = json.loads(sys.argv[1])
    sys.path.insert(0, str(Path.cwd()))
    try:
        module = load(Path(spec["file"]).resolve())
    except BaseException as error:  # a submission that cannot even be imported
        emit("import-failed", error=repr(error), traceback=traceback.format_exc(limit=5))
        return 3
    emit("imported", module=module.__name__)
    for name, plan in spec.get("wrap", {}).items():
        if callable(getattr(module, name, None)):
            setattr(module, name, observed(name, getattr(module, name), plan))
    function = getattr(module, spec["call"], None)
    if not callable(function):
        emit("missing-function", function=spec["call"])
        return 4
    try:
        result = function(*spec.get("args", []), **spec.get("kwargs", {}))
    except KeyboardInterrupt:
        emit("interrupted", function=spec["call"])
        return 130
    except BaseException as error:
        emit("raised", function=spec["call"], error=repr(error),
             traceback=traceback.format_exc(limit=5))
        return 1
    emit("returned", function=spec["call"], result=result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
