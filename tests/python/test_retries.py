"""The retry discipline against real failures: an answer lost after the
commit (fault proxy), a row lock answered with a pushback, a server that is
not there (retry budget), and what is never retried."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time

import pytest

import idem
import idem.aio
from idem import RowOutcome, StopReason, UpdateOutcome
from fault_proxy import FaultProxy
from servers import (Server, closed_port, frozen, hold_row_lock, psql,
                     restarted_later)

FAST = idem.RetryPolicy(initial_backoff=0.01, max_backoff=0.05)
# Against a closed port: a retry waits for a connection up to its own
# deadline (0.1 s here), then fails UNAVAILABLE like a first attempt.
FAST_GIVE_UP = idem.RetryPolicy(initial_backoff=0.01, max_backoff=0.05,
                                per_attempt_timeout=0.1)


@pytest.fixture
def proxy(server):
    made = FaultProxy(server.address)
    yield made
    made.close()


def test_lost_answer_after_commit_replays_inserted(proxy, tables, new_id):
    row = {"id": new_id(), "name": "once"}
    with idem.Client(proxy.address, retry=FAST) as client:
        proxy.drop_next_reply()
        result = client.insert(tables.items, [row])
    assert proxy.cuts == 1
    # The first attempt inserted the row; its answer was lost; the retry
    # under the same auto-key got that first answer, not DUPLICATE.
    assert result.outcomes == (RowOutcome.INSERTED,)
    assert result.call.attempts == 2 and result.call.replayed


def test_lost_answer_of_a_keyed_increment_applies_it_once(proxy, tables,
                                                          new_id):
    row = new_id()
    with idem.Client(proxy.address, retry=FAST) as client:
        client.insert(tables.counters, [{"id": row, "n": 0}])
        proxy.drop_next_reply()
        result = client.update(tables.counters, {"id": row},
                               increment={"n": 1})
    assert result.outcome == UpdateOutcome.UPDATED and result.call.replayed
    assert psql(f"SELECT n FROM {tables.counters} WHERE id = {row}") == "1"


def test_without_auto_keys_a_lost_answer_is_not_retried(proxy, tables,
                                                         new_id):
    row = {"id": new_id(), "name": "plain"}
    with idem.Client(proxy.address, retry=FAST, auto_keys=False) as client:
        proxy.drop_next_reply()
        with pytest.raises(idem.UnavailableError) as caught:
            client.insert(tables.items, [row])
        # A read (retried) first, so that the insert below does not meet
        # the cut connection on a slow machine (seen under TSan).
        client.get_key("after-the-cut")
        # It did run: a retry would have answered DUPLICATE for this row.
        assert client.insert(tables.items, [row]).outcomes == (
            RowOutcome.DUPLICATE,)
    assert caught.value.call.stop_reason == StopReason.NOT_IDEMPOTENT
    assert caught.value.call.attempts == 1


def test_exactly_once_through_lost_answers(proxy, tables, new_id):
    row = new_id()
    with idem.Client(proxy.address, retry=FAST) as client:
        client.insert(tables.counters, [{"id": row, "n": 0}])
        proxy.drop_next_reply(2)
        result = client.exactly_once().update(
            tables.counters, {"id": row}, increment={"n": 3})
    assert proxy.cuts == 2 and result.replayed
    assert result.call.attempts >= 3
    assert psql(f"SELECT n FROM {tables.counters} WHERE id = {row}") == "3"


@pytest.fixture
def patient_proxy(tables, tmp_path):
    """A fault proxy before a server of its own that waits out row locks
    (IDEM_LOCK_TIMEOUT 30 s, the shared server's is 300 ms)."""
    patient = Server(tmp_path, {"IDEM_ALLOW_PLAINTEXT": "true",
                                "IDEM_TABLES": str(tables),
                                "IDEM_LOCK_TIMEOUT": "30s"})
    made = FaultProxy(patient.address)
    yield made
    made.close()
    patient.stop()


def test_one_dropped_connection_is_one_failure_for_the_budget(
        patient_proxy, tables, new_id):
    """Twenty calls in flight when their connection drops: the drop takes
    one token of the default budget, not twenty, so every call is retried
    under its auto-key and applies once."""
    row = new_id()
    policy = idem.RetryPolicy(initial_backoff=0.01, max_backoff=0.05,
                              per_attempt_timeout=20, total_timeout=40)
    with idem.Client(patient_proxy.address, retry=policy) as client:
        client.insert(tables.counters, [{"id": row, "n": 0}])
        holder = hold_row_lock(tables.counters, row, 30)
        with concurrent.futures.ThreadPoolExecutor(20) as pool:
            calls = [pool.submit(client.update, tables.counters, {"id": row},
                                 increment={"n": 1}) for _ in range(20)]
            # All twenty have reached the server: their keys are in flight.
            deadline = time.monotonic() + 20
            while int(psql(
                    "SELECT count(*) FROM pg_stat_activity WHERE "
                    "application_name = 'idem-server' AND "
                    "wait_event_type = 'Lock'")) < 1:
                assert time.monotonic() < deadline
                time.sleep(0.02)
            time.sleep(0.5)
            patient_proxy.drop_next_reply()
            # The lock goes; the first answer after it is cut.
            psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                 "WHERE wait_event = 'PgSleep' AND query LIKE "
                 "'%FOR UPDATE; SELECT pg_sleep%'")
            results = [call.result() for call in calls]
        holder.wait()
    assert patient_proxy.cuts == 1
    assert all(r.outcome == UpdateOutcome.UPDATED for r in results)
    assert sum(r.call.attempts > 1 for r in results) > 5
    assert psql(f"SELECT n FROM {tables.counters} WHERE id = {row}") == "20"


def test_pushback_is_honoured(server, tables, new_id, caplog):
    row = new_id()
    psql(f"INSERT INTO {tables.counters} VALUES ({row}, 0)")
    # Backoff alone would sleep for days: only the server's pushback (the
    # row lock's ABORTED comes with 100 ms) lets the call succeed.
    patient = idem.RetryPolicy(max_attempts=20, total_timeout=20,
                               initial_backoff=1e6, max_backoff=1e6)
    holder = hold_row_lock(tables.counters, row, 1.2)
    caplog.set_level(logging.DEBUG, logger="idem")
    with idem.Client(server.address, retry=patient) as client:
        result = client.update(tables.counters, {"id": row},
                               increment={"n": 1})
    holder.wait(timeout=30)
    assert result.outcome == UpdateOutcome.UPDATED
    assert result.call.attempts >= 2
    retries = [r.getMessage() for r in caplog.records if "retrying" in
               r.getMessage()]
    assert len(retries) == result.call.attempts - 1
    # The server asks for 100 ms; the backoff would have drawn up to 1e6 s.
    sleeps = [float(m.rsplit("retrying in ", 1)[1].split()[0])
              for m in retries]
    assert all("ABORTED" in m for m in retries), retries
    assert all(0 < sleep <= 5 for sleep in sleeps), retries
    assert psql(f"SELECT n FROM {tables.counters} WHERE id = {row}") == "1"


def test_an_unkeyed_increment_is_never_retried(server, tables, new_id):
    row = new_id()
    psql(f"INSERT INTO {tables.counters} VALUES ({row}, 0)")
    holder = hold_row_lock(tables.counters, row, 1.0)
    with idem.Client(server.address, auto_keys=False) as client:
        with pytest.raises(idem.AbortedError) as caught:
            client.update(tables.counters, {"id": row}, increment={"n": 1})
    holder.wait(timeout=30)
    assert caught.value.call.attempts == 1
    assert caught.value.call.stop_reason == StopReason.NOT_IDEMPOTENT
    # The reason and the delay are there for the caller who retries itself.
    assert caught.value.reason == "ROW_LOCKED"
    assert caught.value.retry_delay is not None
    assert psql(f"SELECT n FROM {tables.counters} WHERE id = {row}") == "0"


def test_retry_budget_exhausted_stops_retrying(server, tables, new_id):
    """A server that stops answering (SIGSTOP) while the connection stays
    up: each attempt that times out takes a token."""
    budget = idem.RetryBudget(max_tokens=10, token_ratio=0.1)
    with idem.Client(server.address, retry=FAST_GIVE_UP,
                     budget=budget) as client:
        client.insert(tables.items, [{"id": new_id()}])  # connected
        with frozen(server.process):
            with pytest.raises(idem.DeadlineExceededError) as first:
                client.insert(tables.items, [{"id": new_id()}])
            with pytest.raises(idem.DeadlineExceededError) as second:
                client.insert(tables.items, [{"id": new_id()}])
    # Five failed attempts took five tokens: half the bucket is gone.
    assert first.value.call.attempts == 5
    assert first.value.call.stop_reason == StopReason.MAX_ATTEMPTS
    assert second.value.call.attempts == 1
    assert second.value.call.stop_reason == StopReason.RETRY_BUDGET
    assert budget.tokens == pytest.approx(4)


def test_a_server_that_is_not_there_takes_no_token(tables):
    """Attempts that found no connection reached no server: they take no
    token (their retries wait for the connection), so calls made while a
    server restarts keep their retries."""
    budget = idem.RetryBudget(max_tokens=10, token_ratio=0.1)
    with idem.Client(closed_port(), retry=FAST_GIVE_UP,
                     budget=budget) as client:
        for _ in range(3):
            with pytest.raises(idem.UnavailableError) as caught:
                client.insert(tables.items, [{"id": 1}])
            assert caught.value.call.attempts == 5
            assert caught.value.call.stop_reason == StopReason.MAX_ATTEMPTS
    assert budget.tokens == 10


def test_a_call_rides_through_a_restart_of_its_server(tables, new_id,
                                                      tmp_path):
    """A killed server that comes back within the call's total_timeout:
    the retries, on the default policy, wait for the channel to connect
    again, and the row is written once."""
    first = Server(tmp_path / "first", {
        "IDEM_ALLOW_PLAINTEXT": "true", "IDEM_TABLES": str(tables)})
    row = new_id()
    with idem.Client(first.address) as client:
        client.insert(tables.items, [{"id": new_id()}])  # connected
        first.process.kill()
        first.process.wait()
        restart, started = restarted_later(tmp_path / "second", tables,
                                           first.address)
        try:
            result = client.insert(tables.items, [{"id": row}])
        finally:
            restart.join()
            started["server"].stop()
    assert result.outcomes == (RowOutcome.INSERTED,)
    assert result.call.attempts >= 2
    assert psql(f"SELECT count(*) FROM {tables.items} WHERE id = {row}") == "1"


@pytest.mark.parametrize("client_type", ["sync", "asyncio"])
def test_a_server_killed_under_its_calls_takes_one_token(tables, new_id,
                                                        tmp_path,
                                                        client_type):
    """Six calls in flight (waiting on a row lock) when their server is
    killed: the drop is one failure for the budget, one token, however soon
    gRPC marks the channel unconnected; the retries that then find no
    connection take none. The old asyncio client read the channel after the
    failure, found it unconnected and took no token: a server that kept
    accepting connections and crashing never spent its budget."""
    server = Server(tmp_path / "server", {
        "IDEM_ALLOW_PLAINTEXT": "true", "IDEM_TABLES": str(tables)})
    row = new_id()
    psql(f"INSERT INTO {tables.counters} VALUES ({row}, 0)")
    policy = idem.RetryPolicy(max_attempts=2, per_attempt_timeout=1,
                              total_timeout=5, initial_backoff=0.01,
                              max_backoff=0.05)
    budget = idem.RetryBudget()

    def wait_for_the_calls_then_kill():
        # Group commit runs the six together, in one to three transactions.
        deadline = time.monotonic() + 10
        while psql("SELECT count(*) FROM pg_stat_activity WHERE "
                   "application_name = 'idem-server' AND "
                   "wait_event_type = 'Lock'") == "0":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        time.sleep(0.5)  # all six have arrived
        server.process.kill()
        server.process.wait()

    async def aio_calls():
        async with idem.aio.Client(server.address, retry=policy,
                                   budget=budget) as client:
            await client.insert(tables.items, [{"id": new_id()}])
            calls = [asyncio.ensure_future(client.update(
                tables.counters, {"id": row}, increment={"n": 1}))
                for _ in range(6)]
            await asyncio.to_thread(wait_for_the_calls_then_kill)
            await asyncio.gather(*calls, return_exceptions=True)

    holder = hold_row_lock(tables.counters, row, 30)
    try:
        if client_type == "asyncio":
            asyncio.run(aio_calls())
        else:
            with idem.Client(server.address, retry=policy,
                             budget=budget) as client:
                client.insert(tables.items, [{"id": new_id()}])
                with concurrent.futures.ThreadPoolExecutor(6) as pool:
                    calls = [pool.submit(client.update, tables.counters,
                                         {"id": row}, increment={"n": 1})
                             for _ in range(6)]
                    wait_for_the_calls_then_kill()
                    concurrent.futures.wait(calls)
    finally:
        psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
             "WHERE wait_event = 'PgSleep' AND query LIKE "
             "'%FOR UPDATE; SELECT pg_sleep%'")
        holder.wait()
    # One token for the drop (the old asyncio client took none). A retry
    # sent at once may still find the channel marked connected, and its
    # failure then counts as its own: at most one more, never one per call.
    assert 8 <= budget.tokens <= 9


def test_a_server_that_stays_down_is_unavailable(tables):
    """Retries wait for the connection up to their deadline; one that ends
    without a connection is UNAVAILABLE (nothing reached a server), not
    DEADLINE_EXCEEDED."""
    policy = idem.RetryPolicy(per_attempt_timeout=0.3, total_timeout=1,
                              initial_backoff=0.01, max_backoff=0.05)
    started = time.monotonic()
    with idem.Client(closed_port(), retry=policy) as client:
        with pytest.raises(idem.UnavailableError) as caught:
            client.insert(tables.items, [{"id": 1}])
    assert time.monotonic() - started < 5
    assert caught.value.call.attempts > 1
    # The retries that waited for a connection say only that none came;
    # the first attempt's cause (refused here; a TLS mistake, a wrong name)
    # is what the caller needs, and is kept.
    assert "the first attempt: " in str(caught.value)
    assert "Connection refused" in str(caught.value)


def test_total_timeout_bounds_the_call(tables):
    policy = idem.RetryPolicy(max_attempts=1000, total_timeout=0.5,
                              initial_backoff=0.05, max_backoff=0.05)
    started = time.monotonic()
    with idem.Client(closed_port(), retry=policy,
                     budget=idem.RetryBudget(max_tokens=1e9)) as client:
        # The last attempt ends refused, or at the overall deadline when it
        # still waited for its connection attempt then (a busy machine).
        with pytest.raises((idem.UnavailableError,
                            idem.DeadlineExceededError)) as caught:
            client.insert(tables.items, [{"id": 1}])
    assert time.monotonic() - started < 2
    assert caught.value.call.stop_reason == StopReason.DEADLINE
    assert caught.value.call.attempts > 1


@pytest.mark.parametrize("client_type", ["sync", "asyncio"])
def test_a_spent_timeout_sends_nothing(server, tables, new_id, client_type):
    """A caller that passes what is left of its own deadline may pass 0 or
    less: nothing is sent, on a connected client too (the old one sent a
    1 ms attempt, which wrote the row on a fast connection)."""
    rows = [new_id() for _ in range(3)]

    async def aio_calls():
        async with idem.aio.Client(server.address) as client:
            await client.insert(tables.items, [{"id": rows[0]}])  # connected
            failures = []
            for row, timeout in ((rows[1], 0), (rows[2], -5)):
                with pytest.raises(idem.DeadlineExceededError) as caught:
                    await client.insert(tables.items, [{"id": row}],
                                        timeout=timeout)
                failures.append(caught.value)
            return failures

    if client_type == "asyncio":
        failures = asyncio.run(aio_calls())
    else:
        failures = []
        with idem.Client(server.address) as client:
            client.insert(tables.items, [{"id": rows[0]}])  # connected
            for row, timeout in ((rows[1], 0), (rows[2], -5)):
                with pytest.raises(idem.DeadlineExceededError) as caught:
                    client.insert(tables.items, [{"id": row}],
                                  timeout=timeout)
                failures.append(caught.value)
    for failure in failures:
        assert failure.call.attempts == 0
        assert failure.call.stop_reason == StopReason.DEADLINE
    time.sleep(0.2)  # an attempt sent would have committed by now
    assert psql(f"SELECT count(*) FROM {tables.items} WHERE id IN "
                f"({rows[1]}, {rows[2]})") == "0"


def test_per_attempt_timeout(server, tables, new_id):
    # A server that stops answering (SIGSTOP) while the connection stays
    # up: each attempt ends at its own deadline, and is tried again.
    policy = idem.RetryPolicy(max_attempts=3, per_attempt_timeout=0.2,
                              total_timeout=5, initial_backoff=0.01)
    with idem.Client(server.address, retry=policy) as client:
        client.insert(tables.items, [{"id": new_id()}])  # connected
        with frozen(server.process):
            with pytest.raises(idem.DeadlineExceededError) as caught:
                client.insert(tables.items, [{"id": new_id()}])
    assert caught.value.call.attempts == 3
    assert caught.value.call.stop_reason == StopReason.MAX_ATTEMPTS
