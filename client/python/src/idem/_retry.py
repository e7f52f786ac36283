"""The retry discipline, free of I/O so that the sync and asyncio clients
share it: which failures are retried, how long to sleep (full jitter or the
server's pushback), the retry budget, and one logical call's attempts.
The C++ client's rules (client/src/retry_decision.cc) on the status code,
with one difference, on purpose and documented in docs/python.md: a call
sent without a key is never retried, even when the server's reason says it
did not run (the C++ client retries those).
"""

from __future__ import annotations

import dataclasses
import logging
import random
import threading
import time
from typing import Any, Callable, Iterable, Optional

import grpc

from idem.errors import StatusDetails, make_error, parse_trailers
from idem.options import RetryPolicy
from idem.call_info import CallInfo, StopReason

log = logging.getLogger("idem")

ATTEMPT_HEADER = "idem-attempt"

# Transient failures. DEADLINE_EXCEEDED counts only for one attempt: the
# overall deadline is checked separately.
RETRYABLE_CODES = frozenset({
    grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.ABORTED,
    grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.DEADLINE_EXCEEDED})


_TOGETHER = 0.1  # seconds: failures of one event arrive this close


class RetryBudget:
    """A token bucket shared by the calls of a Client (or of several, when
    passed to each), shaped like gRPC's retry throttling: a failed attempt
    with a transient code takes a token, a success returns token_ratio, and
    retries are allowed only while more than half the tokens are left. In
    an outage the Client soon sends each call once instead of multiplying
    the load on a struggling server. One failure that ends many calls at
    once (a dropped connection) takes one token, not one per call: else a
    single network blip with six calls in flight would use up the budget,
    and calls that committed would fail instead of being retried under
    their keys."""

    def __init__(self, max_tokens: float = 10, token_ratio: float = 0.1):
        self.max_tokens = max_tokens
        self.token_ratio = token_ratio
        self._tokens = max_tokens
        self._last_shared_charge = float("-inf")
        self._lock = threading.Lock()

    @property
    def tokens(self) -> float:
        with self._lock:
            return self._tokens

    def on_failure(self, shared_since: Optional[float] = None) -> bool:
        """Takes a token; True while a retry is still allowed.
        `shared_since`: for a failure shared by the attempts in flight with
        it (a dropped connection), when this attempt started
        (time.monotonic()); an attempt that started before the last shared
        failure was charged, failing within 0.1 s of that charge, is counted
        in that one and takes no token."""
        with self._lock:
            # One event ends its calls together: within a moment of the
            # charge; a later failure is one of its own.
            now = time.monotonic()
            if (shared_since is None
                    or shared_since >= self._last_shared_charge
                    or now - self._last_shared_charge > _TOGETHER):
                self._tokens = max(0.0, self._tokens - 1)
                if shared_since is not None:
                    self._last_shared_charge = now
            return self._tokens > self.max_tokens / 2

    def allows_retry(self) -> bool:
        """Whether a retry is allowed now, taking no token."""
        with self._lock:
            return self._tokens > self.max_tokens / 2

    def on_success(self) -> None:
        with self._lock:
            self._tokens = min(self.max_tokens,
                               self._tokens + self.token_ratio)


def backoff_ceiling(policy: RetryPolicy, retry: int) -> float:
    """The longest sleep before retry number `retry` (1-based)."""
    try:
        growth = policy.multiplier ** max(0, retry - 1)
        ceiling = policy.initial_backoff * growth
    except OverflowError:
        return policy.max_backoff
    return max(0.0, min(policy.max_backoff, ceiling))


@dataclasses.dataclass(frozen=True)
class Pushback:
    """The server's word on retrying: a delay, or a refusal (a negative or
    unreadable grpc-retry-pushback-ms). RetryInfo wins over the header."""
    delay: Optional[float] = None
    refuses: bool = False

    @classmethod
    def of(cls, details: StatusDetails) -> Pushback:
        if details.retry_info_delay is not None:
            return cls(delay=max(0.0, details.retry_info_delay))
        if details.pushback is None:
            return cls()
        try:
            ms = int(details.pushback)
        except ValueError:
            return cls(refuses=True)
        return cls(refuses=True) if ms < 0 else cls(delay=ms / 1000)


# gRPC's words for a call its transport reset with ENHANCE_YOUR_CALM, the
# same in every gRPC since long before 1.51: it names no other reason.
TRANSPORT_RESET = "Received RST_STREAM with error code 11"


@dataclasses.dataclass(frozen=True)
class Decision:
    retry: bool
    sleep: float = 0.0
    stop_reason: StopReason = StopReason.SUCCEEDED


def decide(code: grpc.StatusCode, pushback: Pushback, *, retryable_call: bool,
           attempts_done: int, now: float, deadline: float,
           policy: RetryPolicy, budget: RetryBudget,
           jitter: float, shared_since: Optional[float] = None,
           without_connection: bool = False,
           reset_by_transport: bool = False) -> Decision:
    """After a failed attempt: sleep and try again, or stop (and why).
    `jitter` is uniform in [0, 1). The budget is charged for every
    transient failure, retried or not, so that failures of calls that may
    not be retried still throttle those that may; once for a failure shared
    by the attempts in flight together (`shared_since`: when this attempt
    started; see RetryBudget.on_failure); not at all for a failure
    `without_connection`: it reached no server, and its retry waits for the
    connection, so retrying adds no load to a server and calls made while
    one restarts keep their retries. `reset_by_transport`: gRPC's
    transport reset the call (ENHANCE_YOUR_CALM), as a server does while
    its memory quota is spent; it passes, but the call may have run."""
    if code not in RETRYABLE_CODES:
        return Decision(False, stop_reason=StopReason.NOT_RETRYABLE)
    # idem sends a delay with every overload answer: RESOURCE_EXHAUSTED
    # without one (a message over gRPC's size limit, a full disk) is a
    # refusal that no retry mends, unless the transport reset the call.
    if (code == grpc.StatusCode.RESOURCE_EXHAUSTED and pushback.delay is None
            and not pushback.refuses and not reset_by_transport):
        return Decision(False, stop_reason=StopReason.NOT_RETRYABLE)
    budget_left = (budget.allows_retry() if without_connection
                   else budget.on_failure(shared_since))
    # Retries off: that, not the call's kind, is why it stops.
    if policy.max_attempts <= 1:
        return Decision(False, stop_reason=StopReason.MAX_ATTEMPTS)
    if not retryable_call:
        return Decision(False, stop_reason=StopReason.NOT_IDEMPOTENT)
    if now >= deadline:
        return Decision(False, stop_reason=StopReason.DEADLINE)
    if attempts_done >= policy.max_attempts:
        return Decision(False, stop_reason=StopReason.MAX_ATTEMPTS)
    if pushback.refuses:
        return Decision(False, stop_reason=StopReason.PUSHBACK_REFUSAL)
    if not budget_left:
        return Decision(False, stop_reason=StopReason.RETRY_BUDGET)
    sleep = (pushback.delay if pushback.delay is not None
             else backoff_ceiling(policy, attempts_done) * jitter)
    # A sleep up to the deadline would buy an attempt with no time to run:
    # stop now with the last real answer.
    if now + sleep >= deadline:
        return Decision(False, stop_reason=StopReason.DEADLINE)
    return Decision(True, sleep=sleep)


class Attempts:
    """One logical call's attempts. The sync and asyncio clients loop:

        timeout, metadata = attempts.next()
        send; then attempts.succeeded(replayed) or sleep(attempts.failed(e))

    Every attempt sends the same request, so a keyed call keeps its key.
    """

    def __init__(self, *, method: str, key: Optional[str], retryable: bool,
                 policy: RetryPolicy, budget: RetryBudget,
                 token: Optional[str], timeout: Optional[float],
                 connected: Callable[[], bool]) -> None:
        self._method = method
        self._connected = connected
        self._key = key
        self._retryable = retryable
        self._policy = policy
        self._budget = budget
        self._token = token
        self._deadline = time.monotonic() + (
            policy.total_timeout if timeout is None else timeout)
        self._started = 0.0  # of the latest attempt
        self._connected_at_send = False  # of the latest attempt
        # The first UNAVAILABLE from gRPC itself (no reason of idem's).
        self._first_connect_failure: Optional[str] = None
        self.count = 0

    @property
    def waits_for_ready(self) -> bool:
        """Whether this attempt waits for the channel to connect (gRPC's
        wait_for_ready), up to its deadline, rather than fail at once while
        gRPC waits to reconnect: a retry does, so that a call rides through
        a restart of its server; the first attempt fails fast."""
        return self.count > 1

    def next(self) -> tuple[float, list[tuple[str, str]]]:
        """The next attempt's timeout (seconds) and metadata; raises the
        call's DeadlineExceededError, sending nothing, when the call's time
        is spent (a `timeout` of 0 or less: a caller's own deadline passed)."""
        left = self._deadline - time.monotonic()
        if left <= 0:
            info = CallInfo(attempts=self.count, idempotency_key=self._key,
                            replayed=False, stop_reason=StopReason.DEADLINE)
            message = ("the call's time was spent before its first "
                       "attempt: nothing was sent" if self.count == 0 else
                       "the call's deadline passed before its next attempt")
            raise make_error(grpc.StatusCode.DEADLINE_EXCEEDED, message,
                             StatusDetails(), info, None)
        self.count += 1
        self._started = time.monotonic()
        self._connected_at_send = self._connected()
        timeout = min(self._policy.per_attempt_timeout, left)
        metadata = [(ATTEMPT_HEADER, str(self.count))]
        if self._token:
            metadata.append(("authorization", f"Bearer {self._token}"))
        return timeout, metadata

    def succeeded(self, replayed: bool) -> CallInfo:
        self._budget.on_success()
        return CallInfo(attempts=self.count, idempotency_key=self._key,
                        replayed=replayed, stop_reason=StopReason.SUCCEEDED)

    def failed(self, error: Any) -> float:
        """After an attempt failed with `error` (a grpc.RpcError or
        grpc.aio.AioRpcError): the sleep before the next attempt; raises the
        call's idem.Error when there is none."""
        code, message = error.code(), error.details()
        details = parse_trailers(error.trailing_metadata())
        # gRPC's own failure while the channel had no connection, when the
        # attempt was sent and still: a connection that dropped under it
        # is not "no connection", though gRPC may already say unconnected.
        unconnected = (details.reason is None and not self._connected_at_send
                       and not self._connected())
        if (self._first_connect_failure is None and details.reason is None
                and code == grpc.StatusCode.UNAVAILABLE):
            self._first_connect_failure = message
        if (code == grpc.StatusCode.DEADLINE_EXCEEDED and self.waits_for_ready
                and unconnected):
            # A retry that waited for a connection that never came reached
            # no server: DEADLINE_EXCEEDED would say one was too slow.
            code = grpc.StatusCode.UNAVAILABLE
            message = ("no connection to the server within the attempt's "
                       f"deadline ({message})")
        pushback = Pushback.of(details)
        # UNAVAILABLE from gRPC itself, without idem's details: the
        # connection dropped, under every call in flight on it.
        dropped = (code == grpc.StatusCode.UNAVAILABLE
                   and details.reason is None)
        decision = decide(code, pushback, retryable_call=self._retryable,
                          attempts_done=self.count, now=time.monotonic(),
                          deadline=self._deadline, policy=self._policy,
                          budget=self._budget, jitter=random.random(),
                          shared_since=self._started if dropped else None,
                          without_connection=dropped and unconnected,
                          reset_by_transport=(
                              details.reason is None
                              and TRANSPORT_RESET in (message or "")))
        if decision.retry:
            log.debug("idem %s attempt %d: %s (%s); retrying in %.3f s",
                      self._method, self.count, code.name, message,
                      decision.sleep)
            return decision.sleep
        if (unconnected and self._first_connect_failure
                and self._first_connect_failure != message):
            # A retry that waited for a connection says only that none
            # came; the first failure to connect says why (refused, a TLS
            # mistake, a wrong name), which the caller needs.
            message = (f"{message}; the first attempt: "
                       f"{self._first_connect_failure}")
        info = CallInfo(attempts=self.count, idempotency_key=self._key,
                        replayed=details.replayed,
                        stop_reason=decision.stop_reason)
        raise make_error(code, message or "", details, info,
                         pushback.delay) from error


def is_replayed(trailers: Optional[Iterable[tuple[str, Any]]],
                response: Any) -> bool:
    """A stored answer: the trailer, or KeyedCallResponse.replayed."""
    return (parse_trailers(trailers).replayed
            or bool(getattr(response, "replayed", False)))

