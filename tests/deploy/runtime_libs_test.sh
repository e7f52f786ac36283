#!/usr/bin/env bash
# Proves that the runtime stage of deploy/Dockerfile is complete without a
# container engine: every shared library that `ldd BINARY` resolves must
# belong (dpkg -S) to a package that the runtime stage installs, that is a
# package of the runtime list, a package those depend on (recursively,
# through the Depends/Pre-Depends of the installed packages), or one of the
# base image's own libraries (libc6, libgcc-s1, libstdc++6).
#
#   runtime_libs_test.sh BINARY [RUNTIME_LIST]
#
# RUNTIME_LIST defaults to scripts/packages/runtime.txt. Exit 0 when
# complete; 1 with the list of uncovered libraries otherwise.
set -euo pipefail

binary=${1:?usage: runtime_libs_test.sh BINARY [RUNTIME_LIST]}
here=$(cd "$(dirname "$0")" && pwd)
list=${2:-$here/../../scripts/packages/runtime.txt}
base_packages="libc6 libgcc-s1 libstdc++6"

fail() { echo "runtime_libs_test: FAIL: $*" >&2; exit 1; }
[ -x "$binary" ] || fail "no executable at $binary"
[ -r "$list" ] || fail "no runtime package list at $list"
command -v dpkg-query >/dev/null || fail "dpkg-query not found (Debian only)"

wanted=$(grep -v '^\s*#' "$list" | awk 'NF{print $1}' | sort -u)
[ -n "$wanted" ] || fail "$list names no package"

# Depends are read from the dpkg database, so they are known for installed
# packages only. A listed package that is not installed here cannot provide
# a library the binary loads (ldd would not find it), so it is reported and
# left out; it must still exist in Debian's archive, or the image build fails.
installed=()
for pkg in $wanted; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  if [ "$status" = "install ok installed" ]; then
    installed+=("$pkg")
    continue
  fi
  if [ -n "$(apt-cache showpkg "$pkg" 2>/dev/null | sed -n '/^Versions:/,/^Reverse Depends:/p' | sed '1d;$d')" ]; then
    echo "runtime_libs_test: note: $pkg is listed but not installed here; it adds nothing the binary uses"
  elif [ -z "$(ls /var/lib/apt/lists/ 2>/dev/null | grep -v -e lock -e partial)" ]; then
    echo "runtime_libs_test: note: $pkg is not installed and apt has no package lists to check it"
  else
    fail "$pkg (from $list) is not a Debian package"
  fi
done
wanted=${installed[*]}

first_word() {  # "  libfoo (>= 1.2) " -> libfoo, without a subprocess
  local w=${1#"${1%%[![:space:]]*}"}
  printf '%s' "${w%%[[:space:](]*}"
}

# Installed packages and what they provide, for resolving virtual names.
declare -A provider
while IFS='|' read -r pkg provides; do
  provider[$pkg]=$pkg
  IFS=',' read -ra names <<<"$provides"
  for n in "${names[@]}"; do
    n=$(first_word "$n")
    [ -n "$n" ] && [ -z "${provider[$n]:-}" ] && provider[$n]=$pkg
  done
done < <(dpkg-query -W -f='${db:Status-Abbrev}|${Package}|${Provides}\n' |
           awk -F'|' '$1 ~ /^ii/ {print $2 "|" $3}')

# Closure over Depends and Pre-Depends. For an alternative group (a | b) the
# first alternative that is installed here stands for the group, which is
# what apt picks in a fresh image when the first one is installable.
declare -A closure
queue=($wanted $base_packages)
while [ "${#queue[@]}" -gt 0 ]; do
  pkg=${queue[0]}
  queue=("${queue[@]:1}")
  pkg=${pkg%%:*}
  [ -n "${closure[$pkg]:-}" ] && continue
  closure[$pkg]=1
  deps=$(dpkg-query -W -f='${Pre-Depends},${Depends}' "$pkg" 2>/dev/null || true)
  IFS=',' read -ra groups <<<"$deps"
  for group in "${groups[@]}"; do
    IFS='|' read -ra alts <<<"$group"
    for alt in "${alts[@]}"; do
      name=$(first_word "$alt")
      name=${name%%:*}
      [ -z "$name" ] && continue
      real=${provider[$name]:-}
      if [ -n "$real" ]; then
        queue+=("$real")
        break
      fi
    done
  done
done

# The files of every package in the closure, read from dpkg's own lists
# (one read instead of a `dpkg -S` per library). ldd prints paths under /lib
# while dpkg may know them under /usr/lib (or the other way round), so paths
# are compared without a leading /usr.
declare -A provided
for pkg in "${!closure[@]}"; do
  for f in /var/lib/dpkg/info/"$pkg".list /var/lib/dpkg/info/"$pkg":*.list; do
    [ -r "$f" ] || continue
    while read -r path; do
      provided[${path#/usr}]=$pkg
    done < <(grep '\.so' "$f")
  done
done


ldd_out=$(ldd "$binary") || fail "ldd $binary failed"
if echo "$ldd_out" | grep -q 'not found'; then
  fail "ldd cannot resolve libraries of $binary itself:
$(echo "$ldd_out" | grep 'not found')"
fi

missing=()
missing_paths=()
count=0
while read -r lib path; do
  count=$((count + 1))
  if [ -z "${provided[${path#/usr}]:-}" ]; then
    missing+=("$lib ($path)")
    missing_paths+=("${path#/usr}" "/usr${path#/usr}")
  fi
done < <(echo "$ldd_out" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}
                                 $1 ~ /^\// {print $1, $1}')

[ "$count" -gt 0 ] || fail "ldd listed no library for $binary (static binary?)"
if [ "${#missing[@]}" -gt 0 ]; then
  printf '  %s\n' "${missing[@]}" >&2
  echo "owned by (dpkg -S): add the package, or one depending on it, to the list:" >&2
  dpkg -S "${missing_paths[@]}" 2>/dev/null | cut -d: -f1 | sort -u | sed 's/^/  /' >&2 || true
  fail "${#missing[@]} of $count libraries are not provided by $list"
fi
echo "runtime_libs_test: OK: all $count libraries of $(basename "$binary") come from" \
  "$(echo $wanted | wc -w) listed packages (closure: ${#closure[@]} packages)"
