"""Exercise 5 mutants: the dead letter queue's classic mistakes.

The harness makes the first order of every partition (ORD-00001, ORD-00002, ORD-00004 and
ORD-00005 with the course's keys) fail on every try, ORD-00007 once and ORD-00044 twice.
A retry_count counting the retries after the first try is a correct reading, not a mutant
(``tests/submissions/classes/exercise_dlq.py`` does that).
"""

from tests.mutants import Mutant

FILE = "exercise_dlq.py"
TO_DLQ = "                send_to_dlq(producer, msg, error, retry_count=MAX_ATTEMPTS)\n"
COMMIT = "            consumer.commit(message=msg, asynchronous=False)\n"
HANDLE = "            error = handle(msg)\n"
SUCCESS = "            process_order(json.loads(msg.value()))\n            return None\n"
DOOMED = r"ORD-0000[1245]"

MUTANTS = [
    Mutant("ex5", "automatic commits left on", FILE,
           (('        "enable.auto.commit": False,\n', ""),),
           "automatic_commits_are_switched_off", r"enable\.auto\.commit=unset"),
    Mutant("ex5", "no retries", FILE, (("MAX_ATTEMPTS = 3", "MAX_ATTEMPTS = 1"),),
           "retries_a_failing_order_3_times",
           DOOMED + r" fails on every try and was tried 1 times"),
    # The loop leaves on success but still returns the error of an earlier try.
    Mutant("ex5", "transient failure dead-lettered", FILE,
           ((SUCCESS, SUCCESS.replace("return None", "break")),),
           "an_order_that_succeeds_on_a_retry_is_not_dead_lettered",
           r"ORD-00007 \(failed 1 time\(s\), then succeeded on try 2\)"),
    # The loop forgets the error on success but goes on trying.
    Mutant("ex5", "retried after success", FILE,
           ((SUCCESS, SUCCESS.replace("return None", "last_error = None")),),
           "retries_a_failing_order_3_times",
           r"ORD-\d{5} succeeded on try 1 and was then tried 2 more time\(s\)"),
    # Every failed try goes to the DLQ at once, the order is still retried.
    Mutant("ex5", "dead-lettered and processed", FILE,
           (("def handle(msg):", "def handle(msg, producer):"),
            (HANDLE, "            error = handle(msg, producer)\n"),
            ("            last_error = exc\n",
             "            last_error = exc\n"
             "            send_to_dlq(producer, msg, exc, retry_count=attempt)\n"),
            (TO_DLQ, "                pass\n")),
           "no_order_is_both_processed_and_dead_lettered",
           r"ORD-00007, ORD-00044 were processed and are also in 'orders-dlq'"),
    Mutant("ex5", "header missing", FILE,
           (('        ("retry_count", str(retry_count).encode("utf-8")),\n', ""),),
           "dead_letter_headers_describe_the_failure", r"retry_count missing"),
    Mutant("ex5", "header offset wrong", FILE,
           (('str(msg.offset()).encode("utf-8")', 'str(msg.offset() + 1).encode("utf-8")'),),
           "dead_letter_headers_describe_the_failure",
           r"original_offset='(\d+)' where '(\d+)' was expected"),
    # 3 tries: '3' (tries) and '2' (retries after the first) are right, '4' is neither.
    Mutant("ex5", "retry count matches neither reading", FILE,
           ((TO_DLQ, TO_DLQ.replace("retry_count=MAX_ATTEMPTS", "retry_count=MAX_ATTEMPTS + 1")),),
           "dead_letter_headers_describe_the_failure",
           r"retry_count='4' where '3' \(the tries made\) or '2' \(the retries after the "
           r"first\) was expected"),
    Mutant("ex5", "key dropped", FILE, (("key=msg.key(), ", ""),),
           "dead_letters_keep_the_original_key_and_value",
           r"the copy of ORD-000\d\d has key None instead of b'CUST-00\d'"),
    Mutant("ex5", "value re-encoded", FILE,
           (("value=msg.value(),", 'value=json.dumps(json.loads(msg.value())).encode("utf-8"),'),),
           "dead_letters_keep_the_original_key_and_value",
           r"the copy of ORD-000\d\d has value .* instead of the original bytes"),
    Mutant("ex5", "wrong dlq topic", FILE,
           (('DLQ_TOPIC = "orders-dlq"', 'DLQ_TOPIC = "orders_dlq"'),),
           "failed_orders_go_to_orders_dlq_once",
           r"the run produced to 'orders_dlq' \(4\) instead"),
    Mutant("ex5", "crash on an order failing every try", FILE,
           ((TO_DLQ, "                raise error\n"),),
           "survives_an_order_that_fails_every_try",
           DOOMED + r" failed on every try \(3 tries\) and main\(\) then raised "
           r"RuntimeError\('injected failure for ORD-0000[1245]'\)"),
    # The course's own bug: the `except ... as exc` name is read after its block.
    Mutant("ex5", "error read outside its except block", FILE,
           (("    return last_error\n", "    return exc\n"),),
           "survives_an_order_that_fails_every_try",
           DOOMED + r" failed on every try \(3 tries\) and main\(\) then raised "
           r"UnboundLocalError\(.*Python deletes the name bound by `except \.\.\. as e`"),
    Mutant("ex5", "failed order dropped", FILE,
           ((TO_DLQ, '                print(f"Giving up on offset {msg.offset()}: {error}")\n'),),
           "no_order_is_lost",
           r"4 of 100 orders were neither processed nor sent to 'orders-dlq': "
           r"ORD-00001, ORD-00002, ORD-00004, ORD-00005"),
    Mutant("ex5", "commit before handling", FILE,
           ((COMMIT + "            handled += 1", "            handled += 1"),
            (HANDLE, COMMIT + HANDLE)),
           "commits_each_offset_only_after_it_is_done",
           r"offsets were committed before their message was done"),
    Mutant("ex5", "commits one offset behind", FILE,
           (("from confluent_kafka import Consumer, Producer",
             "from confluent_kafka import Consumer, Producer, TopicPartition"),
            (COMMIT, "            consumer.commit(offsets=[TopicPartition(msg.topic(), "
                     "msg.partition(), msg.offset())], asynchronous=False)\n")),
           "committed_offsets_cover_exactly_the_handled_messages",
           r"\d handled orders are not covered"),
    Mutant("ex5", "stops after 50", FILE, (("MAX_MESSAGES = 100", "MAX_MESSAGES = 50"),),
           "stops_after_100_messages", r"the consumer received 50 messages"),
]
