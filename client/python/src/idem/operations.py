"""Writes described as values: the steps of a transaction, and what the
client methods build from their arguments."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Optional, Sequence

from idem._values import to_row
from idem.results import OnConflict
from idem.v1 import idem_pb2

Row = Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class Insert:
    """Rows into a table with INSERT ... ON CONFLICT.

    version_column: with DO_UPDATE, a stored row is replaced only when the
    incoming value of this column is greater. returning: columns of the
    stored row to answer for every request row. require_applied (transaction
    steps only): every row must be INSERTED or UPDATED, else the whole
    transaction rolls back.
    """
    table: str
    rows: Sequence[Row]
    on_conflict: OnConflict = OnConflict.DO_NOTHING
    version_column: Optional[str] = None
    returning: Sequence[str] = ()
    require_applied: bool = False

    def to_proto(self) -> idem_pb2.InsertRequest:
        if isinstance(self.rows, Mapping):
            raise TypeError("rows is a sequence of mappings; wrap one row in "
                            "a list")
        return idem_pb2.InsertRequest(
            table=self.table, rows=[to_row(row) for row in self.rows],
            on_conflict=OnConflict(self.on_conflict).value,
            version_column=self.version_column or "",
            returning=list(self.returning))


@dataclasses.dataclass(frozen=True)
class Update:
    """One row by its full primary key: `set` absolute values, `increment`
    numeric deltas (never retried unless under a key). version_column:
    applies only when set[version_column] is greater than the stored one.
    require_applied (transaction steps only): the outcome must be UPDATED.
    """
    table: str
    key: Row
    set: Optional[Row] = None
    increment: Optional[Row] = None
    version_column: Optional[str] = None
    require_applied: bool = False

    def to_proto(self) -> idem_pb2.UpdateRequest:
        return idem_pb2.UpdateRequest(
            table=self.table, key=to_row(self.key), set=to_row(self.set or {}),
            increment=to_row(self.increment or {}),
            version_column=self.version_column or "")


def copy_file_request(source: str, destination: str
                      ) -> idem_pb2.CopyFileRequest:
    return idem_pb2.CopyFileRequest(source_path=str(source),
                                    destination_path=str(destination))


def transaction_request(steps: Sequence[Insert | Update]
                        ) -> idem_pb2.TransactionRequest:
    request = idem_pb2.TransactionRequest()
    for step in steps:
        if isinstance(step, Insert):
            request.steps.add(insert=step.to_proto(),
                              require_applied=step.require_applied)
        elif isinstance(step, Update):
            request.steps.add(update=step.to_proto(),
                              require_applied=step.require_applied)
        else:
            raise TypeError(f"a transaction step is idem.Insert or "
                            f"idem.Update, not {type(step).__name__}")
    return request
