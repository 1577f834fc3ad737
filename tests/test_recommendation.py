"""Recommendation (issue 5): ranking metrics, MovieLens splits and negatives, the NCF models and task."""

import json
import math
import pathlib
import re

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from bigjax import config_base, program, runs, selection, tasks, train
from bigjax.data import DataError, default_data_dir, movielens, pipeline
from bigjax.evals import ranking
from bigjax.models import ncf, sasrec
from bigjax.tasks import recommendation
from conftest import REPO, load_config, load_module, read_metrics, requires_data, requires_ml100k, requires_ml1m

common_ncf = load_module(REPO / "configs" / "common_ncf.py")  # the recommendation fields, with their defaults

pytestmark = pytest.mark.usefixtures("fast_compiles")


# ====================================================================================== metrics

def reference_metrics(scores, target, k, exclude=None):
  """Expected HR@k, NDCG@k of ``target`` by enumerating every tie order (float64, one row)."""
  scores = np.asarray(scores, np.float64)
  others = [j for j in range(len(scores)) if j != target and not (exclude is not None and exclude[j])]
  higher = sum(scores[j] > scores[target] for j in others)
  tied = sum(scores[j] == scores[target] for j in others)
  ranks = range(higher, higher + tied + 1)  # equally likely positions of the target among its ties
  hr = np.mean([r < k for r in ranks])
  dcg = np.mean([1 / math.log2(r + 2) if r < k else 0.0 for r in ranks])
  return hr, dcg


@pytest.mark.parametrize("scores, target, k, hr, dcg", [
    ([0.9, 0.1, 0.5, 0.3], 0, 1, 1.0, 1.0),                         # ranked first
    ([0.2, 0.9, 0.5, 0.3], 0, 2, 0.0, 0.0),                         # ranked last of 4
    ([0.5, 0.9, 0.1, 0.3], 0, 2, 1.0, 1 / math.log2(3)),            # second
    ([0.5, 0.5, 0.5, 0.5], 0, 2, 0.5, (1 + 1 / math.log2(3)) / 4),  # four-way tie: each position 1/4
    ([0.5, 0.9, 0.5, 0.1], 0, 2, 0.5, (1 / math.log2(3)) / 2),      # one higher, one tied: rank 1 or 2
])
def test_hr_and_ndcg_against_hand_computed_rankings(scores, target, k, hr, dcg):
  g, t = ranking.rank_counts(jnp.asarray([scores], jnp.float32), jnp.asarray([target]))
  assert float(ranking.hit_ratio(g, t, k)[0]) == pytest.approx(hr)
  assert float(ranking.ndcg(g, t, k)[0]) == pytest.approx(dcg)
  assert (hr, dcg) == pytest.approx(reference_metrics(scores, target, k))


def test_metrics_match_enumeration_on_random_tied_scores():
  rng = np.random.default_rng(0)
  scores = rng.integers(0, 6, size=(50, 30)).astype(np.float32)  # many ties
  target = rng.integers(0, 30, size=50)
  exclude = rng.random((50, 30)) < 0.3
  exclude[np.arange(50), target] = False
  g, t = ranking.rank_counts(jnp.asarray(scores), jnp.asarray(target), jnp.asarray(exclude))
  for k in (1, 5, 10):
    expected = np.array([reference_metrics(s, i, k, e) for s, i, e in zip(scores, target, exclude)])
    np.testing.assert_allclose(ranking.hit_ratio(g, t, k), expected[:, 0], rtol=1e-6)
    np.testing.assert_allclose(ranking.ndcg(g, t, k), expected[:, 1], rtol=1e-6)


def test_constant_scores_give_chance_and_nan_gives_zero():
  g, t = ranking.rank_counts(jnp.zeros((1, 100)), jnp.zeros((1,), jnp.int32))
  assert float(ranking.hit_ratio(g, t, 10)[0]) == pytest.approx(0.1)  # K / n, as a random ranking
  nan_target = jnp.asarray([[jnp.nan, 0.0, 1.0]])
  g, t = ranking.rank_counts(nan_target, jnp.zeros((1,), jnp.int32))
  assert float(ranking.hit_ratio(g, t, 10)[0]) == 0.0 and float(ranking.ndcg(g, t, 10)[0]) == 0.0


# ====================================================================================== data

def write_ml100k(root: pathlib.Path, rows: list[tuple[int, int, int, int]], num_items: int = 8) -> pathlib.Path:
  """A MovieLens-100K folder with ``rows`` (user, item, rating, timestamp) in file order."""
  folder = root / "ml-100k"
  folder.mkdir(parents=True)
  (folder / "u.data").write_text("".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in rows))
  (folder / "u.genre").write_text("unknown|0\nAction|1\nComedy|2\n\n")
  (folder / "u.item").write_text("".join(
      f"{i}|Movie {'Night' if i % 2 else 'Day'} {i} (199{i % 10})|01-Jan-1995||http://x|0|{i % 2}|{1 - i % 2}\n"
      for i in range(1, num_items + 1)), encoding="latin-1")
  return root


def test_leave_one_out_holds_out_the_latest_and_breaks_ties_by_file_order(tmp_path):
  rows = [(1, 1, 5, 100), (1, 2, 4, 300), (1, 3, 3, 200),           # user 1: item 2 is the latest
          (2, 5, 3, 50), (2, 4, 5, 90), (2, 6, 1, 90), (2, 1, 2, 10),  # user 2: 4 and 6 tie; 4 is listed first
          (3, 7, 2, 1), (3, 8, 2, 2), (3, 3, 1, 3)]
  data = movielens.read_ml100k(write_ml100k(tmp_path, rows))
  assert (data.num_users, data.num_items) == (3, 8)
  held_out = {int(u): int(data.item_raw_ids[i]) for u, i in enumerate(data.test_items)}
  assert held_out == {0: 2, 1: 4, 2: 3}
  train_pairs = {(int(u), int(data.item_raw_ids[i])) for u, i in zip(data.train_users, data.train_items)}
  assert train_pairs == {(0, 1), (0, 3), (1, 5), (1, 6), (1, 1), (2, 7), (2, 8)}
  assert "g:Comedy" in data.item_text[1] and "year:1992" in data.item_text[1]
  # The other tie rule holds out user 2's tied item listed last (6), and only that changes.
  last = movielens.read_ml100k(write_ml100k(tmp_path / "again", rows), ties="last")
  assert {int(u): int(last.item_raw_ids[i]) for u, i in enumerate(last.test_items)} == {0: 2, 1: 6, 2: 3}
  assert {(int(u), int(last.item_raw_ids[i])) for u, i in zip(last.train_users, last.train_items)} == (
      train_pairs - {(1, 6)} | {(1, 4)})
  # Time order follows the same rule: user 2's 6 is the latest of their training items first, 4 with "last".
  for interactions, latest in ((data, 6), (last, 4)):
    rows_of_user = np.flatnonzero(interactions.train_users == 1)
    newest = rows_of_user[np.argmax(interactions.train_order[rows_of_user])]
    assert int(interactions.item_raw_ids[interactions.train_items[newest]]) == latest
  with pytest.raises(ValueError, match="config.data.ties='middle'"):
    movielens.read_ml100k(tmp_path, ties="middle")


def test_validation_split_holds_out_the_latest_training_item(tmp_path):
  rows = [(1, 1, 5, 100), (1, 2, 4, 300), (1, 3, 3, 200), (1, 4, 3, 150),
          (2, 5, 3, 50), (2, 4, 5, 90), (2, 6, 1, 90), (2, 1, 2, 10)]
  data = movielens.read_ml100k(write_ml100k(tmp_path, rows))
  val = data.validation_split()
  raw = lambda items: [int(data.item_raw_ids[i]) for i in items]
  assert raw(data.test_items) == [2, 4] and raw(val.test_items) == [3, 6]  # user 2: 6 is the later of the tie
  assert {(int(u), int(data.item_raw_ids[i])) for u, i in zip(val.train_users, val.train_items)} == {
      (0, 1), (0, 4), (1, 5), (1, 1)}
  np.testing.assert_array_equal(val.also_positive, data.test_items)
  many = synthetic()
  val = many.validation_split()
  candidates = val.test_candidates(seed=0)
  assert not (candidates[:, 1:] == many.test_items[:, None]).any()  # the test item is never a negative
  assert not val.is_train_pair(np.arange(val.num_users), many.test_items).any()
  config = common_ncf.add_fields(config_base.base_config()).data
  config.name, config.eval_split = "ml-100k", "validation"
  with pytest.raises(ValueError, match="validation"):
    movielens.load(config, "test", tmp_path)


def test_ml1m_readers_of_ratings_dat_and_the_ncf_files(tmp_path):
  folder = tmp_path / "ml-1m"
  (folder / "ncf").mkdir(parents=True)
  (folder / "ratings.dat").write_text("1::10::5::100\n1::20::3::300\n1::30::4::300\n2::20::4::50\n2::10::2::60\n")
  (folder / "movies.dat").write_text("10::Heat (1995)::Action|Crime\n20::Babe (1995)::Comedy\n", encoding="latin-1")
  data = movielens.read("ml-1m", "ratings", tmp_path)
  assert data.name == "ml-1m[ratings]" and (data.num_users, data.num_items) == (2, 3)
  assert [int(data.item_raw_ids[i]) for i in data.test_items] == [20, 10]  # user 1: 20 and 30 tie; 20 is first
  assert data.item_text[0] == "heat year:1995 g:Action g:Crime" and data.item_text[2] == ""
  last = movielens.read("ml-1m", "ratings", tmp_path, ties="last")
  assert last.name == "ml-1m[ratings][ties=last]" and [int(last.item_raw_ids[i]) for i in last.test_items] == [30, 10]
  (folder / "ncf" / "ml-1m.train.rating").write_text("0\t1\t5\t10\n0\t2\t4\t20\n1\t0\t3\t5\n")
  (folder / "ncf" / "ml-1m.test.rating").write_text("0\t3\t5\t30\n1\t1\t4\t9\n")
  negatives = [list(range(4, 103)), list(range(5, 104))]
  (folder / "ncf" / "ml-1m.test.negative").write_text(
      "".join(f"({u},{t})\t" + "\t".join(map(str, n)) + "\n" for u, t, n in zip((0, 1), (3, 1), negatives)))
  ncf_data = movielens.read("ml-1m", "auto", tmp_path)  # the paper's files come first
  assert ncf_data.name == "ml-1m[ncf]" and ncf_data.num_items == 104
  with pytest.raises(ValueError, match="config.data.ties='last': ml-1m from source 'ncf' brings its own held-out"):
    movielens.read("ml-1m", "ncf", tmp_path, ties="last")
  np.testing.assert_array_equal(ncf_data.test_candidates(seed=0), [[3, *negatives[0]], [1, *negatives[1]]])


def test_duplicate_pairs_and_missing_files_are_named(tmp_path):
  with pytest.raises(DataError, match="more than once"):
    movielens.read_ml100k(write_ml100k(tmp_path / "a", [(1, 1, 5, 1), (1, 1, 4, 2), (1, 2, 3, 3)]))
  with pytest.raises(DataError, match="u.data not found"):
    movielens.read_ml100k(tmp_path / "nowhere")
  with pytest.raises(DataError, match="ml-1m.train.rating not found"):
    movielens.read_ml1m_ncf(tmp_path)
  with pytest.raises(DataError, match="no local copy found"):
    movielens.read("ml-1m", "auto", tmp_path)
  (tmp_path / "ml-1m" / "afcfm").mkdir(parents=True)
  (tmp_path / "ml-1m" / "afcfm" / "ml-1m.zip").write_bytes(b"not a zip")
  with pytest.raises(DataError, match="corrupt"):
    movielens.read_ml1m_afcfm(tmp_path)


def write_ncf_world(root: pathlib.Path, num_users=40, num_movies=160, seed=0):
  """A small ML-1M as NCF and AFCFM ship it: ratings listed user by user in a shuffled order, NCF's numbering
  by first appearance, each user's held-out item and 99 negatives in NCF's ids, and all pairs in an AFCFM zip
  (shuffled, with a different held-out item per user). Returns (ncf id -> MovieID, held-out ncf ids)."""
  import zipfile
  rng = np.random.default_rng(seed)
  movie_ids = rng.choice(np.arange(1, 4000), num_movies, replace=False)
  rated = rng.random((num_users, num_movies)) < 0.25
  rated[rng.integers(0, num_users, num_movies), np.arange(num_movies)] = True  # every movie has a rater
  lines = [(u, int(movie_ids[m])) for u in range(num_users) for m in rng.permutation(np.flatnonzero(rated[u]))]
  ncf_id = {}
  for _, movie in lines:  # NCF: ids in order of first appearance in ratings.dat
    ncf_id.setdefault(movie, len(ncf_id))
  truth = np.array(sorted(ncf_id, key=ncf_id.get))
  test, negatives = [], []
  for u in range(num_users):
    mine = [ncf_id[int(movie_ids[m])] for m in np.flatnonzero(rated[u])]
    test.append(int(rng.choice(mine)))
    pool = np.setdiff1d(np.arange(num_movies), mine)
    negatives.append(rng.choice(pool, 99, replace=False))
  negatives[3][0] = test[3]  # NCF's own file lists some users' held-out item among their negatives
  folder = root / "ml-1m" / "ncf"
  folder.mkdir(parents=True)
  (folder / "ml-1m.test.rating").write_text("".join(f"{u}\t{t}\t5\t{100 + u}\n" for u, t in enumerate(test)))
  (folder / "ml-1m.test.negative").write_text("".join(
      f"({u},{t})\t" + "\t".join(map(str, n)) + "\n" for u, (t, n) in enumerate(zip(test, negatives))))
  order = rng.permutation(len(lines))
  afcfm_test = {}
  for u, movie in lines:
    afcfm_test.setdefault(u, movie)
  row = lambda u, movie: f"{u + 1}-6041-6042-6043,{movie}-3707\n"
  (root / "ml-1m" / "afcfm").mkdir(parents=True)
  with zipfile.ZipFile(root / "ml-1m" / "afcfm" / "ml-1m.zip", "w") as archive:
    archive.writestr("ml-1m/train.csv", "".join(row(*lines[i]) for i in order if afcfm_test[lines[i][0]] != lines[i][1]))
    archive.writestr("ml-1m/test.csv", "".join(row(u, movie) for u, movie in afcfm_test.items()))
  return truth, np.array(test)


def test_ncf_item_numbering_is_recovered_and_its_split_rebuilt_from_all_pairs(tmp_path):
  truth, test = write_ncf_world(tmp_path)
  data = movielens.read("ml-1m", "auto", tmp_path)  # NCF's test files and the AFCFM pairs: ncf+afcfm first
  assert data.name == "ml-1m[ncf+afcfm]"
  np.testing.assert_array_equal(data.item_raw_ids, truth)  # every id's MovieID, as first appearance gave it
  np.testing.assert_array_equal(data.test_items, test)
  pairs = movielens.afcfm_pairs(tmp_path)
  every = {(int(u) - 1, int(m)) for u, m in np.concatenate([pairs["train"], pairs["test"]])}
  rebuilt = {(int(u), int(truth[i])) for u, i in zip(data.train_users, data.train_items)}
  assert rebuilt == every - {(u, int(truth[t])) for u, t in enumerate(test)}  # all pairs but NCF's held-out ones
  candidates = data.test_candidates(seed=0)
  assert not data.is_train_pair(np.repeat(np.arange(data.num_users), 99), candidates[:, 1:].ravel()).any()
  join = movielens.ncf_item_map(np.array([u for u, _ in every]), np.array([m for _, m in every]), test,
                                candidates[:, 1:], check_unique=True)
  assert (join.contradictions, join.self_negatives) == (0, 1)  # user 3 lists their own held-out item
  assert join.determined.all()
  # Movies 10 and 20 (and 30 and 40) have the same raters: nothing tells their ids apart.
  tiny = movielens.ncf_item_map(np.array([0, 0, 1, 1]), np.array([10, 20, 30, 40]), np.array([0, 2]),
                                np.array([[2], [0]]), check_unique=True)
  assert tiny.contradictions == 0 and not tiny.determined.any()
  np.testing.assert_array_equal(tiny.first_user, [0, 0, 1, 1])
  # A negative that the user rated under any numbering: one of the movies they brought in first.
  negative = tmp_path / "ml-1m" / "ncf" / "ml-1m.test.negative"
  lines = negative.read_text().splitlines()
  first_of_user0 = next(k for k in range(len(truth)) if k != test[0])
  lines[0] = "\t".join(lines[0].split("\t")[:-1] + [str(first_of_user0)])
  negative.write_text("\n".join(lines) + "\n")
  movielens.read.cache_clear()
  with pytest.raises(DataError, match="does not join.*1 held-out items or negatives contradict"):
    movielens.read("ml-1m", "ncf+afcfm", tmp_path)
  negative.write_text("\n".join(lines[1:]) + "\n")
  with pytest.raises(DataError, match="one test row and 99 negatives per user"):
    movielens.read("ml-1m", "ncf+afcfm", tmp_path)


def synthetic(num_users=40, num_items=150, seed=0) -> movielens.Interactions:
  rng = np.random.default_rng(seed)
  rows = []
  for u in range(1, num_users + 1):
    items = rng.choice(np.arange(1, num_items + 1), size=rng.integers(3, 20), replace=False)
    rows += [(u, int(i), 3, int(t)) for t, i in enumerate(items)]
  return movielens.from_events("synthetic", *np.array(rows).T[[0, 1, 3]], {})


def test_sampled_negatives_never_hold_a_positive_of_the_user():
  data = synthetic()
  positives = [set(data.train_items[data.train_offsets[u]:data.train_offsets[u + 1]]) for u in range(data.num_users)]
  candidates = data.test_candidates(seed=3)
  assert candidates.shape == (data.num_users, 100)
  for u, row in enumerate(candidates):
    assert row[0] == data.test_items[u]
    assert len(set(row[1:])) == 99                                   # without replacement
    assert not set(row[1:]) & (positives[u] | {data.test_items[u]})  # never a training or held-out positive
  np.testing.assert_array_equal(candidates, data.test_candidates(seed=3))
  assert not np.array_equal(candidates, data.test_candidates(seed=4))
  epoch_items = movielens.EpochItems(data, num_negatives=4, pairs=False)
  p = len(data.train_items)
  for epoch in range(3):
    items = epoch_items.epoch_view(seed=0, epoch=epoch)
    np.testing.assert_array_equal(items[:p], data.train_items)
    negatives = items[p:].reshape(4, p)
    users = np.broadcast_to(data.train_users, negatives.shape)
    assert not data.is_train_pair(users.ravel(), negatives.ravel()).any()


@requires_ml100k
def test_ml100k_split_and_candidates():
  data = movielens.read("ml-100k", "auto", default_data_dir())
  assert (data.num_users, data.num_items, len(data.train_items)) == (943, 1682, 100_000 - 943)
  candidates = data.test_candidates(seed=0)
  test_pairs = np.broadcast_to(np.arange(943)[:, None], (943, 99))
  assert not data.is_train_pair(test_pairs.ravel(), candidates[:, 1:].ravel()).any()
  assert not (candidates[:, 1:] == data.test_items[:, None]).any()


@requires_ml1m
@requires_data("ml-1m/ncf/ml-1m.test.negative")
def test_ml1m_ncf_split_joins_the_afcfm_pairs():
  data = movielens.read("ml-1m", "ncf+afcfm", default_data_dir())
  assert (data.num_users, data.num_items, len(data.train_items)) == (6040, 3706, 1_000_209 - 6040)
  # GroupLens' ratings.dat opens 1::1193, 1::661, 1::914: NCF's items 0, 1, 2.
  np.testing.assert_array_equal(data.item_raw_ids[:3], [1193, 661, 914])
  assert len(np.unique(data.item_raw_ids)) == 3706
  candidates = data.test_candidates(seed=0)
  users = np.repeat(np.arange(6040), 99)
  assert not data.is_train_pair(users, candidates[:, 1:].ravel()).any()
  assert not data.is_train_pair(np.arange(6040), data.test_items).any()
  assert int((candidates[:, 1:] == data.test_items[:, None]).any(1).sum()) == 156


@requires_ml1m
def test_ml1m_afcfm_holds_every_interaction():
  data = movielens.read_ml1m_afcfm(default_data_dir())
  assert (data.num_users, data.num_items) == (6040, 3706)
  assert len(data.train_items) + data.num_users == 1_000_209
  assert len(np.unique(data.train_keys)) == len(data.train_keys)
  assert data.item_text[0].endswith("g:Animation g:Children's g:Comedy")  # movie 1, Toy Story


def test_negatives_are_redrawn_per_epoch_and_identical_across_a_resume():
  data = synthetic()
  arrays = {"user": np.tile(data.train_users, 5), "item": movielens.EpochItems(data, 4, pairs=False)}
  layout = pipeline.TrainLayout(len(arrays["user"]), global_batch=16, steps_per_call=3)
  num_calls = 3 * layout.steps_per_epoch // 3
  whole = [b for b in pipeline.train_iterator(arrays, layout, seed=7, num_calls=num_calls, prefetch=0)]
  it = pipeline.train_iterator(arrays, layout, seed=7, num_calls=num_calls, prefetch=0)
  for _ in range(num_calls // 2):
    next(it)
  state = it.get_state()
  resumed = pipeline.train_iterator({"user": arrays["user"], "item": movielens.EpochItems(data, 4, pairs=False)},
                                    layout, seed=7, num_calls=num_calls, prefetch=0)
  resumed.set_state(state)
  for expected, got in zip(whole[num_calls // 2:], resumed):
    np.testing.assert_array_equal(expected["item"], got["item"])
  first, second = (arrays["item"].epoch_view(7, e) for e in (0, 1))
  p = len(data.train_items)
  assert np.array_equal(first[:p], second[:p]) and not np.array_equal(first[p:], second[p:])
  np.testing.assert_array_equal(first, movielens.EpochItems(data, 4, pairs=False).epoch_view(7, 0))


def test_tfidf_profiles_are_normalised_sums_of_history_rows():
  data = movielens.read_ml100k(write_ml100k(pathlib.Path(__import__("tempfile").mkdtemp()), [
      (u, i, 3, i) for u in range(1, 6) for i in range(1, 9) if (u + i) % 3]))
  items, profiles = movielens.content_features(data, item_width=32, profile_width=64)
  x = items.dense()
  np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, rtol=1e-6)
  for u in range(data.num_users):
    history = data.train_items[data.train_offsets[u]:data.train_offsets[u + 1]]
    expected = x[history].sum(0)
    np.testing.assert_allclose(profiles.dense()[u], expected / np.linalg.norm(expected), rtol=1e-5, atol=1e-7)


# ====================================================================================== models

def init_and_score(model, users, items, seed=0):
  params = model.init(jax.random.PRNGKey(seed), jnp.asarray(users), jnp.asarray(items))["params"]
  params = jax.tree.map(lambda a: np.asarray(a, np.float64),
                        jax.tree.map(lambda x: x.unbox() if hasattr(x, "unbox") else x, params,
                                     is_leaf=lambda x: hasattr(x, "unbox")))
  return params, np.asarray(model.apply({"params": jax.tree.map(jnp.float32, params)}, users, items), np.float64)


def numpy_mlp_tower(p, users, items):
  x = np.concatenate([p["user_embedding"][users], p["item_embedding"][items]], -1)
  i = 0
  while f"hidden_{i}" in p:
    x = np.maximum(x @ p[f"hidden_{i}"]["kernel"] + p[f"hidden_{i}"]["bias"], 0)
    i += 1
  return x


def test_models_against_float64_numpy():
  users, items = np.array([0, 3, 7, 7]), np.array([5, 0, 2, 9])
  p, got = init_and_score(ncf.GMF(8, 10, factors=4), users, items)
  h = p["tower"]["user_embedding"][users] * p["tower"]["item_embedding"][items]
  np.testing.assert_allclose(got, (h @ p["predict"]["kernel"])[:, 0] + p["predict"]["bias"], rtol=1e-5, atol=1e-7)
  p, got = init_and_score(ncf.MLP(8, 10, layers=(8, 6, 4)), users, items)
  h = numpy_mlp_tower(p["tower"], users, items)
  np.testing.assert_allclose(got, (h @ p["predict"]["kernel"])[:, 0] + p["predict"]["bias"], rtol=1e-5, atol=1e-7)
  p, got = init_and_score(ncf.MF(8, 10, factors=3), users, items)
  expected = ((p["user_embedding"][users] * p["item_embedding"][items]).sum(-1) + p["user_bias"][users, 0]
              + p["item_bias"][items, 0] + p["bias"])
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)


def test_embedding_tables_are_padded_and_named_for_fsdp():
  model = ncf.NeuMF(943, 1682, factors=8)
  boxed = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), jnp.zeros(2, jnp.int32), jnp.zeros(2, jnp.int32)))
  table = boxed["params"]["gmf"]["user_embedding"]
  assert table.value.shape == (1024, 8) and table.names == ("users", "factor")
  assert boxed["params"]["mlp"]["item_embedding"].value.shape == (1792, 32)
  rules = dict(config_base.base_config().sharding.logical_rules)
  assert rules["users"] == rules["items"] == "fsdp"


def test_content_and_hybrid_score_with_features():
  data = movielens.read_ml100k(write_ml100k(pathlib.Path(__import__("tempfile").mkdtemp()), [
      (u, i, 3, i) for u in range(1, 6) for i in range(1, 9) if (u + i) % 3]))
  items, profiles = movielens.content_features(data)
  users, cand = np.array([0, 1, 4]), np.array([2, 3, 0])
  p, got = init_and_score(ncf.Content(5, 8, factors=6, item_features=items, user_profiles=profiles), users, cand)
  table = p["feature_embedding"][:items.num_features]
  expected = ((profiles.dense()[users] @ table) * (items.dense()[cand] @ table)).sum(-1) + p["bias"]
  np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-7)
  _, hybrid = init_and_score(ncf.HybridNeuMF(5, 8, factors=4, layers=(8, 4), item_features=items), users, cand)
  assert hybrid.shape == (3,) and np.isfinite(hybrid).all()
  with pytest.raises(ValueError, match="item_features=True"):
    ncf.HybridNeuMF(5, 8).init(jax.random.PRNGKey(0), jnp.zeros(1, jnp.int32), jnp.zeros(1, jnp.int32))


def test_pretrained_neumf_starts_as_the_combination_of_its_parts():
  users, items = jnp.arange(6) % 5, jnp.arange(6)
  gmf, mlp = ncf.GMF(5, 9, factors=4), ncf.MLP(5, 9, layers=(8, 6, 3))
  neumf = ncf.NeuMF(5, 9, factors=4, layers=(8, 6, 3))
  unbox = lambda tree: jax.tree.map(lambda x: x.unbox() if hasattr(x, "unbox") else x, tree,
                                    is_leaf=lambda x: hasattr(x, "unbox"))
  init = lambda m, s: unbox(m.init(jax.random.PRNGKey(s), users, items)["params"])
  gp, mp, np_ = init(gmf, 1), init(mlp, 2), init(neumf, 3)
  joined = ncf.neumf_from_pretrained(np_, gp, mp, alpha=0.3)
  expected = 0.3 * gmf.apply({"params": gp}, users, items) + 0.7 * mlp.apply({"params": mp}, users, items)
  np.testing.assert_allclose(neumf.apply({"params": joined}, users, items), expected, rtol=1e-5, atol=1e-7)
  with pytest.raises(ValueError, match="does not fit"):
    ncf.neumf_from_pretrained(np_, init(ncf.GMF(5, 9, factors=5), 1), mp)


# ====================================================================================== task

def task_config(loss="log_loss"):
  c = common_ncf.add_fields(config_base.base_config()).task
  c.loss = loss
  return c


def test_mf_all_items_equals_scoring_every_pair():
  model = ncf.MF(5, 7, factors=3, row_multiple=4)  # padded rows (8) beyond the 7 items are never scored
  params = recommendation.init(model, jax.random.PRNGKey(2), {"user": jnp.zeros(1, jnp.int32),
                                                              "item": jnp.zeros(1, jnp.int32)})
  params = jax.tree.map(lambda x: x + jax.random.normal(jax.random.PRNGKey(3), x.shape), params)  # biases too
  users = jnp.array([4, 0, 2])
  pairs = recommendation.scores(model, params, users[:, None], jnp.arange(7)[None])
  everything = recommendation.all_item_scores(model, params, users)
  assert everything.shape == (3, 7)
  np.testing.assert_allclose(everything, pairs, rtol=1e-6, atol=1e-6)


def test_losses_against_hand_computation():
  model = ncf.MF(4, 6, factors=2)
  users, items, labels = jnp.array([0, 1, 2, 3]), jnp.array([1, 2, 3, 4]), jnp.array([1.0, 0.0, 1.0, 0.0])
  params = recommendation.init(model, jax.random.PRNGKey(0), {"user": users, "item": items})
  s = np.asarray(recommendation.scores(model, params, users, items), np.float64)
  value, _ = recommendation.loss(model, params, {"user": users, "item": items, "label": labels}, None, task_config())
  y = np.asarray(labels, np.float64)
  expected = np.mean(-y * np.log(1 / (1 + np.exp(-s))) - (1 - y) * np.log(1 - 1 / (1 + np.exp(-s))))
  assert float(value) == pytest.approx(expected, rel=1e-5)
  negatives = jnp.array([[0, 5], [3, 3], [1, 0], [2, 2]])
  value, metrics = recommendation.loss(model, params, {"user": users, "item": items, "negative": negatives}, None,
                                       task_config("bpr"))
  sn = np.asarray(recommendation.scores(model, params, users[:, None], negatives), np.float64)
  assert float(value) == pytest.approx(np.mean(np.log1p(np.exp(-(s[:, None] - sn)))), rel=1e-5)
  with pytest.raises(ValueError, match="data.pairs=True"):
    recommendation.loss(model, params, {"user": users, "item": items, "label": labels}, None, task_config("bpr"))
  # Full softmax: the positive's log-probability among all six items, in float64.
  value, metrics = recommendation.loss(model, params, {"user": users, "item": items, "negative": negatives}, None,
                                       task_config("softmax"))
  everything = np.asarray(recommendation.scores(model, params, users[:, None], jnp.arange(6)[None]), np.float64)
  log_z = np.log(np.exp(everything).sum(-1))
  assert float(value) == pytest.approx(np.mean(log_z - everything[np.arange(4), np.asarray(items)]), rel=1e-5)
  assert float(metrics["top10"]) == 1.0  # 6 items: every positive is in the top 10
  with pytest.raises(ValueError, match="data.pairs=True"):
    recommendation.loss(model, params, {"user": users, "item": items, "label": labels}, None, task_config("softmax"))


def test_mlp_dropout_trains_on_a_thinned_tower_and_scores_with_the_whole_one():
  users, items = jnp.arange(64) % 5, jnp.arange(64) % 9
  labels = (jnp.arange(64) % 3 == 0).astype(jnp.float32)
  batch = {"user": users, "item": items, "label": labels}
  plain, dropped = ncf.NeuMF(5, 9, factors=4, layers=(8, 6, 3)), ncf.NeuMF(5, 9, factors=4, layers=(8, 6, 3), dropout=0.5)
  params = recommendation.init(plain, jax.random.PRNGKey(0), batch)
  # Evaluation ignores dropout; so does training at rate 0, whatever the key.
  np.testing.assert_array_equal(recommendation.scores(dropped, params, users, items),
                                recommendation.scores(plain, params, users, items))
  np.testing.assert_array_equal(recommendation.scores(plain, params, users, items, jax.random.PRNGKey(1)),
                                recommendation.scores(plain, params, users, items))
  # Training at 0.5: a different tower per key, and the loss is the log loss of the thinned scores.
  key = jax.random.PRNGKey(1)
  thinned = recommendation.scores(dropped, params, users, items, key)
  assert not np.allclose(thinned, recommendation.scores(dropped, params, users, items, jax.random.PRNGKey(2)))
  tower = ncf.MLPTower(5, 9, (8, 6), dropout=0.5)   # one hidden layer: its units thinned and whole
  tower_params = tower.init(jax.random.PRNGKey(3), users, items)["params"]
  hidden = tower.apply({"params": tower_params}, users, items, train=True, rngs={"dropout": key})
  whole = np.asarray(tower.apply({"params": tower_params}, users, items))
  kept = np.asarray(hidden) != 0
  assert 0.3 < kept[whole != 0].mean() < 0.7                # about half of the live units dropped
  np.testing.assert_allclose(np.asarray(hidden)[kept], 2 * whole[kept], rtol=1e-5)  # the kept ones scaled by 1/(1-p)
  value, _ = recommendation.loss(dropped, params, batch, key, task_config())
  s, y = np.asarray(thinned, np.float64), np.asarray(labels, np.float64)
  assert float(value) == pytest.approx(np.mean(np.logaddexp(0, s) - y * s), rel=1e-5)
  with pytest.raises(ValueError, match="model.dropout=1.0"):
    recommendation.init(ncf.MLP(5, 9, layers=(8, 4), dropout=1.0), jax.random.PRNGKey(0), batch)


@pytest.mark.parametrize("name", ["GMF", "MLP", "NeuMF", "MF"])
def test_embedding_l2_penalises_the_rows_a_batch_reads(name):
  """``task.embedding_l2``: the loss plus λ Σ_tables mean_b ||row||², in float64; rows the batch does not read
  get no gradient from it (unlike weight decay on whole tables)."""
  model = getattr(ncf, name)(5, 7, factors=2, row_multiple=4)
  users, items, labels = jnp.array([0, 1, 1, 3]), jnp.array([2, 2, 4, 6]), jnp.array([1.0, 0.0, 1.0, 0.0])
  params = recommendation.init(model, jax.random.PRNGKey(3), {"user": users, "item": items})
  params = jax.tree.map(lambda x: x * 30.0, nn.unbox(params))  # embeddings of norm ~0.5, so the penalty is not negligible
  batch = {"user": users, "item": items, "label": labels}
  config = task_config()
  config.embedding_l2 = 0.3
  value, metrics = recommendation.loss(model, params, batch, None, config)
  plain, plain_metrics = recommendation.loss(model, params, batch, None, task_config())
  assert "fit_loss" not in plain_metrics  # logged only when there is a penalty to tell it from
  tables = {"GMF": [("tower",)], "MLP": [("tower",)], "NeuMF": [("gmf",), ("mlp",)], "MF": [()]}[name]
  penalty = 0.0
  for path in tables:
    scope = params
    for key in path:
      scope = scope[key]
    for table, ids in (("user_embedding", users), ("item_embedding", items)):
      rows = np.asarray(scope[table], np.float64)[np.asarray(ids)]
      penalty += np.mean(np.sum(rows ** 2, axis=-1))
  assert penalty > 0.01
  assert float(metrics["fit_loss"]) == pytest.approx(float(plain), rel=1e-6)
  assert float(value) == pytest.approx(float(plain) + 0.3 * penalty, rel=1e-5)
  grads = jax.grad(lambda p: recommendation.loss(model, p, batch, None, config)[0])(params)
  penalty_grads = jax.grad(lambda p: recommendation.scores_and_l2(model, p, users, items)[1])(params)
  scope, penalty_scope, values = grads, penalty_grads, params
  for key in tables[0]:
    scope, penalty_scope, values = scope[key], penalty_scope[key], values[key]
  unread_users, unread_items = [2, 4], [0, 1, 3, 5]
  np.testing.assert_array_equal(np.asarray(scope["user_embedding"])[unread_users], 0.0)
  np.testing.assert_array_equal(np.asarray(scope["item_embedding"])[unread_items], 0.0)
  # The penalty's gradient on a row is 2 (count of the row in the batch / b) * row: item 2 is read twice of 4.
  rows = np.asarray(values["item_embedding"], np.float64)
  expected = np.zeros_like(rows)
  for i in np.asarray(items):
    expected[i] += 2 * rows[i] / 4
  np.testing.assert_allclose(np.asarray(penalty_scope["item_embedding"]), expected, rtol=1e-5, atol=1e-8)
  bpr = task_config("bpr")
  bpr.embedding_l2 = 0.3
  negatives = jnp.array([[0, 5], [3, 3], [1, 0], [2, 2]])
  value, metrics = recommendation.loss(model, params, {"user": users, "item": items, "negative": negatives}, None, bpr)
  assert float(value) > float(metrics["fit_loss"])
  softmax = task_config("softmax")
  softmax.embedding_l2 = 0.3
  with pytest.raises(ValueError, match="embedding_l2"):
    recommendation.loss(model, params, {"user": users, "item": items, "negative": negatives}, None, softmax)
  config.embedding_l2 = -1.0
  with pytest.raises(ValueError, match="embedding_l2=-1.0"):
    recommendation.loss(model, params, batch, None, config)


def test_evaluate_ranks_candidate_zero_and_excludes_seen_items_in_full_ranking():
  model = ncf.MF(3, 5, factors=2)
  params = recommendation.init(model, jax.random.PRNGKey(1), {"user": jnp.zeros(1, jnp.int32),
                                                              "item": jnp.zeros(1, jnp.int32)})
  users = jnp.array([0, 1, 2])
  candidates = jnp.array([[1, 0, 2], [4, 3, 0], [2, 4, 1]])
  seen = jnp.array([[1, 0, 0, 0, 1], [0, 0, 1, 0, 0], [1, 1, 0, 0, 0]], bool)
  c = task_config()
  c.top_k = (1, 2)
  sums = recommendation.evaluate(model, params, {"user": users, "candidates": candidates, "seen": seen,
                                                 "mask": jnp.array([1.0, 1.0, 0.0])}, c)
  everything = np.asarray(recommendation.scores(model, params, users[:, None], jnp.arange(5)[None]))
  for k in (1, 2):
    sampled = [reference_metrics(everything[u][candidates[u]], 0, k) for u in range(2)]
    full = [reference_metrics(everything[u], int(candidates[u, 0]), k, np.asarray(seen[u])) for u in range(2)]
    assert float(sums[f"hr@{k}"]) == pytest.approx(sum(m[0] for m in sampled))
    assert float(sums[f"ndcg@{k}"]) == pytest.approx(sum(m[1] for m in sampled))
    assert float(sums[f"full_recall@{k}"]) == pytest.approx(sum(m[0] for m in full))
    assert float(sums[f"full_ndcg@{k}"]) == pytest.approx(sum(m[1] for m in full))
  assert float(sums["count"]) == 2


def test_a_candidate_equal_to_the_held_out_item_is_not_a_negative():
  model = ncf.MF(2, 5, factors=2)
  params = recommendation.init(model, jax.random.PRNGKey(3), {"user": jnp.zeros(1, jnp.int32),
                                                              "item": jnp.zeros(1, jnp.int32)})
  users = jnp.array([0, 1])
  everything = np.asarray(recommendation.scores(model, params, users[:, None], jnp.arange(5)[None]))
  c = task_config()
  c.top_k = (1, 2)
  # User 0's list repeats the held-out item 2 (as NCF's negatives file does); user 1's does not.
  with_repeat = recommendation.evaluate(model, params, {"user": users, "candidates": jnp.array([[2, 0, 2, 4],
                                        [3, 0, 1, 4]]), "mask": jnp.ones(2)}, c)
  for k in (1, 2):
    expected = [reference_metrics(everything[0][[2, 0, 4]], 0, k), reference_metrics(everything[1][[3, 0, 1, 4]], 0, k)]
    assert float(with_repeat[f"hr@{k}"]) == pytest.approx(sum(m[0] for m in expected))
    assert float(with_repeat[f"ndcg@{k}"]) == pytest.approx(sum(m[1] for m in expected))


# ====================================================================================== sequential (SASRec)

def test_histories_are_the_latest_training_items_in_time_order(tmp_path):
  """Oldest first, left-padded with ``num_items``; ties in file order; the held-out (latest) item never in them;
  the training sequences are one item longer and end in the model's history."""
  rows = [(1, 1, 5, 100), (1, 2, 4, 300), (1, 3, 3, 200), (1, 4, 3, 150), (1, 5, 1, 120),   # held out: 2
          (2, 5, 3, 50), (2, 4, 5, 90), (2, 6, 1, 90), (2, 1, 2, 10)]                       # held out: 4
  data = movielens.read_ml100k(write_ml100k(tmp_path, rows))
  raw = lambda row: [int(data.item_raw_ids[i]) if i < data.num_items else None for i in row]
  history = movielens.latest_items(data, 3)
  assert [raw(r) for r in history] == [[5, 4, 3], [1, 5, 6]]  # user 1: 1@100 is the 4th latest, cut
  longer = movielens.latest_items(data, 5)
  assert [raw(r) for r in longer] == [[None, 1, 5, 4, 3], [None, None, 1, 5, 6]]
  assert [raw(r) for r in movielens.latest_items(data.validation_split(), 3)] == [[1, 5, 4], [None, 1, 5]]
  config = common_ncf.add_fields(config_base.base_config())
  config.data.name, config.data.history_len, config.data.num_negatives = "ml-100k", 3, 1
  ds = movielens.load(config.data, "train", tmp_path)
  np.testing.assert_array_equal(ds.arrays["sequence"], movielens.latest_items(data, 4))
  np.testing.assert_array_equal(ds.model_fields["history"].items, ds.arrays["sequence"][:, 1:])
  assert ds.model_fields["history"].pad == data.num_items
  with pytest.raises(ValueError, match="history_len=0"):
    movielens.latest_items(data, 0)


def sasrec_model(num_items=6, length=5, **kwargs):
  history = np.array([[6, 6, 0, 1, 2], [3, 4, 5, 0, 1], [6, 6, 6, 6, 4]], np.int32)[:, -length:]
  return sasrec.SASRec(num_users=3, num_items=num_items, history=movielens.History(history, num_items),
                       embed_dim=8, num_heads=2, row_multiple=4, **kwargs)


def test_sasrec_is_causal_ignores_padding_and_scores_from_the_whole_history():
  model = sasrec_model()
  params = recommendation.init(model, jax.random.PRNGKey(0), {"user": jnp.zeros(1, jnp.int32)})
  params = jax.tree.map(lambda x: x + 0.3 * jax.random.normal(jax.random.PRNGKey(1), x.shape), params)
  seq = jnp.asarray(model.history.items)
  logits = np.asarray(model.apply({"params": params}, seq, method="sequence_logits"))
  assert logits.shape == (3, 5, 6)
  later = seq.at[1, 3].set(2)  # a later item changes no earlier position's logits, and changes its own
  changed = np.asarray(model.apply({"params": params}, later, method="sequence_logits"))
  np.testing.assert_array_equal(changed[1, :3], logits[1, :3])
  assert np.abs(changed[1, 3:] - logits[1, 3:]).max() > 1e-4
  shorter = seq[:, 2:]  # fewer leading pads, same positions for the items: user 0's and 2's states unchanged
  cut = np.asarray(model.apply({"params": params}, shorter, method="sequence_logits"))
  np.testing.assert_allclose(cut[[0, 2], -1], logits[[0, 2], -1], rtol=1e-5, atol=1e-6)
  pairs = recommendation.scores(model, params, jnp.arange(3)[:, None], jnp.arange(6)[None])
  np.testing.assert_allclose(recommendation.all_item_scores(model, params, jnp.arange(3)), pairs, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(pairs, logits[:, -1], rtol=1e-5, atol=1e-6)  # a user's score: the last position's


def test_sequence_loss_is_the_next_items_cross_entropy_over_real_targets():
  model = sasrec_model(length=5, dropout=0.0)
  params = recommendation.init(model, jax.random.PRNGKey(0), {"user": jnp.zeros(1, jnp.int32)})
  sequence = jnp.array([[6, 6, 0, 1, 2, 3], [3, 4, 5, 0, 1, 2]])
  value, metrics = recommendation.loss(model, params, {"user": jnp.arange(2), "sequence": sequence},
                                       jax.random.PRNGKey(1), task_config("softmax"))
  logits = np.asarray(model.apply({"params": params}, sequence[:, :-1], method="sequence_logits"), np.float64)
  terms = []
  for b in range(2):
    for t in range(5):
      target = int(sequence[b, t + 1])
      if target != 6:
        terms.append(np.log(np.exp(logits[b, t]).sum()) - logits[b, t, target])
  assert len(terms) == 9  # 4 + 5: user 0's first target is padding, left out
  assert float(value) == pytest.approx(np.mean(terms), rel=1e-5)
  assert float(metrics["top10"]) == 1.0  # 6 items
  with pytest.raises(ValueError, match="task.loss='softmax'"):
    recommendation.loss(model, params, {"user": jnp.arange(2), "sequence": sequence}, None, task_config())
  mf = ncf.MF(3, 6, factors=2)
  with pytest.raises(ValueError, match="history_len=0"):
    recommendation.loss(mf, None, {"user": jnp.arange(2), "sequence": sequence}, None, task_config("softmax"))
  with pytest.raises(ValueError, match="history_len > 0"):
    recommendation.init(sasrec.SASRec(num_users=3, num_items=6), jax.random.PRNGKey(0), {"user": jnp.zeros(1, jnp.int32)})


# ====================================================================================== configs end to end

CONFIGS = ["ml100k_gmf", "ml100k_mlp", "ml100k_neumf", "ml100k_mf", "ml100k_bpr", "ml100k_mf_softmax", "ml100k_content",
           "ml100k_hybrid", "ml100k_sasrec"]




def check_smoke_results(results, config):
  assert results["trace_counts"] == {"train_call": 1, "eval_call": 1}
  metrics = results["final_metrics"]
  assert all(math.isfinite(v) for v in metrics.values()), metrics
  for name in ("test/hr@10", "test/ndcg@10", "test/full_recall@10", "test/full_ndcg@10"):
    assert 0.0 <= metrics[name] <= 1.0
  assert metrics["test/ndcg@10"] <= metrics["test/hr@10"]


def large_hlo_constants(compiled) -> list[str]:
  """The compiled program's constants of more than 1,000 elements, as ``type[dims]``."""
  found = re.finditer(r"(\w+\[([\d,]+)\])\{[^}]*\} constant\(", compiled.as_text())
  return [m.group(1) for m in found if math.prod(int(d) for d in m.group(2).split(",")) > 1000]


@requires_ml100k
@pytest.mark.parametrize("name,fields", [("ml100k_sasrec", {"history"}),
                                         ("ml100k_content", {"item_features", "user_profiles"})])
def test_the_models_data_enters_the_compiled_steps_as_arguments(name, fields):
  """Histories and TF-IDF bags are arguments of the compiled steps (replicated), not constants baked into them
  (before, the evaluation step held s32[943,16] and the content model's steps four tables of ~1,682 x 32)."""
  config = load_config(name, "smoke")
  plan = program.plan(config)
  built = program.build(config, plan.family, plan.model, plan.mesh, program.example_spec(plan.train_ds.arrays),
                        plan.sched, program.example_spec(plan.eval_ds.arrays))
  for step in (built.train_call, built.eval_call, built.init_state):
    assert set(step.constants) == fields
    for field in fields:
      for got, want in zip(jax.tree.leaves(step.constants[field]), jax.tree.leaves(plan.train_ds.model_fields[field])):
        assert got.sharding.is_fully_replicated
        np.testing.assert_array_equal(np.asarray(got), want)
  assert large_hlo_constants(built.train_call.compiled) == []
  assert large_hlo_constants(built.eval_call.compiled) == []
  assert program.model_constants(ncf.MF(3, 4)) == {}


@requires_ml100k
@pytest.mark.parametrize("name", CONFIGS)
def test_smoke_config_trains(name, tmp_path):
  config = load_config(name, "smoke")
  check_smoke_results(train.run(config, tmp_path), config)


def start_from_parts(config, model, family):
  """The ``warm_start`` of ``config``'s task, given the parts the loop loads for it (``runs.load_parts``)."""
  parts = runs.load_parts(family.parts(config))
  return family.make(config, model, optax.sgd(0.1), tasks.Context(parts)).warm_start


def assert_neumf_joins(config, gmf_run, mlp_run, steps=(None, None)):
  """Checks that the task's ``warm_start``, from the parts the loop loads for ``config``, starts its NeuMF as
  0.5 GMF + 0.5 MLP of the two runs' checkpoints at ``steps`` (None: the newest); returns
  ``(model, task, params, gmf_params)``."""
  (_, gmf, gp), (_, mlp, mp) = (runs.restore_params(run, step=step) for run, step in zip((gmf_run, mlp_run), steps))
  model, task = program.validate(config)
  model = model.clone(num_users=gmf.num_users, num_items=gmf.num_items)
  params = jax.tree.map(jnp.zeros_like, ncf.neumf_from_pretrained(
      {"gmf": gp["tower"], "mlp": mp["tower"], "predict": {"kernel": jnp.zeros((8, 1)), "bias": jnp.zeros(1)}},
      gp, mp))
  joined = start_from_parts(config, model, task)(params)
  users, items = jnp.arange(30) % 11, jnp.arange(30)
  expected = 0.5 * gmf.apply({"params": gp}, users, items) + 0.5 * mlp.apply({"params": mp}, users, items)
  np.testing.assert_allclose(model.apply({"params": joined}, users, items), expected, rtol=1e-5, atol=1e-6)
  return model, task, params, gp


@requires_ml100k
def test_pretrained_neumf_smoke_starts_from_its_parts(tmp_path):
  train.run(load_config("ml100k_gmf", "smoke"), tmp_path / "gmf")
  train.run(load_config("ml100k_mlp", "smoke"), tmp_path / "mlp")
  config = load_config("ml100k_neumf_pretrained", "smoke")
  config.task.pretrained_gmf, config.task.pretrained_mlp = str(tmp_path / "gmf"), str(tmp_path / "mlp")
  model, task, params, _ = assert_neumf_joins(config, tmp_path / "gmf", tmp_path / "mlp")
  config.train.eval_at_start = True
  check_smoke_results(train.run(config, tmp_path / "neumf"), config)
  # A parameter average (optim.ema_decay) starts from the parts too: the same scores before the first update.
  config.optim.ema_decay = 0.99
  train.run(config, tmp_path / "neumf_ema")
  at_start = [[{k: v for k, v in m.items() if k.startswith("test/")} for m in read_metrics(tmp_path / run)
               if m["step"] == 0 and "test/hr@10" in m] for run in ("neumf", "neumf_ema")]
  assert len(at_start[0]) == 1 and at_start[0] == at_start[1]
  # No update (train.num_epochs=0, the ``joined`` variant): the joined parts are read once, and nothing is saved.
  config.optim.ema_decay = 0.0
  config.train.num_steps, config.train.num_epochs = 0, 0
  results = train.run(config, tmp_path / "neumf_joined")
  assert results["steps"] == 0 and not list((tmp_path / "neumf_joined" / "checkpoints").glob("*"))
  assert [{k: v for k, v in m.items() if k not in ("step", "time")} for m in read_metrics(tmp_path / "neumf_joined")
          if m["step"] == 0] == at_start[0]
  config.optim.ema_decay = 0.0
  config.task.pretrained_gmf, config.task.pretrained_mlp = str(tmp_path / "mlp"), str(tmp_path / "gmf")
  with pytest.raises(ValueError, match="expected a GMF"):
    start_from_parts(config, model, task)


def test_best_step_is_the_earliest_highest_hr_on_the_run_s_own_split(tmp_path):
  (tmp_path / "config.json").write_text('{"data": {"eval_split": "validation"}}')
  lines = [{"step": 0, "validation/hr@10": 0.8},  # train.eval_at_start: the initialisation, never "best"
           {"step": 10, "validation/hr@10": 0.5, "test/hr@10": 0.9}, {"step": 20, "validation/hr@10": 0.7},
           {"step": 30, "train/loss": 0.1}, {"step": 40, "validation/hr@10": 0.7}, {"step": 50, "validation/hr@10": 0.6}]
  (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
  assert runs.best_step(str(tmp_path)) == 20
  with pytest.raises(ValueError, match="logs no validation/hr@5"):
    runs.best_step(str(tmp_path), "hr@5")
  (tmp_path / "metrics.jsonl").write_text(json.dumps(lines[0]) + "\n")
  with pytest.raises(ValueError, match="logs no validation/hr@10 after step 0"):
    runs.best_step(str(tmp_path))
  with pytest.raises(ValueError, match="no readable config.json"):
    runs.best_step(str(tmp_path / "missing"))


@pytest.mark.parametrize("data", [{"eval_split": "test"}, {"eval_split": "test2016"},
                                  {"eval_split": "heldout", "test_split": "heldout"}])
def test_best_step_refuses_a_run_that_evaluated_a_test_split(tmp_path, data):
  """Nothing is chosen on a test split (bigjax.selection): a run evaluated on one has no best checkpoint."""
  (tmp_path / "config.json").write_text(json.dumps({"data": data}))
  split = data["eval_split"]
  (tmp_path / "metrics.jsonl").write_text("".join(json.dumps({"step": s, f"{split}/hr@10": hr}) + "\n"
                                                  for s, hr in ((10, 0.5), (20, 0.7))))
  with pytest.raises(selection.SelectionError, match=f"'{split}/hr@10', a metric of the test split '{split}'"):
    runs.best_step(str(tmp_path))


def test_pretrained_checkpoint_best_refuses_parts_evaluated_on_the_test_split(tmp_path):
  """``task.pretrained_checkpoint='best'`` on parts that evaluated the test split (as NCF's code keeps them, at
  their best test HR@10) is refused before any checkpoint is read, naming the field, the run and the test split."""
  for name in ("gmf", "mlp"):
    (tmp_path / name).mkdir()
    (tmp_path / name / "config.json").write_text(json.dumps({"data": {"eval_split": "test", "test_split": ""}}))
    (tmp_path / name / "metrics.jsonl").write_text(json.dumps({"step": 16, "test/hr@10": 0.4}) + "\n")
  config = load_config("ml100k_neumf_pretrained", "smoke")
  config.task.pretrained_gmf, config.task.pretrained_mlp = str(tmp_path / "gmf"), str(tmp_path / "mlp")
  config.task.pretrained_checkpoint = "best"
  gmf = re.escape(f"config.task.pretrained_gmf={str(tmp_path / 'gmf')!r}")
  with pytest.raises(train.ConfigError, match=f"{gmf}: .*'test/hr@10', a metric of the test split 'test'; choose on "
                                              f"a validation split"):
    runs.load_parts(recommendation.parts(config))


@requires_ml100k
def test_pretrained_neumf_from_the_parts_best_checkpoints(tmp_path):
  """``task.pretrained_checkpoint='best'``: each part at the step of its best validation HR@10 (the parts are
  evaluated on the validation split: a best checkpoint is never chosen on test)."""
  part_runs = {}
  for name in ("gmf", "mlp"):
    part = load_config(f"ml100k_{name}", "smoke")
    part.data.eval_split = "validation"
    part.train.num_steps, part.train.eval_every_steps, part.train.checkpoint_every_steps = 64, 16, 16
    part.train.keep_checkpoints = 4
    train.run(part, tmp_path / name)
    part_runs[name] = tmp_path / name
  curves = {name: {json.loads(line)["step"]: json.loads(line)["validation/hr@10"]
                   for line in (run / "metrics.jsonl").read_text().splitlines() if "validation/hr@10" in line}
            for name, run in part_runs.items()}
  assert all(sorted(curve) == [16, 32, 48, 64] for curve in curves.values()), curves
  best = {name: min(step for step, hr in curve.items() if hr == max(curve.values())) for name, curve in curves.items()}
  assert {name: runs.best_step(str(run)) for name, run in part_runs.items()} == best
  config = load_config("ml100k_neumf_pretrained", "smoke")
  config.data.eval_split = "validation"
  config.task.pretrained_gmf, config.task.pretrained_mlp = str(part_runs["gmf"]), str(part_runs["mlp"])
  config.task.pretrained_checkpoint = "best"
  model, task, params, gp = assert_neumf_joins(config, part_runs["gmf"], part_runs["mlp"], (best["gmf"], best["mlp"]))
  if best["gmf"] != 64:  # the latest checkpoint is another model: "best" really picked an older one
    _, _, latest = runs.restore_params(part_runs["gmf"])
    assert not np.allclose(latest["tower"]["user_embedding"], gp["tower"]["user_embedding"])
  config.task.pretrained_checkpoint = "newest"
  with pytest.raises(ValueError, match="pretrained_checkpoint='newest'"):
    start_from_parts(config, model, task)
  with pytest.raises(train.ConfigError, match="no checkpoint at step 8, only at \\[16, 32, 48, 64\\]"):
    runs.restore_params(part_runs["gmf"], step=8)


@requires_ml100k
def test_protocol_spread_rescores_the_run_and_redraws_only_the_negatives(tmp_path):
  spread = load_module(REPO / "experiments" / "ncf" / "protocol_spread.py")
  config = load_config("ml100k_neumf", "smoke")
  train.run(config, tmp_path)
  record = spread.run_spread(tmp_path, [config.data.eval_negatives_seed, 1000, 1001])
  # The run's own seed redrawn is its own candidates: the numbers of its results.json, exactly.
  assert record["draws"][str(config.data.eval_negatives_seed)] == record["own"]
  final = json.loads((tmp_path / "results.json").read_text())["final_metrics"]
  assert record["own"] == pytest.approx({"hr@10": final["test/hr@10"], "ndcg@10": final["test/ndcg@10"]}, abs=1e-6)
  interactions = program.load_split(config.data, "test").vocab.interactions
  other = interactions.test_candidates(1000)
  assert (other[:, 0] == interactions.test_items).all()  # the same held-out items, ...
  assert (other[:, 1:] != interactions.test_candidates(0)[:, 1:]).any(axis=1).mean() > 0.99  # ... other negatives
  assert record["hr@10"]["n"] == 3 and record["hr@10"]["min"] <= record["hr@10"]["mean"] <= record["hr@10"]["max"]
  # A results.json that is not the checkpoint's evaluation is refused, naming the run.
  final["test/hr@10"] += 0.01
  (tmp_path / "results.json").write_text(json.dumps({"final_metrics": final}))
  with pytest.raises(RuntimeError, match=f"{tmp_path}: re-scored hr@10"):
    spread.run_spread(tmp_path, [1000, 1001])
