"""Subword tokenisation with SentencePiece (Kudo and Richardson 2018): a model trained on a training split's
sentences, built once per (sentences, options) into a verified cache, saved with a run and restored from it.

  SubwordTokenizer.train(sentences, vocab_size, model_type)   unigram (Kudo 2018) or bpe, on the given text only
  tokenizer.encode(text, bos=, eos=) / encode_batch            text -> ids
  tokenizer.decode(ids)                                        ids -> text, up to the first end-of-sequence id
  to_json / from_json                                          the model itself (base64), as a run's vocab.json

Ids 0-3 are fixed: <pad> 0 (so padded batches are zeros), <unk> 1, <s> 2, </s> 3; pieces follow. Training
uses one thread and the whole input (no sampling of sentences), so the same sentences and options give the
same model, byte for byte: the cache key is their digest.
"""

import base64
import hashlib
import io
import json
import logging
import pathlib
from typing import Iterable, Sequence

import numpy as np

from bigjax.data.core import DataError, default_cache_dir, read_verified, store_npz

VERSION = 1
MODEL_TYPES = ("unigram", "bpe")
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3


class SubwordTokenizer:
  """A trained SentencePiece model: ``len`` ids, the first four <pad>, <unk>, <s>, </s>."""

  PAD_ID, UNK_ID, BOS_ID, EOS_ID = PAD_ID, UNK_ID, BOS_ID, EOS_ID

  def __init__(self, model: bytes):
    import sentencepiece  # Only runs that tokenise subwords pay for importing it.
    self.model = bytes(model)
    self._sp = sentencepiece.SentencePieceProcessor()
    try:
      self._sp.LoadFromSerializedProto(self.model)
    except (RuntimeError, OSError) as error:
      raise ValueError(f"not a SentencePiece model ({error})") from None
    specials = [self._sp.pad_id(), self._sp.unk_id(), self._sp.bos_id(), self._sp.eos_id()]
    if specials != [PAD_ID, UNK_ID, BOS_ID, EOS_ID]:
      raise ValueError(f"a SentencePiece model with <pad>, <unk>, <s>, </s> at ids {specials}, expected 0-3")

  @classmethod
  def train(cls, sentences: Iterable[str], vocab_size: int, model_type: str = "unigram",
            character_coverage: float = 1.0, cache_dir: pathlib.Path | None = None) -> "SubwordTokenizer":
    """A model of ``vocab_size`` ids trained on ``sentences`` (each one line of text), from the cache when an
    entry for exactly these sentences and options verifies there.

    Raises:
      ValueError: an unknown ``model_type``, a ``vocab_size`` under 8, no sentences, or a vocabulary too large
        for the text (SentencePiece's message).
    """
    if model_type not in MODEL_TYPES:
      raise ValueError(f"subword model_type={model_type!r} is unknown; choose one of {MODEL_TYPES}")
    if vocab_size < 8:
      raise ValueError(f"subword vocab_size={vocab_size}: need at least 8 (4 special ids and some pieces)")
    lines = [s.replace("\n", " ") for s in sentences]
    if not any(line.strip() for line in lines):
      raise ValueError("no text to train a subword model on")
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    key = json.dumps([VERSION, digest, vocab_size, model_type, character_coverage])
    entry = (cache_dir or default_cache_dir()) / "subword" / f"v{VERSION}" / hashlib.sha256(key.encode()).hexdigest()
    try:
      blob = read_verified(entry, "model.npz", fix="It is a cache entry; it will be rebuilt.")
      with np.load(io.BytesIO(blob)) as arrays:
        return cls(arrays["model"].tobytes())
    except (DataError, KeyError, ValueError, OSError):
      pass
    import sentencepiece
    logging.getLogger(__name__).info("training a %s subword model of %d ids on %d sentences into %s", model_type,
                                     vocab_size, len(lines), entry)
    model = io.BytesIO()
    try:
      sentencepiece.SentencePieceTrainer.train(
          sentence_iterator=iter(lines), model_writer=model, vocab_size=vocab_size, model_type=model_type,
          character_coverage=character_coverage, pad_id=PAD_ID, unk_id=UNK_ID, bos_id=BOS_ID, eos_id=EOS_ID,
          input_sentence_size=0, shuffle_input_sentence=False, num_threads=1, minloglevel=2,
          max_sentence_length=1 << 16, hard_vocab_limit=True)
    except RuntimeError as error:
      raise ValueError(f"subword model of {vocab_size} ids: {str(error).strip().splitlines()[-1]}") from None
    store_npz(entry, "model.npz", "the subword model", model=np.frombuffer(model.getvalue(), np.uint8))
    return cls(model.getvalue())

  def __len__(self) -> int:
    return self._sp.get_piece_size()

  def encode(self, text: str, bos: bool = False, eos: bool = False) -> list[int]:
    return self._sp.encode(text, add_bos=bos, add_eos=eos)

  def encode_batch(self, texts: Sequence[str], bos: bool = False, eos: bool = False) -> list[list[int]]:
    return self._sp.encode(list(texts), add_bos=bos, add_eos=eos)

  def decode(self, ids: Sequence[int] | np.ndarray) -> str:
    """The text of ``ids`` up to the first </s>; <pad>, <s> (and a leading run of them) are skipped."""
    ids = [int(i) for i in np.asarray(ids).reshape(-1)]
    if EOS_ID in ids:
      ids = ids[:ids.index(EOS_ID)]
    return self._sp.decode([i for i in ids if i not in (PAD_ID, BOS_ID)])

  def pieces(self, text: str) -> list[str]:
    return self._sp.encode(text, out_type=str)

  def to_json(self) -> str:
    return json.dumps({"type": "SubwordTokenizer", "model": base64.b64encode(self.model).decode("ascii")})

  @classmethod
  def from_json(cls, text: str) -> "SubwordTokenizer":
    obj = json.loads(text)
    if not isinstance(obj, dict) or obj.get("type") != "SubwordTokenizer":
      found = obj.get("type") if isinstance(obj, dict) else type(obj).__name__
      raise ValueError(f"not a saved SubwordTokenizer (its 'type' is {found!r})")
    return cls(base64.b64decode(obj["model"]))
