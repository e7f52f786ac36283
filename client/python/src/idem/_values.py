"""Python values to and from idem.v1.Value.

The wire has six kinds (null, bool, int64, double, string, bytes); the server
casts a string to the column's type with PostgreSQL's input function. So
every Python type without a kind of its own travels as the text PostgreSQL
reads for it: datetimes and dates in ISO 8601, Decimal and UUID as str, dicts
and lists as JSON text (for json/jsonb columns, as idemctl sends them).
"""

from __future__ import annotations

import datetime
import decimal
import ipaddress
import json
import uuid
from typing import Any, Mapping

from idem.v1 import idem_pb2

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# Sent as str(value): PostgreSQL's input syntax for uuid, numeric, inet, cidr.
_AS_TEXT = (decimal.Decimal, uuid.UUID, ipaddress.IPv4Address,
            ipaddress.IPv6Address, ipaddress.IPv4Network,
            ipaddress.IPv6Network)


def to_value(value: Any) -> idem_pb2.Value:
    """One Python value as a Value; TypeError or ValueError when it has no
    faithful form."""
    if value is None:
        return idem_pb2.Value(null_value=0)
    if isinstance(value, bool):  # before int: a bool is an int in Python
        return idem_pb2.Value(bool_value=value)
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise ValueError(f"{value} does not fit int64; send "
                             "decimal.Decimal for a numeric column")
        return idem_pb2.Value(int_value=value)
    if isinstance(value, float):
        return idem_pb2.Value(double_value=value)
    if isinstance(value, str):
        return idem_pb2.Value(string_value=value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return idem_pb2.Value(bytes_value=bytes(value))
    # datetime before date: a datetime is a date in Python.
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return idem_pb2.Value(string_value=value.isoformat())
    if isinstance(value, _AS_TEXT):
        return idem_pb2.Value(string_value=str(value))
    if isinstance(value, (dict, list)):
        return idem_pb2.Value(string_value=json.dumps(value))
    raise TypeError(f"cannot send {type(value).__name__} {value!r}: use None, "
                    "bool, int, float, str, bytes, datetime, date, time, "
                    "Decimal, UUID, an ip address, a dict or a list")


def to_row(columns: Mapping[str, Any]) -> idem_pb2.Row:
    if not isinstance(columns, Mapping):
        raise TypeError(f"a row is a mapping of column to value, not "
                        f"{type(columns).__name__}")
    row = idem_pb2.Row()
    for name, value in columns.items():
        try:
            row.columns[name].CopyFrom(to_value(value))
        except (TypeError, ValueError) as error:
            raise type(error)(f"column {name!r}: {error}") from None
    return row


def from_value(value: idem_pb2.Value) -> Any:
    """A Value as the Python value of its kind (strings stay strings: the
    wire does not say which column type produced them)."""
    kind = value.WhichOneof("kind")
    if kind is None or kind == "null_value":
        return None
    return getattr(value, kind)


def from_row(row: idem_pb2.Row) -> dict[str, Any]:
    return {name: from_value(value) for name, value in row.columns.items()}
