"""CenterNet on penn-fudan, from scratch (no pretrained weights). Penn-Fudan pedestrians: 170 images, 423 people (boxes from the annotation files); the recorded split train 100 / validation 20 / test 50 (``vision_sets.load_penn_fudan``).

The recipe is ``configs/common_detection.py``'s: images letterboxed to 192 x 192, a small residual encoder
with GroupNorm and an FPN-style decoder to stride 4, flip / zoom-and-shift / colour augmentation, Adam at 1e-3
with an EMA of the parameters, batch 16; scored by COCO box AP (mAP@0.5, AP@[.5:.95]) on the original pixels.

Chosen on validation (``choose``: the validation images held out and not trained on, seeds 0-2, no test
image read): the number of epochs, by the best mean validation mAP@0.5. The final runs train on train +
validation and read the test images once, after the last step.

Result: over seeds 0-2, test mAP@0.5 0.8219 ± 0.0067, AP@[.5:.95] 0.3727 ± 0.0082; 120 epochs.
2-core CPU, jax 0.10.2, 644-1208 s a seed, the slowest while the test suite shared the cores
(experiments/vision/RESULTS.md).

Choose:    python -m bigjax.sweep --config=configs/centernet_penn_fudan.py:choose --workdir=runs/centernet_penn_fudan_choose
All seeds: python -m bigjax.sweep --config=configs/centernet_penn_fudan.py --workdir=runs/centernet_penn_fudan
Variants:  ``choose`` (validation every 5 epochs, no test), ``smoke`` (a few steps of a narrow net, for tests).
"""

from bigjax import configs

common_detection = configs.sibling(__file__, "common_detection")
VARIANTS = common_detection.VARIANTS

EPOCHS = 120        # chosen on validation: the best mean mAP@0.5 of the choose curves (seeds 0-2), step 720 of 6-step epochs, the last tried
CHOOSE_EPOCHS = 120
CHOOSE_EVERY = 30  # steps: 5 epochs of 6 steps (100 training images, batch 16, the last partial batch dropped)


def get_config(arg: str | None = None):
  return common_detection.detection_config("penn_fudan", arg, epochs=EPOCHS, choose_epochs=CHOOSE_EPOCHS, choose_every=CHOOSE_EVERY)


def get_sweep(arg: str | None = None):
  return common_detection.seeds_sweep(arg)
