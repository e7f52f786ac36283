#!/usr/bin/python3
"""Checks that idem.v1 keeps every element of its released contract.

  proto_contract.py --proto-root DIR --lock LOCK.json [--proto FILE]
  proto_contract.py --proto-root DIR --write LOCK.json

The contract is what docs/versioning.md says may not change within v1:
each message's fields (number, type, label, oneof), each enum's values and
each RPC's request and response types. The check compiles the proto with
protoc and fails when an element of the lock is missing or different;
elements the lock does not list yet are additions and pass.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

from google.protobuf import descriptor_pb2

PACKAGES = ("idem.v1",)
FIELD = descriptor_pb2.FieldDescriptorProto


def compile_proto(root, proto):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "set.pb")
        subprocess.run(["protoc", f"--proto_path={root}", "--include_imports",
                        f"--descriptor_set_out={out}", proto], check=True)
        files = descriptor_pb2.FileDescriptorSet()
        with open(out, "rb") as f:
            files.ParseFromString(f.read())
    return files


def contract(files):
    elements = {}

    def message(prefix, m):
        name = f"{prefix}.{m.name}"
        for f in m.field:
            oneof = (m.oneof_decl[f.oneof_index].name
                     if f.HasField("oneof_index") and not f.proto3_optional else "")
            elements[f"field {name}.{f.name}"] = {
                "number": f.number, "type": FIELD.Type.Name(f.type),
                "type_name": f.type_name, "label": FIELD.Label.Name(f.label),
                "oneof": oneof, "optional": f.proto3_optional}
        for e in m.enum_type:
            enum(name, e)
        for nested in m.nested_type:
            message(name, nested)

    def enum(prefix, e):
        for v in e.value:
            elements[f"enum {prefix}.{e.name}.{v.name}"] = {"number": v.number}

    for file in files.file:
        if file.package not in PACKAGES:
            continue
        for m in file.message_type:
            message(file.package, m)
        for e in file.enum_type:
            enum(file.package, e)
        for s in file.service:
            for r in s.method:
                elements[f"rpc {file.package}.{s.name}.{r.name}"] = {
                    "input": r.input_type, "output": r.output_type,
                    "client_streaming": r.client_streaming,
                    "server_streaming": r.server_streaming}
    return elements


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--proto-root", required=True)
    parser.add_argument("--proto", default="idem/v1/idem.proto")
    parser.add_argument("--lock")
    parser.add_argument("--write")
    args = parser.parse_args()
    current = contract(compile_proto(args.proto_root, args.proto))
    if args.write:
        with open(args.write, "w") as f:
            json.dump(current, f, indent=1, sort_keys=True)
            f.write("\n")
        print(f"proto_contract: wrote {len(current)} elements to {args.write}")
        return 0
    with open(args.lock) as f:
        locked = json.load(f)
    broken = []
    for key, want in sorted(locked.items()):
        have = current.get(key)
        if have is None:
            broken.append(f"{key}: removed")
        elif have != want:
            changed = {k: f"{want.get(k)} -> {have.get(k)}"
                       for k in set(want) | set(have) if want.get(k) != have.get(k)}
            broken.append(f"{key}: changed {changed}")
    added = len(set(current) - set(locked))
    if broken:
        print(f"proto_contract: FAIL: {len(broken)} breaking change(s) to idem.v1 "
              "(docs/versioning.md):\n  " + "\n  ".join(broken))
        return 1
    print(f"proto_contract: OK: {len(locked)} locked elements unchanged, {added} added")
    return 0


if __name__ == "__main__":
    sys.exit(main())
