"""CenterNet on kangaroo, from scratch (no pretrained weights). Kangaroo (experiencor/kangaroo): 164 images, 266 kangaroos; the recorded split train 114 / validation 18 / test 32 (``vision_sets.load_kangaroo``).

The recipe is ``configs/common_detection.py``'s: images letterboxed to 192 x 192, a small residual encoder
with GroupNorm and an FPN-style decoder to stride 4, flip / zoom-and-shift / colour augmentation, Adam at 1e-3
with an EMA of the parameters, batch 16; scored by COCO box AP (mAP@0.5, AP@[.5:.95]) on the original pixels.

Chosen on validation (``choose``: the validation images held out and not trained on, seeds 0-2, no test
image read): the number of epochs, by the best mean validation mAP@0.5. The final runs train on train +
validation and read the test images once, after the last step.

Result: over seeds 0-2, test mAP@0.5 0.3564 ± 0.0314, AP@[.5:.95] 0.0949 ± 0.0085; 115 epochs. 2-core CPU,
jax 0.10.2, 953-1162 s a seed while another run shared the cores (experiments/vision/RESULTS.md).

Choose:    python -m bigjax.sweep --config=configs/centernet_kangaroo.py:choose --workdir=runs/centernet_kangaroo_choose
All seeds: python -m bigjax.sweep --config=configs/centernet_kangaroo.py --workdir=runs/centernet_kangaroo
Variants:  ``choose`` (validation every 5 epochs, no test), ``smoke`` (a few steps of a narrow net, for tests).
"""

from bigjax import configs

common_detection = configs.sibling(__file__, "common_detection")
VARIANTS = common_detection.VARIANTS

EPOCHS = 115        # chosen on validation: the best mean mAP@0.5 of the choose curves (seeds 0-2), step 805 of 7-step epochs
CHOOSE_EPOCHS = 120
CHOOSE_EVERY = 35  # steps: 5 epochs of 7 steps (114 training images, batch 16, the last partial batch dropped)


def get_config(arg: str | None = None):
  return common_detection.detection_config("kangaroo", arg, epochs=EPOCHS, choose_epochs=CHOOSE_EPOCHS, choose_every=CHOOSE_EVERY)


def get_sweep(arg: str | None = None):
  return common_detection.seeds_sweep(arg)
