#!/usr/bin/env bash
# Regenerates the Python code for every .proto in this folder.
# Run from anywhere with the project's venv: `make proto`. The generated files are
# committed; regenerate only with grpcio-tools 1.62.3 (the pinned codegen extra), whose
# output runs on protobuf 4.25 and newer.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"
cd "$root"
"$python" -m grpc_tools.protoc -I. --python_out=. --pyi_out=. --grpc_python_out=. tffl/proto/*.proto
# Services-free protos get an empty *_pb2_grpc.py; drop those.
for f in tffl/proto/*_pb2_grpc.py; do
  grep -q "class .*Stub" "$f" || rm -f "$f"
done
