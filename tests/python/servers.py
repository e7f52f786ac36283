"""idem-server processes for the Python client's tests, on the tests'
PostgreSQL (CTest's "pg" fixture): started with the settings a test needs,
stopped with SIGTERM (a clean exit is part of the check)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Iterator, Optional

SOURCE_DIR = Path(__file__).resolve().parents[2]
DATABASE_URL = os.environ.get("IDEM_TEST_DATABASE_URL", "")
SERVER_BINARY = os.environ.get("IDEM_SERVER_BINARY", "")


def psql(sql: str, url: Optional[str] = None) -> str:
    return subprocess.run(
        ["/usr/bin/psql", url or DATABASE_URL, "-v", "ON_ERROR_STOP=1",
         "-Atqc", sql],
        check=True, capture_output=True, text=True).stdout.strip()


def closed_port() -> str:
    """An address where nothing listens: every call is UNAVAILABLE."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


def freeze(pid: int) -> None:
    """Stops process `pid` (SIGSTOP) and returns once every thread of it
    has stopped: kill() returns before a busy machine has stopped them all,
    and a thread still running could answer a call meanwhile."""
    os.kill(pid, signal.SIGSTOP)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        states = []
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                # The state follows the command's closing parenthesis.
                stat = (task / "stat").read_text()
                states.append(stat[stat.rindex(")") + 2])
            except (FileNotFoundError, ProcessLookupError):
                continue  # a thread that ended meanwhile
        if all(state == "T" for state in states):
            return
        time.sleep(0.001)
    raise TimeoutError(f"process {pid} did not stop")


@contextlib.contextmanager
def frozen(process: subprocess.Popen) -> Iterator[None]:
    """The server process stopped (freeze) for the block, then resumed:
    its connections stay up and answer nothing."""
    freeze(process.pid)
    try:
        yield
    finally:
        os.kill(process.pid, signal.SIGCONT)


def hold_row_lock(table, row, seconds):
    """A psql session holding a row lock for `seconds`; returns once the
    lock is held."""
    holder = subprocess.Popen(
        ["/usr/bin/psql", DATABASE_URL, "-qc",
         f"BEGIN; SELECT 1 FROM {table} WHERE id = {row} FOR UPDATE; "
         f"SELECT pg_sleep({seconds}); COMMIT;"],
        stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while psql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
               "'%FOR UPDATE; SELECT pg_sleep%' AND wait_event = 'PgSleep'"
               ) == "0":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return holder


class Server:
    """One idem-server listening on a free loopback port."""

    def __init__(self, folder: Path, env: dict[str, str],
                 database_url: Optional[str] = None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.log_path = folder / "server.log"
        full_env = {k: v for k, v in os.environ.items()
                    if not k.startswith("IDEM_")}
        full_env.update({"IDEM_DATABASE_URL": database_url or DATABASE_URL,
                         "IDEM_LISTEN": "127.0.0.1:0",
                         "IDEM_DRAIN_DELAY": "0s",
                         "IDEM_REAPER_INTERVAL": "1h"})
        full_env.update(env)
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                [SERVER_BINARY], env=full_env, stdout=log,
                stderr=subprocess.STDOUT)
        self.address = self._wait_for_address()

    def _wait_for_address(self, bound: float = 30.0) -> str:
        deadline = time.monotonic() + bound
        while time.monotonic() < deadline:
            for line in self.log_path.read_text().splitlines():
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if entry.get("event") == "listening":
                    return entry["address"]
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        self.process.kill()
        raise RuntimeError("idem-server did not start:\n" +
                           self.log_path.read_text())

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=60)
        if code != 0:
            raise AssertionError(f"idem-server exited {code}:\n" +
                                 self.log_path.read_text()[-4000:])


def restarted_later(folder: Path, tables: object, address: str,
                    seconds: float = 2.0
                    ) -> tuple[threading.Thread, dict[str, Server]]:
    """A thread that starts a plaintext server for `tables` on `address`
    after `seconds` (a server coming back after a restart); join it, then
    stop started["server"]."""
    started: dict[str, Server] = {}

    def start() -> None:
        time.sleep(seconds)
        started["server"] = Server(folder, {
            "IDEM_ALLOW_PLAINTEXT": "true", "IDEM_TABLES": str(tables),
            "IDEM_LISTEN": address})
    thread = threading.Thread(target=start)
    thread.start()
    return thread, started
