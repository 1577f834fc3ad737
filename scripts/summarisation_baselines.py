"""Extractive summaries without training on BBC News Summary, scored as the neural summarisers are.

  python scripts/summarisation_baselines.py --json /tmp/summarisation_baselines.json [--data_dir DIR]

Each article's body (``text_pairs.load_bbc_news``; the title is not part of the summaries) is cut into sentences
(``text_pairs.split_sentences``) and summarised by
  lead3      its first three sentences (the classic news baseline)
  lead_k     its first k sentences, k chosen on the validation articles
  textrank   the k sentences of highest PageRank over TF-IDF cosine similarity (Mihalcea and Tarau 2004), in
             article order, k chosen on the validation articles
k runs over 1..K_MAX and is the one of highest mean (ROUGE-1 + ROUGE-2 + ROUGE-L) / 3 F1 on validation; the test
articles are then read once. Scores: ROUGE-1/2/L F1 (rouge-score, Porter stemming) per article, their mean over
the 223 test articles and its percentile bootstrap 95% interval (1,000 resamples, seed 0).

Writes the record to --json (never over an existing file: exit status 2) and prints a Markdown table.
"""

import argparse
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from bigjax import runs, writers  # noqa: E402
from bigjax.data import core, text_pairs  # noqa: E402
from bigjax.evals import extractive, text_generation  # noqa: E402

K_MAX = 20  # the reference summaries hold about 40% of an article: 8-9 of its ~20 sentences
METHODS = {"lead3": "Lead-3", "lead_k": "Lead-k (k on validation)", "textrank": "TextRank (k on validation)"}


def summaries(articles, method: str, k: int) -> list[str]:
  out = []
  for article in articles:
    sentences = text_pairs.split_sentences(article.body)
    pick = extractive.lead if method.startswith("lead") else extractive.textrank
    out.append(extractive.join(sentences, pick(sentences, k)))
  return out


def mean_rouge(articles, outputs) -> tuple[float, dict[str, np.ndarray]]:
  scores = text_generation.rouge(outputs, [a.summary for a in articles])
  return float(np.mean([scores[kind].mean() for kind in text_generation.ROUGE_TYPES])), scores


def score(articles, outputs) -> dict:
  _, scores = mean_rouge(articles, outputs)
  out = {}
  for kind in text_generation.ROUGE_TYPES:
    mean, low, high = text_generation.bootstrap_interval(scores[kind])
    out[kind] = {"mean": mean, "low": low, "high": high}
  return out


def run(data_dir) -> dict:
  validation = text_pairs.load_bbc_news("validation", data_dir, validating=True)
  test = text_pairs.load_bbc_news("test", data_dir, validating=True)
  record = {}
  for method in METHODS:
    if method == "lead3":
      chosen, curve = 3, {}
    else:
      curve = {k: mean_rouge(validation, summaries(validation, method, k))[0] for k in range(1, K_MAX + 1)}
      chosen = max(curve, key=lambda k: (curve[k], -k))
    record[method] = {"k": chosen, "validation_mean_rouge_by_k": curve,
                      "test": score(test, summaries(test, method, chosen))}
  record["articles"] = {"validation": len(validation), "test": len(test)}
  return record


def markdown(record: dict) -> str:
  lines = ["| method | k | ROUGE-1 F1 | ROUGE-2 F1 | ROUGE-L F1 |", "|---|---:|---:|---:|---:|"]
  for method, label in METHODS.items():
    r = record["results"][method]
    cells = [f"{100 * r['test'][kind]['mean']:.2f} [{100 * r['test'][kind]['low']:.2f}, "
             f"{100 * r['test'][kind]['high']:.2f}]" for kind in text_generation.ROUGE_TYPES]
    lines.append(f"| {label} | {r['k']} | " + " | ".join(cells) + " |")
  return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--json", type=pathlib.Path, help="write the record here (never over an existing file)")
  parser.add_argument("--data_dir", default=None, help="the data root holding bbc_news_summary/")
  args = parser.parse_args(argv)
  if writers.save_new_record(args.json, None):
    return 2
  start = time.time()
  try:
    results = run(args.data_dir)
  except core.DataError as error:
    print(f"error: {error}", file=sys.stderr)
    return 1
  record = runs.script_record("extractive summarisation baselines (scripts/summarisation_baselines.py docstring)",
                              "scripts/summarisation_baselines.py", argv, start, results=results)
  if writers.save_new_record(args.json, record):
    return 2
  print(markdown(record))
  print(f"\nin {record['wall_time_s']:.1f} s" + (f"; record: {args.json}" if args.json is not None else ""))
  return 0


if __name__ == "__main__":
  sys.exit(main())
