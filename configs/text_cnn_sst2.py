"""Kim (2014) CNN-rand on SST-2, sentence level (6,920 train / 872 dev / 1,821 test).

The recipe of configs/text_cnn_mr.py (``config_base.kim_cnn``). Kim's 82.7% (CNN-rand) trained on SST's
phrase-level data as well, which is not available here: these runs train on the 6,920 sentences only.

Command:  python -m bigjax.main --config=configs/text_cnn_sst2.py --workdir=runs/text_cnn_sst2
Result:   see experiments/sentence_classification/RESULTS.md.
Variants: ``smoke`` (a few steps, for tests).
"""

from bigjax.config_base import base_config, kim_cnn, sentence_classification


def get_config(arg: str | None = None):
  return kim_cnn(sentence_classification(base_config(), "sst2"), arg)
