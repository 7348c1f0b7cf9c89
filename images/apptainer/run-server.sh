#!/usr/bin/env bash
# Runs the dawnserve server from dawnserve.sif on this node: the model repository bound read-only at
# /models, the GPU with --nv, ports from the environment (Apptainer shares the host network), logs
# appended to a file. Waits until /v2/health/ready answers 200, then stays in the foreground until
# the server exits; SIGTERM/SIGINT (scancel, systemctl stop, Ctrl-C) are passed on, and the server
# drains in-flight requests and exits 0. Fit for a batch job script or a systemd ExecStart.
#
#   bash images/apptainer/run-server.sh /srv/models [extra serve flags...]
#   DAWNSERVE_HTTP_PORT=9000 DAWNSERVE_METRICS_PORT=9002 bash images/apptainer/run-server.sh /srv/models --backend webgpu
#
# Environment: DAWNSERVE_SIF (image, default <repo>/dawnserve.sif), DAWNSERVE_HTTP_PORT (8000),
# DAWNSERVE_METRICS_PORT (8002), DAWNSERVE_HTTP_ADDRESS (0.0.0.0), DAWNSERVE_LOG_FILE
# (default ./dawnserve-<host>.log), DAWNSERVE_READY_TIMEOUT (seconds, 300), DAWNSERVE_GPU (auto|1|0),
# any other DAWNSERVE_<FLAG> (passed into the container), APPTAINER (binary).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=images/apptainer/common.sh
. "$here/common.sh"
[ "$#" -ge 1 ] || { echo "usage: $0 MODEL_REPOSITORY [serve flags...]" >&2; exit 2; }
repo=$(cd "$1" && pwd) || { echo "run-server: model repository '$1' not found" >&2; exit 2; }
shift
bin=$(apptainer_bin)
sif=$(sif_path)
[ -f "$sif" ] || { echo "run-server: no image at $sif (build it with images/apptainer/build.sh, or set DAWNSERVE_SIF)" >&2; exit 1; }

export DAWNSERVE_HTTP_PORT=${DAWNSERVE_HTTP_PORT:-8000}
export DAWNSERVE_METRICS_PORT=${DAWNSERVE_METRICS_PORT:-8002}
log=${DAWNSERVE_LOG_FILE:-$PWD/dawnserve-$(hostname -s).log}
timeout=${DAWNSERVE_READY_TIMEOUT:-300}
mkdir -p "$(dirname "$log")"
pass_env

args=(run --cleanenv)
# shellcheck disable=SC2207
args+=($(gpu_flags))
# A private, writable XDG_RUNTIME_DIR silences Dawn/Mesa warnings (the image is read-only; /tmp is
# bound into the container by default).
xdg=$(mktemp -d /tmp/dawnserve-xdg.XXXXXX)
args+=(--bind "$repo:/models:ro" --env "XDG_RUNTIME_DIR=$xdg")

echo "run-server: $bin ${args[*]} $sif serve --model-repository /models $* >> $log" | tee -a "$log"
"$bin" "${args[@]}" "$sif" serve --model-repository /models "$@" >>"$log" 2>&1 &
pid=$!
# shellcheck disable=SC2317  # called from the traps
forward() { kill -s "$1" "$pid" 2>/dev/null || true; }
trap 'forward TERM' TERM
trap 'forward INT' INT
trap 'rm -rf "$xdg"' EXIT

ready=http://127.0.0.1:$DAWNSERVE_HTTP_PORT/v2/health/ready
for ((i = 0; i < timeout; i++)); do
  if curl -fsS -o /dev/null "$ready" 2>/dev/null; then
    echo "run-server: ready on :$DAWNSERVE_HTTP_PORT (metrics :$DAWNSERVE_METRICS_PORT) after ${i}s, pid $pid, log $log"
    break
  fi
  kill -0 "$pid" 2>/dev/null || { wait "$pid"; rc=$?; echo "run-server: server exited ($rc) before ready; see $log" >&2; tail -20 "$log" >&2; exit "$rc"; }
  sleep 1
done
[ "$i" -lt "$timeout" ] || echo "run-server: not ready after ${timeout}s (still running; see $log)" >&2

# `wait` returns early when a trapped signal arrives; keep waiting until the server has drained,
# then collect its real exit status.
while kill -0 "$pid" 2>/dev/null; do wait "$pid" || true; done
rc=0
wait "$pid" || rc=$?
echo "run-server: server exited with $rc"
exit "$rc"
