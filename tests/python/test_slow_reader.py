"""The server's memory under callers that do not read their answers, or
never finish their requests.

An answer waits in the server until its caller's HTTP/2 window lets it
out. Its bytes count toward IDEM_MAX_BYTES_IN_FLIGHT until gRPC is done
with the call, and a connection whose peer answers no keepalive ping is
closed, which frees them. A request is seen by the service only whole, so
the parts of requests still arriving are bounded by gRPC's memory quota
(IDEM_MAX_TRANSPORT_BYTES). No gRPC client can be told to behave so, so
the callers here are raw HTTP/2 connections (python3-h2) that announce a
receive window of 0 and then read nothing at all.
"""

from __future__ import annotations

import collections
import contextlib
import multiprocessing
import socket
import time
from typing import Iterator

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import pytest

import idem
from idem.v1 import idem_pb2
from servers import Server

NO_RETRY = idem.RetryPolicy(max_attempts=1, total_timeout=10)
LIMIT = 1 << 20  # IDEM_MAX_BYTES_IN_FLIGHT of these servers


class SlowReader:
    """One HTTP/2 connection that sends calls and never reads an answer."""

    def __init__(self, address: str) -> None:
        host, port = address.rsplit(":", 1)
        self._socket = socket.create_connection((host, int(port)))
        self._h2 = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True))
        self._refused = False
        self._h2.initiate_connection()
        self._h2.update_settings(
            {h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
        self._socket.sendall(self._h2.data_to_send())

    def server_settings(self) -> dict[int, int]:
        """The settings the server announced (read before any call)."""
        while True:
            for event in self._h2.receive_data(self._socket.recv(65536)):
                if isinstance(event, h2.events.RemoteSettingsChanged):
                    self._socket.sendall(self._h2.data_to_send())
                    return {code: setting.new_value for code, setting
                            in event.changed_settings.items()}

    def call(self, method: str, request) -> None:
        body = request.SerializeToString()
        stream = self._open(method)
        self._h2.send_data(
            stream, b"\0" + len(body).to_bytes(4, "big") + body,
            end_stream=True)
        self._socket.sendall(self._h2.data_to_send())

    def send_part(self, method: str, length: int, part: int) -> bool:
        """Opens a call whose message is `length` bytes long and sends its
        first `part` bytes, never the rest; False once the server has
        reset the call or closed the connection."""
        try:
            return self._send_part(method, length, part)
        except h2.exceptions.ProtocolError:
            # The server reset the call (or ended the connection) while its
            # parts were being sent: h2 refuses to send on a closed stream.
            return False

    def _send_part(self, method: str, length: int, part: int) -> bool:
        stream = self._open(method)
        self._h2.send_data(stream, b"\0" + length.to_bytes(4, "big"))
        sent = 0
        while sent < part:
            size = min(self._h2.local_flow_control_window(stream),
                       self._h2.max_outbound_frame_size, part - sent)
            if size <= 0:  # wait for the server to open its window
                self._socket.settimeout(10)
                try:
                    data = self._socket.recv(1 << 20)
                except (socket.timeout, ConnectionError):
                    return False
                if not data:
                    return False
                self._receive(data)
            else:
                self._h2.send_data(stream, b"x" * size)
                sent += size
            try:
                self._socket.sendall(self._h2.data_to_send())
            except ConnectionError:
                return False
        return True

    def refused_by_server(self, seconds: float) -> bool:
        """Whether the server has reset a call of this connection or ended
        the connection, waiting at most `seconds` for it."""
        self._socket.settimeout(seconds)
        try:
            while not self._refused:
                data = self._socket.recv(1 << 20)
                if not data:
                    return True
                self._receive(data)
        except socket.timeout:
            pass
        except ConnectionError:
            return True
        return self._refused

    def _receive(self, data: bytes) -> None:
        for event in self._h2.receive_data(data):
            if isinstance(event, (h2.events.StreamReset,
                                  h2.events.ConnectionTerminated)):
                self._refused = True

    def _open(self, method: str) -> int:
        stream = self._h2.get_next_available_stream_id()
        self._h2.send_headers(stream, [
            (":method", "POST"), (":scheme", "http"),
            (":path", f"/idem.v1.IdemService/{method}"), (":authority", "idem"),
            ("content-type", "application/grpc"), ("te", "trailers")])
        return stream

    def close(self) -> None:
        self._socket.close()


def stored_large_answer(client: idem.Client, tables, new_id,
                        new_key) -> str:
    """A key whose stored answer is larger than LIMIT."""
    key = new_key()
    client.exactly_once(key).insert(
        tables.items, [{"id": new_id(), "name": "x" * (LIMIT + LIMIT // 2)}],
        returning=["name"])
    return key


def overloaded_within(client: idem.Client, key: str, seconds: float) -> bool:
    """Whether a small call (GetKey of `key`) is refused OVERLOADED within
    `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            client.forget_key(key)
        except idem.ResourceExhaustedError as refused:
            assert refused.reason == "OVERLOADED"
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def bounded_server(tables, tmp_path):
    def start(**env: str) -> Server:
        started = Server(tmp_path / f"server{len(servers)}", {
            "IDEM_ALLOW_PLAINTEXT": "true", "IDEM_TABLES": str(tables),
            "IDEM_MAX_BYTES_IN_FLIGHT": str(LIMIT), **env})
        servers.append(started)
        return started
    servers: list[Server] = []
    yield start
    for started in servers:
        started.stop()


def admitted_within(client: idem.Client, new_key, seconds: float) -> None:
    """Waits until small calls are admitted again, at most `seconds`."""
    deadline = time.monotonic() + seconds
    while overloaded_within(client, new_key(), 0.05):
        assert time.monotonic() < deadline


@contextlib.contextmanager
def answer_held_by_a_slow_reader(server: Server, client: idem.Client, tables,
                                 new_id, new_key) -> Iterator[str]:
    """A slow reader that asked GetKey of a stored answer larger than
    LIMIT, once the server holds that answer (a small call of another
    connection is refused OVERLOADED); yields the key. The old server
    counted only requests, so it let in any number of such calls, each
    holding its answer."""
    key = stored_large_answer(client, tables, new_id, new_key)
    # The large answer just read counts until gRPC is done with its call,
    # a moment after the client has it; a GetKey arriving before that is
    # refused OVERLOADED (once in a full CTest run), and then nothing holds
    # the bytes. The server's log shows the refused calls if it happens.
    admitted_within(client, new_key, 10)
    reader = SlowReader(server.address)
    try:
        reader.call("GetKey", idem_pb2.GetKeyRequest(idempotency_key=key))
        assert overloaded_within(client, new_key(), 10), (
            server.log_path.read_text()[-4000:])
        yield key
    finally:
        reader.close()


def test_answers_waiting_for_their_reader_count_as_bytes_in_flight(
        bounded_server, tables, new_id, new_key):
    server = bounded_server()
    with idem.Client(server.address, retry=NO_RETRY) as client:
        with answer_held_by_a_slow_reader(server, client, tables, new_id,
                                          new_key) as key:
            pass
        # The closed connection freed the answer.
        admitted_within(client, new_key, 10)
        assert client.get_key(key).state == idem.KeyState.FINISHED


def test_a_peer_that_answers_no_ping_is_disconnected(
        bounded_server, tables, new_id, new_key):
    server = bounded_server(IDEM_KEEPALIVE_TIME="3s",
                            IDEM_KEEPALIVE_TIMEOUT="2s")
    with idem.Client(server.address, retry=NO_RETRY) as client:
        with answer_held_by_a_slow_reader(server, client, tables, new_id,
                                          new_key):
            # A peer that is gone without a word (a frozen process, a lost
            # node) answers no keepalive ping: its connection is closed
            # within the ping's interval and timeout, and its answers with
            # it, while the socket itself stays open here.
            admitted_within(client, new_key, 15)


def test_a_connection_holds_at_most_a_thousand_calls(bounded_server):
    """Each call open on a connection holds some server memory beyond its
    bytes, whether or not its answer can leave: a connection may open at
    most 1000 at once, and the server announces it (the old server let a
    caller that reads nothing open calls without end)."""
    reader = SlowReader(bounded_server().address)
    try:
        settings = reader.server_settings()
        assert settings.get(
            h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS) == 1000
    finally:
        reader.close()


def test_requests_that_never_end_are_bounded(bounded_server, tables,
                                             new_id, new_key):
    """Parts of 30 MB requests, 4 MB each on 25 calls (100 MB), that never
    end, sent without credentials: the old server kept buffering them all.
    Past IDEM_MAX_TRANSPORT_BYTES gRPC resets calls (RESOURCE_EXHAUSTED)
    or closes the connection instead, and the server goes on serving."""
    server = bounded_server(IDEM_MAX_TRANSPORT_BYTES=str(32 << 20))
    writer = SlowReader(server.address)
    try:
        for _ in range(25):
            if not writer.send_part("Insert", 30 << 20, 4 << 20):
                break
        assert writer.refused_by_server(10)
    finally:
        writer.close()
    # Under a key: a plain call may fail UNAVAILABLE after it ran while the
    # quota is still short (test_a_call_that_ran_is_not_sent_again); the
    # keyed call is retried and answers as it ran the first time.
    with idem.Client(server.address) as client:
        assert client.exactly_once(new_key()).insert(
            tables.items, [{"id": new_id()}]).result.outcomes == (
                idem.RowOutcome.INSERTED,)
    # gRPC hands the service each call it reset, without a request: the old
    # server logged (and counted) them as INVALID_ARGUMENT, "does not
    # parse", and sent an operator looking for a client that sends garbage.
    deadline = time.monotonic() + 10
    while "before its request arrived" not in server.log_path.read_text():
        assert time.monotonic() < deadline, "no call logged as cut short"
        time.sleep(0.05)
    assert "does not parse" not in server.log_path.read_text()


def flood_until(address: str, stop: multiprocessing.synchronize.Event) -> None:
    """Bursts of request parts (six 30 MB Inserts, 1 MB of each sent, on a
    new connection each time) until `stop` is set."""
    while not stop.is_set():
        writer = SlowReader(address)
        try:
            for _ in range(6):
                if not writer.send_part("Insert", 30 << 20, 1 << 20):
                    break
        finally:
            writer.close()


@contextlib.contextmanager
def transport_quota_under_pressure(address: str) -> Iterator[None]:
    """flood_until in a process of its own (a thread would share the GIL
    with the calls under test and slow both) for the block; spawned, not
    forked, as this process runs gRPC's threads."""
    spawn = multiprocessing.get_context("spawn")
    stop = spawn.Event()
    flood = spawn.Process(target=flood_until, args=(address, stop))
    flood.start()
    try:
        yield
    finally:
        stop.set()
        flood.join(30)


def test_a_call_that_ran_is_not_sent_again(bounded_server, tables, new_id):
    """Under its memory quota, gRPC's server (1.51) ends a connection that
    has no call open with a GOAWAY, and the last stream id that GOAWAY
    names can be below a call it then runs. gRPC clients send a call past
    that id again by themselves (a "transparent retry", meant for calls the
    server never saw): the old client ran plain Inserts twice here and
    answered DUPLICATE for the caller's own new row (8 and 13 times in two
    runs of 15 s).
    The client turns gRPC's own retries off: such a call fails UNAVAILABLE,
    which says it may have run, and only a key makes its resend safe."""
    server = bounded_server(IDEM_MAX_TRANSPORT_BYTES=str(4 << 20))
    answers: collections.Counter[str] = collections.Counter()
    with transport_quota_under_pressure(server.address):
        with idem.Client(server.address, retry=NO_RETRY) as client:
            end = time.monotonic() + 15
            while time.monotonic() < end:
                try:
                    answers[client.insert(tables.items, [{"id": new_id()}])
                            .outcomes[0].name] += 1
                except (idem.UnavailableError,
                        idem.ResourceExhaustedError) as failed:
                    answers[failed.code.name] += 1
    assert answers["INSERTED"] > 0
    assert set(answers) <= {"INSERTED", "UNAVAILABLE",
                            "RESOURCE_EXHAUSTED"}, answers
