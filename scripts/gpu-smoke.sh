#!/bin/bash
# Runs the GPU smoke test (test/gpu) on a GPU host that has Python/PyTorch/CUDA but no Node.
#   here:  scripts/gpu-smoke.sh pack   after `npm ci`: puts an xz'd copy of this node binary and
#          the modules corral loads at run time (prom-client) in .device/ (git-ignored)
#   there: copy the working tree with dist/, build/ and .device/, then: scripts/gpu-smoke.sh
# The report is printed and, when $OUT is set, written to $OUT/gpu-smoke.txt.
set -u
cd "$(dirname "$0")/.."
if [ "${1:-}" = pack ]; then
  mkdir -p .device/modules/@opentelemetry
  xz -T2 -6 -c "$(command -v node)" > .device/node.xz
  cp -r node_modules/prom-client node_modules/tdigest node_modules/bintrees .device/modules/
  cp -r node_modules/@opentelemetry/api .device/modules/@opentelemetry/
  du -sh .device
  exit 0
fi
if ! command -v node >/dev/null; then
  mkdir -p /tmp/corral-node && xz -dc .device/node.xz > /tmp/corral-node/node && chmod +x /tmp/corral-node/node
  export PATH=/tmp/corral-node:$PATH
fi
[ -d node_modules/prom-client ] || { mkdir -p node_modules && cp -r .device/modules/. node_modules/; }
echo "== host"; uname -srm; ldd --version | head -1; nvidia-smi -L
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), torch.cuda.device_count())'
echo "== node $(node --version), corral $(node bin/corral.js --version)"
node --test --test-concurrency=1 --test-reporter=spec test/gpu 2>&1 | tee "${OUT:-/tmp}/gpu-smoke.txt"
exit "${PIPESTATUS[0]}"
