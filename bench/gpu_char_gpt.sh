#!/usr/bin/env bash
# The full shakespeare_char_gpt config (nanoGPT's GPU recipe: 6 layers, 6 heads, 384 wide, context 256,
# batch 64, dropout 0.2, 5000 steps) on one NVIDIA GPU, measured: wall time, tokens/s, MFU, validation loss.
#
#   bash bench/gpu_char_gpt.sh                     # the measurement (about 10 minutes with the install)
#   bash bench/gpu_char_gpt.sh --steps 100         # a dry short run of the whole path
#   bash bench/gpu_char_gpt.sh --report-only DIR   # only the report, on a finished workdir (any machine)
#
# Everything is written under $OUT (default ./gpu_out), relative to the repo root:
#   $OUT/gpu_char_gpt.log   this script's whole output (nvidia-smi, install, training log, report)
#   $OUT/summary.json       the report's numbers
#   $OUT/run/               bigjax's workdir: results.json, metrics.jsonl, config.json, vocab.json, TensorBoard
#                           events (checkpoints are deleted after the run unless KEEP_CHECKPOINTS=1: a
#                           bench has no use for them, and they are most of the bytes)
#
# Python environment: bench/gpu_env.sh (a prepared interpreter, $WHEELS without network, or a new venv).
# Data: Tiny Shakespeare at $BIGJAX_DATA_DIR/tinyshakespeare/input.txt, else ../shared/data or ./shared/data
# (the directory also needs its SHA256SUMS or MANIFEST.md listing the file).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
OUT="${OUT:-./gpu_out}"
PYTHON="${PYTHON:-python3}"
CONFIG="${CONFIG:-configs/shakespeare_char_gpt.py}"  # overridable for a CPU check of the plumbing

STEPS=""
REPORT_ONLY=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --steps) STEPS="$2"; shift 2 ;;
    --steps=*) STEPS="${1#*=}"; shift ;;
    --report-only) REPORT_ONLY="$2"; shift 2 ;;
    --report-only=*) REPORT_ONLY="${1#*=}"; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "gpu_char_gpt.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [[ -n "$STEPS" ]] && ! [[ "$STEPS" =~ ^[1-9][0-9]*0$ ]]; then
  echo "gpu_char_gpt.sh: --steps $STEPS must be a positive multiple of 10 (the config's steps_per_call)" >&2
  exit 2
fi

die() { echo "gpu_char_gpt.sh: $*" >&2; exit 1; }

# ------------------------------------------------------------------------------------------- report
# Reads DIR/results.json and DIR/metrics.jsonl (standard library only, so it runs anywhere) and writes
# the numbers to SUMMARY_JSON.
report() {
  "$PYTHON" - "$1" "$2" <<'PY'
import json, os, statistics, sys

run_dir, summary_path = sys.argv[1], sys.argv[2]
with open(os.path.join(run_dir, "results.json")) as f:
  r = json.load(f)
c = r["config"]
batch, context = c["data"]["batch_size"], c["data"]["seq_len"]
layers, width = c["model"]["num_layers"], c["model"]["embed_dim"]
steps = r["steps"] - r.get("resumed_from_step", 0)
tokens_per_step = batch * context

# Training-only time: bigjax logs each interval's rate with evaluations and checkpoint waits left out.
logged_s, last = 0.0, 0
try:
  with open(os.path.join(run_dir, "metrics.jsonl")) as f:
    for rec in sorted((x for x in map(json.loads, f) if "perf/steps_per_s" in x), key=lambda x: x["step"]):
      if rec["perf/steps_per_s"] > 0:
        logged_s += (rec["step"] - last) / rec["perf/steps_per_s"]
      last = rec["step"]
except OSError:
  pass
if last != r["steps"] or r.get("resumed_from_step", 0):
  logged_s = 0.0  # a resumed run's log does not cover exactly this process's steps

# nanoGPT's estimate_mfu: flops/token = 6 N + 12 L d T, N = parameters less the position table
# (get_num_params(non_embedding=True); the token table counts once, as the tied LM head).
n_params = r["num_params"] - c["model"]["max_len"] * width
flops_per_token = 6 * n_params + 12 * layers * width * context
# Dense peak FLOP/s (vendor datasheets): (bf16, tf32). First match in device_kind wins.
PEAKS = [("H100 PCIe", 756e12, 378e12), ("H200", 989e12, 494e12), ("H100", 989e12, 494e12),
         ("A100", 312e12, 156e12)]
kind = r.get("device_kind", "?")
peak_bf16, peak_tf32 = next(((b, t) for name, b, t in PEAKS if name.lower() in kind.lower()), (None, None))
peak_bf16 = float(os.environ.get("PEAK_BF16") or peak_bf16 or 0) or None
peak_tf32 = float(os.environ.get("PEAK_TF32") or peak_tf32 or 0) or None

loop_tps = steps * tokens_per_step / r["train_time_s"]
train_tps = steps * tokens_per_step / logged_s if logged_s else None
mfu = lambda tps, peak: flops_per_token * tps / peak if tps and peak else None
s = {
    "device_kind": kind, "platform": r.get("platform"), "jax_version": r.get("jax_version"),
    "git_revision": r.get("git_revision"), "model_dtype": c["model"].get("dtype"),
    "steps": r["steps"], "batch_size": batch, "context": context, "num_params": r["num_params"],
    "wall_time_s": r["wall_time_s"], "compile_time_s": r.get("compile_time_s"),
    "loop_time_s": r["train_time_s"], "train_time_s": logged_s or None,
    "tokens_per_s": loop_tps, "train_tokens_per_s": train_tps,
    "flops_per_token": flops_per_token, "mfu_formula": "(6*N + 12*n_layer*n_embd*context) * tokens/s / peak; "
    "N = num_params - max_len*n_embd (nanoGPT's estimate_mfu)",
    "peak_bf16_flops": peak_bf16, "peak_tf32_flops": peak_tf32,
    "mfu_vs_tf32": mfu(loop_tps, peak_tf32), "mfu_vs_bf16": mfu(loop_tps, peak_bf16),
    "train_mfu_vs_tf32": mfu(train_tps, peak_tf32), "train_mfu_vs_bf16": mfu(train_tps, peak_bf16),
    "validation_loss": r["final_metrics"].get("validation/loss"),
    "train_loss": r["final_metrics"].get("train/loss"),
}
with open(summary_path, "w") as f:
  json.dump(s, f, indent=2)

pct = lambda x: "—" if x is None else f"{100 * x:.2f}%"
num = lambda x, spec: "—" if x is None else format(x, spec)
print(f"\nshakespeare_char_gpt on {kind} (jax {s['jax_version']}, git {s['git_revision']}, "
      f"model dtype {s['model_dtype']})")
print(f"  steps                {s['steps']} x batch {batch} x context {context} ({r['num_params']:,} parameters)")
print(f"  wall time            {s['wall_time_s']:.1f} s (all of train.run: data, init, "
      f"compile {num(s['compile_time_s'], '.1f')} s, evals, checkpoints)")
print(f"  tokens/s             {loop_tps:,.0f} (steps x {batch} x {context} / results.json train_time_s "
      f"{s['loop_time_s']:.1f} s, the loop with its evals)")
print(f"  train tokens/s       {num(train_tps, ',.0f')} (training steps only, from the logged intervals)")
print(f"  flops/token          {flops_per_token:,} (6 x {n_params:,} + 12 x {layers} x {width} x {context})")
print(f"  MFU vs TF32 peak     {pct(s['mfu_vs_tf32'])} (train only {pct(s['train_mfu_vs_tf32'])}; peak "
      f"{num(peak_tf32 and peak_tf32 / 1e12, '.0f')} TFLOP/s dense): the config computes in float32, which "
      f"XLA runs on TF32 tensor cores by default")
print(f"  MFU vs BF16 peak     {pct(s['mfu_vs_bf16'])} (train only {pct(s['train_mfu_vs_bf16'])}; peak "
      f"{num(peak_bf16 and peak_bf16 / 1e12, '.0f')} TFLOP/s dense; nanoGPT's convention)")
print(f"  validation loss      {num(s['validation_loss'], '.4f')} (nats/char, the whole validation split)")
print(f"  summary              {summary_path}")
PY
}

mkdir -p "$OUT"
if [[ -n "$REPORT_ONLY" ]]; then
  report "$REPORT_ONLY" "$OUT/summary.json"
  exit 0
fi

LOG="$OUT/gpu_char_gpt.log"
exec > >(tee -a "$LOG") 2>&1
echo "== gpu_char_gpt.sh $(date -Is) in $REPO; OUT=$OUT steps=${STEPS:-config}"
nvidia-smi || echo "(nvidia-smi failed)"

# ------------------------------------------------------------------------------------------- environment
. "$REPO/bench/gpu_env.sh"
gpu_env_setup

if [[ -z "${BIGJAX_DATA_DIR:-}" && ! -f ../shared/data/tinyshakespeare/input.txt \
      && -f shared/data/tinyshakespeare/input.txt ]]; then
  export BIGJAX_DATA_DIR="$REPO/shared/data"
fi
DATA_DIR="${BIGJAX_DATA_DIR:-../shared/data}"
[[ -f "$DATA_DIR/tinyshakespeare/input.txt" ]] || die "no $DATA_DIR/tinyshakespeare/input.txt; set BIGJAX_DATA_DIR to \
a directory holding tinyshakespeare/input.txt and a SHA256SUMS listing it"

# ------------------------------------------------------------------------------------------- run
RUN_DIR="$OUT/run"
if [[ -d "$RUN_DIR" && -n "$(ls -A "$RUN_DIR")" ]]; then
  die "$RUN_DIR already holds a run (bigjax would resume it, not time a new one); use another OUT"
fi
FLAGS=()
[[ -n "$STEPS" ]] && FLAGS+=("--config.train.num_steps=$STEPS")
echo "\$ $PYTHON -m bigjax.main --config=$CONFIG --workdir=$RUN_DIR ${FLAGS[*]:-}"
PYTHONUNBUFFERED=1 "$PYTHON" -m bigjax.main --config="$CONFIG" --workdir="$RUN_DIR" "${FLAGS[@]}"
if [[ "${KEEP_CHECKPOINTS:-0}" != 1 ]]; then
  rm -rf "$RUN_DIR/checkpoints"
fi

report "$RUN_DIR" "$OUT/summary.json"
