"""Instrumentation loaded into a submission's process by the shim's ``sitecustomize``.

It replaces ``confluent_kafka``'s Producer, Consumer and AdminClient with subclasses that
point ``bootstrap.servers`` at the lab broker (students hard-code ``localhost:9092``) and
report what the submission really did: the configuration it used, what it produced,
flushed, polled and committed, and every rebalance callback. Nothing in the submission's
files is changed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from pytest_kafka_lab.grading.events import BOOTSTRAP_VARIABLE, emit


def text(data: Any) -> Any:
    """Bytes as text for the event log (keys and values are UTF-8 in the course)."""
    if isinstance(data, bytes):
        return data.decode("utf-8", errors="backslashreplace")
    return data


def redirected(kind: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The client's configuration with the lab broker's address, reported as given."""
    config = dict(args[0]) if args and isinstance(args[0], dict) else {}
    config.update(kwargs)
    shown = {key: value for key, value in config.items() if not callable(value)}
    emit("client", client=kind, config=shown)
    lab = os.environ.get(BOOTSTRAP_VARIABLE)
    if lab:
        config["bootstrap.servers"] = lab
    return config


def partitions(items: Any) -> list[list[Any]]:
    return sorted([tp.topic, tp.partition, tp.offset] for tp in items or [])


def install() -> None:
    """Swap the instrumented classes into ``confluent_kafka`` before the submission runs."""
    try:
        import confluent_kafka
        import confluent_kafka.admin
    except ImportError:
        return
    base_producer, base_consumer = confluent_kafka.Producer, confluent_kafka.Consumer
    base_admin = confluent_kafka.admin.AdminClient

    class Producer(base_producer):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(redirected("producer", args, kwargs))

        def produce(self, topic: str, *args: Any, **kwargs: Any) -> Any:
            value = kwargs.get("value", args[0] if args else None)
            key = kwargs.get("key", args[1] if len(args) > 1 else None)
            callback = kwargs.pop("on_delivery", None) or kwargs.pop("callback", None)

            def delivered(error: Any, message: Any) -> None:
                emit("delivered", topic=message.topic(), partition=message.partition(),
                     offset=message.offset(), error=str(error) if error else None,
                     key=text(message.key()))
                if callback is not None:
                    callback(error, message)

            result = super().produce(topic, *args, on_delivery=delivered, **kwargs)
            emit("produce", topic=topic, key=text(key), size=len(value or b""),
                 partition=kwargs.get("partition"), callback=callback is not None)
            return result

        def flush(self, *args: Any, **kwargs: Any) -> int:
            remaining: int = super().flush(*args, **kwargs)
            emit("flush", remaining=remaining)
            return remaining

    class Consumer(base_consumer):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(redirected("consumer", args, kwargs))
            self._delivered = 0

        def subscribe(self, topics: list[str], *args: Any, **kwargs: Any) -> Any:
            for name in ("on_assign", "on_revoke", "on_lost"):
                kwargs[name] = self._recorded(name, kwargs.get(name))
            emit("subscribe", topics=list(topics))
            return super().subscribe(topics, *args, **kwargs)

        def _recorded(self, name: str, callback: Callable[..., Any] | None) -> Callable[..., Any]:
            def record(consumer: Any, parts: Any) -> None:
                emit("rebalance", callback=name, partitions=partitions(parts),
                     user_callback=callback is not None)
                if callback is not None:
                    callback(consumer, parts)

            return record

        def poll(self, *args: Any, **kwargs: Any) -> Any:
            message = super().poll(*args, **kwargs)
            if message is not None:
                self._report(message)
            return message

        def consume(self, *args: Any, **kwargs: Any) -> Any:
            messages = super().consume(*args, **kwargs)
            for message in messages:
                self._report(message)
            return messages

        def _report(self, message: Any) -> None:
            if message.error():
                emit("polled", error=str(message.error()), code=message.error().code())
                return
            self._delivered += 1
            emit("polled", topic=message.topic(), partition=message.partition(),
                 offset=message.offset(), key=text(message.key()), delivered=self._delivered)

        def commit(self, *args: Any, **kwargs: Any) -> Any:
            message = kwargs.get("message", args[0] if args and not isinstance(args[0], list)
                                 else None)
            offsets = kwargs.get("offsets")
            try:
                result = super().commit(*args, **kwargs)
            except Exception as error:
                emit("commit", error=str(error), delivered=self._delivered)
                raise
            emit("commit", delivered=self._delivered,
                 asynchronous=kwargs.get("asynchronous", True),
                 message=[message.topic(), message.partition(), message.offset()]
                 if message is not None else None,
                 offsets=partitions(offsets) if offsets else None,
                 committed=partitions(result) if isinstance(result, list) else None)
            return result

        def close(self, *args: Any, **kwargs: Any) -> Any:
            emit("close", delivered=self._delivered)
            return super().close(*args, **kwargs)

    class AdminClient(base_admin):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(redirected("admin", args, kwargs))

    confluent_kafka.Producer = Producer  # type: ignore[misc]
    confluent_kafka.Consumer = Consumer  # type: ignore[misc]
    confluent_kafka.admin.AdminClient = AdminClient  # type: ignore[misc]
    confluent_kafka.AdminClient = AdminClient  # type: ignore[attr-defined]
