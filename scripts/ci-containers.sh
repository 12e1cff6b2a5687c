#!/usr/bin/env bash
# The container suite for CI (called by .ci/run after `npm test`; also fine by hand as root):
#   1. installs Debian's docker.io and debootstrap when missing;
#   2. uses the Docker daemon DOCKER_HOST (or the default socket) points at, or else starts its own
#      `dockerd --bridge=none --iptables=false` with a private socket, exec root and pid file, and a data root in
#      the EmoStream cache so built images survive for the next run;
#   3. builds the local images (scripts/build-images.ts; cached);
#   4. runs the container suite (npm run test:containers);
# and ALWAYS removes the suite's containers and stops the daemon it started, whatever happened.
# Non-interactive: no stdin, CI=true. Knobs: EMOSTREAM_CACHE, EMOSTREAM_DOCKERD_ROOT (daemon state), EMOSTREAM_*_IMAGE.
set -euo pipefail
cd "$(dirname "$0")/.."

t0=$(date +%s)
step() { echo "== [containers +$(($(date +%s) - t0))s] $*"; }

cache="${EMOSTREAM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/emostream}"
state="${EMOSTREAM_DOCKERD_ROOT:-$cache/dockerd}"
# Unix socket paths are limited to ~100 bytes, so the socket lives under /run, not under a deep cache path.
run_dir="/run/emostream-dockerd"
suite_label="org.emostream.suite"

# --- 1. tools --------------------------------------------------------------------------------------------------
missing=()
command -v dockerd > /dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap > /dev/null 2>&1 || missing+=(debootstrap)
if ((${#missing[@]} > 0)); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "ci-containers: ${missing[*]} missing and not root; install them (apt-get install ${missing[*]})" >&2
    exit 1
  fi
  step "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q < /dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" < /dev/null
fi

# --- 2. daemon -------------------------------------------------------------------------------------------------
dockerd_pid=""
child=""
# Long steps run in the background and are waited for, so a TERM/INT reaches the trap at once (bash defers traps
# while a foreground child runs); the trap passes it on to the step.
run_step() {
  "$@" < /dev/null &
  child=$!
  wait "$child"
  child=""
}
on_signal() {
  if [[ -n "$child" ]]; then
    kill -TERM "$child" 2> /dev/null
    wait "$child" 2> /dev/null
  fi
  exit "$1"
}
cleanup() {
  local rc=$?
  set +e
  if docker info > /dev/null 2>&1; then
    local leftovers
    leftovers=$(docker ps -aq --filter "label=$suite_label")
    if [[ -n "$leftovers" ]]; then
      step "removing leftover suite containers: $(echo "$leftovers" | tr '\n' ' ')"
      # shellcheck disable=SC2086
      docker rm -f -v $leftovers > /dev/null
    fi
  fi
  if [[ -n "$dockerd_pid" ]]; then
    step "stopping the Docker daemon this script started (pid $dockerd_pid)"
    kill -TERM "$dockerd_pid" 2> /dev/null
    for _ in $(seq 1 60); do
      kill -0 "$dockerd_pid" 2> /dev/null || break
      sleep 0.5
    done
    if kill -0 "$dockerd_pid" 2> /dev/null; then
      echo "ci-containers: dockerd did not stop in 30 s; killing it" >&2
      kill -KILL "$dockerd_pid" 2> /dev/null
    fi
    # dockerd leaves its default network namespace mounted under the exec root; unmount it too.
    umount "$run_dir/exec/netns/default" 2> /dev/null
  fi
  step "finished with exit code $rc"
  exit "$rc"
}
trap cleanup EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

if docker info > /dev/null 2>&1; then
  step "using the running Docker daemon (${DOCKER_HOST:-default socket})"
else
  if [[ $(id -u) -ne 0 ]]; then
    echo "ci-containers: no Docker daemon reachable and not root to start one" >&2
    exit 1
  fi
  mkdir -p "$state" "$run_dir"
  export DOCKER_HOST="unix://$run_dir/docker.sock"
  if [[ -f "$run_dir/dockerd.pid" ]] && kill -0 "$(cat "$run_dir/dockerd.pid")" 2> /dev/null; then
    # Our own private daemon, left behind by a run that was killed: adopt it, so it is stopped this time.
    dockerd_pid=$(cat "$run_dir/dockerd.pid")
    step "adopting this script's daemon left running by an earlier run (pid $dockerd_pid)"
  else
    step "starting dockerd --bridge=none --iptables=false (data root $state/data, log $state/dockerd.log)"
    dockerd --bridge=none --iptables=false \
      --data-root "$state/data" --exec-root "$run_dir/exec" --pidfile "$run_dir/dockerd.pid" \
      --host "$DOCKER_HOST" > "$state/dockerd.log" 2>&1 < /dev/null &
    dockerd_pid=$!
  fi
  for _ in $(seq 1 120); do
    docker info > /dev/null 2>&1 && break
    if ! kill -0 "$dockerd_pid" 2> /dev/null; then
      echo "ci-containers: dockerd exited during start-up; its log:" >&2
      tail -n 30 "$state/dockerd.log" >&2
      dockerd_pid=""
      exit 1
    fi
    sleep 0.5
  done
  docker info > /dev/null 2>&1 || {
    echo "ci-containers: dockerd not answering after 60 s; its log:" >&2
    tail -n 30 "$state/dockerd.log" >&2
    exit 1
  }
  step "dockerd $(docker version --format '{{.Server.Version}}') ready"
fi

# --- 3. compose file ------------------------------------------------------------------------------------------
# `npm test` already checks it with a YAML parser (infra/compose-file.test.ts); where a compose
# implementation is installed, let it validate the file too (its public images are not pulled).
if docker compose version > /dev/null 2>&1; then
  step "docker compose config: infra/docker-compose.yml"
  docker compose -f infra/docker-compose.yml config -q
elif command -v docker-compose > /dev/null 2>&1; then
  step "docker-compose config: infra/docker-compose.yml"
  docker-compose -f infra/docker-compose.yml config -q
fi

# --- 4. images -------------------------------------------------------------------------------------------------
step "building local images (cached)"
run_step npx --no-install tsx scripts/build-images.ts

# --- 5. suite --------------------------------------------------------------------------------------------------
step "running the container suite"
run_step npm run test:containers
