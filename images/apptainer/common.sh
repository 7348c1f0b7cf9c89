# Shared by the Apptainer scripts: find apptainer (or singularity), the image, GPU flags.
# shellcheck shell=bash

# apptainer, or singularity (SingularityCE/older clusters); APPTAINER=... overrides.
apptainer_bin() {
  if [ -n "${APPTAINER:-}" ]; then echo "$APPTAINER"; return; fi
  local b
  for b in apptainer singularity; do
    if command -v "$b" >/dev/null 2>&1; then echo "$b"; return; fi
  done
  echo "dawnserve: neither apptainer nor singularity is on PATH (module load apptainer?)" >&2
  return 1
}

# The image: $DAWNSERVE_SIF, else dawnserve.sif next to the repository root.
sif_path() {
  local root
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  echo "${DAWNSERVE_SIF:-$root/dawnserve.sif}"
}

# --nv when the node has an NVIDIA driver (or DAWNSERVE_GPU=1); DAWNSERVE_GPU=0 turns it off.
gpu_flags() {
  case "${DAWNSERVE_GPU:-auto}" in
    0|no|false) ;;
    1|yes|true) echo --nv ;;
    *) if command -v nvidia-smi >/dev/null 2>&1 || [ -e /dev/nvidiactl ]; then echo --nv; fi ;;
  esac
}

# --cleanenv keeps the host's NODE_OPTIONS & co. out of the container; what dawnserve reads
# (DAWNSERVE_*, CUDA_VISIBLE_DEVICES) is passed on as APPTAINERENV_<NAME> (SINGULARITYENV_ for
# singularity), which --cleanenv lets through and which keeps commas in values intact.
pass_env() {
  local name prefix=APPTAINERENV_
  [ "$(basename "$(apptainer_bin)")" = singularity ] && prefix=SINGULARITYENV_
  while IFS='=' read -r name _; do
    case "$name" in
      DAWNSERVE_SIF|DAWNSERVE_MODELS|DAWNSERVE_GPU|DAWNSERVE_LOG_FILE|DAWNSERVE_READY_TIMEOUT) ;;
      DAWNSERVE_*|CUDA_VISIBLE_DEVICES) export "$prefix$name=${!name}" ;;
    esac
  done < <(env)
}
