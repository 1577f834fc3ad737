"""Kim (2014) CNN-rand on SST-2, sentence level (6,920 train / 872 dev / 1,821 test).

The recipe of configs/text_cnn_mr.py (``common_text.kim_cnn``), trained for 2 epochs: the number of epochs
chosen on SST-2's dev split, as Kim stopped early on dev (dev accuracy peaks at 80.9% after epoch 2 and
falls to 78% by epoch 10 as the model overfits; record experiments/sentence_classification/runs/
text_cnn_sst2_dev, made with ``--config.data.eval_split=dev``). Kim's 82.7% (CNN-rand) trained on SST's
phrase-level data as well, which is not available here: these runs train on the 6,920 sentences only.

Command:  python -m bigjax.main --config=configs/text_cnn_sst2.py --workdir=runs/text_cnn_sst2
Result:   82.43%† test accuracy (seed 0); 115 s† on a 2-core CPU. experiments/sentence_classification/RESULTS.md.
          † its record's git revision ends in -dirty: run from uncommitted changes; rerun to clear.
Variants: ``smoke`` (a few steps, for tests).
"""

from bigjax import configs
from bigjax.config_base import base_config

common_text = configs.sibling(__file__, "common_text")

VARIANTS = {**common_text.VARIANTS}


def get_config(arg: str | None = None):
  c = common_text.kim_cnn(common_text.sentence_classification(base_config(), "sst2"), arg)
  if not arg:
    c.train.num_epochs = 2  # chosen on the dev split (see above)
  return c
