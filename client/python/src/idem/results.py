"""What calls answer: outcomes as enums, responses as small dataclasses.

The enum values are the proto's numbers, so `RowOutcome(n)` reads the wire.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
from typing import Any, Generic, Optional, TypeVar, Union

import grpc
from google.protobuf import timestamp_pb2

from idem._values import from_row
from idem.call_info import CallInfo, StopReason  # noqa: F401 (re-exported)
from idem.errors import Error, error_from_status
from idem.v1 import idem_pb2


class OnConflict(enum.Enum):
    DO_NOTHING = idem_pb2.ON_CONFLICT_DO_NOTHING
    DO_UPDATE = idem_pb2.ON_CONFLICT_DO_UPDATE


class RowOutcome(enum.Enum):
    UNSPECIFIED = idem_pb2.ROW_OUTCOME_UNSPECIFIED
    INSERTED = idem_pb2.ROW_OUTCOME_INSERTED    # the key was new
    DUPLICATE = idem_pb2.ROW_OUTCOME_DUPLICATE  # there, same values
    CONFLICT = idem_pb2.ROW_OUTCOME_CONFLICT    # there, other values; kept
    UPDATED = idem_pb2.ROW_OUTCOME_UPDATED      # DO_UPDATE replaced it
    STALE = idem_pb2.ROW_OUTCOME_STALE          # the version guard kept it


class UpdateOutcome(enum.Enum):
    UNSPECIFIED = idem_pb2.UPDATE_OUTCOME_UNSPECIFIED
    UPDATED = idem_pb2.UPDATE_OUTCOME_UPDATED
    UNCHANGED = idem_pb2.UPDATE_OUTCOME_UNCHANGED
    NOT_FOUND = idem_pb2.UPDATE_OUTCOME_NOT_FOUND
    STALE = idem_pb2.UPDATE_OUTCOME_STALE


class CopyOutcome(enum.Enum):
    UNSPECIFIED = idem_pb2.COPY_OUTCOME_UNSPECIFIED
    COPIED = idem_pb2.COPY_OUTCOME_COPIED
    UNCHANGED = idem_pb2.COPY_OUTCOME_UNCHANGED
    REPLACED = idem_pb2.COPY_OUTCOME_REPLACED


class KeyState(enum.Enum):
    UNSPECIFIED = idem_pb2.KEY_STATE_UNSPECIFIED
    ABSENT = idem_pb2.KEY_STATE_ABSENT
    IN_FLIGHT = idem_pb2.KEY_STATE_IN_FLIGHT
    FINISHED = idem_pb2.KEY_STATE_FINISHED
    EXPIRED = idem_pb2.KEY_STATE_EXPIRED


@dataclasses.dataclass(frozen=True)
class InsertResult:
    outcomes: tuple[RowOutcome, ...]  # one per row, in request order
    inserted: int
    duplicates: int
    conflicts: int
    updated: int
    stale: int
    # With returning=: per request row, those columns of the stored row.
    returned: tuple[dict[str, Any], ...]
    call: Optional[CallInfo] = None  # None for a step of a transaction


@dataclasses.dataclass(frozen=True)
class UpdateResult:
    outcome: UpdateOutcome
    call: Optional[CallInfo] = None  # None for a step of a transaction


@dataclasses.dataclass(frozen=True)
class CopyResult:
    outcome: CopyOutcome
    sha256: str  # of the destination's content, lower-case hex
    size_bytes: int
    backup_path: Optional[str]  # where the old destination went (REPLACED)
    call: Optional[CallInfo] = None


@dataclasses.dataclass(frozen=True)
class TransactionResult:
    results: tuple[Union[InsertResult, UpdateResult], ...]  # one per step
    call: Optional[CallInfo] = None


R = TypeVar("R")


@dataclasses.dataclass(frozen=True)
class Keyed(Generic[R]):
    """The answer of a call made under a key (`Client.exactly_once`)."""
    result: Optional[R]  # None only when answer_expired
    first_executed_at: Optional[datetime.datetime]
    expires_at: Optional[datetime.datetime]
    # The call ran long ago and only its fingerprint is remembered: nothing
    # ran now and the first answer is gone.
    answer_expired: bool
    call: CallInfo

    @property
    def replayed(self) -> bool:
        return self.call.replayed

    @property
    def key(self) -> str:
        return self.call.idempotency_key or ""


def _time(message: Any, field: str) -> Optional[datetime.datetime]:
    if not message.HasField(field):
        return None
    stamp: timestamp_pb2.Timestamp = getattr(message, field)
    return stamp.ToDatetime(tzinfo=datetime.timezone.utc)


def insert_result(response: idem_pb2.InsertResponse,
                  call: Optional[CallInfo] = None) -> InsertResult:
    return InsertResult(
        outcomes=tuple(RowOutcome(o) for o in response.outcomes),
        inserted=response.inserted, duplicates=response.duplicates,
        conflicts=response.conflicts, updated=response.updated,
        stale=response.stale,
        returned=tuple(from_row(row) for row in response.returned),
        call=call)


def update_result(response: idem_pb2.UpdateResponse,
                  call: Optional[CallInfo] = None) -> UpdateResult:
    return UpdateResult(outcome=UpdateOutcome(response.outcome), call=call)


def copy_result(response: idem_pb2.CopyFileResponse,
                call: Optional[CallInfo] = None) -> CopyResult:
    return CopyResult(outcome=CopyOutcome(response.outcome),
                      sha256=response.sha256, size_bytes=response.size_bytes,
                      backup_path=response.backup_path or None, call=call)


def transaction_result(response: idem_pb2.TransactionResponse,
                       call: Optional[CallInfo] = None) -> TransactionResult:
    def step(result: idem_pb2.StepResult) -> Union[InsertResult, UpdateResult]:
        if result.WhichOneof("result") == "insert":
            return insert_result(result.insert)
        return update_result(result.update)
    return TransactionResult(
        results=tuple(step(r) for r in response.results), call=call)


_KEYED_RESULTS = {"insert": insert_result, "update": update_result,
                  "copy_file": copy_result,
                  "transaction": transaction_result}


def keyed_inner(response: idem_pb2.KeyedCallResponse,
                call: CallInfo) -> Any:
    """The wrapped call's result, or None when the answer has expired."""
    kind = response.WhichOneof("result")
    return None if kind is None else _KEYED_RESULTS[kind](
        getattr(response, kind), call)


def keyed_answer(response: idem_pb2.KeyedCallResponse,
                 call: CallInfo) -> Any:
    """The wrapped call's result, for a call that returns it plainly (an
    auto-keyed write, a transaction): a key whose answer has expired ran
    before but cannot say what it answered, an error (DATA_LOSS), as in the
    C++ client."""
    result = keyed_inner(response, call)
    if result is not None:
        return result
    if response.answer_expired:
        raise Error("the call ran before under its key, but its answer has "
                    "expired", code=grpc.StatusCode.DATA_LOSS, replayed=True,
                    call=call)
    raise Error("the server answered the keyed call without its result",
                code=grpc.StatusCode.INTERNAL, call=call)


def keyed_result(response: idem_pb2.KeyedCallResponse,
                 call: CallInfo) -> Keyed[Any]:
    return Keyed(result=keyed_inner(response, call),
                 first_executed_at=_time(response, "first_executed_at"),
                 expires_at=_time(response, "expires_at"),
                 answer_expired=response.answer_expired, call=call)


@dataclasses.dataclass(frozen=True)
class KeyInfo:
    """GetKey: what the server holds under a key of the caller's tenant."""
    state: KeyState
    first_executed_at: Optional[datetime.datetime]
    # FINISHED: when the answer expires; IN_FLIGHT: when the lease lapses;
    # EXPIRED: when the tombstone goes.
    expires_at: Optional[datetime.datetime]
    fingerprint: str  # of the call made under the key, lower-case hex
    answer: Optional[Keyed[Any]]  # FINISHED with a stored success
    failure: Optional[Error]      # FINISHED with a stored failure


def key_info(response: idem_pb2.GetKeyResponse, call: CallInfo) -> KeyInfo:
    return KeyInfo(
        state=KeyState(response.state),
        first_executed_at=_time(response, "first_executed_at"),
        expires_at=_time(response, "expires_at"),
        fingerprint=response.fingerprint,
        answer=(keyed_result(response.answer,
                             dataclasses.replace(call, replayed=True))
            if response.HasField("answer") else None),
        failure=(error_from_status(response.failure)
                 if response.HasField("failure") else None))
