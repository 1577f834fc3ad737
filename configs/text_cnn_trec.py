"""Kim (2014) CNN-rand on TREC question classification (6 classes; 5,452 train / 500 test).

Kim's recipe as configs/text_cnn_mr.py has it (``common_text.kim_cnn``), 10 epochs, on TREC's fixed split;
nothing chosen (the test split is read after the last epoch).

Command:  python -m bigjax.main --config=configs/text_cnn_trec.py --workdir=runs/text_cnn_trec
Result:   91.40%† test accuracy (seed 0; Kim's CNN-rand: 91.2%); 222 s† on a 2-core CPU shared with another run.
          experiments/sentence_classification/RESULTS.md.
          † its record's git revision ends in -dirty: run from uncommitted changes; rerun to clear.
Variants: ``smoke`` (a few steps, for tests).
"""

from bigjax import configs
from bigjax.config_base import base_config

common_text = configs.sibling(__file__, "common_text")

VARIANTS = {**common_text.VARIANTS}


def get_config(arg: str | None = None):
  return common_text.kim_cnn(common_text.sentence_classification(base_config(), "trec"), arg)
