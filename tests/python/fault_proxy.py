"""A loopback TCP proxy that loses one answer on demand: the request
reaches the server, the server commits and answers, and the proxy resets
the connection instead of passing the answer on. That is the failure
auto-keys exist for (the C++ tests' tests/support/fault_proxy.cc cuts at
random; here the cut is aimed, so a test knows the call ran).

It reads the server's side as HTTP/2 frames (9-byte headers, RFC 9113
§4.1): the first HEADERS or DATA frame of a stream after drop_next_reply()
cuts the connection; connection-level frames (SETTINGS, PING, ...) pass.
"""

from __future__ import annotations

import socket
import struct
import threading

_DATA, _HEADERS = 0x0, 0x1


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        host, port = upstream.rsplit(":", 1)
        self._upstream = (host, int(port))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self._lock = threading.Lock()
        self._armed = 0
        self.cuts = 0
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def drop_next_reply(self, count: int = 1) -> None:
        with self._lock:
            self._armed += count

    def close(self) -> None:
        self._listener.close()
        for sock in list(self._sockets):
            self._close(sock)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._upstream)
            self._sockets += [client, upstream]
            threading.Thread(target=self._to_server, args=(client, upstream),
                             daemon=True).start()
            threading.Thread(target=self._to_client, args=(upstream, client),
                             daemon=True).start()

    @staticmethod
    def _close(sock: socket.socket, reset: bool = False) -> None:
        """Shuts down before closing: a close alone would leave the socket
        open while the other pump thread is blocked reading it."""
        try:
            if reset:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                struct.pack("ii", 1, 0))
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()

    def _to_server(self, client: socket.socket,
                   upstream: socket.socket) -> None:
        try:
            while data := client.recv(65536):
                upstream.sendall(data)
        except OSError:
            pass
        self._close(upstream)

    def _cut_here(self, frame_type: int, stream: int) -> bool:
        if stream == 0 or frame_type not in (_DATA, _HEADERS):
            return False
        with self._lock:
            if not self._armed:
                return False
            self._armed -= 1
            self.cuts += 1
            return True

    def _to_client(self, upstream: socket.socket,
                   client: socket.socket) -> None:
        buffer = b""
        try:
            while data := upstream.recv(65536):
                buffer += data
                while len(buffer) >= 9:
                    length = int.from_bytes(buffer[:3], "big")
                    if len(buffer) < 9 + length:
                        break
                    frame_type = buffer[3]
                    stream = int.from_bytes(buffer[5:9], "big") & 0x7FFFFFFF
                    if self._cut_here(frame_type, stream):
                        self._close(client, reset=True)
                        self._close(upstream)
                        return
                    client.sendall(buffer[:9 + length])
                    buffer = buffer[9 + length:]
        except OSError:
            pass
        self._close(client)
