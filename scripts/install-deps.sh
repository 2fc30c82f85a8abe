#!/usr/bin/env bash
# Installs the system packages pollcast builds and runs with (Debian bookworm);
# `--test` adds what the test suite needs.
# Idempotent: does nothing when everything is already installed.
set -euo pipefail

packages=(
  pkg-config
  libwebsockets-dev        # HTTP + WebSocket server (C), pulls in libssl-dev
  libwebsockets-evlib-uv   # libuv event loop plugin for libwebsockets
  libuv1-dev               # the event loop pollcast owns and lends to libwebsockets
  libssl-dev               # TLS and libcrypto (PBKDF2, CSPRNG)
  libcap-dev               # libwebsockets.h includes sys/capability.h
  libsqlite3-dev           # the embedded store
  libqrencode-dev          # QR codes of join addresses
)

# With --test: what the test suite needs as well (real-browser tests).
if [ "${1:-}" = "--test" ]; then
  packages+=(chromium chromium-driver python3-selenium python3-websocket openssl fonts-noto-color-emoji)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
