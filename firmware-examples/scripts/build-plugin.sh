#!/usr/bin/env bash
# Builds the instruction-count TCG plugin (insn-count-plugin/) for the plugin API of the
# installed qemu-system-arm, and prints the path of the shared library.
#
#   QEMU 6.0–8.2 -> plugin API v1    QEMU 9.0 -> v2    QEMU 9.1 -> v3
#   QEMU 9.2–10.0 -> v4              QEMU 10.1 and later -> v5
# (QEMU loads a plugin only if its version lies between the QEMU's minimum and current one:
# a v1 plugin does not load on 10.0.) Override with KILN_QEMU_PLUGIN_API=vN.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
qemu="${QEMU_SYSTEM_ARM:-qemu-system-arm}"

api="${KILN_QEMU_PLUGIN_API:-}"
if [ -z "$api" ]; then
    version="$("$qemu" --version | sed -n 's/^QEMU emulator version \([0-9]*\)\.\([0-9]*\).*/\1 \2/p' | head -n1)"
    if [ -z "$version" ]; then
        echo "build-plugin: cannot read the version of $qemu" >&2
        exit 1
    fi
    read -r major minor <<<"$version"
    if [ "$major" -lt 6 ]; then
        echo "build-plugin: QEMU $major.$minor is too old for the plugin (6.0 or later)" >&2
        exit 1
    elif [ "$major" -le 8 ]; then api=v1
    elif [ "$major" -eq 9 ] && [ "$minor" -eq 0 ]; then api=v2
    elif [ "$major" -eq 9 ] && [ "$minor" -eq 1 ]; then api=v3
    elif [ "$major" -eq 9 ] || { [ "$major" -eq 10 ] && [ "$minor" -eq 0 ]; }; then api=v4
    else api=v5
    fi
fi

host="$(rustc -vV | sed -n 's/^host: //p')"
# --target: the firmware workspace's .cargo/config.toml sets an ARM target.
( cd "$here/insn-count-plugin" &&
  cargo build --quiet --release --target "$host" --no-default-features --features "plugin-api-$api" ) >&2
lib="$here/insn-count-plugin/target/$host/release/libkiln_insn_count.so"
if [ ! -f "$lib" ]; then
    echo "build-plugin: $lib was not built" >&2
    exit 1
fi
echo "$lib"
