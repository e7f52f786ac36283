"""idem: exactly-once data operations on PostgreSQL, from Python.

    import idem

    with idem.Client("127.0.0.1:50051") as client:
        result = client.insert("example_table", [{"id": 1, "name": "a"}])
        result.outcomes            # (RowOutcome.INSERTED,)
        once = client.exactly_once("payment-8731")
        once.update("accounts", {"id": 1}, increment={"balance": 10})

`idem.aio.Client` is the asyncio twin. Guide: docs/python.md.
"""

from idem.client import Client
from idem.errors import (AbortedError, DeadlineExceededError, Error,
                         FailedPreconditionError, InvalidArgumentError,
                         NotFoundError, PermissionDeniedError,
                         ResourceExhaustedError, UnauthenticatedError,
                         UnavailableError)
from idem.operations import Insert, Update
from idem.options import TLS, RetryPolicy
from idem._retry import RetryBudget
from idem._surface import ExactlyOnce
from idem.results import (CallInfo, CopyOutcome, CopyResult, InsertResult,
                          KeyInfo, KeyState, Keyed, OnConflict, RowOutcome,
                          StopReason, TransactionResult, UpdateOutcome,
                          UpdateResult)

__all__ = [
    "AbortedError", "CallInfo", "Client", "CopyOutcome", "CopyResult",
    "DeadlineExceededError", "Error", "ExactlyOnce",
    "FailedPreconditionError", "Insert", "InsertResult",
    "InvalidArgumentError", "KeyInfo", "KeyState", "Keyed", "NotFoundError",
    "OnConflict", "PermissionDeniedError", "ResourceExhaustedError",
    "RetryBudget", "RetryPolicy", "RowOutcome", "StopReason", "TLS",
    "TransactionResult", "UnauthenticatedError", "UnavailableError",
    "Update", "UpdateOutcome", "UpdateResult",
]
