#!/usr/bin/env bash
# Every GPU measurement that issue 7 and the README ask for, in one command, for a lent GPU machine that has PyTorch
# but no .NET (see ../shared/tools/gpu/README.md).
#
#   scripts/gpu-measure.sh pack   # here: builds .gpu/rwkv.tar.xz (the CLI without LibTorch; the host's is used)
#   scripts/gpu-measure.sh run [STEP...]  # there, from the repository root with .gpu carried: $OUT/*.json and *.log
#
# Without STEPs every step runs (a few minutes); name some to split the work across calls of at most 10 minutes.
#
# `run` checks the fused CUDA kernels against their references first (rwkv bench wkv --check), then measures the
# settings the official figures were taken at (inference at 224 batch 256 and 1792 batch 4, float32 and bfloat16;
# training at 224 batch 128), then training again with each fused kernel switched off, so that what each one buys is
# measured rather than assumed. A failing step is logged and the rest still run; the exit code is the number of
# failed steps.
set -uo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
  pack)
    set -e
    bash ../shared/tools/gpu/pack.sh src/Cli -p:RwkvNoLibTorch=true -p:TreatWarningsAsErrors=false \
      -p:JsonSerializerIsReflectionEnabledByDefault=true
    rm -rf .gpu/publish   # only the archive travels
    exit 0 ;;
  run) ;;
  *) echo "usage: scripts/gpu-measure.sh pack | run [STEP...]" >&2; exit 2 ;;
esac
shift
all_steps="info wkv-check infer-224 infer-1792 infer-1792-bf16 train-224 train-224-no-fused-adamw train-224-no-fused-tsm train-224-again"
steps="${*:-$all_steps}"

out="${OUT:-$PWD/gpu-results}"
# Always the carried bundle, never one left on a warm machine by an earlier call.
rm -rf /tmp/rwkv-gpu && mkdir -p "$out" /tmp/rwkv-gpu
tar -C /tmp/rwkv-gpu -xJf .gpu/rwkv.tar.xz || { echo "no .gpu/rwkv.tar.xz: run 'pack' first and carry .gpu" >&2; exit 2; }
torch_lib="$(python3 -c 'import torch, os; print(os.path.dirname(torch.__file__))')/lib" || { echo "python3 cannot import torch" >&2; exit 2; }
export LD_LIBRARY_PATH="$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
rwkv=/tmp/rwkv-gpu/rwkv
failed=0

# step NAME ENV... -- ARGS...: runs the CLI with ARGS (and the environment assignments before --), logs to $out/NAME.log.
step() {
  local name="$1"; shift
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  # ${envs[@]+...}: an empty array is an unbound variable under set -u before bash 4.4.
  echo "== $name: ${envs[*]+${envs[*]}} rwkv $*" | tee "$out/$name.log"
  if ! env ${envs[@]+"${envs[@]}"} "$rwkv" "$@" 2>&1 | tee -a "$out/$name.log"; then
    echo "== $name FAILED" | tee -a "$out/$name.log"
    failed=$((failed + 1))
  fi
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$out/gpu.csv" 2>&1 || true
models="--models vrwkv_t,vit_t --device cuda --iters 10"
train="--res 224 --batch 128 --mode train"
for s in $steps; do
  case "$s" in
    info) step info -- info ;;
    wkv-check) step wkv-check -- bench wkv --device cuda --check --json "$out/wkv-check.json" ;;
    infer-224) step infer-224 -- bench model $models --res 224 --batch 256 --json "$out/infer-224.json" ;;
    infer-1792) step infer-1792 -- bench model $models --res 1792 --batch 4 --json "$out/infer-1792.json" ;;
    infer-1792-bf16) step infer-1792-bf16 -- bench model $models --res 1792 --batch 4 --dtype bfloat16 --json "$out/infer-1792-bf16.json" ;;
    train-224) step train-224 -- bench model $models $train --json "$out/train-224.json" ;;
    train-224-no-fused-adamw) step "$s" RWKV_ADAMW_CUDA=0 -- bench model $models $train --json "$out/$s.json" ;;
    train-224-no-fused-tsm) step "$s" RWKV_TSM_CUDA=0 -- bench model --models vrwkv_t --device cuda --iters 10 $train --json "$out/$s.json" ;;
    train-224-again) step "$s" -- bench model $models $train --json "$out/$s.json" ;;
    *) echo "unknown step '$s'; steps: $all_steps" >&2; failed=$((failed + 1)) ;;
  esac
done
echo "gpu-measure: $failed step(s) failed; results in $out"
exit "$failed"
