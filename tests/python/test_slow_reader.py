"""The server's memory under a caller that does not read its answers.

An answer waits in the server until its caller's HTTP/2 window lets it
out. Its bytes count toward IDEM_MAX_BYTES_IN_FLIGHT until gRPC is done
with the call, and a connection whose peer answers no keepalive ping is
closed, which frees them. No gRPC client can be told not to read, so the
slow reader here is a raw HTTP/2 connection (python3-h2) that announces a
receive window of 0 and then reads nothing at all.
"""

from __future__ import annotations

import socket
import time

import h2.config
import h2.connection
import h2.events
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
        stream = self._h2.get_next_available_stream_id()
        self._h2.send_headers(stream, [
            (":method", "POST"), (":scheme", "http"),
            (":path", f"/idem.v1.IdemService/{method}"), (":authority", "idem"),
            ("content-type", "application/grpc"), ("te", "trailers")])
        body = request.SerializeToString()
        self._h2.send_data(
            stream, b"\0" + len(body).to_bytes(4, "big") + body,
            end_stream=True)
        self._socket.sendall(self._h2.data_to_send())

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


def test_answers_waiting_for_their_reader_count_as_bytes_in_flight(
        bounded_server, tables, new_id, new_key):
    server = bounded_server()
    with idem.Client(server.address, retry=NO_RETRY) as client:
        key = stored_large_answer(client, tables, new_id, new_key)
        reader = SlowReader(server.address)
        try:
            # Its answer (1.5 MiB) cannot leave: the server holds it.
            reader.call("GetKey", idem_pb2.GetKeyRequest(idempotency_key=key))
            # The old server counted only requests, so it let in any number
            # of such calls, each holding its answer.
            assert overloaded_within(client, new_key(), 10)
        finally:
            reader.close()
        # The closed connection freed the answer.
        deadline = time.monotonic() + 10
        while overloaded_within(client, new_key(), 0.05):
            assert time.monotonic() < deadline
        assert client.get_key(key).state == idem.KeyState.FINISHED


def test_a_peer_that_answers_no_ping_is_disconnected(
        bounded_server, tables, new_id, new_key):
    server = bounded_server(IDEM_KEEPALIVE_TIME="3s",
                            IDEM_KEEPALIVE_TIMEOUT="2s")
    with idem.Client(server.address, retry=NO_RETRY) as client:
        key = stored_large_answer(client, tables, new_id, new_key)
        reader = SlowReader(server.address)
        try:
            reader.call("GetKey", idem_pb2.GetKeyRequest(idempotency_key=key))
            # A peer that is gone without a word (a frozen process, a lost
            # node) answers no keepalive ping: its connection is closed
            # within the ping's interval and timeout, and its answers with
            # it, while the socket itself stays open here.
            assert overloaded_within(client, new_key(), 10)
            deadline = time.monotonic() + 15
            while overloaded_within(client, new_key(), 0.05):
                assert time.monotonic() < deadline
        finally:
            reader.close()


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
