#!/usr/bin/env bash
# Debian/Ubuntu libraries napari needs on a machine without a screen: Xvfb (a virtual X server) and
# the GL and X libraries Qt loads. Needs root (or sudo). Desktop machines with a display skip this.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
command -v apt-get >/dev/null || { echo "not a Debian/Ubuntu system: install Xvfb and OpenGL yourself"; exit 0; }
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq xvfb libgl1-mesa-dri libglx-mesa0 libegl1 libxkbcommon-x11-0 \
  libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 \
  libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libfontconfig1 libdbus-1-3 >/dev/null
