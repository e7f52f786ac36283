"""idem.aio.Client: the asyncio client (grpc.aio), with the surface and
retry discipline of idem.Client: every method is a coroutine.

    async with idem.aio.Client("idem:50051") as client:
        result = await client.insert("orders", [{"id": 1}])
"""

from __future__ import annotations

import asyncio
from typing import Any, Optional

import grpc
import grpc.aio

from idem._plans import Plan
from idem._retry import is_replayed
from idem._surface import ExactlyOnce, Surface

__all__ = ["Client", "ExactlyOnce"]


def _cancelled_by_its_caller() -> bool:
    """Whether the running task itself is being cancelled (task.cancel()),
    rather than the gRPC call it awaits."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class Client(Surface):
    """As idem.Client (same arguments); create and use it inside the event
    loop that runs its calls."""

    _channel_makers = (grpc.aio.insecure_channel, grpc.aio.secure_channel)

    def _connected(self) -> bool:
        return (self._channel.get_state()
                == grpc.ChannelConnectivity.READY)

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
                        metadata=metadata,
                        wait_for_ready=attempts.waits_for_ready)
            try:
                response = await call
            except grpc.aio.AioRpcError as error:
                await asyncio.sleep(attempts.failed(error))
            except asyncio.CancelledError:
                if _cancelled_by_its_caller():
                    raise
                # close() ended the channel under the call: CANCELLED, as
                # the sync client's call ends, not a cancellation of a task
                # that nobody cancelled.
                await asyncio.sleep(attempts.failed(grpc.aio.AioRpcError(
                    grpc.StatusCode.CANCELLED, grpc.aio.Metadata(),
                    grpc.aio.Metadata(),
                    "the client was closed while the call was in flight")))
            else:
                replayed = is_replayed(await call.trailing_metadata(),
                                       response)
                return plan.convert(response, attempts.succeeded(replayed))
