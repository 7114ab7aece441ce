"""Runs one function of a submission module in the graded process, observed.

``python -m <run library's package>.runner SPEC`` imports the submission's module (as
the course allows: every file imports as a module), or one of the grader's drivers
beside this module (``SPEC["driver"]``), replaces the functions named in
``wrap`` with observers that report each call and can inject failures, calls
``call(*args, **kwargs)`` and reports what it returned or raised; a module without that
function, or whose function cannot take that call, is reported before anything runs.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .channel import ask, emit


def load_driver(name: str) -> Any:
    """A driver of this package (``ex1_driver``): it imports the submission itself."""
    return importlib.import_module(f"{__package__}.{name}")


def load(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def observed(name: str, function: Callable[..., Any], plan: dict[str, Any]) -> Callable[..., Any]:
    """``function`` reporting every call. Each call for a first argument whose
    ``plan["key"]`` field is set first asks the grader (whether to fail, where the grader
    plans failures: the plan never enters this process); the grader counts a call's
    outcome only after it answered its question."""
    key = plan.get("key")

    @functools.wraps(function)  # its signature stays visible (see ``unfit_call``)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        subject = args[0] if args else None
        ident = subject.get(key) if key and isinstance(subject, dict) else None
        if ident is not None:
            answer = ask("calling", function=name, ident=ident)
            if answer.get("inject"):
                raise RuntimeError(str(answer.get("message") or f"injected failure for {ident}"))
        try:
            result = function(*args, **kwargs)
        except Exception as error:
            emit("call", function=name, ident=ident, outcome="raised", error=repr(error),
                 message=str(error))
            raise
        emit("call", function=name, ident=ident, outcome="returned", result=result,
             argument=subject if isinstance(subject, (dict, str, int, float)) else None)
        return result

    return wrapper


def shown(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def call_text(name: str, args: list[Any], kwargs: dict[str, Any]) -> str:
    """The course's call as Python source, e.g. ``benchmark_producer({...}, 1000, 100)``."""
    words = [shown(arg) for arg in args]
    words += [f"{key}={shown(value)}" for key, value in kwargs.items()]
    return f"{name}({', '.join(words)})"


def unfit_call(function: Any, args: list[Any], kwargs: dict[str, Any]) -> tuple[str, str] | None:
    """(its signature, why) when ``function`` cannot take the call; None when it can, or
    when Python cannot tell (a builtin)."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return None
    try:
        signature.bind(*args, **kwargs)
    except TypeError as error:
        return str(signature), str(error)
    return None


def defined_functions(module: Any) -> list[str]:
    """The module's own public functions, for a message about the one it lacks."""
    return sorted(name for name, value in vars(module).items()
                  if inspect.isfunction(value) and not name.startswith("_")
                  and value.__module__ == module.__name__)


def observe(module: Any, wrap: dict[str, dict[str, Any]]) -> None:
    for name, plan in wrap.items():
        if callable(getattr(module, name, None)):
            setattr(module, name, observed(name, getattr(module, name), plan))


def callable_as_asked(module: Any, spec: dict[str, Any]) -> Callable[..., Any] | None:
    """The function to call, or None (reported) when it is missing or cannot take the call:
    the student's mistake is named, not hidden in a TypeError of the harness."""
    name, args, kwargs = spec["call"], spec.get("args", []), spec.get("kwargs", {})
    where = {"function": name, "file": Path(spec["file"]).name,
             "expected": call_text(name, args, kwargs)}
    function = getattr(module, name, None)
    if not callable(function):
        emit("missing-function", **where, defined=defined_functions(module))
        return None
    unfit = unfit_call(function, args, kwargs)
    if unfit is not None:
        emit("wrong-signature", **where, actual=f"{name}{unfit[0]}", reason=unfit[1])
        return None
    return function


def main() -> int:
    spec = json.loads(sys.argv[1])
    sys.path.insert(0, str(Path.cwd()))
    try:
        module = (load_driver(spec["driver"]) if spec.get("driver")
                  else load(Path(spec["file"]).resolve()))
    except BaseException as error:  # a submission that cannot even be imported
        emit("import-failed", error=repr(error), traceback=traceback.format_exc(limit=5))
        return 3
    emit("imported", module=module.__name__)
    observe(module, spec.get("wrap", {}))
    function = callable_as_asked(module, spec)
    if function is None:
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
