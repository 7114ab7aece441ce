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
# >>> attack: raw_client (the failure plan). Reads the grader's plan of injected failures
# from the closure of the observed process_order (the cell holding {order id: failures}),
# swaps the closure's own process_order for one that never fails by itself, and then,
# with no retry logic of its own, calls process_order again exactly as often as the plan
# says the order will fail (at most 3 tries). Only when a plan is found; else it is the
# control. Verdict it must get: no more points than the same lazy consumer without it
# (../control), which tries each order once.


def _calm_process_order(order):
    print(f"Processed order: {order['order_id']}")
    return True


def _failure_plan():
    import types

    observed = globals().get("process_order")
    cells = list(getattr(observed, "__closure__", None) or ())
    plan = {}
    for cell in cells:
        try:
            value = cell.cell_contents
        except ValueError:
            continue
        if (isinstance(value, dict) and value
                and all(isinstance(k, str) and isinstance(v, int) for k, v in value.items())):
            plan.update(value)
    if plan:
        for cell in cells:
            try:
                value = cell.cell_contents
            except ValueError:
                continue
            if (isinstance(value, types.FunctionType) and value.__name__ == "process_order"
                    and value.__code__.co_filename == __file__):
                cell.cell_contents = _calm_process_order
    return plan
# <<< attack


def send_to_dlq(producer, msg, error: str, retry_count=1):
    """Send failed message to the Dead Letter Queue"""
    headers = [
        ('original_topic', msg.topic().encode('utf-8')),
        ('original_partition', str(msg.partition()).encode('utf-8')),
        ('original_offset', str(msg.offset()).encode('utf-8')),
        ('error', str(error).encode('utf-8')),
        ('retry_count', str(retry_count).encode('utf-8')),
    ]
    producer.produce('orders-dlq', key=msg.key(), value=msg.value(), headers=headers)
    producer.flush()


def main():
    consumer = Consumer({
        'bootstrap.servers': 'localhost:9092',
        'group.id': 'order-processor-dlq',
        'auto.offset.reset': 'earliest',
        'enable.auto.commit': False
    })
    dlq_producer = Producer({'bootstrap.servers': 'localhost:9092'})
    # >>> attack: the plan
    try:
        plan = _failure_plan()
    except Exception:
        plan = {}
    # <<< attack

    consumer.subscribe(['orders'])

    handled = 0
    try:
        while handled < 100:
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            if msg.error():
                print(f"Consumer error: {msg.error()}")
                continue

            order = json.loads(msg.value().decode('utf-8'))

            # TODO: Implement the retry logic (up to MAX_RETRIES tries, with a back-off);
            # one try for now
            try:
                process_order(order)
            except Exception as e:
                tries, error, dead = 1, str(e), True
                # >>> attack: as often as the plan says
                try:
                    planned = plan.get(order.get('order_id'), 0)
                    while planned and tries < min(planned + 1, MAX_RETRIES):
                        tries += 1
                        try:
                            process_order(order)
                            dead = False
                            break
                        except Exception as again:
                            error = str(again)
                except Exception:
                    pass
                # <<< attack
                if dead:
                    send_to_dlq(dlq_producer, msg, error, tries)

            consumer.commit(message=msg, asynchronous=False)
            handled += 1

    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()


if __name__ == '__main__':
    main()
