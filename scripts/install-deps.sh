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
  libpq-dev                # PostgreSQL's client library, for --database (several nodes)
)

# With --test: what the test suite needs as well (real-browser tests).
if [ "${1:-}" = "--test" ]; then
  packages+=(chromium chromium-driver python3-selenium python3-websocket openssl fonts-noto-color-emoji python3-pip)
  # Slides: python-pptx's libraries, and LibreOffice Impress and poppler to render decks.
  packages+=(python3-lxml python3-pil python3-xlsxwriter poppler-utils)
fi
# LibreOffice without its recommended extras (hundreds of MB of desktop packages).
lean=()
if [ "${1:-}" = "--test" ]; then lean+=(libreoffice-impress); fi
# Several nodes: a real PostgreSQL and nginx (the load balancer compose.yaml runs), and
# docker-compose to check compose.yaml (its `config` needs no Docker engine).
if [ "${1:-}" = "--test" ]; then lean+=(postgresql nginx-light docker-compose); fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# axe-core (accessibility checks in the browser tests) and python-pptx (reading the
# slides pollcast writes) come from PyPI: Debian packages neither. axe 2.1.6 is the
# newest release for Debian's Python 3.11; python-pptx 0.6.23 is the last that needs
# no newer typing_extensions than Debian's. --no-deps keeps Debian's selenium, lxml,
# Pillow and XlsxWriter.
install_axe() {
  [ "${1:-}" = "--test" ] || return 0
  if ! /usr/bin/python3 -c "import axe_selenium_python" 2>/dev/null; then
    echo "installing: axe-selenium-python (PyPI)"
    $SUDO /usr/bin/python3 -m pip install -q --no-deps --break-system-packages "axe-selenium-python==2.1.6"
  fi
  if ! /usr/bin/python3 -c "import pptx" 2>/dev/null; then
    echo "installing: python-pptx (PyPI)"
    $SUDO /usr/bin/python3 -m pip install -q --no-deps --break-system-packages "python-pptx==0.6.23"
  fi
}

missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
missing_lean=()
for p in "${lean[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing_lean+=("$p")
done
if [ ${#missing[@]} -gt 0 ] || [ ${#missing_lean[@]} -gt 0 ]; then
  echo "installing: ${missing[*]} ${missing_lean[*]}"
  $SUDO apt-get update -qq
  if [ ${#missing[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
  fi
  if [ ${#missing_lean[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing_lean[@]}"
  fi
fi
install_axe "${1:-}"
