"""An extractive summariser: score each sentence of an article for the summary, reading the whole article.

  sentences [b, S, T] int32 pieces
    -> piece embeddings, a wide width-3 convolution + ReLU, max over the windows holding a real piece
       [b, S, embed] (Kim's sentence CNN with one filter width, ``text_cnn.py``'s convolution)
    -> + a learned embedding of the sentence's position in the article (news puts its gist first)
    -> pre-LN Transformer blocks over the sentences (``transformer.py``'s; padding sentences hidden)  [b, S, embed]
    -> LayerNorm, Dense -> a logit per sentence  [b, S]

The sentence level is BERTSUMExt's (Liu and Lapata 2019) inter-sentence Transformer, over a small
convolutional sentence encoder trained from scratch instead of BERT.
"""

import chex
import flax.linen as nn
import jax.numpy as jnp

from bigjax.models.text_cnn import WideConv1D, window_has_token
from bigjax.models.transformer import _layer_norm, _normal, _Transformer


class SentenceScorer(_Transformer):
  """``sentences [b, S, T] int32 -> logits [b, S] float32``; a sentence of only padding (0) gets a logit that
  nothing should read (its label is -1)."""

  vocab_size: int = 8000
  max_sentences: int = 64
  pad_id: int = 0

  @nn.compact
  def __call__(self, sentences: jnp.ndarray, *, train: bool = False) -> jnp.ndarray:
    chex.assert_rank(sentences, 3)
    b, s, t = sentences.shape
    if s > self.max_sentences:
      raise ValueError(f"{s} sentences exceed max_sentences={self.max_sentences}")
    real_piece = sentences != self.pad_id                      # [b, S, T]
    real_sentence = real_piece.any(axis=-1)                    # [b, S]
    x = nn.Embed(self.vocab_size, self.embed_dim, embedding_init=nn.initializers.normal(0.02), name="embed")(sentences)
    x = nn.Dropout(self.dropout, deterministic=not train)(jnp.where(real_piece[..., None], x, 0.0))
    x = WideConv1D(self.embed_dim, 3, name="conv")(x.reshape(b * s, t, -1))    # [b S, t + 2, embed]
    windows = window_has_token(real_piece.reshape(b * s, t), 3)
    x = jnp.where(windows[..., None], nn.relu(x), -jnp.inf).max(axis=1).reshape(b, s, -1)
    x = jnp.where(real_sentence[..., None], x, 0.0)            # [b, S, embed]
    wpe = self.param("wpe", _normal(0.02, ("pos", "embed")), (self.max_sentences, self.embed_dim), jnp.float32)
    x = nn.Dropout(self.dropout, deterministic=not train)(x + wpe[:s])
    x = self._blocks(x, real_sentence[:, None, None, :], causal=False, train=train)
    x = _layer_norm(self.use_bias, self.dtype, "ln_f")(x)
    return nn.Dense(1, name="head")(x)[..., 0].astype(jnp.float32)
