"""Rich errors, returning, duplicate keys in one insert, transactions,
expires_at and the key API, through the Python client."""

from __future__ import annotations

import datetime

import pytest

import idem
from idem import KeyState, RowOutcome, UpdateOutcome
from servers import psql


@pytest.fixture
def client(server):
    with idem.Client(server.address) as made:
        yield made


def test_error_info_reason_and_metadata(client, tables, new_id, new_key):
    with pytest.raises(idem.InvalidArgumentError) as unknown:
        client.insert(tables.items, [{"id": new_id(), "nope": 1}])
    assert unknown.value.reason == "COLUMN_UNKNOWN"
    assert unknown.value.metadata["column"] == "nope"
    with pytest.raises(idem.PermissionDeniedError) as denied:
        client.insert("not_allowed", [{"id": 1}])
    assert denied.value.reason == "TABLE_NOT_ALLOWED"
    key = new_key()
    client.exactly_once(key).insert(tables.items, [{"id": new_id()}])
    with pytest.raises(idem.FailedPreconditionError) as mismatch:
        client.exactly_once(key).insert(tables.items, [{"id": new_id()}])
    assert mismatch.value.reason == "KEY_MISMATCH"


def test_returning_generated_and_met_values(client, tables, new_key):
    codes = [new_key(), new_key()]
    first = client.insert(tables.generated, [{"code": c} for c in codes],
                          returning=["seq", "note"])
    seqs = [row["seq"] for row in first.returned]
    assert len(set(seqs)) == 2 and all(isinstance(s, int) for s in seqs)
    assert [row["note"] for row in first.returned] == ["fresh", "fresh"]
    psql(f"UPDATE {tables.generated} SET note = 'seen' "
         f"WHERE code = '{codes[0]}'")
    met = client.insert(tables.generated, [{"code": codes[0]}],
                        returning=["seq", "note"])
    assert met.outcomes == (RowOutcome.DUPLICATE,)
    assert met.returned == ({"seq": seqs[0], "note": "seen"},)


def test_same_key_twice_in_one_insert(client, tables, new_id):
    row = new_id()
    result = client.insert(tables.items, [
        {"id": row, "name": "a"}, {"id": row, "name": "a"},
        {"id": row, "name": "b"}])
    assert result.outcomes == (RowOutcome.INSERTED, RowOutcome.DUPLICATE,
                               RowOutcome.CONFLICT)


def test_transaction_commits_every_step(client, tables, new_id, new_key):
    row, counter = new_id(), new_id()
    psql(f"INSERT INTO {tables.counters} VALUES ({counter}, 0)")
    steps = [idem.Insert(tables.items, [{"id": row, "name": "t"}]),
             idem.Update(tables.counters, {"id": counter},
                         increment={"n": 2}, require_applied=True)]
    plain = client.transaction(steps)
    assert plain.results[0].outcomes == (RowOutcome.INSERTED,)
    assert plain.results[1].outcome == UpdateOutcome.UPDATED
    key = new_key()
    keyed = client.exactly_once(key).transaction(
        [idem.Update(tables.counters, {"id": counter}, increment={"n": 1})])
    again = client.exactly_once(key).transaction(
        [idem.Update(tables.counters, {"id": counter}, increment={"n": 1})])
    assert not keyed.replayed and again.replayed
    assert psql(f"SELECT n FROM {tables.counters} WHERE id = {counter}") == "3"


def test_transaction_step_not_applied_rolls_back(client, tables, new_id):
    row = new_id()
    steps = [idem.Insert(tables.items, [{"id": row, "name": "x"}]),
             idem.Update(tables.counters, {"id": new_id()},
                         increment={"n": 1}, require_applied=True)]
    with pytest.raises(idem.FailedPreconditionError) as caught:
        client.transaction(steps)
    assert caught.value.reason == "STEP_NOT_APPLIED"
    assert caught.value.metadata["step"] == "1"
    assert psql(f"SELECT count(*) FROM {tables.items} WHERE id = {row}") == "0"


def test_retention_and_expires_at(client, tables, new_id):
    before = datetime.datetime.now(datetime.timezone.utc)
    keyed = client.exactly_once(retention=datetime.timedelta(minutes=5)) \
        .insert(tables.items, [{"id": new_id()}])
    assert abs(keyed.expires_at - before - datetime.timedelta(minutes=5)) < \
        datetime.timedelta(seconds=30)


def test_get_and_forget_key(client, tables, new_id, new_key):
    key, row = new_key(), new_id()
    assert client.get_key(key).state == KeyState.ABSENT
    client.exactly_once(key).insert(tables.items, [{"id": row}])
    info = client.get_key(key)
    assert info.state == KeyState.FINISHED and len(info.fingerprint) == 64
    assert info.answer.result.outcomes == (RowOutcome.INSERTED,)
    assert client.forget_key(key) is True
    assert client.forget_key(key) is False
    assert client.get_key(key).state == KeyState.ABSENT
    rerun = client.exactly_once(key).insert(tables.items, [{"id": row}])
    assert not rerun.replayed
    assert rerun.result.outcomes == (RowOutcome.DUPLICATE,)


def test_get_key_of_a_stored_failure(client, tables, new_id, new_key):
    key = new_key()
    with pytest.raises(idem.InvalidArgumentError):
        client.exactly_once(key).insert(tables.items,
                                        [{"id": new_id(), "nope": 1}])
    info = client.get_key(key)
    assert info.answer is None
    assert isinstance(info.failure, idem.InvalidArgumentError)


def test_malformed_calls_are_refused_and_change_nothing(client, tables,
                                                        new_id, new_key):
    row = new_id()
    # Retention outside 1 minute to IDEM_MAX_KEY_RETENTION (7 days): refused
    # before the key is looked at, so nothing is stored under it.
    for retention in (datetime.timedelta(seconds=30),
                      datetime.timedelta(days=3650)):
        key = new_key()
        with pytest.raises(idem.InvalidArgumentError) as caught:
            client.exactly_once(key, retention=retention).insert(
                tables.items, [{"id": row}])
        assert caught.value.reason == "REQUEST_INVALID"
        assert client.get_key(key).state == KeyState.ABSENT
    # A transaction of no step, and of 101: a deterministic failure of the
    # call, stored under its key like any other (docs/keyed-call.md).
    # Over 100 steps is a limit, as too many rows are.
    for steps, reason in (
            ([], "REQUEST_INVALID"),
            ([idem.Insert(tables.items, [{"id": row}])] * 101,
             "LIMIT_EXCEEDED")):
        key = new_key()
        with pytest.raises(idem.InvalidArgumentError) as caught:
            client.exactly_once(key).transaction(steps)
        assert caught.value.reason == reason
        stored = client.get_key(key)
        assert stored.answer is None
        assert stored.failure.reason == reason
    # Keys outside the rules: empty, a space, 256 characters.
    for bad in ("", "a b", "x" * 256):
        for call in (client.get_key, client.forget_key):
            with pytest.raises(idem.InvalidArgumentError) as caught:
                call(bad)
            assert caught.value.reason == "KEY_INVALID"
    assert psql(f"SELECT count(*) FROM {tables.items} WHERE id = {row}") == "0"
