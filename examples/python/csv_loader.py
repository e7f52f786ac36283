#!/usr/bin/env python3
"""Load a CSV file (id,name,value) into example_table in chunks: per chunk,
its rows and the loader's checkpoint in one transaction under a key of its
own, so that a loader killed at any instant and started again neither
skips nor doubles a row.

The checkpoint (example_checkpoint: loader, next_line = how many of the
file's data lines are loaded) commits with its chunk, so it always says
exactly how far the rows got; a loader starts there. The one chunk whose
fate a kill left unknown is sent again under the same key (file hash +
lines): if it had committed, the server answers with its first result
(replayed) and writes nothing; if it was still running, the resend waits
for it. The checkpoint step moves next_line forward only (version guard)
and must apply (require_applied): a checkpoint already at or past the
chunk's end means another loader got there first; nothing of the chunk is
written (STEP_NOT_APPLIED) and this one carries on from that checkpoint.

    examples/python/csv_loader.py [file.csv] [--chunk-rows N] [--stop-after N]

Without a file it writes a sample of 200 lines. --stop-after N stops after N
chunks, as a crash would; run it again to see it resume. Needs the
server's transactions (brief §8.3) and `scripts/run`'s example_checkpoint
table.
"""

import argparse
import csv
import hashlib
import itertools
import os
import tempfile
from pathlib import Path

import idem

TARGET = os.environ.get("IDEM_TARGET", "127.0.0.1:50051")


def sample(path: Path) -> Path:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "name", "value"])
        for n in range(1, 201):
            writer.writerow([10_000 + n, f"item {n}", n / 4])
    return path


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def chunks(path: Path, first_line: int, size: int):
    """(first line, rows) of each chunk from data line `first_line` on,
    read as they are sent, never the whole file at once."""
    with path.open(newline="") as source:
        records = csv.DictReader(source)
        for _ in itertools.islice(records, first_line):
            pass
        line = first_line
        while batch := list(itertools.islice(records, size)):
            yield line, [{"id": int(r["id"]), "name": r["name"],
                          "value": float(r["value"])} for r in batch]
            line += len(batch)


def checkpoint(client: idem.Client, loader: str) -> int:
    """The loader's checkpoint, created at 0 the first time."""
    made = client.insert("example_checkpoint",
                         [{"loader": loader, "next_line": 0}],
                         returning=["next_line"])
    return made.returned[0]["next_line"]


def load_chunk(client: idem.Client, loader: str, start: int,
               rows: list) -> bool:
    """Sends one chunk; False when another loader had already loaded it."""
    end = start + len(rows)
    once = client.exactly_once(f"{loader}:{start}-{end}")
    try:
        done = once.transaction([
            idem.Insert("example_table", rows),
            idem.Update("example_checkpoint", {"loader": loader},
                        set={"next_line": end}, version_column="next_line",
                        require_applied=True)])
    except idem.FailedPreconditionError as error:
        if error.reason != "STEP_NOT_APPLIED":
            raise
        print(f"lines {start + 1}-{end}: checkpoint already past them "
              "(another loader), nothing written", flush=True)
        return False
    if done.replayed:
        print(f"lines {start + 1}-{end}: replayed, already loaded",
              flush=True)
    else:
        # A result is None only for a replay whose answer has expired; the
        # first step is the Insert of the rows.
        assert done.result is not None
        rows_step = done.result.results[0]
        assert isinstance(rows_step, idem.InsertResult)
        print(f"lines {start + 1}-{end}: {rows_step.inserted} inserted, "
              f"{len(rows) - rows_step.inserted} already there", flush=True)
    return True


def load(client: idem.Client, path: Path, loader: str, chunk_rows: int,
         stop_after: int | None) -> None:
    sent = 0
    while True:
        start = checkpoint(client, loader)
        print(f"{loader}: starting at line {start + 1}", flush=True)
        for first, rows in chunks(path, start, chunk_rows):
            if sent == stop_after:
                print(f"stopping after {sent} chunks, as a crash would")
                return
            sent += 1
            if not load_chunk(client, loader, first, rows):
                break  # start again from the checkpoint
        else:
            print(f"{loader}: done, {checkpoint(client, loader)} lines "
                  "loaded", flush=True)
            return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file", nargs="?", type=Path)
    parser.add_argument("--chunk-rows", type=int, default=50,
                        help="lines per transaction (default 50)")
    parser.add_argument("--stop-after", type=int,
                        help="stop after this many chunks, as a crash would")
    args = parser.parse_args()
    path = args.file or sample(Path(tempfile.gettempdir()) / "idem-sample.csv")
    # Keys and the checkpoint follow the file's content, not its name: the
    # same file under another name resumes; a changed file starts afresh.
    loader = f"csv-{file_digest(path)[:16]}"
    with idem.Client(TARGET) as client:
        load(client, path, loader, args.chunk_rows, args.stop_after)


if __name__ == "__main__":
    main()
