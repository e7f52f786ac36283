#!/usr/bin/python3
"""Runs the real idem-server with an overlay's rendered settings.

The validator checks the manifests' shape; this checks that the server
accepts what the ConfigMap says (names, durations, numbers): it renders the
overlay, takes the IDEM_* values of its ConfigMap, moves only the addresses
(to free loopback ports) and the storage root (to a scratch folder), then
  1. runs `idem-server migrate` as the migration Job would, expecting exit 0;
  2. starts `idem-server` as the Deployment would, waits for the gRPC health
     service to answer SERVING on the port the probes use;
  3. sends SIGTERM and expects exit 0 within drain delay + shutdown grace.

  overlay_config_test.py --server BIN --overlay DIR --database-url URL
URL is an administrative connection; the test works in a scratch database.
Uses Debian's python3-grpcio and python3-yaml (scripts/packages/build.txt).
"""
import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

import grpc
import yaml


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seconds(text):
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", text))


def health(port, timeout):
    """grpc.health.v1.Health/Check with an empty request; raw bytes both ways."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        reply = channel.unary_unary("/grpc.health.v1.Health/Check")(b"", timeout=timeout)
    return "SERVING" if reply == b"\x08\x01" else f"status bytes {reply!r}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--overlay", required=True)
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args()

    rendered = subprocess.run(["kubectl", "kustomize", args.overlay], check=True,
                              capture_output=True, text=True).stdout
    objects = [o for o in yaml.safe_load_all(rendered) if o]
    config = next(o for o in objects if o["kind"] == "ConfigMap")["data"]
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    probe_port = container["readinessProbe"]["grpc"]["port"]
    grpc_port = next(p["containerPort"] for p in container["ports"] if p["name"] == "grpc")
    if probe_port != grpc_port:
        print(f"overlay_config_test: probes use port {probe_port}, not the gRPC port: "
              "this test covers plaintext overlays only", file=sys.stderr)
        return 1

    # A scratch database of its own, so that this server's reaper and
    # migrations never meet the other tests' data.
    scratch = "idem_overlay_check"
    def psql(sql):
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", args.database_url, "-c", sql],
                       check=True, capture_output=True, text=True)
    psql(f"DROP DATABASE IF EXISTS {scratch}")
    psql(f"CREATE DATABASE {scratch}")
    try:
        return run(args, config, urllib.parse.urlunsplit(
            urllib.parse.urlsplit(args.database_url)._replace(path="/" + scratch)))
    finally:
        psql(f"DROP DATABASE IF EXISTS {scratch} WITH (FORCE)")


def run(args, config, database_url):
    listen = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDEM_")}
    env.update(config)
    with tempfile.TemporaryDirectory() as root:
        env.update(IDEM_DATABASE_URL=database_url, IDEM_LISTEN=f"127.0.0.1:{listen}",
                   IDEM_METRICS_LISTEN=f"127.0.0.1:{free_port()}", IDEM_STORAGE_ROOT=root)
        print("overlay_config_test: settings:", ", ".join(f"{k}={env[k]}" for k in sorted(config)))

        migrate = subprocess.run([args.server, "migrate"], env=env, capture_output=True, text=True, timeout=60)
        if migrate.returncode != 0:
            print(f"overlay_config_test: FAIL: migrate exited {migrate.returncode}: {migrate.stderr}", file=sys.stderr)
            return 1

        server = subprocess.Popen([args.server], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 30
            state = "no answer"
            while time.monotonic() < deadline and server.poll() is None:
                try:
                    state = health(listen, 1)
                    if state == "SERVING":
                        break
                except grpc.RpcError as e:
                    state = str(e.code())
                time.sleep(0.2)
            if state != "SERVING":
                print(f"overlay_config_test: FAIL: health {state}", file=sys.stderr)
                return 1
            print(f"overlay_config_test: health SERVING on the probes' port (as {listen})")

            limit = seconds(config.get("IDEM_DRAIN_DELAY", "5s")) + seconds(config.get("IDEM_SHUTDOWN_GRACE", "20s"))
            server.send_signal(signal.SIGTERM)
            started = time.monotonic()
            code = server.wait(timeout=limit + 5)
            took = time.monotonic() - started
            if code != 0 or took > limit:
                print(f"overlay_config_test: FAIL: exit {code} after {took:.1f}s (limit {limit:.0f}s)", file=sys.stderr)
                return 1
            print(f"overlay_config_test: OK: SIGTERM -> exit 0 after {took:.1f}s (limit {limit:.0f}s)")
            return 0
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
            out = server.stdout.read() if server.stdout else ""
            if out:
                print("--- server output ---\n" + out.strip()[-3000:])


if __name__ == "__main__":
    sys.exit(main())
