"""Exercise 6 mutants: benchmark figures that do not measure what they claim."""

from tests.mutants import Mutant

FILE = "exercise_benchmark.py"

MUTANTS = [
    Mutant("ex6", "config ignored", FILE,
           (('Producer({"bootstrap.servers": "localhost:9092", **config})',
             'Producer({"bootstrap.servers": "localhost:9092"})'),),
           "producer_uses_the_given_configuration",
           r"created a producer with acks=all batch\.size=default .* instead of"),
    Mutant("ex6", "clock stopped before flush", FILE,
           (("    remaining = producer.flush()\n    duration = time.perf_counter() - start\n",
             "    duration = time.perf_counter() - start\n    remaining = producer.flush()\n"),),
           "clock_covers_every_delivery", r"clock stopped before every message was delivered"),
    Mutant("ex6", "no flush", FILE,
           (("    remaining = producer.flush()\n", "    remaining = 0\n"),),
           "clock_covers_every_delivery", r"messages not yet delivered"),
    Mutant("ex6", "throughput inverted", FILE,
           (('"throughput": delivered / duration if duration > 0 else 0.0,',
             '"throughput": duration / delivered if delivered else 0.0,'),),
           "figures_agree_with_each_other", r"reported throughput=.* messages per second"),
    Mutant("ex6", "MB per second in KB", FILE,
           (("/ duration / (1024 * 1024)", "/ duration / 1024"),),
           "figures_agree_with_each_other", r"reported mb_per_sec="),
    # Each level of each factor is measured at least once (one factor at a time or the
    # full product); a mutant that drops levels is told which.
    Mutant("ex6", "acks all not measured", FILE,
           (('ACKS = ["0", "1", "all"]', 'ACKS = ["0", "1"]'),),
           "main_measures_every_level_of_every_factor", r"no run with acks=all\b"),
    Mutant("ex6", "batch size not varied", FILE,
           (('"batch.size": batch_size,', '"batch.size": BATCH_SIZES[0],'),),
           "main_measures_every_level_of_every_factor",
           r"no run with batch\.size=32768 and none with batch\.size=65536"),
    Mutant("ex6", "never compressed", FILE,
           (('COMPRESSIONS = ["none", "lz4"]', 'COMPRESSIONS = ["none"]'),),
           "main_measures_every_level_of_every_factor",
           r"no run with compression \(compression\.type one of"),
    # The producers are made, but nothing is sent: a table of figures about nothing.
    Mutant("ex6", "main sends nothing", FILE,
           (("result = benchmark_producer(config, num_messages, message_size)",
             "result = benchmark_producer(config, 0, message_size)"),),
           "main_measures_messages_really_delivered",
           r"produced no message to 'benchmark-topic', though it created 18 producers"),
]
