"""A MovieLens split as the loop batches it: ``load(config.data, split, root)`` -> ``Dataset``."""

import dataclasses
import hashlib
import json
import pathlib

import numpy as np

from bigjax.data.core import Dataset
from bigjax.data.movielens.features import content_features
from bigjax.data.movielens.instances import CandidateMask, EpochItems, latest_items
from bigjax.data.movielens.model_constants import History
from bigjax.data.movielens.protocol import Interactions, shared_validation_split
from bigjax.data.movielens.readers import read

SPLITS = ("train", "validation", "test")


@dataclasses.dataclass(frozen=True, eq=False)
class Vocab:
  """What the run saves as ``vocab.json``: the id maps, so that a resume on changed data is refused."""
  interactions: Interactions
  eval_negatives_seed: int

  def __len__(self) -> int:
    return self.interactions.num_items

  def to_json(self) -> str:
    i = self.interactions
    digest = hashlib.sha1(i.train_keys.tobytes() + i.test_items.tobytes()).hexdigest()
    return json.dumps({"dataset": i.name, "num_users": i.num_users, "num_items": i.num_items,
                       "train_interactions": int(len(i.train_items)), "split_sha1": digest,
                       "test_negatives": "source" if i.test_negatives is not None
                       else f"sampled, seed {self.eval_negatives_seed}",
                       "item_raw_ids": i.item_raw_ids.tolist()})


def load(data_config, split: str, root: pathlib.Path) -> Dataset:
  """The ``split`` of a MovieLens dataset as the loop batches it.

  train: ``{"user": [N], "item": [N], "label": [N] float32}`` (pointwise) or ``{"user": [P], "item": [P],
  "negative": [P, n]}`` (``data.pairs``, BPR) or ``{"user": [U], "sequence": [U, L + 1]}`` (``data.history_len``
  L > 0; ``model_fields["history"]`` then holds each user's latest L training items). test: ``{"user": [U],
  "candidates": [U, 100]}`` plus ``"seen": [U, num_items]`` bool when ``data.full_ranking`` (training items,
  excluded from full ranking).
  """
  name = data_config.name
  if split not in SPLITS:
    raise ValueError(f"{name} has splits {SPLITS}, not {split!r} (config.data.train_split/eval_split)")
  if (split == "validation") != (data_config.eval_split == "validation") and split != "train":
    raise ValueError(f"{name}: split {split!r} with config.data.eval_split={data_config.eval_split!r}; the "
                     f"validation split trains without each user's latest training item, so evaluate on it only as "
                     f"eval_split")
  interactions = read(name, data_config.source, root, data_config.ties)
  if data_config.eval_split == "validation":  # hyperparameter search: both splits one interaction earlier
    interactions = shared_validation_split(interactions)
  n = data_config.num_negatives
  if n < 1:
    raise ValueError(f"config.data.num_negatives={n}: implicit feedback needs >= 1 negative per positive")
  vocab = Vocab(interactions, data_config.eval_negatives_seed)
  fields = {"num_users": interactions.num_users, "num_items": interactions.num_items}
  if data_config.item_features:
    fields["item_features"], fields["user_profiles"] = content_features(interactions)
  length = data_config.history_len
  if length:
    sequences = latest_items(interactions, length + 1)
    fields["history"] = History(np.ascontiguousarray(sequences[:, 1:]), interactions.num_items)
  if split == "train" and length:
    arrays = {"user": np.arange(interactions.num_users, dtype=np.int32), "sequence": sequences}
  elif split == "train":
    p = len(interactions.train_items)
    if data_config.pairs:
      arrays = {"user": interactions.train_users, "item": interactions.train_items,
                "negative": EpochItems(interactions, n, pairs=True)}
    else:
      arrays = {"user": np.tile(interactions.train_users, 1 + n), "item": EpochItems(interactions, n, pairs=False),
                "label": np.repeat(np.array([1.0, 0.0], np.float32), [p, p * n])}
  else:
    users = np.arange(interactions.num_users, dtype=np.int32)
    arrays = {"user": users, "candidates": interactions.test_candidates(data_config.eval_negatives_seed)}
    if data_config.full_ranking:
      arrays["seen"] = CandidateMask(interactions, users)
  return Dataset(arrays, num_classes=0, name=f"{interactions.name}:{split}", vocab=vocab, model_fields=fields)
