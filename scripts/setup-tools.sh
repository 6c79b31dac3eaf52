#!/usr/bin/env bash
# Installs the Debian tools the unit tests use, when missing: spin checks the formal models (formal/*.pml), gcc
# compiles spin's verifiers, and git gives runs their worktrees (test/controller/worktree*, replay*). Idempotent;
# from Debian's packages only.
set -euo pipefail
missing=()
command -v spin >/dev/null 2>&1 || missing+=(spin)
command -v gcc >/dev/null 2>&1 || missing+=(gcc)
command -v git >/dev/null 2>&1 || missing+=(git)
if ((${#missing[@]})); then
  echo "[setup] apt-get install ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
