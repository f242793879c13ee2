#!/usr/bin/env bash
# Installs ONNX Runtime for Node (npm onnxruntime-node, CPU) into a project-local folder: the peer
# that bench/ and tests/onnx/ run ONNX models with. ONNX Runtime is not packaged by Debian.
# --ignore-scripts: the package's install script only downloads GPU (CUDA/TensorRT) binaries; the
# CPU library ships inside the npm tarball. The folder is a cache: when the pinned version is
# already there nothing is fetched, so re-runs work offline.
#
#   bash scripts/install-onnxruntime.sh [DIR]        (default build/_deps/onnxruntime)
#   export NODE_PATH=$(bash scripts/install-onnxruntime.sh | tail -1)
#
# Prints progress on stderr and, as its last line on stdout, the NODE_PATH to use.
set -euo pipefail
version=1.30.0
cd "$(dirname "$0")/.."
dir="${1:-build/_deps/onnxruntime}"
command -v node > /dev/null || { echo "error: node not found (apt-get install nodejs npm)" >&2; exit 2; }
command -v npm > /dev/null || { echo "error: npm not found (apt-get install npm)" >&2; exit 2; }
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
# The version actually installed (not the one asked for in package.json) and a load test: a
# half-finished earlier install is redone rather than trusted.
installed() {
  (cd "$dir" && node -e '
    const v = require("onnxruntime-node/package.json").version;
    require("onnxruntime-node");
    process.stdout.write(v);' 2> /dev/null) || true
}
have="$(installed)"
if [ "$have" != "$version" ]; then
  echo "installing onnxruntime-node@$version into $dir${have:+ (found $have)}" >&2
  # A package.json of its own so npm installs here, not into an enclosing project.
  [ -f "$dir/package.json" ] || printf '{ "name": "nimble-onnxruntime", "private": true }\n' > "$dir/package.json"
  # npm calls a damaged copy "up to date": remove it so that it is fetched again.
  rm -rf "$dir/node_modules/onnxruntime-node"
  # --prefer-offline: npm's own cache (~/.npm) serves a fresh folder without the network.
  (cd "$dir" && npm install --ignore-scripts --prefer-offline --no-audit --no-fund --loglevel=error --save-exact \
    "onnxruntime-node@$version" >&2)
  have="$(installed)"
  if [ "$have" != "$version" ]; then
    echo "error: onnxruntime-node@$version did not install into $dir (loading it failed)" >&2
    exit 1
  fi
else
  echo "onnxruntime-node@$version already in $dir" >&2
fi
echo "$dir/node_modules"
