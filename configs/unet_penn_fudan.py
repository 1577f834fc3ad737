"""U-Net on Penn-Fudan pedestrians, person vs background, from scratch: 170 images in the recorded split
(train 100 / validation 20 / test 50, ``bigjax/data/vision_sets.py``), each resized to 128 x 128.

``models/unet.py``'s UNet, 4 levels 16-32-64-128 wide with GroupNorm, trained on whole 128 x 128 images with a
left-right flip, a mild elastic deformation (N(0, 4 px) on a 3 x 3 lattice) and a grey-value change of up to
10%, Adam at 1e-3, batch 8; evaluated by the person IoU and the mean IoU over person and background, pooled over
the split's pixels at 128 x 128 (``tasks/segmentation.py``).

Chosen on validation (``choose``: the 20 validation images held out and not trained on, seeds 0-2, no test image
read): the number of epochs, by the best mean validation mean IoU. The final runs train on train + validation
(120 images) and read the 50 test images once, after the last step.

Result: over seeds 0-2, person IoU 0.6156 ± 0.0259, mean IoU 0.7619 ± 0.0137, pixel error 0.0800 ± 0.0023 (the
best baseline, a location prior: person IoU 0.2804); 40 epochs. 2-core CPU, jax 0.10.2, 711-1060 s a seed while
another run shared the cores (experiments/vision/RESULTS.md).

Choose:    python -m bigjax.sweep --config=configs/unet_penn_fudan.py:choose --workdir=runs/unet_penn_fudan_choose
All seeds: python -m bigjax.sweep --config=configs/unet_penn_fudan.py --workdir=runs/unet_penn_fudan
Variants:  ``choose`` (validation after every 2 epochs, no test), ``smoke`` (a few steps of a narrow net, for tests).
"""

from bigjax.config_base import base_config, smoke

VARIANTS = {"choose": "validation after every 2 epochs, no test: the curves the epochs are chosen on",
            "smoke": "a few steps of a narrow net, for tests"}
EPOCHS = 40          # chosen on validation: the best mean mean IoU of the choose curves (seeds 0-2), the last step tried
CHOOSE_EPOCHS = 40


def get_config(arg: str | None = None):
  if arg and arg not in VARIANTS:
    raise ValueError(f"unknown variant {arg!r} of unet_penn_fudan; known: {', '.join(VARIANTS)}")
  c = base_config()
  c.data.name = "penn_fudan_masks"
  c.data.image_size = 128
  c.data.batch_size = 8
  c.data.eval_batch_size = 50
  c.model.name = "unet.UNet"
  c.model.num_classes = 2
  c.model.widths = (16, 32, 64, 128)
  c.model.norm = "group"
  c.model.impl = "xla"
  c.task.name = "segmentation"
  c.task.crop = 0
  c.task.flips = "horizontal"
  c.task.elastic_grid = 3
  c.task.elastic_sigma = 4.0
  c.task.grey_jitter = 0.1
  c.task.rand_error = False
  c.optim.name = "adam"
  c.optim.lr = 1e-3
  c.train.num_epochs = EPOCHS
  c.train.log_every_steps = 50
  c.data.eval_split = "test"
  c.train.eval_every_steps = c.train.checkpoint_every_steps = 10**9
  if arg == "choose":
    c.data.eval_split = "validation"
    c.train.num_epochs = CHOOSE_EPOCHS
    c.train.eval_every_steps = c.train.checkpoint_every_steps = 24  # 2 epochs of 12 steps (100 images, batch 8)
  elif arg == "smoke":
    c.data.eval_split, c.data.test_split = "validation", "test"
    c.data.image_size = 32
    c.model.widths = (4, 8)
    c.data.batch_size = 2
    smoke(c, steps=2, eval_examples=4)
  return c


def get_sweep(arg: str | None = None):
  from bigjax.sweep import sweep
  return sweep("seed", [0, 1, 2])
