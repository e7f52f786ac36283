"""A PEP 517 build backend for the `idem` package, on the standard library.

Why not setuptools: pip builds in an isolated environment and would download
setuptools into it, and the only registry reachable here is Debian's. A wheel
is a zip file with three metadata files, which is little to write by hand.

The gRPC stubs are generated at build time from the project's proto files
(never checked in): `idem/v1/idem_pb2*.py` and their `.pyi` stubs inside the
package (it is typed: `idem/py.typed`), and
`google/rpc/*_pb2.py` as a namespace package next to `google.protobuf`.
`stage(folder)` lays out the importable tree; the tests use it directly.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
import tomllib
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
# In the repository the protos are two levels up; an sdist carries a copy.
PROTO_ROOTS = (HERE / "proto", HERE.parent.parent / "proto")
PROTOS = ("idem/v1/idem.proto", "google/rpc/status.proto",
          "google/rpc/error_details.proto")


def _project() -> dict:
    return tomllib.loads((HERE / "pyproject.toml").read_text())["project"]


def _proto_root() -> Path:
    for root in PROTO_ROOTS:
        if (root / PROTOS[0]).is_file():
            return root
    raise FileNotFoundError(f"{PROTOS[0]} not found under {PROTO_ROOTS}")


def _tool(name: str) -> str:
    path = shutil.which(name) or f"/usr/bin/{name}"
    if not os.access(path, os.X_OK):
        raise FileNotFoundError(
            f"{name} is needed to build idem (Debian: apt-get install "
            "protobuf-compiler protobuf-compiler-grpc)")
    return path


def stage(folder: str | os.PathLike) -> Path:
    """Writes the importable tree (package sources and generated stubs)
    into `folder` and returns it."""
    out = Path(folder)
    shutil.copytree(HERE / "src" / "idem", out / "idem",
                    ignore=shutil.ignore_patterns("__pycache__"),
                    dirs_exist_ok=True)
    root = _proto_root()
    subprocess.run(
        [_tool("protoc"), f"-I{root}", "-I/usr/include",
         f"--python_out={out}", f"--pyi_out={out}", f"--grpc_out={out}",
         f"--plugin=protoc-gen-grpc={_tool('grpc_python_plugin')}",
         *(str(root / proto) for proto in PROTOS)],
        check=True)
    # Only the idem service has stubs; the google.rpc messages need none.
    for empty in (out / "google" / "rpc").glob("*_pb2_grpc.py"):
        empty.unlink()
    (out / "idem" / "v1" / "__init__.py").touch()
    return out


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest())
    return f"{name},sha256={digest.rstrip(b'=').decode()},{len(data)}"


def _metadata(project: dict) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {project['name']}",
             f"Version: {project['version']}",
             f"Summary: {project['description']}",
             f"Requires-Python: {project['requires-python']}"]
    lines += [f"Requires-Dist: {dep}" for dep in project["dependencies"]]
    return "\n".join(lines) + "\n"


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None,
                metadata_directory=None):
    project = _project()
    name, version = project["name"], project["version"]
    dist_info = f"{name}-{version}.dist-info"
    wheel_name = f"{name}-{version}-py3-none-any.whl"
    with tempfile.TemporaryDirectory() as temp:
        tree = stage(temp)
        files = {path.relative_to(tree).as_posix(): path.read_bytes()
                 for path in sorted(tree.rglob("*"))
                 if path.is_file() and "__pycache__" not in path.parts}
    files[f"{dist_info}/METADATA"] = _metadata(project).encode()
    files[f"{dist_info}/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: idem_build\n"
        "Root-Is-Purelib: true\nTag: py3-none-any\n").encode()
    record = [_record_line(n, d) for n, d in files.items()]
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    with zipfile.ZipFile(Path(wheel_directory) / wheel_name, "w",
                         zipfile.ZIP_DEFLATED) as wheel:
        for arcname, data in files.items():
            wheel.writestr(arcname, data)
    return wheel_name


def build_sdist(sdist_directory, config_settings=None):
    """Sources, this backend and a copy of the protos, so that the sdist
    builds away from the repository."""
    project = _project()
    base = f"{project['name']}-{project['version']}"
    members = {"pyproject.toml": HERE / "pyproject.toml",
               "idem_build.py": HERE / "idem_build.py"}
    for path in sorted((HERE / "src").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            members[path.relative_to(HERE).as_posix()] = path
    for proto in PROTOS:
        members[f"proto/{proto}"] = _proto_root() / proto
    sdist_name = f"{base}.tar.gz"
    with tarfile.open(Path(sdist_directory) / sdist_name, "w:gz") as sdist:
        pkg_info = _metadata(project).encode()
        info = tarfile.TarInfo(f"{base}/PKG-INFO")
        info.size = len(pkg_info)
        sdist.addfile(info, io.BytesIO(pkg_info))
        for arcname, path in members.items():
            sdist.add(path, arcname=f"{base}/{arcname}")
    return sdist_name
