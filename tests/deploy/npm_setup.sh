#!/usr/bin/env bash
# Installs the validator's npm packages (tests/deploy/package.json and its
# package-lock.json) into DEST/node_modules with `npm ci`, once: when
# node_modules already matches the lock file, it does nothing.
#
#   npm_setup.sh SOURCE_DIR DEST_DIR
set -euo pipefail
src=${1:?usage: npm_setup.sh SOURCE_DIR DEST_DIR}
dest=${2:?usage: npm_setup.sh SOURCE_DIR DEST_DIR}
command -v node >/dev/null || { echo "npm_setup: node not found (scripts/install-deps)" >&2; exit 1; }
command -v npm >/dev/null || { echo "npm_setup: npm not found (it comes with nodejs)" >&2; exit 1; }

mkdir -p "$dest"
stamp="$dest/node_modules/.idem-lock.sha256"
want=$(cat "$src/package.json" "$src/package-lock.json" | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "npm_setup: node_modules is current"
  exit 0
fi
cp "$src/package.json" "$src/package-lock.json" "$dest/"
cd "$dest"
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
echo "$want" >"$stamp"
echo "npm_setup: installed $(node -p 'Object.keys(require("./package.json").dependencies).join(", ")')"
