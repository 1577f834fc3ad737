"""Intrinsic evaluation of word vectors: analogies (3CosAdd), word-pair similarity, nearest neighbours.

Every function takes the vocabulary ``words`` (most frequent first, as word2vec and gensim sort it) and the float
matrix ``vectors`` [V, d] whose row i is ``words[i]``'s vector, and reproduces gensim 4's ``KeyedVectors`` method
of the same purpose (tests/test_word_vectors.py checks them side by side):

  analogy_accuracy       evaluate_word_analogies (and the word2vec C tool's compute-accuracy)
  word_pair_correlation  evaluate_word_pairs
  most_similar           most_similar

Case folding is gensim's: with ``case_insensitive`` every word is upper-cased (``str.upper``), and where several
vocabulary words fold to one (``Paris``, ``paris``) the most frequent (first) one stands for them. Only the first
``restrict_vocab`` words are known to an evaluation; a question or pair with any other word is out of vocabulary.
The word2vec C tool's compute-accuracy differs in one detail: it excludes only the rows of a, b and c as answers,
where gensim (and so this module) also passes over their other spellings.
A zero vector has no direction: its cosine with anything is 0 here (gensim gives 0 in ``similarity``, NaN in
``most_similar``).
"""

import dataclasses
from typing import Mapping, Sequence

import numpy as np
from scipy import stats

__all__ = ["AnalogyResult", "AnalogySectionResult", "WordPairResult", "analogy_accuracy", "folded_vocab",
           "most_similar", "unit_rows", "word_pair_correlation"]

ANALOGY_RESTRICT_VOCAB = 30_000   # compute-accuracy's threshold, as Mikolov et al. (2013) report (gensim: 300,000)
PAIRS_RESTRICT_VOCAB = 300_000    # gensim's evaluate_word_pairs default
_CANDIDATES = 5                   # gensim asks most_similar for 5 answers and takes the first that is no question word


def unit_rows(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """``vectors`` [V, d] -> (rows scaled to unit L2 norm [V, d], the norms [V]); zero rows stay zero."""
  norms = np.linalg.norm(vectors, axis=1)
  return vectors / np.where(norms > 0, norms, 1)[:, None], norms


def folded_vocab(words: Sequence[str], restrict_vocab: int | None, case_insensitive: bool) -> dict[str, int]:
  """The words an evaluation knows: folded word -> row of its most frequent spelling, among ``words[:restrict]``."""
  known = {}
  for row, word in enumerate(words[:restrict_vocab]):
    known.setdefault(word.upper() if case_insensitive else word, row)
  return known


def _check(words: Sequence[str], vectors: np.ndarray) -> np.ndarray:
  vectors = np.asarray(vectors)
  if vectors.ndim != 2 or len(words) != len(vectors):
    raise ValueError(f"need one vector per word: {len(words)} words, vectors of shape {vectors.shape}")
  if not np.issubdtype(vectors.dtype, np.floating):
    raise ValueError(f"vectors must be floating point, got {vectors.dtype}")
  return vectors


# ====================================================================================== analogies

@dataclasses.dataclass(frozen=True)
class AnalogySectionResult:
  """One section's questions (words folded as the evaluation saw them), split by whether 3CosAdd solved them."""
  name: str
  correct: list[tuple[str, str, str, str]]
  incorrect: list[tuple[str, str, str, str]]

  @property
  def accuracy(self) -> float:
    """correct / answered; 0.0 for a section with no answered question (gensim's convention)."""
    answered = len(self.correct) + len(self.incorrect)
    return len(self.correct) / answered if answered else 0.0


@dataclasses.dataclass(frozen=True)
class AnalogyResult:
  """``evaluate_word_analogies``'s numbers: per-section results; the total over all sections (gensim's score);
  the semantic sections (names not starting "gram": questions-words' first five) and the syntactic ("gram*") ones,
  as compute-accuracy reports them; the questions with an unknown word."""
  sections: list[AnalogySectionResult]
  num_questions: int
  num_oov: int

  @staticmethod
  def _accuracy(sections: list[AnalogySectionResult]) -> float:
    correct = sum(len(s.correct) for s in sections)
    answered = correct + sum(len(s.incorrect) for s in sections)
    return correct / answered if answered else 0.0

  @property
  def accuracy(self) -> float:
    """Correct over answered questions of all sections: gensim's returned score, compute-accuracy's "Total"."""
    return self._accuracy(self.sections)

  @property
  def semantic_accuracy(self) -> float:
    return self._accuracy([s for s in self.sections if not s.name.startswith("gram")])

  @property
  def syntactic_accuracy(self) -> float:
    return self._accuracy([s for s in self.sections if s.name.startswith("gram")])

  @property
  def oov_ratio(self) -> float:
    """Percent of the questions with a word outside the known vocabulary (gensim logs it so)."""
    return 100.0 * self.num_oov / self.num_questions if self.num_questions else 0.0

  def metrics(self, prefix: str = "analogy") -> dict[str, float]:
    """Flat ``{"analogy/accuracy": ..., "analogy/<section>": ...}`` for the loop's writers."""
    out = {f"{prefix}/accuracy": self.accuracy, f"{prefix}/semantic": self.semantic_accuracy,
           f"{prefix}/syntactic": self.syntactic_accuracy, f"{prefix}/oov_percent": self.oov_ratio}
    return out | {f"{prefix}/{s.name}": s.accuracy for s in self.sections}


def analogy_accuracy(words: Sequence[str], vectors: np.ndarray,
                     sections: Sequence[tuple[str, Sequence[tuple[str, str, str, str]]]], *,
                     restrict_vocab: int = ANALOGY_RESTRICT_VOCAB, case_insensitive: bool = True,
                     dummy4unknown: bool = False, batch_size: int = 512) -> AnalogyResult:
  """3CosAdd over an analogy set: "a is to b as c is to ?" answered by the known word closest to b - a + c.

  As gensim's ``evaluate_word_analogies`` (and compute-accuracy): vectors are unit-normalised; the answer is the
  best of the 5 nearest known words (a, b, c themselves excluded) whose folded form is none of a, b, c; a question
  with a word outside ``words[:restrict_vocab]`` is skipped (``dummy4unknown``: counted wrong). Vectorised: one
  [batch, restrict_vocab] matrix product per ``batch_size`` questions.

  Args:
    words: the vocabulary, most frequent first [V].
    vectors: [V, d] float.
    sections: (name, [(a, b, c, d), ...]) in file order, e.g. ``bigjax.data.word_eval.questions_words()``.
  """
  vectors = _check(words, vectors)
  known = folded_vocab(words, restrict_vocab, case_insensitive)
  n = min(len(words), restrict_vocab)
  fold = str.upper if case_insensitive else str
  # canonical[i]: the row that stands for words[i]'s folded form (i itself unless a more frequent spelling exists)
  canonical = np.array([known[fold(w)] for w in words[:n]], np.int64)

  folded = [[tuple(fold(w) for w in question) for question in questions] for _, questions in sections]
  answerable = [q for qs in folded for q in qs if all(w in known for w in q)]
  ids = np.array([[known[w] for w in q] for q in answerable], np.int64).reshape(-1, 4)
  unit, _ = unit_rows(vectors[:n])
  solved = iter(np.concatenate([_solve(unit, canonical, ids[i:i + batch_size])
                                for i in range(0, len(ids), batch_size)] or [np.zeros(0, bool)]))
  results, num_oov = [], 0
  for (name, _), questions in zip(sections, folded):
    correct, incorrect = [], []
    for question in questions:  # in file order, as gensim lists them
      if all(w in known for w in question):
        (correct if next(solved) else incorrect).append(question)
      else:
        num_oov += 1
        if dummy4unknown:
          incorrect.append(question)
    results.append(AnalogySectionResult(name, correct, incorrect))
  return AnalogyResult(results, num_questions=sum(map(len, folded)), num_oov=num_oov)


def _solve(unit: np.ndarray, canonical: np.ndarray, ids: np.ndarray) -> np.ndarray:
  """Whether 3CosAdd answers each question: ``ids`` [B, 4] canonical rows (a, b, c, d) -> bool [B].

  ``unit`` [n, d] holds the known rows, unit-normalised. As gensim's most_similar: the mean of the unit vectors of
  b, c and -a, rescaled to unit length, is scored against every known row by cosine. Rather than sort 5 candidates
  out of every row, take the best, and only where it is a spelling of a, b or c look at the next (up to 5):
  one pass of argmax over the [B, n] scores does nearly all the work.
  """
  a, b, c, d = ids.T
  mean = (unit[b] + unit[c]) - unit[a]
  mean = (mean / np.linalg.norm(mean, axis=1, keepdims=True).clip(1e-30)).astype(unit.dtype)
  scores = mean @ unit.T                                        # [B, n]
  scores[np.arange(len(ids))[:, None], ids[:, :3]] = -np.inf   # most_similar never returns its inputs
  answer = np.full(len(ids), -1)    # gensim: the first allowed of 5 candidates, else the last it saw, else none
  live = np.arange(len(ids))        # questions whose answer is still open
  for _ in range(min(_CANDIDATES, unit.shape[0])):
    live_scores = scores if len(live) == len(ids) else scores[live]
    best = live_scores.argmax(1)
    seen = np.isfinite(live_scores[np.arange(len(live)), best])   # False: no known word is left
    live, best = live[seen], best[seen]
    answer[live] = spelled = canonical[best]
    question = ids[live]
    allowed = (spelled != question[:, 0]) & (spelled != question[:, 1]) & (spelled != question[:, 2])
    scores[live[~allowed], best[~allowed]] = -np.inf
    live = live[~allowed]
    if not len(live):
      break
  return answer == d


# ====================================================================================== word pairs

@dataclasses.dataclass(frozen=True)
class WordPairResult:
  """``evaluate_word_pairs``'s numbers: correlations of cosine similarity with the human scores, and the pairs
  left out for an unknown word (``oov_ratio`` in percent, as gensim computes it)."""
  pearson: float
  pearson_pvalue: float
  spearman: float
  spearman_pvalue: float
  num_pairs: int    # pairs scored (with dummy4unknown, the unknown ones too, at similarity 0)
  num_oov: int
  oov_ratio: float

  def metrics(self, prefix: str) -> dict[str, float]:
    return {f"{prefix}/spearman": self.spearman, f"{prefix}/pearson": self.pearson,
            f"{prefix}/oov_percent": self.oov_ratio}


def word_pair_correlation(words: Sequence[str], vectors: np.ndarray, pairs: Sequence[tuple[str, str, float]], *,
                          restrict_vocab: int = PAIRS_RESTRICT_VOCAB, case_insensitive: bool = True,
                          dummy4unknown: bool = False) -> WordPairResult:
  """Pearson and Spearman correlation between cosine similarity and human scores over ``pairs`` (w1, w2, score).

  Raises:
    ValueError: no pair has both words known.
  """
  vectors = _check(words, vectors)
  known = folded_vocab(words, restrict_vocab, case_insensitive)
  fold = str.upper if case_insensitive else str
  gold, rows, num_oov = [], [], 0
  for first, second, score in pairs:
    first, second = fold(first), fold(second)
    if first in known and second in known:
      rows.append((known[first], known[second]))
    else:
      num_oov += 1
      if not dummy4unknown:
        continue
      rows.append((-1, -1))  # similarity 0
    gold.append(score)
  if not gold:
    raise ValueError(f"none of the {len(pairs)} word pairs has both words among the first {restrict_vocab} of "
                     f"the {len(words)} words (case_insensitive={case_insensitive})")
  rows = np.array(rows, np.int64)
  unit, _ = unit_rows(vectors)
  model = np.einsum("nd,nd->n", unit[rows[:, 0]], unit[rows[:, 1]])
  model[rows[:, 0] < 0] = 0.0
  spearman, pearson = stats.spearmanr(gold, model), stats.pearsonr(gold, model)
  # gensim divides by the pairs scored; with dummy4unknown those include the unknown ones.
  oov_ratio = 100.0 * num_oov / len(gold) if dummy4unknown else 100.0 * num_oov / (len(gold) + num_oov)
  return WordPairResult(float(pearson.statistic), float(pearson.pvalue), float(spearman.statistic),
                        float(spearman.pvalue), len(gold), num_oov, oov_ratio)


# ====================================================================================== nearest neighbours

def most_similar(words: Sequence[str], vectors: np.ndarray, positive=(), negative=(), topn: int = 10, *,
                 key_to_index: Mapping[str, int] | None = None, norms: np.ndarray | None = None,
                 restrict_vocab: int | None = None) -> list[tuple[str, float]]:
  """The ``topn`` words most cosine-similar to the weighted mean of the unit vectors of ``positive`` (weight +1)
  and ``negative`` (weight -1), query words excluded, best first, as gensim's ``most_similar``.

  Args:
    positive, negative: a word, or a list of words, ``(word, weight)`` pairs or raw vectors [d].
    key_to_index, norms: ``words``' index and the row norms [V], where the caller keeps them (else computed).
    restrict_vocab: search only the first this many words.

  Raises:
    KeyError: a query word is not in the vocabulary.
  """
  vectors = _check(words, vectors)
  if topn < 1:
    return []
  key_to_index = {w: i for i, w in enumerate(words)} if key_to_index is None else key_to_index
  norms = np.linalg.norm(vectors, axis=1) if norms is None else norms
  positive = [positive] if isinstance(positive, (str, np.ndarray)) else list(positive)
  negative = [negative] if isinstance(negative, (str, np.ndarray)) else list(negative)
  if not positive and not negative:
    raise ValueError("most_similar needs at least one positive or negative word")
  mean, total, query_rows = np.zeros(vectors.shape[1], vectors.dtype), 0.0, set()
  for item, sign in [(p, 1.0) for p in positive] + [(n, -1.0) for n in negative]:
    key, weight = (item, sign) if isinstance(item, (str, np.ndarray)) else (item[0], float(item[1]))
    if isinstance(key, np.ndarray):
      vector = key
    else:
      if key not in key_to_index:
        raise KeyError(f"word {key!r} is not in the vocabulary ({len(words)} words)")
      row = key_to_index[key]
      query_rows.add(row)
      vector = vectors[row] / (norms[row] or 1)
    mean += weight * vector
    total += abs(weight)
  mean = mean / total if total > 0 else mean
  mean = (mean / (np.linalg.norm(mean) or 1)).astype(vectors.dtype)
  end = len(words) if restrict_vocab is None else min(restrict_vocab, len(words))
  scores = (vectors[:end] @ mean) / np.where(norms[:end] > 0, norms[:end], np.inf)
  k = min(topn + len(query_rows), end)
  best = np.argpartition(-scores, k - 1)[:k] if k < end else np.arange(end)
  best = best[np.argsort(-scores[best], kind="stable")]
  return [(words[i], float(scores[i])) for i in best if i not in query_rows][:topn]
