"""Recommendation on MovieLens (bigjax/data/movielens, bigjax/tasks/recommendation.py): the fields those runs
read, with their defaults, and He et al. (2017)'s NCF recipe shared by the ml100k_*, ml1m_* and ncf_ablation
configs."""

import ml_collections

from bigjax.config_base import smoke

# The variants ncf_variant accepts; each NCF config's VARIANTS starts from these.
VARIANTS = {"smoke": "a tiny model of the same kind, 32 steps on 256 users, for tests",
            "validation": "evaluated on the validation split (latest training item), for choosing hyperparameters"}


def add_fields(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  c.data.source = "auto"          # which copy of the dataset to read (bigjax/data/movielens)
  c.data.num_negatives = 4        # negatives drawn per positive, redrawn every epoch (NCF's 4)
  c.data.pairs = False            # (positive, negatives) pairs for BPR instead of pointwise rows
  c.data.eval_negatives_seed = 0  # seed of the 99 test negatives where the source has none
  c.data.ties = "first"           # of a user's ratings in their last second, the one listed "first" or "last"
                                  # in the file is held out (sources with timestamps)
  c.data.full_ranking = False     # also rank the held-out item against every item
  c.data.item_features = False    # TF-IDF item features and user profiles for the model
  c.data.history_len = 0          # > 0: train on each user's latest N training items in order
  c.task.top_k = (10,)            # cut-offs of HR@K / NDCG@K (NCF's HR@10)
  c.task.embedding_l2 = 0.0       # L2 weight on the id-embedding rows each example reads
  c.task.pretrained_gmf = ""      # NeuMF: workdir of a trained GMF to start the GMF part from
  c.task.pretrained_mlp = ""      # NeuMF: workdir of a trained MLP to start the MLP part from
  c.task.pretrained_alpha = 0.5   # NeuMF: weight of the GMF part in the joined output layer
  c.task.pretrained_checkpoint = "latest"  # NeuMF: each part's latest checkpoint, or "best" (hr@K on the
                                           # part's eval_split, which must not be a test split)
  return c


def ncf(c: ml_collections.ConfigDict, dataset: str, model: str) -> ml_collections.ConfigDict:
  """He et al. (2017)'s NCF protocol on MovieLens (``ml-100k`` or ``ml-1m``) for ``model`` (``ncf.<Class>``).

  Implicit feedback, 4 negatives per positive redrawn every epoch, Adam 1e-3, batch 256, 20 epochs,
  evaluated about once per epoch (every whole number of 128-step calls nearest to an epoch) by leave-one-out
  HR@10 / NDCG@10 (held-out item among 100 candidates) and by full ranking.
  """
  add_fields(c)
  c.data.name = dataset
  c.data.train_split = "train"
  c.data.eval_split = "test"
  c.data.batch_size = 256
  c.data.eval_batch_size = 1024   # users per evaluation batch (the last one padded); divides 8-device meshes
  c.data.full_ranking = True
  c.model.name = model
  c.model.num_users = 0           # from the data
  c.model.num_items = 0
  c.task.name = "recommendation"
  c.task.loss = "log_loss"
  c.optim.name = "adam"
  c.optim.lr = 1e-3
  c.train.num_epochs = 20
  c.train.steps_per_call = 128
  c.train.log_every_steps = 1024
  return c


def ncf_variant(c: ml_collections.ConfigDict, variant: str | None,
                known: dict[str, str] = VARIANTS) -> ml_collections.ConfigDict:
  """``smoke``: a tiny model of the same kind (4 factors: MLP tower 32-16-8-4) for 32 steps on 256 test users.
  ``validation``: the same run evaluated on the validation split (each user's latest training item held out),
  for choosing hyperparameters without the test items. ``known``: the calling config's VARIANTS, named when
  ``variant`` is none of them."""
  if variant == "validation":
    c.data.eval_split = "validation"
  elif variant == "smoke":
    if "factors" in c.model:
      c.model.factors = 4
    c.data.eval_batch_size = 128
    smoke(c, steps=32, eval_examples=256)
    c.train.steps_per_call = 8
    c.train.log_every_steps = 8
  elif variant:
    raise ValueError(f"unknown variant {variant!r}; known: {', '.join(known)}")
  return c
