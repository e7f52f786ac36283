"""What one logical call sends and how its answer is read, decided once
and shared by the sync and asyncio clients.

Auto-keys: a write that the client may retry travels as a KeyedCall under a
key made here, once per logical call, so that every attempt carries it and
a retry after a lost answer gets the first answer back. A write sent without
a key is never retried: a repeat of a plain Insert answers DUPLICATE for the
caller's own row, of a set-only Update UNCHANGED, of a CopyFile UNCHANGED
(and loses the backup path): safe for the data, but no longer the answer
the caller needs (docs/python.md, "What is retried").
"""

from __future__ import annotations

import dataclasses
import datetime
import uuid
from typing import Any, Callable, Optional

from google.protobuf.message import Message

from idem import results
from idem.call_info import CallInfo
from idem.v1 import idem_pb2

_PLAIN = {"insert": ("Insert", results.insert_result),
          "update": ("Update", results.update_result),
          "copy_file": ("CopyFile", results.copy_result)}


@dataclasses.dataclass(frozen=True)
class Plan:
    method: str       # the IdemService method
    request: Message  # sent unchanged on every attempt
    key: Optional[str]
    retryable: bool   # a repeat is safe and answers as the first would
    convert: Callable[[Any, CallInfo], Any]


def new_key() -> str:
    return f"auto-{uuid.uuid4()}"


def keyed_request(kind: str, request: Message, key: str,
                  retention: Optional[datetime.timedelta] = None
                  ) -> idem_pb2.KeyedCallRequest:
    keyed = idem_pb2.KeyedCallRequest(idempotency_key=key, **{kind: request})
    if retention is not None:
        keyed.retention.FromTimedelta(retention)
    return keyed


def write(kind: str, request: Message, auto_key: bool) -> Plan:
    """insert, update, copy_file or transaction, answering the plain result."""
    if auto_key:
        key = new_key()
        return Plan("KeyedCall", keyed_request(kind, request, key), key,
                    retryable=True, convert=results.keyed_answer)
    method, convert = _PLAIN[kind]
    return Plan(method, request, None, retryable=False, convert=convert)


def transaction(request: idem_pb2.TransactionRequest) -> Plan:
    """A transaction exists only under a key: it always gets one."""
    return write("transaction", request, auto_key=True)


def keyed(kind: str, request: Message, key: str,
          retention: Optional[datetime.timedelta]) -> Plan:
    """Under the caller's key, answering results.Keyed."""
    return Plan("KeyedCall", keyed_request(kind, request, key, retention),
                key, retryable=True, convert=results.keyed_result)


def get_key(key: str) -> Plan:
    return Plan("GetKey", idem_pb2.GetKeyRequest(idempotency_key=key), key,
                retryable=True, convert=results.key_info)


def forget_key(key: str) -> Plan:
    # Not retried: after a lost answer, a repeat says forgotten=False.
    return Plan("ForgetKey", idem_pb2.ForgetKeyRequest(idempotency_key=key),
                key, retryable=False,
                convert=lambda response, call: response.forgotten)
