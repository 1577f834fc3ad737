"""Numbers quoted by hand outside RESULTS.md files (config docstrings, bench/README.md) against their records."""

import json
import pathlib

REPO = pathlib.Path(__file__).resolve().parent.parent
SHAKESPEARE = REPO / "experiments" / "shakespeare_char"


def _logged(workdir: pathlib.Path, metric: str) -> dict[int, float]:
  records = (json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines())
  return {r["step"]: r[metric] for r in records if metric in r}


def test_gpu_char_gpt_numbers_quoted_in_its_config_and_the_bench_readme_match_the_h200_record():
  run = SHAKESPEARE / "runs" / "shakespeare_char_gpt_h200"
  results = json.loads((run / "results.json").read_text())
  summary = json.loads((SHAKESPEARE / "gpu_char_gpt_h200.json").read_text())
  curve = _logged(run, "validation/loss")
  best_step = min(curve, key=lambda s: (curve[s], s))
  assert summary["validation_loss"] == results["final_metrics"]["validation/loss"]
  quoted = [f"{curve[best_step]:.4f} at step {best_step}", f"{results['final_metrics']['validation/loss']:.4f}",
            f"{results['wall_time_s']:.1f} s", f"{results['compile_time_s']:.1f} s",
            f"{summary['train_tokens_per_s']:,.0f} training tokens/s", summary["jax_version"]]
  config_doc = (REPO / "configs" / "shakespeare_char_gpt.py").read_text()
  bench_readme = (REPO / "bench" / "README.md").read_text()
  for text, where in ((config_doc, "configs/shakespeare_char_gpt.py"), (bench_readme, "bench/README.md")):
    flat = " ".join(text.split())
    for number in quoted:
      assert number in flat, f"{where} does not quote {number!r} from {run.relative_to(REPO)}"
  for share in (summary["train_mfu_vs_tf32"], summary["train_mfu_vs_bf16"]):
    assert f"{share:.1%}" in " ".join(bench_readme.split())
  assert results["git_revision"][:7] in bench_readme and not results["git_revision"].endswith("-dirty")
