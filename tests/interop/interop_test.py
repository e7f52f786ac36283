#!/usr/bin/python3
"""A second language calling idem: Python (Debian's python3-grpcio) with stubs
generated from proto/idem/v1/idem.proto, calling the proto itself (the
package idem's own tests are tests/python), against a real idem-server
started here on the tests' PostgreSQL. Also drives scripts/idem-py as a user
would.

Environment (set by CTest): IDEM_TEST_DATABASE_URL, IDEM_SERVER_BINARY,
IDEM_SOURCE_DIR.
"""

import importlib.machinery
import importlib.util
import json
import os
import signal
import shutil
import subprocess
import tempfile
import time
import unittest
import uuid
from pathlib import Path

SOURCE_DIR = Path(os.environ["IDEM_SOURCE_DIR"])
DATABASE_URL = os.environ["IDEM_TEST_DATABASE_URL"]
SERVER_BINARY = os.environ["IDEM_SERVER_BINARY"]
IDEM_PY = SOURCE_DIR / "scripts" / "idem-py"


def load_idem_py():
    loader = importlib.machinery.SourceFileLoader("idem_py", str(IDEM_PY))
    spec = importlib.util.spec_from_loader("idem_py", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def to_row(pb2, columns):
    """Plain Python values as an idem.v1.Row, by hand."""
    row = pb2.Row()
    for name, value in columns.items():
        cell = row.columns[name]
        if value is None:
            cell.null_value = 0
        elif isinstance(value, bool):
            cell.bool_value = value
        elif isinstance(value, int):
            cell.int_value = value
        elif isinstance(value, float):
            cell.double_value = value
        else:
            cell.string_value = value
    return row


def psql(sql):
    return subprocess.run(
        ["/usr/bin/psql", DATABASE_URL, "-v", "ON_ERROR_STOP=1", "-Atqc", sql],
        check=True, capture_output=True, text=True).stdout.strip()


def wait_for_address(server, log_path, bound=30.0):
    """The address from the server's "listening" log line."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        for line in Path(log_path).read_text().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("event") == "listening":
                return entry["address"]
        if server.poll() is not None:
            break
        time.sleep(0.02)
    raise RuntimeError("idem-server did not start:\n" +
                       Path(log_path).read_text())


class InteropTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import grpc
        cls.grpc = grpc
        cls.temp = tempfile.TemporaryDirectory(prefix="idem-interop-")
        cls.idem_py = load_idem_py()
        cls.pb2, cls.pb2_grpc = cls.idem_py.load_stubs(
            Path(cls.temp.name) / "stubs")
        cls.table = f"interop_{os.getpid()}"
        psql(f"CREATE TABLE {cls.table} (id bigint PRIMARY KEY, name text, "
             "value double precision, at timestamptz, doc jsonb, raw bytea)")
        cls.log_path = Path(cls.temp.name) / "server.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("IDEM_")}
        env.update({"IDEM_DATABASE_URL": DATABASE_URL,
                    "IDEM_LISTEN": "127.0.0.1:0",
                    "IDEM_ALLOW_PLAINTEXT": "true",
                    "IDEM_DRAIN_DELAY": "0s",
                    "IDEM_TABLES": cls.table})
        with open(cls.log_path, "w") as log:
            cls.server = subprocess.Popen([SERVER_BINARY], env=env, stdout=log,
                                          stderr=subprocess.STDOUT)
        cls.address = wait_for_address(cls.server, cls.log_path)
        # As README advises a client of its own: no transparent retries,
        # which can send again a call the server ran (docs/client.md).
        cls.channel = grpc.insecure_channel(
            cls.address, options=[("grpc.enable_retries", 0)])
        cls.stub = cls.pb2_grpc.IdemServiceStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.server.send_signal(signal.SIGTERM)
        code = cls.server.wait(timeout=60)
        psql(f"DROP TABLE {cls.table}")
        cls.temp.cleanup()
        if code != 0:
            raise AssertionError(f"idem-server exited {code}")

    def value(self, **kind):
        return self.pb2.Value(**kind)

    def insert(self, rows, **options):
        request = self.pb2.InsertRequest(
            table=self.table,
            rows=[to_row(self.pb2, row) for row in rows],
            **options)
        return self.stub.Insert(request, timeout=30)

    def outcome_names(self, response):
        return [self.pb2.RowOutcome.Name(o) for o in response.outcomes]

    def test_insert_then_duplicate_then_conflict(self):
        row = {"id": 1, "name": "a", "value": 1.5}
        first = self.insert([row])
        self.assertEqual(self.outcome_names(first), ["ROW_OUTCOME_INSERTED"])
        self.assertEqual(first.inserted, 1)
        again = self.insert([row])
        self.assertEqual(self.outcome_names(again), ["ROW_OUTCOME_DUPLICATE"])
        self.assertEqual(again.duplicates, 1)
        changed = self.insert([dict(row, name="b")])
        self.assertEqual(self.outcome_names(changed), ["ROW_OUTCOME_CONFLICT"])
        self.assertEqual(psql(f"SELECT name, value FROM {self.table} "
                              "WHERE id = 1"), "a|1.5")

    def test_typed_values_built_by_hand(self):
        row = self.pb2.Row()
        row.columns["id"].int_value = 2
        row.columns["at"].string_value = "2024-05-06T07:08:09Z"
        row.columns["doc"].string_value = '{"k": [1, "two"]}'
        row.columns["raw"].bytes_value = b"\x00\xfe"
        row.columns["name"].null_value = 0
        response = self.stub.Insert(
            self.pb2.InsertRequest(table=self.table, rows=[row]), timeout=30)
        self.assertEqual(self.outcome_names(response), ["ROW_OUTCOME_INSERTED"])
        self.assertEqual(
            psql(f"SELECT extract(epoch FROM at), doc->'k'->>1, "
                 f"encode(raw, 'hex'), name IS NULL FROM {self.table} "
                 "WHERE id = 2"),
            "1714979289.000000|two|00fe|t")

    def test_update_outcomes(self):
        self.insert([{"id": 3, "name": "c", "value": 0.0}])
        key = to_row(self.pb2, {"id": 3})
        request = self.pb2.UpdateRequest(
            table=self.table, key=key,
            set=to_row(self.pb2, {"name": "d"}))
        self.assertEqual(self.stub.Update(request, timeout=30).outcome,
                         self.pb2.UPDATE_OUTCOME_UPDATED)
        self.assertEqual(self.stub.Update(request, timeout=30).outcome,
                         self.pb2.UPDATE_OUTCOME_UNCHANGED)

    def test_bad_request_is_invalid_argument(self):
        with self.assertRaises(self.grpc.RpcError) as caught:
            self.insert([{"id": 4, "no_such_column": 1}])
        self.assertEqual(caught.exception.code(),
                         self.grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(psql(f"SELECT count(*) FROM {self.table} "
                              "WHERE id = 4"), "0")

    def test_batch_answers_each_call_on_its_own(self):
        good = self.pb2.InsertRequest(
            table=self.table, rows=[to_row(self.pb2, {"id": 5, "name": "e"})])
        bad = self.pb2.InsertRequest(
            table=self.table, rows=[to_row(self.pb2, {"id": 6, "nope": 1})])
        keyed = self.pb2.KeyedCallRequest(
            idempotency_key=f"interop-batch-{uuid.uuid4().hex}",
            insert=self.pb2.InsertRequest(
                table=self.table,
                rows=[to_row(self.pb2, {"id": 7, "name": "g"})]))
        request = self.pb2.BatchRequest(calls=[
            self.pb2.BatchCall(insert=good), self.pb2.BatchCall(insert=bad),
            self.pb2.BatchCall(keyed_call=keyed)])
        first = self.stub.Batch(request, timeout=30)
        self.assertEqual([r.code for r in first.results],
                         [0, self.grpc.StatusCode.INVALID_ARGUMENT.value[0], 0])
        self.assertEqual(self.outcome_names(first.results[0].insert),
                         ["ROW_OUTCOME_INSERTED"])
        self.assertFalse(first.results[1].HasField("insert"))
        self.assertFalse(first.results[2].replayed)
        again = self.stub.Batch(request, timeout=30)
        self.assertTrue(again.results[2].replayed)
        self.assertEqual(psql(f"SELECT count(*) FROM {self.table} "
                              "WHERE id IN (5, 6, 7)"), "2")

    def run_cli(self, *args):
        result = subprocess.run(
            ["/usr/bin/python3", str(IDEM_PY), "--target", self.address,
             *args],
            capture_output=True, text=True, timeout=60,
            env=dict(os.environ, IDEM_PY_CACHE=str(Path(self.temp.name) /
                                                   "cli-cache")))
        return result.returncode, json.loads(result.stdout), result.stderr

    def test_idem_py_cli(self):
        rows = json.dumps([{"id": 10, "name": "cli", "value": 2.5},
                           {"id": 11, "name": None, "value": 3}])
        code, out, err = self.run_cli("insert", "--table", self.table,
                                      "--rows", rows)
        self.assertEqual(code, 0, err)
        self.assertEqual(out["outcomes"], ["INSERTED"] * 2)
        self.assertEqual((out["inserted"], out["duplicates"]), (2, 0))
        code, out, err = self.run_cli("insert", "--table", self.table,
                                      "--rows", rows)
        self.assertEqual(out["outcomes"], ["DUPLICATE"] * 2)
        code, out, err = self.run_cli(
            "update", "--table", self.table, "--where", '{"id": 10}',
            "--increment", '{"value": 0.5}')
        self.assertEqual(code, 0, err)
        self.assertEqual(out["outcome"], "UPDATED")
        self.assertTrue(out["call"]["idempotency_key"].startswith("auto-"))
        self.assertEqual(psql(f"SELECT value FROM {self.table} "
                              "WHERE id = 10"), "3")
        key = f"interop-cli-{uuid.uuid4().hex}"
        for replayed in (False, True):
            code, out, err = self.run_cli(
                "--key", key, "update", "--table", self.table, "--where",
                '{"id": 11}', "--increment", '{"value": 1}')
            self.assertEqual(code, 0, err)
            self.assertEqual(out["result"]["outcome"], "UPDATED")
            self.assertEqual(out["call"]["replayed"], replayed)
        self.assertEqual(psql(f"SELECT value FROM {self.table} "
                              "WHERE id = 11"), "4")
        code, out, err = self.run_cli("insert", "--table", "not_allowed",
                                      "--rows", '[{"id": 1}]')
        self.assertEqual(code, 1)
        self.assertEqual(out["error"]["code"], "PERMISSION_DENIED")

    def test_idem_py_outside_a_checkout_uses_the_installed_package(self):
        # The script copied away from its checkout, beside an installed
        # package (here: the package staged into a folder on PYTHONPATH).
        staged = Path(self.temp.name) / "installed"
        load_idem_py().load_package(staged)
        [site] = [path for path in staged.iterdir() if (path / "idem").is_dir()]
        alone = Path(self.temp.name) / "bin" / "idem-py"
        alone.parent.mkdir()
        shutil.copy(IDEM_PY, alone)
        result = subprocess.run(
            ["/usr/bin/python3", str(alone), "--target", self.address,
             "insert", "--table", self.table, "--rows", '[{"id": 20}]'],
            capture_output=True, text=True, timeout=60,
            env=dict(os.environ, PYTHONPATH=str(site)))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(json.loads(result.stdout)["outcomes"], ["INSERTED"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
