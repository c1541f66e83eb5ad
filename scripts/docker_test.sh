#!/usr/bin/env bash
# `make docker-test`: build the image and check that it serves, with or without an image registry.
#
# 1. Docker: installs Debian's docker.io when missing and starts dockerd when it is not running.
# 2. Base image: $BASE_IMAGE (python:3.11-slim) if present or pullable; otherwise
#    depthlens-base:bookworm, built once with debootstrap from Debian's packages (python3,
#    python3-venv, ca-certificates) and kept for later runs.
# 3. A wheelhouse of requirements-runtime.lock built on the host (build/wheelhouse); the image
#    installs from it with --no-index, and the build has no network.
# 4. Runs the image with its port published on 127.0.0.1, waits (bounded) for /health to show
#    every default market live and Docker's HEALTHCHECK to say healthy, fetches / and one frame
#    of /ws/BTCUSDT, checks the process is not root, stops it (exit status 0 expected) and removes it.
# Prints the image size and the elapsed time; any failure is one clear line and exit status 1.
# Needs root (or passwordless sudo) for apt, dockerd and debootstrap. Not part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-depthlens:docker-test}
BASE_IMAGE=${BASE_IMAGE:-python:3.11-slim}
FALLBACK_BASE=depthlens-base:bookworm
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DEBIAN_SECURITY=${DEBIAN_SECURITY:-http://deb.debian.org/debian-security}
WAIT_S=${DOCKER_TEST_WAIT_S:-180}
PY=.venv/bin/python
WHEELHOUSE=build/wheelhouse
STARTED=$(date +%s)
CONTAINER=""

say() { echo "docker-test [$(($(date +%s) - STARTED)) s]: $*" >&2; }
fail() { say "FAILED: $*"; exit 1; }
elapsed() { echo "$(($(date +%s) - STARTED)) s"; }
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo -n"; fi

cleanup() {
  local status=$?
  if [ -n "$CONTAINER" ]; then
    if [ "$status" != 0 ]; then
      say "the container's last log lines:"
      docker logs --tail 30 "$CONTAINER" >&2 2>&1 || true
    fi
    docker rm -f "$CONTAINER" >/dev/null 2>&1 || true
  fi
  [ "$status" = 0 ] || say "gave up after $(elapsed)"
}
trap cleanup EXIT

[ -x "$PY" ] || fail "$PY is missing: run \`make setup\` first"
mkdir -p build  # logs, the wheelhouse

apt_install() {
  say "installing $* with apt"
  $SUDO apt-get update -qq || fail "apt-get update failed"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null \
    || fail "apt-get install $* failed"
}

ensure_docker() {
  if ! command -v docker >/dev/null || { ! docker info >/dev/null 2>&1 && ! command -v dockerd >/dev/null; }; then
    apt_install docker.io
  fi
  if docker info >/dev/null 2>&1; then
    return
  fi
  say "starting dockerd (log: build/dockerd.log); it keeps running after this script"
  # setsid: the daemon outlives this script and make, and a Ctrl-C here does not reach it.
  $SUDO setsid dockerd >build/dockerd.log 2>&1 </dev/null &
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && return
    sleep 1
  done
  fail "dockerd did not answer within 60 s (see build/dockerd.log)"
}

# The classic builder where the buildx plugin is missing (Debian's docker.io has none); both
# build this Dockerfile the same way.
choose_builder() {
  if ! docker buildx version >/dev/null 2>&1; then
    export DOCKER_BUILDKIT=0
  fi
}

build_debian_base() {
  command -v debootstrap >/dev/null || apt_install debootstrap
  local rootfs
  rootfs=$(mktemp -d /var/tmp/depthlens-rootfs.XXXXXX)
  say "building $FALLBACK_BASE with debootstrap from $DEBIAN_MIRROR (once; later runs reuse it)"
  $SUDO debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$rootfs" "$DEBIAN_MIRROR" >build/debootstrap.log 2>&1 \
    || { $SUDO rm -rf "$rootfs"; fail "debootstrap failed (see build/debootstrap.log)"; }
  # Bookworm's point release as debootstrap left it, plus the updates and security suites.
  printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb %s bookworm-security main\n' \
    "$DEBIAN_MIRROR" "$DEBIAN_MIRROR" "$DEBIAN_SECURITY" | $SUDO tee "$rootfs/etc/apt/sources.list" >/dev/null
  $SUDO chroot "$rootfs" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get upgrade -y -qq' \
    >>build/debootstrap.log 2>&1 \
    || { $SUDO rm -rf "$rootfs"; fail "apt-get upgrade inside the new base failed (see build/debootstrap.log)"; }
  $SUDO chroot "$rootfs" apt-get clean
  $SUDO rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/* "$rootfs"/var/cache/debconf/*-old \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
  $SUDO tar -C "$rootfs" --numeric-owner -c . \
    | docker import --change 'ENV LANG=C.UTF-8' --change 'CMD ["/bin/bash"]' - "$FALLBACK_BASE" >/dev/null \
    || { $SUDO rm -rf "$rootfs"; fail "docker import of the debootstrap tree failed"; }
  $SUDO rm -rf "$rootfs"
}

# Prints the base image to build on.
choose_base() {
  if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    echo "$BASE_IMAGE"; return
  fi
  if timeout 120 docker pull -q "$BASE_IMAGE" >/dev/null 2>&1; then
    echo "$BASE_IMAGE"; return
  fi
  say "$BASE_IMAGE is not here and cannot be pulled: using $FALLBACK_BASE"
  docker image inspect "$FALLBACK_BASE" >/dev/null 2>&1 || build_debian_base
  echo "$FALLBACK_BASE"
}

# Wheels for every locked runtime package, for the base's Python; rebuilt when the lock changes.
build_wheelhouse() {
  local base=$1 host_py image_py lock_sum
  host_py=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  image_py=$(docker run --rm --network none "$base" python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])') \
    || fail "$base has no working python3"
  [ "$host_py" = "$image_py" ] \
    || fail "the wheelhouse is built with $PY (Python $host_py) but $base has Python $image_py"
  lock_sum=$(sha256sum requirements-runtime.lock | cut -d' ' -f1)
  if [ -f "$WHEELHOUSE.sha256" ] && [ "$(cat "$WHEELHOUSE.sha256")" = "$lock_sum" ]; then
    say "wheelhouse up to date ($WHEELHOUSE)"
    return
  fi
  say "building the wheelhouse for Python $host_py ($WHEELHOUSE)"
  rm -rf "$WHEELHOUSE" "$WHEELHOUSE.sha256"
  "$PY" -m pip wheel --disable-pip-version-check -r requirements-runtime.lock -w "$WHEELHOUSE" \
    >build/wheelhouse.log 2>&1 || fail "pip wheel -r requirements-runtime.lock failed (see build/wheelhouse.log)"
  echo "$lock_sum" >"$WHEELHOUSE.sha256"
}

# Polls /health until every default market is live, then GET / and one /ws frame.
probe() {
  "$PY" - "$1" "$WAIT_S" "$STARTED" <<'PYTHON'
import asyncio, json, sys, time, urllib.request

import websockets

from api.sources import SIM_DEFAULT_MARKETS
from marketdata.markets import MarketId

port, wait_s, started = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])


def say(text: str) -> None:
    print(f"docker-test [{time.time() - started:.0f} s]: {text}", file=sys.stderr)


base = f"http://127.0.0.1:{port}"
wanted = {str(MarketId.parse(s)) for s in SIM_DEFAULT_MARKETS}
deadline, last = time.monotonic() + wait_s, "no answer yet"
while time.monotonic() < deadline:
    try:
        with urllib.request.urlopen(f"{base}/health", timeout=5) as response:
            health = json.load(response)
        live = {str(MarketId.parse(k)) for k, v in health["symbols"].items() if v["state"] == "live"}
        last = f"status {health['status']}, live: {', '.join(sorted(live)) or 'none'}"
        if health["status"] == "ok" and wanted <= live:
            break
    except Exception as exc:  # not up yet: connection refused or reset while it starts
        last = f"{type(exc).__name__}: {exc}"
    time.sleep(1)
else:
    sys.exit(f"/health did not show the default markets live within {wait_s:.0f} s ({last})")
say(f"/health ok, {len(wanted)} default markets live")

with urllib.request.urlopen(f"{base}/", timeout=10) as response:
    page = response.read().decode()
if response.status != 200 or "_dash-config" not in page:
    sys.exit(f"GET / did not return the dashboard page (status {response.status})")


async def one_frame() -> dict:
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws/BTCUSDT", open_timeout=10) as ws:
        async with asyncio.timeout(15):
            while True:
                message = json.loads(await ws.recv())
                if message.get("type") == "frame":
                    return message

frame = asyncio.run(one_frame())
if frame.get("status") != "live" or frame.get("best_bid") is None:
    sys.exit(f"the /ws/BTCUSDT frame is not live: status {frame.get('status')}")
say(f"GET / ok; /ws/BTCUSDT frame: {frame['status']}, bid {frame['best_bid']}, ask {frame['best_ask']}")
PYTHON
}

wait_healthy() {
  local status deadline=$(($(date +%s) + WAIT_S))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    status=$(docker inspect -f '{{.State.Health.Status}}' "$CONTAINER")
    [ "$status" = healthy ] && return
    [ "$status" = unhealthy ] && fail "Docker's HEALTHCHECK reports the container unhealthy"
    sleep 2
  done
  fail "Docker's HEALTHCHECK did not report healthy within $WAIT_S s (last: $status)"
}

ensure_docker
choose_builder
BASE=$(choose_base)
build_wheelhouse "$BASE"

say "building $IMAGE on $BASE (packages from $WHEELHOUSE, no network)"
OLD_ID=$(docker image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)
docker build --quiet --network none -t "$IMAGE" \
  --build-arg BASE_IMAGE="$BASE" --build-arg PIP_INSTALL_ARGS=--no-index . >build/docker-build.log 2>&1 \
  || { tail -20 build/docker-build.log >&2; fail "docker build failed (log: build/docker-build.log)"; }
# The previous build of this tag, now untagged, would only take space.
if [ -n "$OLD_ID" ] && [ "$OLD_ID" != "$(docker image inspect -f '{{.Id}}' "$IMAGE")" ]; then
  docker rmi "$OLD_ID" >/dev/null 2>&1 || true
fi

CONTAINER=$(docker run -d --name "depthlens-docker-test-$$" -p 127.0.0.1::8000 "$IMAGE") \
  || fail "docker run failed"
PORT=$(docker port "$CONTAINER" 8000/tcp | head -1 | sed 's/.*://')
[ -n "$PORT" ] || fail "no host port was published for 8000/tcp"
say "container ${CONTAINER:0:12} listening on 127.0.0.1:$PORT"

probe "$PORT" || fail "the running container did not serve as expected"
USER_ID=$(docker exec "$CONTAINER" id -u)
[ "$USER_ID" != 0 ] || fail "the server runs as root"
wait_healthy
say "HEALTHCHECK healthy; server runs as uid $USER_ID"

docker stop -t 20 "$CONTAINER" >/dev/null
EXIT_CODE=$(docker inspect -f '{{.State.ExitCode}}' "$CONTAINER")
[ "$EXIT_CODE" = 0 ] || fail "the server exited with status $EXIT_CODE on docker stop"
docker rm "$CONTAINER" >/dev/null
CONTAINER=""

SIZE=$(docker image inspect -f '{{.Size}}' "$IMAGE")
say "PASSED: image $IMAGE on $BASE, $((SIZE / 1000000)) MB; elapsed $(elapsed)"
