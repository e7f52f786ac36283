#!/usr/bin/env bash
# Renders one kustomization with `kubectl kustomize` and validates the result
# with validate_manifests.mjs.
#
#   check_overlay.sh NPM_DIR SOURCE_ROOT KUSTOMIZATION_DIR OUT_YAML [EXPECT_FILE]
#
# NPM_DIR holds node_modules (npm_setup.sh). With EXPECT_FILE (a fixture's
# expect.txt, one regular expression) the check passes only when validation
# fails with a matching message.
set -euo pipefail
npm_dir=${1:?usage: check_overlay.sh NPM_DIR SOURCE_ROOT KUSTOMIZATION_DIR OUT_YAML [EXPECT_FILE]}
root=${2:?missing SOURCE_ROOT}
dir=${3:?missing KUSTOMIZATION_DIR}
out=${4:?missing OUT_YAML}
expect=${5:-}
here=$(cd "$(dirname "$0")" && pwd)

# kubectl is no Debian package: a machine without it skips the rendering
# (exit 77, CTest's SKIP_RETURN_CODE) instead of failing the whole suite.
command -v kubectl >/dev/null ||
  { echo "check_overlay: kubectl not found: skipped (it renders the kustomizations: kubectl kustomize)" >&2; exit 77; }
mkdir -p "$(dirname "$out")"
kubectl kustomize "$dir" >"$out"
echo "check_overlay: rendered $dir ($(grep -c '^kind:' "$out") objects) into $out"
args=(--node-modules "$npm_dir" --server-config "$root/service/config.cc"
      --server-metrics "$root/service/observability/metrics.cc")
[ -n "$expect" ] && args+=(--expect-error "$(head -n1 "$expect")")
exec node "$here/validate_manifests.mjs" "${args[@]}" "$out"
