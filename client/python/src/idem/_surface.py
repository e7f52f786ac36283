"""The calls of idem.Client and idem.aio.Client, written once.

Each method builds a plan (_plans) and hands it to the client's `_run`,
which sends it with retries: the sync client's `_run` returns the result,
the asyncio client's returns a coroutine, so `await client.insert(...)`
works there with the same arguments. Return annotations name the result of
the sync client; the asyncio client's methods return awaitables of them,
which idem/aio.pyi declares to type checkers (tests/python/test_aio.py
keeps it in step with this file).
"""

from __future__ import annotations

import datetime
from typing import Any, Callable, Optional, Sequence, Tuple, Union

from idem import _channel, _plans
from idem._retry import Attempts, RetryBudget
from idem.operations import (Insert, Row, Update, copy_file_request,
                             transaction_request)
from idem.options import TLS, RetryPolicy
from idem.v1 import idem_pb2_grpc
from idem.results import (CopyResult, InsertResult, KeyInfo, Keyed,
                          OnConflict, TransactionResult, UpdateResult)


def _checked_token(token: Optional[str]) -> Optional[str]:
    """`token` if it can travel in the authorization header: visible ASCII
    without spaces, as bearer tokens are. Refused here, not by gRPC at the
    first call, whose error would print the token in clear."""
    if token is None or token == "":
        return None
    if not isinstance(token, str):
        raise TypeError("token must be a str")
    if not all("!" <= c <= "~" for c in token):
        raise ValueError(
            "token holds a space, a control character or a non-ASCII "
            "character, which a header cannot carry (one read from a file "
            "may end in a newline: strip it)")
    return token


class Surface:
    """The calls, the retry settings and the channel; a client adds `_run`,
    which sends a plan through the channel with the attempts from
    `_attempts`, and names its gRPC flavour's channel makers."""

    # (insecure_channel, secure_channel) of grpc or of grpc.aio.
    _channel_makers: Tuple[Callable[..., Any], Callable[..., Any]]

    def __init__(self, target: str, *, token: Optional[str] = None,
                 tls: Union[TLS, bool, None] = None,
                 retry: RetryPolicy = RetryPolicy(),
                 budget: Optional[RetryBudget] = None,
                 auto_keys: bool = True) -> None:
        self._token = _checked_token(token)
        self._policy = retry
        self._budget = budget or RetryBudget()
        self._auto_keys = auto_keys
        insecure, secure = self._channel_makers
        self._channel = _channel.open_channel(target, tls, insecure, secure)
        self._stub = idem_pb2_grpc.IdemServiceStub(self._channel)

    def _run(self, plan: _plans.Plan, timeout: Optional[float]) -> Any:
        raise NotImplementedError

    def _connected(self) -> bool:
        """Whether the channel is connected now (READY)."""
        raise NotImplementedError

    def _attempts(self, plan: _plans.Plan, timeout: Optional[float]
                  ) -> Attempts:
        return Attempts(method=plan.method, key=plan.key,
                        retryable=plan.retryable, policy=self._policy,
                        budget=self._budget, token=self._token,
                        timeout=timeout, connected=self._connected)

    def _write_plan(self, kind: str, request: Any) -> _plans.Plan:
        # Auto-keys go with retries: a call sent once needs no key.
        auto = self._auto_keys and self._policy.max_attempts > 1
        return _plans.write(kind, request, auto)

    def insert(self, table: str, rows: Sequence[Row], *,
               on_conflict: OnConflict = OnConflict.DO_NOTHING,
               version_column: Optional[str] = None,
               returning: Sequence[str] = (),
               timeout: Optional[float] = None) -> InsertResult:
        """Inserts rows (dicts of column to value), all or none; one
        outcome per row. `timeout`: seconds for the whole call, retries
        included (default: the policy's total_timeout)."""
        request = Insert(table, rows, on_conflict, version_column,
                         returning).to_proto()
        return self._run(self._write_plan("insert", request), timeout)

    def update(self, table: str, key: Row, *, set: Optional[Row] = None,
               increment: Optional[Row] = None,
               version_column: Optional[str] = None,
               timeout: Optional[float] = None) -> UpdateResult:
        """Updates the row whose primary key is `key`."""
        request = Update(table, key, set, increment,
                         version_column).to_proto()
        return self._run(self._write_plan("update", request), timeout)

    def copy_file(self, source: str, destination: str, *,
                  timeout: Optional[float] = None) -> CopyResult:
        """Copies a file inside the server's storage root; a different old
        destination is kept as a backup (CopyResult.backup_path)."""
        request = copy_file_request(source, destination)
        return self._run(self._write_plan("copy_file", request), timeout)

    def transaction(self, steps: Sequence[Insert | Update], *,
                    timeout: Optional[float] = None) -> TransactionResult:
        """Runs idem.Insert and idem.Update steps in one PostgreSQL
        transaction under a key of its own: all commit or none does."""
        return self._run(_plans.transaction(transaction_request(steps)),
                         timeout)

    def exactly_once(self, key: Optional[str] = None, *,
                     retention: Optional[datetime.timedelta] = None
                     ) -> ExactlyOnce:
        """Calls under your key (a new random one when None): the first
        call under it runs, every repeat, from any process, gets its
        answer. Use one key per logical operation, e.g. your message id.
        An empty key is refused (InvalidArgumentError, KEY_INVALID), never
        replaced: a message id that is missing must not turn exactly-once
        off without a word.
        `retention`: how long the server keeps the answer (1 minute to its
        IDEM_MAX_KEY_RETENTION; default its IDEM_KEY_RETENTION)."""
        return ExactlyOnce(self, _plans.new_key() if key is None else key,
                           retention)

    def get_key(self, key: str, *,
                timeout: Optional[float] = None) -> KeyInfo:
        """What the server holds under `key`; runs nothing."""
        return self._run(_plans.get_key(key), timeout)

    def forget_key(self, key: str, *, timeout: Optional[float] = None) -> bool:
        """Removes a finished key so that its next call runs again. True if
        this call removed it. Not retried (a repeat would answer False)."""
        return self._run(_plans.forget_key(key), timeout)


class ExactlyOnce:
    """Calls under one idempotency key (Client.exactly_once). Each method
    answers results.Keyed: the result, replayed, first_executed_at,
    expires_at. A different call under the same key is refused
    (FailedPreconditionError, reason KEY_MISMATCH)."""

    def __init__(self, client: Surface, key: str,
                 retention: Optional[datetime.timedelta]) -> None:
        self._client = client
        self.key = key
        self.retention = retention

    def _send(self, kind: str, request: Any, timeout: Optional[float]) -> Any:
        plan = _plans.keyed(kind, request, self.key, self.retention)
        return self._client._run(plan, timeout)  # noqa: SLF001 - same package

    def insert(self, table: str, rows: Sequence[Row], *,
               on_conflict: OnConflict = OnConflict.DO_NOTHING,
               version_column: Optional[str] = None,
               returning: Sequence[str] = (),
               timeout: Optional[float] = None) -> Keyed[InsertResult]:
        request = Insert(table, rows, on_conflict, version_column,
                         returning).to_proto()
        return self._send("insert", request, timeout)

    def update(self, table: str, key: Row, *, set: Optional[Row] = None,
               increment: Optional[Row] = None,
               version_column: Optional[str] = None,
               timeout: Optional[float] = None) -> Keyed[UpdateResult]:
        request = Update(table, key, set, increment,
                         version_column).to_proto()
        return self._send("update", request, timeout)

    def copy_file(self, source: str, destination: str, *,
                  timeout: Optional[float] = None) -> Keyed[CopyResult]:
        return self._send("copy_file", copy_file_request(source, destination),
                          timeout)

    def transaction(self, steps: Sequence[Insert | Update], *,
                    timeout: Optional[float] = None
                    ) -> Keyed[TransactionResult]:
        return self._send("transaction", transaction_request(steps), timeout)
