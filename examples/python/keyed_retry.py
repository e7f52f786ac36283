#!/usr/bin/env python3
"""A call under an idempotency key: a resend gets the first answer.

1. A consumer inserts an order under the order's key, then crashes before
   acknowledging its message. The message comes again; the same call under
   the same key answers INSERTED, replayed, instead of DUPLICATE: the
   consumer carries on as if its first attempt had answered.
2. Two deliveries at once: while the first call under a key is still
   running, the second is told to come back later (ABORTED with a retry
   delay, HTTP's 409 Conflict + Retry-After). A client that does not retry
   sees that; idem.Client waits the delay and gets the first call's answer.

Run `scripts/run` in another shell, then: examples/python/keyed_retry.py
"""

import os
import threading
import time
import uuid
from pathlib import Path

import idem

TARGET = os.environ.get("IDEM_TARGET", "127.0.0.1:50051")
ROOT = Path(os.environ.get("IDEM_STORAGE_ROOT") or
            Path(__file__).resolve().parents[2] / ".local" / "storage")

with idem.Client(TARGET) as client:
    # 1. A resend after a crash.
    order = f"order-{uuid.uuid4()}"
    row = {"id": 300 + uuid.uuid4().int % 1_000_000, "name": order}
    first = client.exactly_once(order).insert("example_table", [row])
    # A keyed result is None only once the key's answer has expired (the
    # call ran long ago, answer_expired): not so minutes after it.
    assert first.result is not None
    print(f"first call:  {first.result.outcomes[0].name}, "
          f"replayed={first.replayed}")
    resent = client.exactly_once(order).insert("example_table", [row])
    assert resent.result is not None
    print(f"after crash: {resent.result.outcomes[0].name}, "
          f"replayed={resent.replayed}, first run at "
          f"{resent.first_executed_at:%H:%M:%S.%f}")

    # 2. Two deliveries at once, on a copy slow enough to overlap.
    big = ROOT / "inbox" / "big.bin"
    big.parent.mkdir(parents=True, exist_ok=True)
    big.write_bytes(os.urandom(32 << 20))
    key = f"archive-{uuid.uuid4()}"
    answers = {}

    def deliver(name):
        answers[name] = client.exactly_once(key).copy_file(
            "inbox/big.bin", f"archive/big-{key}.bin")

    other = threading.Thread(target=deliver, args=("first delivery",))
    other.start()
    time.sleep(0.02)
    impatient = idem.Client(TARGET, retry=idem.RetryPolicy(max_attempts=1))
    try:
        answer = impatient.exactly_once(key).copy_file(
            "inbox/big.bin", f"archive/big-{key}.bin")
        print("second delivery: " + ("the first had finished: replayed"
                                     if answer.replayed else "it ran first"))
    except idem.AbortedError as error:
        print(f"second delivery, not retried: {error.code.name} "
              f"({error.reason or 'key in flight'}), retry in "
              f"{error.retry_delay} s")
    finally:
        impatient.close()
    deliver("second delivery, retried by idem.Client")
    other.join()
    for name, answer in answers.items():
        assert answer.result is not None
        print(f"{name}: {answer.result.outcome.name}, "
              f"replayed={answer.replayed}")
    big.unlink()
    (ROOT / "archive" / f"big-{key}.bin").unlink()
