"""idem.Client: the blocking client (thread-safe; one per target)."""

from __future__ import annotations

import time
from typing import Any, Optional, Union

import grpc

from idem import _channel
from idem._plans import Plan
from idem._retry import RetryBudget, is_replayed
from idem._surface import Surface
from idem.options import TLS, RetryPolicy
from idem.v1 import idem_pb2_grpc


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

    def __init__(self, target: str, *, token: Optional[str] = None,
                 tls: Union[TLS, bool, None] = None,
                 retry: RetryPolicy = RetryPolicy(),
                 budget: Optional[RetryBudget] = None,
                 auto_keys: bool = True) -> None:
        super().__init__(token=token, retry=retry, budget=budget,
                         auto_keys=auto_keys)
        self._channel = _channel.open_channel(
            target, tls, grpc.insecure_channel, grpc.secure_channel)
        self._stub = idem_pb2_grpc.IdemServiceStub(self._channel)

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
                response, call = send(plan.request, timeout=attempt_timeout,
                                      metadata=metadata)
            except grpc.RpcError as error:
                time.sleep(attempts.failed(error))
            else:
                replayed = is_replayed(call.trailing_metadata(), response)
                return plan.convert(response, attempts.succeeded(replayed))
