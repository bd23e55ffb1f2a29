#!/usr/bin/env bash
# Step time and peak memory of `fastprefix train` for two builds of the CLI, alternating rounds on one workload:
#   bench/compare-train.sh OLD_BIN_DIR NEW_BIN_DIR [rounds] [workload dir]
# A bin dir holds a built fastprefix (dotnet build src/FastPrefix.Cli -c Release -o DIR). The workload (a random
# MiniLM-shaped BERT and 128-token pairs) is written by the bench project when missing. Prints one line per run and
# the medians with the new/old ratios.
set -euo pipefail
old=$1 new=$2 rounds=${3:-3} work=${4:-/tmp/fastprefix-train-workload}
cd "$(dirname "$0")/.."
[ -f "$work/train.tsv" ] || dotnet run -c Release --project bench/FastPrefix.Bench -- write-train-workload "$work" 512
args=(train --model "$work/model" --task seqcls --train "$work/train.tsv" --text-fields sentence1,sentence2 --label-field label
      --batch-size 32 --max-seq-length 128 --prefix-len 16 --max-steps 8 --device cpu)
declare -A secs mem cpu
for r in $(seq 1 "$rounds"); do
  for which in old new; do
    bin=${!which}; out=$(mktemp -d)
    /usr/bin/time -f "%e %M %U %S" -o "$out/time" "$bin/fastprefix" "${args[@]}" --output "$out/run" >"$out/log" 2>&1 \
      || { cat "$out/log"; exit 1; }
    read -r s kb user sys <"$out/time"
    cpu[$which]+="$(awk "BEGIN {print $user + $sys}") "
    secs[$which]+="$s "; mem[$which]+="$kb "
    echo "round $r $which: ${s} s wall, $(awk "BEGIN {print $user + $sys}") s CPU, peak RSS $((kb / 1024)) MB"
    rm -rf "$out"
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2)}'; }
so=$(echo "${secs[old]}" | median); sn=$(echo "${secs[new]}" | median)
mo=$(echo "${mem[old]}" | median); mn=$(echo "${mem[new]}" | median)
echo "median wall time: old $so s, new $sn s, new/old $(awk "BEGIN {printf \"%.2f\", $sn / $so}")"
echo "median peak RSS: old $((${mo%.*} / 1024)) MB, new $((${mn%.*} / 1024)) MB, new/old $(awk "BEGIN {printf \"%.2f\", $mn / $mo}")"
co=$(echo "${cpu[old]}" | median); cn=$(echo "${cpu[new]}" | median)
echo "median CPU time (user+sys): old $co s, new $cn s, new/old $(awk "BEGIN {printf \"%.2f\", $cn / $co}")"
