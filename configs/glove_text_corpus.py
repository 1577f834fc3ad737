"""GloVe (Pennington et al. 2014) on the 12.4M-word English corpus, beside word2vec_text_corpus.

Co-occurrence counts within 10 words, weighted 1/distance, left and right, in sentences (counted once and
cached: bigjax/data/cooccurrence.py), the same vocabulary as Word2Vec (words seen 5 times or more); weighted
least squares with x_max 100 and alpha 3/4; AdaGrad at 0.05 from accumulators of 1 (the GloVe tool's), 2,048
entries per update; 100 dimensions; W + W~ published (bigjax/tasks/glove.py). The co-occurrences of the corpus'
last 0.5% are held out: their cost is the curve.

Command:  python -m bigjax.main --config=configs/glove_text_corpus.py --workdir=runs/embeddings/glove
Variants: ``smoke`` (the Lee corpus, 16 dimensions, a few steps; for tests).
"""

from bigjax import configs
from bigjax.config_base import base_config, smoke

common_embeddings = configs.sibling(__file__, "common_embeddings")

VARIANTS = {"smoke": "the Lee corpus, 16 dimensions, a few steps; for tests"}


def get_config(arg: str | None = None):
  c = common_embeddings.glove(common_embeddings.add_fields(base_config()))
  if arg == "smoke":
    c.data.name = "lee"
    c.data.batch_size = 1024
    c.data.eval_batch_size = 4096
    c.model.features = 16
    c.train.steps_per_call = 4
    smoke(c, steps=8, eval_examples=4096)
  elif arg:
    raise ValueError(f"unknown variant {arg!r} of glove_text_corpus; known: {', '.join(VARIANTS)}")
  return c
