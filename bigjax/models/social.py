"""Rating predictors, without and with trust: biased MF, SVD++, SoRec, SocialMF, TrustSVD and a graph model.

Every model maps ``users [b], items [b]`` (int32) to predicted ratings ``[b]`` on the data's scale
(``__call__``), and gives its training objective as ``objective(users, items, ratings) -> (per_rating [b],
whole, predicted [b])``: the paper's objective is ``sum over the training ratings of per_rating + whole``, where ``whole`` holds
the terms over whole tables and the trust graph (regularisers weighted by counts, social terms over every link or
user). ``tasks/rating.py`` trains on ``mean_b per_rating + whole / N`` (N training ratings): a minibatch gradient
that is unbiased for the objective divided by N, with the trust terms computed exactly at every step;
``predicted`` is ``__call__``'s, from the same forward pass (the whole-graph sums are not computed twice).

  BiasedMF   r = mu + b_u + b_i + p_u.q_i; per rating 1/2 e^2 + lambda/2 (b_u^2 + b_i^2 + |p_u|^2 + |q_i|^2)
             (Koren et al. 2009).
  SVDpp      p_u + |I_u|^-1/2 sum_{j in I_u} y_j in place of p_u; the per-rating regulariser adds
             sum_{j in I_u} |y_j|^2 (Koren 2008, Eq. 15-16).
  SoRec      r = lo + (hi - lo) g(u_i.v_j) with g the logistic function, fitted to ratings mapped to [0, 1];
             whole: lambda_c/2 sum_links (c*_ik - g(u_i.z_k))^2 with c*_ik = sqrt(d-(k) / (d+(i) + d-(k))) (out-
             and in-degrees), plus lambda/2 (|U|^2 + |V|^2 + |Z|^2) (Ma et al. 2008).
  SocialMF   SoRec's logistic prediction and tables U, V; whole: lambda/2 (|U|^2 + |V|^2) + lambda_t/2 sum over
             users who trust someone |u_u - mean_{v in T_u} u_v|^2 (Jamali & Ester 2010, rows of T normalised).
  TrustSVD   r = mu + b_u + b_j + q_j.(p_u + |I_u|^-1/2 sum_{i in I_u} y_i + |T_u|^-1/2 sum_{v in T_u} w_v);
             whole: lambda_t/2 sum_links (w_v.p_u - 1)^2 and the count-weighted regularisers of Guo et al. (2015):
             lambda/2 |I_u|^-1/2 b_u^2, lambda/2 |U_j|^-1/2 b_j^2, (lambda/2 |I_u|^-1/2 + lambda_t/2 |T_u|^-1/2)
             |p_u|^2, lambda/2 |U_j|^-1/2 |q_j|^2, lambda/2 |U_i|^-1/2 |y_i|^2, lambda/2 |T_v+|^-1/2 |w_v|^2
             (a weight is 0 where its count is).
  SocialGCN  LightGCN's propagation (He et al. 2020) over the joint graph of users and items: rating edges
             user-item and (``trust_edges``) trust edges user-user, symmetric, normalised D^-1/2 A D^-1/2;
             ``layers`` propagations averaged with the input embeddings; r = mu + b_u + b_i + e_u.e_i; per
             rating 1/2 e^2 + lambda/2 (|e0_u|^2 + |e0_i|^2 + b_u^2 + b_i^2). Without trust edges it is the
             non-social graph baseline.

``mu`` (``global_mean``), ``num_ratings``, the rating scale (``rating_min``/``rating_max``), the sizes, the training ratings'
relation ``rated`` (users x items) and the trust relations ``trust`` (trustor x trustee) and ``friends`` (its
symmetric closure) come from the data (``bigjax/data/social.py``; the relations are ``data.relations.Relation``,
handed to the compiled steps as arguments). Tables are ``N(0, init_std)``, biases 0; tables carry the logical axes
``users``/``items`` x ``factor`` (rows over ``fsdp`` by default), rows padded to a multiple of ``row_multiple``.
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

MODELS = ("BiasedMF", "SVDpp", "SoRec", "SocialMF", "TrustSVD", "SocialGCN")


def aggregate(relation: Any, table: jnp.ndarray, edge_weights: jnp.ndarray | None = None) -> jnp.ndarray:
  """``[relation.num_rows, d]``: row r is ``sum over edges (r, c) of edge_weight * table[c]``."""
  gathered = jnp.take(table, relation.cols, axis=0)
  if edge_weights is not None:
    gathered = gathered * edge_weights[:, None]
  return jax.ops.segment_sum(gathered, relation.rows, num_segments=relation.num_rows, indices_are_sorted=True)


def inverse_sqrt(counts: jnp.ndarray) -> jnp.ndarray:
  """``counts^-1/2``, 0 where a count is 0."""
  return jnp.where(counts > 0, jax.lax.rsqrt(jnp.maximum(counts, 1.0)), 0.0)


class _Rater(nn.Module):
  """Fields every model shares; not a model itself."""
  num_users: int = 0
  num_items: int = 0
  factors: int = 10
  reg: float = 0.1                # lambda
  trust_reg: float = 1.0          # lambda_t (SocialMF, TrustSVD) or lambda_c (SoRec)
  init_std: float = 0.1
  row_multiple: int = 128
  num_ratings: int = 0            # training ratings N: the task divides ``whole`` by it
  global_mean: float | None = None
  rating_min: float | None = None
  rating_max: float | None = None
  rated: Any = None               # data.relations.Relation users x items: the training ratings
  trust: Any = None               # Relation users x users: trustor -> trustee
  friends: Any = None             # Relation users x users: trust in either direction

  def _check(self, *needs: str) -> None:
    if self.num_users <= 0 or self.num_items <= 0:
      raise ValueError(f"{type(self).__name__}: num_users={self.num_users}, num_items={self.num_items}; set them "
                       f"or leave them 0 so the loop takes the data's")
    for field in ("global_mean", "rating_min", "rating_max", *needs):
      if getattr(self, field) is None:
        raise ValueError(f"{type(self).__name__} reads {field} from the data (bigjax/data/social.py); it is None")

  def _table(self, name: str, rows: int, axis: str) -> jnp.ndarray:
    padded = -(-rows // self.row_multiple) * self.row_multiple
    table = self.param(name, nn.with_logical_partitioning(nn.initializers.normal(self.init_std), (axis, "factor")),
                       (padded, self.factors))
    return table[:rows]

  def _bias(self, name: str, rows: int, axis: str) -> jnp.ndarray:
    padded = -(-rows // self.row_multiple) * self.row_multiple
    return self.param(name, nn.with_logical_partitioning(nn.initializers.zeros_init(), (axis,)), (padded,))[:rows]

  def _logistic(self, x: jnp.ndarray) -> jnp.ndarray:
    return self.rating_min + (self.rating_max - self.rating_min) * jax.nn.sigmoid(x)

  def _unit(self, ratings: jnp.ndarray) -> jnp.ndarray:
    return (ratings - self.rating_min) / (self.rating_max - self.rating_min)


def _sq(x: jnp.ndarray) -> jnp.ndarray:
  return jnp.sum(jnp.square(x), axis=-1)


class BiasedMF(_Rater):
  """``mu + b_u + b_i + p_u.q_i``."""

  def setup(self):
    self._check()
    self.p = self._table("user_factors", self.num_users, "users")
    self.q = self._table("item_factors", self.num_items, "items")
    self.bu = self._bias("user_bias", self.num_users, "users")
    self.bi = self._bias("item_bias", self.num_items, "items")

  def _user(self, users: jnp.ndarray) -> jnp.ndarray:
    return self.p[users]

  def __call__(self, users: jnp.ndarray, items: jnp.ndarray) -> jnp.ndarray:
    return self.global_mean + self.bu[users] + self.bi[items] + jnp.sum(self._user(users) * self.q[items], -1)

  def _penalty(self, users: jnp.ndarray, items: jnp.ndarray) -> jnp.ndarray:
    return (jnp.square(self.bu[users]) + jnp.square(self.bi[items]) + _sq(self.p[users]) + _sq(self.q[items]))

  def objective(self, users, items, ratings):
    predicted = self(users, items)
    error = predicted - ratings
    return (0.5 * jnp.square(error) + 0.5 * self.reg * self._penalty(users, items), jnp.zeros((), jnp.float32),
            predicted)


class SVDpp(BiasedMF):
  """Biased MF whose user is also the items they rated: ``p_u + |I_u|^-1/2 sum_{j in I_u} y_j``."""

  def setup(self):
    super().setup()
    self._check("rated")
    self.y = self._table("implicit_factors", self.num_items, "items")

  def _user(self, users):
    implicit = aggregate(self.rated, self.y) * inverse_sqrt(self.rated.row_counts)[:, None]
    return self.p[users] + implicit[users]

  def _penalty(self, users, items):
    y_sq = jax.ops.segment_sum(_sq(self.y)[self.rated.cols], self.rated.rows, num_segments=self.num_users,
                               indices_are_sorted=True)
    return super()._penalty(users, items) + y_sq[users]


class TrustSVD(_Rater):
  """SVD++ with the trusted users' vectors in the user model and trust links fitted by ``w_v.p_u``.

  ``regularisation``: "paper" is the objective as the paper writes it (each regulariser once per user, item or
  link, module docstring); "per_rating" is what stochastic gradient descent over the ratings does when every
  update applies the paper's per-entity gradient terms (as LibRec's TrustSVD, whose runs the paper reports):
  each rating (u, j) carries lambda/2 (|I_u|^-1/2 (b_u^2 + |p_u|^2) + |U_j|^-1/2 (b_j^2 + |q_j|^2) +
  sum_{i in I_u} |U_i|^-1/2 |y_i|^2 + sum_{v in T_u} |T_v+|^-1/2 |w_v|^2), and each trust link (u, v)
  lambda_t/2 ((w_v.p_u - 1)^2 + |T_u|^-1/2 |p_u|^2): a user's or item's penalty grows with its ratings.
  """

  regularisation: str = "paper"

  def setup(self):
    self._check("rated", "trust")
    self.p = self._table("user_factors", self.num_users, "users")
    self.q = self._table("item_factors", self.num_items, "items")
    self.y = self._table("implicit_factors", self.num_items, "items")
    self.w = self._table("trust_factors", self.num_users, "users")
    self.bu = self._bias("user_bias", self.num_users, "users")
    self.bi = self._bias("item_bias", self.num_items, "items")

  def __call__(self, users, items):
    rated, trust = self.rated, self.trust
    user = (self.p + aggregate(rated, self.y) * inverse_sqrt(rated.row_counts)[:, None]
            + aggregate(trust, self.w) * inverse_sqrt(trust.row_counts)[:, None])
    return self.global_mean + self.bu[users] + self.bi[items] + jnp.sum(user[users] * self.q[items], -1)

  def objective(self, users, items, ratings):
    rated, trust, lam, lam_t = self.rated, self.trust, self.reg, self.trust_reg
    predicted = self(users, items)
    error = predicted - ratings
    fit = jnp.sum(self.p[trust.rows] * self.w[trust.cols], -1)
    ratings_u, raters_j = inverse_sqrt(rated.row_counts), inverse_sqrt(rated.col_counts)
    if self.regularisation == "per_rating":
      implicit_sq = jax.ops.segment_sum((raters_j * _sq(self.y))[rated.cols], rated.rows, num_segments=self.num_users,
                                        indices_are_sorted=True)
      trusted_sq = jax.ops.segment_sum((inverse_sqrt(trust.col_counts) * _sq(self.w))[trust.cols], trust.rows,
                                       num_segments=self.num_users, indices_are_sorted=True)
      penalty = (ratings_u[users] * (jnp.square(self.bu[users]) + _sq(self.p[users]))
                 + raters_j[items] * (jnp.square(self.bi[items]) + _sq(self.q[items]))
                 + implicit_sq[users] + trusted_sq[users])
      whole = 0.5 * lam_t * jnp.sum(jnp.square(fit - 1.0) + inverse_sqrt(trust.row_counts)[trust.rows]
                                    * _sq(self.p[trust.rows]))
      return 0.5 * jnp.square(error) + 0.5 * lam * penalty, whole, predicted
    if self.regularisation != "paper":
      raise ValueError(f"TrustSVD: regularisation={self.regularisation!r}; choose 'paper' or 'per_rating'")
    whole = (0.5 * lam_t * jnp.sum(jnp.square(fit - 1.0))
             + 0.5 * lam * jnp.sum(ratings_u * jnp.square(self.bu)) + 0.5 * lam * jnp.sum(raters_j * jnp.square(self.bi))
             + jnp.sum((0.5 * lam * ratings_u + 0.5 * lam_t * inverse_sqrt(trust.row_counts)) * _sq(self.p))
             + 0.5 * lam * jnp.sum(raters_j * _sq(self.q)) + 0.5 * lam * jnp.sum(raters_j * _sq(self.y))
             + 0.5 * lam * jnp.sum(inverse_sqrt(trust.col_counts) * _sq(self.w)))
    return 0.5 * jnp.square(error), whole, predicted


class SoRec(_Rater):
  """Ratings and trust factorised together through shared user factors (logistic predictions)."""

  def setup(self):
    self._check("trust")
    self.u = self._table("user_factors", self.num_users, "users")
    self.v = self._table("item_factors", self.num_items, "items")
    self.z = self._table("social_factors", self.num_users, "users")

  def __call__(self, users, items):
    return self._logistic(jnp.sum(self.u[users] * self.v[items], -1))

  def objective(self, users, items, ratings):
    trust = self.trust
    logit = jnp.sum(self.u[users] * self.v[items], -1)
    error = jax.nn.sigmoid(logit) - self._unit(ratings)
    out_degree, in_degree = trust.row_counts[trust.rows], trust.col_counts[trust.cols]
    target = jnp.sqrt(in_degree / (out_degree + in_degree))
    fit = jax.nn.sigmoid(jnp.sum(self.u[trust.rows] * self.z[trust.cols], -1))
    whole = (0.5 * self.trust_reg * jnp.sum(jnp.square(target - fit))
             + 0.5 * self.reg * (jnp.sum(jnp.square(self.u)) + jnp.sum(jnp.square(self.v)) + jnp.sum(jnp.square(self.z))))
    return 0.5 * jnp.square(error), whole, self._logistic(logit)


class SocialMF(_Rater):
  """Logistic MF whose user factors are drawn towards the mean of their trustees'."""

  def setup(self):
    self._check("trust")
    self.u = self._table("user_factors", self.num_users, "users")
    self.v = self._table("item_factors", self.num_items, "items")

  def __call__(self, users, items):
    return self._logistic(jnp.sum(self.u[users] * self.v[items], -1))

  def objective(self, users, items, ratings):
    trust = self.trust
    logit = jnp.sum(self.u[users] * self.v[items], -1)
    error = jax.nn.sigmoid(logit) - self._unit(ratings)
    trusting = trust.row_counts > 0
    neighbours = aggregate(trust, self.u) / jnp.maximum(trust.row_counts, 1.0)[:, None]
    whole = (0.5 * self.reg * (jnp.sum(jnp.square(self.u)) + jnp.sum(jnp.square(self.v)))
             + 0.5 * self.trust_reg * jnp.sum(jnp.where(trusting, _sq(self.u - neighbours), 0.0)))
    return 0.5 * jnp.square(error), whole, self._logistic(logit)


class SocialGCN(_Rater):
  """Embeddings propagated over the joint user-item(-user) graph, averaged over layers, with biases."""

  layers: int = 2
  trust_edges: bool = True

  def setup(self):
    self._check("rated", *(("friends",) if self.trust_edges else ()))
    self.e_users = self._table("user_factors", self.num_users, "users")
    self.e_items = self._table("item_factors", self.num_items, "items")
    self.bu = self._bias("user_bias", self.num_users, "users")
    self.bi = self._bias("item_bias", self.num_items, "items")

  def propagate(self) -> tuple[jnp.ndarray, jnp.ndarray]:
    """The layer-averaged user ``[U, d]`` and item ``[I, d]`` embeddings."""
    rated, friends = self.rated, self.friends
    user_degree = rated.row_counts + (friends.row_counts if self.trust_edges else 0.0)
    scale_u, scale_i = inverse_sqrt(user_degree), inverse_sqrt(rated.col_counts)
    rating_weight = scale_u[rated.rows] * scale_i[rated.cols]
    users, items = self.e_users, self.e_items
    sum_users, sum_items = users, items
    for _ in range(self.layers):
      new_users = aggregate(rated, items, rating_weight)
      if self.trust_edges:
        new_users = new_users + aggregate(friends, users, scale_u[friends.rows] * scale_u[friends.cols])
      new_items = jax.ops.segment_sum(users[rated.rows] * rating_weight[:, None], rated.cols,
                                      num_segments=self.num_items)
      users, items = new_users, new_items
      sum_users, sum_items = sum_users + users, sum_items + items
    return sum_users / (self.layers + 1), sum_items / (self.layers + 1)

  def __call__(self, users, items):
    e_users, e_items = self.propagate()
    return self.global_mean + self.bu[users] + self.bi[items] + jnp.sum(e_users[users] * e_items[items], -1)

  def objective(self, users, items, ratings):
    predicted = self(users, items)
    error = predicted - ratings
    penalty = (_sq(self.e_users[users]) + _sq(self.e_items[items]) + jnp.square(self.bu[users])
               + jnp.square(self.bi[items]))
    return 0.5 * jnp.square(error) + 0.5 * self.reg * penalty, jnp.zeros((), jnp.float32), predicted
