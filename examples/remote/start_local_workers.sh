#!/usr/bin/env bash
# Starts N tffl workers on 127.0.0.1, to try remote execution on one machine.
#
#   examples/remote/start_local_workers.sh N [BASE_PORT]
#
# Worker i listens on BASE_PORT+i (BASE_PORT defaults to 8000). Extra worker flags
# can be given in WORKER_FLAGS (e.g. WORKER_FLAGS="--max_concurrency=1"). The script
# waits until every worker listens, prints their addresses, writes their pids to a
# file, and stops them all on Ctrl-C (or SIGTERM). Python comes from $PYTHON, else
# the project's .venv, else python3; the workers run this checkout's tffl.
set -euo pipefail

usage="usage: $0 N [BASE_PORT]"
count="${1:?$usage}"
base_port="${2:-8000}"
if ! [[ "$count" =~ ^[1-9][0-9]*$ && "$base_port" =~ ^[1-9][0-9]*$ ]]; then
  echo "$usage" >&2
  exit 2
fi

root="$(cd "$(dirname "$0")/../.." && pwd)"
python="${PYTHON:-}"
if [[ -z "$python" ]]; then
  if [[ -x "$root/.venv/bin/python" ]]; then python="$root/.venv/bin/python"; else python=python3; fi
fi
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-3}"
export PYTHONUNBUFFERED=1

log_dir="$(mktemp -d "${TMPDIR:-/tmp}/tffl-workers.XXXXXX")"
pid_file="${PID_FILE:-$log_dir/workers.pids}"
pids=()

stop() {
  trap - INT TERM EXIT
  if ((${#pids[@]})); then
    echo "stopping ${#pids[@]} workers"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
  rm -f "$pid_file"
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM
trap stop EXIT

cd "$root"
addresses=()
for ((i = 0; i < count; i++)); do
  port=$((base_port + i))
  # shellcheck disable=SC2086  # WORKER_FLAGS is a list of flags.
  "$python" -m tffl.backends.worker --host=127.0.0.1 --port="$port" ${WORKER_FLAGS:-} \
    >"$log_dir/worker-$port.log" 2>&1 &
  pids+=($!)
  addresses+=("127.0.0.1:$port")
done
printf '%s\n' "${pids[@]}" >"$pid_file"

for ((i = 0; i < count; i++)); do
  log="$log_dir/worker-$((base_port + i)).log"
  for ((tries = 0; ; tries++)); do
    if grep -q "tffl-worker listening on" "$log" 2>/dev/null; then break; fi
    if ! kill -0 "${pids[i]}" 2>/dev/null || ((tries > 1200)); then
      echo "worker ${addresses[i]} did not start; its log ($log):" >&2
      cat "$log" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "worker ${addresses[i]} (pid ${pids[i]}, log $log)"
done

echo "pids in $pid_file"
echo "ready: $(IFS=,; echo "${addresses[*]}")"
echo "  tffl.backends.remote.set_context(\"$(IFS=,; echo "${addresses[*]}")\")"
echo "Ctrl-C stops them."
wait
