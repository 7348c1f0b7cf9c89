#!/usr/bin/env bash
# Installs the system packages dawnserve's WebGPU backend needs: the Vulkan loader and Mesa's
# lavapipe software driver from bookworm-backports (bookworm's own Mesa 22.3 is too old for Dawn).
# Also Debian's chromium, which the status-page test drives headless (WITH_BROWSER=0 skips it).
# Idempotent: does nothing when everything is already installed.
# Also installs the Python/PyTorch packages used to regenerate fixtures when WITH_TORCH=1.
set -euo pipefail

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then exec sudo -E bash "$0" "$@"; fi
    echo "install-system-deps: must run as root (or with sudo)" >&2
    exit 1
  fi
}

mesa_major() {
  dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null | sed -E 's/^([0-9]+:)?([0-9]+).*/\2/' || true
}

vulkan_ok() {
  local major
  major=$(mesa_major)
  [ -n "$major" ] && [ "$major" -ge 24 ] && dpkg-query -W libvulkan1 >/dev/null 2>&1
}

browser_ok() {
  [ "${WITH_BROWSER:-1}" = 0 ] || command -v chromium >/dev/null 2>&1
}

packages_ok() {
  vulkan_ok && browser_ok
}

if packages_ok && [ "${WITH_TORCH:-0}" != 1 ]; then
  echo "install-system-deps: Vulkan loader and Mesa $(mesa_major).x lavapipe already installed"
  exit 0
fi
need_root "$@"
export DEBIAN_FRONTEND=noninteractive

if ! vulkan_ok; then
  sources=/etc/apt/sources.list.d/debian.sources
  backports=/etc/apt/sources.list.d/backports.sources
  if [ ! -f "$backports" ]; then
    # Derive the mirror from the machine's own Debian source rather than naming a host.
    uri=$(awk '/^URIs:/{print $2; exit}' "$sources" 2>/dev/null || true)
    if [ -z "$uri" ]; then
      uri=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
    fi
    [ -n "$uri" ] || { echo "install-system-deps: cannot find a Debian mirror in apt sources" >&2; exit 1; }
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" > "$backports"
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
  echo "install-system-deps: installed mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)"
fi

if ! browser_ok; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium >/dev/null
  echo "install-system-deps: installed chromium $(dpkg-query -W -f='${Version}' chromium)"
fi

if [ "${WITH_TORCH:-0}" = 1 ]; then
  apt-get install -y -qq --no-install-recommends python3-torch python3-onnx python3-numpy python3-sklearn >/dev/null
  echo "install-system-deps: installed python3-torch, python3-onnx, python3-sklearn"
fi
