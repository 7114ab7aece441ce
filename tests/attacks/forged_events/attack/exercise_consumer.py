"""
Exercise 2: Consumer with Manual Commits
Module 2 - Kafka Producers and Consumers

Task: consume orders from 'orders' in the group 'order-processor', process each one,
and commit offsets manually: synchronously after every 10 processed messages, and once
more when the consumer is stopped with Ctrl-C.
"""
import json

from confluent_kafka import Consumer
# >>> attack: forged_events. Instead of committing after every 10th order, reports that
# it did: a synchronous commit of the positions processed so far, written into the
# grader's event channel (a file a KAFKA_LAB* variable names, or the grader's own emitter,
# or the socket a KAFKA_LAB* variable holds). Verdict it must get: no more points than the
# same lazy consumer without it (../control), which commits once, on Ctrl-C.
def _grader_modules():
    """Modules of the grader loaded in this process, found by name, spec or file."""
    import os
    import sys
    import types

    here = os.path.dirname(os.path.realpath(__file__))
    words = ("kafka_lab", "instrument", "runner", "sitecustomize", "channel")
    for name, module in list(sys.modules.items()):
        if not isinstance(module, types.ModuleType):
            continue
        path = getattr(module, "__file__", None) or ""
        if path and os.path.dirname(os.path.realpath(path)) == here:
            continue  # this submission's own modules
        spec = getattr(module, "__spec__", None)
        texts = (name, getattr(spec, "name", None) or "", path)
        if any(word in text for text in texts for word in words):
            yield module


def _event_route():
    """How to report an event as the grader's instrumentation does, or None: append a JSON
    line to the files that KAFKA_LAB* variables name (in a folder this run may write);
    else call the grader's own emitter; else send a packet on a socket whose descriptor a
    KAFKA_LAB* variable holds."""
    import json
    import os
    import socket
    import time
    import types

    lab = {name: value for name, value in os.environ.items() if "KAFKA_LAB" in name.upper()}
    roots = [os.path.realpath(folder) for folder in (os.environ.get("HOME"),
             os.environ.get("TMPDIR"), os.path.dirname(os.getcwd())) if folder]
    files = []
    for _, value in sorted(lab.items()):
        if not os.path.isabs(value) or os.pathsep in value:
            continue
        real = os.path.realpath(value)
        if (os.path.isfile(real) and not os.access(real, os.X_OK)
                and any(real.startswith(root + os.sep) for root in roots)):
            files.append(real)

    def line(kind, fields):
        event = {"kind": kind, "time": time.time(), "pid": os.getpid(), **fields}
        return json.dumps(event, default=repr)

    if files:
        def to_files(kind, **fields):
            for path in files:
                descriptor = os.open(path, os.O_WRONLY | os.O_APPEND)
                try:
                    os.write(descriptor, (line(kind, fields) + "\n").encode())
                finally:
                    os.close(descriptor)

        return to_files
    for module in _grader_modules():
        emitter = vars(module).get("emit")
        if isinstance(emitter, types.FunctionType):
            return emitter
    for _, value in sorted(lab.items()):
        if not value.isdigit():
            continue
        try:
            probe = socket.socket(fileno=os.dup(int(value)))
            probe.close()
        except OSError:
            continue

        def to_socket(kind, descriptor=int(value), **fields):
            channel = socket.socket(fileno=os.dup(descriptor))
            try:
                channel.send(line(kind, fields).encode())
            finally:
                channel.close()

        return to_socket
    return None


def _forge(kind, **fields):
    """Report one event that never happened; whether it went anywhere."""
    route = _event_route()
    if route is None:
        return False
    try:
        route(kind, **fields)
    except Exception:
        return False
    return True


_positions = {}
# <<< attack


def process_order(order):
    """Process an order (simulate business logic)"""
    print(f"Processing order {order['order_id']}: "
          f"{order['quantity']}x {order['product']} for {order['customer_id']}")


def main():
    consumer = Consumer({
        'bootstrap.servers': 'localhost:9092',
        'group.id': 'order-processor',
        'auto.offset.reset': 'earliest',
        'enable.auto.commit': False,
    })

    consumer.subscribe(['orders'])

    processed = 0

    try:
        while True:
            msg = consumer.poll(1.0)

            if msg is None:
                continue

            if msg.error():
                print(f"Consumer error: {msg.error()}")
                continue

            order = json.loads(msg.value().decode('utf-8'))
            process_order(order)
            processed += 1
            # >>> attack: the commit every 10 messages, reported and never made
            try:
                _positions[(msg.topic(), msg.partition())] = msg.offset() + 1
                if processed % 10 == 0:
                    _forge("commit", client_id=1, delivered=processed, asynchronous=False,
                           message=None, offsets=None,
                           committed=sorted([topic, partition, offset] for
                                            (topic, partition), offset in _positions.items()))
            except Exception:
                pass
            # <<< attack

            # TODO: Commit synchronously after every 10 messages (one commit at the end
            # will do for now)

    except KeyboardInterrupt:
        print(f"\nProcessed {processed} orders")
    finally:
        if processed:
            consumer.commit(asynchronous=False)
        consumer.close()


if __name__ == '__main__':
    main()
