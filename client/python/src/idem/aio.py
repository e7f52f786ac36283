"""idem.aio.Client: the asyncio client (grpc.aio), with the surface and
retry discipline of idem.Client: every method is a coroutine.

    async with idem.aio.Client("idem:50051") as client:
        result = await client.insert("orders", [{"id": 1}])
"""

from __future__ import annotations

import asyncio
from typing import Any, Optional, Union

import grpc
import grpc.aio

from idem import _channel
from idem._plans import Plan
from idem._retry import RetryBudget, is_replayed
from idem._surface import Surface
from idem.options import TLS, RetryPolicy
from idem.v1 import idem_pb2_grpc


class Client(Surface):
    """As idem.Client (same arguments); create and use it inside the event
    loop that runs its calls."""

    def __init__(self, target: str, *, token: Optional[str] = None,
                 tls: Union[TLS, bool, None] = None,
                 retry: RetryPolicy = RetryPolicy(),
                 budget: Optional[RetryBudget] = None,
                 auto_keys: bool = True) -> None:
        super().__init__(token=token, retry=retry, budget=budget,
                         auto_keys=auto_keys)
        self._channel = _channel.open_channel(
            target, tls, grpc.aio.insecure_channel, grpc.aio.secure_channel)
        self._stub = idem_pb2_grpc.IdemServiceStub(self._channel)

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._channel.close()

    async def _run(self, plan: Plan, timeout: Optional[float]) -> Any:
        attempts = self._attempts(plan, timeout)
        send = getattr(self._stub, plan.method)
        while True:
            attempt_timeout, metadata = attempts.next()
            call = send(plan.request, timeout=attempt_timeout,
                        metadata=metadata)
            try:
                response = await call
            except grpc.aio.AioRpcError as error:
                await asyncio.sleep(attempts.failed(error))
            else:
                replayed = is_replayed(await call.trailing_metadata(),
                                       response)
                return plan.convert(response, attempts.succeeded(replayed))
