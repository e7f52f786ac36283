"""The pure parts of the retry discipline and of reading errors, driven
directly: decisions the real server cannot be made to produce on demand
(a refusing pushback, RetryInfo before the server sends it, jitter)."""

from __future__ import annotations

import dataclasses
import datetime
import time

import grpc
import pytest
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2

import idem
from idem import StopReason, _plans
from idem._retry import Pushback, RetryBudget, backoff_ceiling, decide
from idem.errors import DETAILS_TRAILER, error_from_status, parse_trailers
from idem.results import KeyState, key_info, keyed_result
from idem.v1 import idem_pb2

POLICY = idem.RetryPolicy()


def decision(code=grpc.StatusCode.UNAVAILABLE, pushback=Pushback(), **over):
    args = dict(retryable_call=True, attempts_done=1, now=0.0, deadline=30.0,
                policy=POLICY, budget=RetryBudget(), jitter=0.5)
    args.update(over)
    return decide(code, pushback, **args)


def test_transient_codes_are_retried_with_full_jitter():
    for code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.ABORTED,
                 grpc.StatusCode.DEADLINE_EXCEEDED):
        assert decision(code).retry
    assert decision(jitter=0.0).sleep == 0.0
    assert decision(jitter=0.5, attempts_done=3).sleep == pytest.approx(0.1)
    assert decision(jitter=0.999, attempts_done=30).sleep < POLICY.max_backoff


def test_backoff_ceiling_grows_and_saturates():
    assert [backoff_ceiling(POLICY, n) for n in (1, 2, 3)] == [0.05, 0.1, 0.2]
    assert backoff_ceiling(POLICY, 10_000) == POLICY.max_backoff


@pytest.mark.parametrize("code", [
    grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.INTERNAL])
def test_deterministic_failures_stop(code):
    assert decision(code).stop_reason == StopReason.NOT_RETRYABLE


def test_resource_exhausted_needs_a_delay():
    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    assert decision(code).stop_reason == StopReason.NOT_RETRYABLE
    assert decision(code, Pushback(delay=0.25)).sleep == 0.25


def test_a_transport_reset_is_retried_under_a_key_only():
    """gRPC's transport resets calls (ENHANCE_YOUR_CALM) while the server's
    memory quota is spent: the reset passes, but the call may have run."""
    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    assert decision(code, reset_by_transport=True).sleep == 0.025
    assert decision(code, reset_by_transport=True,
                    retryable_call=False).stop_reason == (
                        StopReason.NOT_IDEMPOTENT)


def test_pushback_wins_over_backoff_and_a_refusal_stops():
    assert decision(pushback=Pushback(delay=2.0), jitter=0.0).sleep == 2.0
    assert decision(pushback=Pushback(refuses=True)).stop_reason == (
        StopReason.PUSHBACK_REFUSAL)


def test_no_sleep_up_to_the_deadline():
    assert decision(pushback=Pushback(delay=5.0), now=26.0).stop_reason == (
        StopReason.DEADLINE)
    assert decision(now=30.0).stop_reason == StopReason.DEADLINE


def test_with_retries_off_every_call_stops_at_max_attempts():
    off = dataclasses.replace(POLICY, max_attempts=1)
    for retryable in (True, False):
        assert decision(policy=off, retryable_call=retryable).stop_reason == (
            StopReason.MAX_ATTEMPTS)


def test_a_failure_without_a_connection_takes_no_token():
    budget = RetryBudget(max_tokens=4)
    for _ in range(20):
        assert decision(budget=budget, without_connection=True).retry
    assert budget.tokens == 4


def test_unretryable_calls_still_charge_the_budget():
    budget = RetryBudget(max_tokens=4)
    assert decision(retryable_call=False, budget=budget).stop_reason == (
        StopReason.NOT_IDEMPOTENT)
    assert budget.tokens == 3
    assert decision(budget=budget).stop_reason == StopReason.RETRY_BUDGET
    budget.on_success()
    assert budget.tokens == pytest.approx(2.1)


def test_a_dropped_connection_is_one_failure_for_the_calls_in_flight():
    budget = RetryBudget()
    sent = time.monotonic()
    for _ in range(20):  # every call that was in flight on it
        assert decision(budget=budget, shared_since=sent).retry
    assert budget.tokens == 9
    assert decision(budget=budget, shared_since=time.monotonic()).retry
    assert budget.tokens == 8  # an attempt sent after it: a failure again
    for _ in range(2):  # failures of their own: a token each
        assert decision(budget=budget).retry
    assert budget.tokens == 6


def test_max_attempts():
    assert decision(attempts_done=5).stop_reason == StopReason.MAX_ATTEMPTS


def rich_status(code: grpc.StatusCode, reason: str, delay_ms: int = 0,
                **metadata: str) -> status_pb2.Status:
    status = status_pb2.Status(code=code.value[0], message="m")
    info = any_pb2.Any()
    info.Pack(error_details_pb2.ErrorInfo(reason=reason, domain="idem",
                                          metadata=metadata))
    status.details.append(info)
    if delay_ms:
        retry = any_pb2.Any()
        retry.Pack(error_details_pb2.RetryInfo(
            retry_delay=duration_pb2.Duration(nanos=delay_ms * 1_000_000)))
        status.details.append(retry)
    return status


def test_error_details_from_trailers():
    status = rich_status(grpc.StatusCode.ABORTED, "ROW_LOCKED", 250,
                         table="t")
    details = parse_trailers([
        (DETAILS_TRAILER, status.SerializeToString()),
        ("grpc-retry-pushback-ms", "900"), ("idempotent-replayed", "true")])
    assert (details.reason, details.metadata) == ("ROW_LOCKED", {"table": "t"})
    assert details.replayed
    assert Pushback.of(details) == Pushback(delay=0.25)  # RetryInfo wins


def test_pushback_header_alone_and_unreadable():
    assert Pushback.of(parse_trailers([("grpc-retry-pushback-ms", "40")])) \
        == Pushback(delay=0.04)
    for bad in ("-1", "soon"):
        assert Pushback.of(parse_trailers(
            [("grpc-retry-pushback-ms", bad)])).refuses
    assert parse_trailers([(DETAILS_TRAILER, b"\xff\xff")]).reason is None


def test_error_from_stored_status():
    error = error_from_status(rich_status(
        grpc.StatusCode.FAILED_PRECONDITION, "STEP_NOT_APPLIED", step="1"))
    assert isinstance(error, idem.FailedPreconditionError)
    assert (error.reason, error.metadata, error.replayed) == (
        "STEP_NOT_APPLIED", {"step": "1"}, True)
    assert str(error) == "FAILED_PRECONDITION [STEP_NOT_APPLIED]: m"


CALL = idem.CallInfo(attempts=1, idempotency_key="k", replayed=True,
                     stop_reason=StopReason.SUCCEEDED)


def test_expired_answer_has_no_result():
    response = idem_pb2.KeyedCallResponse(replayed=True, answer_expired=True)
    keyed = keyed_result(response, CALL)
    assert keyed.answer_expired and keyed.result is None and keyed.replayed


def test_an_auto_keyed_write_whose_answer_expired_is_an_error():
    # Nothing ran now, and what the first run answered is gone: the plain
    # result the caller asked for cannot be given (C++: DATA_LOSS too).
    expired = idem_pb2.KeyedCallResponse(replayed=True, answer_expired=True)
    for plan in (_plans.write("insert", idem_pb2.InsertRequest(), True),
                 _plans.transaction(idem_pb2.TransactionRequest())):
        with pytest.raises(idem.Error) as caught:
            plan.convert(expired, CALL)
        assert caught.value.code == grpc.StatusCode.DATA_LOSS
        assert caught.value.replayed


def test_only_idems_first_error_info_counts():
    status = rich_status(grpc.StatusCode.UNAVAILABLE, "OVERLOADED")
    foreign = any_pb2.Any()
    foreign.Pack(error_details_pb2.ErrorInfo(reason="PROXY_BUSY",
                                             domain="proxy.example"))
    status.details.insert(0, foreign)
    later = any_pb2.Any()
    later.Pack(error_details_pb2.ErrorInfo(reason="LATER", domain="idem"))
    status.details.append(later)
    assert parse_trailers([(DETAILS_TRAILER, status.SerializeToString())]
                          ).reason == "OVERLOADED"
    alone = status_pb2.Status(code=14, message="m", details=[foreign])
    assert parse_trailers([(DETAILS_TRAILER, alone.SerializeToString())]
                          ).reason is None


def test_key_info_reads_answer_and_failure():
    response = idem_pb2.GetKeyResponse(
        state=idem_pb2.KEY_STATE_FINISHED, fingerprint="ab",
        failure=rich_status(grpc.StatusCode.NOT_FOUND, "TABLE_NOT_FOUND"))
    response.expires_at.FromDatetime(datetime.datetime(2030, 1, 1))
    info = key_info(response, CALL)
    assert info.state == KeyState.FINISHED and info.answer is None
    assert isinstance(info.failure, idem.NotFoundError)
    assert info.expires_at == datetime.datetime(
        2030, 1, 1, tzinfo=datetime.timezone.utc)


def test_transaction_steps_must_be_insert_or_update():
    from idem.operations import transaction_request
    request = transaction_request([
        idem.Insert("t", [{"id": 1}], require_applied=True),
        idem.Update("t", {"id": 1}, increment={"n": 1})])
    assert [s.WhichOneof("op") for s in request.steps] == ["insert", "update"]
    assert [s.require_applied for s in request.steps] == [True, False]
    with pytest.raises(TypeError):
        transaction_request(["INSERT INTO t"])


@pytest.mark.parametrize("token", [
    "good-token\n",  # read from a file with its newline
    " good-token", "good token", "good-tökén", "good\x00token"])
def test_a_token_a_header_cannot_carry_is_refused_when_the_client_is_made(
        token):
    """The old client let gRPC refuse it at the first call: a bare
    ValueError naming the token (sync) or gRPC's internal
    ExecuteBatchError (asyncio), the token in clear on stderr too."""
    import idem.aio
    for client_type in (idem.Client, idem.aio.Client):
        with pytest.raises(ValueError) as caught:
            client_type("127.0.0.1:1", token=token)
        assert "good" not in str(caught.value)
        assert "token" in str(caught.value)
