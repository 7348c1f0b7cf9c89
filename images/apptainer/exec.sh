#!/usr/bin/env bash
# Runs one command inside the dawnserve image, the model repository bound at /models (read-write,
# so `dawnserve install-deps /models` can write each model's node_modules next to it).
#
#   bash images/apptainer/exec.sh dawnserve doctor --json
#   DAWNSERVE_MODELS=/srv/models bash images/apptainer/exec.sh dawnserve install-deps /models
#   DAWNSERVE_MODELS=/srv/models bash images/apptainer/exec.sh bash     # a shell inside
#
# Environment: DAWNSERVE_SIF (image, default <repo>/dawnserve.sif), DAWNSERVE_MODELS (repository to
# bind, optional), DAWNSERVE_GPU (auto|1|0: --nv), APPTAINER (binary).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=images/apptainer/common.sh
. "$here/common.sh"
[ "$#" -gt 0 ] || { echo "usage: $0 COMMAND [ARGS...]   (e.g. dawnserve doctor)" >&2; exit 2; }
bin=$(apptainer_bin)
sif=$(sif_path)
[ -f "$sif" ] || { echo "exec: no image at $sif (build it with images/apptainer/build.sh, or set DAWNSERVE_SIF)" >&2; exit 1; }
args=(exec --cleanenv)
# shellcheck disable=SC2207
args+=($(gpu_flags))
if [ -n "${DAWNSERVE_MODELS:-}" ]; then
  args+=(--bind "$(cd "$DAWNSERVE_MODELS" && pwd):/models")
fi
pass_env
exec "$bin" "${args[@]}" "$sif" "$@"
