"""The trust-aware rating models against NumPy float64 on a tiny graph: predictions, objectives and their gradients
(central finite differences of the float64 objective, written from the papers' formulas independently of the
models), the graph model's propagation against the dense normalised adjacency, and the task's minibatch loss."""

import collections

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from bigjax.data.relations import relation
from bigjax.models import social
from bigjax.tasks import rating as rating_task

U, I, D = 5, 6, 3
RATINGS = [(0, 0, 4.0), (0, 2, 2.0), (1, 0, 5.0), (1, 3, 1.0), (2, 4, 3.0), (3, 1, 4.5), (3, 2, 1.5), (0, 5, 3.0)]
LINKS = [(0, 1), (0, 3), (1, 0), (2, 0), (3, 4)]  # user 4 trusts no one and never rates; 2 is trusted by none
LO, HI, MU = 1.0, 5.0, 3.0


def build(name, **fields):
  users, items = np.array([r[0] for r in RATINGS]), np.array([r[1] for r in RATINGS])
  trustors, trustees = np.array([l[0] for l in LINKS]), np.array([l[1] for l in LINKS])
  model = getattr(social, name)(
      num_users=U, num_items=I, factors=D, reg=0.3, trust_reg=0.7, row_multiple=1, num_ratings=len(RATINGS),
      global_mean=MU, rating_min=LO, rating_max=HI, rated=relation(users, items, U, I),
      trust=relation(trustors, trustees, U, U),
      friends=relation(np.concatenate([trustors, trustees]), np.concatenate([trustees, trustors]), U, U), **fields)
  params = nn.meta.unbox(model.init(jax.random.key(0), jnp.asarray(users), jnp.asarray(items))["params"])
  rng = np.random.default_rng(1)  # not the init's small values: every term matters
  params = jax.tree.map(lambda p: jnp.asarray(rng.normal(0, 0.5, p.shape), jnp.float32), params)
  return model, params


def batch():
  return (jnp.array([r[0] for r in RATINGS]), jnp.array([r[1] for r in RATINGS]),
          jnp.array([r[2] for r in RATINGS], jnp.float32))


def inv_sqrt(n):
  return n ** -0.5 if n else 0.0


def sigmoid(x):
  return 1.0 / (1.0 + np.exp(-x))


# ---------------------------------------------------------------------------------- float64 references

def neighbourhoods():
  """The tiny graph's I_u (items a user rated), U_j (an item's raters), T_u (trustees) and T_v+ (trusters)."""
  rated, raters, trusts, trusters = (collections.defaultdict(list) for _ in range(4))
  for u, i, _ in RATINGS:
    rated[u].append(i)
    raters[i].append(u)
  for u, v in LINKS:
    trusts[u].append(v)
    trusters[v].append(u)
  return rated, raters, trusts, trusters


def trustsvd_reference(p):
  P, Q, Y, W = (p[k] for k in ("user_factors", "item_factors", "implicit_factors", "trust_factors"))
  bu, bi, lam, lam_t = p["user_bias"], p["item_bias"], 0.3, 0.7
  rated, raters, trusts, trusters = neighbourhoods()

  def predict(u, j):
    user = P[u] + inv_sqrt(len(rated[u])) * sum((Y[i] for i in rated[u]), np.zeros(D)) \
        + inv_sqrt(len(trusts[u])) * sum((W[v] for v in trusts[u]), np.zeros(D))
    return MU + bu[u] + bi[j] + Q[j] @ user

  total = 0.5 * sum((predict(u, i) - r) ** 2 for u, i, r in RATINGS)
  total += lam_t / 2 * sum((W[v] @ P[u] - 1.0) ** 2 for u, v in LINKS)
  total += sum(lam / 2 * inv_sqrt(len(rated[u])) * bu[u] ** 2 for u in range(U))
  total += sum(lam / 2 * inv_sqrt(len(raters[j])) * bi[j] ** 2 for j in range(I))
  total += sum((lam / 2 * inv_sqrt(len(rated[u])) + lam_t / 2 * inv_sqrt(len(trusts[u]))) * P[u] @ P[u]
               for u in range(U))
  total += sum(lam / 2 * inv_sqrt(len(raters[j])) * (Q[j] @ Q[j] + Y[j] @ Y[j]) for j in range(I))
  total += sum(lam / 2 * inv_sqrt(len(trusters[v])) * W[v] @ W[v] for v in range(U))
  return total, [predict(u, i) for u, i, _ in RATINGS]


def socialmf_reference(p):
  Uf, V, lam, lam_t = p["user_factors"], p["item_factors"], 0.3, 0.7
  trusts = collections.defaultdict(list)
  for u, v in LINKS:
    trusts[u].append(v)
  total = 0.5 * sum((sigmoid(Uf[u] @ V[i]) - (r - LO) / (HI - LO)) ** 2 for u, i, r in RATINGS)
  total += lam / 2 * ((Uf ** 2).sum() + (V ** 2).sum())
  for u in range(U):
    if trusts[u]:
      gap = Uf[u] - np.mean([Uf[v] for v in trusts[u]], axis=0)
      total += lam_t / 2 * gap @ gap
  return total, [LO + (HI - LO) * sigmoid(Uf[u] @ V[i]) for u, i, _ in RATINGS]


def sorec_reference(p):
  Uf, V, Z, lam, lam_c = p["user_factors"], p["item_factors"], p["social_factors"], 0.3, 0.7
  out_degree = collections.Counter(u for u, _ in LINKS)
  in_degree = collections.Counter(v for _, v in LINKS)
  total = 0.5 * sum((sigmoid(Uf[u] @ V[i]) - (r - LO) / (HI - LO)) ** 2 for u, i, r in RATINGS)
  total += lam_c / 2 * sum((np.sqrt(in_degree[k] / (out_degree[i] + in_degree[k])) - sigmoid(Uf[i] @ Z[k])) ** 2
                           for i, k in LINKS)
  total += lam / 2 * ((Uf ** 2).sum() + (V ** 2).sum() + (Z ** 2).sum())
  return total, [LO + (HI - LO) * sigmoid(Uf[u] @ V[i]) for u, i, _ in RATINGS]


def svdpp_reference(p):
  P, Q, Y, bu, bi = (p[k] for k in ("user_factors", "item_factors", "implicit_factors", "user_bias", "item_bias"))
  lam = 0.3
  rated = collections.defaultdict(list)
  for u, i, _ in RATINGS:
    rated[u].append(i)
  predictions, total = [], 0.0
  for u, i, r in RATINGS:
    user = P[u] + inv_sqrt(len(rated[u])) * sum(Y[j] for j in rated[u])
    predictions.append(MU + bu[u] + bi[i] + Q[i] @ user)
    regular = bu[u] ** 2 + bi[i] ** 2 + Q[i] @ Q[i] + P[u] @ P[u] + sum(Y[j] @ Y[j] for j in rated[u])
    total += 0.5 * (predictions[-1] - r) ** 2 + lam / 2 * regular
  return total, predictions


def trustsvd_per_rating_reference(p):
  """LibRec-style: every rating carries its entities' count-weighted penalties, every link its own."""
  P, Q, Y, W = (p[k] for k in ("user_factors", "item_factors", "implicit_factors", "trust_factors"))
  bu, bi, lam, lam_t = p["user_bias"], p["item_bias"], 0.3, 0.7
  rated, raters, trusts, trusters = neighbourhoods()
  _, predictions = trustsvd_reference(p)
  total = 0.0
  for (u, j, r), predicted in zip(RATINGS, predictions):
    total += 0.5 * (predicted - r) ** 2
    total += lam / 2 * (inv_sqrt(len(rated[u])) * (bu[u] ** 2 + P[u] @ P[u])
                        + inv_sqrt(len(raters[j])) * (bi[j] ** 2 + Q[j] @ Q[j])
                        + sum(inv_sqrt(len(raters[i])) * Y[i] @ Y[i] for i in rated[u])
                        + sum(inv_sqrt(len(trusters[v])) * W[v] @ W[v] for v in trusts[u]))
  for u, v in LINKS:
    total += lam_t / 2 * ((W[v] @ P[u] - 1.0) ** 2 + inv_sqrt(len(trusts[u])) * P[u] @ P[u])
  return total, predictions


REFERENCES = {"TrustSVD": trustsvd_reference, "TrustSVD:per_rating": trustsvd_per_rating_reference, "SocialMF": socialmf_reference, "SoRec": sorec_reference,
              "SVDpp": svdpp_reference}


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_objective_predictions_and_gradient_against_float64(name):
  model, params = build(name.split(":")[0], **({"regularisation": name.split(":")[1]} if ":" in name else {}))
  users, items, ratings = batch()
  per_rating, whole, predicted = model.apply({"params": params}, users, items, ratings, method=type(model).objective)
  as64 = {k: np.asarray(v, np.float64) for k, v in params.items()}
  expected, predictions = REFERENCES[name](as64)
  np.testing.assert_allclose(float(per_rating.sum() + whole), expected, rtol=2e-5)
  np.testing.assert_allclose(np.asarray(model.apply({"params": params}, users, items)), predictions, rtol=2e-5)
  np.testing.assert_allclose(np.asarray(predicted), predictions, rtol=2e-5)  # the objective's own forward pass

  def total(p):
    per, w, _ = model.apply({"params": p}, users, items, ratings, method=type(model).objective)
    return per.sum() + w
  grads = jax.grad(total)(params)
  eps = 1e-6
  for key, value in as64.items():
    numeric = np.zeros_like(value)
    for index in np.ndindex(value.shape):
      up, down = dict(as64), dict(as64)
      up[key], down[key] = value.copy(), value.copy()
      up[key][index] += eps
      down[key][index] -= eps
      numeric[index] = (REFERENCES[name](up)[0] - REFERENCES[name](down)[0]) / (2 * eps)
    np.testing.assert_allclose(np.asarray(grads[key]), numeric, rtol=1e-3, atol=2e-5, err_msg=f"{name} {key}")
  if name == "TrustSVD":
    with pytest.raises(ValueError, match="regularisation='weekly'"):
      build("TrustSVD", regularisation="weekly")[0].apply({"params": params}, users, items, ratings,
                                                        method=social.TrustSVD.objective)


def test_biased_mf_is_svdpp_without_the_implicit_term():
  model, params = build("BiasedMF")
  users, items, ratings = batch()
  P, Q, bu, bi = (np.asarray(params[k], np.float64) for k in ("user_factors", "item_factors", "user_bias",
                                                              "item_bias"))
  expected = [MU + bu[u] + bi[i] + P[u] @ Q[i] for u, i, _ in RATINGS]
  np.testing.assert_allclose(np.asarray(model.apply({"params": params}, users, items)), expected, rtol=2e-5)
  per, whole, _ = model.apply({"params": params}, users, items, ratings, method=type(model).objective)
  regular = [bu[u] ** 2 + bi[i] ** 2 + P[u] @ P[u] + Q[i] @ Q[i] for u, i, _ in RATINGS]
  np.testing.assert_allclose(np.asarray(per), 0.5 * (np.array(expected) - np.asarray(ratings)) ** 2
                             + 0.15 * np.array(regular), rtol=2e-5)
  assert float(whole) == 0.0


@pytest.mark.parametrize("trust_edges", [True, False])
def test_graph_propagation_equals_the_dense_normalised_adjacency(trust_edges):
  model, params = build("SocialGCN", layers=3, trust_edges=trust_edges)
  users, items = map(np.asarray, model.apply({"params": params}, method=social.SocialGCN.propagate))
  adjacency = np.zeros((U + I, U + I))
  for u, i, _ in RATINGS:
    adjacency[u, U + i] = adjacency[U + i, u] = 1.0
  if trust_edges:
    for u, v in LINKS:
      adjacency[u, v] = adjacency[v, u] = 1.0
  degree = adjacency.sum(1)
  scale = np.where(degree > 0, 1.0 / np.sqrt(np.maximum(degree, 1)), 0.0)
  normalised = scale[:, None] * adjacency * scale[None, :]
  layer = np.concatenate([np.asarray(params["user_factors"], np.float64), np.asarray(params["item_factors"], np.float64)])
  mean = layer.copy()
  for _ in range(3):
    layer = normalised @ layer
    mean += layer
  mean /= 4
  np.testing.assert_allclose(users, mean[:U], rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(items, mean[U:], rtol=1e-5, atol=1e-6)


def test_the_task_loss_is_the_objective_over_n_and_evaluation_clips_to_the_scale():
  model, params = build("TrustSVD")
  users, items, ratings = batch()
  value, metrics = rating_task.loss(model, params, {"user": users, "item": items, "rating": ratings},
                                    jax.random.key(0), ml_collections.ConfigDict())
  np.testing.assert_allclose(float(value), trustsvd_reference({k: np.asarray(v, np.float64)
                                                               for k, v in params.items()})[0] / len(RATINGS), rtol=2e-5)
  predicted = np.asarray(model.apply({"params": params}, users, items))
  cold = np.array([0, 0, 1, 1, 0, 1, 1, 0], np.float32)
  mask = np.array([1, 1, 1, 1, 1, 1, 1, 0], np.float32)  # the last row is padding
  sums = rating_task.evaluate(model, params, {"user": users, "item": items, "rating": ratings, "cold": cold,
                                              "mask": mask}, None)
  means = rating_task.finalize({k: float(v) / float(sums["count"]) for k, v in sums.items() if k != "count"})
  error = np.clip(predicted, LO, HI) - np.asarray(ratings)
  real = mask > 0
  assert means["rmse"] == pytest.approx(np.sqrt(np.mean(error[real] ** 2)), rel=1e-5)
  assert means["mae"] == pytest.approx(np.mean(np.abs(error[real])), rel=1e-5)
  assert means["cold_rmse"] == pytest.approx(np.sqrt(np.mean(error[real & (cold > 0)] ** 2)), rel=1e-5)
  assert means["cold_fraction"] == pytest.approx(4 / 7)


def test_a_model_without_its_relations_is_refused():
  with pytest.raises(ValueError, match="TrustSVD reads trust from the data"):
    social.TrustSVD(num_users=U, num_items=I, global_mean=MU, rating_min=LO, rating_max=HI,
                    rated=relation(np.array([0]), np.array([0]), U, I)).init(
        jax.random.key(0), jnp.zeros(1, jnp.int32), jnp.zeros(1, jnp.int32))


@pytest.mark.parametrize("name", ["TrustSVD", "SocialGCN"])
def test_ranking_of_held_out_ratings_against_brute_force(name):
  model, params = build(name)
  held_out = [(0, 1), (0, 4), (2, 3), (4, 0)]  # user 0 has two: each leaves the other out of its ranking
  users, items = np.array([h[0] for h in held_out]), np.array([h[1] for h in held_out])
  got = rating_task.ranking(model, params, users, items, top_k=(1, 3), chunk=3)  # chunks of 3: one is padded
  scores = np.asarray(model.apply({"params": params}, jnp.arange(U)[:, None], jnp.arange(I)[None, :]))
  trained = {u: {i for v, i, _ in RATINGS if v == u} for u in range(U)}
  expected = collections.defaultdict(float)
  for u, i in held_out:
    others = [j for j in range(I) if j != i and j not in trained[u] and (u, j) not in held_out]
    higher = sum(scores[u, j] > scores[u, i] for j in others)
    tied = sum(scores[u, j] == scores[u, i] for j in others)
    for k in (1, 3):
      ranks = range(higher, higher + tied + 1)
      expected[f"hr@{k}"] += np.mean([r < k for r in ranks]) / len(held_out)
      expected[f"ndcg@{k}"] += np.mean([(r < k) / np.log2(r + 2) for r in ranks]) / len(held_out)
  assert got.keys() == expected.keys()
  for key in got:
    assert got[key] == pytest.approx(expected[key], abs=1e-6), key
