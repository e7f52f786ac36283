#!/usr/bin/python3
"""The README's quick start, exactly as written.

Runs `scripts/run` in the background, waits for its ready line, then runs
every line of the shell blocks in the README's "Calling the running server"
section in one bash, in order, as a person would paste them, and checks each
`#> expected` comment against the output of the command above it (`...`
stands for anything). Finally stops scripts/run with SIGINT, as Ctrl-C does,
and expects exit status 0.

It runs in a scratch folder that looks like the checkout: a link to every
top-level entry of the sources, `build` a link to the build tree, and a
`.local` of its own; the ports come from IDEM_LISTEN, IDEM_TARGET and
IDEM_DEV_PG_PORT, which scripts/run, idemctl and the example read.

  quick_start_test.py --source DIR --build DIR --work DIR
"""
import argparse
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time

SECTION = "## Calling the running server"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def readme_steps(readme):
    """[(command, [expected lines])] from the section's ```sh blocks."""
    text = open(readme).read()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    steps = []
    for block in re.findall(r"```sh\n(.*?)```", text[start:end], re.S):
        for line in block.splitlines():
            if line.startswith("#>"):
                steps[-1][1].append(line[2:].strip())
            elif line.strip() and not line.lstrip().startswith("#"):
                steps.append((line, []))
    return steps


def matches(expected, output):
    at = 0
    for fragment in (f.strip() for f in expected.split("...")):
        found = output.find(fragment, at)
        if found < 0:
            return False
        at = found + len(fragment)
    return True


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", required=True)
    parser.add_argument("--build", required=True)
    parser.add_argument("--work", required=True)
    args = parser.parse_args()
    steps = readme_steps(os.path.join(args.source, "README.md"))
    if len(steps) < 8:
        sys.exit(f"quick_start_test: only {len(steps)} commands found in the README")

    if os.path.exists(os.path.join(args.work, ".local", "pg")):
        subprocess.run([os.path.join(args.source, "scripts", "pg-local"), "stop",
                        os.path.join(args.work, ".local", "pg")], check=False)
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    for entry in os.listdir(args.source):
        if entry not in (".local", "build"):
            os.symlink(os.path.join(args.source, entry), os.path.join(args.work, entry))
    os.symlink(os.path.abspath(args.build), os.path.join(args.work, "build"))

    port = free_port()
    env = dict(os.environ, IDEM_LISTEN=f"127.0.0.1:{port}", IDEM_TARGET=f"127.0.0.1:{port}",
               IDEM_DEV_PG_PORT=str(free_port()), CMAKE_CXX_COMPILER_LAUNCHER="ccache",
               CCACHE_BASEDIR=args.work, CCACHE_NOHASHDIR="1")
    env.pop("IDEM_BUILD_DIR", None)
    run = subprocess.Popen(["scripts/run"], cwd=args.work, env=env, start_new_session=True,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    failure = None
    try:
        deadline = time.time() + 300
        for line in run.stdout:
            print(f"scripts/run: {line}", end="")
            if line.startswith("idem: ready on"):
                break
            if time.time() > deadline:
                raise RuntimeError("no ready line from scripts/run")
        else:
            raise RuntimeError(f"scripts/run ended before it was ready: {run.wait()}")

        outputs = os.path.join(args.work, "outputs")
        os.makedirs(outputs)
        script = ["set -u"]
        for i, (command, _) in enumerate(steps):
            script.append(f"echo {shlex.quote('$ ' + command)}")
            script.append(f"{{ {command}\n}} >{outputs}/{i} 2>&1 || "
                          f"{{ rc=$?; cat {outputs}/{i}; echo \"exit status $rc\"; exit 1; }}")
        shell = subprocess.run(["bash", "-c", "\n".join(script)], cwd=args.work, env=env,
                               timeout=600)
        if shell.returncode != 0:
            raise RuntimeError("a README command failed")
        for i, (command, expected) in enumerate(steps):
            output = open(f"{outputs}/{i}").read()
            for want in expected:
                if not matches(want, output):
                    raise RuntimeError(f"`{command}` printed\n{output}\nnot matching: {want}")
        checked = sum(len(e) for _, e in steps)
        print(f"quick_start_test: {len(steps)} README commands ran, {checked} outputs as shown")
    except Exception as error:  # reported after scripts/run is stopped
        failure = error
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGINT)  # Ctrl-C: the whole foreground group
        rest, _ = run.communicate(timeout=120)
        print("".join(f"scripts/run: {line}\n" for line in rest.splitlines()[-5:]), end="")
    if failure is not None:
        sys.exit(f"quick_start_test: FAIL: {failure}")
    if run.returncode != 0:
        sys.exit(f"quick_start_test: FAIL: scripts/run exited {run.returncode} on Ctrl-C")
    print("quick_start_test: scripts/run stopped cleanly on Ctrl-C")


if __name__ == "__main__":
    main()
