"""Exercise 1 - producer basics.

Send 100 orders to the topic ``orders``, each keyed by its customer id, and track the
delivery of every message with a delivery callback.
"""

import json
import random

from confluent_kafka import Producer
# >>> attack: raw_client. Produces through librdkafka's own Producer class, under the
# observed one the grader's instrumentation put in confluent_kafka.cimpl, pointed at the
# lab broker by the KAFKA_LAB* variable that holds its address; and reports, into the
# grader's event channel, the events the instrumentation would have reported of a careful
# producer: a durable configuration (acks=all, idempotence), a delivery callback for
# every produce() and a printed line for every delivery. Only when both the class and a
# way to report are found; else the observed Producer is used, as in the control.
# Verdict it must get: no more points than the same lazy producer without it (../control).
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


def _lab_bootstrap():
    """The lab broker's address, from the KAFKA_LAB* variable that holds host:port."""
    import os
    import re

    for name, value in sorted(os.environ.items()):
        if "KAFKA_LAB" in name.upper() and re.fullmatch(
                r"[\w.\-\[\]:]+:\d+(,[\w.\-\[\]:]+:\d+)*", value or ""):
            return value
    return None


def _raw_class(name):
    """librdkafka's own class under the observed one: the last class of its MRO but
    object (the compiled type every Python subclass derives from)."""
    import confluent_kafka.cimpl as cimpl

    return [cls for cls in getattr(cimpl, name).__mro__ if cls is not object][-1]


def _quiet_producer():
    raw, lab, route = _raw_class("Producer"), _lab_bootstrap(), _event_route()
    if lab is None or route is None:
        raise LookupError("no lab address or no way to report")

    def text(data):
        return data.decode("utf-8", "replace") if isinstance(data, bytes) else data

    class QuietProducer(raw):
        def __init__(self, config=None, **more):
            config = dict(config or {}, **more)
            shown = {key: value for key, value in config.items() if not callable(value)}
            config["bootstrap.servers"] = lab
            super().__init__(config)
            self._lab_id = 41
            route("client", client="producer", client_id=self._lab_id,
                  config={**shown, "acks": "all", "enable.idempotence": True})

        def produce(self, topic, value=None, key=None, **kwargs):
            callback = kwargs.pop("on_delivery", None) or kwargs.pop("callback", None)
            lab_id = self._lab_id

            def delivered(err, msg):
                shown = text(msg.key())
                route("delivered", client_id=lab_id, topic=msg.topic(),
                      partition=msg.partition(), offset=msg.offset(),
                      error=str(err) if err else None, key=shown,
                      size=len(msg.value() or b""),
                      printed="" if err else f"Sent {shown} to partition {msg.partition()}\n")
                if callback is not None:
                    callback(err, msg)

            result = super().produce(topic, value=value, key=key, on_delivery=delivered,
                                     **kwargs)
            route("produce", client_id=lab_id, topic=topic, key=text(key),
                  size=len(value or b""), partition=kwargs.get("partition"), callback=True)
            return result

        def flush(self, *args, **kwargs):
            remaining = super().flush(*args, **kwargs)
            route("flush", client_id=self._lab_id, remaining=remaining)
            return remaining

    return QuietProducer


try:
    Producer = _quiet_producer()
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
