#!/usr/bin/env bash
# Builds Dockerfile.example for real (buildah, no Docker engine needed) and runs the container
# tests (test/container/) on the image it makes, with corral as the image's own ENTRYPOINT
# binary. Needs root, and network access to Debian's archive and the npm registry only:
# the registry images the Dockerfile starts FROM are stood in for by local images built from
# a Debian bookworm rootfs (mmdebstrap), tagged with the names the Dockerfile asks for:
#   node:20-bookworm                          bookworm + this machine's node and npm, python3, make, g++
#   nvidia/cuda:12.6.3-runtime-ubuntu24.04    bookworm (no CUDA libraries; the tests use no GPU)
# Installs buildah, mmdebstrap and runc with apt-get when missing. A few minutes, ~1 GB in
# /var/lib/containers. Usage: sudo scripts/image-test.sh [--keep]
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
need=()
for tool in buildah mmdebstrap runc; do command -v "$tool" >/dev/null || need+=("$tool"); done
if [ "${#need[@]}" -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >/dev/null
fi
work=$(mktemp -d /tmp/corral-image.XXXXXX)
trap 'buildah umount "${ctr:-}" >/dev/null 2>&1 || true; buildah rm "${ctr:-}" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
bud() { buildah bud --isolation chroot --layers=false -q "$@"; }
has() { buildah images --quiet "$1" >/dev/null 2>&1; }
say() { echo "image-test: $*" >&2; }

if ! has localhost/corral-standin-bookworm; then
  say "bookworm rootfs (mmdebstrap)"
  mmdebstrap --quiet --variant=minbase --include=ca-certificates bookworm "$work/bookworm.tar"
  printf 'FROM scratch\nADD bookworm.tar /\nCMD ["bash"]\n' > "$work/Containerfile"
  bud -t corral-standin-bookworm -f "$work/Containerfile" "$work" >/dev/null
fi
if ! has docker.io/library/node:20-bookworm; then
  say "stand-in node:20-bookworm"
  node=$(command -v node)
  prefix=$(dirname "$(dirname "$(readlink -f "$node")")")
  mkdir -p "$work/node/bin" "$work/node/lib" "$work/node/include"
  cp "$(readlink -f "$node")" "$work/node/bin/node"
  cp -r "$prefix/lib/node_modules" "$work/node/lib/"
  cp -r "$prefix/include/node" "$work/node/include/"
  # This machine's npm setup: its CA bundle (TLS to the npm registry may go through a proxy
  # with its own CA) and its headers for node-gyp, as this machine's npm uses them.
  cp /etc/ssl/certs/ca-certificates.crt "$work/node/ca-certificates.crt"
  cat > "$work/node/Containerfile" <<'EOF'
FROM localhost/corral-standin-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY bin/node /usr/local/bin/node
COPY lib/node_modules /usr/local/lib/node_modules
COPY include/node /usr/local/include/node
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
# node-gyp (node-pty's build) uses these headers instead of downloading them from nodejs.org,
# which is out of reach here.
ENV npm_config_nodedir=/usr/local
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm && node --version && npm --version
EOF
  bud -t docker.io/library/node:20-bookworm -f "$work/node/Containerfile" "$work/node" >/dev/null
fi
if ! has docker.io/nvidia/cuda:12.6.3-runtime-ubuntu24.04; then
  say "stand-in nvidia/cuda:12.6.3-runtime-ubuntu24.04"
  buildah tag localhost/corral-standin-bookworm docker.io/nvidia/cuda:12.6.3-runtime-ubuntu24.04
fi

say "buildah bud -f Dockerfile.example -t llm-server ."
start=$(date +%s)
bud --pull-never --format docker -f Dockerfile.example -t localhost/llm-server "$repo" >/dev/null
say "built in $(($(date +%s) - start)) s: $(buildah images --format '{{.Size}}' localhost/llm-server) "
ctr=$(buildah from --pull-never localhost/llm-server)
rootfs=$(buildah mount "$ctr")
say "running test/container on the image's rootfs ($rootfs)"
env=$(buildah inspect --type image localhost/llm-server | node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>console.log(JSON.stringify(JSON.parse(s).OCIv1.config.Env)))')
cmd=$(buildah inspect --type image localhost/llm-server | node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>{const c=JSON.parse(s).OCIv1.config;console.log(JSON.stringify([...(c.Entrypoint??[]),...(c.Cmd??[])]))})')
say "image env: $env; command: $cmd"
CORRAL_TEST_ROOTFS=$rootfs CORRAL_TEST_IMAGE_ENV=$env CORRAL_TEST_IMAGE_CMD=$cmd node --test --test-concurrency=1 test/container
if [ "${1:-}" != --keep ]; then buildah rmi localhost/llm-server >/dev/null 2>&1 || true; fi
