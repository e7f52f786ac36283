#!/usr/bin/env python3
"""Insert rows, ignoring the ones already there, with an outcome per row.

The seed did this with sqlite3's INSERT OR IGNORE, which cannot tell a row
it skipped because the same row was there (a redelivered message: fine)
from one it skipped because a different row had the key (a real conflict).
idem tells them apart: INSERTED, DUPLICATE, CONFLICT.

Run `scripts/run` in another shell, then:
    examples/python/insert_ignoring_duplicates.py
"""

import os

import idem

TARGET = os.environ.get("IDEM_TARGET", "127.0.0.1:50051")

with idem.Client(TARGET) as client:
    first = client.insert("example_table", [
        {"id": 101, "name": "apple", "value": 1.5},
        {"id": 102, "name": "pear", "value": 2.0},
        {"id": 103, "name": "plum", "value": None}])
    print("first batch: ", [o.name for o in first.outcomes])

    # The same message again, plus a new row and one whose key is taken by
    # a different row. Nothing is overwritten (on_conflict=DO_NOTHING).
    second = client.insert("example_table", [
        {"id": 101, "name": "apple", "value": 1.5},
        {"id": 102, "name": "PEAR", "value": 2.0},
        {"id": 104, "name": "fig", "value": 0.25}])
    for row, outcome in zip((101, 102, 104), second.outcomes):
        print(f"second batch: id {row}: {outcome.name}")
    print(f"counts: inserted={second.inserted} duplicates={second.duplicates} "
          f"conflicts={second.conflicts}")
