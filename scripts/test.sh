#!/usr/bin/env bash
# The whole test suite, from a clean clone: installs what the tests need when it
# is missing (Debian packages when root, npm packages), builds dist/nextmini
# (integration tests run the compiled binary too), checks that the committed
# wasm/lwip.wasm rebuilds byte for byte, then runs `bun test`.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v ip >/dev/null || need+=(iproute2)
command -v iperf3 >/dev/null || need+=(iperf3)
command -v ping >/dev/null || need+=(iputils-ping)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing ${need[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "WARNING: missing ${need[*]} and cannot apt-get them (not root); tests that need them will skip" >&2
  fi
fi

[ -x node_modules/.bin/bun ] || npm install --no-audit --no-fund
BUN=node_modules/.bin/bun
$BUN run scripts/build.ts

# wasm/lwip.wasm (the user-space TCP stack) is committed; it must be exactly
# what its pinned sources build. wasm/build.sh installs its own toolchain
# (Debian bookworm's clang 14, lld, wasi-libc) when root on bookworm, else
# builds in a debian:bookworm container; exit 3 means it could do neither,
# which only CI treats as a failure.
wasm_status=0
wasm/build.sh --check || wasm_status=$?
if [ "$wasm_status" = 3 ] && [ -z "${CI:-}" ]; then
  echo "WARNING: wasm/lwip.wasm not checked against its sources (see above)" >&2
  wasm_status=0
fi

# what the tests make and must remove: agents' namespaces (nm:*), test hosts
# (nmhost-*), TUNs (nmt*) and test-bed bridges and veths (nmc*)
ours() { { ip netns list 2>/dev/null | grep -Eo '^(nm:|nmhost-)[^ ]*' ; ip -o link show 2>/dev/null | grep -Eo '^[0-9]+: (nmt|nmc)[^:@]*' | sed 's/^[0-9]*: //' ; } | sort || true; }
before=$(mktemp)
ours > "$before"

log=$(mktemp)
trap 'rm -f "$log" "$before"' EXIT
set +e
$BUN test --timeout 120000 "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
pass=$(grep -Eo '^ *[0-9]+ pass' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
fail=$(grep -Eo '^ *[0-9]+ fail' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
skip=$(grep -Eo '^ *[0-9]+ skip' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
# nothing the tests made may outlive them (what was there before is not theirs)
left=$(ours | comm -13 "$before" - || true)
if [ -n "$left" ]; then
  echo "FAIL: left behind by the tests:" >&2
  echo "$left" >&2
  fail=$((fail + 1))
  [ "$status" -ne 0 ] || status=1
fi
if [ "$wasm_status" != 0 ]; then
  echo "FAIL: wasm/build.sh --check: wasm/lwip.wasm does not match its sources, or could not be rebuilt" >&2
  fail=$((fail + 1))
  [ "$status" -ne 0 ] || status=1
fi
echo "tests: ${pass} passed, ${fail} failed, ${skip} skipped"
exit "$status"
