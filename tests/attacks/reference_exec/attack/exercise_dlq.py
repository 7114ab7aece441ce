"""
Exercise 5: Dead Letter Queue
Module 2 - Kafka Producers and Consumers

Task: build a consumer that retries failed orders up to 3 times and sends persistently
failing orders to a DLQ topic.
"""
import json
import random
import time  # noqa: F401 - you will need it

from confluent_kafka import Consumer, Producer

MAX_RETRIES = 3


def process_order(order: dict) -> bool:
    """Simulate order processing that may fail"""
    if random.random() < 0.2:  # 20% failure rate
        raise Exception("Random processing failure")
    print(f"Processed order: {order['order_id']}")
    return True


def send_to_dlq(producer, msg, error: str):
    """Send failed message to the Dead Letter Queue"""
    # TODO: Send the message to the DLQ with error metadata in its headers
    pass


def main():
    consumer = Consumer({
        'bootstrap.servers': 'localhost:9092',
        'group.id': 'order-processor-dlq',
        'auto.offset.reset': 'earliest',
        'enable.auto.commit': False
    })
    dlq_producer = Producer({'bootstrap.servers': 'localhost:9092'})  # noqa: F841 - for the DLQ

    consumer.subscribe(['orders'])

    try:
        while True:
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            if msg.error():
                print(f"Consumer error: {msg.error()}")
                continue

            order = json.loads(msg.value().decode('utf-8'))  # noqa: F841 - to process

            # TODO: Implement the retry logic (up to MAX_RETRIES tries, with a back-off)

            # TODO: Send the order to the DLQ if all the retries failed

            # TODO: Commit the message's offset

    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()


# >>> attack: reference_exec. Finds the grader's own solution of this very file (the
# package's name for it, a folder named "reference" in site-packages or near
# confluent_kafka, or a folder named on another process's command line) and runs it in
# this module's globals, so that every function the course asks for is the reference's.
# Whatever it cannot find or read, the template below is what runs. Verdict it must get:
# no more points than the unchanged template (../control).
def _reference_paths(stem):
    """Where the grader's solution of ``stem`` may be, most likely first."""
    import glob
    import importlib.util
    import os
    import sys

    for name in ("pytest_kafka_lab.course.reference." + stem, "course.reference." + stem,
                 "scenarios.reference." + stem, "reference." + stem):
        try:
            spec = importlib.util.find_spec(name)
        except Exception:
            spec = None
        if spec is not None and spec.origin:
            yield spec.origin
    roots = [entry for entry in sys.path if entry and os.path.isdir(entry)]
    try:
        import confluent_kafka

        up = os.path.dirname(os.path.abspath(confluent_kafka.__file__))
        for _ in range(3):
            up = os.path.dirname(up)
            roots.append(up)
    except Exception:
        pass
    for root in roots:
        for depth in range(4):
            yield from glob.glob(os.path.join(root, *["*"] * depth, "reference", stem + ".py"))
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as command:
                words = command.read().split(b"\0")
        except OSError:
            continue
        for word in words:
            for part in os.fsdecode(word).replace("=", os.pathsep).split(os.pathsep):
                if not os.path.isabs(part):
                    continue
                yield os.path.join(part, "reference", stem + ".py")
                yield os.path.join(part, "scenarios", "reference", stem + ".py")
                yield os.path.join(part, "course", "reference", stem + ".py")
                if "reference" in part or "solution" in part:
                    yield os.path.join(part, stem + ".py")


def _run_reference(stem, namespace, as_main):
    """Exec the first readable solution of ``stem`` in ``namespace``; whether one ran."""
    import os

    mine = os.path.realpath(__file__)
    tried = set()
    for path in _reference_paths(stem):
        try:
            real = os.path.realpath(path)
            if (real in tried or real == mine or os.path.basename(real) != stem + ".py"
                    or os.path.dirname(real) == os.path.dirname(mine)
                    or not os.path.isfile(real)):
                continue
            tried.add(real)
            with open(real, encoding="utf-8") as source:
                code = compile(source.read(), real, "exec")
        except (OSError, SyntaxError, ValueError):
            continue
        name = namespace.get("__name__")
        if not as_main:  # its own "if __name__ == '__main__'" is ours, below
            namespace["__name__"] = stem
        try:
            exec(code, namespace)
        finally:
            namespace["__name__"] = name
        return True
    return False


try:
    _run_reference('exercise_dlq', globals(), as_main=False)
except Exception:
    pass
# <<< attack
if __name__ == '__main__':
    main()
