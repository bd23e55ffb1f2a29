#!/usr/bin/env bash
# The GPU half of bench/gpu/build.sh: on the GPU machine (no .NET SDK needed), from the repository root, with the
# archive build.sh made. Prints the card, runs every GPU test, the CLI end to end on the GPU (train -> eval -> predict),
# and `fastprefix bench` for bert-base and bert-large (batch 32 x 128, prefix 20, train and infer, bf16; bert-base training
# also with --graphs off, the peer of the graph replay, at 32 x 128 and 4 x 64), the same steps in PyTorch + transformers +
# PEFT (bench/gpu/torch_peer.py: the ratio rows), then one
# short table. Exit 0 only if everything passed.
#
#   bench/gpu/run.sh [--dry-run] [LOGDIR]
#
# --dry-run: the same steps on a machine without a GPU, against the simulated GPU (--device cuda-sim) with small bench
# shapes, to prove the plumbing; the tests' "cuda" rows then skip, as they should. LOGDIR (default: a temporary
# folder; on the device machine pass $OUT) receives each step's log and summary.txt.
set -uo pipefail
cd "$(dirname "$0")/../.."
dry=0
if [ "${1:-}" = "--dry-run" ]; then dry=1; shift; fi
logs=${1:-$(mktemp -d)}
mkdir -p "$logs"
archive=bench/gpu/out/gpu-bundle.tar.xz
[ -f "$archive" ] || { echo "no $archive: run bench/gpu/build.sh first (where the .NET SDK is)"; exit 2; }

# Unpacked inside the repository: the tests find the fixtures (tests/fixtures) above their own folder.
rm -rf bench/gpu/out/gpu-bundle
if command -v xz >/dev/null; then tar -C bench/gpu/out -xJf "$archive"
else python3 -c "import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])" "$archive" bench/gpu/out; fi
bundle=$PWD/bench/gpu/out/gpu-bundle
app=$bundle/app
export NO_COLOR=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 FASTPREFIX_CACHE=$bundle/cache
device=cuda
if [ $dry = 1 ]; then device=cuda-sim; fi

rows=()     # summary rows: "check|result"
# The device tool stops a command at 600 s: every step gets at most what is left of a 570 s budget, so the table is
# always printed (a step cut short shows as failed). FASTPREFIX_GPU_BUDGET overrides.
budget=${FASTPREFIX_GPU_BUDGET:-570}
left() {    # cap in seconds -> seconds this step may take (at least 1)
  local rest=$((budget - SECONDS))
  [ $rest -lt $1 ] || rest=$1
  [ $rest -gt 1 ] || rest=1
  echo $rest
}
failed=0
row() { rows+=("$1|$2"); }

# ---- the card ----
if [ $dry = 1 ]; then card="none (dry run: the simulated GPU)"
else card=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "nvidia-smi failed"); fi
row "card" "$card"
row "bundle" "commit $(cat "$bundle/COMMIT")"

# ---- tests: xUnit v3 runners, self-contained; the summary line is "Total: N, Errors: E, Failed: F, Skipped: S, ..." ----
# On a GPU a skipped "cuda" row means the backend could not be had there: that is a failure, not a skip.
tests() {   # name, log, runner, args...
  local name=$1 logname=$2 log=$logs/$2 runner=$3; shift 3
  timeout "$(left 300)" "$app/$runner" -noColor "$@" > "$log" 2>&1
  local rc=$? summary cudaSkips
  summary=$(grep -oE 'Total: [0-9]+, Errors: [0-9]+, Failed: [0-9]+, Skipped: [0-9]+' "$log" | tail -1)
  cudaSkips=$(grep -E '\[SKIP\]' "$log" | grep -cE '"cuda"' || true)
  if [ $dry = 0 ] && [ "$cudaSkips" -gt 0 ]; then rc=1; summary="$summary; $cudaSkips cuda rows SKIPPED"; fi
  [ $rc -eq 0 ] || failed=1
  row "$name" "${summary:-no summary (exit $rc)}$([ $rc -eq 0 ] || echo " FAILED, see $logname")"
}
# NVRTC's compile tests (PTX and cubins for sm_80/sm_90) run in CI already and take a minute or two: not here.
tests "kernel tests (all but the NVRTC compile tests, which CI runs)" tests-kernels.log FastPrefix.Kernels.Tests -trait- Category=KernelCompile
tests "backend, attention, Reference, training tests" tests-backend.log FastPrefix.Tests \
  -class 'FastPrefix.Tests.Backends.Cuda.*' -class FastPrefix.Tests.Backends.AttentionKernelTests -class FastPrefix.Tests.Reference.ReferenceTests \
  -class FastPrefix.Tests.Training.GpuTrainingTests -class FastPrefix.Tests.Training.GraphStepTests -class FastPrefix.Tests.Training.StepIsolationTests
tests "adapter host (serving) on the device" tests-host.log FastPrefix.Tests \
  -method FastPrefix.Tests.Inference.AdapterHostTests.Host_on_the_CUDA_backend_answers_what_the_CPU_predicts

# ---- the CLI end to end on the device ----
fp=$app/fastprefix
run=$(mktemp -d)
timeout "$(left 180)" bash -ec '
  fp=$1 bundle=$2 run=$3 device=$4
  "$fp" train --model "$bundle/model" --task seqcls --train "$bundle/data/train.jsonl" --eval "$bundle/data/dev.jsonl" --output "$run" \
    --epochs 4 --batch-size 16 --prefix-len 8 --lr 3e-2 --max-seq-length 32 --device $device
  "$fp" eval --model "$bundle/model" --adapter "$run" --data "$bundle/data/dev.jsonl" --device $device
  "$fp" predict --model "$bundle/model" --adapter "$run" --data "$bundle/data/predict.jsonl" --device $device
' cli "$fp" "$bundle" "$run" "$device" > "$logs/cli.log" 2>&1
rc=$?
accuracy=$(grep -oE '"accuracy":[0-9.]+' "$logs/cli.log" | tail -1 | cut -d: -f2)
predictions=$(grep -c '"label"' "$logs/cli.log" || true)
if [ $rc -ne 0 ] || [ -z "$accuracy" ] || [ "$predictions" -ne 8 ]; then failed=1; row "CLI train -> eval -> predict ($device)" "FAILED (exit $rc), see cli.log"
else row "CLI train -> eval -> predict ($device, $(grep -oE 'running on [^:]*' "$logs/cli.log" | head -1 | sed 's/running on //'))" "eval accuracy $accuracy, 8 predictions"; fi

# ---- bench, and the peer: the same step in PyTorch + transformers + PEFT (bench/gpu/torch_peer.py) ----
declare -A ms   # "who label mode" -> median ms, for the ratio rows
measure() {   # who (fastprefix | torch), label, command...: one row per JSON measurement the command printed
  local who=$1 label=$2 out rc; shift 2
  out=$(mktemp)
  timeout "$(left 150)" "$@" > "$out" 2>&1
  rc=$?
  cat "$out" >> "$logs/bench.log"
  if [ $rc -ne 0 ]; then
    # The peer is a measurement, not a check of ours: its failure is reported but fails nothing.
    [ "$who" = torch ] || failed=1
    row "$who $label" "FAILED (exit $rc), see bench.log"; rm -f "$out"; return
  fi
  local line mode graphs
  while read -r line; do
    field() { echo "$line" | grep -oE "\"$1\":[^,}]+" | cut -d: -f2- | tr -d '"'; }
    mode=$(field mode); graphs=""
    if [ "$who" = fastprefix ]; then graphs=" (graphs $([ "$(field graphs)" = true ] && echo on || echo off))"; fi
    if [ "$(field profiled)" = true ]; then graphs=" (profiled: op by op, events around each)"; fi
    if [ "$graphs" != " (graphs off)" ] && [ "$(field profiled)" != true ]; then ms["$who $label $mode"]=$(field ms_median); fi   # ratios compare the default
    row "$who $label $mode$graphs" "$(field ms_median) ms/step (p90 $(field ms_p90)), $(field tokens_per_s) tokens/s, $(field tflops) TFLOP/s, peak $(( $(field peak_bytes) / 1048576 )) MiB"
  done < <(grep '^{"mode"' "$out")
  # --profile lines: each op's share of the step, largest first
  while read -r line; do
    row "$who $label $(echo "$line" | python3 -c 'import json, sys; print(json.load(sys.stdin)["profile"])') profile" "$(echo "$line" | python3 -c '
import json, sys
p = json.load(sys.stdin); step = p["step_ms"]; ops = sorted(p["ops_ms"].items(), key=lambda kv: -kv[1])
print(", ".join(f"{name} {100 * ms / step:.0f} %" for name, ms in ops[:6]) + f" of {step:.2f} ms")')"
  done < <(grep '^{"profile"' "$out")
  rm -f "$out"
}
bench() { local label=$1; shift; measure fastprefix "$label" "$fp" bench --json --device $device "$@"; }
peer() { local label=$1; shift; measure torch "$label" python3 bench/gpu/torch_peer.py "$@"; }
ratio() {   # label, mode: FastPrefix time / the peer's, when both ran
  local ours=${ms["fastprefix $1 $2"]:-} theirs=${ms["torch $1 $2"]:-}
  [ -n "$ours" ] && [ -n "$theirs" ] || return 0
  row "ratio $1 $2" "FastPrefix / PyTorch+PEFT time: $(awk -v a="$ours" -v b="$theirs" 'BEGIN {printf "%.2f", a / b}') (below 1: FastPrefix faster)"
}
if [ $dry = 1 ]; then
  bench "custom 2x128 (dry run)" --shape custom --layers 2 --hidden 128 --heads 2 --batch 4 --seq 32 --prefix 4 --steps 2 --warmup 2
  bench "custom 2x128 (dry run)" --shape custom --layers 2 --hidden 128 --heads 2 --batch 4 --seq 32 --prefix 4 --steps 2 --warmup 1 --graphs off
  bench "custom 2x128 (dry run)" --shape custom --layers 2 --hidden 128 --heads 2 --batch 4 --seq 32 --prefix 4 --steps 2 --warmup 1 --profile
  row "torch peer" "not run (dry run: no GPU for torch)"
else
  for shape in bert-base bert-large; do
    bench "$shape 32x128 P20 bf16" --shape $shape --batch 32 --seq 128 --prefix 20 --precision bf16
    peer "$shape 32x128 P20 bf16" --shape $shape --batch 32 --seq 128 --prefix 20
  done
  bench "bert-base 32x128 P20 bf16" --shape bert-base --batch 32 --seq 128 --prefix 20 --precision bf16 --train --graphs off
  # The attention forward on CUDA cores, the peer of the tensor-core forward (the default in bf16).
  FASTPREFIX_ATTENTION=cuda-cores bench "bert-base 32x128 P20 bf16, CUDA-core attention" --shape bert-base --batch 32 --seq 128 --prefix 20 --precision bf16
  # Small steps are where launch overhead shows: the graph replay's case.
  bench "bert-base 4x64 P20 bf16" --shape bert-base --batch 4 --seq 64 --prefix 20 --precision bf16
  bench "bert-base 4x64 P20 bf16" --shape bert-base --batch 4 --seq 64 --prefix 20 --precision bf16 --graphs off
  peer "bert-base 4x64 P20 bf16" --shape bert-base --batch 4 --seq 64 --prefix 20
  # Where a step goes on the card: device time of every op (events around each, steps issued op by op).
  bench "bert-base 32x128 P20 bf16" --shape bert-base --batch 32 --seq 128 --prefix 20 --precision bf16 --steps 10 --profile
  for label in "bert-base 32x128 P20 bf16" "bert-large 32x128 P20 bf16" "bert-base 4x64 P20 bf16"; do
    ratio "$label" train; ratio "$label" infer
  done
fi

# ---- the table ----
{
  echo "| check | result |"
  echo "| --- | --- |"
  for r in "${rows[@]}"; do echo "| ${r%%|*} | ${r#*|} |"; done
  echo "| wall time | ${SECONDS} s of the ${budget} s budget |"
  [ $failed = 0 ] && echo "ALL PASSED" || echo "SOMETHING FAILED (logs in $logs)"
} | tee "$logs/summary.txt"
exit $failed
