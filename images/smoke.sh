#!/usr/bin/env bash
# Smoke test of the CPU-only image, end to end, with podman and nothing but Debian's archive and the
# npm registry: makes a Debian bookworm base offline (debootstrap → podman import), builds
# images/Dockerfile.cpu, starts it on the bundled models, checks live, ready, one `simple`
# inference, the metrics endpoint and the image's HEALTHCHECK, then stops it with its STOPSIGNAL
# while requests are in flight and requires a clean drain (exit 0, no request cut off).
#
#   sudo bash images/smoke.sh            # as root; installs podman/runc/debootstrap when missing
#
# Environment: SMOKE_WORK (work dir, default /var/tmp/dawnserve-smoke), SMOKE_HTTP_PORT (18000),
# SMOKE_METRICS_PORT (18002), SMOKE_IMAGE (localhost/dawnserve:cpu), SMOKE_BASE (localhost/bookworm:base),
# SMOKE_REBUILD_BASE=1 (make the base again), SMOKE_CA_BUNDLE (CA bundle passed to the build as a
# secret, for TLS-intercepting proxies; default the host's bundle, empty to pass none),
# SMOKE_NO_CACHE=1 (build without podman's layer cache), SMOKE_SKIP_BUILD=1 (test an image already
# built), SMOKE_KEEP=1 (leave the container for inspection).
# The container uses the host network and listens on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
: > "${SMOKE_WORK:-/var/tmp/dawnserve-smoke}/podman.log" 2>/dev/null || true

WORK=${SMOKE_WORK:-/var/tmp/dawnserve-smoke}
HTTP_PORT=${SMOKE_HTTP_PORT:-18000}
METRICS_PORT=${SMOKE_METRICS_PORT:-18002}
IMAGE=${SMOKE_IMAGE:-localhost/dawnserve:cpu}
BASE=${SMOKE_BASE:-localhost/bookworm:base}
CA_BUNDLE=${SMOKE_CA_BUNDLE-/etc/ssl/certs/ca-certificates.crt}
NAME=dawnserve-smoke-$$
BASE_URL=http://127.0.0.1:$HTTP_PORT
T0=$(date +%s)

step() { printf '\n== %s (+%ss)\n' "$*" "$(($(date +%s) - T0))"; }
pass() { printf 'PASS %s\n' "$*"; PASSED+=("$*"); }
fail() { printf 'FAIL %s\n' "$*" >&2; exit 1; }
PASSED=()

# --- prerequisites -------------------------------------------------------------------------------
need=()
command -v podman >/dev/null || need+=(podman)
command -v runc >/dev/null || need+=(runc)
command -v curl >/dev/null || need+=(curl)
if [ "${#need[@]}" -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || fail "missing ${need[*]}; run as root to have them installed"
  step "installing ${need[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
mkdir -p "$WORK"
# No systemd/cgroup ulimits or CNI networking here: runc, host network, no default ulimits.
cat > "$WORK/containers.conf" <<'EOF'
[containers]
default_ulimits = []

[engine]
runtime = "runc"
EOF
export CONTAINERS_CONF=$WORK/containers.conf
PODMAN=(podman)

cleanup() {
  local rc=$?
  if [ $rc -ne 0 ]; then
    echo "smoke: failed after $(($(date +%s) - T0)) s; container logs (last 40 lines):" >&2
    "${PODMAN[@]}" logs --tail 40 "$NAME" 2>&1 | cut -c1-600 >&2 || true
  fi
  if [ "${SMOKE_KEEP:-0}" != 1 ]; then "${PODMAN[@]}" rm -f -t 0 "$NAME" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

# --- base image, made offline from Debian's archive ----------------------------------------------
if [ "${SMOKE_REBUILD_BASE:-0}" = 1 ] || ! "${PODMAN[@]}" image exists "$BASE"; then
  step "making $BASE with debootstrap"
  command -v debootstrap >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
  # The mirror this machine already uses, not a hard-coded host.
  mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$mirror" ] || mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$mirror" ] || fail "no Debian mirror found in this machine's apt sources"
  rm -rf "$WORK/rootfs"
  debootstrap --variant=minbase bookworm "$WORK/rootfs" "$mirror" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log" >&2; fail "debootstrap"; }
  tar -C "$WORK/rootfs" -c . | "${PODMAN[@]}" import - "$BASE" >/dev/null 2>>"$WORK/podman.log"
  rm -rf "$WORK/rootfs"
fi
pass "base image $BASE ($("${PODMAN[@]}" run --rm --network host "$BASE" cat /etc/debian_version))"

# --- build ---------------------------------------------------------------------------------------
if [ "${SMOKE_SKIP_BUILD:-0}" != 1 ]; then
  step "building $IMAGE from images/Dockerfile.cpu (log: $WORK/build.log)"
  secret=()
  nocache=()
  [ "${SMOKE_NO_CACHE:-0}" = 1 ] && nocache=(--no-cache)
  [ -n "$CA_BUNDLE" ] && [ -s "$CA_BUNDLE" ] && secret=(--secret "id=ca,src=$CA_BUNDLE")
  # --format docker: the OCI format has no HEALTHCHECK field and podman would drop it.
  "${PODMAN[@]}" build --format docker --network host --build-arg "BASE_IMAGE=$BASE" --build-arg "NPM_REGISTRY=$(npm config get registry | sed 's:/*$::')" \
      --ignorefile images/Dockerfile.dockerignore "${secret[@]}" "${nocache[@]}" \
      -f images/Dockerfile.cpu -t "$IMAGE" . >"$WORK/build.log" 2>&1 \
    || { tail -30 "$WORK/build.log" >&2; fail "image build"; }
  pass "image build ($(("$(date +%s)" - T0)) s so far)"
fi
stop_signal=$("${PODMAN[@]}" image inspect --format '{{.Config.StopSignal}}' "$IMAGE")
health=$("${PODMAN[@]}" image inspect --format '{{json .Config.Healthcheck}}' "$IMAGE")
user=$("${PODMAN[@]}" image inspect --format '{{.Config.User}}' "$IMAGE")
[ "$stop_signal" = SIGTERM ] || fail "image StopSignal is '$stop_signal', expected SIGTERM"
[[ "$health" == *"/v2/health/ready"* ]] || fail "image has no HEALTHCHECK on /v2/health/ready: $health"
[[ -n "$user" && "$user" != root && "$user" != 0 && "$user" != 0:* ]] || fail "image runs as '$user'"
pass "image config: StopSignal SIGTERM, HEALTHCHECK on ready, USER $user"

# --- one-off commands through the entrypoint -----------------------------------------------------
out=$("${PODMAN[@]}" run --rm --network host --health-interval disable "$IMAGE" install-deps /models --dry-run 2>>"$WORK/podman.log")
[[ "$out" == *"nothing to install"* ]] || fail "install-deps in the image: $out"
pass "dawnserve install-deps /models --dry-run in the image"

# --- serve ---------------------------------------------------------------------------------------
step "starting $NAME on 127.0.0.1:$HTTP_PORT (metrics :$METRICS_PORT) with the bundled models"
# --health-interval disable: no systemd timer here (podman schedules healthchecks with systemd);
# the HEALTHCHECK stays in the container and is run by hand below.
"${PODMAN[@]}" run -d --name "$NAME" --network host --health-interval disable \
  -e DAWNSERVE_HTTP_ADDRESS=127.0.0.1 -e DAWNSERVE_HTTP_PORT="$HTTP_PORT" -e DAWNSERVE_METRICS_PORT="$METRICS_PORT" \
  -v "$ROOT/models:/models:ro" "$IMAGE" >/dev/null 2>>"$WORK/podman.log"

wait_for() { # url seconds
  local deadline=$(($(date +%s) + $2))
  until curl -fsS -o /dev/null "$1" 2>/dev/null; do
    [ "$("${PODMAN[@]}" inspect --format '{{.State.Running}}' "$NAME")" = true ] || fail "container exited while waiting for $1"
    [ "$(date +%s)" -lt "$deadline" ] || fail "$1 not 200 after $2 s"
    sleep 1
  done
}
wait_for "$BASE_URL/v2/health/live" 120
pass "GET /v2/health/live → 200"
wait_for "$BASE_URL/v2/health/ready" 300
pass "GET /v2/health/ready → 200 ($(($(date +%s) - T0)) s since start of smoke)"
code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE_URL/v2/models/simple/ready")
[ "$code" = 200 ] || fail "GET /v2/models/simple/ready → $code"
pass "GET /v2/models/simple/ready → 200"
backend=$("${PODMAN[@]}" logs "$NAME" 2>&1 | sed -n "s/.*using tfjs backend '\([a-z]*\)'.*/\1/p" | head -1)
echo "     backend chosen in the container: ${backend:-unknown}"

# --- one inference -------------------------------------------------------------------------------
seq16=$(seq -s, 1 16)
body='{"id":"smoke-1","inputs":[{"name":"INPUT0","shape":[1,16],"datatype":"INT32","data":['"$seq16"']},{"name":"INPUT1","shape":[1,16],"datatype":"INT32","data":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}]}'
resp=$(curl -fsS "$BASE_URL/v2/models/simple/infer" -H 'Content-Type: application/json' -d "$body") || fail "simple infer"
compact=$(printf '%s' "$resp" | tr -d ' \n')
sum='"data":['"$(seq -s, 2 17)"']'
diff='"data":['"$(seq -s, 0 15)"']'
[[ "$compact" == *'"id":"smoke-1"'* && "$compact" == *'"OUTPUT0"'* && "$compact" == *"$sum"* && "$compact" == *"$diff"* ]] \
  || fail "simple infer answer: $resp"
pass "POST /v2/models/simple/infer → OUTPUT0 = INPUT0+INPUT1, OUTPUT1 = INPUT0-INPUT1, id echoed"

# --- metrics -------------------------------------------------------------------------------------
metrics=$(curl -fsS "http://127.0.0.1:$METRICS_PORT/metrics") || fail "GET /metrics on :$METRICS_PORT"
line=$(printf '%s\n' "$metrics" | grep -E '^nv_inference_request_success\{[^}]*model="simple"' | head -1 || true)
if [ -z "$line" ] || ! [ "${line##* }" -ge 1 ] 2>/dev/null; then
  fail "nv_inference_request_success for simple missing or 0: '$line'"
fi
printf '%s\n' "$metrics" | grep -q '^nv_inference_count' || fail "nv_inference_count missing"
pass "GET :$METRICS_PORT/metrics → $line"

# --- the image's own HEALTHCHECK -----------------------------------------------------------------
if "${PODMAN[@]}" healthcheck run "$NAME" >>"$WORK/podman.log" 2>&1; then
  pass "podman healthcheck run → healthy"
else
  fail "podman healthcheck run → unhealthy"
fi

# --- stop with requests in flight: clean drain ---------------------------------------------------
step "stopping with requests in flight"
# Each request either completes with 200 or, once the listener is closed, is refused (curl exit 7).
# Anything else (a reset, an empty reply, a 5xx) means the drain cut a request off.
burst=$WORK/burst.txt
: > "$burst"
# shellcheck disable=SC2016  # $1/$2 expand in the inner sh
seq 1 200 | xargs -P 8 -I{} sh -c \
  'c=$(curl -s -o /dev/null -w "%{http_code}" -H "Content-Type: application/json" -d "$1" "$2"); echo "$? $c"' \
  _ "$body" "$BASE_URL/v2/models/simple/infer" >> "$burst" 2>/dev/null &
burst_pid=$!
sleep 0.3
stop_t0=$(date +%s%N)
"${PODMAN[@]}" stop -t 30 "$NAME" >/dev/null 2>>"$WORK/podman.log"   # the image's STOPSIGNAL (SIGTERM), SIGKILL only after 30 s
stop_ms=$((($(date +%s%N) - stop_t0) / 1000000))
wait "$burst_pid" || true
exit_code=$("${PODMAN[@]}" inspect --format '{{.State.ExitCode}}' "$NAME")
[ "$exit_code" = 0 ] || fail "container exit code $exit_code after SIGTERM (137 = it had to be killed)"
"${PODMAN[@]}" logs "$NAME" 2>&1 | grep -q 'draining in-flight requests' || fail "no 'draining in-flight requests' in the log"
"${PODMAN[@]}" logs "$NAME" 2>&1 | grep -q 'dawnserve stopped' || fail "no 'dawnserve stopped' in the log"
ok=$(grep -c '^0 200$' "$burst" || true)
refused=$(grep -c '^7 ' "$burst" || true)
bad=$(grep -v -e '^0 200$' -e '^7 ' "$burst" | sort | uniq -c | tr '\n' ';' || true)
[ -z "$bad" ] || fail "requests cut off during the drain (curl-exit http-code: count): $bad"
pass "SIGTERM → exit 0 in ${stop_ms} ms, drained ($ok requests answered 200 around the stop, $refused refused after close, none cut off)"

printf '\nsmoke: all %d checks passed in %d s (image %s, backend %s)\n' "${#PASSED[@]}" "$(($(date +%s) - T0))" "$IMAGE" "${backend:-unknown}"
