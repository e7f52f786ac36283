#!/usr/bin/env python3
"""Update one row by its id: an absolute `set`, and an increment that
happens once however often it is sent.

A set is safe to repeat (the second time it is UNCHANGED). An increment is
not: sent twice, it adds twice. So the increment goes under an idempotency
key (exactly_once): the second delivery of the same payment gets the first
answer back, replayed, and the value moves once.

Run `scripts/run` in another shell, then: examples/python/update_by_id.py
"""

import os
import uuid

import idem

TARGET = os.environ.get("IDEM_TARGET", "127.0.0.1:50051")

with idem.Client(TARGET) as client:
    client.insert("example_table", [{"id": 201, "name": "wallet",
                                     "value": 0.0}])
    for attempt in (1, 2):
        result = client.update("example_table", {"id": 201},
                               set={"name": "wallet of Ada"})
        print(f"set, call {attempt}: {result.outcome.name}")

    payment = f"payment-{uuid.uuid4()}"  # in real life: the message's id
    for delivery in (1, 2):
        keyed = client.exactly_once(payment).update(
            "example_table", {"id": 201}, increment={"value": 10})
        # None only once the key's answer has expired (it ran long ago).
        assert keyed.result is not None
        print(f"increment under {payment}, delivery {delivery}: "
              f"{keyed.result.outcome.name}, replayed={keyed.replayed}")
    missing = client.update("example_table", {"id": 999_999},
                            set={"name": "nobody"})
    print(f"update of a missing id: {missing.outcome.name}")
