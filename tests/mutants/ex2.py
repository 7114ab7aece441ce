"""Exercise 2 mutants: the manual-commit consumer's classic mistakes."""

from tests.mutants import Mutant

FILE = "exercise_consumer.py"
STORE = "\n            consumer.store_offsets(message=msg)\n"
COMMIT = "                consumer.commit(asynchronous=False)\n"
COMMITTED = '                print(f"Committed after {processed} messages", flush=True)\n'
FINAL = '                print(f"Final commit'
ON_ERROR = '                print(f"Consumer error: {msg.error()}", file=sys.stderr, flush=True)\n'

MUTANTS = [
    Mutant("ex2", "automatic commits left on", FILE,
           (('        "enable.auto.commit": False,\n', ""),),
           "automatic_commits_are_switched_off", r"enable\.auto\.commit=unset"),
    # A new group then starts at the end of each partition: none of the 37 orders is read.
    Mutant("ex2", "reads from the latest offset", FILE,
           (('        "auto.offset.reset": "earliest",\n', ""),),
           "joins_order_processor_from_the_earliest_offset",
           r"group\.id='order-processor', no auto\.offset\.reset \(librdkafka's default is "
           r"latest\) and subscribed to 'orders': .* no auto\.offset\.reset \(librdkafka's "
           r"default is latest\): a new group then starts at the end of each partition, so it "
           r"skipped the 37 orders already waiting"),
    Mutant("ex2", "commits every 5", FILE, (("COMMIT_EVERY = 10", "COMMIT_EVERY = 5"),),
           "commits_after_every_10th_message",
           r"committed after messages 10, 20, 30 and at no other time; "
           r"it committed after messages 5, 10, 15"),
    Mutant("ex2", "commits after every message", FILE,
           (("COMMIT_EVERY = 10", "COMMIT_EVERY = 1"),),
           "commits_after_every_10th_message", r"it committed after messages 1, 2, 3"),
    Mutant("ex2", "asynchronous commits", FILE,
           ((COMMIT + "                uncommitted = 0",
             COMMIT.replace("False", "True") + "                uncommitted = 0"),),
           "commits_are_synchronous", r"\d+ of \d+ commits were asynchronous"),
    Mutant("ex2", "no final commit on ctrl-c", FILE,
           ((COMMIT + FINAL, FINAL),),
           "final_commit_covers_exactly_the_processed_messages",
           r"7 processed orders are not covered .* on Ctrl-C"),
    # The offset is stored and committed as soon as the message is polled; the order is
    # processed only after the commit.
    Mutant("ex2", "commits ahead of processing", FILE,
           (("                process_order(order)\n" + STORE, "                pass\n" + STORE),
            (COMMITTED, COMMITTED + "            process_order(json.loads(msg.value()))\n")),
           "commits_are_never_ahead_of_processing",
           r"offsets were committed ahead of processing: the commit made after 10 polled"),
    Mutant("ex2", "crashes on a broker error", FILE,
           ((ON_ERROR + "                continue\n",
             '                raise RuntimeError(f"Consumer error: {msg.error()}")\n'),),
           "survives_a_broker_reported_error",
           r"UNKNOWN_TOPIC_OR_PART.* main\(\) then raised RuntimeError"),
]
