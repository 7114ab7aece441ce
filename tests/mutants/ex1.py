"""Exercise 1 mutants: the producer's classic mistakes."""

from tests.mutants import Mutant

FILE = "exercise_producer.py"
KEYED = '            key=order["customer_id"].encode("utf-8"),\n'
ERROR_BRANCH = (
    "    if err is not None:\n"
    '        failed.append(f"{key}: {err}")\n'
    '        print(f"Delivery failed for order of {key}: {err}", flush=True)\n'
    "        return\n"
)
COUNTED = "    delivered_per_partition[msg.partition()] += 1\n"
PRINTED = (
    '    print(f"Delivered {order_id} (key {key}) to {msg.topic()} "\n'
    '          f"[partition {msg.partition()}] at offset {msg.offset()}", flush=True)\n'
)

MUTANTS = [
    # Orders numbered from 0: ORD-00000 is there, ORD-00100 is not.
    Mutant("ex1", "off by one", FILE,
           (("    for order_id in range(1, NUM_ORDERS + 1):\n",
             "    for order_id in range(NUM_ORDERS):\n"),),
           "all_100_orders_arrive_exactly_once",
           r"holds 100 messages, missing ORD-00100, unexpected ORD-00000 \(the course numbers "
           r"its orders from ORD-00001 to ORD-00100\)"),
    Mutant("ex1", "no key", FILE, ((KEYED, ""),),
           "each_order_is_keyed_by_its_customer_id", r"without a key"),
    Mutant("ex1", "key by order id", FILE,
           ((KEYED, '            key=order["order_id"].encode("utf-8"),\n'),),
           "each_order_is_keyed_by_its_customer_id", r"key other than their customer id"),
    Mutant("ex1", "key by order id spreads customers", FILE,
           ((KEYED, '            key=order["order_id"].encode("utf-8"),\n'),),
           "orders_of_one_customer_share_one_partition",
           r"orders of CUST-00\d landed in partitions \d( and \d)+"),
    Mutant("ex1", "acks 1", FILE,
           (('"acks": "all",', '"acks": "1",'), ('"enable.idempotence": True,', '')),
           "producer_is_configured_for_durability", r"acks=1"),
    Mutant("ex1", "no idempotence", FILE, (('"enable.idempotence": True,', ''),),
           "producer_is_configured_for_durability", r"no producer id \(idempotence was off\)"),
    Mutant("ex1", "printed counts wrong", FILE,
           (("delivered_per_partition[msg.partition()] += 1",
             "delivered_per_partition[msg.partition()] += 1 if msg.offset() % 7 else 2"),),
           "printed_counts_match_the_broker", r"printed counts .* differ from what the broker"),
    Mutant("ex1", "no flush", FILE,
           (("remaining = producer.flush(30)", "remaining = len(producer)"),),
           "flushes_before_exiting", r"messages not flushed"),
    Mutant("ex1", "no line per delivered message", FILE, ((PRINTED, ""),),
           "prints_one_line_per_delivered_message",
           r"100 of 100 messages delivered to 'orders' got no line from their callback"),
    Mutant("ex1", "callback ignores err", FILE, ((ERROR_BRANCH, ""),),
           "a_failed_delivery_is_not_reported_as_delivered",
           r"printed 'Delivered ORD-00101 .*partition 99.*', the way it reports a delivered "
           r"message .* counted the message as delivered \(delivered_per_partition gained "
           r"the key 99, holding 1\)"),
    Mutant("ex1", "failure counted as delivered", FILE,
           ((COUNTED, ""), (ERROR_BRANCH, COUNTED + ERROR_BRANCH)),
           "a_failed_delivery_is_not_reported_as_delivered",
           r"counted the message as delivered \(delivered_per_partition gained the key 99, "
           r"holding 1\)"),
]
