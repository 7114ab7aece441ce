"""The grader's end of a run's channel (``grading/sandbox/channel.py``), without a run:
the test writes to the run's end of the socket itself, as a forger would. What is proven:
every event is taken, in order, each stamped by the grader; the index by kind agrees with
a scan of every event; what is no event is ignored and the reading goes on; the caps count
each event however the packets arrive."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_kafka_lab.events import Event, KindIndex, events_of
from pytest_kafka_lab.grading.sandbox import Run, channel
from pytest_kafka_lab.grading.sandbox.channel import FailurePlan, RunChannel, decoded


@pytest.fixture
def run_channel() -> Iterator[RunChannel]:
    """A channel whose run's end the test holds (``child_end``); closed after the test."""
    opened = RunChannel({"process": FailurePlan("order_id", {"ORD-2": 1})})
    yield opened
    opened.close()


def send(sock: socket.socket, kind: str, **fields: Any) -> None:
    sock.send(json.dumps({"kind": kind, "time": 1.0, "pid": 7, **fields}).encode())


def test_every_event_is_taken_in_order_and_the_index_agrees_with_a_scan(
    run_channel: RunChannel
) -> None:
    # A burst much longer than one round of reading, of several kinds.
    kinds = ["produce", "delivered", "client"]
    before = time.time()
    for number in range(3 * channel.BURST + 5):
        send(run_channel.child_end, kinds[number % 3], n=number, topic=f"t{number % 2}")
    events = run_channel.events
    after = time.time()
    assert [event["n"] for event in events] == list(range(3 * channel.BURST + 5))
    assert all(event["reported_time"] == 1.0 and before <= event["time"] <= after
               for event in events), "the grader's clock stamps each event on arrival"
    for kind in [*kinds, "absent"]:
        for match in ({}, {"topic": "t1"}, {"topic": "t1", "pid": 7}, {"topic": None}):
            assert run_channel.of(kind, **match) == events_of(events, kind, **match)


def test_an_answered_question_and_the_graders_own_event_are_indexed_too(
    run_channel: RunChannel
) -> None:
    for ident in ("ORD-1", "ORD-2"):
        send(run_channel.child_end, "calling", function="process", ident=ident, ask=True)
        assert set(json.loads(run_channel.child_end.recv(4096))) >= {"inject"}
    events = run_channel.events
    injected = run_channel.of("call", source="grader")
    assert [event["ident"] for event in injected] == ["ORD-2"]
    assert run_channel.of("call") == events_of(events, "call")
    assert run_channel.of("calling") == events_of(events, "calling")


@pytest.mark.parametrize("packet", [
    b"not json", b"[1, 2]", b'{"no": "kind"}', b'{"kind": 3}', b'{"kind": "x"} trailing',
    b"[" * 50_000, b'{"kind": "x", "deep": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
    b"\xff\xfe{}", b'{"kind": "\xff"}',
])
def test_a_packet_that_is_no_event_is_ignored_and_the_reading_goes_on(
    run_channel: RunChannel, packet: bytes
) -> None:
    send(run_channel.child_end, "first")
    run_channel.child_end.send(packet)
    send(run_channel.child_end, "last")
    assert [event["kind"] for event in run_channel.events] == ["first", "last"]
    assert run_channel.overflow is None


@pytest.mark.parametrize("packet", [
    b'{"kind": "x"}', b' {"kind": "x"}\n', b'{"kind": "x", "s": "\\ud800"}',
    '{"kind": "é", "v": NaN}'.encode(), b'{"kind": "x", "kind": "y"}',
    '{"kind": "x"}'.encode("utf-16"), b'{"kind": "x", "big": 1e400}',
])
def test_the_packet_is_read_as_json_loads_reads_it(packet: bytes) -> None:
    assert decoded(packet) == json.loads(packet) or \
        json.dumps(decoded(packet)) == json.dumps(json.loads(packet))


def test_the_caps_count_each_event_of_a_burst(
    run_channel: RunChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(channel, "EVENTS_MAX", 10)
    assert 10 < flood(run_channel.child_end, 1000) < 1000  # the grader closed its end
    events = run_channel.events
    assert [event["n"] for event in events] == list(range(10))
    assert run_channel.overflow is not None
    assert "10 events" in run_channel.overflow
    assert len(run_channel.of("junk")) == 10


def flood(sock: socket.socket, count: int) -> int:
    """How many of ``count`` events the socket took before the grader closed its end."""
    for number in range(count):
        try:
            send(sock, "junk", n=number)
        except OSError:
            return number
    return count


def test_a_forked_childs_channel_is_read_beside_its_parents(run_channel: RunChannel) -> None:
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    socket.send_fds(run_channel.child_end, [b'{"kind": "channel", "pid": 8}'],
                    [theirs.fileno()])
    theirs.close()
    send(mine, "from-child")
    send(run_channel.child_end, "from-parent")
    # Both are taken in (a socket registered while reading is read in the same drain),
    # in whichever order they came.
    assert {event["kind"] for event in run_channel.events} == \
        {"channel", "from-child", "from-parent"}
    assert run_channel.channels == 2
    mine.close()


def test_a_runs_index_agrees_with_a_scan_as_its_list_grows_or_changes() -> None:
    events: list[Event] = [{"kind": "a", "n": 1}, {"kind": "b", "n": 2}]
    index = KindIndex()
    assert index.of(events, "a") == events_of(events, "a")
    events.append({"kind": "a", "n": 3})
    assert index.of(events, "a") == events_of(events, "a")
    events[-1] = {"kind": "b", "n": 4}  # not only grown (its end changed): indexed afresh
    assert index.of(events, "a") == events_of(events, "a")
    assert index.of(events, "b", n=4) == events_of(events, "b", n=4)
    other = [{"kind": "a", "n": 5}]  # another list: indexed afresh
    assert index.of(other, "a") == events_of(other, "a")
    assert index.of([], "a") == []

    run = Run(exit_code=0, timed_out=False, stdout="", stderr="", events=events, seconds=1)
    assert run.of("b") == events_of(events, "b")
    assert run == Run(exit_code=0, timed_out=False, stdout="", stderr="", events=events,
                      seconds=1)
