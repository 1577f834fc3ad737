"""Scores of generated text as the field reports them: BLEU and chrF by ``sacrebleu`` (with the signature that
says how), ROUGE-1/2/L F1 by Google's ``rouge-score``, and a bootstrap interval for a mean over documents.

  corpus_bleu(hypotheses, references)    sacreBLEU's corpus BLEU (13a tokenisation, mixed case, exp smoothing)
  corpus_chrf(hypotheses, references)    chrF (character 6-grams, beta 2)
  rouge(hypotheses, references)          per document {"rouge1", "rouge2", "rougeL"} F1 (Porter stemming, as the
                                         ROUGE-1.5.5 runs papers quote: ``-m``), float64 [n] each
  bootstrap_interval(values, ...)        the mean and its percentile bootstrap 95% interval
  rouge_metrics(hypotheses, references)  {"rouge1", "rouge1_low", "rouge1_high", ...}: each ROUGE F1's mean over
                                         the documents with its bootstrap interval, as a task reports them

``references`` for BLEU and chrF is one reference string per hypothesis (the sets here have one reference);
each score returns ``(score, signature)`` so that a table can print the signature beside the number.
"""

from collections.abc import Sequence

import numpy as np

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")


def _check(hypotheses: Sequence[str], references: Sequence[str]) -> None:
  if len(hypotheses) != len(references):
    raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
  if not len(hypotheses):
    raise ValueError("no hypotheses to score")


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[str]) -> tuple[float, str]:
  """sacreBLEU's corpus BLEU in [0, 100] and its signature (``nrefs:1|case:mixed|eff:no|tok:13a|...``)."""
  from sacrebleu.metrics import BLEU  # Only scoring pays for importing it.
  _check(hypotheses, references)
  metric = BLEU()
  return float(metric.corpus_score(list(hypotheses), [list(references)]).score), str(metric.get_signature())


def corpus_chrf(hypotheses: Sequence[str], references: Sequence[str]) -> tuple[float, str]:
  """sacreBLEU's corpus chrF in [0, 100] and its signature."""
  from sacrebleu.metrics import CHRF
  _check(hypotheses, references)
  metric = CHRF()
  return float(metric.corpus_score(list(hypotheses), [list(references)]).score), str(metric.get_signature())


def rouge(hypotheses: Sequence[str], references: Sequence[str], stemmer: bool = True) -> dict[str, np.ndarray]:
  """Per document ROUGE-1, ROUGE-2 and ROUGE-L (longest common subsequence over the whole text) F1."""
  from rouge_score import rouge_scorer
  _check(hypotheses, references)
  scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=stemmer)
  scores = [scorer.score(reference, hypothesis) for hypothesis, reference in zip(hypotheses, references)]
  return {kind: np.array([s[kind].fmeasure for s in scores], np.float64) for kind in ROUGE_TYPES}


def bootstrap_interval(values: Sequence[float], resamples: int = 1000, confidence: float = 0.95,
                       seed: int = 0) -> tuple[float, float, float]:
  """``(mean, low, high)``: the mean of ``values`` and the percentile bootstrap interval of it (``resamples``
  draws of len(values) with replacement, by ``seed``)."""
  values = np.asarray(values, np.float64).reshape(-1)
  if not values.size:
    raise ValueError("no values to bootstrap")
  if not 0 < confidence < 1:
    raise ValueError(f"confidence={confidence} must lie in (0, 1)")
  draws = np.random.default_rng(seed).integers(0, values.size, (resamples, values.size))
  means = values[draws].mean(axis=1)
  tail = (1 - confidence) / 2
  return float(values.mean()), float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


def rouge_metrics(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, float]:
  """Each ROUGE F1 (``rouge``) averaged over the documents, with its percentile bootstrap 95% interval:
  ``{"rouge1": mean, "rouge1_low": low, "rouge1_high": high, "rouge2": ...}``."""
  metrics = {}
  for kind, values in rouge(hypotheses, references).items():
    mean, low, high = bootstrap_interval(values)
    metrics.update({kind: mean, f"{kind}_low": low, f"{kind}_high": high})
  return metrics
