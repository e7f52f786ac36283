"""idem.aio.Client: the same calls and discipline on asyncio (grpc.aio).
Each test runs its own event loop with asyncio.run."""

from __future__ import annotations

import ast
import asyncio
import inspect
import pathlib

import grpc
import pytest

import idem
import idem.aio
from idem import CopyOutcome, RowOutcome, StopReason, UpdateOutcome
from fault_proxy import FaultProxy
from servers import Server, closed_port, hold_row_lock, psql, restarted_later

FAST = idem.RetryPolicy(initial_backoff=0.01, max_backoff=0.05)
# Against a closed port: a retry waits for a connection up to its own
# deadline (0.1 s here), then fails UNAVAILABLE like a first attempt.
FAST_GIVE_UP = idem.RetryPolicy(initial_backoff=0.01, max_backoff=0.05,
                                per_attempt_timeout=0.1)


def run(coroutine):
    return asyncio.run(coroutine)


def test_every_write_and_its_outcomes(server, tables, storage, new_id):
    row = new_id()
    (storage / "aio.txt").write_text("aio")

    async def calls():
        async with idem.aio.Client(server.address) as client:
            inserted = await client.insert(tables.versioned,
                                           [{"id": row, "version": 1}])
            again = await client.insert(tables.versioned,
                                        [{"id": row, "version": 1}])
            updated = await client.update(tables.versioned, {"id": row},
                                          set={"name": "n"})
            copied = await client.copy_file("aio.txt", "aio-copy.txt")
            return inserted, again, updated, copied

    inserted, again, updated, copied = run(calls())
    assert inserted.outcomes == (RowOutcome.INSERTED,)
    assert again.outcomes == (RowOutcome.DUPLICATE,)
    assert updated.outcome == UpdateOutcome.UPDATED
    assert copied.outcome == CopyOutcome.COPIED
    assert inserted.call.idempotency_key.startswith("auto-")


def test_exactly_once_concurrently(server, tables, new_id, new_key):
    row, key = new_id(), new_key()
    psql(f"INSERT INTO {tables.counters} VALUES ({row}, 0)")

    async def deliveries():
        async with idem.aio.Client(server.address) as client:
            return await asyncio.gather(*(
                client.exactly_once(key).update(
                    tables.counters, {"id": row}, increment={"n": 1})
                for _ in range(8)))

    answers = run(deliveries())
    assert sum(not a.replayed for a in answers) == 1
    assert {a.result.outcome for a in answers} == {UpdateOutcome.UPDATED}
    assert psql(f"SELECT n FROM {tables.counters} WHERE id = {row}") == "1"


def test_lost_answer_after_commit_replays_inserted(server, tables, new_id):
    proxy = FaultProxy(server.address)
    row = {"id": new_id(), "name": "aio-once"}

    async def insert():
        async with idem.aio.Client(proxy.address, retry=FAST) as client:
            proxy.drop_next_reply()
            return await client.insert(tables.items, [row])

    try:
        result = run(insert())
    finally:
        proxy.close()
    assert proxy.cuts == 1
    assert result.outcomes == (RowOutcome.INSERTED,)
    assert result.call.attempts >= 2 and result.call.replayed


def test_a_call_rides_through_a_restart_of_its_server(tables, new_id,
                                                      tmp_path):
    first = Server(tmp_path / "first", {
        "IDEM_ALLOW_PLAINTEXT": "true", "IDEM_TABLES": str(tables)})
    row = new_id()

    async def calls():
        async with idem.aio.Client(first.address) as client:
            await client.insert(tables.items, [{"id": new_id()}])
            first.process.kill()
            first.process.wait()
            restart, started = restarted_later(tmp_path / "second", tables,
                                               first.address)
            try:
                return await client.insert(tables.items, [{"id": row}])
            finally:
                restart.join()
                started["server"].stop()

    result = run(calls())
    assert result.outcomes == (RowOutcome.INSERTED,)
    assert result.call.attempts >= 2
    assert psql(f"SELECT count(*) FROM {tables.items} WHERE id = {row}") == "1"


def test_errors_and_budget(server, tables):
    async def calls():
        async with idem.aio.Client(server.address) as client:
            with pytest.raises(idem.PermissionDeniedError):
                await client.insert("not_allowed", [{"id": 1}])
        # A server that is not there: UNAVAILABLE, and no token taken
        # (nothing reached a server; the retries waited for a connection).
        budget = idem.RetryBudget()
        async with idem.aio.Client(closed_port(), retry=FAST_GIVE_UP,
                                   budget=budget) as client:
            with pytest.raises(idem.UnavailableError) as first:
                await client.insert(tables.items, [{"id": 1}])
        return first.value, budget.tokens

    first, tokens = run(calls())
    assert first.call.stop_reason == StopReason.MAX_ATTEMPTS
    assert tokens == 10


def test_pushback_is_honoured(server, tables, new_id):
    row = new_id()
    psql(f"INSERT INTO {tables.counters} VALUES ({row}, 0)")
    patient = idem.RetryPolicy(max_attempts=20, total_timeout=20,
                               initial_backoff=1e6, max_backoff=1e6)
    holder = hold_row_lock(tables.counters, row, 1.0)

    async def increment():
        async with idem.aio.Client(server.address, retry=patient) as client:
            return await client.update(tables.counters, {"id": row},
                                       increment={"n": 1})

    result = run(increment())
    holder.wait(timeout=30)
    assert result.outcome == UpdateOutcome.UPDATED
    assert result.call.attempts >= 2
    assert psql(f"SELECT n FROM {tables.counters} WHERE id = {row}") == "1"


# The types checkers see (idem/aio.pyi) against the calls that run.
AIO_STUB = pathlib.Path(idem.aio.__file__).with_suffix(".pyi")


def stub_methods(class_name):
    tree = ast.parse(AIO_STUB.read_text())
    [stub] = [node for node in tree.body
              if isinstance(node, ast.ClassDef) and node.name == class_name]
    return {node.name: node for node in stub.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def stub_parameters(method):
    """(name, kind, annotation, default) per parameter; a default of `...`
    in the stub stands for any value."""
    arguments = method.args
    unparse = lambda node: None if node is None else ast.unparse(node)
    positional = arguments.posonlyargs + arguments.args
    defaults = ([None] * (len(positional) - len(arguments.defaults))
                + list(arguments.defaults))
    parameters = [(a.arg, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                   unparse(a.annotation), d)
                  for a, d in zip(positional, defaults)]
    if arguments.vararg:
        parameters.append((arguments.vararg.arg,
                           inspect.Parameter.VAR_POSITIONAL,
                           unparse(arguments.vararg.annotation), None))
    parameters += [(a.arg, inspect.Parameter.KEYWORD_ONLY,
                    unparse(a.annotation), d)
                   for a, d in zip(arguments.kwonlyargs,
                                   arguments.kw_defaults)]
    return parameters


def same_default(stub_default, runtime_default):
    if stub_default is None:
        return runtime_default is inspect.Parameter.empty
    if isinstance(stub_default, ast.Constant) and stub_default.value is ...:
        return runtime_default is not inspect.Parameter.empty
    return ast.literal_eval(stub_default) == runtime_default


@pytest.mark.parametrize("runtime, special", [
    (idem.aio.Client, {"__init__", "__aenter__", "__aexit__"}),
    (idem.aio.ExactlyOnce, set())])  # made by Client.exactly_once only
def test_the_stub_has_every_call_with_its_parameters_and_result(runtime,
                                                                special):
    """A call added to the shared surface, or a parameter, that the stub
    lacks would fail a caller's correct asyncio code in mypy: each public
    call and its parameters, annotations, defaults and result must match,
    and it is a coroutine in the stub exactly when it sends a call."""
    stub = stub_methods(runtime.__name__)
    public = {name for name, member in inspect.getmembers(runtime)
              if inspect.isfunction(member)
              and (not name.startswith("_") or name in special)}
    assert set(stub) == public
    for name in public:
        function = getattr(runtime, name)
        signature = inspect.signature(function)
        runtime_parameters = [
            (p.name, p.kind, None if p.annotation is p.empty else p.annotation)
            for p in signature.parameters.values()]
        assert ([parameter[:3] for parameter in stub_parameters(stub[name])]
                == runtime_parameters), name
        for parameter, (*_, stub_default) in zip(
                signature.parameters.values(), stub_parameters(stub[name])):
            assert same_default(stub_default, parameter.default), (
                name, parameter.name)
        if name in ("__aenter__", "__aexit__", "close"):
            continue  # async at run time too
        assert ast.unparse(stub[name].returns) == signature.return_annotation
        sends = any(f"self.{send}(" in inspect.getsource(function)
                    for send in ("_run", "_send"))
        assert isinstance(stub[name], ast.AsyncFunctionDef) == sends, name


def test_closing_the_client_under_a_call_is_an_idem_error(server, tables,
                                                          new_id):
    """As with the sync client: the call ends with idem.Error, CANCELLED,
    carrying its key, so that its caller can tell it from its own task's
    cancellation and look the call up. The old client raised
    asyncio.CancelledError into a task nobody had cancelled."""
    row = new_id()
    psql(f"INSERT INTO {tables.counters} VALUES ({row}, 0)")
    holder = hold_row_lock(tables.counters, row, 30)

    async def calls():
        client = idem.aio.Client(server.address, retry=FAST)
        task = asyncio.ensure_future(client.update(
            tables.counters, {"id": row}, increment={"n": 1}))
        deadline = asyncio.get_running_loop().time() + 20
        while psql("SELECT count(*) FROM pg_stat_activity WHERE "
                   "application_name = 'idem-server' AND "
                   "wait_event_type = 'Lock'") == "0":
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.02)
        await client.close()
        with pytest.raises(idem.Error) as caught:
            await task
        # A task its caller cancels is still cancelled.
        async with idem.aio.Client(server.address, retry=FAST) as other:
            cancelled = asyncio.ensure_future(other.update(
                tables.counters, {"id": row}, increment={"n": 1}))
            await asyncio.sleep(0.3)
            cancelled.cancel()
            with pytest.raises(asyncio.CancelledError):
                await cancelled
        return caught.value

    try:
        failure = run(calls())
    finally:
        psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
             "WHERE wait_event = 'PgSleep' AND query LIKE "
             "'%FOR UPDATE; SELECT pg_sleep%'")
        holder.wait()
    assert failure.code == grpc.StatusCode.CANCELLED
    assert failure.call.idempotency_key is not None
