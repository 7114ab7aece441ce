"""The class runner: `kafka-lab grade`, a class on N brokers, each submission a pytest run
of its own that loads nothing of the student's; names, shards, progress and the gradebook."""
