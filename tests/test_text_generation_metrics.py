"""BLEU, chrF and ROUGE as sacrebleu and rouge-score compute them (their reference values on fixed strings, and
hand counts), the bootstrap interval, and the extractive baselines on a hand-made article."""

import math

import numpy as np
import pytest

from bigjax.data import text_pairs
from bigjax.evals import extractive, text_generation


def test_bleu_by_hand_and_its_signature():
  # 6 words against 6: clipped n-gram precisions 5/6, 3/5, 2/4, 1/3; brevity penalty 1.
  score, signature = text_generation.corpus_bleu(["the cat sat on a mat"], ["the cat sat on the mat"])
  assert score == pytest.approx(100 * (5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** 0.25, rel=1e-9)
  assert signature.startswith("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:")
  # No 3- or 4-gram in common: exp smoothing counts the k-th such order as 1 / (2^k x its n-gram count).
  score, _ = text_generation.corpus_bleu(["the cat sat on a mat"], ["the dog sat on the mat"])
  assert score == pytest.approx(100 * math.exp(np.mean(np.log([4 / 6, 1 / 5, 1 / (2 * 4), 1 / (4 * 3)]))), rel=1e-9)
  assert text_generation.corpus_bleu(["the cat sat on the mat"], ["the cat sat on the mat"])[0] == pytest.approx(100.0)
  assert text_generation.corpus_bleu(["the cat sat"], ["the cat sat"])[0] == 0.0  # no 4-gram: no effective order


def test_bleu_is_a_corpus_score_not_a_mean_of_sentence_scores():
  from sacrebleu.metrics import BLEU
  hypotheses = ["a man rides a red bike down the street", "two dogs play", "a woman is singing on stage ."]
  references = ["a man rides a bike down a street", "two dogs are playing in the snow", "a woman sings on a stage ."]
  score, _ = text_generation.corpus_bleu(hypotheses, references)
  assert score == pytest.approx(BLEU().corpus_score(hypotheses, [references]).score)
  sentence_mean = np.mean([text_generation.corpus_bleu([h], [r])[0] for h, r in zip(hypotheses, references)])
  assert abs(score - sentence_mean) > 1.0


def test_chrf_of_identical_text_and_its_signature():
  score, signature = text_generation.corpus_chrf(["ein Hund läuft"], ["ein Hund läuft"])
  assert score == pytest.approx(100.0) and signature.startswith("nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no")
  assert 0 < text_generation.corpus_chrf(["ein Hund rennt"], ["ein Hund läuft"])[0] < 100


def test_rouge_by_hand():
  # 6 words each, 5 shared unigrams (the x2, cat, on, mat), bigrams: "the cat", "on the", "the mat" of 5;
  # the longest common subsequence "the cat on the mat" has 5 words.
  scores = text_generation.rouge(["the cat was on the mat"], ["the cat sat on the mat"])
  assert scores["rouge1"][0] == pytest.approx(5 / 6)
  assert scores["rouge2"][0] == pytest.approx(3 / 5)
  assert scores["rougeL"][0] == pytest.approx(5 / 6)
  # Porter stemming: "cats"/"cat" and "running"/"run" count as the same word.
  assert text_generation.rouge(["cats running"], ["cat run"])["rouge1"][0] == pytest.approx(1.0)
  assert text_generation.rouge(["cats running"], ["cat run"], stemmer=False)["rouge1"][0] == 0.0


def test_scores_refuse_misaligned_input():
  with pytest.raises(ValueError, match="2 hypotheses but 1 references"):
    text_generation.corpus_bleu(["a", "b"], ["a"])
  with pytest.raises(ValueError, match="no hypotheses"):
    text_generation.rouge([], [])


def test_bootstrap_interval_brackets_the_mean_and_narrows_with_more_documents():
  rng = np.random.default_rng(0)
  small, large = rng.normal(0.4, 0.1, 50), rng.normal(0.4, 0.1, 5000)
  mean, low, high = text_generation.bootstrap_interval(small)
  assert low < mean < high and mean == pytest.approx(small.mean())
  # The interval of a mean is about 2 x 1.96 standard errors wide.
  assert high - low == pytest.approx(2 * 1.96 * small.std() / np.sqrt(50), rel=0.2)
  _, low2, high2 = text_generation.bootstrap_interval(large)
  assert high2 - low2 < (high - low) / 5
  assert text_generation.bootstrap_interval(small, seed=3) == text_generation.bootstrap_interval(small, seed=3)


ARTICLE = """Storm closes city schools

Heavy snow closed every school in the city on Monday. The mayor said the schools would reopen "when the roads are safe." Snow ploughs worked through the night.
Parents said the closure of the schools came too late. Some schools had already opened when the snow closed the roads.
Shops in the centre stayed open. The forecast says more snow will fall on Tuesday, and schools may stay closed."""


def test_sentences_of_a_hand_made_article():
  sentences = text_pairs.split_sentences(ARTICLE)
  assert sentences == [
      "Storm closes city schools",
      "Heavy snow closed every school in the city on Monday.",
      "The mayor said the schools would reopen \"when the roads are safe.\"",
      "Snow ploughs worked through the night.",
      "Parents said the closure of the schools came too late.",
      "Some schools had already opened when the snow closed the roads.",
      "Shops in the centre stayed open.",
      "The forecast says more snow will fall on Tuesday, and schools may stay closed."]
  assert text_pairs.split_sentences("It rose 3.5% to $10.9bn. Profits fell.") == ["It rose 3.5% to $10.9bn.", "Profits fell."]


def test_lead_three_is_the_first_three_sentences():
  sentences = text_pairs.split_sentences(ARTICLE)[1:]
  assert extractive.lead(sentences, 3) == [0, 1, 2]
  assert extractive.join(sentences, [0, 1]) == sentences[0] + " " + sentences[1]
  assert extractive.lead(sentences[:2], 3) == [0, 1]


def test_pagerank_against_the_stationary_distribution_in_float64():
  rng = np.random.default_rng(1)
  weights = rng.uniform(0, 1, (6, 6)) * (rng.uniform(0, 1, (6, 6)) > 0.3)
  weights[4] = 0.0  # a sentence sharing no word with any other
  rank = extractive.pagerank(weights, damping=0.85)
  w = weights.copy()
  np.fill_diagonal(w, 0)
  out = w.sum(1, keepdims=True)
  transition = np.where(out > 0, w / np.where(out > 0, out, 1), 1 / 6)
  google = 0.85 * transition + 0.15 / 6
  values, vectors = np.linalg.eig(google.T)
  stationary = np.real(vectors[:, np.argmax(np.real(values))])
  np.testing.assert_allclose(rank, stationary / stationary.sum(), atol=1e-9)


def test_textrank_picks_the_sentences_most_like_the_others():
  sentences = text_pairs.split_sentences(ARTICLE)[1:]
  chosen = extractive.textrank(sentences, 2)
  # The sentences about schools closing in snow share most words with the rest; "Shops ... open" shares none.
  assert 5 not in chosen and chosen == sorted(chosen) and len(chosen) == 2
  assert all(("school" in sentences[i]) for i in chosen)
  assert extractive.textrank(sentences[:2], 3) == [0, 1]
  assert extractive.textrank(["...", "!!!", "?"], 1) == [0]  # nothing to rank by: the lead


def test_summarisation_baselines_script_refuses_to_overwrite_a_record(tmp_path):
  import subprocess
  import sys

  from conftest import REPO, cli_env
  record = tmp_path / "record.json"
  record.write_text("{}")
  proc = subprocess.run([sys.executable, "scripts/summarisation_baselines.py", "--json", str(record)], cwd=REPO,
                        env=cli_env(), capture_output=True, text=True, timeout=120)
  assert proc.returncode == 2 and "refusing to overwrite" in proc.stderr and record.read_text() == "{}"


def test_rouge_metrics_are_the_per_document_means_with_their_intervals():
  hypotheses = ["the cat sat on the mat", "a dog ran", "birds fly south in winter"]
  references = ["the cat was on the mat", "the dog ran away", "in winter birds fly south"]
  metrics = text_generation.rouge_metrics(hypotheses, references)
  per_document = text_generation.rouge(hypotheses, references)
  for kind in text_generation.ROUGE_TYPES:
    mean, low, high = text_generation.bootstrap_interval(per_document[kind])
    assert (metrics[kind], metrics[f"{kind}_low"], metrics[f"{kind}_high"]) == (mean, low, high)
    assert metrics[kind] == pytest.approx(per_document[kind].mean())
  assert sorted(metrics) == sorted(f"{k}{s}" for k in text_generation.ROUGE_TYPES for s in ("", "_low", "_high"))
