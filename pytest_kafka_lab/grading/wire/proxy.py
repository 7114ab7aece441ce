"""A recording Kafka-protocol proxy: the student's clients talk to the broker through it,
and it keeps, decoded, what each client asked and what the broker answered.

A client that bootstraps through the proxy must keep coming back through it, whatever
broker address it learns. Two ways hold it there:

- ``advertise=True`` (what the grader's sandbox uses, one proxy per run): the proxy puts
  its own address in the three answers that name brokers (Metadata, FindCoordinator,
  DescribeCluster; ``addresses``), so any single broker can stand behind it unchanged.
- A broker listener of its own whose *advertised* address is the proxy's: then nothing is
  rewritten::

    proxy = WireProxy()                       # bound: its address is known
    broker = LocalBroker(config, extra_listeners={"RUNS": (runs_port, proxy.address)})
    broker.start()
    proxy.upstream = f"127.0.0.1:{runs_port}"
    proxy.start()

One asyncio loop in a daemon thread serves every connection. A request is forwarded once
whole (so that an API the proxy refuses never reaches the broker) and decoded after; a
response is forwarded as its bytes arrive and decoded once whole. Decoding happens on the
copy the proxy holds anyway and its failures are recorded, never raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, Self

from pytest_kafka_lab.grading.wire import addresses, protocol

LOG = logging.getLogger(__name__)

# Admin APIs that change the broker's (or the cluster's) own state rather than a topic's or
# a group's: configs, quotas, ACLs, SCRAM credentials, reassignments and log dirs, leader
# elections, features, the quorum and its members' registrations, delegation tokens.
BROKER_WIDE = frozenset({
    "AlterConfigs", "IncrementalAlterConfigs",
    "AlterClientQuotas",
    "CreateAcls", "DeleteAcls",
    "AlterUserScramCredentials",
    "AlterPartitionReassignments", "AlterReplicaLogDirs",
    "ElectLeaders",
    "UpdateFeatures",
    "BrokerRegistration", "UnregisterBroker", "ControllerRegistration",
    "UnregisterController", "AddRaftVoter", "RemoveRaftVoter", "UpdateRaftVoter",
    "CreateDelegationToken", "RenewDelegationToken", "ExpireDelegationToken",
})

# The broker's own bound (socket.request.max.bytes) is 100 MiB: a request above it is
# garbage, forwarded as bytes (the broker closes the connection) and no longer framed.
MAX_REQUEST = 100 * 1024 * 1024 + 1024
# A response this large is forwarded but not kept for decoding.
MAX_DECODED_RESPONSE = 128 * 1024 * 1024
PRODUCE = protocol.API_KEYS["Produce"]
# Reading pauses while the other side's transport holds more than this: asyncio's 64 KiB
# would pause on every large Produce request or Fetch response.
WRITE_BUFFER = 8 * 1024 * 1024


@dataclass
class Exchange:
    """One request of a client and, once answered, the broker's response."""

    connection: int  # the proxy's number for the client connection (1, 2, ...)
    peer: tuple[str, int]  # the client's address as the proxy saw it
    api: str  # "Produce", "OffsetCommit", ...
    api_key: int
    version: int
    correlation_id: int
    client_id: str | None
    sent: float  # time.monotonic() when the request was read from the client
    request: dict[str, Any]  # decoded fields (snake_case names as in the schemas)
    response: dict[str, Any] | None = None  # decoded, once answered
    answered: float | None = None  # time.monotonic() of the response
    refused: bool = False  # not forwarded (an API the proxy refuses)
    error: str | None = None  # why (part of) it could not be decoded
    size: int = 0  # the request frame's bytes (without its length)
    response_size: int | None = None
    expects_response: bool = True  # False: refused, or a Produce with acks=0


class WireLog:
    """What went through a proxy, in the order requests arrived. Thread-safe: the proxy's
    thread appends and answers, the grader reads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._exchanges: list[Exchange] = []
        self._connections: dict[int, tuple[str, int]] = {}
        self._closed: dict[int, float] = {}
        self._topic_names: dict[str, str] = {}

    def exchanges(self, api: str | None = None, since: int = 0) -> list[Exchange]:
        """The exchanges from position ``since`` (see ``mark``) on, of ``api`` if given."""
        with self._lock:
            found = self._exchanges[since:]
        return found if api is None else [item for item in found if item.api == api]

    def mark(self) -> int:
        """The position now: ``exchanges(since=mark)`` is what came after."""
        with self._lock:
            return len(self._exchanges)

    def connections(self) -> dict[int, tuple[str, int]]:
        """Every client connection the proxy accepted: its number → the client's address."""
        with self._lock:
            return dict(self._connections)

    def closed(self) -> dict[int, float]:
        """The connections that ended: number → time.monotonic() of the end."""
        with self._lock:
            return dict(self._closed)

    def topic_names(self) -> dict[str, str]:
        """Topic id → name, as Metadata and CreateTopics responses told."""
        with self._lock:
            return dict(self._topic_names)

    def wait_for(self, condition: Callable[[list[Exchange]], bool], timeout: float = 10.0,
                 since: int = 0) -> list[Exchange]:
        """Wait until ``condition(exchanges since)`` holds (checked at every change);
        return those exchanges, or raise TimeoutError with how many there were."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = self._exchanges[since:]
                if condition(found):
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"the wire log's condition did not hold within "
                                       f"{timeout:g}s ({len(found)} exchanges)")
                self._changed.wait(left)

    # --- the proxy's side ----------------------------------------------------------------

    def _connected(self, number: int, peer: tuple[str, int]) -> None:
        with self._changed:
            self._connections[number] = peer
            self._changed.notify_all()

    def _disconnected(self, number: int) -> None:
        with self._changed:
            self._closed.setdefault(number, time.monotonic())
            self._changed.notify_all()

    def _append(self, exchange: Exchange) -> None:
        with self._changed:
            self._exchanges.append(exchange)
            self._changed.notify_all()

    def _answer(self, exchange: Exchange, response: dict[str, Any], answered: float,
                size: int, error: str | None) -> None:
        with self._changed:
            exchange.response = response
            exchange.answered = answered
            exchange.response_size = size
            if error is not None:
                exchange.error = (f"{exchange.error}; response: {error}" if exchange.error
                                  else f"response: {error}")
            self._changed.notify_all()

    def _learn_topics(self, names: dict[str, str]) -> None:
        with self._lock:
            self._topic_names.update(names)

    @property
    def _names(self) -> dict[str, str]:
        # Read by the proxy's thread, the only writer: a plain dict read is enough there.
        return self._topic_names


NAMING_TOPICS = frozenset({protocol.API_KEYS["Metadata"], protocol.API_KEYS["CreateTopics"]})
NO_TOPIC_ID = "AAAAAAAAAAAAAAAAAAAAAA"  # the zero UUID: "no id"


def _learned_topics(api_key: int, body: dict[str, Any]) -> dict[str, str]:
    """Topic id → name from a Metadata or CreateTopics response."""
    if api_key not in NAMING_TOPICS:
        return {}
    learned = {}
    for topic in body.get("topics") or ():
        topic_id, name = topic.get("topic_id"), topic.get("name")
        if topic_id and name and topic_id != NO_TOPIC_ID:
            learned[topic_id] = name
    return learned


def _frames(buffer: bytes, limit: int) -> tuple[list[memoryview], int, int | None]:
    """The whole frames at the start of ``buffer`` (bodies, as views), the bytes they take,
    and the length of the next frame if it is out of bounds (negative, or above
    ``limit``)."""
    found: list[memoryview] = []
    view = memoryview(buffer)
    pos = 0
    end = len(buffer)
    while end - pos >= 4:
        size = int.from_bytes(buffer[pos:pos + 4], "big", signed=True)
        if size < 0 or size > limit:
            return found, pos, size
        if end - pos - 4 < size:
            break
        found.append(view[pos + 4:pos + 4 + size])
        pos += 4 + size
    return found, pos, None


@dataclass
class _Cut:
    """What one read completed: frames (views of ``buffer``, which they take ``used``
    bytes of), and where framing met a length out of bounds."""

    buffer: bytes = b""
    frames: list[memoryview] = field(default_factory=list)
    used: int = 0
    bad_length: int | None = None
    oversized: tuple[int, int | None] | None = None  # skipped: length, correlation id


_NOTHING = _Cut()


class _Framer:
    """Cuts one direction of a connection into frames. The reads are kept as they come
    and joined once a frame is whole, so a large frame arriving in many reads is copied
    once; the buffer is immutable ``bytes``, which the frames' views never pin."""

    def __init__(self, limit: int, skip_oversized: bool) -> None:
        self.limit = limit
        self.skip_oversized = skip_oversized
        self.parts: list[bytes] = []
        self.have = 0
        self.need = 4  # bytes wanted before anything can be cut: a length, or a frame
        self.skip = 0  # bytes of an oversized frame still to come, not kept
        self.broken = False  # a length out of bounds: the stream is not Kafka's

    def feed(self, data: bytes) -> _Cut:
        if self.broken:
            return _NOTHING
        if self.skip:
            taken = min(self.skip, len(data))
            self.skip -= taken
            data = data[taken:]
        self.have += len(data)
        if self.have < self.need:
            if data:
                self.parts.append(data)
            return _NOTHING
        buffer = b"".join((*self.parts, data)) if self.parts else data
        frames, used, bad = _frames(buffer, self.limit)
        cut = _Cut(buffer, frames, used, bad)
        self.parts = []
        if bad is not None and bad >= 0 and self.skip_oversized:
            head = buffer[used + 4:used + 8]
            cut.oversized = (bad, int.from_bytes(head, "big", signed=True)
                             if len(head) == 4 else None)
            available = len(buffer) - used - 4
            self.skip = bad - available
            self.have, self.need = 0, 4
            if self.skip < 0:  # more than the frame came at once: its end is unknown
                self.broken = True
            return cut
        if bad is not None:
            self.broken = True
            return cut
        rest = len(buffer) - used
        if rest:
            self.parts = [buffer[used:]] if used else [buffer]
        self.have = rest
        self.need = 4 + int.from_bytes(buffer[used:used + 4], "big", signed=True) \
            if rest >= 4 else 4
        return cut


class _Connection:
    """One client connection and its connection to the broker: two protocols sharing the
    requests awaiting an answer, by correlation id."""

    def __init__(self, proxy: WireProxy, number: int) -> None:
        self.proxy = proxy
        self.log = proxy.log
        self.number = number
        self.peer: tuple[str, int] = ("?", 0)
        self.client: asyncio.Transport | None = None
        self.broker: asyncio.Transport | None = None
        self.pending: dict[int, Exchange] = {}
        self.requests = _Framer(MAX_REQUEST, skip_oversized=False)
        self.responses = _Framer(MAX_DECODED_RESPONSE, skip_oversized=True)
        # Whole responses, for the proxy that advertises itself (``advertise``).
        self.forwarding = _Framer(MAX_REQUEST * 2, skip_oversized=False)
        self.skipped: Exchange | None = None
        self.connecting: asyncio.Task[None] | None = None
        self.closed = False

    # --- the client's side ---------------------------------------------------------------

    def client_made(self, transport: asyncio.Transport) -> None:
        self.client = transport
        transport.set_write_buffer_limits(WRITE_BUFFER)
        peer = transport.get_extra_info("peername")
        self.peer = (str(peer[0]), int(peer[1])) if peer else ("?", 0)
        self.log._connected(self.number, self.peer)
        # Nothing is read until the broker's side is open: the requests wait in the kernel.
        transport.pause_reading()
        self.connecting = asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            host, port = self.proxy._upstream_address()
        except ValueError as error:
            LOG.warning("wire proxy: connection %d: %s", self.number, error)
            self.close()
            return
        try:
            await loop.create_connection(lambda: _BrokerSide(self), host, port)
        except (OSError, ValueError) as error:
            LOG.warning("wire proxy: connection %d: the broker at %s:%d refused: %s",
                        self.number, host, port, error)
            self.close()
            return
        if self.closed:
            self.close()
        elif self.client is not None:
            self.client.resume_reading()

    def from_client(self, data: bytes) -> None:
        if self.requests.broken:
            self._to_broker(data)
            return
        cut = self.requests.feed(data)
        if not cut.frames and cut.bad_length is None:
            return
        now = time.monotonic()
        refused_at = next((index for index, frame in enumerate(cut.frames)
                           if self._refused(frame)), -1)
        buffer = cut.buffer
        if refused_at >= 0:
            forwarded = sum(4 + len(frame) for frame in cut.frames[:refused_at])
            if forwarded:
                self._to_broker(buffer[:forwarded])
        elif cut.bad_length is not None:
            self._to_broker(buffer)  # the garbage too: the broker judges it
        elif cut.used:
            self._to_broker(buffer if cut.used == len(buffer) else buffer[:cut.used])
        for index, frame in enumerate(cut.frames):
            if 0 <= refused_at < index:
                break
            self._record_request(frame, now, refused=index == refused_at)
        if refused_at >= 0:
            self.close()
        elif cut.bad_length is not None:
            self._record_garbage(cut.bad_length, now)

    def _refused(self, frame: memoryview) -> bool:
        key = protocol.peek_api_key(frame)
        return key is not None and protocol.api_name(key) in self.proxy.refuse

    def _to_broker(self, data: bytes) -> None:
        if self.broker is not None and not self.broker.is_closing():
            self.broker.write(data)

    def _record_request(self, frame: memoryview, now: float, refused: bool) -> None:
        try:
            decoded = protocol.decode_request(frame, self.log._names)
        except Exception as error:  # a decoder's bug must not stop the proxy
            LOG.exception("wire proxy: decoding a request failed")
            decoded = protocol.decode_request(b"")
            decoded.error = f"decoder failed: {error!r}"
        exchange = Exchange(
            connection=self.number, peer=self.peer, api=decoded.api,
            api_key=decoded.api_key, version=decoded.version,
            correlation_id=decoded.correlation_id, client_id=decoded.client_id, sent=now,
            request=decoded.body, refused=refused, error=decoded.error, size=len(frame))
        if refused or (decoded.api_key == PRODUCE and decoded.body.get("acks") == 0):
            exchange.expects_response = False  # the broker never answers acks=0
        elif decoded.api_key >= 0:
            self.pending[decoded.correlation_id] = exchange
        self.log._append(exchange)

    def _record_garbage(self, length: int, now: float) -> None:
        self.log._append(Exchange(
            connection=self.number, peer=self.peer, api="?", api_key=-1, version=-1,
            correlation_id=-1, client_id=None, sent=now, request={},
            error=f"a frame length of {length}: not Kafka's protocol; the rest of this "
                  "connection is forwarded undecoded", expects_response=False))

    # --- the broker's side ---------------------------------------------------------------

    def broker_made(self, transport: asyncio.Transport) -> None:
        self.broker = transport
        transport.set_write_buffer_limits(WRITE_BUFFER)

    def from_broker(self, data: bytes) -> None:
        # Stamped on arrival, before the client can have it: an answer's time is then
        # never later than the moment its client heard of it.
        arrived = time.monotonic()
        if self.proxy.advertise:
            self._forward_advertising(data)
        elif self.client is not None and not self.client.is_closing():
            self.client.write(data)  # forwarded first: decoding is the proxy's own time
        if self.responses.broken:
            return
        try:
            self._responses_in(data, arrived)
        except Exception:  # a decoder's bug must not stop the proxy
            LOG.exception("wire proxy: reading responses failed")
            self.responses.broken = True

    def _forward_advertising(self, data: bytes) -> None:
        """Forward whole response frames, each that names brokers with the proxy's
        address in their place (``addresses``): so that the client comes back here."""
        if self.client is None or self.client.is_closing():
            return
        if self.forwarding.broken:
            self.client.write(data)
            return
        cut = self.forwarding.feed(data)
        for frame in cut.frames:
            correlation_id = protocol.response_correlation_id(frame)
            pending = self.pending.get(correlation_id) if correlation_id is not None else None
            body = bytes(frame)
            if pending is not None and pending.api_key in addresses.REWRITERS:
                body = addresses.rewrite(pending.api_key, pending.version, body,
                                         ("127.0.0.1", self.proxy.listen_port))
            self.client.write(len(body).to_bytes(4, "big") + body)
        if cut.bad_length is not None:
            self.client.write(cut.buffer[cut.used:])

    def _responses_in(self, data: bytes, arrived: float) -> None:
        skipping = self.responses.skip
        cut = self.responses.feed(data)
        if skipping and not self.responses.skip and self.skipped is not None:
            self.log._answer(self.skipped, {}, arrived,
                             self.skipped.response_size or 0,
                             "too large to keep for decoding")
            self.skipped = None
        if not cut.frames and cut.oversized is None:
            return
        for frame in cut.frames:
            self._record_response(frame, arrived)
        if cut.oversized is not None:
            length, correlation_id = cut.oversized
            exchange = self.pending.pop(correlation_id, None) \
                if correlation_id is not None else None
            if exchange is not None:
                exchange.response_size = length
            self.skipped = exchange

    def _record_response(self, frame: memoryview, now: float) -> None:
        correlation_id = protocol.response_correlation_id(frame)
        exchange = self.pending.pop(correlation_id, None) if correlation_id is not None else None
        if exchange is None:
            return  # a response to a request not decoded (or never sent through us)
        try:
            decoded = protocol.decode_response(exchange.api_key, exchange.version, frame,
                                               self.log._names)
        except Exception as error:  # a decoder's bug must not stop the proxy
            LOG.exception("wire proxy: decoding a response failed")
            decoded = protocol.DecodedResponse(exchange.correlation_id, {},
                                               f"decoder failed: {error!r}")
        learned = _learned_topics(exchange.api_key, decoded.body)
        if learned:
            self.log._learn_topics(learned)
        self.log._answer(exchange, decoded.body, now, len(frame), decoded.error)

    # --- both ----------------------------------------------------------------------------

    def close(self) -> None:
        self.closed = True
        if self.connecting is not None and not self.connecting.done():
            self.connecting.cancel()
        for transport in (self.client, self.broker):
            if transport is not None and not transport.is_closing():
                transport.close()
        self.proxy._forget(self)
        self.log._disconnected(self.number)

    def abort(self) -> None:
        self.closed = True
        if self.connecting is not None and not self.connecting.done():
            self.connecting.cancel()
        for transport in (self.client, self.broker):
            if transport is not None:
                transport.abort()
        self.log._disconnected(self.number)


class _ClientSide(asyncio.Protocol):
    def __init__(self, connection: _Connection) -> None:
        self.connection = connection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.connection.client_made(transport)

    def data_received(self, data: bytes) -> None:
        self.connection.from_client(data)

    def eof_received(self) -> bool | None:
        return None  # closes the transport, then connection_lost closes the other side

    def connection_lost(self, exc: Exception | None) -> None:
        self.connection.close()

    # The client's transport cannot take more: stop reading the broker.
    def pause_writing(self) -> None:
        if self.connection.broker is not None:
            self.connection.broker.pause_reading()

    def resume_writing(self) -> None:
        if self.connection.broker is not None and not self.connection.broker.is_closing():
            self.connection.broker.resume_reading()


class _BrokerSide(asyncio.Protocol):
    def __init__(self, connection: _Connection) -> None:
        self.connection = connection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.connection.broker_made(transport)

    def data_received(self, data: bytes) -> None:
        self.connection.from_broker(data)

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.connection.close()

    def pause_writing(self) -> None:
        if self.connection.client is not None:
            self.connection.client.pause_reading()

    def resume_writing(self) -> None:
        if self.connection.client is not None and not self.connection.client.is_closing():
            self.connection.client.resume_reading()


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class WireProxy:
    """A recording proxy in front of one broker listener (see the module's docstring).

    The listening socket is bound on 127.0.0.1 at once (``port`` 0: a free port), so that
    the broker can advertise ``address`` before the proxy serves. ``refuse`` names APIs
    never forwarded: such a request is recorded as refused and its connection closed.
    """

    def __init__(self, upstream: str | None = None, *, port: int = 0,
                 refuse: Collection[str] = (), advertise: bool = False) -> None:
        unknown = set(refuse) - set(protocol.API_KEYS)
        if unknown:
            raise ValueError(f"no Kafka API is named {', '.join(sorted(unknown))}")
        self.refuse = frozenset(refuse)
        # With advertise, the brokers a response names become this proxy: the broker
        # then needs no listener advertising it (one proxy stands for one broker).
        self.advertise = advertise
        self.upstream = upstream
        self.log = WireLog()
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind(("127.0.0.1", port))
            self._socket.listen(128)
        except OSError:
            self._socket.close()
            raise
        self.listen_port: int = self._socket.getsockname()[1]
        self.address = f"127.0.0.1:{self.listen_port}"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._connections: set[_Connection] = set()
        self._numbered = 0
        self._stopped = False

    def __repr__(self) -> str:
        return f"WireProxy({self.address} → {self.upstream})"

    def _upstream_address(self) -> tuple[str, int]:
        if not self.upstream:
            raise ValueError("the proxy has no upstream: set `upstream` before start()")
        host, _, port = self.upstream.rpartition(":")
        host = host.strip("[]")
        if not _loopback(host) or not port.isdigit():
            raise ValueError(f"upstream {self.upstream!r}: expected a loopback host:port")
        return host, int(port)

    def start(self) -> Self:
        """Serve, in a daemon thread, until ``stop()``."""
        if self._thread is not None:
            return self
        if self._stopped:
            raise RuntimeError("a stopped proxy does not start again")
        self._upstream_address()  # a wrong upstream fails here, not per connection
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                self._server = loop.run_until_complete(
                    loop.create_server(self._accept, sock=self._socket))
            except BaseException as error:
                failure.append(error)
                ready.set()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=serve, name=f"wire-proxy-{self.listen_port}",
                                        daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = None
            raise failure[0]
        return self

    def _accept(self) -> _ClientSide:
        self._numbered += 1
        connection = _Connection(self, self._numbered)
        self._connections.add(connection)
        return _ClientSide(connection)

    def _forget(self, connection: _Connection) -> None:
        self._connections.discard(connection)

    def sync(self, timeout: float = 10.0) -> None:
        """Return once the proxy's thread has handled what it had received: what a client
        was answered is then in the log (a response is forwarded before it is decoded)."""
        loop = self._loop
        if loop is None or self._thread is None or not self._thread.is_alive():
            return
        done = threading.Event()
        loop.call_soon_threadsafe(done.set)
        done.wait(timeout)

    def stop(self) -> None:
        """Close the listener and every connection; end the thread."""
        self._stopped = True
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            async def shut() -> None:
                if self._server is not None:
                    self._server.close()
                connecting = [connection.connecting for connection in self._connections
                              if connection.connecting is not None]
                for connection in list(self._connections):
                    connection.abort()
                self._connections.clear()
                await asyncio.gather(*connecting, return_exceptions=True)
                await asyncio.sleep(0)  # the transports' connection_lost callbacks run

            with contextlib.suppress(RuntimeError):
                asyncio.run_coroutine_threadsafe(shut(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
        self._thread = None
        self._loop = None
        self._socket.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
