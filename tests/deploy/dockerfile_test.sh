#!/usr/bin/env bash
# Static checks of deploy/Dockerfile, as no container engine runs here: the
# base image, both stages installing through scripts/install-deps from the
# package lists, the runtime list existing, a non-root numeric USER, and the
# idem-server entrypoint.
#
#   dockerfile_test.sh SOURCE_ROOT
set -euo pipefail
root=${1:?usage: dockerfile_test.sh SOURCE_ROOT}
df=$root/deploy/Dockerfile
fails=0
need() {  # need DESCRIPTION EXTENDED-REGEX
  if grep -Eq "$2" "$df"; then echo "ok: $1"; else echo "FAIL: $1 (/$2/ not in $df)" >&2; fails=$((fails + 1)); fi
}
[ -r "$df" ] || { echo "FAIL: no $df" >&2; exit 1; }
[ "$(grep -Ec '^FROM ' "$df")" -ge 2 ] && echo "ok: multi-stage" || { echo "FAIL: not multi-stage" >&2; fails=$((fails + 1)); }
need "every stage on debian:bookworm-slim" '^ARG BASE_IMAGE=debian:bookworm-slim$'
[ -z "$(grep -E '^FROM ' "$df" | grep -v 'FROM \${BASE_IMAGE} AS ')" ] && echo "ok: stages use BASE_IMAGE" ||
  { echo "FAIL: a stage does not start FROM \${BASE_IMAGE}" >&2; fails=$((fails + 1)); }
need "build stage installs the build list with install-deps" 'scripts/install-deps +scripts/packages/build\.txt'
need "runtime stage installs the runtime list with install-deps" 'install-deps +[^ ]*runtime\.txt'
need "builds the idem-server target" 'cmake --build .*--target idem-server'
need "non-root numeric user" '^USER [1-9][0-9]*:[1-9][0-9]*$'
need "idem-server entrypoint" '^ENTRYPOINT \["/usr/local/bin/idem-server"\]$'
# The overlays without the copy-file-storage component promise CopyFile off:
# an image that set a storage root would turn it on, on each pod's own disk.
for f in "$df" "$root/deploy/build-image"; do
  if grep -Ev '^\s*#' "$f" | grep -Eq 'IDEM_STORAGE_ROOT=|^VOLUME'; then
    echo "FAIL: $f sets IDEM_STORAGE_ROOT or a VOLUME (CopyFile must stay off until a deployment mounts shared storage)" >&2
    fails=$((fails + 1))
  else
    echo "ok: $(basename "$f") leaves CopyFile off"
  fi
done
for list in build runtime; do
  [ -s "$root/scripts/packages/$list.txt" ] && echo "ok: scripts/packages/$list.txt" ||
    { echo "FAIL: scripts/packages/$list.txt missing" >&2; fails=$((fails + 1)); }
done
if grep -Ev '^\s*#' "$root/scripts/packages/runtime.txt" | grep -Eq -- '-dev\b|build-essential|cmake'; then
  echo "FAIL: runtime.txt lists build packages" >&2; fails=$((fails + 1))
fi
[ "$fails" -eq 0 ] || { echo "dockerfile_test: $fails failure(s)" >&2; exit 1; }
echo "dockerfile_test: OK"
