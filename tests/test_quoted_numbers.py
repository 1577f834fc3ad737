"""Numbers quoted by hand outside RESULTS.md files (config docstrings, bench/README.md, README.md's Results) against
their records."""

import ast
import json
import pathlib
import re
import subprocess

import pytest

from bigjax import selection

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


# ---------------------------------------------------------------- README.md's "## Results" section
#
# Each results-table row of README.md, keyed by its first cell, maps to the numbers it quotes and the record each
# comes from: the same record and rounding its experiment's RESULTS.in.md uses for that number. ``other`` lists the
# row's remaining numbers, which no record of this project supports and which need none: the config's description
# (layer sizes, epochs), targets set by an issue, and published reference figures. Every number of a row (its
# command aside) must be one or the other, so a number added to README.md without a record fails here too.

# How a quote is computed: "final" a run's final metric or results.json field; "json" a dotted path in a .json
# record (list items by index); "mean" the mean of a final metric over every run under a folder; "max" the largest
# value a run logged in metrics.jsonl, of a validation metric only (bigjax.selection: a best evaluation picked on a
# test split is not a result); "min" likewise the lowest, formatted with the step it was logged at too; "ratio" KEY
# "a/b" the quotient of two dotted paths of one .json record.
MNIST, TEXT, NCF, GAN = (f"experiments/{name}" for name in ("mnist", "sentence_classification", "ncf", "gan"))
CHAR = "experiments/shakespeare_char"
VISION = "experiments/vision"
SOCIAL = "experiments/social"
SUMM = "experiments/summarisation"
TRANSLATION = "experiments/translation"
M30K_SEEDS = f"{TRANSLATION}/runs/transformer_multi30k_seeds"
M30K_SEED0 = f"{M30K_SEEDS}/seed=0"
RNN_CHOOSE = f"{TRANSLATION}/runs/attention_rnn_multi30k_choose"
# The GAN recipes' seeds among the points of the validation choice (experiments/gan/RESULTS.md), and one of its
# runs for the real-data floor, the same for every run.
GAN_INFOGAN, GAN_PLAIN = (f"{GAN}/runs/gan_choose/*code_classes={n},*" for n in (10, 0))
GAN_FLOOR_RUN = (f"{GAN}/runs/gan_choose/seed=0,model.latent_dim=62,model.code_classes=10,optim.lr=0.001,"
                 "task.discriminator_lr_scale=0.2")

RESULTS_ROWS = {
  "digits_mlp": {"quotes": [("meanstd", "experiments/digits/runs/digits_mlp_seeds", "test/accuracy",
                             "{:.2%} ± {:.2%} (3 seeds)"),
                            ("final", "experiments/digits/runs/digits_mlp_seeds/seed0", "wall_time_s",
                             "{:.0f} s (seed 0)")],
                 "other": "64-256-10 8x8"},
  "mnist_seed_cnn": {"quotes": [("meanstd", f"{MNIST}/runs/mnist_seed_cnn_seeds", "test/accuracy",
                                 "{:.2%} ± {:.2%} (3 seeds)"),
                                ("final", f"{MNIST}/runs/mnist_seed_cnn_seeds/seed0", "wall_time_s", "{:.0f} s (seed 0)")],
                     "other": "10 epochs, batch 32"},
  "mnist_mlp": {"quotes": [("final", f"{MNIST}/runs/mnist_mlp", "test/accuracy", "{:.2%}"),
                           ("final", f"{MNIST}/runs/mnist_mlp", "wall_time_s", "{:.0f} s")],
                "other": "784-1024-1024-10 0.3 (1 seed)"},
  "mnist_cnn": {"quotes": [("final", f"{MNIST}/runs/mnist_cnn", "test/accuracy", "{:.2%}"),
                           ("final", f"{MNIST}/runs/mnist_cnn", "wall_time_s", "{:.0f} s")],
                "other": "2x(2 (1 seed)"},
  "mnist_vit": {"quotes": [("final", f"{MNIST}/runs/mnist_vit", "test/accuracy", "{:.2%}"),
                           ("final", f"{MNIST}/runs/mnist_vit", "wall_time_s", "{:.0f} s")],
                "other": "7x7 4 x 128 (1 seed)"},
  "shakespeare_char_gpt:cpu": {
    "quotes": [("meanstd", f"{CHAR}/runs/shakespeare_char_gpt_cpu_seeds", "validation/loss",
                "val loss {:.4f} ± {:.4f}"),
               ("final", f"{CHAR}/runs/shakespeare_char_gpt_cpu_seeds/seed0", "wall_time_s", "{:.0f} s (seed 0)")],
    "other": "4 x 128; 1.88 (nanoGPT) (3 seeds)"},
  "shakespeare_char_lstm": {
    "quotes": [("final", f"{CHAR}/runs/shakespeare_char_lstm", "validation/loss", "val loss {:.4f}"),
               ("minutes", f"{CHAR}/runs/shakespeare_char_lstm", "wall_time_s", "{:.1f} min")],
    "other": "2 x 512 (1 seed)"},
  "text_cnn_mr": {"quotes": [("meanstd", f"{TEXT}/runs/text_cnn_mr", "test/accuracy", "{:.2%} ± {:.2%} (10 folds)")],
                  "other": "10-fold; 76.1% (Kim)"},
  "text_cnn_mr_word2vec": {"quotes": [("meanstd", f"{TEXT}/runs/text_cnn_mr_word2vec", "test/accuracy",
                                       "{:.2%} ± {:.2%} (10 folds)")],
                           "other": "12.4M words, 10-fold; 81.5% (Kim, Google News vectors)"},
  "text_cnn_trec": {"quotes": [("final", f"{TEXT}/runs/text_cnn_trec", "test/accuracy", "{:.2%}")],
                    "other": "91.2% (Kim) (1 seed)"},
  "text_cnn_sst2": {"quotes": [("final", f"{TEXT}/runs/text_cnn_sst2", "test/accuracy", "{:.2%}")],
                    "other": "82.7% (Kim) (1 seed)"},
  "text_lstm_sst2 / text_transformer_sst2": {
    "quotes": [("final", f"{TEXT}/runs/text_lstm_sst2", "test/accuracy", "{:.2%} / "),
               ("final", f"{TEXT}/runs/text_transformer_sst2", "test/accuracy", " / {:.2%}")],
    "other": "SST-2 (1 seed each)"},
  "transformer_multi30k": {
    "quotes": [("meanstd", M30K_SEEDS, "test/bleu", "sacreBLEU {:.2f} ± {:.2f} / "),
               ("meanstd", M30K_SEEDS, "test/chrf", " / chrF {:.2f} ± {:.2f} (3 seeds)"),
               ("final", M30K_SEED0, "config.train.num_epochs", "{:.0f} epochs chosen"),
               ("minutes", M30K_SEED0, "wall_time_s", "validation, {:.1f} min (seed 0, cores to itself)")],
    "other": "Multi30k de->en test2016; >= 33 in <= 60 min on CPU (issue 26); PyTorch tutorial 36.1, lowercased tokens"},
  "summariser_bbc_news": {
    "quotes": [("meanstd", f"{SUMM}/runs/summariser_seeds", "test/rouge1", "{:.4f} ± {:.4f} / "),
               ("meanstd", f"{SUMM}/runs/summariser_seeds", "test/rouge2", " / {:.4f} ± {:.4f} / "),
               ("meanstd", f"{SUMM}/runs/summariser_seeds", "test/rougeL", " / {:.4f} ± {:.4f} (3 seeds)"),
               ("json", f"{SUMM}/baselines.json", "results.textrank.test.rouge1.mean", "TextRank {:.4f} / "),
               ("json", f"{SUMM}/baselines.json", "results.textrank.test.rouge2.mean", " / {:.4f} / "),
               ("json", f"{SUMM}/baselines.json", "results.textrank.test.rougeL.mean", " / {:.4f}"),
               ("final", f"{SUMM}/runs/summariser_seeds/seed=0", "config.train.num_epochs", "{:.0f} epochs chosen")],
    "other": "ROUGE-1 / 2 / L F1"},
  "ml100k_neumf": {"quotes": [("meanstd", f"{NCF}/runs/ml100k_neumf_seeds", "test/hr@10", "{:.4f} ± {:.4f} / "),
                              ("meanstd", f"{NCF}/runs/ml100k_neumf_seeds", "test/ndcg@10", " / {:.4f} ± {:.4f}")],
                   "other": "8 factors; 0.661 / 0.385 (PyTorch, issue 5) (3 seeds)"},
  "ml100k_mf": {"quotes": [("final", f"{NCF}/runs/ml100k_mf_tuned", "test/hr@10", "{:.4f} / "),
                           ("final", f"{NCF}/runs/ml100k_mf_tuned", "test/ndcg@10", " / {:.4f}"),
                           ("final", f"{NCF}/runs/ml100k_mf_tuned", "config.optim.weight_decay",
                            "weight decay {:.0e}")],
                "other": "64 factors (1 seed)"},
  "ml100k_sasrec": {"quotes": [("meanstd", f"{NCF}/runs/ml100k_sasrec_seeds", "test/hr@10", "{:.4f} ± {:.4f} / "),
                               ("meanstd", f"{NCF}/runs/ml100k_sasrec_seeds", "test/ndcg@10", " / {:.4f} ± {:.4f}"),
                               ("final", f"{NCF}/runs/ml100k_sasrec_seeds/seed0", "config.train.num_epochs",
                                "{:.0f} epochs chosen on validation")],
                    "other": "200 items; 0.69 (issue 5: the best ML-100K model) (3 seeds)"},
  "ml1m_neumf": {"quotes": [("meanstd", f"{NCF}/runs/ml1m_ncf_neumf_seeds", "test/hr@10", "{:.4f} ± {:.4f} / "),
                            ("meanstd", f"{NCF}/runs/ml1m_ncf_neumf_seeds", "test/ndcg@10", " / {:.4f} ± {:.4f}")],
                 "other": "8 factors, ML-1M; 0.688 / 0.410 (He et al. 2017) (3 seeds)"},
  "ncf_ablation": {"quotes": [("final", f"{NCF}/runs/ml1m_ncf_neumf64_pretrained", "test/hr@10", "{:.4f} / "),
                              ("final", f"{NCF}/runs/ml1m_ncf_neumf64_pretrained", "test/ndcg@10", " / {:.4f}")],
                   "other": "64 factors GMF-64 MLP-64 (seed 1), ML-1M; 0.730 / 0.447 (He et al. 2017)"},
  "social_filmtrust:trustsvd": {"quotes": [("json", f"{SOCIAL}/runs/filmtrust/trustsvd/cv.json", "summary.test/rmse.mean", "RMSE {:.4f} ±"),
                                         ("json", f"{SOCIAL}/runs/filmtrust/trustsvd/cv.json", "summary.test/rmse.std", "± {:.4f}, MAE"),
                                         ("json", f"{SOCIAL}/runs/filmtrust/trustsvd/cv.json", "summary.test/mae.mean", "MAE {:.4f} ±"),
                                         ("json", f"{SOCIAL}/runs/filmtrust/trustsvd/cv.json", "summary.test/mae.std", "± {:.4f} (5 folds)")],
                                 "other": "10 factors"},
  "social_filmtrust:biased_mf": {"quotes": [("json", f"{SOCIAL}/runs/filmtrust/biased_mf/cv.json", "summary.test/rmse.mean", "RMSE {:.4f} ±"),
                                         ("json", f"{SOCIAL}/runs/filmtrust/biased_mf/cv.json", "summary.test/rmse.std", "± {:.4f}, MAE"),
                                         ("json", f"{SOCIAL}/runs/filmtrust/biased_mf/cv.json", "summary.test/mae.mean", "MAE {:.4f} ±"),
                                         ("json", f"{SOCIAL}/runs/filmtrust/biased_mf/cv.json", "summary.test/mae.std", "± {:.4f} (5 folds)")],
                                 "other": "10 factors"},
  "mnist_dcgan": {"quotes": [("meanstd", GAN_INFOGAN, "test/fid", "{:.2f} ± {:.2f} / "),
                             ("final", GAN_FLOOR_RUN, "test/fid_floor", " / {:.2f} ("),
                             ("meanstd", GAN_INFOGAN, "test/fid_ratio", "({:.2f} ± {:.2f}x"),
                             ("meanstd", GAN_INFOGAN, "test/confident", "{:.1%} ± {:.1%}"),
                             ("meanstd", GAN_INFOGAN, "test/class_entropy", "{:.3f} ± {:.3f}"),
                             ("final", GAN_FLOOR_RUN, "config.train.num_epochs", "{:.0f} epochs")],
                  "other": "64 maps, 1024-unit; target 3x, target 90%, target 2.25"},
  "mnist_dcgan:plain": {"quotes": [("meanstd", GAN_PLAIN, "test/fid", "{:.2f} ± {:.2f} / "),
                                   ("final", GAN_FLOOR_RUN, "test/fid_floor", " / {:.2f} ("),
                                   ("meanstd", GAN_PLAIN, "test/fid_ratio", "({:.2f} ± {:.2f}x)"),
                                   ("meanstd", GAN_PLAIN, "test/confident", "{:.1%} ± {:.1%}"),
                                   ("meanstd", GAN_PLAIN, "test/class_entropy", "{:.3f} ± {:.3f}")],
                        "other": ""},
}

# Numbers the Results section quotes in its prose, outside the tables.
RESULTS_PROSE = [
  ("json", "bench/results/input_pipeline.json", "summary.vs_on_device.pipeline.median", "interleaved): {:.2f} ("),
  ("json", "bench/results/input_pipeline.json", "summary.vs_on_device.pipeline.min", "({:.2f}-"),
  ("json", "bench/results/input_pipeline.json", "summary.vs_on_device.pipeline.max", "-{:.2f})."),
  ("minutes", f"{GAN}/runs/gan_choose/seed=2,model.latent_dim=62,model.code_classes=10,optim.lr=0.001,"
              "task.discriminator_lr_scale=0.2", "wall_time_s", "about {:.0f} minutes a 16-epoch run"),
  ("json", f"{NCF}/bench_ncf.json", "summary.epoch_time_s.bigjax.median", "bigjax {:.2f} s"),
  ("json", f"{NCF}/bench_ncf.json", "summary.epoch_time_s.bigjax.min", "s ({:.2f}-"),
  ("json", f"{NCF}/bench_ncf.json", "summary.epoch_time_s.bigjax.max", "-{:.2f}), PyTorch"),
  ("json", f"{NCF}/bench_ncf.json", "summary.epoch_time_s.torch.median", "PyTorch {:.2f} s"),
  ("json", f"{NCF}/bench_ncf.json", "summary.epoch_time_s.torch.min", "s ({:.2f}-"),
  ("json", f"{NCF}/bench_ncf.json", "summary.epoch_time_s.torch.max", "-{:.2f}); bigjax"),
  ("json", f"{NCF}/bench_ncf.json", "summary.epoch_time_vs_torch.bigjax.median", "within a round {:.2f}x"),
  ("json", f"{NCF}/bench_ncf.json", "summary.epoch_time_vs_torch.bigjax.min", "x ({:.2f}-"),
  ("json", f"{NCF}/bench_ncf.json", "summary.epoch_time_vs_torch.bigjax.max", "-{:.2f})."),
  ("json", f"{MNIST}/bench_seed_cnn.json", "summary.wall_time_s.bigjax.median", "bigjax {:.1f} s"),
  ("json", f"{MNIST}/bench_seed_cnn.json", "summary.wall_time_s.bigjax.min", "s ({:.1f}-"),
  ("json", f"{MNIST}/bench_seed_cnn.json", "summary.wall_time_s.bigjax.max", "-{:.1f})"),
  ("json", f"{MNIST}/bench_seed_cnn.json", "summary.wall_time_s.torch.median", "PyTorch {:.1f} s"),
  ("json", f"{MNIST}/bench_seed_cnn.json", "summary.wall_time_s.torch.min", "s ({:.1f}-"),
  ("json", f"{MNIST}/bench_seed_cnn.json", "summary.wall_time_s.torch.max", "-{:.1f})"),
  ("json", f"{MNIST}/bench_seed_cnn.json", "summary.wall_time_s.keras.median", "Keras/TensorFlow {:.1f} s"),
  ("json", f"{MNIST}/bench_seed_cnn.json", "summary.wall_time_s.keras.min", "s ({:.1f}-"),
  ("json", f"{MNIST}/bench_seed_cnn.json", "summary.wall_time_s.keras.max", "-{:.1f})"),
  ("json", f"{MNIST}/bench_seed_cnn.json", "summary.wall_time_vs_keras.bigjax.median", "within a round {:.2f}x"),
  ("json", f"{MNIST}/bench_seed_cnn.json", "summary.wall_time_vs_keras.bigjax.min", "x ({:.2f}-"),
  ("json", f"{MNIST}/bench_seed_cnn.json", "summary.wall_time_vs_keras.bigjax.max", "-{:.2f}); PyTorch"),
]


def _dotted(node, key: str):
  for part in key.split("."):
    node = node[int(part)] if isinstance(node, list) else node[part]
  return node


def _record_files(how: str, source: str) -> list[pathlib.Path]:
  path = REPO / source
  if how in ("json", "ratio"):
    return [path]
  if how in ("mean", "meanstd", "runsmin", "runsmax"):  # a last part with glob characters: under every match
    folders = sorted(path.parent.glob(path.name)) if any(c in path.name for c in "*?[") else [path]
    return sorted(f for folder in folders for f in folder.rglob("results.json"))
  return [path / ("metrics.jsonl" if how in ("max", "min") else "results.json")]


def _quote(how: str, source: str, key: str, template: str) -> str:
  """The text README.md must contain for this number, computed from its record."""
  path = REPO / source
  if how == "json":
    value = _dotted(json.loads(path.read_text()), key)
  elif how == "ratio":
    record = json.loads(path.read_text())
    numerator, denominator = key.split("/")
    value = _dotted(record, numerator) / _dotted(record, denominator)
  elif how in ("final", "minutes"):
    results = json.loads((path / "results.json").read_text())
    value = results["final_metrics"][key] if key in results["final_metrics"] else _dotted(results, key)
    value = value / 60 if how == "minutes" else value
  elif how == "mean":
    values = [json.loads(p.read_text())["final_metrics"][key] for p in _record_files(how, source)]
    assert len(values) >= 2, f"{source}: expected the runs of a cross-validation, found {len(values)}"
    value = sum(values) / len(values)
  elif how in ("runsmin", "runsmax"):  # the smallest / largest of a final metric or results.json field over the runs
    records = [json.loads(p.read_text()) for p in _record_files(how, source)]
    values = [r["final_metrics"][key] if key in r["final_metrics"] else _dotted(r, key) for r in records]
    value = min(values) if how == "runsmin" else max(values)
  elif how == "meanstd":  # "mean ± sample std" over the runs under the root, as bigjax.report's {{mean}} has it
    values = [json.loads(p.read_text())["final_metrics"][key] for p in _record_files(how, source)]
    assert len(values) >= 3, f"{source}: a mean over seeds needs at least 3 runs, found {len(values)}"
    mean = sum(values) / len(values)
    std = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5
    return template.format(mean, std)
  elif how == "max":
    selection.check_selectable(key, f"the quoted best evaluation of {source}")
    value = max(_logged(path, key).values())
  elif how == "min":  # the lowest value logged, of a validation metric only, then the (first) step it was logged at
    selection.check_selectable(key, f"the quoted best evaluation of {source}")
    curve = _logged(path, key)
    step = min(curve, key=lambda s: (curve[s], s))
    return template.format(curve[step], step)
  else:
    raise ValueError(how)
  return template.format(value)


def _results_section() -> str:
  text = (REPO / "README.md").read_text()
  start = text.index("\n## Results\n")
  end = text.find("\n## ", start + 1)
  return text[start:] if end < 0 else text[start:end]


def _results_tables() -> list[list[str]]:
  """Each run of consecutive ``|`` lines of the Results section."""
  tables, current = [], []
  for line in _results_section().splitlines() + [""]:
    if line.startswith("|"):
      current.append(line)
    elif current:
      tables.append(current)
      current = []
  return tables


def _cells(line: str) -> list[str]:
  return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _results_rows() -> dict[str, list[str]]:
  rows = {}
  for table in _results_tables():
    for line in table[2:]:
      cells = _cells(line)
      rows[cells[0].replace("`", "")] = cells
  return rows


def _numbers(text: str) -> list[str]:
  return sorted(re.findall(r"\d+(?:[.,]\d+)*", text))


def test_readme_results_tables_are_tables_and_every_row_is_mapped_to_its_records():
  for table in _results_tables():
    assert len(table) >= 3 and set(table[1].replace("|", "").strip()) <= set("-: "), (
        f"README.md's Results: a table block without a header and separator (a blank line inside a table?): "
        f"{table[0]!r}")
    assert all(len(_cells(line)) == len(_cells(table[0])) for line in table), table[0]
  assert sorted(_results_rows()) == sorted(RESULTS_ROWS)


@pytest.mark.parametrize("config", sorted(RESULTS_ROWS))
def test_readme_results_row_quotes_its_records(config):
  row, cells = RESULTS_ROWS[config], _results_rows()[config]
  text = " | ".join(cells[1:-1])  # the command, last, is not a result
  quoted = [_quote(*quote) for quote in row["quotes"]]
  for quote, number in zip(row["quotes"], quoted):
    assert number in text, f"README.md's {config} row does not quote {number!r} from {quote[1]} ({quote[2]})"
  unrecorded = row.get("unrecorded", [])
  for number in unrecorded:
    assert number in text
  # Every number of the row is accounted for: from a record above, or in the row's "other".
  accounted = _numbers(" ".join(quoted + unrecorded + [row["other"]]))
  assert _numbers(text) == accounted, f"README.md's {config} row quotes numbers with no record in RESULTS_ROWS"


@pytest.mark.parametrize("quote", RESULTS_PROSE, ids=lambda q: q[3].split("{")[0].strip() + " " + q[2])
def test_readme_results_prose_quotes_its_records(quote):
  number = _quote(*quote)
  assert number in " ".join(_results_section().split()), (
      f"README.md's Results does not quote {number!r} from {quote[1]} ({quote[2]})")


def test_every_record_readme_results_cites_is_tracked_by_git():
  quotes = [q for row in RESULTS_ROWS.values() for q in row["quotes"]] + RESULTS_PROSE
  files = {p for how, source, *_ in quotes for p in _record_files(how, source)}
  tracked = set(subprocess.run(["git", "ls-files", "--", *map(str, files)], cwd=REPO, capture_output=True, text=True,
                               check=True).stdout.split())
  missing = sorted(str(p.relative_to(REPO)) for p in files if str(p.relative_to(REPO)) not in tracked)
  assert files and not missing, f"records cited by README.md's Results but not tracked by git: {missing}"


# ---------------------------------------------------------------- configs/*.py's "Result:" paragraphs
#
# The main numbers each config's docstring quotes, keyed by config file, as (how, source, key, template) quotes
# computed by _quote from the same records README.md's Results uses. A config not listed here is not yet checked.
CONFIG_RESULTS = {
  "digits_mlp": [("meanstd", "experiments/digits/runs/digits_mlp_seeds", "test/accuracy", "{:.2%} ± {:.2%} test accuracy"),
                 ("final", "experiments/digits/runs/digits_mlp_seeds/seed0", "wall_time_s", "{:.0f} s for seed 0"),
                 ("final", "experiments/digits/runs/digits_mlp_seeds/seed0", "compile_time_s", "{:.1f} s of it compiling")],
  "mnist_seed_cnn": [("meanstd", f"{MNIST}/runs/mnist_seed_cnn_seeds", "test/accuracy", "{:.2%} ± {:.2%} test accuracy"),
                     ("final", f"{MNIST}/runs/mnist_seed_cnn_seeds/seed0", "wall_time_s", "{:.0f} s for seed 0")],
  "mnist_mlp": [("final", f"{MNIST}/runs/mnist_mlp", "test/accuracy", "{:.2%} test accuracy"),
                ("final", f"{MNIST}/runs/mnist_mlp", "wall_time_s", "{:.0f} s on a 2-core CPU")],
  "mnist_cnn": [("final", f"{MNIST}/runs/mnist_cnn", "test/accuracy", "{:.2%} test accuracy"),
                ("final", f"{MNIST}/runs/mnist_cnn", "wall_time_s", "{:.0f} s on a 2-core CPU")],
  "mnist_vit": [("final", f"{MNIST}/runs/mnist_vit", "test/accuracy", "{:.2%} test accuracy"),
                ("final", f"{MNIST}/runs/mnist_vit", "wall_time_s", "{:,.0f} s on a 2-core CPU")],
  "shakespeare_char_gpt": [
    ("min", f"{CHAR}/runs/shakespeare_char_gpt_h200", "validation/loss", "validation loss {:.4f} at step {}"),
    ("final", f"{CHAR}/runs/shakespeare_char_gpt_h200", "validation/loss", "{:.4f} after step"),
    ("final", f"{CHAR}/runs/shakespeare_char_gpt_h200", "steps", "after step {}"),
    ("final", f"{CHAR}/runs/shakespeare_char_gpt_h200", "wall_time_s", "{:.1f} s wall time"),
    ("final", f"{CHAR}/runs/shakespeare_char_gpt_h200", "compile_time_s", "with a {:.1f} s compile"),
    ("json", f"{CHAR}/gpu_char_gpt_h200.json", "train_tokens_per_s", "{:,.0f} training tokens/s"),
    ("final", f"{CHAR}/runs/shakespeare_char_gpt_h200", "jax_version", "(jax {}, seed 0)"),
    ("final", f"{CHAR}/runs/shakespeare_char_gpt_cpu_seeds/seed0", "validation/loss", "validation loss {:.4f}"),
    ("final", f"{CHAR}/runs/shakespeare_char_gpt_cpu_seeds/seed0", "validation/bpc", "({:.2f} bits per character)"),
    ("final", f"{CHAR}/runs/shakespeare_char_gpt_cpu_seeds/seed0", "wall_time_s", "{:.0f} s on a quiet"),
    ("meanstd", f"{CHAR}/runs/shakespeare_char_gpt_cpu_seeds", "validation/loss", "seeds 0-2: {:.4f} ± {:.4f}"),
    ("json", f"{CHAR}/bench_char_gpt.json", "summary.validation_loss.torch.median", "same recipe reaches {:.4f}"),
    ("json", f"{CHAR}/bench_char_gpt.json", "summary.wall_time_vs_torch.bigjax.median", "wall time is {:.2f}x")],
  "shakespeare_char_lstm": [
    ("final", f"{CHAR}/runs/shakespeare_char_lstm", "validation/loss", "validation loss {:.4f}"),
    ("final", f"{CHAR}/runs/shakespeare_char_lstm", "wall_time_s", "in {:,.0f} s"),
    ("minutes", f"{CHAR}/runs/shakespeare_char_lstm", "wall_time_s", "({:.1f} min)"),
    ("final", f"{CHAR}/runs/shakespeare_char_lstm", "validation/bpc", "({:.2f} bits per character)")],
  "text_cnn_mr": [("meanstd", f"{TEXT}/runs/text_cnn_mr", "test/accuracy", "{:.2%} ± {:.2%} mean test accuracy"),
                  ("mean", f"{TEXT}/runs/text_cnn_mr", "validation/accuracy", "validation {:.2%}"),
                  ("runsmin", f"{TEXT}/runs/text_cnn_mr", "wall_time_s", "{:.0f}-"),
                  ("runsmax", f"{TEXT}/runs/text_cnn_mr", "wall_time_s", "-{:.0f} s per fold")],
  "text_cnn_mr_word2vec": [
      ("meanstd", f"{TEXT}/runs/text_cnn_mr_word2vec", "test/accuracy", "CNN-non-static {:.2%} ± {:.2%} mean"),
      ("meanstd", f"{TEXT}/runs/text_cnn_mr_static", "test/accuracy", "CNN-static {:.2%} ± {:.2%},"),
      ("meanstd", f"{TEXT}/runs/text_cnn_mr_rand100", "test/accuracy", "100 dimensions {:.2%} ± {:.2%} ("),
      ("meanstd", f"{TEXT}/runs/text_cnn_mr", "test/accuracy", "300 dimensions: {:.2%} ± {:.2%};"),
      ("runsmin", f"{TEXT}/runs/text_cnn_mr_word2vec", "wall_time_s", "{:.0f}-"),
      ("runsmax", f"{TEXT}/runs/text_cnn_mr_word2vec", "wall_time_s", "-{:.0f} s per fold")],
  **{name: [("final", f"{TEXT}/runs/{name}", "test/accuracy", "{:.2%} test accuracy"),
            ("final", f"{TEXT}/runs/{name}", "wall_time_s", "{:.0f} s on a 2-core CPU")]
     for name in ("text_cnn_trec", "text_cnn_sst2", "text_lstm_sst2", "text_transformer_sst2")},
  # TF-IDF + logistic regression: seeds 0-2 (MR: its 10 folds), the L2 strength and epochs chosen on validation
  **{f"tfidf_logreg_{data}": [
      ("meanstd", f"{TEXT}/runs/tfidf_logreg_{data}", "test/accuracy", "{:.2%} ± {:.2%} mean test accuracy"),
      ("mean", f"{TEXT}/runs/tfidf_logreg_{data}", f"{split}/accuracy", f"{split} {{:.2%}}"),
      ("final", f"{TEXT}/runs/tfidf_logreg_{data}/{first}", "config.optim.weight_decay", "L2 {:g} and"),
      ("final", f"{TEXT}/runs/tfidf_logreg_{data}/{first}", "config.train.num_epochs", "and {:.0f} epoch"),
      ("runsmin", f"{TEXT}/runs/tfidf_logreg_{data}", "wall_time_s", "{:.0f}-"),
      ("runsmax", f"{TEXT}/runs/tfidf_logreg_{data}", "wall_time_s", f"-{{:.0f}} s per {unit}")]
     for data, split, first, unit in (("trec", "validation", "seed=0", "run"), ("sst2", "dev", "seed=0", "run"),
                                      ("mr", "validation", "data.fold=0", "fold"))},
  "ml100k_neumf": [("final", f"{NCF}/runs/ml100k_neumf_seeds/seed0", "test/hr@10", "test HR@10 {:.4f}"),
                   ("final", f"{NCF}/runs/ml100k_neumf_seeds/seed0", "test/ndcg@10", "NDCG@10 {:.4f} after"),
                   ("final", f"{NCF}/runs/ml100k_neumf_seeds/seed0", "wall_time_s", "{:.0f} s, on a"),
                   ("meanstd", f"{NCF}/runs/ml100k_neumf_seeds", "test/hr@10", "seeds 0-2: HR@10 {:.4f} +- {:.4f})"),
                   ("final", f"{NCF}/runs/ml100k_neumf_seeds/seed0", "config.optim.weight_decay", "(best {:g})"),
                   ("final", f"{NCF}/runs/ml100k_neumf_l2_seeds/seed0", "config.task.embedding_l2", "(best {:g};"),
                   ("meanstd", f"{NCF}/runs/ml100k_neumf_l2_seeds", "test/hr@10", "on test {:.4f} +- {:.4f} over"),
                   ("meanstd", f"{NCF}/runs/ml100k_neumf_cosine_seeds", "test/hr@10", "HR@10 {:.4f} +- {:.4f},"),
                   ("meanstd", f"{NCF}/runs/ml100k_neumf_cosine_seeds", "test/ndcg@10",
                    "NDCG@10 {:.4f} +- {:.4f} over"),
                   ("final", f"{NCF}/runs/ml100k_neumf_cosine_seeds/seed0", "config.data.num_negatives",
                    "stay at {:.0f}."),
                   ("meanstd", f"{NCF}/runs/ml100k_neumf_cosine_ema_seeds", "test/hr@10",
                    "nothing: {:.4f} +- {:.4f} / "),
                   ("meanstd", f"{NCF}/runs/ml100k_neumf_cosine_ema_seeds", "test/ndcg@10", " / {:.4f} +- {:.4f}.")],
  "ml100k_mf": [("final", f"{NCF}/runs/ml100k_mf", "test/hr@10", "test HR@10 {:.4f}"),
                ("final", f"{NCF}/runs/ml100k_mf", "test/ndcg@10", "NDCG@10 {:.4f} after"),
                ("final", f"{NCF}/runs/ml100k_mf", "wall_time_s", "{:.0f} s (weight decay 1e-5"),
                ("final", f"{NCF}/runs/ml100k_mf_tuned", "test/hr@10", "split: {:.4f} / "),
                ("final", f"{NCF}/runs/ml100k_mf_tuned", "test/ndcg@10", " / {:.4f}), on"),
                ("final", f"{NCF}/runs/ml100k_mf_refined_seeds/seed0", "config.data.num_negatives", "{:.0f} negatives"),
                ("final", f"{NCF}/runs/ml100k_mf_refined_seeds/seed0", "config.train.num_epochs", "{:.0f} epochs):"),
                ("meanstd", f"{NCF}/runs/ml100k_mf_refined_seeds", "test/hr@10", "): {:.4f} +- {:.4f} / "),
                ("meanstd", f"{NCF}/runs/ml100k_mf_refined_seeds", "test/ndcg@10", " / {:.4f} over 3 seeds")],
  **{name: [("final", f"{NCF}/runs/{name}", "test/hr@10", "test HR@10 {:.4f}"),
            ("final", f"{NCF}/runs/{name}", "test/ndcg@10", "NDCG@10 {:.4f} after"),
            ("final", f"{NCF}/runs/{name}", "wall_time_s", "{:.0f} s, on a")]
     for name in ("ml100k_bpr", "ml100k_content", "ml100k_gmf", "ml100k_hybrid", "ml100k_mlp")},
  "ml100k_mf_softmax": [
    ("final", f"{NCF}/runs/ml100k_mf_softmax", "test/hr@10", "test HR@10 {:.4f}"),
    ("final", f"{NCF}/runs/ml100k_mf_softmax", "test/ndcg@10", "NDCG@10 {:.4f} after"),
    ("final", f"{NCF}/runs/ml100k_mf_softmax", "test/full_recall@10", "recall@10 {:.4f}"),
    ("final", f"{NCF}/runs/ml100k_mf_softmax", "test/full_ndcg@10", "NDCG@10 {:.4f});"),
    ("final", f"{NCF}/runs/ml100k_mf_softmax", "wall_time_s", "{:.0f} s, on a"),
    ("final", f"{NCF}/runs/ml100k_mf_softmax_tuned", "test/hr@10", "{:.4f} / "),
    ("final", f"{NCF}/runs/ml100k_mf_softmax_tuned", "test/ndcg@10", " / {:.4f} (full"),
    ("final", f"{NCF}/runs/ml100k_mf_softmax_tuned", "test/full_recall@10", "(full ranking {:.4f} / "),
    ("final", f"{NCF}/runs/ml100k_mf_softmax_tuned", "test/full_ndcg@10", " / {:.4f})"),
    ("final", f"{NCF}/runs/ml100k_mf_softmax_tuned", "config.optim.weight_decay", "Weight decay {:g} and"),
    ("final", f"{NCF}/runs/ml100k_mf_softmax_tuned", "config.train.num_steps", "and {:,.0f} steps, chosen")],
  "ml100k_neumf_pretrained": [
    ("final", f"{NCF}/runs/ml100k_neumf_pretrained", "test/hr@10", "test HR@10 {:.4f}"),
    ("final", f"{NCF}/runs/ml100k_neumf_pretrained", "test/ndcg@10", "NDCG@10 {:.4f} after"),
    ("final", f"{NCF}/runs/ml100k_neumf_pretrained", "wall_time_s", "{:.0f} s, on a"),
    ("final", f"{NCF}/runs/ml100k_neumf_pretrained_seed0", "test/hr@10", "seed 0: {:.4f} / "),
    ("final", f"{NCF}/runs/ml100k_neumf_pretrained_seed0", "test/ndcg@10", " / {:.4f}"),
    ("meanstd", f"{NCF}/runs/ml100k_neumf_joined", "test/hr@10", "test HR@10 {:.4f} ± {:.4f}"),
    ("meanstd", f"{NCF}/runs/ml100k_neumf_joined", "test/ndcg@10", "NDCG@10 {:.4f} ± {:.4f} (seeds 0-2)")],
  "ml100k_sasrec": [
    ("final", f"{NCF}/runs/ml100k_sasrec_seeds/seed0", "test/hr@10", "test HR@10 {:.4f}"),
    ("final", f"{NCF}/runs/ml100k_sasrec_seeds/seed0", "test/ndcg@10", "NDCG@10 {:.4f} (full"),
    ("final", f"{NCF}/runs/ml100k_sasrec_seeds/seed0", "test/full_recall@10", "recall@10 {:.4f}"),
    ("final", f"{NCF}/runs/ml100k_sasrec_seeds/seed0", "test/full_ndcg@10", "NDCG@10 {:.4f}), seed 0"),
    ("final", f"{NCF}/runs/ml100k_sasrec_seeds/seed0", "wall_time_s", "{:.0f} s on one core"),
    ("meanstd", f"{NCF}/runs/ml100k_sasrec_seeds", "test/hr@10", "HR@10 {:.4f} +- {:.4f} (")],
  "ml1m_neumf": [
    ("final", f"{NCF}/runs/ml1m_ncf_neumf_seeds/seed0", "test/hr@10", "test HR@10 {:.4f}"),
    ("final", f"{NCF}/runs/ml1m_ncf_neumf_seeds/seed0", "test/ndcg@10", "NDCG@10 {:.4f} after"),
    ("final", f"{NCF}/runs/ml1m_ncf_neumf_seeds/seed0", "wall_time_s", "{:.0f} s for seed 0"),
    ("final", f"{NCF}/runs/ml1m_neumf", "test/hr@10", "AFCFM split: {:.4f} / "),
    ("final", f"{NCF}/runs/ml1m_neumf", "test/ndcg@10", " / {:.4f}"),
    ("final", f"{NCF}/runs/ml1m_ncf_neumf64_pretrained", "test/hr@10", "RESULTS): {:.4f} / "),
    ("final", f"{NCF}/runs/ml1m_ncf_neumf64_pretrained", "test/ndcg@10", " / {:.4f} on the paper's"),
    ("meanstd", f"{NCF}/runs/ml1m_ncf_neumf_seeds", "test/hr@10", "HR@10 {:.4f} +- {:.4f}, "),
    ("meanstd", f"{NCF}/runs/ml1m_ncf_neumf_seeds", "test/ndcg@10", "NDCG@10 {:.4f} +- {:.4f};"),
    ("meanstd", f"{NCF}/runs/ml1m_ncf_neumf_cosine_seeds", "test/hr@10", ": {:.4f} +- {:.4f} / "),
    ("meanstd", f"{NCF}/runs/ml1m_ncf_neumf_cosine_seeds", "test/ndcg@10", " / {:.4f} +- {:.4f}.")],
  "ncf_ablation": [
    *(("final", f"{NCF}/runs/ml1m_ncf_{run}", "test/hr@10", f"{label} {{:.4f}}")
      for run, label in (("gmf8", "GMF-8 HR@10"), ("mlp8", "MLP-8"), ("neumf8_pretrained", "pre-trained (seed 1)"),
                         ("gmf32", "GMF-32"), ("mlp32", "MLP-32"), ("neumf32_pretrained", "NeuMF-32 pre-trained"),
                         ("gmf64", "GMF-64"), ("mlp64", "MLP-64"), ("neumf64_pretrained", "NeuMF-64 pre-trained"))),
    ("final", f"{NCF}/runs/ml1m_ncf_neumf64_pretrained", "test/ndcg@10", " / {:.4f}"),
    ("final", f"{NCF}/runs/ml1m_neumf64_pretrained", "test/hr@10", "dropped to {:.4f} / "),
    ("final", f"{NCF}/runs/ml1m_neumf64_pretrained", "test/ndcg@10", " / {:.4f}")],
  "mnist_dcgan": [("meanstd", GAN_INFOGAN, "test/fid", "Fréchet distance {:.2f} +- {:.2f}"),
                  ("final", GAN_FLOOR_RUN, "test/fid_floor", "(real-data floor {:.2f}:"),
                  ("meanstd", GAN_INFOGAN, "test/fid_ratio", ": {:.2f} +- {:.2f}x;"),
                  ("meanstd", GAN_INFOGAN, "test/confident", "{:.1%} +- {:.1%} of samples"),
                  ("meanstd", GAN_INFOGAN, "test/class_entropy", "class entropy {:.3f} +- {:.3f}"),
                  ("final", GAN_FLOOR_RUN, "config.train.num_epochs", "after {:.0f} epochs"),
                  ("minutes", f"{GAN_FLOOR_RUN.replace('seed=0', 'seed=2')}", "wall_time_s", "about {:.0f} minutes a run"),
                  ("meanstd", GAN_PLAIN, "test/fid", "the same way: {:.2f} +- {:.2f} ("),
                  ("meanstd", GAN_PLAIN, "test/fid_ratio", "({:.2f} +- {:.2f}x) / "),
                  ("meanstd", GAN_PLAIN, "test/confident", " / {:.1%} +- {:.1%} / "),
                  ("meanstd", GAN_PLAIN, "test/class_entropy", " / {:.3f} +- {:.3f}.")],
  "face_orl": [("meanstd", f"{VISION}/runs/face_orl_aug", "test/identification", "identification {:.2%} +- {:.2%}"),
               ("meanstd", f"{VISION}/runs/face_orl_aug", "test/verification_auc", "AUC {:.4f} +- {:.4f}"),
               ("meanstd", f"{VISION}/runs/face_orl", "test/identification", "28 x 23, {:.2%} +- {:.2%}"),
               ("runsmin", f"{VISION}/runs/face_orl_aug", "wall_time_s", "{:.0f}-"),
               ("runsmax", f"{VISION}/runs/face_orl_aug", "wall_time_s", "-{:.0f} s a split")],
  "unet_isbi_em": [("meanstd", f"{VISION}/runs/unet_isbi_em", "test/pixel_error", "pixel error {:.4f} ± {:.4f}"),
                   ("meanstd", f"{VISION}/runs/unet_isbi_em", "test/foreground_iou", "foreground IoU {:.4f} ± {:.4f}"),
                   ("meanstd", f"{VISION}/runs/unet_isbi_em", "test/rand_error", "Rand error {:.4f} ± {:.4f}"),
                   ("runsmin", f"{VISION}/runs/unet_isbi_em", "wall_time_s", "{:.0f}-"),
                   ("runsmax", f"{VISION}/runs/unet_isbi_em", "wall_time_s", "-{:.0f} s a fold"),
                   ("json", f"{VISION}/segmentation_baselines.json", "isbi_em.summary.threshold.rand_error.mean",
                    "Rand error {:.2f})")],
  **{f"centernet_{name}": [
    ("meanstd", f"{VISION}/runs/centernet_{name}", "test/map50", "mAP@0.5 {:.4f} ± {:.4f}"),
    ("meanstd", f"{VISION}/runs/centernet_{name}", "test/map", "AP@[.5:.95] {:.4f} ± {:.4f}"),
    ("runsmin", f"{VISION}/runs/centernet_{name}", "wall_time_s", "{:.0f}-"),
    ("runsmax", f"{VISION}/runs/centernet_{name}", "wall_time_s", "-{:.0f} s a seed")] for name in ("raccoon", "kangaroo", "penn_fudan")},
  "unet_penn_fudan": [
    ("meanstd", f"{VISION}/runs/unet_penn_fudan", "test/foreground_iou", "person IoU {:.4f} ± {:.4f}"),
    ("meanstd", f"{VISION}/runs/unet_penn_fudan", "test/mean_iou", "mean IoU {:.4f} ± {:.4f}"),
    ("meanstd", f"{VISION}/runs/unet_penn_fudan", "test/pixel_error", "pixel error {:.4f} ± {:.4f}"),
    ("json", f"{VISION}/segmentation_baselines.json", "penn_fudan.location_prior.foreground_iou",
     "person IoU {:.4f})"),
    ("runsmin", f"{VISION}/runs/unet_penn_fudan", "wall_time_s", "{:.0f}-"),
    ("runsmax", f"{VISION}/runs/unet_penn_fudan", "wall_time_s", "-{:.0f} s a seed")],
  "transformer_multi30k": [
    ("meanstd", M30K_SEEDS, "test/bleu", "sacreBLEU {:.2f} ± {:.2f}"),
    ("meanstd", M30K_SEEDS, "test/chrf", "chrF {:.2f} ± {:.2f}"),
    ("final", M30K_SEED0, "wall_time_s", "{:.0f} s on")],
  "attention_rnn_multi30k": [
    ("json", f"{RNN_CHOOSE}/eval_test.json", "metrics.test/bleu", "sacreBLEU {:.2f}"),
    ("json", f"{RNN_CHOOSE}/eval_test.json", "metrics.test/chrf", "chrF {:.2f}"),
    ("final", RNN_CHOOSE, "wall_time_s", "wall time {:.0f} s")],
  "summariser_bbc_news": [
    ("meanstd", f"{SUMM}/runs/summariser_seeds", "test/rouge1", "F1 {:.4f} +- {:.4f} / "),
    ("meanstd", f"{SUMM}/runs/summariser_seeds", "test/rouge2", " / {:.4f} +- {:.4f} / "),
    ("meanstd", f"{SUMM}/runs/summariser_seeds", "test/rougeL", " / {:.4f} +- {:.4f}"),
    *(("json", f"{SUMM}/baselines.json", f"results.{system}.test.{kind}.mean", f"{prefix}{{:.4f}}{suffix}")
      for system, name in (("textrank", "TextRank"), ("lead3", "Lead-3"))
      for kind, prefix, suffix in (("rouge1", f"{name} ", " / "), ("rouge2", " / ", " / "), ("rougeL", " / ", ""))),
    ("runsmin", f"{SUMM}/runs/summariser_seeds", "wall_time_s", "{:.0f}-"),
    ("runsmax", f"{SUMM}/runs/summariser_seeds", "wall_time_s", "-{:.0f} s a run")],
  "mnist_gan_evaluator": [("final", f"{GAN}/runs/gan_evaluator_clean", "test/accuracy", "{:.2%} test accuracy"),
                          ("final", f"{GAN}/runs/gan_evaluator_clean", "wall_time_s", "{:.0f} s on the 2-core")],
  "mnist_gan_mlp": [("final", f"{GAN}/runs/mnist_gan_mlp", "test/fid", "Fréchet distance {:.2f}"),
                    ("final", f"{GAN}/runs/mnist_gan_mlp", "test/fid_floor", "(floor {:.2f})"),
                    ("final", f"{GAN}/runs/mnist_gan_mlp", "test/confident", "{:.1%} of samples"),
                    ("final", f"{GAN}/runs/mnist_gan_mlp", "test/class_entropy", "class entropy {:.3f}"),
                    ("final", f"{GAN}/runs/mnist_gan_mlp", "wall_time_s", "{:.0f} s on the 2-core")],
}


# The other numbers of each config's Result paragraphs: the run's settings and description (epochs, seeds, data
# sizes, versions, the machine), targets set by an issue, and published reference figures. Every number of those
# paragraphs is either quoted from a record in CONFIG_RESULTS or listed here.
CONFIG_OTHER = {
  "digits_mlp": "360 held-out digits (30 epochs, seeds 0, 1, 2); 2-core CPU (jax 0.10.2)",
  **{name: "20 epochs; 2-core CPU"
     for name in ("ml100k_bpr", "ml100k_content", "ml100k_gmf", "ml100k_hybrid", "ml100k_mf", "ml100k_mf_softmax",
                  "ml100k_mlp")},
  "ml100k_neumf": "20 epochs (seed 0; ...); 2-core CPU; task.embedding_l2 over seeds 0-2, over seeds 0-2; "
                  "cosine decay from 1e-3; "
                  "ema_decay=0.999; every rate 0.1-0.5; batch 256 at 1e-3",
  "ml100k_neumf_pretrained": "20 epochs (seed 1); 2-core CPU",
  "ml100k_sasrec": "seeds 0-2 (runs/ncf/ml100k_sasrec_seeds); 2-core CPU",
  "ml1m_neumf": "20 epochs (paper: 0.688 / 0.410); seeds 0-2, seeds 0-2; 2-core CPU; ML-100K's cosine decay",
  "mnist_cnn": "10 epochs (seed 0); jax 0.10.2",
  "mnist_dcgan": "seeds 0-2, seeds; confident >= 0.9; targets <= 3x, 90%, 2.25; 2-core CPU, jax 0.10.2; 100 noise "
                 "dimensions and 2e-4",
  "mnist_gan_evaluator": "3 epochs (seed 0)",
  "mnist_gan_mlp": "3 epochs (seed 0); confident >= 0.9",
  "mnist_mlp": "20 epochs (seed 0); jax 0.10.2",
  "mnist_seed_cnn": "10 epochs (seeds 0, 1, 2; trained on 50,000 images); 2-core CPU, jax 0.10.2",
  "mnist_vit": "10 epochs (seed 0); jax 0.10.2",
  "shakespeare_char_gpt": "H200; nanoGPT's 1.4697 on an A100 in ~3 minutes; cpu: 4 layers, 4 heads, 128 wide, "
                          "context 64, batch 12, 2000 steps, lr decay over 2000, nanoGPT's 1.88; after 2000 steps; "
                          "2-core CPU, jax 0.10.2; 3 interleaved rounds",
  "shakespeare_char_lstm": "1,400 steps; 2-core CPU, jax 0.10.2; the 1.70 target; evaluations at steps 400 and 600",
  "text_cnn_mr": "10 folds (Kim's CNN-rand: 76.1%); 2-core CPU, jax 0.10.2",
  "text_cnn_mr_word2vec": "the 10 folds; Kim (2014), non-static 81.5%, static 81.0%; 2-core CPU, jax 0.10.2",
  "text_cnn_sst2": "seed 0",
  "text_cnn_trec": "seed 0; Kim's CNN-rand: 91.2%",
  "text_lstm_sst2": "",
  "text_transformer_sst2": "",
  "tfidf_logreg_mr": "the 10 folds (Kim's CNN-rand: 76.1%); 2-core CPU",
  "tfidf_logreg_sst2": "seeds 0-2 (Kim's CNN-rand, with phrase-level training data: 82.7%); 2-core CPU",
  "tfidf_logreg_trec": "seeds 0-2 (Kim's CNN-rand: 91.2%); 2-core CPU",
  "ncf_ablation": "",
  "unet_isbi_em": "the 5 test folds; 800 steps; 2-core CPU, jax 0.10.2",
  "face_orl": "the 10 splits, rank-1 (target 98%; eigenfaces 89.5%, Lawrence et al. 1997's CNN 96.2%); 2-core CPU, "
              "jax 0.10.2",
  "centernet_raccoon": "seeds 0-2 (target 0.70); 110 epochs; 2-core CPU, jax 0.10.2",
  "centernet_kangaroo": "seeds 0-2; 115 epochs; 2-core CPU, jax 0.10.2",
  "centernet_penn_fudan": "seeds 0-2; 120 epochs; 2-core CPU, jax 0.10.2",
  "unet_penn_fudan": "seeds 0-2; 40 epochs; 2-core CPU, jax 0.10.2",
  "transformer_multi30k": "the 1,000 test2016 pairs, seeds 0-2; the 2-core CPU (seed 0), jax 0.10.2; target >= 33",
  "attention_rnn_multi30k": "seed 0 at epoch 12, the 1,000 test2016 pairs; seeds 1-2; the 2-core CPU, jax 0.10.2",
  "summariser_bbc_news": "the 223 test articles, ROUGE-1 / 2 / L (seeds 0-2) ROUGE-1 and -2, ROUGE-L; 2-core CPU, "
                         "jax 0.10.2",
}


def _config_doc(config: str) -> str:
  """The config's docstring on one line, provenance marks (test_provenance.py checks them) stripped."""
  doc = " ".join(ast.get_docstring(ast.parse((REPO / "configs" / f"{config}.py").read_text())).split())
  return doc.translate({ord(mark): None for mark in "†‡"})


def _result_paragraphs(config: str) -> str:
  """Each ``Result:`` paragraph of the config's docstring (to the next field label, e.g. ``Variants:``), joined."""
  doc = ast.get_docstring(ast.parse((REPO / "configs" / f"{config}.py").read_text()))
  paragraphs = re.findall(r"^Result:(.*?)(?=^\w[\w ]*:\s|\Z)", doc, re.S | re.M)
  assert paragraphs, f"configs/{config}.py's docstring has no Result: paragraph"
  return " ".join(" ".join(paragraphs).split()).translate({ord(mark): None for mark in "†‡"})


@pytest.mark.parametrize("config", sorted(CONFIG_RESULTS))
def test_config_docstring_result_quotes_its_records(config):
  doc = _config_doc(config)
  for quote in CONFIG_RESULTS[config]:
    number = _quote(*quote)
    assert number in doc, f"configs/{config}.py's docstring does not quote {number!r} from {quote[1]} ({quote[2]})"


def test_every_config_with_quotes_lists_its_other_numbers():
  assert sorted(CONFIG_OTHER) == sorted(CONFIG_RESULTS)


@pytest.mark.parametrize("config", sorted(CONFIG_RESULTS))
def test_config_docstring_result_numbers_are_all_accounted_for(config):
  # The quotes a Result paragraph holds (some configs quote further runs in other paragraphs, e.g. Pre-trained:)
  # and the config's CONFIG_OTHER account for every number of it, so a result added without a record fails here.
  text = _result_paragraphs(config)
  quoted = [number for number in (_quote(*quote) for quote in CONFIG_RESULTS[config]) if number in text]
  assert _numbers(text) == _numbers(" ".join(quoted + [CONFIG_OTHER[config]])), (
      f"configs/{config}.py's Result paragraph quotes numbers neither read from a record in CONFIG_RESULTS nor "
      f"listed in CONFIG_OTHER")


def test_multi30k_final_run_is_the_beginning_of_its_choose_run():
  """configs/transformer_multi30k.py's schedule does not depend on the run's length, so the final run of seed 0
  (12 epochs, test read once at its end) retraces the choose run that chose its epochs, step for step: the same
  training losses at every logged step and the same validation scores at its end as the curve at that step."""
  choose, final = REPO / TRANSLATION / "runs" / "transformer_multi30k_choose", REPO / M30K_SEED0
  final_results = json.loads((final / "results.json").read_text())
  assert _logged(final, "train/loss") == {s: v for s, v in _logged(choose, "train/loss").items()
                                          if s <= final_results["steps"]}
  for metric in ("validation/bleu", "validation/chrf", "validation/loss"):
    assert final_results["final_metrics"][metric] == _logged(choose, metric)[final_results["steps"]], metric
  # And its test scores are those of the choose run's checkpoint at that step, scored by `bigjax eval`: the same
  # parameters, so a choose run that keeps its checkpoints holds seed 0's final run (attention RNN, Tatoeba, BBC).
  evaluated = json.loads((choose / "eval_test.json").read_text())
  assert evaluated["step"] == final_results["steps"] and evaluated["command"].endswith(f"--step={evaluated['step']}")
  assert evaluated["metrics"] == {k: v for k, v in final_results["final_metrics"].items() if k.startswith("test/")}


def test_attention_rnn_seed_0_is_its_choose_run_at_the_best_validation_epoch_scored_once_on_test():
  """configs/attention_rnn_multi30k.py's EPOCHS is the epoch of the choose run's highest validation BLEU (the
  earliest among ties), and seed 0's test2016 record scores the choose run's checkpoint at exactly that step."""
  from bigjax import configs as bigjax_configs
  workdir = REPO / RNN_CHOOSE
  curve = _logged(workdir, "validation/bleu")
  best = max(curve, key=lambda step: (curve[step], -step))
  steps_per_epoch = min(curve)  # scored after every epoch, the first after one
  module = bigjax_configs.load_module(REPO / "configs" / "attention_rnn_multi30k.py")
  assert best == module.EPOCHS * steps_per_epoch
  evaluated = json.loads((workdir / "eval_test.json").read_text())
  assert evaluated["step"] == best and evaluated["split"] == "test" and evaluated["examples"] == 1000
  assert evaluated["command"] == (f"python -m bigjax.main eval --workdir=runs/attention_rnn_multi30k_choose "
                                  f"--split=test --step={best}")


def test_neumf_joined_parts_train_as_long_as_their_best_validation_epoch():
  """configs/ml100k_neumf_pretrained.py's PART_EPOCHS: the epoch of each part's best validation HR@10, chosen on
  the validation parts' records (each user's latest training item held out), never on test."""
  from bigjax import configs as bigjax_configs, runs
  module = bigjax_configs.load_module(REPO / "configs" / "ml100k_neumf_pretrained.py")
  for part in ("gmf", "mlp"):
    workdir = REPO / NCF / "runs" / "ml100k_validation_parts" / part
    steps_per_epoch = min(_logged(workdir, "validation/hr@10"))  # evaluated after each epoch, the first after one
    assert runs.best_step(workdir) == module.PART_EPOCHS * steps_per_epoch, part
