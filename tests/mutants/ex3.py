"""Exercise 3 mutants: a consumer group that does not scale the way the course shows."""

from tests.mutants import Mutant

FILE = "consumer_scaling.py"
STRATEGY = '"partition.assignment.strategy": "cooperative-sticky",'
GROUP = '"group.id": "scaling-demo",'

MUTANTS = [
    Mutant("ex3", "eager strategy", FILE,
           ((STRATEGY, '"partition.assignment.strategy": "range",'),),
           "first_consumer_gives_up_only_the_partitions_it_loses", r"full revoke"),
    # Both copies of the script claim one static identity: the second fences the first
    # out, and owns all six.
    Mutant("ex3", "one static identity for both", FILE,
           ((GROUP, GROUP + '\n        "group.instance.id": "scaling-consumer",'),),
           "two_consumers_share_the_partitions_three_each", r"share the 6 partitions"),
    # A static member does not leave its group on close(): its partitions wait for the
    # session timeout, far beyond the step's wait.
    Mutant("ex3", "static member keeps its partitions", FILE,
           ((GROUP, GROUP + '\n        "group.instance.id": NAME,'),),
           "partitions_are_taken_back_when_a_member_leaves", r"own all 6 partitions again"),
    Mutant("ex3", "offset reset earliest", FILE,
           (('"auto.offset.reset": "latest",', '"auto.offset.reset": "earliest",'),),
           "consumer_is_configured_for_cooperative_rebalancing", r"auto\.offset\.reset=earliest"),
    # The course watches each rebalance through what the callbacks print: none given.
    Mutant("ex3", "no rebalance callbacks", FILE,
           (("consumer.subscribe([TOPIC], on_assign=on_assign, on_revoke=on_revoke, "
             "on_lost=on_lost)", "consumer.subscribe([TOPIC])"),),
           "rebalance_callbacks_show_every_assignment_and_revocation",
           r"without an on_assign callback"),
    # Nothing committed: the member taking partitions over starts from the latest offset.
    Mutant("ex3", "no commits", FILE,
           (('"enable.auto.offset.store": False,',
             '"enable.auto.offset.store": False, "enable.auto.commit": False,'),),
           "messages_keep_being_consumed_through_rebalances", r"never consumed"),
]
