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
  packages+=(chromium chromium-driver python3-selenium python3-websocket openssl fonts-noto-color-emoji python3-pip)
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# axe-core (accessibility checks in the browser tests) comes from PyPI: Debian does not
# package it. 2.1.6 is the newest release for Debian's Python 3.11; --no-deps keeps
# Debian's selenium.
install_axe() {
  [ "${1:-}" = "--test" ] || return 0
  /usr/bin/python3 -c "import axe_selenium_python" 2>/dev/null && return 0
  echo "installing: axe-selenium-python (PyPI)"
  $SUDO /usr/bin/python3 -m pip install -q --no-deps --break-system-packages "axe-selenium-python==2.1.6"
}

missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  install_axe "${1:-}"
  exit 0
fi
echo "installing: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
install_axe "${1:-}"
