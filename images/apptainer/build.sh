#!/usr/bin/env bash
# Builds dawnserve.sif from images/dawnserve.def (needs internet: Docker Hub base images, the npm
# registry, and tfjs-node-gpu's libtensorflow download).
#
#   bash images/apptainer/build.sh [OUTPUT.sif]           # default: <repo>/dawnserve.sif
#   DAWNSERVE_FROM_DOCKER=dawnserve:gpu bash images/apptainer/build.sh
#       converts an OCI image already built from images/Dockerfile (docker-daemon://) instead
#
# Unprivileged users need --fakeroot (set APPTAINER_BUILD_FLAGS=--fakeroot) or a remote builder.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=images/apptainer/common.sh
. "$here/common.sh"
root=$(cd "$here/../.." && pwd)
out=${1:-$(sif_path)}
bin=$(apptainer_bin)
# Word splitting wanted: APPTAINER_BUILD_FLAGS may hold several flags.
# shellcheck disable=SC2206
flags=(${APPTAINER_BUILD_FLAGS:-})

cd "$root"   # the .def's %files paths are relative to the repository root
if [ -n "${DAWNSERVE_FROM_DOCKER:-}" ]; then
  echo "build: $out from docker-daemon://$DAWNSERVE_FROM_DOCKER"
  exec "$bin" build "${flags[@]}" "$out" "docker-daemon://$DAWNSERVE_FROM_DOCKER"
fi
echo "build: $out from images/dawnserve.def"
"$bin" build "${flags[@]}" "$out" images/dawnserve.def
# %test ran inside the build; show what the image reports on this node.
# shellcheck disable=SC2046  # gpu_flags is empty or one word
"$bin" run $(gpu_flags) "$out" doctor || echo "build: doctor reports no working backend on this node (build node without GPU?)" >&2
