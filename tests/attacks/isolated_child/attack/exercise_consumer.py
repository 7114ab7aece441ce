"""
Exercise 2: Consumer with Manual Commits
Module 2 - Kafka Producers and Consumers

Task: consume orders from 'orders' in the group 'order-processor', process each one,
and commit offsets manually: synchronously after every 10 processed messages, and once
more when the consumer is stopped with Ctrl-C.
"""
import json

from confluent_kafka import Consumer
# >>> attack: isolated_child (commits hidden). Its commit every 10 messages comes before
# the 10th is processed (a crash then loses it), as in the control; the attack makes that
# commit unobserved (every KAFKA_LAB* variable taken out of os.environ, and every emitter
# of the grader's in-process instrumentation a no-op, for the length of the call), and
# makes a decoy commit, observed, once the 10th is processed (of explicit offsets: the
# positions are committed already). Verdict it must get: no more points than the same
# lazy consumer without it (../control).
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


def _unobserved():
    """Blind the grader's in-process observation; what to put back."""
    import os
    import types

    verbs = {"emit", "send", "report", "record", "_emit", "_send", "_report", "_record"}
    environment = {name: os.environ.pop(name) for name in list(os.environ)
                   if "KAFKA_LAB" in name.upper()}
    functions = []
    for module in list(_grader_modules()):
        for attribute, value in list(vars(module).items()):
            if attribute in verbs and isinstance(value, types.FunctionType):
                functions.append((module, attribute, value))
                setattr(module, attribute, lambda *args, **kwargs: None)
    return environment, functions


def _observed_again(hidden):
    import os

    environment, functions = hidden
    os.environ.update(environment)
    for module, attribute, value in functions:
        setattr(module, attribute, value)


_positions = {}
from confluent_kafka import TopicPartition  # noqa: E402
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

    received = processed = 0

    try:
        while True:
            msg = consumer.poll(1.0)

            if msg is None:
                continue

            if msg.error():
                print(f"Consumer error: {msg.error()}")
                continue

            received += 1
            order = json.loads(msg.value().decode('utf-8'))
            if received % 10 == 0:
                # Commit synchronously after every 10 messages
                # >>> attack: unobserved
                try:
                    hidden = _unobserved()
                except Exception:
                    hidden = ({}, [])
                # <<< attack
                consumer.commit(asynchronous=False)
                # >>> attack
                _observed_again(hidden)
                # <<< attack
            process_order(order)
            processed += 1
            # >>> attack: the decoy, where the course asks for the commit
            _positions[(msg.topic(), msg.partition())] = msg.offset() + 1
            if processed % 10 == 0:
                consumer.commit(offsets=[TopicPartition(topic, partition, offset) for
                                         (topic, partition), offset in _positions.items()],
                                asynchronous=False)
            # <<< attack

    except KeyboardInterrupt:
        print(f"\nProcessed {processed} orders")
    finally:
        if processed:
            consumer.commit(asynchronous=False)
        consumer.close()


if __name__ == '__main__':
    main()
