"""Text-to-text data of issue 26, as lists of strings: translation pairs and news articles with summaries.

  multi30k     <root>/multi30k/task1/raw/{train,val,test_2016_flickr}.{en,de,fr,cs}.gz: Multi30k task 1 (Elliott
               et al. 2016), 29,000 / 1,014 / 1,000 aligned image captions; "test" is test2016, the set papers
               and tutorials score de->en and en->de on
  tatoeba      <root>/tatoeba/{spa,fra}-eng.zip: manythings.org's Tatoeba pairs (``English\\tForeign`` lines),
               118,964 spa-eng and 167,130 fra-eng; no official split, so one is recorded here by rule
  bbc_news     <root>/bbc_news_summary/BBC_News_Summary.tar.xz: 2,225 BBC articles (5 categories) with
               extractive summaries; no official split, so one is recorded here per category

Recorded splits (no file to lose: a rule on the text itself). Tatoeba: a pair goes to test when the sha256 of
"tatoeba/" + its English sentence falls in the first ``TATOEBA_TEST`` hundredths, to validation in the next
``TATOEBA_VALIDATION``, else to train; grouping by the English sentence keeps its several translations on one
side, so no test source's English appears in training. BBC: within each category, the article numbers in
`vision_sets.seeded_order` (seed 0): the first 10% (rounded) test, the next 10% validation, the rest train.
As elsewhere, "train" includes "validation" unless the run validates (``validating=True``).

Every file is read through ``core.read_verified`` (digests from the data root's MANIFEST.md / SHA256SUMS).
"""

import dataclasses
import gzip
import hashlib
import io
import os
import re
import tarfile
import zipfile

from bigjax.data.core import DataError, check_held_out, data_root, read_verified

SPLITS = ("train", "validation", "test")
MULTI30K_FILES = {"train": "train", "validation": "val", "test": "test_2016_flickr"}
MULTI30K_LANGUAGES = ("en", "de", "fr", "cs")
TATOEBA_PAIRS = {"spa-eng": "spa-eng/spa.txt", "fra-eng": "fra-eng/fra.txt"}
TATOEBA_TEST, TATOEBA_VALIDATION = 5, 5  # hundredths of the English sentences
BBC_CATEGORIES = ("business", "entertainment", "politics", "sport", "tech")
BBC_TEST_FRACTION = BBC_VALIDATION_FRACTION = 0.1

_FIX = {
    "multi30k": "Get data/task1/raw/*.gz of github.com/multi30k/dataset into multi30k/task1/raw/.",
    "tatoeba": "Get spa-eng.zip / fra-eng.zip of www.manythings.org/anki into tatoeba/.",
    "bbc_news_summary": "Pack Kaggle's 'BBC News Summary' folder as bbc_news_summary/BBC_News_Summary.tar.xz "
                        "(../shared/data/MANIFEST.md says how).",
}


def _split(split: str, name: str, validating: bool, held_out: str) -> None:
  if split not in SPLITS:
    raise ValueError(f"unknown split {split!r} of {name}; valid splits: {', '.join(SPLITS)}")
  check_held_out(name, split, validating, held_out)


# ====================================================================================== translation

def load_multi30k(split: str, source: str, target: str, data_dir: str | os.PathLike | None = None,
                  validating: bool = False) -> tuple[list[str], list[str]]:
  """Multi30k task 1: aligned ``(sources, targets)`` of ``split`` ("validation" is its val set, "test" its
  test2016). Its validation set is its own, so "train" is the 29,000 training pairs whether or not a run
  validates.

  Raises:
    ValueError: an unknown split or language, or the same language on both sides.
    DataError: a file is missing, corrupt, or the two sides differ in length.
  """
  if split not in SPLITS:
    raise ValueError(f"unknown split {split!r} of multi30k; valid splits: {', '.join(SPLITS)}")
  for language in (source, target):
    if language not in MULTI30K_LANGUAGES:
      raise ValueError(f"multi30k language {language!r} is unknown; choose from {MULTI30K_LANGUAGES}")
  if source == target:
    raise ValueError(f"multi30k source and target are both {source!r}")
  root = data_root(data_dir)
  sides = []
  for language in (source, target):
    relpath = f"multi30k/task1/raw/{MULTI30K_FILES[split]}.{language}.gz"
    blob = read_verified(root, relpath, fix=_FIX["multi30k"])
    try:
      sides.append(gzip.decompress(blob).decode("utf-8").split("\n"))
    except (OSError, EOFError, UnicodeDecodeError) as error:
      raise DataError(f"{root / relpath}: not gzipped UTF-8 text ({error})") from None
  sides = [lines[:-1] if lines and lines[-1] == "" else lines for lines in sides]
  if len(sides[0]) != len(sides[1]):
    raise DataError(f"{root}/multi30k/task1/raw/{MULTI30K_FILES[split]}.{{{source},{target}}}.gz: "
                    f"{len(sides[0])} and {len(sides[1])} lines, expected them aligned")
  return sides[0], sides[1]


def tatoeba_bucket(english: str) -> int:
  """0..99 from the sha256 of "tatoeba/" + the English sentence: the recorded split's rule."""
  return int(hashlib.sha256(f"tatoeba/{english}".encode()).hexdigest()[:8], 16) % 100


def load_tatoeba(pair: str, split: str, data_dir: str | os.PathLike | None = None, validating: bool = False
                 ) -> tuple[list[str], list[str]]:
  """Tatoeba ``pair`` ("spa-eng", "fra-eng") as ``(foreign sentences, English sentences)`` of ``split``, in the
  file's order, by the recorded split (module docstring).

  Raises:
    ValueError: an unknown pair or split, or "validation" without ``validating``.
    DataError: the zip is missing, corrupt, or holds a line that is not ``English<TAB>Foreign``.
  """
  if pair not in TATOEBA_PAIRS:
    raise ValueError(f"tatoeba pair {pair!r} is unknown; known: {', '.join(TATOEBA_PAIRS)}")
  _split(split, f"tatoeba {pair}", validating, f"the pairs whose English sentence hashes to "
         f"{TATOEBA_TEST}..{TATOEBA_TEST + TATOEBA_VALIDATION - 1} of 100")
  root = data_root(data_dir)
  relpath = f"tatoeba/{pair}.zip"
  blob = read_verified(root, relpath, fix=_FIX["tatoeba"])
  try:
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
      text = archive.read(TATOEBA_PAIRS[pair]).decode("utf-8")
  except (zipfile.BadZipFile, KeyError, UnicodeDecodeError) as error:
    raise DataError(f"{root / relpath}: no readable {TATOEBA_PAIRS[pair]} inside ({error})") from None
  foreign, english = [], []
  test_end, validation_end = TATOEBA_TEST, TATOEBA_TEST + TATOEBA_VALIDATION
  for number, line in enumerate(text.split("\n"), start=1):
    if not line:
      continue
    fields = line.split("\t")
    if len(fields) < 2 or not fields[0] or not fields[1]:
      raise DataError(f"{root / relpath}: {TATOEBA_PAIRS[pair]} line {number} is not English<TAB>Foreign: "
                      f"{line[:60]!r}")
    bucket = tatoeba_bucket(fields[0])
    side = "test" if bucket < test_end else "validation" if bucket < validation_end else "train"
    if side == split or (split == "train" and side == "validation" and not validating):
      english.append(fields[0])
      foreign.append(fields[1])
  return foreign, english


# ====================================================================================== summarisation

# After . ! or ?, possibly closed by a quote or bracket, then space, then what starts a sentence.
_BOUNDARY = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"'\u2019\u201d)\]]))\s+(?=[\"'\u2018\u201c(\[]?[A-Z0-9£$])")


def split_sentences(text: str) -> list[str]:
  """The sentences of a news text, in order: each line (paragraph) cut after . ! or ? (and a closing quote or
  bracket) where the next sentence starts with a capital, digit, currency sign or quote; whitespace inside each
  collapsed to single spaces."""
  out = []
  for paragraph in text.splitlines():
    paragraph = " ".join(paragraph.split())
    out.extend(s for s in _BOUNDARY.split(paragraph) if s)
  return out


@dataclasses.dataclass(frozen=True)
class Article:
  """One BBC article: ``category``, ``number`` ("001"), ``title`` (its first line), ``body`` (the paragraphs
  after it, as in the file, blank lines between them) and the reference ``summary`` (article sentences
  concatenated as the file holds them, often with no space between)."""
  category: str
  number: str
  title: str
  body: str
  summary: str


def bbc_split(numbers: list[str], category: str) -> dict[str, list[str]]:
  """The recorded split of one category's article numbers (module docstring)."""
  from bigjax.data.vision_sets import seeded_order
  order = seeded_order(sorted(numbers), 0)
  test = round(BBC_TEST_FRACTION * len(order))
  validation = round(BBC_VALIDATION_FRACTION * len(order))
  return {"test": sorted(order[:test]), "validation": sorted(order[test:test + validation]),
          "train": sorted(order[test + validation:])}


def load_bbc_news(split: str, data_dir: str | os.PathLike | None = None, validating: bool = False) -> list[Article]:
  """BBC News Summary's articles of ``split`` (by category, then number), by the recorded split.

  Raises:
    ValueError: an unknown split, or "validation" without ``validating``.
    DataError: the archive is missing or corrupt, or an article lacks its summary (or the reverse).
  """
  _split(split, "bbc_news", validating, "10% of each category's articles")
  root = data_root(data_dir)
  relpath = "bbc_news_summary/BBC_News_Summary.tar.xz"
  blob = read_verified(root, relpath, fix=_FIX["bbc_news_summary"])
  files = {}
  try:
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:xz") as archive:
      for member in archive.getmembers():
        parts = member.name.split("/")
        if member.isfile() and len(parts) == 4 and parts[1] in ("News Articles", "Summaries"):
          # One file (sport/199.txt) is Latin-1: its pound sign. Everything else is UTF-8.
          raw = archive.extractfile(member).read()
          try:
            text = raw.decode("utf-8")
          except UnicodeDecodeError:
            text = raw.decode("latin-1")
          files[(parts[1], parts[2], parts[3].removesuffix(".txt"))] = text
  except (tarfile.TarError, EOFError, OSError) as error:
    raise DataError(f"{root / relpath}: not a readable .tar.xz ({error})") from None
  articles = {k[1:] for k in files if k[0] == "News Articles"}
  summaries = {k[1:] for k in files if k[0] == "Summaries"}
  if articles != summaries or not articles:
    odd = sorted(articles ^ summaries)[:3]
    raise DataError(f"{root / relpath}: {len(articles)} articles and {len(summaries)} summaries; unmatched: {odd}")
  out = []
  for category in BBC_CATEGORIES:
    numbers = [n for c, n in articles if c == category]
    chosen = bbc_split(numbers, category)
    rows = chosen[split] + (chosen["validation"] if split == "train" and not validating else [])
    for number in sorted(rows):
      title, _, body = files[("News Articles", category, number)].strip().partition("\n")
      out.append(Article(category, number, title.strip(), body.strip(),
                         files[("Summaries", category, number)].strip()))
  return out
