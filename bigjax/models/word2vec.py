"""Word vectors' tables: Word2Vec (Mikolov et al. 2013) and GloVe (Pennington et al. 2014).

Both are lookup tables only; what trains them (windows, negatives, co-occurrences, the sparse updates) is
``bigjax/tasks/word2vec.py`` and ``bigjax/tasks/glove.py``. Rows are word ids: 0 is the sentence end (never
trained), words 1..V by count (``bigjax/data/word_corpus.py``). Tables carry the logical axes
``("words", "embed")``; ``config.sharding.logical_rules`` places them (the embedding dimension over ``fsdp``
by default, as every large table).
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp


def _table(module: nn.Module, name: str, init: Any) -> jnp.ndarray:
  if module.num_ids < 2 or module.features < 1:
    raise ValueError(f"{type(module).__name__}: num_ids={module.num_ids}, features={module.features}; set "
                     f"config.model.num_ids to 0 so the loop takes it from the corpus")
  return module.param(name, nn.with_logical_partitioning(init, ("words", "embed")), (module.num_ids, module.features))


def _centred_uniform(key, shape, dtype=jnp.float32):
  """The C tool's initial word vectors: uniform in [-0.5, 0.5) / dim."""
  return (jax.random.uniform(key, shape, dtype) - 0.5) / shape[-1]


class Word2Vec(nn.Module):
  """``input`` (the word vectors, ``syn0``) and ``output`` (``syn1neg``: the vectors words are predicted with,
  zeros at the start), both ``[num_ids, features]``. ``word_counts`` (float32 ``[num_ids]``, from the data)
  drive subsampling and the negatives. Called on ids ``[...]`` it returns their word vectors ``[..., features]``."""
  num_ids: int = 0
  features: int = 100
  word_counts: Any = None

  def setup(self):
    self.input = _table(self, "input", _centred_uniform)
    self.output = _table(self, "output", nn.initializers.zeros)

  def __call__(self, ids: jnp.ndarray) -> jnp.ndarray:
    return self.input[ids]


class GloVe(nn.Module):
  """``input`` and ``context`` vectors (W and W~) ``[num_ids, features]`` with their biases ``[num_ids]``,
  initialised uniform in [-0.5, 0.5) / features as the GloVe tool does. Called on ids it returns W + W~, the
  vectors GloVe publishes."""
  num_ids: int = 0
  features: int = 100

  def setup(self):
    self.input = _table(self, "input", _centred_uniform)
    self.context = _table(self, "context", _centred_uniform)
    rows = lambda name: self.param(name, nn.with_logical_partitioning(
        lambda key, shape: (jax.random.uniform(key, shape) - 0.5) / self.features, ("words",)), (self.num_ids,))
    self.input_bias, self.context_bias = rows("input_bias"), rows("context_bias")

  def __call__(self, ids: jnp.ndarray) -> jnp.ndarray:
    return self.input[ids] + self.context[ids]
