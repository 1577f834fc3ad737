"""CenterNet on raccoon, from scratch (no pretrained weights). Raccoon (datitran/raccoon_dataset): 200 images, one raccoon or a few each; the published CSV split, train 160 / test 40, with 20 of the train images held out for validation (``vision_sets.load_raccoon``).

The recipe is ``configs/common_detection.py``'s: images letterboxed to 192 x 192, a small residual encoder
with GroupNorm and an FPN-style decoder to stride 4, flip / zoom-and-shift / colour augmentation, Adam at 1e-3
with an EMA of the parameters, batch 16; scored by COCO box AP (mAP@0.5, AP@[.5:.95]) on the original pixels.

Chosen on validation (``choose``: the validation images held out and not trained on, seeds 0-2, no test
image read): the number of epochs, by the best mean validation mAP@0.5. The final runs train on train +
validation and read the test images once, after the last step.

Result: over seeds 0-2, test mAP@0.5 0.6370 ± 0.0382 (target 0.70: missed), AP@[.5:.95] 0.2349 ± 0.0153; 110
epochs. 2-core CPU, jax 0.10.2, 912-1922 s a seed while another run shared the cores
(experiments/vision/RESULTS.md).

Choose:    python -m bigjax.sweep --config=configs/centernet_raccoon.py:choose --workdir=runs/centernet_raccoon_choose
All seeds: python -m bigjax.sweep --config=configs/centernet_raccoon.py --workdir=runs/centernet_raccoon
Variants:  ``choose`` (validation every 5 epochs, no test), ``smoke`` (a few steps of a narrow net, for tests).
"""

from bigjax import configs

common_detection = configs.sibling(__file__, "common_detection")
VARIANTS = common_detection.VARIANTS

EPOCHS = 110        # chosen on validation: the best mean mAP@0.5 of the choose curves (seeds 0-2), step 880 of 8-step epochs
CHOOSE_EPOCHS = 120
CHOOSE_EVERY = 40  # steps: 5 epochs of 8 steps (140 training images, batch 16, the last partial batch dropped)


def get_config(arg: str | None = None):
  return common_detection.detection_config("raccoon", arg, epochs=EPOCHS, choose_epochs=CHOOSE_EPOCHS, choose_every=CHOOSE_EVERY)


def get_sweep(arg: str | None = None):
  return common_detection.seeds_sweep(arg)
