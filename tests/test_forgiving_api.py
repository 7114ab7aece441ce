"""An API that forgives a newcomer's guess (issue 20, item 4): what ``wait_for_stable``
takes, a group whose members all died, readers given an address, fixtures' docstrings."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from pytest_kafka_lab.backends import KafkaBroker
from pytest_kafka_lab.clients import RecordingProducer
from pytest_kafka_lab.groups import ConsumerGroup, GroupDiedError
from pytest_kafka_lab.readers import end_offsets, read_topic
from pytest_kafka_lab.topics import TopicFactory

FOUR = 4


@pytest.fixture
def four_partitions(kafka_topic_factory: TopicFactory) -> str:
    return kafka_topic_factory(partitions=FOUR)


def test_wait_for_stable_takes_a_topic_topics_a_count_pairs_or_nothing(
    four_partitions: str, kafka_group_factory: Callable[..., ConsumerGroup],
) -> None:
    topic = four_partitions
    everything = frozenset((topic, p) for p in range(FOUR))
    group = kafka_group_factory(topic, members=2)
    for guess in (None, FOUR, topic, [topic], everything):
        owned = group.wait_for_stable(guess, counts=[2, 2])
        assert frozenset().union(*owned.values()) == everything, f"wait_for_stable({guess!r})"
    owned = group.wait_for_stable(counts=[2, 2])  # the guess: counts alone
    assert sorted(map(len, owned.values())) == [2, 2]


@pytest.mark.parametrize("guess", [2.5, {"partitions": 4}, [("t", "zero")], "other-topic"],
                         ids=["a float", "a dict", "pairs of the wrong types",
                              "a topic the group does not read"])
def test_wait_for_stable_says_what_it_accepts(
    four_partitions: str, kafka_group_factory: Callable[..., ConsumerGroup], guess: object,
) -> None:
    group = kafka_group_factory(four_partitions)
    accepts = (r"takes nothing \(every partition of the subscribed topics\), a topic, a list "
               r"of topics, a number of partitions")
    with pytest.raises((TypeError, ValueError), match=accepts):
        group.wait_for_stable(guess)  # type: ignore[arg-type]


def test_counts_that_cannot_add_up_are_refused_before_waiting(
    four_partitions: str, kafka_group_factory: Callable[..., ConsumerGroup],
) -> None:
    group = kafka_group_factory(four_partitions, members=2)
    with pytest.raises(ValueError, match=r"counts=\[3, 3\] add up to 6 partitions, but the "
                       r"group is to own 4"):
        group.wait_for_stable(counts=[3, 3])


@pytest.mark.parametrize(("typo", "librdkafka_says"), [
    ({"num_members": 2}, 'No such configuration property: "num_members"'),
    ({"strategy": "round-robin"}, "round-robin"),
], ids=["num_members", "strategy round-robin"])
def test_a_group_whose_members_all_died_fails_with_their_last_words(
    four_partitions: str, kafka_group_factory: Callable[..., ConsumerGroup],
    typo: dict[str, object], librdkafka_says: str,
) -> None:
    group = kafka_group_factory(four_partitions, members=2, **typo)
    with pytest.raises(GroupDiedError) as died:
        group.wait_for_stable()
    message = str(died.value)
    for index in (0, 1):
        assert re.search(rf"member {index} exited \(1\): .*{re.escape(librdkafka_says)}",
                         message), message
    assert "members=N" in message, "the error does not say how a group is made"


def test_readers_take_a_bootstrap_address(
    kafka_broker: KafkaBroker, kafka_topic: str, kafka_producer: RecordingProducer,
) -> None:
    kafka_producer.produce(kafka_topic, key=b"k", value=b"v")
    kafka_producer.flush()
    [record] = read_topic(kafka_broker.bootstrap_servers, kafka_topic)
    assert (record.key, record.value) == (b"k", b"v")
    assert end_offsets(kafka_broker.bootstrap_servers, kafka_topic) == {0: 1}


def test_a_reader_given_something_else_says_what_it_takes(kafka_topic: str) -> None:
    with pytest.raises(TypeError, match=r"a broker \(kafka_broker\), a bootstrap address"):
        read_topic(9092, kafka_topic)  # type: ignore[arg-type]


def test_every_public_fixture_has_a_docstring_in_pytest_fixtures(
    lab_pytester: pytest.Pytester,
) -> None:
    result = lab_pytester.runpytest("-p", "no:cacheprovider", "--fixtures")
    lines = result.stdout.lines
    shown = {}
    for index, line in enumerate(lines[:-1]):
        found = re.match(r"(kafka_\w+)( \[\w+ scope\])? -- ", line)
        if found:
            shown[found.group(1)] = lines[index + 1].strip()
    for name in ("kafka_broker", "kafka_cluster", "kafka_faults", "kafka_clients",
                 "kafka_group_factory", "kafka_topic_factory", "kafka_producer_factory"):
        assert name in shown, f"{name} is not in pytest --fixtures"
    undocumented = sorted(name for name, doc in shown.items() if "no docstring" in doc)
    assert not undocumented, f"fixtures without a docstring: {undocumented}"
