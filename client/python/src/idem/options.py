"""Client settings: TLS and the retry discipline (docs/python.md)."""

from __future__ import annotations

import dataclasses
from typing import Optional


@dataclasses.dataclass(frozen=True)
class TLS:
    """TLS to the server, as the C++ client's TlsOptions.

    ca_file: PEM of the CA that signed the server (None: the system's
    roots); cert_file and key_file: the client's certificate and key for
    mutual TLS (both or neither); server_name: the name to verify instead of
    the target's host.
    """
    ca_file: Optional[str] = None
    cert_file: Optional[str] = None
    key_file: Optional[str] = None
    server_name: Optional[str] = None

    def __post_init__(self) -> None:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError(
                "a client certificate needs its key and a key its certificate")


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """When and how often a call is attempted again (seconds).

    The sleep before retry n is uniform in
    [0, min(max_backoff, initial_backoff * multiplier**(n-1))] (full
    jitter), unless the server said how long to wait. Each attempt's
    deadline is min(now + per_attempt_timeout, start + total_timeout).
    max_attempts=1 turns retries off, and with them auto-keys.
    """
    max_attempts: int = 5
    total_timeout: float = 30.0
    per_attempt_timeout: float = 10.0
    initial_backoff: float = 0.05
    max_backoff: float = 5.0
    multiplier: float = 2.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.total_timeout <= 0 or self.per_attempt_timeout <= 0:
            raise ValueError("timeouts must be positive")
