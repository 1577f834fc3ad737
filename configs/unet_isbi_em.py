"""U-Net on the ISBI 2012 EM membrane slices, from scratch: 30 labelled 512 x 512 slices in 5 recorded folds.

The challenge never released its test labels, so the measure is 5-fold cross-validation over the 30 training
slices (``bigjax/data/vision_sets.py``: ``isbi_em_fold``; contiguous folds of 6, neighbouring slices showing the
same cells). ``models/unet.py``'s UNet, 4 levels 16-32-64-128 wide with GroupNorm, trained on 128 x 128 windows
of the slices with the paper's augmentation (a random flip/rotation, an elastic deformation: N(0, 10 px) on a
3 x 3 lattice, bicubically interpolated; a grey-value change of up to 10%), Adam at 1e-3, 8 windows a step;
evaluated on whole slices (pixel error, foreground IoU of the cell interior, Rand error, ``tasks/segmentation.py``).

Chosen on validation (``choose``: the next fold's 6 slices held out and not trained on, folds 0-2, no test slice
read): the number of steps, by the lowest mean validation Rand error. The final runs train on all 24 slices of
their fold and read its 6 test slices once, after the last step.

Result: over the 5 test folds, pixel error 0.0866 ± 0.0076, foreground IoU 0.8952 ± 0.0116, Rand error
0.1972 ± 0.1075 (the grey-threshold baseline: Rand error 0.92); 800 steps. 2-core CPU, jax 0.10.2, 969-1207 s a
fold while another run shared the cores (experiments/vision/RESULTS.md).

Choose:    python -m bigjax.sweep --config=configs/unet_isbi_em.py:choose --workdir=runs/unet_isbi_em_choose
All folds: python -m bigjax.sweep --config=configs/unet_isbi_em.py --workdir=runs/unet_isbi_em
Variants:  ``choose`` (validation every 50 steps, no test), ``smoke`` (a few steps of a narrow net, for tests).
"""

from bigjax.config_base import base_config, smoke

VARIANTS = {"choose": "validation every 50 steps, no test: the curves the steps are chosen on",
            "smoke": "a few steps of a narrow net, for tests"}
STEPS = 800          # chosen on validation: the lowest mean Rand error of the choose curves (folds 0-2), the last step tried
CHOOSE_STEPS = 800


def get_config(arg: str | None = None):
  if arg and arg not in VARIANTS:
    raise ValueError(f"unknown variant {arg!r} of unet_isbi_em; known: {', '.join(VARIANTS)}")
  c = base_config()
  c.data.name = "isbi_em"
  c.data.fold = 0                 # which of the 5 recorded folds is tested (isbi_em_fold)
  c.data.batch_size = 8
  c.data.eval_batch_size = 6
  c.model.name = "unet.UNet"
  c.model.num_classes = 2
  c.model.widths = (16, 32, 64, 128)
  c.model.norm = "group"
  c.model.impl = "xla"            # XLA's convolution: 1.5x the patches matmul's steps/s for this net on CPU
  c.task.name = "segmentation"
  c.task.crop = 128
  c.task.flips = "dihedral"
  c.task.elastic_grid = 3
  c.task.elastic_sigma = 10.0
  c.task.grey_jitter = 0.1
  c.task.rand_error = True
  c.optim.name = "adam"
  c.optim.lr = 1e-3
  c.train.num_steps = STEPS
  c.train.log_every_steps = 50
  # The test slices are read once, after the last step: the only evaluation of a final run.
  c.data.eval_split = "test"
  c.train.eval_every_steps = c.train.checkpoint_every_steps = 10**9
  if arg == "choose":
    c.data.eval_split = "validation"
    c.train.num_steps = CHOOSE_STEPS
    c.train.eval_every_steps = c.train.checkpoint_every_steps = 50
  elif arg == "smoke":
    c.data.eval_split, c.data.test_split = "validation", "test"
    c.model.widths = (4, 8)
    c.task.crop = 32
    c.data.batch_size = 2
    smoke(c, steps=2, eval_examples=2)
  return c


def get_sweep(arg: str | None = None):
  from bigjax.sweep import sweep
  return sweep("data.fold", [0, 1, 2] if arg == "choose" else list(range(5)))
