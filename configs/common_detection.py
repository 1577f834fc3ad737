"""The detection family's recipe (``bigjax/tasks/detection.py``, ``models/centernet.py``), shared by
centernet_raccoon, centernet_kangaroo and centernet_penn_fudan: everything but the set, its epochs and the
steps between the choose runs' evaluations.

CenterNet from scratch: images letterboxed to 192 x 192 (``vision_sets.detection_dataset``), a 5-level
residual encoder 16-32-64-128-256 wide with GroupNorm and an FPN-style decoder to stride 4, heads 64 wide;
augmented by a left-right flip, a zoom of 0.6-1.4 with a shift of up to 20% of the side, and a colour change of
up to 30%; Adam at 1e-3 after a 100-step warm-up, batch 16, and the evaluated parameters an exponential moving
average of the trained ones (decay 0.99, about 100 steps); decoded to the 100 best peaks, no NMS. Scored by
COCO's box AP on the original images' pixels: mAP@0.5 (``map50``), AP@[.5:.95] (``map``), AP@0.75.

Variants: ``choose`` (the validation images held out and not trained on; validation every ``choose_every``
steps, no test image read; the curves the epochs are chosen on), the default (train + validation, the test
images read once, after the last step), ``smoke`` (a few steps of a narrow net on small images, for tests).
"""

from bigjax.config_base import base_config, smoke

VARIANTS = {"choose": "validation during training, no test: the curves the epochs are chosen on",
            "smoke": "a few steps of a narrow net on small images, for tests"}


def add_fields(c):
  """The detection family's fields (``tasks/detection.py`` and ``vision_sets.detection_dataset`` read them), at
  the recipe's values."""
  c.data.image_size = 192         # raccoons span 150 px of 256 (median); 192 costs 0.56x the step time
  c.data.max_boxes = 16
  c.task.flip = True
  c.task.scale_min = 0.6
  c.task.scale_max = 1.4
  c.task.shift = 0.2              # of the image's side, each way
  c.task.colour_jitter = 0.3
  c.task.min_overlap = 0.7        # the Gaussians' radius rule (CornerNet's)
  c.task.size_weight = 0.1
  c.task.offset_weight = 1.0
  c.task.max_detections = 100
  c.task.nms_iou = 0.0            # > 0: per-class NMS after decoding (the paper uses none)
  c.task.show_threshold = 0.3     # detections drawn in the predictions picture
  return c


def detection_config(name: str, arg: str | None, *, epochs: float, choose_epochs: float, choose_every: int):
  if arg and arg not in VARIANTS:
    raise ValueError(f"unknown variant {arg!r} of centernet_{name}; known: {', '.join(VARIANTS)}")
  c = add_fields(base_config())
  c.data.name = name
  c.data.batch_size = 16
  c.data.eval_batch_size = 25
  c.model.name = "centernet.CenterNet"
  c.model.num_classes = 1
  c.model.widths = (16, 32, 64, 128, 256)
  c.model.stride = 4
  c.model.head_width = 64
  c.model.impl = "xla"
  c.task.name = "detection"
  c.optim.name = "adam"
  c.optim.lr = 1e-3
  c.optim.schedule = "warmup_cosine"
  c.optim.warmup_steps = 100
  c.optim.end_lr_factor = 1.0     # after the warm-up the rate stays at lr: the epochs are chosen on the curves
  c.optim.ema_decay = 0.99
  c.train.num_epochs = epochs
  c.train.log_every_steps = 20
  c.data.eval_split = "test"
  c.train.eval_every_steps = c.train.checkpoint_every_steps = 10**9
  if arg == "choose":
    c.data.eval_split = "validation"
    c.train.num_epochs = choose_epochs
    c.train.eval_every_steps = c.train.checkpoint_every_steps = choose_every
  elif arg == "smoke":
    c.data.eval_split, c.data.test_split = "validation", "test"
    c.data.image_size = 64
    c.data.batch_size = 4
    c.data.eval_batch_size = 4
    c.model.widths = (4, 8, 8)
    c.model.head_width = 8
    c.optim.warmup_steps = 1
    smoke(c, steps=2, eval_examples=4)
  return c


def seeds_sweep(arg: str | None = None):
  from bigjax.sweep import sweep
  return sweep("seed", [0, 1, 2])
