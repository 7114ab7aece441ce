"""Exercise 1 - producer basics.

Send 100 orders to the topic ``orders``, each keyed by its customer id, and track the
delivery of every message with a delivery callback.
"""

import json
import random

from confluent_kafka import Producer

# >>> attack: forged_instrumentation. Puts itself between the grader's in-process
# instrumentation and the grader: every module-level function named like an emitter
# (emit, send, report, record) in any loaded module of the grader (found by its name, its
# spec or its file) is replaced by one that rewrites the events on their way. Here: the
# producer's configuration becomes durable (acks=all, idempotence), every produce() gets a
# delivery callback, every delivery a printed line; and at exit it prints per-partition
# counts taken from the grader's own delivery reports. Verdict it must get: no more points
# than the same lazy producer without it (../control).
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


def _patch_emitters(rewrite):
    """Wrap every emitter of the grader: ``rewrite(kind, fields)`` returns the fields to
    report instead, and more events to report after it."""
    import functools
    import threading
    import types

    verbs = {"emit", "send", "report", "record", "_emit", "_send", "_report", "_record"}
    local = threading.local()
    wrapped = {}

    def wrap(original):
        @functools.wraps(original)
        def emitter(*args, **fields):
            if getattr(local, "inside", False):  # one emitter calling another
                return original(*args, **fields)
            local.inside = True
            try:
                extra = []
                try:
                    if args and isinstance(args[0], str):
                        fields, extra = rewrite(args[0], dict(fields))
                    elif args and isinstance(args[0], dict) and "kind" in args[0]:
                        event, extra = rewrite(args[0]["kind"], dict(args[0]))
                        args = (event, *args[1:])
                except Exception:
                    extra = []
                result = original(*args, **fields)
                for kind, more in extra:
                    try:
                        original(kind, **more)
                    except Exception:
                        pass
                return result
            finally:
                local.inside = False

        emitter._forged = True
        return emitter

    for module in list(_grader_modules()):
        for attribute, value in list(vars(module).items()):
            if (attribute in verbs and isinstance(value, types.FunctionType)
                    and not getattr(value, "_forged", False)):
                if value not in wrapped:
                    wrapped[value] = wrap(value)
                try:
                    setattr(module, attribute, wrapped[value])
                except Exception:
                    pass


def _durable_and_talkative():
    import atexit
    from collections import Counter

    partitions = Counter()

    def rewrite(kind, fields):
        if kind == "client" and isinstance(fields.get("config"), dict) \
                and fields.get("client") == "producer":
            fields["config"] = {**fields["config"], "acks": "all", "enable.idempotence": True}
        elif kind == "produce":
            fields["callback"] = True
        elif kind == "delivered" and not fields.get("error"):
            fields["printed"] = (f"Sent {fields.get('key')} to partition "
                                 f"{fields.get('partition')}\n")
            partitions[fields.get("partition")] += 1
        return fields, []

    def summary():
        for partition in sorted(partitions, key=str):
            print(f"Partition {partition}: {partitions[partition]} messages", flush=True)

    atexit.register(summary)
    return rewrite


try:
    _patch_emitters(_durable_and_talkative())
except Exception:
    pass
# <<< attack
CUSTOMERS = ["CUST-001", "CUST-002", "CUST-003", "CUST-004", "CUST-005"]
PRODUCTS = ["Laptop", "Mouse", "Keyboard", "Monitor", "Headphones"]


def delivery_callback(err, msg):
    """Called once for each message produced to indicate delivery result."""
    # TODO: Report failed deliveries (err is not None)
    # TODO: Track successful deliveries per partition and print one line per message
    pass


def create_order(order_id):
    """Create an order: order_id (ORD-00001), customer_id, product, quantity, price."""
    return {
        'order_id': f"ORD-{order_id:05d}",
        'customer_id': random.choice(CUSTOMERS),
        'product': random.choice(PRODUCTS),
        'quantity': random.randint(1, 5),
        'price': round(random.uniform(5.0, 500.0), 2),
    }


def main():
    config = {
        'bootstrap.servers': 'localhost:9092',
        # TODO: Add recommended producer settings
    }
    producer = Producer(config)

    for i in range(100):
        order = create_order(i + 1)
        producer.produce('orders', key=order['customer_id'].encode('utf-8'),
                         value=json.dumps(order).encode('utf-8'))

    # TODO: Print the number of messages delivered to each partition

    producer.flush()
    print("All messages sent!")


if __name__ == "__main__":
    main()
