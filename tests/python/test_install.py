"""`pip install ./client/python` into a fresh venv that sees Debian's
python3-grpcio and python3-protobuf, then the examples (examples/python),
run by that venv's python against a server serving what `scripts/run`
serves (the example_server fixture)."""

from __future__ import annotations

import os
import subprocess

import pytest

from servers import SOURCE_DIR, psql

EXAMPLES = SOURCE_DIR / "examples" / "python"


def venv_with(venv, package):
    """A fresh venv over Debian's packages with `package` pip-installed;
    returns its python."""
    subprocess.run(["/usr/bin/python3", "-m", "venv",
                    "--system-site-packages", str(venv)], check=True)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", str(package)],
                         capture_output=True, text=True, cwd=venv)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    return venv / "bin" / "python"


@pytest.fixture(scope="module")
def venv_python(tmp_path_factory):
    return venv_with(tmp_path_factory.mktemp("venv"),
                     SOURCE_DIR / "client" / "python")


def run_example(python, server, name, *args):
    """Runs from outside the checkout: `idem` comes from the venv."""
    result = subprocess.run(
        [str(python), str(EXAMPLES / name), *args], capture_output=True,
        text=True, timeout=120, cwd=server.storage,
        env=dict(os.environ, IDEM_TARGET=server.address,
                 IDEM_STORAGE_ROOT=str(server.storage)))
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_installed_package_is_importable_from_the_venv(venv_python):
    where = subprocess.run(
        [str(venv_python), "-c", "import idem, idem.aio, google.rpc.status_pb2"
         " as s, google.protobuf as p; print(idem.__file__, s.__file__, "
         "p.__file__)"], capture_output=True, text=True, cwd="/")
    assert where.returncode == 0, where.stderr
    package, status, protobuf = where.stdout.split()
    prefix = str(venv_python.parent.parent)
    assert package.startswith(prefix) and status.startswith(prefix)
    assert protobuf.startswith("/usr/lib/python3/dist-packages")


def type_check(python, *what):
    """mypy over `what` (paths, or "-c", code) as a caller would run it:
    packages from `python`'s venv, and no stubs for grpc or protobuf,
    which Debian does not have (their imports are Any)."""
    return subprocess.run(
        ["/usr/bin/python3", "-m", "mypy", "--python-executable", str(python),
         "--no-incremental", "--ignore-missing-imports",
         "--disable-error-code", "import", *what],
        capture_output=True, text=True, cwd="/")


def test_the_examples_type_check_against_the_installed_package(venv_python):
    """What a caller who runs mypy gets: the package says it is typed
    (py.typed) and the messages have the stubs protoc writes, so a wrong
    call fails the caller's check instead of running."""
    check = type_check(venv_python, str(EXAMPLES))
    assert check.returncode == 0, check.stdout + check.stderr
    wrong = type_check(venv_python, "-c",
                       "import idem\nidem.Client(target=42)\n"
                       "from idem.v1 import idem_pb2\n"
                       "idem_pb2.InsertRequest(table=7)\n")
    assert wrong.returncode == 1, wrong.stdout + wrong.stderr
    assert wrong.stdout.count("error:") == 2, wrong.stdout
    # The asyncio client's calls are coroutines of the same results
    # (idem/aio.pyi): correct code passes, as it did not while the checker
    # read the sync client's results there, and wrong code fails.
    asyncio_code = type_check(
        venv_python, "-c",
        "import idem, idem.aio\n"
        "async def main() -> idem.RowOutcome:\n"
        "    async with idem.aio.Client('idem:50051') as client:\n"
        "        done = await client.exactly_once('k').insert('t', [])\n"
        "        assert done.result is not None\n"
        "        info: idem.KeyInfo = await client.get_key('k')\n"
        "        inserted = await client.insert('t', [{'id': 1}])\n"
        "        return inserted.outcomes[0]\n")
    assert asyncio_code.returncode == 0, asyncio_code.stdout
    wrong = type_check(
        venv_python, "-c",
        "import idem.aio\n"
        "async def main() -> None:\n"
        "    async with idem.aio.Client('idem:50051') as client:\n"
        "        count: int = await client.insert('t', [])\n"
        "        await client.exactly_once('k').update('t', {}, sett={})\n"
        "        client.insert('t', []).outcomes\n")
    assert wrong.returncode == 1, wrong.stdout + wrong.stderr
    assert wrong.stdout.count("error:") == 3, wrong.stdout


def test_sdist_builds_away_from_the_checkout(tmp_path):
    import idem_build
    sdist = tmp_path / idem_build.build_sdist(tmp_path)
    python = venv_with(tmp_path / "venv", sdist)
    check = subprocess.run([str(python), "-c", "import idem.aio"], cwd="/")
    assert check.returncode == 0


def test_insert_ignoring_duplicates(venv_python, example_server):
    out = run_example(venv_python, example_server,
                      "insert_ignoring_duplicates.py")
    assert "first batch:  ['INSERTED', 'INSERTED', 'INSERTED']" in out
    assert "id 101: DUPLICATE" in out and "id 102: CONFLICT" in out
    assert "id 104: INSERTED" in out


def test_update_by_id(venv_python, example_server):
    out = run_example(venv_python, example_server, "update_by_id.py")
    assert "set, call 1: UPDATED" in out and "set, call 2: UNCHANGED" in out
    assert "delivery 1: UPDATED, replayed=False" in out
    assert "delivery 2: UPDATED, replayed=True" in out
    assert "missing id: NOT_FOUND" in out
    assert psql("SELECT value FROM example_table WHERE id = 201",
                example_server.url) == "10"


def test_copy_with_backup(venv_python, example_server):
    out = run_example(venv_python, example_server, "copy_with_backup.py")
    assert "first copy: COPIED" in out
    assert "same content again: UNCHANGED" in out
    backup = out.rsplit("kept as ", 1)[1].strip()
    assert "corrected report: REPLACED" in out
    assert (example_server.storage / backup).read_text().endswith(",41\n")


def test_keyed_retry(venv_python, example_server):
    out = run_example(venv_python, example_server, "keyed_retry.py")
    assert "first call:  INSERTED, replayed=False" in out
    assert "after crash: INSERTED, replayed=True" in out
    assert "retried by idem.Client: COPIED, replayed=True" in out


def test_csv_loader_resumes_after_a_crash(venv_python, example_server):
    out = run_example(venv_python, example_server, "csv_loader.py",
                      "--stop-after", "2")
    assert "stopping after 2 chunks" in out
    out = run_example(venv_python, example_server, "csv_loader.py")
    assert "starting at line 101" in out
    assert out.count("50 inserted, 0 already there") == 2
    assert "done, 200 lines loaded" in out
    url = example_server.url
    assert psql("SELECT count(*) FROM example_table "
                "WHERE id BETWEEN 10001 AND 10200",
                url) == "200"
    assert psql("SELECT next_line FROM example_checkpoint", url) == "200"

