"""TLS, mutual TLS and bearer tokens, as the C++ client offers them,
against servers started with certificates and a tokens file."""

from __future__ import annotations

import asyncio
import hashlib
import json

import pytest

import idem
import idem.aio
import pki
from idem import RowOutcome
from servers import Server

TOKEN = "py-secret-token"
NO_RETRY = idem.RetryPolicy(max_attempts=1, total_timeout=10)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return pki.make(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_server(certs, tables, tmp_path_factory):
    """TLS, and every call needs the token."""
    folder = tmp_path_factory.mktemp("tls-server")
    tokens = folder / "tokens.json"
    tokens.write_text(json.dumps({"tokens": [{
        "sha256": hashlib.sha256(TOKEN.encode()).hexdigest(),
        "tenant": "py", "tables": ["*"], "operations": ["*"]}]}))
    started = Server(folder, {
        "IDEM_TLS_CERT": str(certs / "server.pem"),
        "IDEM_TLS_KEY": str(certs / "server.key"),
        "IDEM_AUTH_TOKENS": str(tokens), "IDEM_TABLES": str(tables)})
    yield started
    started.stop()


@pytest.fixture(scope="module")
def mtls_server(certs, tables, tmp_path_factory):
    started = Server(tmp_path_factory.mktemp("mtls-server"), {
        "IDEM_TLS_CERT": str(certs / "server.pem"),
        "IDEM_TLS_KEY": str(certs / "server.key"),
        "IDEM_TLS_CLIENT_CA": str(certs / "ca.pem"),
        "IDEM_TABLES": str(tables)})
    yield started
    started.stop()


def test_tls_with_token(tls_server, certs, tables, new_id):
    tls = idem.TLS(ca_file=str(certs / "ca.pem"))
    with idem.Client(tls_server.address, tls=tls, token=TOKEN) as client:
        result = client.insert(tables.items, [{"id": new_id()}])
    assert result.outcomes == (RowOutcome.INSERTED,)


def test_missing_or_wrong_token_is_unauthenticated(tls_server, certs,
                                                   tables):
    tls = idem.TLS(ca_file=str(certs / "ca.pem"))
    for token in (None, "wrong"):
        with idem.Client(tls_server.address, tls=tls, token=token) as client:
            with pytest.raises(idem.UnauthenticatedError):
                client.insert(tables.items, [{"id": 1}])


def test_server_name_override(tls_server, certs, tables, new_id):
    target = tls_server.address.replace("127.0.0.1", "localhost")
    tls = idem.TLS(ca_file=str(certs / "ca.pem"), server_name="localhost")
    with idem.Client(target, tls=tls, token=TOKEN) as client:
        assert client.insert(tables.items, [{"id": new_id()}]).inserted == 1


def test_unknown_ca_fails_without_retry(tls_server, tables):
    # The system roots do not know the test CA: the handshake fails.
    with idem.Client(tls_server.address, tls=True, token=TOKEN,
                     retry=NO_RETRY) as client:
        with pytest.raises(idem.UnavailableError):
            client.insert(tables.items, [{"id": 1}])


def test_mutual_tls(mtls_server, certs, tables, new_id):
    tls = idem.TLS(ca_file=str(certs / "ca.pem"),
                   cert_file=str(certs / "client.pem"),
                   key_file=str(certs / "client.key"))
    with idem.Client(mtls_server.address, tls=tls) as client:
        assert client.insert(tables.items, [{"id": new_id()}]).inserted == 1
    without = idem.TLS(ca_file=str(certs / "ca.pem"))
    with idem.Client(mtls_server.address, tls=without,
                     retry=NO_RETRY) as client:
        with pytest.raises(idem.UnavailableError):
            client.insert(tables.items, [{"id": new_id()}])


def test_asyncio_client_over_tls(tls_server, certs, tables, new_id):
    tls = idem.TLS(ca_file=str(certs / "ca.pem"))

    async def insert():
        async with idem.aio.Client(tls_server.address, tls=tls,
                                   token=TOKEN) as client:
            return await client.insert(tables.items, [{"id": new_id()}])

    assert asyncio.run(insert()).outcomes == (RowOutcome.INSERTED,)


def test_a_certificate_needs_its_key():
    with pytest.raises(ValueError, match="needs its key"):
        idem.TLS(cert_file="client.pem")
