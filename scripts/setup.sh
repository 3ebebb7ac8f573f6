#!/usr/bin/env bash
# Sets up everything the kiosk and its tests need on Debian 12 (bookworm) with Python 3.11:
# the Debian packages (only those missing), a virtualenv in .venv, and the Python packages.
# Safe to run again: it only does what is not done yet.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBS=(
  python3-venv python3-dev gcc
  mosquitto                      # MQTT broker: tests start their own on a free port
  postgresql                     # HQ's PostgreSQL: tests run their own server in a temp dir
  pcscd libpcsclite-dev swig     # PC/SC daemon and headers: pyscard builds from source
  vsmartcard-vpcd                # virtual PC/SC reader the tests put an emulated card behind
  systemd                        # systemd-analyze verify for the unit files
  libgl1 libegl1 libgl1-mesa-dri libmtdev1  # Kivy renders offscreen through Mesa
  chromium                       # the HQ console's browser tests (Playwright drives it; no browser download)
  fonts-wqy-microhei             # Chinese glyphs: the touchscreen (Kivy's Roboto has none), the HQ report's charts, receipts
  libusb-1.0-0                   # USB receipt printers (pyusb under python-escpos); the doctor's printer check
)

missing=()
for pkg in "${DEBS[@]}"; do
  [[ "$pkg" == \#* ]] && continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "==> installing Debian packages: ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts the system mosquitto/postgresql services on install; the kiosk's tests never
  # use them (they start their own on free ports), so they are left as the machine's owner wants.
fi

PY=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  echo "==> creating virtualenv .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.installed-$(cat setup.cfg pyproject.toml | sha256sum | cut -c1-16)
if [[ ! -f "$stamp" ]]; then
  echo "==> installing Python packages into .venv"
  .venv/bin/pip install -q --upgrade pip wheel setuptools
  .venv/bin/pip install -q -e ".[test]"
  rm -f .venv/.installed-*
  touch "$stamp"
fi
