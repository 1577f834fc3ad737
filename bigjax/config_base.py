"""The loop's fields, with their defaults; experiment files in ``configs/`` start here.

A family's own fields (sentence sets, MovieLens, GANs) are added by its recipe module beside the configs,
``configs/common_*.py``, so a run's ``config.json`` holds only what its family reads. Configs are locked
after ``get_config`` so that a typo on the command line (``--config.optim.lrr=1``) or a wrong type fails
before any compute.
"""

import ml_collections


def base_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.seed = 0

  c.data = ml_collections.ConfigDict()
  c.data.name = "digits"          # digits | mnist | fashion_mnist | tfds:<name>
  c.data.data_dir = ""            # "" -> $BIGJAX_DATA_DIR or <repo>/../shared/data
  c.data.train_split = "train"
  c.data.eval_split = "test"      # evaluated during training: the curves, and the split anything is chosen on
  c.data.test_split = ""          # evaluated once, after the last step (bigjax.selection: choose on eval_split)
  c.data.batch_size = 32          # global, over all processes and devices
  c.data.eval_batch_size = 500
  c.data.eval_examples = 0        # > 0: evaluate on the first N examples of eval/test_split only (smoke tests)
  c.data.shuffle = True
  c.data.prefetch = -1            # batches assembled ahead by a background thread; -1: 0 on CPU, 2 elsewhere

  c.model = ml_collections.ConfigDict()
  c.model.name = "mlp.MLP"        # <file in bigjax/models>.<Class>; other fields are its constructor args
  c.model.dtype = "float32"       # computation: "bfloat16" is mixed precision (bigjax/models/precision.py)
  c.model.param_dtype = "float32"  # storage of the parameters and the optimizer's moments

  c.task = ml_collections.ConfigDict()
  c.task.name = "classification"
  c.task.loss = "softmax_xent"

  c.optim = ml_collections.ConfigDict()
  c.optim.name = "adam"
  c.optim.lr = 1e-3
  c.optim.b1 = 0.9
  c.optim.b2 = 0.999
  c.optim.eps = 1e-8
  c.optim.momentum = 0.9
  c.optim.nesterov = False
  c.optim.initial_accumulator = 0.1  # adagrad: the starting sum of squared gradients (optax's default)
  c.optim.weight_decay = 0.0
  c.optim.schedule = "constant"
  c.optim.warmup_steps = 0
  c.optim.cooldown_steps = 0      # schedule "cooldown": the last N steps decay linearly to lr * end_lr_factor
  c.optim.end_lr_factor = 0.0
  c.optim.clip_norm = 0.0
  c.optim.ema_decay = 0.0         # > 0: evaluate, checkpoint and restore a moving average of the parameters

  c.train = ml_collections.ConfigDict()
  c.train.num_epochs = 10.0      # 0 (with num_steps 0): no update, the start is evaluated (a warm start's parts)
  c.train.num_steps = 0           # > 0 overrides num_epochs
  c.train.steps_per_call = 1      # optimizer steps per jitted call (lax.scan); same updates, less dispatch
  c.train.log_every_steps = 100
  c.train.eval_every_steps = 0    # 0 -> once per epoch
  c.train.eval_at_start = False   # also evaluate the initial parameters, at step 0 (NCF's code does)
  c.train.checkpoint_every_steps = 0  # 0 -> once per epoch
  c.train.keep_checkpoints = 3
  c.train.async_checkpoint = True
  c.train.peak_tflops = 0.0       # one device's peak for perf/mfu; 0: bigjax's table (parallel.PEAK_TFLOPS) by device kind
  c.train.profile_steps = ""      # "A:B": a jax.profiler trace of steps A..B into WORKDIR/tensorboard (its profile tab)
  c.writers = ml_collections.ConfigDict()  # besides TensorBoard and metrics.jsonl, which are always written
  c.writers.wandb = False         # also log to Weights & Biases (pip install wandb), process 0 only
  c.writers.wandb_project = "bigjax"
  c.writers.wandb_mode = ""       # "offline": WORKDIR/wandb only, `wandb sync` later; "": $WANDB_MODE, else online

  c.mesh = ml_collections.ConfigDict()
  c.mesh.data = -1                # -1 takes the devices the other axes leave
  c.mesh.fsdp = 1
  c.mesh.tensor = 1

  c.sharding = ml_collections.ConfigDict()
  c.sharding.rules = ()           # ((regex on 'params/Dense_0/kernel'-style paths, (axis per dim, ...)), ...)
  c.sharding.fsdp_min_size = 2**14
  # Parameters that carry logical axis names (transformer) are placed by these: (name, mesh axes or None).
  # Heads and MLP units over `tensor` (Megatron-style), the embedding dimension over `fsdp` (ZeRO-3). The
  # vocabulary stays whole by default: character vocabularies (65) divide no mesh axis.
  c.sharding.logical_rules = (("batch", ("data", "fsdp")), ("vocab", None), ("embed", "fsdp"),
                              ("mlp", "tensor"), ("heads", "tensor"), ("kv", None), ("layers", None),
                              ("length", None), ("patch", None), ("pos", None), ("norm", None),
                              # Recommenders: embedding-table rows over `fsdp` (tables are padded to divide it).
                              ("users", "fsdp"), ("items", "fsdp"), ("features", "fsdp"), ("factor", None))
  return c


def smoke(c: ml_collections.ConfigDict, steps: int, eval_examples: int = 2000) -> ml_collections.ConfigDict:
  """Shrinks a config to ``steps`` optimizer steps, logged, evaluated and checkpointed once at the end."""
  c.train.num_steps = steps
  c.train.log_every_steps = c.train.steps_per_call
  c.train.eval_every_steps = steps
  c.train.checkpoint_every_steps = steps
  c.data.eval_examples = eval_examples
  return c
