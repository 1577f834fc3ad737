#!/usr/bin/env bash
# One prepared accelerator check: every family's speed on one GPU in one go, under 8 minutes, one JSON.
#
#   bash bench/accelerator_check.sh                 # on a GPU machine (no network needed: see below)
#   bash bench/accelerator_check.sh --dry-run       # the whole path on a CPU at toy sizes (CI runs it)
#   bash bench/accelerator_check.sh --only=char_gpt,gpt2_small_bf16
#
# What it measures (bench/accelerator_check.py has the list): the full shakespeare_char_gpt config (wall time,
# tokens/s, MFU, validation loss; targets <= 1.47 in under nanoGPT's ~3 minutes), a GPT-2-small-shaped model on
# random tokens in bf16 (MFU; target >= 50%), the seed CNN and NeuMF (steps/s), then every newer family with a
# config (steps/s) while the budget lasts (BUDGET_S, default 420 s for the checks, after the set-up).
#
# Everything goes under $OUT (default ./accel_out; a new folder each time: nothing is overwritten):
#   $OUT/accelerator_check.json   the numbers, written after each check; commit it as bench/results/ after a GPU run
#   $OUT/accelerator_check.log    this script's whole output
#   $OUT/runs/NAME/, logs/NAME.log  each check's bigjax workdir (checkpoints removed) and its log
# Python: bench/gpu_env.sh (a prepared interpreter, $WHEELS of the missing pure-Python wheels without network,
# or a new venv). Data: $BIGJAX_DATA_DIR, ../shared/data or ./shared/data; a check whose data is absent is
# recorded as skipped.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
OUT="${OUT:-./accel_out}"
BUDGET_S="${BUDGET_S:-420}"
DRY=()
ONLY=()
for arg in "$@"; do
  case "$arg" in
    --dry-run) DRY=(--dry-run) ;;
    --only=*) ONLY=("$arg") ;;
    -h|--help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "accelerator_check.sh: unknown argument $arg (see --help)" >&2; exit 2 ;;
  esac
done
if [[ -e "$OUT/accelerator_check.json" ]]; then
  echo "accelerator_check.sh: $OUT/accelerator_check.json exists; set OUT to a new folder (nothing was overwritten)" >&2
  exit 2
fi
mkdir -p "$OUT"
exec > >(tee -a "$OUT/accelerator_check.log") 2>&1
echo "== accelerator_check.sh $(date -Is) in $REPO; OUT=$OUT ${DRY[*]:-} ${ONLY[*]:-}"
if [[ ${#DRY[@]} -gt 0 ]]; then
  export NEED_GPU=0 JAX_PLATFORMS=cpu
else
  nvidia-smi || echo "(nvidia-smi failed)"
fi
. "$REPO/bench/gpu_env.sh"
gpu_env_setup

status=0
"$PYTHON" bench/accelerator_check.py --out="$OUT" --budget-s="$BUDGET_S" "${DRY[@]}" "${ONLY[@]}" || status=$?
rm -rf "$OUT"/runs/*/checkpoints  # a bench has no use for them, and they are most of the bytes
exit "$status"
