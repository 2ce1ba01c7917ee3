#!/usr/bin/env bash
# The driver side of the main job on N workers started on this machine.
#
#   examples/remote/run_fedavg.sh N [emnist_fedavg.py flags...]
#
# Starts N workers with start_local_workers.sh (ports BASE_PORT.., BASE_PORT from
# the environment, default 8000), runs examples/emnist_fedavg.py against them with
# --executor=remote, and stops the workers when the run ends. Against workers that
# already run elsewhere (a Kubernetes Service, say), run the driver directly:
#   python examples/emnist_fedavg.py --executor=remote --workers=host:port,...
set -euo pipefail

usage="usage: $0 N [emnist_fedavg.py flags...]"
count="${1:?$usage}"
shift
base_port="${BASE_PORT:-8000}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
python="${PYTHON:-}"
if [[ -z "$python" ]]; then
  if [[ -x "$root/.venv/bin/python" ]]; then python="$root/.venv/bin/python"; else python=python3; fi
fi
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-3}"

log="$(mktemp "${TMPDIR:-/tmp}/tffl-run-fedavg.XXXXXX")"
PYTHON="$python" "$root/examples/remote/start_local_workers.sh" "$count" "$base_port" >"$log" 2>&1 &
workers_pid=$!
trap 'kill -TERM "$workers_pid" 2>/dev/null || true; wait "$workers_pid" 2>/dev/null || true; rm -f "$log"' EXIT

for ((tries = 0; ; tries++)); do
  addresses="$(sed -n 's/^ready: //p' "$log")"
  if [[ -n "$addresses" ]]; then break; fi
  if ! kill -0 "$workers_pid" 2>/dev/null || ((tries > 1200)); then
    echo "the workers did not start:" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.1
done
echo "workers: $addresses" >&2

"$python" "$root/examples/emnist_fedavg.py" --executor=remote --workers="$addresses" "$@"
