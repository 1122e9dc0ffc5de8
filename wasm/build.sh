#!/usr/bin/env bash
# Builds wasm/lwip.wasm, nextmini's user-space TCP stack, from lwIP 2.1.3 as
# Debian bookworm packages it (source package lwip 2.1.3+dfsg1-2, Debian's
# patches applied) and our glue in wasm/ (glue.c, lwipopts.h, lwippools.h,
# hooks.h, arch/cc.h), with Debian bookworm's clang 14, wasm-ld 14, wasi-libc
# and compiler-rt for wasm32.
#
#   wasm/build.sh            build; write wasm/lwip.wasm and wasm/lwip.wasm.sha256
#   wasm/build.sh --check    build in a temporary directory and fail (exit 1)
#                            when the committed module or checksum differs
#
# The output is a function of the pinned inputs only: the source archives are
# checked against the sha256 sums below, the toolchain must be the pinned
# package versions, the flags are fixed, object order is fixed, source paths
# are mapped to fixed prefixes (-ffile-prefix-map) and no debug info or build
# id is kept. Two builds anywhere give the same bytes.
#
# The source comes through `apt-get source` with a private deb-src list and
# private state and cache directories in the temporary directory: the
# machine's apt configuration is not changed, and nothing outlives the build.
# Missing compilers are installed with apt-get when running as root.
#
# Where the pinned toolchain cannot be had (not Debian bookworm), the build
# runs in a debian:bookworm container when docker works. Exit status 3 means
# neither was possible: nothing was checked.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"

LWIP_SOURCE=lwip
LWIP_VERSION=2.1.3+dfsg1-2
# sha256 of the three files of the source package (also in its .dsc, which
# the signed Sources index vouches for; pinned here so a changed archive fails)
declare -A LWIP_SHA256=(
  [lwip_2.1.3+dfsg1-2.dsc]=8d8f944db8e6d542fc2d6f01559078fb1b5dda71651c67ee5fa3571ed1342c50
  [lwip_2.1.3+dfsg1.orig.tar.xz]=0a8276d09fc4e97bbba2f953d74af2388fc2195ea156be9d7589e297a68fde24
  [lwip_2.1.3+dfsg1-2.debian.tar.xz]=c5a48413d362cc757032cdd58f528f75eb64ee781ca46ca24f010b49b0e62a90
)
MIRROR="${NEXTMINI_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

# What apt-get installs, and the versions of what ends up compiling: a
# different compiler or libc gives different bytes.
APT_PACKAGES=(clang lld wasi-libc libclang-rt-14-dev-wasm32 dpkg-dev)
declare -A TOOLCHAIN=(
  [clang-14]=1:14.0.6-12
  [libllvm14]=1:14.0.6-12
  [lld-14]=1:14.0.6-12
  [libclang-rt-14-dev-wasm32]=1:14.0.6-12
  [wasi-libc]=0.0~git20220510.9886d3d-2
)
CONTAINER_IMAGE=debian:bookworm

# lwIP's files for IPv4 + TCP + ICMP with NO_SYS (everything else is off in
# lwipopts.h), in link order.
LWIP_FILES=(
  src/core/def.c src/core/inet_chksum.c src/core/init.c src/core/ip.c src/core/mem.c src/core/memp.c
  src/core/netif.c src/core/pbuf.c src/core/stats.c src/core/tcp.c src/core/tcp_in.c src/core/tcp_out.c
  src/core/timeouts.c src/core/ipv4/icmp.c src/core/ipv4/ip4.c src/core/ipv4/ip4_addr.c
)
GLUE_FILES=(glue.c)
STACK_BYTES=$((256 * 1024))

mode=build
case "${1:-}" in
  "") ;;
  --check) mode=check ;;
  -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

log() { echo "wasm/build.sh: $*" >&2; }

toolchain_ok() {
  local pkg have
  for pkg in "${!TOOLCHAIN[@]}"; do
    have=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || true)
    [ "$have" = "${TOOLCHAIN[$pkg]}" ] || return 1
  done
  command -v dpkg-source >/dev/null
}

toolchain_report() {
  local pkg
  for pkg in "${!TOOLCHAIN[@]}"; do
    echo "  $pkg: $(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || echo missing) (need ${TOOLCHAIN[$pkg]})"
  done
}

is_bookworm() { [ -r /etc/os-release ] && grep -q '^VERSION_CODENAME=bookworm' /etc/os-release; }

install_toolchain() {
  export DEBIAN_FRONTEND=noninteractive
  local pins=() pkg
  for pkg in "${!TOOLCHAIN[@]}"; do pins+=("$pkg=${TOOLCHAIN[$pkg]}"); done
  log "installing ${APT_PACKAGES[*]} with apt-get"
  if ! apt-get install -y -qq --no-install-recommends "${APT_PACKAGES[@]}" "${pins[@]}" >/dev/null 2>&1; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${APT_PACKAGES[@]}" "${pins[@]}" >/dev/null
  fi
}

# Runs this script with the same arguments in a debian:bookworm container,
# the repository mounted read-only (a build writes its result through a
# second, writable mount of wasm/).
in_container() {
  local repo
  repo="$(cd "$here/.." && pwd)"
  log "the pinned toolchain is not installed here: building in a $CONTAINER_IMAGE container"
  local args=(run --rm -v "$repo:/src:ro" -w /src -e NEXTMINI_DEBIAN_MIRROR="$MIRROR" -e NEXTMINI_IN_CONTAINER=1)
  [ "$mode" = build ] && args+=(-v "$here:/src/wasm")
  docker "${args[@]}" "$CONTAINER_IMAGE" bash wasm/build.sh "$@"
}

if ! toolchain_ok; then
  if is_bookworm && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    install_toolchain
  fi
fi
if ! toolchain_ok; then
  if [ -z "${NEXTMINI_IN_CONTAINER:-}" ] && command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    in_container "$@"
    exit $?
  fi
  log "the pinned toolchain is not installed, and cannot be here:"
  toolchain_report >&2
  log "run on Debian bookworm (as root, so the packages can be installed), or where docker works"
  exit 3
fi

started=$(date +%s)
work=$(mktemp -d "${TMPDIR:-/tmp}/nextmini-lwip.XXXXXX")
trap 'rm -rf "$work"' EXIT

# --- source: apt-get source through a private deb-src list -----------------
apt_dir="$work/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/sources.list.d" "$work/download"
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR bookworm main" >"$apt_dir/sources.list"
apt_opts=(
  -o "Dir::Etc::SourceList=$apt_dir/sources.list"
  -o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
  -o "Dir::State::Lists=$apt_dir/lists"
  -o "Dir::Cache=$apt_dir/cache"
  -o "Dir::Cache::pkgcache="
  -o "Dir::Cache::srcpkgcache="
)
if [ "$(id -u)" = 0 ] && id _apt >/dev/null 2>&1; then
  # apt downloads as the unprivileged _apt user: let it into our directories
  chmod 755 "$work"
  chown _apt "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$work/download"
fi
log "fetching $LWIP_SOURCE $LWIP_VERSION from $MIRROR"
apt-get "${apt_opts[@]}" -qq update
(cd "$work/download" && apt-get "${apt_opts[@]}" -qq --download-only source "$LWIP_SOURCE=$LWIP_VERSION" >/dev/null)
for f in "${!LWIP_SHA256[@]}"; do
  got=$(sha256sum "$work/download/$f" | cut -d' ' -f1)
  if [ "$got" != "${LWIP_SHA256[$f]}" ]; then
    log "$f: sha256 $got, expected ${LWIP_SHA256[$f]}"
    exit 1
  fi
done
src="$work/lwip"
dpkg-source --no-check -x "$work/download/lwip_$LWIP_VERSION.dsc" "$src" >/dev/null

# --- compile and link -------------------------------------------------------
CFLAGS=(
  --target=wasm32-wasi -O2 -mbulk-memory -fno-common -g0
  "-ffile-prefix-map=$src=lwip-2.1.3" "-ffile-prefix-map=$here=wasm"
  -I "$here" -I "$src/src/include"
)
obj="$work/obj"
mkdir -p "$obj"
objects=()
jobs=()
for f in "${LWIP_FILES[@]}"; do
  o="$obj/lwip_$(echo "${f#src/}" | tr / _).o"
  objects+=("$o")
  # lwIP's own warnings are not ours to fix
  clang-14 "${CFLAGS[@]}" -w -c "$src/$f" -o "$o" &
  jobs+=($!)
done
for f in "${GLUE_FILES[@]}"; do
  o="$obj/glue_${f%.c}.o"
  objects+=("$o")
  clang-14 "${CFLAGS[@]}" -Wall -Wextra -Werror -c "$here/$f" -o "$o" &
  jobs+=($!)
done
for j in "${jobs[@]}"; do wait "$j"; done

out="$work/lwip.wasm"
# --stack-first: the stack sits below the data, so an overflow traps instead of
# overwriting lwIP's pools. No entry point: the host calls the exports.
clang-14 --target=wasm32-wasi -nostartfiles -Wl,--no-entry -Wl,--stack-first \
  "-Wl,-z,stack-size=$STACK_BYTES" -Wl,--strip-debug -o "$out" "${objects[@]}"
sum=$(sha256sum "$out" | cut -d' ' -f1)
log "built lwip.wasm: $(stat -c %s "$out") bytes, sha256 $sum, in $(($(date +%s) - started)) s"

if [ "$mode" = build ]; then
  cp "$out" "$here/lwip.wasm"
  echo "$sum  lwip.wasm" >"$here/lwip.wasm.sha256"
  log "wrote wasm/lwip.wasm and wasm/lwip.wasm.sha256"
  exit 0
fi

fail=0
if ! cmp -s "$out" "$here/lwip.wasm"; then
  log "FAIL: wasm/lwip.wasm differs from what its sources build (committed sha256 $(sha256sum "$here/lwip.wasm" 2>/dev/null | cut -d' ' -f1 || echo none), built $sum); run wasm/build.sh and commit the result"
  fail=1
fi
if [ "$(cat "$here/lwip.wasm.sha256" 2>/dev/null)" != "$sum  lwip.wasm" ]; then
  log "FAIL: wasm/lwip.wasm.sha256 does not hold the built module's sha256 ($sum)"
  fail=1
fi
[ "$fail" = 0 ] && log "OK: wasm/lwip.wasm matches its sources"
exit "$fail"
