"""Text as integer ids: a character tokenizer, a word vocabulary, padding, and Tiny Shakespeare.

  CharTokenizer   sorted unique characters of a text -> ids, as nanoGPT's shakespeare_char does
  WordVocab       <pad>=0, <unk>=1, then words by frequency (desc), ties by the word (asc)
  pad_batch       ragged id arrays -> int32 [n, max_len]
  tiny_shakespeare  input.txt (sha256-verified) -> 90% train / 10% validation ids + tokenizer

Both tokenizers save to JSON (`to_json` / `save`), so a run stores the exact vocabulary it trained
with; ids mean nothing without it.
"""

import collections
import json
import os
import pathlib
from typing import Iterable, Sequence

import numpy as np

from bigjax.data.core import DataError, data_root, read_verified

SHAKESPEARE_FILE = "tinyshakespeare/input.txt"
SHAKESPEARE_SOURCE = ("https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/"
                      "input.txt")
TRAIN_FRACTION = 0.9  # nanoGPT: train = data[:int(n * 0.9)], val = the rest

class CharTokenizer:
  """One id per character: id i is the i-th of the text's sorted unique characters (nanoGPT).

  Tiny Shakespeare has 65 characters: "\\n", " ", "!", ..., "z".
  """

  def __init__(self, chars: str):
    if not chars or list(chars) != sorted(set(chars)):
      raise ValueError(f"CharTokenizer needs sorted unique characters, got {chars[:80]!r}")
    self.chars = chars
    self._codepoints = np.array([ord(c) for c in chars], np.uint32)  # sorted, for searchsorted

  @classmethod
  def from_text(cls, text: str) -> "CharTokenizer":
    return cls("".join(sorted(set(text))))

  def __len__(self) -> int:
    return len(self.chars)

  @property
  def vocab_size(self) -> int:
    return len(self.chars)

  def __eq__(self, other) -> bool:
    return isinstance(other, CharTokenizer) and self.chars == other.chars

  def __repr__(self) -> str:
    return f"CharTokenizer(vocab_size={len(self)})"

  def encode(self, text: str) -> np.ndarray:
    """``str`` of length L -> int32 [L]. Raises ValueError naming the first unknown character."""
    codepoints = np.frombuffer(text.encode("utf-32-le"), np.uint32)
    ids = np.searchsorted(self._codepoints, codepoints)
    ids = np.minimum(ids, len(self.chars) - 1)
    unknown = np.flatnonzero(self._codepoints[ids] != codepoints)
    if unknown.size:
      i = int(unknown[0])
      raise ValueError(f"character {text[i]!r} (U+{ord(text[i]):04X}) at position {i} is not in this "
                       f"tokenizer's {len(self)}-character vocabulary ({unknown.size} unknown in all)")
    return ids.astype(np.int32)

  def decode(self, ids: Sequence[int] | np.ndarray) -> str:
    """int [L] -> ``str`` of length L. Raises ValueError for ids outside [0, vocab_size)."""
    ids = np.asarray(ids).reshape(-1)
    if ids.size and not np.issubdtype(ids.dtype, np.integer):
      raise ValueError(f"CharTokenizer.decode needs integer ids, got dtype {ids.dtype}")
    bad = np.flatnonzero((ids < 0) | (ids >= len(self)))
    if bad.size:
      raise ValueError(f"id {int(ids[bad[0]])} at position {int(bad[0])} is outside this tokenizer's "
                       f"vocabulary [0, {len(self)})")
    return self._codepoints[ids.astype(np.int64)].astype("<u4").tobytes().decode("utf-32-le")

  def to_json(self) -> str:
    return json.dumps({"type": "CharTokenizer", "chars": self.chars})

  @classmethod
  def from_json(cls, text: str) -> "CharTokenizer":
    return cls(_parse_json(text, "CharTokenizer")["chars"])

  def save(self, path: str | os.PathLike) -> None:
    pathlib.Path(path).write_text(self.to_json(), encoding="utf-8")

  @classmethod
  def load(cls, path: str | os.PathLike) -> "CharTokenizer":
    return cls.from_json(pathlib.Path(path).read_text(encoding="utf-8"))


class WordVocab:
  """Word -> id with ``<pad>`` = 0 and ``<unk>`` = 1; then words by count (desc), ties by word (asc).

  The order depends only on the counts, never on the order sentences were read, so two builds
  over the same multiset of sentences give the same ids.
  """

  PAD, UNK = "<pad>", "<unk>"
  PAD_ID, UNK_ID = 0, 1

  def __init__(self, itos: Sequence[str]):
    itos = list(itos)
    if itos[:2] != [self.PAD, self.UNK]:
      raise ValueError(f"WordVocab must start with {[self.PAD, self.UNK]}, got {itos[:2]}")
    if len(set(itos)) != len(itos):
      dupes = [w for w, c in collections.Counter(itos).items() if c > 1]
      raise ValueError(f"WordVocab has duplicate tokens: {dupes[:10]}")
    self.itos = itos
    self.stoi = {w: i for i, w in enumerate(itos)}

  @classmethod
  def build(cls, sentences: Iterable[Sequence[str]], min_freq: int = 1,
            max_size: int | None = None) -> "WordVocab":
    """Counts every token of ``sentences`` (lists of tokens).

    Args:
      min_freq: keep tokens seen at least this many times (1 keeps all).
      max_size: at most this many entries, the two specials included (None: no limit).
    """
    if min_freq < 1:
      raise ValueError(f"min_freq must be >= 1, got {min_freq}")
    if max_size is not None and max_size < 2:
      raise ValueError(f"max_size must be >= 2 (room for {cls.PAD} and {cls.UNK}), got {max_size}")
    counts = collections.Counter(w for sentence in sentences for w in sentence)
    for special in (cls.PAD, cls.UNK):  # a literal "<unk>" in the text is the special, not a word
      counts.pop(special, None)
    words = sorted((w for w, c in counts.items() if c >= min_freq), key=lambda w: (-counts[w], w))
    if max_size is not None:
      words = words[:max_size - 2]
    return cls([cls.PAD, cls.UNK, *words])

  def __len__(self) -> int:
    return len(self.itos)

  def __contains__(self, token: str) -> bool:
    return token in self.stoi

  def __eq__(self, other) -> bool:
    return isinstance(other, WordVocab) and self.itos == other.itos

  def __repr__(self) -> str:
    return f"WordVocab(size={len(self)}, first={self.itos[2:7]})"

  def encode(self, tokens: Sequence[str], max_len: int | None = None) -> np.ndarray:
    """tokens [L] -> int32 [L]; unknown tokens -> 1. With ``max_len``: int32 [max_len], cut or 0-padded."""
    ids = np.fromiter((self.stoi.get(w, self.UNK_ID) for w in tokens), np.int32, count=len(tokens))
    return ids if max_len is None else pad_batch([ids], max_len, self.PAD_ID)[0]

  def decode(self, ids: Sequence[int] | np.ndarray) -> list[str]:
    return [self.itos[i] for i in np.asarray(ids).reshape(-1).tolist()]

  def to_json(self) -> str:
    return json.dumps({"type": "WordVocab", "itos": self.itos})

  @classmethod
  def from_json(cls, text: str) -> "WordVocab":
    return cls(_parse_json(text, "WordVocab")["itos"])

  def save(self, path: str | os.PathLike) -> None:
    pathlib.Path(path).write_text(self.to_json(), encoding="utf-8")

  @classmethod
  def load(cls, path: str | os.PathLike) -> "WordVocab":
    return cls.from_json(pathlib.Path(path).read_text(encoding="utf-8"))


def _parse_json(text: str, kind: str) -> dict:
  obj = json.loads(text)
  if not isinstance(obj, dict) or obj.get("type") != kind:
    found = obj.get("type") if isinstance(obj, dict) else type(obj).__name__
    raise ValueError(f"not a saved {kind} (its 'type' is {found!r})")
  return obj


def pad_batch(sequences: Sequence[Sequence[int] | np.ndarray], max_len: int, pad_id: int = 0) -> np.ndarray:
  """n id sequences of any length -> int32 [n, max_len]: longer ones cut at max_len, shorter ones padded."""
  if max_len < 0:
    raise ValueError(f"max_len must be >= 0, got {max_len}")
  out = np.full((len(sequences), max_len), pad_id, np.int32)
  for i, ids in enumerate(sequences):
    ids = np.asarray(ids, np.int32)[:max_len]
    out[i, :len(ids)] = ids
  return out


def tiny_shakespeare(data_dir: str | os.PathLike | None = None
                     ) -> tuple[np.ndarray, np.ndarray, CharTokenizer]:
  """Tiny Shakespeare as character ids, split as nanoGPT does.

  Args:
    data_dir: data root holding tinyshakespeare/input.txt (default: `core.default_data_dir()`).

  Returns:
    train_ids: int32 [1,003,854], the first 90% of the characters.
    val_ids: int32 [111,540], the last 10%.
    tokenizer: the 65-character CharTokenizer built on the whole text (as nanoGPT; every
      character of val also occurs in train, so this leaks nothing but the vocabulary's order).

  Raises:
    DataError: input.txt is missing, fails its checksum, or is not UTF-8.
  """
  root = data_root(data_dir)
  raw = read_verified(root, SHAKESPEARE_FILE,
                      fix=f"Download it from {SHAKESPEARE_SOURCE} into {root / 'tinyshakespeare'}/.")
  try:
    text = raw.decode("utf-8")
  except UnicodeDecodeError as e:
    raise DataError(f"{root / SHAKESPEARE_FILE}: not UTF-8 ({e})") from None
  tokenizer = CharTokenizer.from_text(text)
  ids = tokenizer.encode(text)
  n_train = int(len(ids) * TRAIN_FRACTION)
  return ids[:n_train], ids[n_train:], tokenizer
