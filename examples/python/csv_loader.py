#!/usr/bin/python3
"""Load a CSV file into example_table in chunks, each chunk and the loader's
checkpoint in one transaction under a key of its own.

A loader that dies half-way is simply run again: every chunk is sent under
the same key as before (file hash + chunk number), so the chunks that had
committed answer with their first result (replayed) and change nothing, and
the others run. The checkpoint row (example_checkpoint: loader, next_line)
commits with its chunk, so it always says exactly how far the rows got; its
version guard keeps it from moving backwards.

    examples/python/csv_loader.py [file.csv] [--stop-after N]

Without a file it writes a sample. --stop-after N stops after N chunks, as a
crash would; run it again to see the resume. Needs the server's
transactions (brief §8.3) and `scripts/run`'s example_checkpoint table.
"""

import argparse
import csv
import hashlib
import os
import tempfile
from pathlib import Path

import idem

TARGET = os.environ.get("IDEM_TARGET", "127.0.0.1:50051")
CHUNK_ROWS = 50


def sample(path: Path) -> Path:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "name", "value"])
        for n in range(1, 201):
            writer.writerow([10_000 + n, f"item {n}", n / 4])
    return path


def chunks(path: Path):
    with path.open(newline="") as source:
        rows = [{"id": int(r["id"]), "name": r["name"],
                 "value": float(r["value"])} for r in csv.DictReader(source)]
    for start in range(0, len(rows), CHUNK_ROWS):
        yield start, rows[start:start + CHUNK_ROWS]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file", nargs="?", type=Path)
    parser.add_argument("--stop-after", type=int)
    args = parser.parse_args()
    path = args.file or sample(Path(tempfile.gettempdir()) / "idem-sample.csv")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    loader = f"csv:{path.name}:{digest}"

    with idem.Client(TARGET) as client:
        client.insert("example_checkpoint", [{"loader": loader,
                                              "next_line": 0}])
        for number, (start, rows) in enumerate(chunks(path)):
            if number == args.stop_after:
                print(f"stopping after {number} chunks, as a crash would")
                return
            once = client.exactly_once(f"{loader}:chunk-{number}")
            done = once.transaction([
                idem.Insert("example_table", rows),
                idem.Update("example_checkpoint", {"loader": loader},
                            set={"next_line": start + len(rows)},
                            version_column="next_line")])
            inserted = done.result.results[0].inserted
            print(f"chunk {number} (lines {start + 1}-{start + len(rows)}): "
                  + ("replayed, already loaded" if done.replayed
                     else f"{inserted} rows inserted"))


if __name__ == "__main__":
    main()
