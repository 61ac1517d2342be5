#!/usr/bin/env bash
# Installs what the firmware examples need, when missing (idempotent):
#   * qemu-system-arm, preferably 10.x from Debian bookworm-backports (plugin API v4);
#   * the Rust targets thumbv7em-none-eabihf (Cortex-M4F), thumbv7m-none-eabi (Cortex-M3)
#     and thumbv6m-none-eabi (Cortex-M0).
# See shared TOOLCHAIN.md: bookworm's own qemu-system-arm is 7.2 and installing it removes the
# image's qemu-utils 10.0.2 from backports, so the backports suite is added and used explicitly.
# Always --no-install-recommends (otherwise ~855 MB of GUI packages).
set -euo pipefail

log() { echo "install-qemu: $*" >&2; }

sudo_if_needed() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_qemu() {
    if command -v qemu-system-arm >/dev/null 2>&1; then
        log "found $(qemu-system-arm --version | head -n1)"
        return 0
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        log "qemu-system-arm is missing and apt-get is not available: install QEMU >= 6 with TCG plugin support by hand"
        return 1
    fi
    local codename=""
    if [ -r /etc/os-release ]; then
        # shellcheck disable=SC1091
        codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
    fi
    local target_release=()
    if [ "$codename" = "bookworm" ]; then
        local src=/etc/apt/sources.list.d/bookworm-backports.sources
        if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
            # Same URIs and Signed-By as the machine's own Debian source.
            local uris="http://deb.debian.org/debian"
            local signed="/usr/share/keyrings/debian-archive-keyring.gpg"
            if [ -r /etc/apt/sources.list.d/debian.sources ]; then
                local u s
                u="$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)"
                s="$(awk '/^Signed-By:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)"
                [ -n "$u" ] && uris="$u"
                [ -n "$s" ] && signed="$s"
            fi
            log "adding the bookworm-backports suite ($uris) in $src"
            sudo_if_needed tee "$src" >/dev/null <<SRC
Types: deb
URIs: $uris
Suites: bookworm-backports
Components: main
Signed-By: $signed
SRC
        fi
        target_release=(-t bookworm-backports)
    fi
    log "apt-get update"
    sudo_if_needed apt-get update -qq
    log "apt-get install ${target_release[*]} qemu-system-arm"
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${target_release[@]}" qemu-system-arm >/dev/null
    log "installed $(qemu-system-arm --version | head -n1)"
}

install_targets() {
    if ! command -v rustup >/dev/null 2>&1; then
        log "rustup not found: add the targets thumbv7em-none-eabihf thumbv7m-none-eabi thumbv6m-none-eabi by hand"
        return 0
    fi
    local installed missing=()
    installed="$(rustup target list --installed)"
    for t in thumbv7em-none-eabihf thumbv7m-none-eabi thumbv6m-none-eabi; do
        grep -qx "$t" <<<"$installed" || missing+=("$t")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        log "rustup target add ${missing[*]}"
        rustup target add "${missing[@]}"
    else
        log "Rust targets present"
    fi
}

install_qemu
install_targets
