"""Translation pairs as the loop trains on them: one joint SentencePiece vocabulary, ids in fixed-width arrays.

``load(config.data, split, root)`` for ``data.name`` in ``DATASETS``:
  multi30k   ``data.source``, ``data.target`` in en, de, fr, cs (``text_pairs.load_multi30k``)
  tatoeba    ``data.source``, ``data.target``: "eng" and "spa" or "fra" (``text_pairs.load_tatoeba``)
  bbc_news_pairs  ``data.source="article"``, ``data.target="summary"``: each BBC News Summary article's body
             and its reference summary, the recorded split by category (``text_pairs.load_bbc_news``), for
             abstractive summarising (``bigjax.data.summaries`` holds the same articles as sentence stacks)

The vocabulary (``subword.SubwordTokenizer``, ``data.vocab_size`` ids, ``data.subword_model``) is trained on
the training split's source and target sentences only, whichever split is loaded, and travels as the
Dataset's ``vocab`` (saved with the run). Arrays:

  "source"  int32 [N, max_len]      the source's pieces, then </s>, then padding (0)
  "target"  int32 [N, max_len + 1]  <s>, the target's pieces, </s>, padding: position i of target[:, :-1]
                                     predicts target[:, 1:] (teacher forcing)

``max_len = data.max_len`` pieces (with </s>). A training pair longer than that is left out (logged); an
evaluated pair never is: its split is refused, naming the length needed, so that every reference is scored
whole. The references are the ids decoded back (``SubwordTokenizer.decode``), which the tests check give the
files' sentences exactly.

Cutting (``data.cut=True``, for texts far longer than sentences: articles and their summaries): every pair is
kept; "source" is ``data.source_len`` wide (0: ``max_len``) and holds the source's first pieces, ending in </s>
(a model reads an article's beginning), "target" its target's first ``max_len + 1`` ids (<s> first; </s> only
where the target fits). The evaluated splits then carry the whole reference too, which the scores read:

  "reference"  int32 [N, R]  the target's pieces, every one, padding 0; R = ``data.reference_len`` (one width
                             for every split, so one compiled evaluation step): a longer one is refused

Packing (``data.pack=True``, training split only; ``pack``): a Multi30k pair fills about a quarter of its two
rows, so most of a step's work would be padding. Packed, each row holds several pairs side by side, and two more
arrays say which pair each token belongs to (1, 2, ... in the row; 0 for padding)::

  "source_segments"  int32 [R, max_len]      "target_segments"  int32 [R, max_len + 1]

The model (``models.seq2seq.Transformer``) restarts positions at each pair and lets a token attend only within
its own pair (and a target token only to its own pair's source); the task scores a target token only where it
and the token before it belong to the same pair. A packed batch therefore computes what the unpacked batch of
the same pairs computes, in fewer rows; ``data.batch_size`` then counts rows. The rows are cut once, at load time
(first fit, longest pairs first: deterministic), and shuffled as rows each epoch.
"""

import logging

import numpy as np

from bigjax.data import subword, text_pairs
from bigjax.data.core import Dataset, validating as is_validating

DATASETS = ("multi30k", "tatoeba", "bbc_news_pairs")
_TATOEBA_LANGUAGES = {"spa", "fra"}


def sentence_pairs(data_config, split: str, root) -> tuple[list[str], list[str]]:
  """``(sources, targets)`` of ``split`` as the files hold them."""
  name, source, target = data_config.name, data_config.source, data_config.target
  validating = is_validating(data_config)
  if name == "multi30k":
    return text_pairs.load_multi30k(split, source, target, root, validating)
  if name == "bbc_news_pairs":
    if (source, target) != ("article", "summary"):
      raise ValueError(f"config.data.source={source!r}, target={target!r}: bbc_news_pairs maps 'article' to "
                       f"'summary'")
    articles = text_pairs.load_bbc_news(split, root, validating)
    return [a.body for a in articles], [a.summary for a in articles]
  if name == "tatoeba" and "eng" in (source, target) and ({source, target} - {"eng"}) <= _TATOEBA_LANGUAGES \
      and source != target:
    foreign = target if source == "eng" else source
    foreign_side, english = text_pairs.load_tatoeba(f"{foreign}-eng", split, root, validating)
    return (foreign_side, english) if source == foreign else (english, foreign_side)
  raise ValueError(f"config.data.source={source!r}, target={target!r}: tatoeba pairs English ('eng') with one of "
                   f"{sorted(_TATOEBA_LANGUAGES)}")


def encode(tokenizer: subword.SubwordTokenizer, sources: list[str], targets: list[str], max_len: int,
           name: str, training: bool, cut: bool = False, source_len: int = 0,
           reference_len: int = 0) -> dict[str, np.ndarray]:
  """The module docstring's arrays. Without ``cut``, ``training`` leaves out pairs that do not fit, else they
  are refused; with it, every pair is cut to fit and an evaluated split also gets its whole "reference"."""
  src = tokenizer.encode_batch(sources, eos=True)
  tgt = tokenizer.encode_batch(targets, bos=True, eos=True)
  width = source_len or max_len
  if cut:
    long = sum(len(s) > width or len(t) > max_len + 1 for s, t in zip(src, tgt))
    if long:
      logging.getLogger(__name__).info("%s: %d of %d pairs cut to their first %d source and %d target pieces",
                                       name, long, len(src), width, max_len)
    fits = np.ones(len(src), bool)
    src = [s if len(s) <= width else s[:width - 1] + s[-1:] for s in src]  # the beginning, then </s>
    tgt = [t[:max_len + 1] for t in tgt]
  else:
    fits = np.array([len(s) <= width and len(t) <= max_len + 1 for s, t in zip(src, tgt)], bool)
  if not fits.all():
    longest = max(max(len(s) for s in src), max(len(t) for t in tgt) - 1)
    if not training:
      raise ValueError(f"config.data.max_len={max_len}: {name} has a pair of {longest} pieces (with </s>); "
                       f"evaluated pairs are never cut, so raise it")
    logging.getLogger(__name__).info("%s: %d of %d pairs longer than max_len=%d left out", name,
                                     int((~fits).sum()), len(fits), max_len)
  keep = np.flatnonzero(fits)
  source = np.zeros((len(keep), width), np.int32)
  target = np.zeros((len(keep), max_len + 1), np.int32)
  for row, i in enumerate(keep):
    source[row, :len(src[i])] = src[i]
    target[row, :len(tgt[i])] = tgt[i]
  arrays = {"source": source, "target": target}
  if cut and not training:
    whole = tokenizer.encode_batch(targets)
    longest = max(map(len, whole), default=0)
    if longest > reference_len:
      raise ValueError(f"config.data.reference_len={reference_len}: {name} has a reference of {longest} pieces; "
                       f"references are never cut, so raise it")
    arrays["reference"] = np.zeros((len(whole), reference_len), np.int32)
    for row, ids in enumerate(whole):
      arrays["reference"][row, :len(ids)] = ids
  return arrays


def pack(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
  """``{"source" [N, m], "target" [N, m + 1]}`` (``encode``'s arrays) -> packed rows with their segment arrays
  (module docstring). First fit decreasing: pairs by decreasing target then source length, each into the first
  row where both of its sides still fit. Every pair lands whole in exactly one row, its pieces in order."""
  source, target = arrays["source"], arrays["target"]
  src_len, tgt_len = (source != 0).sum(1), (target != 0).sum(1)
  order = np.lexsort((-src_len, -tgt_len))  # the last key sorts first
  src_free = np.full(len(source), source.shape[1])  # at most one row per pair
  tgt_free = np.full(len(source), target.shape[1])
  row_of = np.empty(len(source), np.int64)
  rows = 0
  for i in order:
    fits = np.flatnonzero((src_free[:rows] >= src_len[i]) & (tgt_free[:rows] >= tgt_len[i]))
    row = fits[0] if len(fits) else rows
    rows += row == rows
    src_free[row] -= src_len[i]
    tgt_free[row] -= tgt_len[i]
    row_of[i] = row
  out = {name: np.zeros((rows, a.shape[1]), np.int32) for name, a in
         (("source", source), ("source_segments", source), ("target", target), ("target_segments", target))}
  src_at, tgt_at, segment = np.zeros(rows, np.int64), np.zeros(rows, np.int64), np.zeros(rows, np.int32)
  for i in range(len(source)):  # in the pairs' order, so a row's segments follow the file
    row = row_of[i]
    segment[row] += 1
    for side, length, at in (("source", src_len[i], src_at), ("target", tgt_len[i], tgt_at)):
      out[side][row, at[row]:at[row] + length] = arrays[side][i, :length]
      out[f"{side}_segments"][row, at[row]:at[row] + length] = segment[row]
      at[row] += length
  return out


def real_token_fraction(arrays: dict[str, np.ndarray]) -> float:
  """Of the source and target positions a step computes, the fraction that hold a piece (not padding)."""
  return float(((arrays["source"] != 0).sum() + (arrays["target"] != 0).sum())
               / (arrays["source"].size + arrays["target"].size))


def tokenizer_for(data_config, root) -> subword.SubwordTokenizer:
  """The run's vocabulary: trained (or read from the cache) on its training split's two sides."""
  sources, targets = sentence_pairs(data_config, data_config.train_split, root)
  return subword.SubwordTokenizer.train(sources + targets, data_config.vocab_size, data_config.subword_model)


def load(data_config, split: str, root) -> Dataset:
  if data_config.max_len < 2:
    raise ValueError(f"config.data.max_len={data_config.max_len}: need room for a piece and </s>")
  cut, source_len = data_config.get("cut", False), data_config.get("source_len", 0)
  if source_len and not 2 <= source_len:
    raise ValueError(f"config.data.source_len={source_len}: need room for a piece and </s> (0: max_len)")
  if cut and data_config.get("pack", False):
    raise ValueError("config.data.cut=True with pack=True: cut texts fill their rows; pack only sentence pairs")
  tokenizer = tokenizer_for(data_config, root)
  sources, targets = sentence_pairs(data_config, split, root)
  name = f"{data_config.name}:{split}"
  training = split == data_config.train_split
  arrays = encode(tokenizer, sources, targets, data_config.max_len, name, training=training, cut=cut,
                  source_len=source_len, reference_len=data_config.get("reference_len", 0))
  if training and data_config.get("pack", False):
    pairs, before = len(arrays["source"]), real_token_fraction(arrays)
    arrays = pack(arrays)
    logging.getLogger(__name__).info("%s: %d pairs packed into %d rows; real tokens %.1f%% of positions (%.1f%% "
                                     "unpacked)", name, pairs, len(arrays["source"]), 100 * real_token_fraction(arrays),
                                     100 * before)
  return Dataset(arrays, 0, name, vocab=tokenizer)  # the model's vocab_size 0 takes len(tokenizer)
