#!/usr/bin/env bash
# Every test kiln has, on a fresh machine: installs what is missing, then runs
# formatting, lints, the host test suites and the no_std builds for Cortex-M.
# The README's test command and .ci/run both call this script.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain components and targets"
installed_targets=$(rustup target list --installed)
for target in thumbv7em-none-eabihf thumbv6m-none-eabi; do
    grep -qx "$target" <<<"$installed_targets" || rustup target add "$target"
done
rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt
rustup component list --installed | grep -q '^clippy' || rustup component add clippy

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

step "core builds for Cortex-M4F and Cortex-M0+ (no_std, no alloc)"
cargo build -p kiln --target thumbv7em-none-eabihf
cargo build -p kiln --target thumbv6m-none-eabi

step "tests"
cargo test --workspace
