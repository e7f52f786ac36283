"""Failures as exceptions: one class per gRPC status code, each carrying
the server's ErrorInfo (reason, metadata) when it sent one.

The server puts a google.rpc.Status in the `grpc-status-details-bin` trailer
(brief §8.1): ErrorInfo{domain "idem", reason, metadata} and, when a retry
after a delay is right, RetryInfo. An older server sends only the code and
`grpc-retry-pushback-ms`: then `reason` is None and `metadata` empty, and the
class (the code) still tells what kind of failure it is.
"""

from __future__ import annotations

import dataclasses
from typing import Iterable, Optional

import grpc
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2

from idem.call_info import CallInfo

DETAILS_TRAILER = "grpc-status-details-bin"
PUSHBACK_TRAILER = "grpc-retry-pushback-ms"
REPLAYED_TRAILER = "idempotent-replayed"
DOMAIN = "idem"

_CODES = {code.value[0]: code for code in grpc.StatusCode}


class Error(Exception):
    """A call that did not succeed.

    code: the grpc.StatusCode; message: the server's text; reason and
    metadata: from ErrorInfo (e.g. "KEY_MISMATCH", {"table": ...}); replayed:
    a stored failure answered again under its key; retry_delay: seconds the
    server asked to wait (RetryInfo or pushback); call: attempts made and
    why the client stopped (None for a failure read from GetKey).
    """

    code = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str, *, code: Optional[grpc.StatusCode] = None,
                 reason: Optional[str] = None,
                 metadata: Optional[dict[str, str]] = None,
                 retry_delay: Optional[float] = None, replayed: bool = False,
                 call: Optional[CallInfo] = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.reason = reason
        self.metadata = dict(metadata or {})
        self.retry_delay = retry_delay
        self.replayed = replayed
        self.call = call

    def __str__(self) -> str:
        reason = f" [{self.reason}]" if self.reason else ""
        return f"{self.code.name}{reason}: {self.message}"


class InvalidArgumentError(Error):
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFoundError(Error):
    code = grpc.StatusCode.NOT_FOUND


class PermissionDeniedError(Error):
    code = grpc.StatusCode.PERMISSION_DENIED


class UnauthenticatedError(Error):
    code = grpc.StatusCode.UNAUTHENTICATED


class FailedPreconditionError(Error):
    """KEY_MISMATCH, CONSTRAINT_VIOLATED, STEP_NOT_APPLIED, ..."""
    code = grpc.StatusCode.FAILED_PRECONDITION


class AbortedError(Error):
    """KEY_IN_FLIGHT or ROW_LOCKED after the client's attempts ran out."""
    code = grpc.StatusCode.ABORTED


class UnavailableError(Error):
    code = grpc.StatusCode.UNAVAILABLE


class ResourceExhaustedError(Error):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class DeadlineExceededError(Error):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


_CLASSES = {cls.code: cls for cls in (
    InvalidArgumentError, NotFoundError, PermissionDeniedError,
    UnauthenticatedError, FailedPreconditionError, AbortedError,
    UnavailableError, ResourceExhaustedError, DeadlineExceededError)}


@dataclasses.dataclass(frozen=True)
class StatusDetails:
    """What a failed attempt said beyond its code and message."""
    reason: Optional[str] = None
    metadata: dict[str, str] = dataclasses.field(default_factory=dict)
    retry_info_delay: Optional[float] = None  # RetryInfo, seconds
    pushback: Optional[str] = None  # the raw grpc-retry-pushback-ms value
    replayed: bool = False


def _details_of(status: status_pb2.Status) -> StatusDetails:
    """idem's ErrorInfo (the first of domain "idem": a proxy's reason is
    not idem's) and the first RetryInfo of a google.rpc.Status."""
    info, delay = None, None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            candidate = error_details_pb2.ErrorInfo()
            detail.Unpack(candidate)
            if candidate.domain == DOMAIN and info is None:
                info = candidate
        elif (detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR)
              and delay is None):
            retry = error_details_pb2.RetryInfo()
            detail.Unpack(retry)
            delay = retry.retry_delay.ToTimedelta().total_seconds()
    return StatusDetails(reason=info.reason if info else None,
                         metadata=dict(info.metadata) if info else {},
                         retry_info_delay=delay)


def parse_trailers(trailers: Optional[Iterable[tuple[str, object]]]
                   ) -> StatusDetails:
    """Reads a failed attempt's trailing metadata. An unreadable details
    trailer is ignored: the code alone still decides."""
    trailer: dict[str, object] = {}
    for key, value in trailers or ():
        trailer.setdefault(key, value)
    details = StatusDetails()
    raw = trailer.get(DETAILS_TRAILER)
    if isinstance(raw, bytes):
        try:
            details = _details_of(status_pb2.Status.FromString(raw))
        except DecodeError:
            pass
    pushback = trailer.get(PUSHBACK_TRAILER)
    return dataclasses.replace(
        details, pushback=pushback if isinstance(pushback, str) else None,
        replayed=trailer.get(REPLAYED_TRAILER) == "true")


def make_error(code: grpc.StatusCode, message: str, details: StatusDetails,
               call: Optional[CallInfo],
               retry_delay: Optional[float]) -> Error:
    cls = _CLASSES.get(code, Error)
    return cls(message, code=code, reason=details.reason,
               metadata=details.metadata, retry_delay=retry_delay,
               replayed=details.replayed, call=call)


def error_from_status(status: status_pb2.Status) -> Error:
    """A failure stored under a key (GetKeyResponse.failure)."""
    details = dataclasses.replace(_details_of(status), replayed=True)
    code = _CODES.get(status.code, grpc.StatusCode.UNKNOWN)
    return make_error(code, status.message, details, None,
                      details.retry_info_delay)
