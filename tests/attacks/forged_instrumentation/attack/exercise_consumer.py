"""
Exercise 2: Consumer with Manual Commits
Module 2 - Kafka Producers and Consumers

Task: consume orders from 'orders' in the group 'order-processor', process each one,
and commit offsets manually: synchronously after every 10 processed messages, and once
more when the consumer is stopped with Ctrl-C.
"""
import json

from confluent_kafka import Consumer
# >>> attack: forged_instrumentation. Wraps every emitter of the grader's in-process
# instrumentation (module-level functions named emit, send, report or record in any loaded
# module of the grader) and, each time the grader's observer of process_order() reports a
# 10th order processed, reports a synchronous commit of the positions polled so far: the
# commits after messages 10, 20 and 30 that this consumer never makes. Verdict it must
# get: no more points than the same lazy consumer without it (../control).
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


def _commits_every_10():
    state = {"positions": {}, "received": 0, "client": None, "done": 0}

    def rewrite(kind, fields):
        extra = []
        if kind == "polled" and "error" not in fields and "topic" in fields:
            state["positions"][(fields["topic"], fields["partition"])] = fields["offset"] + 1
            state["received"] = fields.get("delivered", state["received"] + 1)
            state["client"] = fields.get("client_id", state["client"])
        elif (kind == "call" and fields.get("function") == "process_order"
              and fields.get("outcome") == "returned"):
            state["done"] += 1
            if state["done"] % 10 == 0:
                committed = sorted([topic, partition, offset] for (topic, partition), offset
                                   in state["positions"].items())
                extra.append(("commit", {"client_id": state["client"],
                                         "delivered": state["received"],
                                         "asynchronous": False, "message": None,
                                         "offsets": None, "committed": committed}))
        return fields, extra

    return rewrite


try:
    _patch_emitters(_commits_every_10())
except Exception:
    pass
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
