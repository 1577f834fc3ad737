"""Recommenders that score (user, item) pairs: NCF's GMF, MLP and NeuMF (He et al. 2017), matrix
factorisation (the dot-product baseline of Rendle et al. 2020), a content-based model and a hybrid NeuMF.

Every model maps ``users [...] int32, items [...] int32`` to logits of their broadcast shape: the score of
each pair, a probability of interaction through a sigmoid. User and item vectors are computed before they
are broadcast, so ``users [b, 1]`` against ``items [1, n]`` (full ranking) costs b + n lookups, not b * n.

Initialisation follows the NCF code: embeddings ``N(0, 0.01)``, hidden layers Glorot-uniform, the output
layer LeCun-uniform, biases 0. Embedding tables carry logical axis names (``users``/``items``
x ``factor``, ``features`` x ``factor``); ``config.sharding.logical_rules`` places them, by default rows
over ``fsdp``. Their rows are padded to a multiple of ``row_multiple`` so that any mesh axis up to that size
divides them; padding rows are never looked up and stay at their initial values.

Every id embedding a score reads sows its squared norm into the ``losses`` collection (``embedding_sq``): the
per-example L2 penalty of ``task.embedding_l2`` (tasks/recommendation.py) reads them, so only the rows of a
batch are regularised, as in Rendle et al. (2020)'s MF (the biases are not).

Parameter layout, so that NeuMF can start from trained GMF and MLP models (``neumf_from_pretrained``):
  GMF:   {"tower": {"user_embedding", "item_embedding"}, "predict": Dense(1)}
  MLP:   {"tower": {"user_embedding", "item_embedding", "hidden_0", ...}, "predict": Dense(1)}
  NeuMF: {"gmf": <GMF tower>, "mlp": <MLP tower>, "predict": Dense(1) over [gmf output, mlp output]}
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

EMBED_INIT = nn.initializers.normal(stddev=0.01)


def _rows(n: int, multiple: int) -> int:
  return -(-n // multiple) * multiple


def _check_sizes(module: nn.Module) -> None:
  if module.num_users <= 0 or module.num_items <= 0:
    raise ValueError(f"{type(module).__name__}: num_users={module.num_users}, num_items={module.num_items}; set them "
                     f"in the config or to 0 so the loop takes them from the data")


def _embedding(module: nn.Module, name: str, rows: int, dim: int, axis: str) -> jnp.ndarray:
  return module.param(name, nn.with_logical_partitioning(EMBED_INIT, (axis, "factor")),
                      (_rows(rows, module.row_multiple), dim))


def _lookup(module: nn.Module, name: str, rows: int, dim: int, axis: str, ids: jnp.ndarray) -> jnp.ndarray:
  """Rows ``ids`` of the embedding table ``name``; their squared norms are sown as ``("losses", "embedding_sq")``
  (``[...]`` per id) for the per-example L2 penalty of ``task.embedding_l2`` (recorded only when the caller makes
  the collection mutable, so scoring pays nothing for it)."""
  return _sow_norms(module, jnp.take(_embedding(module, name, rows, dim, axis), ids, axis=0))


def _sow_norms(module: nn.Module, vectors: jnp.ndarray) -> jnp.ndarray:
  """``vectors``, their squared norms sown as ``("losses", "embedding_sq")``."""
  module.sow("losses", "embedding_sq", jnp.sum(jnp.square(vectors.astype(jnp.float32)), axis=-1))
  return vectors


def bag(ids: jnp.ndarray, weights: jnp.ndarray, table: jnp.ndarray) -> jnp.ndarray:
  """``sum_j weights[..., j] * table[ids[..., j]]``: a sparse (TF-IDF) row times ``table``."""
  return jnp.einsum("...l,...ld->...d", weights, jnp.take(table, ids, axis=0))


def _feature_table(module: nn.Module, name: str, num_features: int, dim: int) -> jnp.ndarray:
  """A learned ``[features, dim]`` projection of TF-IDF rows (rows padded like the id tables)."""
  return module.param(name, nn.with_logical_partitioning(EMBED_INIT, ("features", "factor")),
                      (_rows(num_features, module.row_multiple), dim))


def _rows_of(bags, rows: jnp.ndarray, table: jnp.ndarray) -> jnp.ndarray:
  """``bags`` (a movielens.Bags) rows ``rows`` projected by ``table``."""
  return bag(jnp.asarray(bags.ids)[rows], jnp.asarray(bags.weights)[rows], table)


def _feature_side(module: nn.Module, name: str, items: jnp.ndarray, dim: int) -> jnp.ndarray:
  """Item features (``module.item_features``, TF-IDF bags) projected to ``dim``: ``tfidf(item) @ W``."""
  features = module.item_features
  if features is None:
    raise ValueError(f"{type(module).__name__} reads item features; set config.data.item_features=True")
  return _rows_of(features, items, _feature_table(module, name, features.num_features, dim))


class GMFTower(nn.Module):
  """Generalised matrix factorisation: ``p_u * q_i`` (element-wise), ``[..., factors]``."""
  num_users: int
  num_items: int
  factors: int = 8
  row_multiple: int = 128

  @nn.compact
  def __call__(self, users, items, item_side=None):
    p = _lookup(self, "user_embedding", self.num_users, self.factors, "users", users)
    q = _lookup(self, "item_embedding", self.num_items, self.factors, "items", items)
    return p * (q if item_side is None else q + item_side)


class MLPTower(nn.Module):
  """``[p_u, q_i]`` through ReLU layers ``layers[1:]``; ``layers[0]`` is the concatenation's width, so each
  embedding is ``layers[0] / 2`` wide (NCF's ``--layers [64,32,16,8]``: 32 + 32 -> 32 -> 16 -> 8).
  ``dropout`` (not in NCF; default 0) drops each hidden unit with that probability while training."""
  num_users: int
  num_items: int
  layers: tuple[int, ...] = (64, 32, 16, 8)
  row_multiple: int = 128
  dropout: float = 0.0

  @nn.compact
  def __call__(self, users, items, item_side=None, train: bool = False):
    if len(self.layers) < 2 or self.layers[0] % 2:
      raise ValueError(f"MLP layers={self.layers}: need an even input width and at least one hidden layer")
    if not 0.0 <= self.dropout < 1.0:
      raise ValueError(f"model.dropout={self.dropout}: the probability of dropping a hidden unit is in [0, 1)")
    drop = nn.Dropout(self.dropout, deterministic=not train)
    dim = self.layers[0] // 2
    p = _lookup(self, "user_embedding", self.num_users, dim, "users", users)
    q = _lookup(self, "item_embedding", self.num_items, dim, "items", items)
    x = drop(nn.relu(_ConcatDense(self.layers[1], name="hidden_0")(p, q if item_side is None else q + item_side)))
    for i, width in enumerate(self.layers[2:], start=1):
      x = drop(nn.relu(nn.Dense(width, kernel_init=nn.initializers.xavier_uniform(), name=f"hidden_{i}")(x)))
    return x


class _ConcatDense(nn.Module):
  """``Dense(concat([a, b]))`` with Dense's parameters, computed as ``a @ K[:d] + b @ K[d:] + bias`` so that
  ``a`` and ``b`` broadcast (one user against every item) without materialising their concatenation."""
  features: int

  @nn.compact
  def __call__(self, a, b):
    kernel = self.param("kernel", nn.initializers.xavier_uniform(), (a.shape[-1] + b.shape[-1], self.features))
    bias = self.param("bias", nn.initializers.zeros, (self.features,))
    return a @ kernel[:a.shape[-1]] + b @ kernel[a.shape[-1]:] + bias


def _predict(x: jnp.ndarray) -> jnp.ndarray:
  return nn.Dense(1, kernel_init=nn.initializers.lecun_uniform(), name="predict")(x)[..., 0]


class GMF(nn.Module):
  num_users: int = 0
  num_items: int = 0
  factors: int = 8
  row_multiple: int = 128

  @nn.compact
  def __call__(self, users, items, train: bool = False):
    _check_sizes(self)
    tower = GMFTower(self.num_users, self.num_items, self.factors, self.row_multiple, name="tower")
    return _predict(tower(users, items))


def tower_layers(factors: int, layers: tuple[int, ...]) -> tuple[int, ...]:
  """``layers``, or NCF's tower for ``factors`` predictive factors: ``(8f, 4f, 2f, f)`` (f=8: 64-32-16-8)."""
  return tuple(layers) or (8 * factors, 4 * factors, 2 * factors, factors)


class MLP(nn.Module):
  """NCF's MLP: ``factors`` predictive factors (the last layer's width); ``layers`` overrides the tower;
  ``dropout`` on its hidden units while training (default 0, as NCF)."""
  num_users: int = 0
  num_items: int = 0
  factors: int = 8
  layers: tuple[int, ...] = ()
  row_multiple: int = 128
  dropout: float = 0.0

  @nn.compact
  def __call__(self, users, items, train: bool = False):
    _check_sizes(self)
    tower = MLPTower(self.num_users, self.num_items, tower_layers(self.factors, self.layers), self.row_multiple,
                     self.dropout, name="tower")
    return _predict(tower(users, items, train=train))


class NeuMF(nn.Module):
  """GMF and MLP with separate embeddings, joined by one output layer over ``[gmf(u, i), mlp(u, i)]``; both
  parts have ``factors`` predictive factors (GMF that wide, the MLP tower ``(8f, 4f, 2f, f)`` unless
  ``layers`` says otherwise); ``dropout`` on the MLP part's hidden units while training (default 0, as NCF)."""
  num_users: int = 0
  num_items: int = 0
  factors: int = 8
  layers: tuple[int, ...] = ()
  row_multiple: int = 128
  dropout: float = 0.0

  def towers(self, users, items, gmf_side=None, mlp_side=None, train: bool = False):
    gmf = GMFTower(self.num_users, self.num_items, self.factors, self.row_multiple, name="gmf")
    mlp = MLPTower(self.num_users, self.num_items, tower_layers(self.factors, self.layers), self.row_multiple,
                   self.dropout, name="mlp")
    return jnp.concatenate([gmf(users, items, gmf_side), mlp(users, items, mlp_side, train=train)], axis=-1)

  @nn.compact
  def __call__(self, users, items, train: bool = False):
    _check_sizes(self)
    return _predict(self.towers(users, items, train=train))


class HybridNeuMF(NeuMF):
  """NeuMF whose item vectors (in both parts) are the item's id embedding plus its TF-IDF features
  (title words, year, genres) projected by a learned matrix, so items with few interactions borrow from
  similar content."""
  item_features: Any = None   # movielens.Bags, from the data (config.data.item_features=True)

  @nn.compact
  def __call__(self, users, items, train: bool = False):
    _check_sizes(self)
    gmf_side = _feature_side(self, "gmf_feature_embedding", items, self.factors)
    mlp_side = _feature_side(self, "mlp_feature_embedding", items, tower_layers(self.factors, self.layers)[0] // 2)
    return _predict(self.towers(users, items, gmf_side, mlp_side, train=train))


class MF(nn.Module):
  """``<p_u, q_i> + b_u + b_i + b``: matrix factorisation with biases (Rendle et al. 2020's baseline)."""
  num_users: int = 0
  num_items: int = 0
  factors: int = 64
  row_multiple: int = 128

  def setup(self):
    _check_sizes(self)
    self.user_embedding = _embedding(self, "user_embedding", self.num_users, self.factors, "users")
    self.item_embedding = _embedding(self, "item_embedding", self.num_items, self.factors, "items")
    self.user_bias = _embedding(self, "user_bias", self.num_users, 1, "users")
    self.item_bias = _embedding(self, "item_bias", self.num_items, 1, "items")
    self.bias = self.param("bias", nn.initializers.zeros, ())

  def __call__(self, users, items, train: bool = False):
    p = _sow_norms(self, jnp.take(self.user_embedding, users, axis=0))
    q = _sow_norms(self, jnp.take(self.item_embedding, items, axis=0))
    b_u = jnp.take(self.user_bias[:, 0], users, axis=0)
    b_i = jnp.take(self.item_bias[:, 0], items, axis=0)
    return (p * q).sum(-1) + b_u + b_i + self.bias

  def all_items(self, users):
    """``[b, num_items]``: every item's score for each user as one matmul; equals ``self(users[:, None],
    arange(num_items)[None])`` (tests/test_recommendation.py). The full-softmax loss uses it."""
    p = jnp.take(self.user_embedding, users, axis=0)
    b_u = jnp.take(self.user_bias[:, 0], users, axis=0)
    q, b_i = self.item_embedding[:self.num_items], self.item_bias[:self.num_items, 0]
    return p @ q.T + b_u[:, None] + b_i[None, :] + self.bias


class Content(nn.Module):
  """Content-based filtering: a user is the TF-IDF profile of the items they trained on, an item its own
  TF-IDF row (``data/movielens.content_features``); the score is ``<profile_u W, tfidf_i W> + b`` with a
  learned projection ``W``: a metric on content only, with no user or item ids."""
  num_users: int = 0
  num_items: int = 0
  factors: int = 64
  row_multiple: int = 128
  item_features: Any = None   # movielens.Bags, from the data
  user_profiles: Any = None   # movielens.Bags, from the data

  @nn.compact
  def __call__(self, users, items, train: bool = False):
    _check_sizes(self)
    if self.item_features is None or self.user_profiles is None:
      raise ValueError("Content needs item features and user profiles; set config.data.item_features=True")
    table = _feature_table(self, "feature_embedding", self.item_features.num_features, self.factors)
    profile, item = _rows_of(self.user_profiles, users, table), _rows_of(self.item_features, items, table)
    return (profile * item).sum(-1) + self.param("bias", nn.initializers.zeros, ())


def neumf_from_pretrained(neumf_params: Any, gmf_params: Any, mlp_params: Any, alpha: float = 0.5) -> Any:
  """NeuMF's parameters from trained GMF and MLP (He et al. 2017, Sec. 3.4.1): both towers copied, the output
  layer ``[alpha * h_gmf, (1 - alpha) * h_mlp]`` with bias ``alpha * b_gmf + (1 - alpha) * b_mlp``, so that
  NeuMF's logit starts as ``alpha * gmf_logit + (1 - alpha) * mlp_logit``."""
  def same_shapes(a, b, what):
    sa, sb = jax.tree.map(jnp.shape, a), jax.tree.map(jnp.shape, b)
    if sa != sb:
      raise ValueError(f"the pre-trained {what} does not fit NeuMF's {what} part: {sb} vs {sa}")
  same_shapes(neumf_params["gmf"], gmf_params["tower"], "GMF")
  same_shapes(neumf_params["mlp"], mlp_params["tower"], "MLP")
  kernel = jnp.concatenate([alpha * gmf_params["predict"]["kernel"], (1 - alpha) * mlp_params["predict"]["kernel"]])
  bias = alpha * gmf_params["predict"]["bias"] + (1 - alpha) * mlp_params["predict"]["bias"]
  if kernel.shape != neumf_params["predict"]["kernel"].shape:
    raise ValueError(f"pre-trained output layers give a kernel {kernel.shape}, NeuMF has "
                     f"{neumf_params['predict']['kernel'].shape}")
  return {**neumf_params, "gmf": gmf_params["tower"], "mlp": mlp_params["tower"],
          "predict": {"kernel": kernel, "bias": bias}}
