#!/bin/sh
# Keeps the compose service in the foreground around `npm run job:submit`, which starts spark-submit in the
# background and returns once the query runs: stream the driver log while the job lives and exit non-zero when it
# dies (compose restarts the service); on SIGTERM/SIGINT (docker compose stop/down) stop the job with
# `npm run job:stop` so the query ends cleanly on its checkpoint.
set -eu
job="${1:-emoji-swarm}"
run="${SPARK_JOBS_STATE}/runs/${job}"

stop() {
  npm run --silent job:stop -- "$job" || true
  exit 0
}
trap stop TERM INT

npm run --silent job:submit -- "$job"
pid=$(sed -n 's/.*"launcherPid": *\([0-9][0-9]*\).*/\1/p' "$run/meta.json")
tail -n +1 -F "$run/driver.log" &
while kill -0 "$pid" 2> /dev/null; do
  # `wait` on a background sleep returns as soon as a trapped signal arrives.
  sleep 2 &
  wait $!
done
echo "spark-job: $job (pid $pid) exited; see $run/driver.log" >&2
exit 1
