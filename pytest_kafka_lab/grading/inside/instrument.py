"""Instrumentation loaded into a submission's process by the shim's ``sitecustomize``.

Every public client class of confluent-kafka (``Producer``, ``Consumer``,
``admin.AdminClient``, ``SerializingProducer``, ``DeserializingConsumer``, the asyncio
wrappers) is built on three classes of the compiled ``confluent_kafka.cimpl`` module. The
instrumentation replaces those three in ``cimpl`` itself, the moment it is loaded and before
the rest of the package reads them, with subclasses that point ``bootstrap.servers`` at the
lab broker (students hard-code ``localhost:9092``) and report what the submission did: the
configuration of each client, what it produced, flushed, polled and committed, every
delivery report and rebalance callback, and what the submission's own callbacks printed.
Rebinding names in the package instead would break ``AdminClient.__init__``, which calls
``super(AdminClient, self)`` by its module-global name. Nothing in the submission's files
is changed, and the clients behave as they would uninstrumented, only sooner: a consumer
that leaves its heartbeat interval or metadata refresh unset gets the harness's
(``consumer_defaults``), as the lab broker has settings made for tests.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import itertools
import json
import os
import random
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from types import ModuleType
from typing import Any

from .channel import emit

CIMPL = "confluent_kafka.cimpl"
# The lab broker's address, which the harness puts in a graded run's environment.
BOOTSTRAP_VARIABLE = "KAFKA_LAB_BOOTSTRAP"
# Settings made for tests that a graded run's consumers get where the submission leaves
# them unset (JSON): see ``consumer_defaults``.
CONSUMER_DEFAULTS_VARIABLE = "KAFKA_LAB_CONSUMER_DEFAULTS"
# Python's and the course's randomness made the same on every run (the course's ex5
# template fails one call in five); verdicts never rest on it, but a re-run replays.
SEED = 20261201
# cimpl's positional parameters after the topic, as its argument parser lists them.
PRODUCE_PARAMETERS = ("value", "key", "partition", "callback", "on_delivery", "timestamp",
                      "headers")
PRODUCE_BATCH_PARAMETERS = ("partition", "callback", "on_delivery")
SUBSCRIBE_PARAMETERS = ("on_assign", "on_revoke", "on_lost")

_client_ids = itertools.count(1)
_capture = threading.local()


def text(data: Any) -> Any:
    """Bytes as text for the event log (keys and values are UTF-8 in the course)."""
    if isinstance(data, bytes):
        return data.decode("utf-8", errors="backslashreplace")
    return data


def size_of(value: Any) -> int:
    """Bytes a key or value takes on the wire (a ``str`` is sent UTF-8 encoded)."""
    if value is None:
        return 0
    if isinstance(value, str):
        return len(value.encode("utf-8", errors="surrogateescape"))
    try:
        return len(value)
    except TypeError:
        return 0


def delivery_callback(call: dict[str, Any]) -> Callable[..., Any] | None:
    """Take the delivery callback out of a produce call's arguments (either spelling)."""
    on_delivery, callback = call.pop("on_delivery", None), call.pop("callback", None)
    return on_delivery or callback


def partitions(items: Any) -> list[list[Any]]:
    return sorted([tp.topic, tp.partition, tp.offset] for tp in items or [])


def named(args: Sequence[Any], kwargs: dict[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """Positional arguments bound to their parameter names, merged with ``kwargs``."""
    bound = dict(zip(names, args, strict=False))
    duplicated = set(bound) & set(kwargs)
    if duplicated or len(args) > len(names):
        # Let the real method raise its own TypeError for a call it cannot take.
        raise _Unfit
    return {**bound, **kwargs}


class _Unfit(Exception):
    """A call the instrumentation does not rewrite: it goes to the real method as made."""


class CapturingStream:
    """``sys.stdout``/``sys.stderr`` as they were, also handing what is written while a
    submission's callback runs (in this thread) to the event of that callback."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, data: Any) -> Any:
        buffer = getattr(_capture, "buffer", None)
        if buffer is not None and isinstance(data, str):
            buffer.append(data)
        return self._stream.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextlib.contextmanager
def capturing() -> Iterator[list[str]]:
    """What this thread writes to stdout and stderr meanwhile (``logging`` included)."""
    outer = getattr(_capture, "buffer", None)
    buffer: list[str] = []
    _capture.buffer = buffer
    try:
        yield buffer
    finally:
        _capture.buffer = outer
        if outer is not None:
            outer.extend(buffer)


def run_callback(callback: Callable[..., Any] | None,
                 *args: Any) -> tuple[dict[str, Any], BaseException | None]:
    """Call the submission's callback (if any) as librdkafka would: (what the call printed
    and raised, for its event; the exception, for the caller to raise on to the
    submission once the event is written)."""
    if callback is None:
        return {}, None
    with capturing() as printed:
        try:
            callback(*args)
        except BaseException as error:
            return {"printed": "".join(printed), "callback_raised": repr(error)}, error
    return {"printed": "".join(printed)}, None


def consumer_defaults(config: dict[str, Any]) -> dict[str, Any]:
    """The harness's settings (``CONSUMER_DEFAULTS_VARIABLE``) that a consumer configured
    as ``config`` takes: only those it leaves unset, and only those its group protocol
    allows.

    They change when a member hears of a change on the broker, never what it does: a
    classic member hears of a rebalance only at its next heartbeat (every 3 s by default,
    and a cooperative rebalance takes two rounds), and of a topic created after it
    subscribed only at a metadata refresh (about 2 s). Its session timeout, and so how
    long a member that vanished keeps its partitions, stays its own. The consumer
    protocol refuses a client's heartbeat interval (the broker decides it, and the lab
    broker's is short already)."""
    try:
        wanted = json.loads(os.environ.get(CONSUMER_DEFAULTS_VARIABLE) or "{}")
    except ValueError:
        return {}
    if not isinstance(wanted, dict):
        return {}
    chosen = {name: value for name, value in wanted.items() if name not in config}
    heartbeat = chosen.pop("heartbeat.interval.ms", None)
    protocol = str(config.get("group.protocol", "classic")).strip().lower()
    try:
        session = int(config.get("session.timeout.ms", 45000))
    except (TypeError, ValueError):
        session = 0
    # A heartbeat must come well within the member's own session timeout.
    if heartbeat is not None and protocol == "classic" and heartbeat < session:
        chosen["heartbeat.interval.ms"] = heartbeat
    return chosen


def redirected(kind: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[int, Any]:
    """(client id, the configuration with the lab broker's address, and a consumer's
    ``consumer_defaults``); the configuration is reported as the submission gave it, the
    defaults apart from it."""
    config = dict(args[0]) if args and isinstance(args[0], dict) else {}
    config.update(kwargs)
    client_id = next(_client_ids)
    shown = {key: value for key, value in config.items() if not callable(value)}
    defaults = consumer_defaults(config) if kind == "consumer" else {}
    # The name its requests carry on the wire, where the grader's proxy reads them: so
    # that what this client reports can be held against what it sent.
    on_wire = str(config.get("client.id") or f"kafka-lab-{os.getpid()}-{client_id}")
    emit("client", client=kind, client_id=client_id, config=shown, wire_client_id=on_wire,
         **({"harness_defaults": defaults} if defaults else {}))
    config.update(defaults)
    config["client.id"] = on_wire
    lab = os.environ.get(BOOTSTRAP_VARIABLE)
    if lab:
        config["bootstrap.servers"] = lab
    return client_id, config


# The observing half of each instrumented class: mixed in before cimpl's own class (see
# ``observed``), whose methods its ``super()`` calls reach.
_Client: Any = object


class ObservedProducer(_Client):
    """``Producer``: redirected; reports its configuration, what it produced (and each
    delivery report, with what the submission's callback printed) and flushed."""

    _lab_id: int

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._lab_id, config = redirected("producer", args, kwargs)
        super().__init__(config)

    def produce(self, topic: str, *args: Any, **kwargs: Any) -> Any:
        try:
            call = named(args, kwargs, PRODUCE_PARAMETERS)
        except _Unfit:
            return super().produce(topic, *args, **kwargs)
        callback = delivery_callback(call)
        result = super().produce(topic, on_delivery=self._delivered(callback), **call)
        self._produced(topic, call, callback)
        return result

    def produce_batch(self, topic: str, messages: list[Any], *args: Any,
                      **kwargs: Any) -> Any:
        try:
            call = named(args, kwargs, PRODUCE_BATCH_PARAMETERS)
        except _Unfit:
            return super().produce_batch(topic, messages, *args, **kwargs)
        batch_callback = delivery_callback(call)
        # A message's own "callback" wins over the batch's (its "on_delivery" does not).
        callbacks = [message.get("callback", batch_callback) for message in messages]
        observed = [{**message, "callback": self._delivered(callback)}
                    for message, callback in zip(messages, callbacks, strict=True)]
        result = super().produce_batch(topic, observed, **call)
        for message, sent, callback in zip(messages, observed, callbacks, strict=True):
            if "_error" in sent:
                message["_error"] = sent["_error"]
            else:
                self._produced(topic, {**call, **message}, callback)
        return result

    def _delivered(self, callback: Callable[..., Any] | None) -> Callable[..., None]:
        client_id = self._lab_id

        def delivered(error: Any, message: Any) -> None:
            moment = time.time()
            seen, raised = run_callback(callback, error, message)
            emit("delivered", time=moment, client_id=client_id, topic=message.topic(),
                 partition=message.partition(), offset=message.offset(),
                 error=str(error) if error else None, key=text(message.key()),
                 size=size_of(message.value()), **seen)
            if raised is not None:
                raise raised

        return delivered

    def _produced(self, topic: str, call: dict[str, Any],
                  callback: Callable[..., Any] | None) -> None:
        emit("produce", client_id=self._lab_id, topic=topic, key=text(call.get("key")),
             size=size_of(call.get("value")), partition=call.get("partition"),
             callback=callback is not None)

    def flush(self, *args: Any, **kwargs: Any) -> int:
        remaining: int = super().flush(*args, **kwargs)
        emit("flush", client_id=self._lab_id, remaining=remaining)
        return remaining


class ObservedConsumer(_Client):
    """``Consumer``: redirected; reports its configuration, subscriptions, rebalance
    callbacks (with what they printed), what it polled and committed, its close, and
    each time it waits in ``poll()`` or ``consume()`` again after it was handed a message
    (``waiting``: whatever it did with that message is done)."""

    _lab_id: int
    _lab_delivered: int
    _lab_handed: bool  # a message was handed over since the consumer last waited

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._lab_id, config = redirected("consumer", args, kwargs)
        super().__init__(config)
        self._lab_delivered = 0
        self._lab_handed = False

    def subscribe(self, topics: list[str], *args: Any, **kwargs: Any) -> Any:
        try:
            call = named(args, kwargs, SUBSCRIBE_PARAMETERS)
        except _Unfit:
            return super().subscribe(topics, *args, **kwargs)
        # Without an on_lost of its own, the client hands lost partitions to on_revoke:
        # observed as on_revoke then, as the submission sees them.
        names = SUBSCRIBE_PARAMETERS if call.get("on_lost") else SUBSCRIBE_PARAMETERS[:2]
        for name in names:
            call[name] = self._recorded(name, call.get(name))
        emit("subscribe", client_id=self._lab_id, topics=list(topics))
        return super().subscribe(topics, **call)

    def _recorded(self, name: str, callback: Callable[..., Any] | None) -> Callable[..., Any]:
        def record(consumer: Any, parts: Any) -> None:
            moment = time.time()
            seen, raised = run_callback(callback, consumer, parts)
            emit("rebalance", time=moment, client_id=self._lab_id, callback=name,
                 partitions=partitions(parts), user_callback=callback is not None,
                 **({"printed": ""} | seen))
            if raised is not None:
                raise raised

        return record

    def poll(self, *args: Any, **kwargs: Any) -> Any:
        self._waiting()
        message = super().poll(*args, **kwargs)
        if message is not None:
            self._report(message)
        return message

    def consume(self, *args: Any, **kwargs: Any) -> Any:
        self._waiting()
        messages = super().consume(*args, **kwargs)
        for message in messages:
            self._report(message)
        return messages

    def _waiting(self) -> None:
        if self._lab_handed:  # once after each hand-over, however often it polls
            self._lab_handed = False
            emit("waiting", client_id=self._lab_id, delivered=self._lab_delivered)

    def _report(self, message: Any) -> None:
        self._lab_handed = True
        if message.error():
            emit("polled", client_id=self._lab_id, error=str(message.error()),
                 code=message.error().code())
            return
        self._lab_delivered += 1
        emit("polled", client_id=self._lab_id, topic=message.topic(),
             partition=message.partition(), offset=message.offset(),
             key=text(message.key()), delivered=self._lab_delivered)

    def commit(self, *args: Any, **kwargs: Any) -> Any:
        message = kwargs.get("message", args[0] if args and not isinstance(args[0], list)
                             else None)
        offsets = kwargs.get("offsets", args[0] if args and isinstance(args[0], list)
                             else None)
        try:
            result = super().commit(*args, **kwargs)
        except Exception as error:
            emit("commit", client_id=self._lab_id, error=str(error),
                 delivered=self._lab_delivered)
            raise
        emit("commit", client_id=self._lab_id, delivered=self._lab_delivered,
             asynchronous=kwargs.get("asynchronous", True),
             message=[message.topic(), message.partition(), message.offset()]
             if message is not None else None,
             offsets=partitions(offsets) if offsets else None,
             committed=partitions(result) if isinstance(result, list) else None)
        return result

    def close(self, *args: Any, **kwargs: Any) -> Any:
        emit("close", client_id=self._lab_id, delivered=self._lab_delivered)
        return super().close(*args, **kwargs)


class ObservedAdmin(_Client):
    """``_AdminClientImpl``, under every admin client: redirected; reports its
    configuration."""

    _lab_id: int

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._lab_id, config = redirected("admin", args, kwargs)
        super().__init__(config)


def observed(mixin: type, base: type) -> type:
    """``base`` observed by ``mixin``, under ``base``'s names, so that reprs and error
    messages read as the uninstrumented client's."""
    return type(base.__name__, (mixin, base), {"__qualname__": base.__qualname__,
                                               "__module__": base.__module__,
                                               "__doc__": base.__doc__})


def instrument(cimpl: ModuleType) -> None:
    """Replace the three client classes every public client derives from."""
    cimpl.Producer = observed(ObservedProducer, cimpl.Producer)  # type: ignore[attr-defined]
    cimpl.Consumer = observed(ObservedConsumer, cimpl.Consumer)  # type: ignore[attr-defined]
    cimpl._AdminClientImpl = observed(ObservedAdmin,  # type: ignore[attr-defined]
                                      cimpl._AdminClientImpl)


class InstrumentOnImport(importlib.abc.MetaPathFinder):
    """Finds ``confluent_kafka.cimpl`` as usual and instruments it right after it loads,
    before ``confluent_kafka`` goes on to import the classes built on it."""

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != CIMPL:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                instrumented_on_load(spec.loader)
                return spec
        return None


def instrumented_on_load(loader: Any) -> None:
    load = loader.exec_module

    def exec_module(module: ModuleType) -> None:
        load(module)
        instrument(module)

    loader.exec_module = exec_module


def install() -> None:
    """Observe confluent-kafka whenever the submission imports it, and the callbacks'
    output; seed the randomness the course's code uses."""
    if CIMPL in sys.modules:  # too late to instrument cleanly: leave it as it is
        return
    sys.meta_path.insert(0, InstrumentOnImport())
    sys.stdout = CapturingStream(sys.stdout)
    sys.stderr = CapturingStream(sys.stderr)
    random.seed(SEED)
