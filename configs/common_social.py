"""Rating prediction with trust (bigjax/data/social.py, bigjax/models/social.py, bigjax/tasks/rating.py): the
fields those runs read, with their defaults, and the recipe the social_* configs share.

The protocol: 5-fold cross-validation on the ratings (``data.fold`` 0-4 is the test fold); inside each training
fold a seeded 10% is the validation split. A run trains on the rest of the training fold and is scored on its
validation split only (no ``test_split``). Per fold, ``get_sweep``'s regularisation weights are tried and
``scripts/social_cv.py`` picks the one of lowest validation RMSE, then scores that run, and only it, on the test
fold. RMSE and MAE over all test ratings and over cold-start users' (fewer than 5 training ratings).
"""

import ml_collections

from bigjax.config_base import smoke

# Variant -> the model it trains (models/social.py), and its description.
MODELS = {"biased_mf": ("social.BiasedMF", "biased matrix factorisation, no trust (Koren et al. 2009)"),
          "svdpp": ("social.SVDpp", "SVD++, ratings' implicit feedback, no trust (Koren 2008)"),
          "sorec": ("social.SoRec", "SoRec: ratings and trust factorised together (Ma et al. 2008)"),
          "socialmf": ("social.SocialMF", "SocialMF: users drawn towards their trustees (Jamali & Ester 2010)"),
          "trustsvd": ("social.TrustSVD", "TrustSVD: SVD++ with trusted users (Guo et al. 2015)"),
          "socialgcn": ("social.SocialGCN", "LightGCN-style propagation over ratings and trust edges"),
          "gcn": ("social.SocialGCN", "the same graph model without trust edges")}
VARIANTS = {**{name: description for name, (_, description) in MODELS.items()},
            "smoke": "TrustSVD with 4 factors for a few steps, for tests"}


def add_fields(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  c.data.fold = 0                 # the test fold, 0..4
  c.data.split_seed = 0           # seed of the folds and of each training fold's validation 10%
  return c


def social(c: ml_collections.ConfigDict, dataset: str, variant: str | None) -> ml_collections.ConfigDict:
  """``dataset``'s fold 0 for the model of ``variant`` (TrustSVD when None): validated on the training fold's
  validation 10%, tested once on the fold."""
  if variant is not None and variant not in VARIANTS:
    raise ValueError(f"unknown variant {variant!r} of social_{dataset}; known: {', '.join(VARIANTS)}")
  add_fields(c)
  c.data.name = dataset
  c.data.eval_split = "validation"
  c.data.test_split = ""          # the test fold is read once, by scripts/social_cv.py, for the chosen run
  c.data.batch_size = 512
  c.data.eval_batch_size = 4096
  model = "trustsvd" if variant in (None, "smoke") else variant
  c.model.name = MODELS[model][0]
  c.model.num_users = 0           # the data's, as are global_mean, num_ratings, the rating scale and relations
  c.model.num_items = 0
  c.model.factors = 10
  c.model.reg = 0.1
  c.model.trust_reg = 0.5
  if model == "trustsvd":
    c.model.regularisation = "per_rating"  # as LibRec's SGD applies the paper's terms (models/social.py)
    c.model.reg = c.model.trust_reg = 1.0  # get_sweep chooses per fold
  if model in ("socialgcn", "gcn"):
    c.model.layers = 2
    c.model.trust_edges = model == "socialgcn"
  c.task.name = "rating"
  c.optim.name = "adam"
  c.optim.lr = 3e-3
  c.train.num_epochs = 30
  c.train.steps_per_call = 8
  c.train.log_every_steps = 64
  if variant == "smoke":
    c.data.test_split = "test"
    c.model.factors = 4
    c.data.batch_size = 64
    c.data.eval_batch_size = 256
    smoke(c, steps=16, eval_examples=512)
  return c


REGULARISATION = (0.03, 0.1, 0.3, 1.0, 3.0)  # lambda (with lambda_t = lambda for the trust models)
TRUST_MODELS = ("sorec", "socialmf", "trustsvd")


def sweep(variant: str | None):
  """Folds 0-4 x the regularisation weights of ``REGULARISATION`` (lambda_t tied to lambda for the trust
  models): each point trains on its fold's training part and is scored on its validation 10%."""
  from bigjax.sweep import product, sweep as points, zip_
  if variant == "smoke":
    raise ValueError("the smoke variant has no sweep")
  weights = points("model.reg", list(REGULARISATION))
  if (variant or "trustsvd") in TRUST_MODELS:
    weights = zip_(weights, points("model.trust_reg", list(REGULARISATION)))
  return product(points("data.fold", list(range(5))), weights)
