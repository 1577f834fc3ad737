"""MovieLens as implicit feedback: leave-one-out splits, negative sampling and item features for recommendation.

Sources (``config.data.source``; ``auto`` takes the first one present for the dataset):

  ml-100k  ``local``   ``<data_dir>/ml-100k/u.data`` (user, item, rating, timestamp) and ``u.item``
           ``tfds``    TFDS ``movielens/100k-ratings`` (downloads on a machine with internet)
  ml-1m    ``ncf``     the NCF paper's files (He et al. 2017): ``<data_dir>/ml-1m/ncf/ml-1m.{train.rating,
                       test.rating,test.negative}``; its own split and its own 99 test negatives per user
           ``ncf+afcfm`` NCF's split and negatives with its training file rebuilt from the AFCFM pairs
                       (``ml-1m/ncf/ml-1m.test.{rating,negative}`` + ``ml-1m/afcfm/ml-1m.zip``; the id join is
                       cached, ``ncf_join.py``): the paper's protocol where its training file is absent
           ``ratings`` GroupLens' ``<data_dir>/ml-1m/ratings.dat`` (``UserID::MovieID::Rating::Timestamp``)
           ``afcfm``   ``<data_dir>/ml-1m/afcfm/ml-1m.zip``: all 1,000,209 (user, movie) pairs with a
                       one-per-user held-out split, but no ratings or timestamps (see the data MANIFEST)
           ``tfds``    TFDS ``movielens/1m-ratings``

Leave-one-out (``protocol.py``): each user's latest interaction (the largest timestamp; among equal ones the
first listed in the file, or the last with ``config.data.ties = "last"``) is held out for testing, the rest
train; ``ncf``, ``ncf+afcfm`` and ``afcfm`` bring their own held-out item. ``config.data.eval_split =
"validation"`` moves everything one interaction earlier for choosing hyperparameters: each user's latest
training interaction is held out and evaluated the same way, and training leaves it out (the test item stays
out of both).

Test candidates: the held-out item, then 99 negatives. ``ncf`` and ``ncf+afcfm`` use the paper's own (for 156
users they list the held-out item itself, which the evaluation then does not count as a negative, as NCF's does
not); everywhere else they are drawn by ``data.eval_negatives_seed``, recorded with the config.

Sequential models (``data.history_len = L`` > 0, e.g. SASRec): training rows are users, each with
``"sequence" [L + 1]``, their latest L + 1 training items oldest first (the time order of ``train_order``),
left-padded with the id ``num_items``; the model learns to predict each item from the ones before it. The
model scores a user from ``History``, their latest L training items, which it holds as data
(``model_fields["history"]``), so the held-out item is ranked as for every other model.

  files.py            each source's files parsed, read through ``core.read_verified``
  protocol.py         ``Interactions``, dense ids, leave-latest-out and its tie rule, validation split, test negatives
  ncf_join.py         NCF's item ids joined to MovieIDs, cached
  readers.py          one reader per source, and ``read`` that picks one
  instances.py        per-epoch training negatives, full-ranking masks, user histories
  features.py         TF-IDF item features and user profiles
  model_constants.py  ``History`` and ``Bags``: data a model holds (pytrees the compiled steps take as arguments)
  dataset.py          ``load``: a split as the loop batches it
"""

from bigjax.data.movielens.dataset import SPLITS, Vocab, load
from bigjax.data.movielens.features import content_features
from bigjax.data.movielens.files import afcfm_pairs
from bigjax.data.movielens.instances import CandidateMask, EpochItems, latest_items, sample_negatives
from bigjax.data.movielens.model_constants import Bags, History
from bigjax.data.movielens.ncf_join import NcfJoin, ncf_afcfm_join, ncf_item_map
from bigjax.data.movielens.protocol import (NUM_TEST_NEGATIVES, TIES, Interactions, from_events, leave_latest_out,
                                            time_order)
from bigjax.data.movielens.readers import (DATASETS, SOURCES, read, read_ml1m_afcfm, read_ml1m_ncf,
                                           read_ml1m_ncf_afcfm, read_ml1m_ratings, read_ml100k, read_tfds)

__all__ = ["Bags", "CandidateMask", "DATASETS", "EpochItems", "History", "Interactions", "NUM_TEST_NEGATIVES",
           "NcfJoin", "SOURCES", "SPLITS", "TIES", "Vocab", "afcfm_pairs", "content_features", "from_events",
           "latest_items", "leave_latest_out", "load", "ncf_afcfm_join", "ncf_item_map", "read", "read_ml100k",
           "read_ml1m_afcfm", "read_ml1m_ncf", "read_ml1m_ncf_afcfm", "read_ml1m_ratings", "read_tfds",
           "sample_negatives", "time_order"]
