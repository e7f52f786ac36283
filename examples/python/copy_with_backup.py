#!/usr/bin/env python3
"""Copy a file, keeping the old destination as a backup when it differs.

The seed did this with shutil.copy and a .bak: a crash mid-copy left a torn
file, and the next run overwrote the only backup. idem copies atomically
(temporary file, fsync, rename), says COPIED / UNCHANGED / REPLACED, and
names backups by content so that one is never overwritten by another.

Paths are relative to the server's storage root. With `scripts/run` that is
.local/storage of this checkout (or $IDEM_STORAGE_ROOT); this example writes
its source file there itself.
"""

import datetime
import os
from pathlib import Path

import idem

TARGET = os.environ.get("IDEM_TARGET", "127.0.0.1:50051")
ROOT = Path(os.environ.get("IDEM_STORAGE_ROOT") or
            Path(__file__).resolve().parents[2] / ".local" / "storage")

source = ROOT / "inbox" / "report.csv"
source.parent.mkdir(parents=True, exist_ok=True)

with idem.Client(TARGET) as client:
    source.write_text(f"day,total\n{datetime.date.today()},41\n")
    for step in ("first copy", "same content again"):
        result = client.copy_file("inbox/report.csv", "archive/report.csv")
        print(f"{step}: {result.outcome.name} sha256={result.sha256[:12]}... "
              f"size={result.size_bytes}")

    source.write_text(f"day,total\n{datetime.date.today()},42\n")  # a fix
    result = client.copy_file("inbox/report.csv", "archive/report.csv")
    print(f"corrected report: {result.outcome.name}, the old one kept as "
          f"{result.backup_path}")
