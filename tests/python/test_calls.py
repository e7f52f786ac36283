"""Every RPC and outcome through idem.Client against a real server."""

from __future__ import annotations

import hashlib

import pytest

import idem
from idem import CopyOutcome, RowOutcome, UpdateOutcome
from servers import psql


@pytest.fixture
def client(server):
    with idem.Client(server.address) as made:
        yield made


def test_insert_outcomes_per_row(client, tables, new_id):
    a, b, c = new_id(), new_id(), new_id()
    first = client.insert(tables.items, [
        {"id": a, "name": "a", "value": 1.5},
        {"id": b, "name": "b", "value": None}])
    assert first.outcomes == (RowOutcome.INSERTED, RowOutcome.INSERTED)
    assert (first.inserted, first.duplicates) == (2, 0)
    assert first.call.attempts == 1 and not first.call.replayed
    assert first.call.idempotency_key.startswith("auto-")
    again = client.insert(tables.items, [
        {"id": a, "name": "a", "value": 1.5},
        {"id": b, "name": "changed", "value": None},
        {"id": c, "name": "c", "value": 0.0}])
    assert again.outcomes == (RowOutcome.DUPLICATE, RowOutcome.CONFLICT,
                              RowOutcome.INSERTED)
    assert (again.inserted, again.duplicates, again.conflicts) == (1, 1, 1)
    assert psql(f"SELECT name FROM {tables.items} WHERE id = {b}") == "b"


def test_insert_do_update_with_version_guard(client, tables, new_id):
    row = new_id()
    client.insert(tables.versioned, [{"id": row, "name": "v2", "version": 2}])

    def upsert(name, version):
        return client.insert(
            tables.versioned, [{"id": row, "name": name, "version": version}],
            on_conflict=idem.OnConflict.DO_UPDATE, version_column="version")

    assert upsert("v3", 3).outcomes == (RowOutcome.UPDATED,)
    older = upsert("v1", 1)
    assert older.outcomes == (RowOutcome.STALE,) and older.stale == 1
    assert upsert("v3", 3).outcomes == (RowOutcome.DUPLICATE,)
    assert psql(f"SELECT name, version FROM {tables.versioned} "
                f"WHERE id = {row}") == "v3|3"


def test_an_answer_over_four_mebibytes_is_received(client, tables, new_id):
    """gRPC refuses messages over 4 MiB by default: an answer that large
    describes a write that committed, and must reach the caller."""
    rows = [{"id": new_id(), "name": chr(97 + i % 26) * 1000}
            for i in range(6000)]
    result = client.insert(tables.items, rows, returning=["name"])
    assert result.outcomes == (RowOutcome.INSERTED,) * len(rows)
    assert [r["name"] for r in result.returned] == [r["name"] for r in rows]


def test_update_outcomes(client, tables, new_id):
    row = new_id()
    client.insert(tables.versioned, [{"id": row, "name": "a", "version": 1}])
    assert client.update(tables.versioned, {"id": row},
                         set={"name": "b"}).outcome == UpdateOutcome.UPDATED
    assert client.update(tables.versioned, {"id": row},
                         set={"name": "b"}).outcome == UpdateOutcome.UNCHANGED
    assert client.update(tables.versioned, {"id": new_id()},
                         set={"name": "x"}).outcome == UpdateOutcome.NOT_FOUND
    stale = client.update(tables.versioned, {"id": row},
                          set={"name": "old", "version": 0},
                          version_column="version")
    assert stale.outcome == UpdateOutcome.STALE


def test_increment_moves_once_per_call(client, tables, new_id):
    row = new_id()
    client.insert(tables.counters, [{"id": row, "n": 0}])
    for _ in range(3):
        client.update(tables.counters, {"id": row}, increment={"n": 5})
    assert psql(f"SELECT n FROM {tables.counters} WHERE id = {row}") == "15"


def test_copy_file_outcomes_and_backup(client, storage):
    (storage / "in").mkdir(exist_ok=True)
    (storage / "in" / "a.csv").write_bytes(b"id\n1\n")
    first = client.copy_file("in/a.csv", "out/a.csv")
    assert first.outcome == CopyOutcome.COPIED
    assert first.sha256 == hashlib.sha256(b"id\n1\n").hexdigest()
    assert first.size_bytes == 5 and first.backup_path is None
    assert client.copy_file("in/a.csv",
                            "out/a.csv").outcome == CopyOutcome.UNCHANGED
    (storage / "in" / "a.csv").write_bytes(b"id\n2\n")
    replaced = client.copy_file("in/a.csv", "out/a.csv")
    assert replaced.outcome == CopyOutcome.REPLACED
    assert (storage / replaced.backup_path).read_bytes() == b"id\n1\n"
    assert (storage / "out" / "a.csv").read_bytes() == b"id\n2\n"


def test_plain_calls_without_auto_keys(server, tables, storage, new_id):
    row = new_id()
    (storage / "plain.txt").write_text("plain")
    with idem.Client(server.address, auto_keys=False) as client:
        inserted = client.insert(tables.counters, [{"id": row, "n": 1}])
        updated = client.update(tables.counters, {"id": row},
                                increment={"n": 1})
        copied = client.copy_file("plain.txt", "plain-copy.txt")
    for result in (inserted, updated, copied):
        assert result.call.idempotency_key is None
    assert inserted.outcomes == (RowOutcome.INSERTED,)
    assert updated.outcome == UpdateOutcome.UPDATED
    assert copied.outcome == CopyOutcome.COPIED


def test_exactly_once_replays_the_first_answer(client, tables, new_id,
                                                new_key):
    row, key = new_id(), new_key()
    client.insert(tables.counters, [{"id": row, "n": 0}])
    first = client.exactly_once(key).update(tables.counters, {"id": row},
                                            increment={"n": 7})
    again = client.exactly_once(key).update(tables.counters, {"id": row},
                                            increment={"n": 7})
    assert first.result.outcome == UpdateOutcome.UPDATED
    assert again.result.outcome == UpdateOutcome.UPDATED
    assert (first.replayed, again.replayed) == (False, True)
    assert first.key == again.key == key
    assert first.first_executed_at == again.first_executed_at is not None
    assert psql(f"SELECT n FROM {tables.counters} WHERE id = {row}") == "7"


def test_exactly_once_insert_and_copy(client, tables, storage, new_id):
    once = client.exactly_once()
    assert once.key.startswith("auto-")
    row = {"id": new_id(), "name": "k"}
    assert once.insert(tables.items, [row]).result.outcomes == (
        RowOutcome.INSERTED,)
    assert client.exactly_once(once.key).insert(
        tables.items, [row]).result.outcomes == (RowOutcome.INSERTED,)
    (storage / "keyed.txt").write_text("k")
    copy = client.exactly_once().copy_file("keyed.txt", "keyed-copy.txt")
    assert copy.result.outcome == CopyOutcome.COPIED and not copy.replayed


def test_key_mismatch_is_failed_precondition(client, tables, new_id,
                                            new_key):
    key = new_key()
    client.exactly_once(key).insert(tables.items, [{"id": new_id()}])
    with pytest.raises(idem.FailedPreconditionError) as caught:
        client.exactly_once(key).insert(tables.items, [{"id": new_id()}])
    assert "different call" in caught.value.message
    assert caught.value.call.attempts == 1


def test_an_empty_key_is_refused_not_replaced(client, tables, new_id):
    """A message id that turned out empty must not send the increment under
    a new random key each time: it is refused, and nothing runs."""
    row = new_id()
    client.insert(tables.counters, [{"id": row, "n": 0}])
    for _ in range(2):
        with pytest.raises(idem.InvalidArgumentError) as caught:
            client.exactly_once("").update(tables.counters, {"id": row},
                                           increment={"n": 1})
        assert caught.value.reason == "KEY_INVALID"
    assert psql(f"SELECT n FROM {tables.counters} WHERE id = {row}") == "0"


def test_stored_failure_is_replayed_as_the_same_error(client, tables,
                                                      new_id, new_key):
    key, rows = new_key(), [{"id": new_id(), "nope": 1}]
    with pytest.raises(idem.InvalidArgumentError) as first:
        client.exactly_once(key).insert(tables.items, rows)
    assert not first.value.replayed
    with pytest.raises(idem.InvalidArgumentError) as again:
        client.exactly_once(key).insert(tables.items, rows)
    assert again.value.replayed
    assert again.value.message == first.value.message


@pytest.mark.parametrize("call, error", [
    (lambda c, t: c.insert("not_allowed", [{"id": 1}]),
     idem.PermissionDeniedError),
    (lambda c, t: c.insert(t.items, [{"id": 1, "nope": 1}]),
     idem.InvalidArgumentError),
    (lambda c, t: c.copy_file("missing/file", "x"), idem.NotFoundError),
    (lambda c, t: c.copy_file("../outside", "x"), idem.Error),
])
def test_errors_by_code(client, tables, call, error):
    with pytest.raises(error) as caught:
        call(client, tables)
    assert caught.value.call.attempts == 1
    assert caught.value.call.stop_reason == idem.StopReason.NOT_RETRYABLE
    assert str(caught.value).startswith(caught.value.code.name)


def test_bad_python_values_fail_before_sending(client, tables):
    with pytest.raises(TypeError, match="column 'name'"):
        client.insert(tables.items, [{"id": 1, "name": object()}])
    with pytest.raises(ValueError, match="int64"):
        client.insert(tables.items, [{"id": 2**63}])
    with pytest.raises(TypeError, match="sequence of mappings"):
        client.insert(tables.items, {"id": 1})
