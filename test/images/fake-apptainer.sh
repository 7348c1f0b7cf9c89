#!/usr/bin/env bash
# Stands in for `apptainer` in test/images/apptainer-scripts.test.ts: maps `run`/`exec` onto this
# checkout's dist/src/cli.js, applying what the container would see (--bind for /models, --env,
# APPTAINERENV_*), and records its argv in $FAKE_APPTAINER_ARGV for the test to check.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
[ -z "${FAKE_APPTAINER_ARGV:-}" ] || printf '%s\n' "$*" >> "$FAKE_APPTAINER_ARGV"
sub=$1; shift
models=
envs=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    --nv|--cleanenv) shift ;;
    --bind) spec=$2; src=${spec%%:*}; rest=${spec#*:}; [ "${rest%%:*}" = /models ] && models=$src; shift 2 ;;
    --env) envs+=("$2"); shift 2 ;;
    *.sif) shift; break ;;
    *) echo "fake-apptainer: unexpected argument $1" >&2; exit 2 ;;
  esac
done
while IFS='=' read -r name _; do
  case "$name" in APPTAINERENV_*) envs+=("${name#APPTAINERENV_}=${!name}") ;; esac
done < <(env)
args=()
for a in "$@"; do [ "$a" = /models ] && a=$models; args+=("$a"); done
case "$sub" in
  run) exec env "${envs[@]}" node "$root/dist/src/cli.js" "${args[@]}" ;;
  exec) [ "${args[0]}" = dawnserve ] && args=(node "$root/dist/src/cli.js" "${args[@]:1}")
        exec env "${envs[@]}" "${args[@]}" ;;
  *) echo "fake-apptainer: unsupported subcommand $sub" >&2; exit 2 ;;
esac
