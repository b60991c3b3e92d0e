#!/usr/bin/env bash
# Wheels that a GPU machine's Python lacks, for scripts/gpu_check.sh: taichi 1.7.4 (CPython
# 3.12, manylinux x86-64) and dill, into .whl/ (git-ignored). Taichi's wheel is slimmed from
# 56 MB to 35 MB by dropping what Python never loads (the C-API library, examples, C
# headers, GUI images), so the tree that travels stays small. Torch is never downloaded.
#
#   bash scripts/gpu_wheels.sh [PYTHON_VERSION]      (default 3.12)
set -euo pipefail
cd "$(dirname "$0")/.."
PYV=${1:-3.12}
TAG=cp${PYV/./}
mkdir -p .whl
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$PYV" \
  --implementation cp --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 -d "$work/dl" taichi==1.7.4 dill==0.4.1
python3 -m pip install -q wheel
cp "$work"/dl/dill-*.whl .whl/
python3 -m wheel unpack "$work"/dl/taichi-*-"$TAG"-*.whl -d "$work/u" >/dev/null
root=$(echo "$work"/u/taichi-1.7.4)
drop='taichi/_lib/c_api|taichi/examples|taichi-1.7.4.data/data/include|taichi/assets/static'
rm -rf "$root/taichi/_lib/c_api" "$root/taichi/examples" "$root/taichi-1.7.4.data/data/include" \
  "$root/taichi/assets/static"
grep -Ev "^($drop)" "$root/taichi-1.7.4.dist-info/RECORD" > "$work/RECORD"
mv "$work/RECORD" "$root/taichi-1.7.4.dist-info/RECORD"
python3 -m wheel pack "$root" -d .whl >/dev/null
ls -la .whl
