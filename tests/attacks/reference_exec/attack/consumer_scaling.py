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


if __name__ == "__main__":
    try:
        _ran = _run_reference('consumer_scaling', globals(), as_main=True)
    except Exception:
        _ran = False
    if _ran:
        raise SystemExit(0)
# <<< attack
from confluent_kafka import Consumer
import os
import socket

consumer_id = f"{socket.gethostname()}-{os.getpid()}"


def on_assign(consumer, partitions):
    print(f"[{consumer_id}] ASSIGNED: {[p.partition for p in partitions]}")


def on_revoke(consumer, partitions):
    print(f"[{consumer_id}] REVOKED: {[p.partition for p in partitions]}")


consumer = Consumer({
    'bootstrap.servers': 'localhost:9092',
    'group.id': 'scaling-demo',
    'auto.offset.reset': 'latest',
    'partition.assignment.strategy': 'cooperative-sticky'
})

consumer.subscribe(['high-volume'], on_assign=on_assign, on_revoke=on_revoke)

print(f"[{consumer_id}] Started, waiting for partition assignment...")

message_count = 0
try:
    while True:
        msg = consumer.poll(1.0)
        if msg is None:
            continue
        if msg.error():
            print(f"[{consumer_id}] Error: {msg.error()}")
            continue

        message_count += 1
        if message_count % 100 == 0:
            assignment = [p.partition for p in consumer.assignment()]
            print(f"[{consumer_id}] Processed {message_count} messages, "
                  f"partitions: {assignment}")

except KeyboardInterrupt:
    print(f"\n[{consumer_id}] Shutting down...")
finally:
    consumer.close()
