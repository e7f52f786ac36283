"""idem.Client: the blocking client (thread-safe; one per target)."""

from __future__ import annotations

import time
from typing import Any, Optional

import grpc

from idem._plans import Plan
from idem._retry import is_replayed
from idem._surface import Surface


# The core's number for READY (grpc.ChannelConnectivity.READY's first value).
_READY = grpc.ChannelConnectivity.READY.value[0]


class Client(Surface):
    """A connection to an idem server that retries safely.

        with idem.Client("idem:50051", token=..., tls=idem.TLS(...)) as c:
            c.insert("orders", [{"id": 1, "total": Decimal("9.50")}])

    token: bearer token sent with every call; tls: idem.TLS, True (system
    roots) or None (plaintext); retry: idem.RetryPolicy; budget: a
    RetryBudget (a new one per Client by default; pass one to share it);
    auto_keys: send writes as KeyedCalls under a key made per logical call,
    so that retries are safe and answer as the first attempt (default).
    """

    _channel_makers = (grpc.insecure_channel, grpc.secure_channel)

    def __init__(self, target: str, **settings: Any) -> None:
        super().__init__(target, **settings)
        # grpc's blocking channel tells its state in public only to
        # subscribers, whose callbacks can lag a dropped connection by a
        # retry's backoff; its core channel answers at once, as grpc.aio's
        # get_state does. Without it, every failure reads as unconnected.
        core = getattr(self._channel, "_channel", None)
        self._check_state = getattr(core, "check_connectivity_state", None)

    def _connected(self) -> bool:
        return (self._check_state is not None
                and self._check_state(False) == _READY)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def _run(self, plan: Plan, timeout: Optional[float]) -> Any:
        attempts = self._attempts(plan, timeout)
        send = getattr(self._stub, plan.method).with_call
        while True:
            attempt_timeout, metadata = attempts.next()
            try:
                response, call = send(
                    plan.request, timeout=attempt_timeout, metadata=metadata,
                    wait_for_ready=attempts.waits_for_ready)
            except grpc.RpcError as error:
                time.sleep(attempts.failed(error))
            else:
                replayed = is_replayed(call.trailing_metadata(), response)
                return plan.convert(response, attempts.succeeded(replayed))
