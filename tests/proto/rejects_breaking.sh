#!/usr/bin/env bash
# Shows that proto_contract.py fails on a breaking change: a copy of the
# proto tree with InsertResponse.inserted renumbered from 2 to 20.
#   rejects_breaking.sh PROTO_ROOT WORK_DIR LOCK
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$2" && mkdir -p "$2" && cp -r "$1"/. "$2"
sed -i 's/int64 inserted = 2;/int64 inserted = 20;/' "$2/idem/v1/idem.proto"
grep -q 'inserted = 20;' "$2/idem/v1/idem.proto"
exec "$here/proto_contract.py" --proto-root "$2" --lock "$3"
