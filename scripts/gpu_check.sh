#!/usr/bin/env bash
# The GPU check: one prepared script for a machine with an NVIDIA GPU and a CUDA torch.
#
#   bash scripts/gpu_check.sh [OUT_DIR]          (default results/gpu_check)
#
# 1. environment: nvidia-smi, torch, Taichi's CUDA backend (env.txt)
# 1b. (before the CUDA parts, so it also runs without CUDA) the host CPU's thread
#    scaling: benchmarks/scaling.py --threads 1,4,16 (capped at the cores this process may
#    use; GPU_HOST_THREADS overrides, "none" skips), one process per count
#    (host_scaling.log, host_scaling.json); issue 22 asks for at least 8x at 16 threads
# 2. the CUDA tests (pytest -m cuda): every renderer's forward/backward on CUDA vs the CPU
# 3. device_check: CUDA-vs-CPU agreement of every renderer, and forward / forward+backward
#    time at the paper's setting (B 64, 64x64, sigma 3e-5) and at 256x256 (B 16)
# 4. runs packed onto the GPU: benchmarks/packed_runs.py, 1, 2 and 4 `gpu`-preset softras
#    runs at once (GPU_PACKED_ITERS steps each, default 200), the throughput together
#    against one run (packed/packed_runs.json, packed.log)
# 5. a short reconstruction per renderer with the `gpu` preset (the paper's generator,
#    batch 64, 64x64): GPU_RECON_ITERS steps each (default: the preset's), step time and
#    training IoU from metrics.jsonl; voxel IoU when open3d imports
#
# Settings (environment): GPU_PACKED_RUNS (default 1,2,4; "none" skips part 4),
# GPU_PACKED_ITERS, GPU_RECON_RENDERERS (default softras,n3mr,hard; "none" skips
# part 5), GPU_RECON_ITERS,
# GPU_DATA_DIR (a benchmark data folder; default: gpu_data/ when present, else the built-in
# synthetic data, which needs open3d). Taichi and dill are installed from .whl/ when Python
# lacks them (scripts/gpu_wheels.sh downloads them; torch is never replaced).
# Each part's exit status goes to OUT_DIR/status.txt; without CUDA the CUDA parts skip.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT_DIR=${1:-results/gpu_check}
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
: > "$OUT_DIR/status.txt"

part() {  # part NAME COMMAND...: run, log to NAME.log, record the exit status
  local name=$1; shift
  echo "=== $name: $*"
  local t0=$SECONDS
  "$@" 2>&1 | tee "$OUT_DIR/$name.log"
  local rc=${PIPESTATUS[0]}
  echo "$name rc=$rc seconds=$((SECONDS - t0))" | tee -a "$OUT_DIR/status.txt"
}

if ! python3 -c "import taichi" 2>/dev/null; then
  if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target /tmp/gpu_check_site .whl/*.whl || exit 1
    export PYTHONPATH="$PYTHONPATH:/tmp/gpu_check_site"
  else
    echo "taichi is not installed and .whl/ holds no wheels: run scripts/gpu_wheels.sh" >&2
    exit 2
  fi
fi

part env bash -c '
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
  python3 -c "import torch, taichi, platform; print(\"python\", platform.python_version(), \"torch\", torch.__version__, \"cuda\", torch.version.cuda, \"available\", torch.cuda.is_available(), \"taichi\", taichi.__version__)"
  python3 -c "from renderers.taichi_runtime import ensure_init; print(\"taichi arch\", ensure_init(\"cuda\"))"'

# counts 1, 4, 16 capped at renderers.threads.available_cores (affinity and cgroup quota);
# the last line only (importing renderers prints Taichi's banner first)
HOST_THREADS=${GPU_HOST_THREADS:-$(python3 -c 'from renderers.threads import available_cores as a; n = a(); print(",".join(str(t) for t in sorted({1, min(4, n), min(16, n)})))' | tail -n 1)}
if [ "$HOST_THREADS" != none ] && [ "$HOST_THREADS" != 1 ]; then
  part host_scaling python3 benchmarks/scaling.py --threads "$HOST_THREADS" --processes 1 \
    --json "$OUT_DIR/host_scaling.json"
fi

if ! python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo "no CUDA device: the CUDA parts are skipped" | tee -a "$OUT_DIR/status.txt"
  exit 0
fi

part cuda_tests python3 -m pytest -q -ra -p no:cacheprovider -m cuda tests \
  --junitxml="$OUT_DIR/cuda_tests.xml"
part device_check python3 -m bench_softras.commands.device_check --out "$OUT_DIR/device_check"

DATA=${GPU_DATA_DIR:-}
if [ -z "$DATA" ] && [ -d gpu_data ]; then DATA=$PWD/gpu_data; fi
PACKED=${GPU_PACKED_RUNS:-1,2,4}
if [ "$PACKED" != none ]; then
  part packed python3 benchmarks/packed_runs.py --runs "$PACKED" --preset gpu --device cuda \
    --renderer softras --iterations "${GPU_PACKED_ITERS:-200}" ${DATA:+--data-dir "$DATA"} \
    --out "$OUT_DIR/packed"
fi
ITERS=()
if [ -n "${GPU_RECON_ITERS:-}" ]; then ITERS=(--iterations "$GPU_RECON_ITERS"); fi
RECON_LIST=${GPU_RECON_RENDERERS:-softras,n3mr,hard}
if [ "$RECON_LIST" = none ]; then
  cat "$OUT_DIR/status.txt"
  exit 0
fi
IFS=, read -ra RECON <<< "$RECON_LIST"
for r in "${RECON[@]}"; do
  part "recon_$r" python3 -m bench_softras train --preset gpu --device cuda --renderer "$r" \
    ${DATA:+--data-dir "$DATA"} "${ITERS[@]}" --checkpoint-every 100000 --no-progress \
    --out-dir "$OUT_DIR/recon/$r"
  rm -rf "$OUT_DIR/recon/$r/checkpoints"  # hundreds of MB; the metrics stay
done
part recon_summary python3 - "$OUT_DIR/recon" <<'PY'
import json, pathlib, sys
for run in sorted(pathlib.Path(sys.argv[1]).iterdir()):
    recs = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines() if l.strip()]
    if not recs:
        continue
    last = recs[-1]
    ms = 1e3 * last["wall_s"] / last["step"]
    print(f"{run.name:10s} steps {last['step']:6d}  {ms:7.1f} ms/step  loss {last['loss']:.4f}"
          f"  train IoU {last['iou']:.3f}")
PY
cat "$OUT_DIR/status.txt"
