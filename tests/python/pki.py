"""Test certificates made with the openssl command line, as
tests/security/pki.cc makes them: a CA, a server certificate for
127.0.0.1/localhost, and a client certificate for mutual TLS."""

from __future__ import annotations

import subprocess
from pathlib import Path

_NEW_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes"]


def _run(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _issue(folder: Path, name: str, subject: str, extensions: str) -> None:
    (folder / f"{name}.ext").write_text("basicConstraints=CA:FALSE\n" +
                                        extensions)
    _run("req", *_NEW_KEY, "-keyout", str(folder / f"{name}.key"),
         "-out", str(folder / f"{name}.csr"), "-subj", subject)
    _run("x509", "-req", "-in", str(folder / f"{name}.csr"),
         "-CA", str(folder / "ca.pem"), "-CAkey", str(folder / "ca.key"),
         "-CAcreateserial", "-out", str(folder / f"{name}.pem"),
         "-days", "2", "-extfile", str(folder / f"{name}.ext"))


def make(folder: Path) -> Path:
    """ca.pem, server.pem/.key, client.pem/.key in `folder`."""
    _run("req", "-x509", *_NEW_KEY, "-keyout", str(folder / "ca.key"),
         "-out", str(folder / "ca.pem"), "-days", "2", "-subj", "/CN=py-ca",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    _issue(folder, "server", "/CN=localhost",
           "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
           "extendedKeyUsage=serverAuth\n")
    _issue(folder, "client", "/O=acme/CN=py-client",
           "extendedKeyUsage=clientAuth\n")
    return folder
