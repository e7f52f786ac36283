"""The checkpoint step of examples/python/csv_loader.py (docs/keyed-call.md,
"Transactions"): a checkpoint moves from 41 to 42 with its chunk; a chunk
whose checkpoint is already there fails STEP_NOT_APPLIED at step 1 and
writes none of its rows, and the loader carries on from the checkpoint.
The loader killed at random points: test_csv_loader_kill.py."""

from __future__ import annotations

import sys
import uuid

import idem
import pytest

from servers import SOURCE_DIR, psql

sys.path.insert(0, str(SOURCE_DIR / "examples" / "python"))

import csv_loader  # noqa: E402


def rows(first_id, count):
    return [{"id": first_id + n, "name": f"row {n}", "value": n / 4}
            for n in range(count)]


def chunk(loader, first_id, next_line):
    """A chunk's rows and the step that advances the checkpoint to
    next_line, as the loader sends them."""
    return [idem.Insert("example_table", rows(first_id, 3)),
            idem.Update("example_checkpoint", {"loader": loader},
                        set={"next_line": next_line},
                        version_column="next_line", require_applied=True)]


def test_checkpoint_moves_from_41_to_42_once(example_server):
    loader = f"test-{uuid.uuid4()}"
    url = example_server.url
    with idem.Client(example_server.address) as client:
        client.insert("example_checkpoint",
                      [{"loader": loader, "next_line": 41}])
        done = client.exactly_once(f"{loader}:41-42").transaction(
            chunk(loader, 50_001, 42))
        assert done.result.results[1].outcome == idem.UpdateOutcome.UPDATED
        # The same chunk under another key (another loader): not applied.
        with pytest.raises(idem.FailedPreconditionError) as failed:
            client.exactly_once(f"other-{loader}:41-42").transaction(
                chunk(loader, 60_001, 42))
    assert failed.value.reason == "STEP_NOT_APPLIED"
    assert failed.value.metadata["step"] == "1"
    assert psql("SELECT count(*) FROM example_table WHERE id > 60000 "
                "AND id < 60100", url) == "0"
    assert psql("SELECT next_line FROM example_checkpoint WHERE loader = "
                f"'{loader}'", url) == "42"


def test_loader_skips_a_chunk_another_loader_loaded(example_server, capsys):
    loader = f"test-{uuid.uuid4()}"
    with idem.Client(example_server.address) as client:
        assert csv_loader.checkpoint(client, loader) == 0
        assert csv_loader.load_chunk(client, loader, 0, rows(70_001, 20))
        assert not csv_loader.load_chunk(client, loader, 0, rows(80_001, 10))
        assert csv_loader.checkpoint(client, loader) == 20
    out = capsys.readouterr().out
    assert "lines 1-10: checkpoint already past them" in out
    assert psql("SELECT count(*) FROM example_table WHERE id > 80000 "
                "AND id < 80100", example_server.url) == "0"
