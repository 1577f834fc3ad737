"""Word-embedding evaluation sets: analogy questions and human-rated word pairs.

  file (under the data root, sha256-verified)   layout                                   size
  word_eval/questions-words.txt                  ": section" headers, then "a b c d" lines  19,544 questions, 14 sections
  word_eval/wordsim353.tsv                       "w1\\tw2\\tscore", "#" comment lines          353 pairs, scores 0-10
  word_eval/simlex999.txt                        the same layout                            999 pairs, scores 0-10

``questions_words``, ``wordsim353`` and ``simlex999`` read the standard copies through ``read_verified``, so a
missing or corrupt file is a DataError that names it; ``read_analogies`` and ``read_word_pairs`` read a file of the
same layout from any path (no checksum is known for it). Words keep their case: the evaluations fold case.

Where gensim silently skips a malformed line, these readers raise a DataError naming the file and line, so a
truncated or mis-delimited file is not scored as if it were complete; blank lines are skipped.
"""

import os
import pathlib
from typing import NamedTuple

from bigjax.data.core import DataError, data_root, read_verified

__all__ = ["AnalogySection", "QUESTIONS_WORDS", "SIMLEX999", "WORDSIM353", "parse_analogies", "parse_word_pairs",
           "questions_words", "read_analogies", "read_word_pairs", "simlex999", "wordsim353"]

QUESTIONS_WORDS = "word_eval/questions-words.txt"
WORDSIM353 = "word_eval/wordsim353.tsv"
SIMLEX999 = "word_eval/simlex999.txt"
_FIX = ("Copy it from gensim's wheel (gensim 4.4.0, folder gensim/test/test_data/), as ../shared/data/MANIFEST.md "
        "(section word_eval) describes.")


class AnalogySection(NamedTuple):
  """One section of an analogy set: its name ("capital-common-countries") and its questions, each (a, b, c, d)
  read "a is to b as c is to d"."""
  name: str
  questions: list[tuple[str, str, str, str]]


WordPair = tuple[str, str, float]  # (word 1, word 2, human similarity score)


# ====================================================================================== parsing

def parse_analogies(text: str, source: str) -> list[AnalogySection]:
  """The sections of an analogy file, in file order (``source`` names the file in errors).

  Raises:
    DataError: a question before the first ": section" line, or a line that is not four words.
  """
  sections: list[AnalogySection] = []
  for number, line in enumerate(text.splitlines(), 1):
    if line.startswith(": "):
      sections.append(AnalogySection(line.lstrip(": ").strip(), []))  # gensim's reading of the header
      continue
    words = line.split()
    if not words:
      continue
    if not sections:
      raise DataError(f"{source} line {number}: a question before the first ': section' header")
    if len(words) != 4:
      raise DataError(f"{source} line {number}: expected 4 words 'a b c d', got {line[:80]!r}")
    sections[-1].questions.append(tuple(words))
  return sections


def parse_word_pairs(text: str, source: str) -> list[WordPair]:
  """The (w1, w2, score) rows of a tab-separated word-pair file; "#" lines are comments.

  Raises:
    DataError: a line that is not "w1<TAB>w2<TAB>number".
  """
  pairs = []
  for number, line in enumerate(text.splitlines(), 1):
    if line.startswith("#") or not line.strip():
      continue
    fields = line.split("\t")
    try:
      first, second, score = fields
      pairs.append((first.strip(), second.strip(), float(score)))
    except ValueError:
      raise DataError(f"{source} line {number}: expected 'word1<TAB>word2<TAB>score', got {line[:80]!r}") from None
  return pairs


# ====================================================================================== the standard sets

def _read_standard(relpath: str, data_dir) -> tuple[str, str]:
  root = data_root(data_dir)
  return read_verified(root, relpath, fix=_FIX).decode("utf-8"), str(root / relpath)


def questions_words(data_dir: str | os.PathLike | None = None) -> list[AnalogySection]:
  """Mikolov et al. (2013)'s analogy set: 14 sections (5 semantic, then 9 "gram*" syntactic), 19,544 questions."""
  return parse_analogies(*_read_standard(QUESTIONS_WORDS, data_dir))


def wordsim353(data_dir: str | os.PathLike | None = None) -> list[WordPair]:
  """WordSim-353 (Finkelstein et al. 2002): 353 pairs rated for relatedness, 0-10."""
  return parse_word_pairs(*_read_standard(WORDSIM353, data_dir))


def simlex999(data_dir: str | os.PathLike | None = None) -> list[WordPair]:
  """SimLex-999 (Hill et al. 2015): 999 pairs rated for similarity (not relatedness), 0-10."""
  return parse_word_pairs(*_read_standard(SIMLEX999, data_dir))


# ====================================================================================== any file

def _read_any(path: str | os.PathLike) -> tuple[str, str]:
  path = pathlib.Path(path)
  try:
    return path.read_text(encoding="utf-8"), str(path)
  except FileNotFoundError:
    raise DataError(f"{path} not found; pass the path of an existing evaluation file") from None
  except UnicodeDecodeError as e:
    raise DataError(f"{path} is not UTF-8 text ({e})") from None


def read_analogies(path: str | os.PathLike) -> list[AnalogySection]:
  """An analogy file in questions-words.txt's layout, from any path."""
  return parse_analogies(*_read_any(path))


def read_word_pairs(path: str | os.PathLike) -> list[WordPair]:
  """A word-pair file in wordsim353.tsv's layout, from any path."""
  return parse_word_pairs(*_read_any(path))
