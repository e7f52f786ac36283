"""examples/python/csv_loader.py killed with SIGKILL at random points of a
100,000-line file and started again each time: the table ends with exactly
the file's rows and the checkpoint at the file's length (issue #18).

Each kill waits until the loader reports a line past a random point of the
file, then a random fraction of a chunk's time more, so kills land before a
chunk is sent, while its transaction is in flight or committing, and after
it committed but before the loader heard. Its own CTest test
(python_csv_loader_kill, about 25 s). IDEM_LOADER_KILL_SEED=N repeats a
run's points and delays; the seed is printed first.
"""

from __future__ import annotations

import csv
import hashlib
import os
import random
import re
import signal
import subprocess
import sys
import time

from servers import SOURCE_DIR, psql

LOADER = SOURCE_DIR / "examples" / "python" / "csv_loader.py"
LINES = 100_000
CHUNK_ROWS = 1000
KILLS = 24  # at least 20 must find the loader still running
MAX_DELAY = 0.08  # seconds after the point: about one chunk's time
PROGRESS = re.compile(r"^lines (\d+)-(\d+): (.*)$")
STARTING = re.compile(r"starting at line (\d+)$")


def write_file(path, rng):
    """LINES rows with distinct ids in random order."""
    ids = rng.sample(range(1, 10 * LINES), LINES)
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "name", "value"])
        for n, row_id in enumerate(ids):
            writer.writerow([row_id, f"row {n} of {row_id}", n / 4])
    return ids


def start_loader(server, package, path):
    return subprocess.Popen(
        [sys.executable, str(LOADER), str(path),
         "--chunk-rows", str(CHUNK_ROWS)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=dict(os.environ, IDEM_TARGET=server.address,
                 PYTHONPATH=str(package)))


def kill_past(loader, point, delay):
    """Reads the loader's lines until it reports having loaded past line
    `point` (or starts past it), waits `delay`, kills it. Returns its lines
    and whether the kill found it running."""
    lines = []
    for line in loader.stdout:
        lines.append(line.rstrip("\n"))
        progress, starting = PROGRESS.match(line), STARTING.search(line)
        if (progress and int(progress[2]) >= point) or (
                starting and int(starting[1]) > point):
            break
    time.sleep(delay)
    loader.send_signal(signal.SIGKILL)
    lines.extend(line.rstrip("\n") for line in loader.stdout)
    code = loader.wait()
    assert code in (0, -signal.SIGKILL), "\n".join(lines[-20:])
    return lines, code == -signal.SIGKILL


def progress(lines):
    """(line the run started at, last line it heard was loaded)."""
    start = int(next(STARTING.search(x)[1] for x in lines
                     if STARTING.search(x))) - 1
    ends = [int(PROGRESS.match(x)[2]) for x in lines if PROGRESS.match(x)]
    return start, max(ends, default=start)


def test_killed_loader_neither_skips_nor_doubles(example_server,
                                                 staged_package, tmp_path):
    seed = int(os.environ.get("IDEM_LOADER_KILL_SEED") or
               random.SystemRandom().randrange(2**32))
    print(f"\ncsv loader kill test: seed {seed} "
          f"(IDEM_LOADER_KILL_SEED={seed} repeats the points and delays)")
    rng = random.Random(seed)
    path = tmp_path / "rows.csv"
    ids = write_file(path, rng)
    points = sorted(rng.sample(range(CHUNK_ROWS, LINES - CHUNK_ROWS), KILLS))

    runs, kills = [], 0
    for point in points:
        loader = start_loader(example_server, staged_package, path)
        lines, killed = kill_past(loader, point, rng.uniform(0, MAX_DELAY))
        runs.append(lines)
        kills += killed
    loader = start_loader(example_server, staged_package, path)
    out, _ = loader.communicate(timeout=120)
    assert loader.returncode == 0, out
    runs.append(out.splitlines())

    where = f"(seed {seed})"
    outcomes = [PROGRESS.match(x)[3] for lines in runs for x in lines
                if PROGRESS.match(x)]
    # A kill between a chunk's commit and its answer: the next run starts
    # past the last line its predecessor heard of.
    unheard = sum(progress(after)[0] > progress(before)[1]
                  for before, after in zip(runs, runs[1:]))
    print(f"{kills} kills; {unheard} of them after a commit the loader "
          f"never heard of; {len(outcomes)} chunks acknowledged, "
          f"{outcomes.count('replayed, already loaded')} of them replays")
    assert kills >= 20, where
    # A chunk sent again under a fresh key would find its rows there.
    assert set(outcomes) <= {"replayed, already loaded",
                             f"{CHUNK_ROWS} inserted, 0 already there"}, (
        where, set(outcomes))

    url = example_server.url
    count, id_sum, id_digest = psql(
        "SELECT count(*), sum(id), md5(string_agg(id || ':' || name, ',' "
        "ORDER BY id)) FROM example_table", url).split("|")
    rows = sorted((row_id, n) for n, row_id in enumerate(ids))
    expected = ",".join(f"{row_id}:row {n} of {row_id}" for row_id, n in rows)
    assert int(count) == LINES, where
    assert int(id_sum) == sum(ids), where
    assert id_digest == hashlib.md5(expected.encode()).hexdigest(), where
    assert psql("SELECT next_line FROM example_checkpoint", url) == str(
        LINES), where
