#!/usr/bin/env bash
# Builds, here (with the .NET SDK), everything bench/gpu/run.sh needs on a GPU machine that has none: the CLI and both
# test projects published self-contained for linux-x64 into ONE folder (their .NET runtime files are the same, so they
# travel once), a small BERT model folder with data for train -> eval -> predict, packed into one archive:
#
#   bench/gpu/build.sh            -> bench/gpu/out/gpu-bundle.tar.xz (bench/gpu/out/ is ignored by git)
#
# The device tool sends the working tree plus carried paths, 64 MiB in all, so the archive must leave room for the
# tree: this script fails when archive + tracked files pass 56 MiB. What the GPU machine does not need is left out:
# ONNX Runtime (its tests do not run there), the code-coverage collector, other platforms' native files.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=bench/gpu/out
bundle=$out/gpu-bundle
rm -rf "$out"
mkdir -p "$bundle/app" "$bundle/model" "$bundle/data"

for project in src/FastPrefix.Cli tests/FastPrefix.Tests tests/FastPrefix.Kernels.Tests; do
  echo "publishing $project (self-contained, linux-x64)"
  dotnet publish "$project" -c Release -r linux-x64 --self-contained -p:DebugType=none -o "$bundle/app" --nologo -v quiet
done
( cd "$bundle/app" && rm -rf libonnxruntime.so onnxruntime.dll onnxruntime_providers_shared.dll libonnxruntime_providers_shared.so \
    CodeCoverage alpine arm64 macos ubuntu createdump libmscordaccore.so libmscordbi.so )

# The model: the small-bert-a fixture (BERT, hidden 128, 2 layers, head_dim 64) with a 500-word vocabulary written
# here; the data: a learnable sentiment task over those words.
cp tests/fixtures/small-bert-a/config.json tests/fixtures/small-bert-a/model.safetensors "$bundle/model/"
words=(good great fine nice bad awful poor sad the a film book play song was is very so and but)
{
  printf '%s\n' '[PAD]' '[UNK]' '[CLS]' '[SEP]' '[MASK]' "${words[@]}"
  for ((i = 5 + ${#words[@]}; i < 500; i++)); do echo "w$i"; done
} > "$bundle/model/vocab.txt"
# The same data on every build: RANDOM seeded once and read only in this shell (a $(...) subshell reseeds it).
RANDOM=7
sentence() {   # $1: 1 positive, 0 negative; sets $line
  local good=(good great fine nice) bad=(bad awful poor sad) things=(film book play song) w
  if [ "$1" = 1 ]; then w=${good[RANDOM % 4]}; else w=${bad[RANDOM % 4]}; fi
  line="the ${things[RANDOM % 4]} was very $w and ${things[RANDOM % 4]} so $w"
}
examples() {   # count, with labels (1/0)
  local i
  for ((i = 0; i < $1; i++)); do
    sentence $((i % 2))
    if [ "$2" = 1 ]; then echo "{\"sentence\": \"$line\", \"label\": \"$((i % 2))\"}"; else echo "{\"sentence\": \"$line\"}"; fi
  done
}
examples 128 1 > "$bundle/data/train.jsonl"
examples 32 1 > "$bundle/data/dev.jsonl"
examples 8 0 > "$bundle/data/predict.jsonl"
git rev-parse HEAD > "$bundle/COMMIT" 2>/dev/null || echo unknown > "$bundle/COMMIT"

echo "packing $(du -sh "$bundle" | cut -f1) into $out/gpu-bundle.tar.xz"
tar -C "$out" -cf - gpu-bundle | xz -T0 -6 > "$out/gpu-bundle.tar.xz"
rm -rf "$bundle"
archive=$(stat -c %s "$out/gpu-bundle.tar.xz")
tree=$(git ls-files -z | xargs -0 stat -c %s | awk '{s += $1} END {print s}')
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }
echo "archive $(mib "$archive") + tracked files $(mib "$tree") = $(mib $((archive + tree))) of the 64 MiB a device call carries"
if [ $((archive + tree)) -gt $((56 * 1048576)) ]; then echo "too large: keep archive + tree under 56 MiB"; exit 1; fi
echo "run on the GPU machine, from the repository root: bench/gpu/run.sh   (here, without a GPU: bench/gpu/run.sh --dry-run)"
