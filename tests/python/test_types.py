"""Python values through every column type of the bad-input sweep
(tests/e2e/bad_input_test.cc): each is stored as what it means, and sent
again it is DUPLICATE (the server finds the stored row equal to it)."""

from __future__ import annotations

import datetime
import decimal
import ipaddress
import uuid

import pytest

import idem
from idem import RowOutcome
from idem._values import from_value, to_value
from servers import psql

UTC = datetime.timezone.utc
ID = uuid.UUID("123e4567-e89b-12d3-a456-426614174000")

# column: (Python value, SQL that is true when the stored value is right)
CASES = {
    "c_bigint": (2**62, "c_bigint = 4611686018427387904"),
    "c_integer": (-7, "c_integer = -7"),
    "c_smallint": (300, "c_smallint = 300"),
    "c_numeric": (decimal.Decimal("12345678901234567890.123456789"),
                  "c_numeric = 12345678901234567890.123456789"),
    "c_real": (0.5, "c_real = 0.5"),
    "c_double": (0.1, "c_double = 0.1::float8"),
    "c_boolean": (True, "c_boolean"),
    "c_text": ("Zoë ✓ \\ '\"", "c_text = 'Zoë ✓ \\ ''\"'"),
    "c_varchar": ("short", "c_varchar = 'short'"),
    "c_bytea": (b"\x00\xff\x01", "c_bytea = '\\x00ff01'::bytea"),
    "c_date": (datetime.date(2024, 2, 29), "c_date = '2024-02-29'"),
    "c_timestamptz": (
        datetime.datetime(2024, 1, 31, 12, 0, 0, 123456, tzinfo=UTC),
        "c_timestamptz = '2024-01-31 12:00:00.123456+00'"),
    "c_json": ({"a": [1, "two", None]},
               "c_json::jsonb = '{\"a\": [1, \"two\", null]}'"),
    "c_jsonb": ([1, {"b": True}], "c_jsonb = '[1, {\"b\": true}]'"),
    "c_uuid": (ID, f"c_uuid = '{ID}'"),
    "c_text_array": ("{a,\"b c\"}", "c_text_array = ARRAY['a', 'b c']"),
    "c_inet": (ipaddress.ip_address("192.0.2.1"), "c_inet = '192.0.2.1'"),
    "c_required": ("r", "c_required = 'r'"),
}


@pytest.fixture
def client(server):
    with idem.Client(server.address) as made:
        yield made


def test_every_column_type_round_trips(client, tables, new_id):
    row = {"id": new_id(), **{name: value for name, (value, _) in
                              CASES.items()}}
    assert client.insert(tables.wide, [row]).outcomes == (RowOutcome.INSERTED,)
    assert client.insert(tables.wide, [row]).outcomes == (
        RowOutcome.DUPLICATE,)
    checks = ", ".join(check for _, check in CASES.values())
    assert psql(f"SELECT {checks} FROM {tables.wide} WHERE id = "
                f"{row['id']}") == "|".join(["t"] * len(CASES))


def test_none_is_null_in_every_column(client, tables, new_id):
    row = {"id": new_id(), "c_required": "r",
           **{name: None for name in CASES if name != "c_required"}}
    assert client.insert(tables.wide, [row]).outcomes == (RowOutcome.INSERTED,)
    nulls = " AND ".join(f"{name} IS NULL" for name in CASES
                         if name != "c_required")
    assert psql(f"SELECT {nulls} FROM {tables.wide} WHERE id = "
                f"{row['id']}") == "t"


def test_a_wrong_kind_is_refused_by_the_server(client, tables, new_id):
    with pytest.raises(idem.InvalidArgumentError) as caught:
        client.insert(tables.wide, [{"id": new_id(), "c_required": "r",
                                     "c_boolean": 1}])
    assert "c_boolean" in caught.value.message


def test_wire_kinds_of_python_values():
    kinds = {name: to_value(value).WhichOneof("kind")
             for name, (value, _) in CASES.items()}
    assert kinds["c_bigint"] == "int_value"
    assert kinds["c_double"] == "double_value"
    assert kinds["c_boolean"] == "bool_value"
    assert kinds["c_bytea"] == "bytes_value"
    assert {kinds[n] for n in ("c_numeric", "c_date", "c_timestamptz",
                               "c_json", "c_uuid", "c_inet")} == {
        "string_value"}
    for plain in (None, True, -3, 2.5, "s", b"b"):
        assert from_value(to_value(plain)) == plain


def test_returning_gives_the_stored_values(client, tables, new_id):
    row = {"id": new_id(), **{name: value for name, (value, _) in
                              CASES.items()}}
    result = client.insert(tables.wide, [row], returning=list(CASES))
    returned = result.returned[0]
    for name in ("c_bigint", "c_integer", "c_smallint", "c_boolean",
                 "c_text", "c_varchar", "c_bytea", "c_real", "c_double",
                 "c_required"):
        assert returned[name] == row[name], name
    assert decimal.Decimal(str(returned["c_numeric"])) == row["c_numeric"]
    assert uuid.UUID(returned["c_uuid"]) == ID
