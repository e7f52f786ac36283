"""Shared set-up of the Python client's tests (tests/python, run by CTest
as `python_client` with the tests' PostgreSQL).

The package is staged from client/python (sources plus stubs generated from
proto/, as `pip install` would lay them out) into a temporary folder that
goes first on sys.path; test_install.py checks the real pip install.
"""

from __future__ import annotations

import itertools
import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from servers import DATABASE_URL, SOURCE_DIR, Server, psql  # noqa: E402

sys.path.insert(0, str(SOURCE_DIR / "client" / "python"))

import idem_build  # noqa: E402

_STAGE = Path(tempfile.mkdtemp(prefix="idem-py-stage-"))
_STAGED_PACKAGE = idem_build.stage(_STAGE)
sys.path.insert(0, str(_STAGED_PACKAGE))


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_STAGE, ignore_errors=True)


class Tables:
    """The session's tables (unique names: other suites share the cluster)."""

    def __init__(self) -> None:
        prefix = f"py{os.getpid()}"
        self.items = f"{prefix}_items"
        self.versioned = f"{prefix}_versioned"
        self.counters = f"{prefix}_counters"
        self.wide = f"{prefix}_wide"
        self.generated = f"{prefix}_generated"
        self.ddl = {
            self.items: "id bigint PRIMARY KEY, name text, "
                        "value double precision",
            self.versioned: "id bigint PRIMARY KEY, name text, version bigint",
            self.counters: "id bigint PRIMARY KEY, n bigint NOT NULL",
            self.wide: WIDE_COLUMNS,
            self.generated: "code text PRIMARY KEY, seq bigserial, "
                            "note text DEFAULT 'fresh'",
        }

    def create(self) -> None:
        for name, columns in self.ddl.items():
            psql(f"DROP TABLE IF EXISTS {name}; CREATE TABLE {name} "
                 f"({columns})")

    def drop(self) -> None:
        psql("DROP TABLE IF EXISTS " + ", ".join(self.ddl))

    def __str__(self) -> str:
        return ",".join(self.ddl)


# The column types of the bad-input sweep (tests/e2e/bad_input_test.cc).
WIDE_COLUMNS = ", ".join([
    "id bigint PRIMARY KEY", "c_bigint bigint", "c_integer integer",
    "c_smallint smallint", "c_numeric numeric", "c_real real",
    "c_double double precision", "c_boolean boolean", "c_text text",
    "c_varchar varchar(10)", "c_bytea bytea", "c_date date",
    "c_timestamptz timestamptz", "c_json json", "c_jsonb jsonb",
    "c_uuid uuid", "c_text_array text[]", "c_inet inet",
    "c_required text NOT NULL"])


@pytest.fixture(scope="session")
def tables() -> Tables:
    created = Tables()
    created.create()
    yield created
    created.drop()


@pytest.fixture(scope="session")
def storage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("storage")


@pytest.fixture(scope="session")
def server(tables: Tables, storage: Path,
           tmp_path_factory: pytest.TempPathFactory) -> Server:
    """The plaintext server most tests call."""
    started = Server(tmp_path_factory.mktemp("server"), {
        "IDEM_ALLOW_PLAINTEXT": "true", "IDEM_TABLES": str(tables),
        "IDEM_STORAGE_ROOT": str(storage), "IDEM_LOCK_TIMEOUT": "300ms"})
    yield started
    started.stop()


@pytest.fixture(scope="session")
def staged_package() -> Path:
    """The folder holding the staged package, for child processes'
    PYTHONPATH."""
    return _STAGED_PACKAGE


@pytest.fixture(scope="module")
def example_server(request: pytest.FixtureRequest,
                   tmp_path_factory: pytest.TempPathFactory) -> Server:
    """A server serving what `scripts/run` serves (example_table,
    example_checkpoint, a storage root) for the examples, in a database of
    the module's own."""
    database = f"py_{request.module.__name__}_{os.getpid()}".lower()
    psql(f"DROP DATABASE IF EXISTS {database}")
    psql(f"CREATE DATABASE {database}")
    url = DATABASE_URL.rsplit("/", 1)[0] + "/" + database
    psql("CREATE TABLE example_table (id bigint PRIMARY KEY, name text, "
         "value double precision); CREATE TABLE example_checkpoint ("
         "loader text PRIMARY KEY, next_line bigint NOT NULL)", url)
    storage = tmp_path_factory.mktemp("example-storage")
    started = Server(tmp_path_factory.mktemp("example-server"), {
        "IDEM_ALLOW_PLAINTEXT": "true",
        "IDEM_TABLES": "example_table,example_checkpoint",
        "IDEM_STORAGE_ROOT": str(storage)}, database_url=url)
    started.storage, started.url = storage, url
    yield started
    started.stop()
    psql(f"DROP DATABASE {database}")


_ids = itertools.count(1)


@pytest.fixture
def new_id():
    """Row ids no other test of the session uses."""
    return lambda: next(_ids)


@pytest.fixture
def new_key():
    """Idempotency keys unused so far (the cluster keeps keys between runs)."""
    return lambda: f"py-{uuid.uuid4()}"
