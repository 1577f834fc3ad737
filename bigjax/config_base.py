"""Every field a bigjax config may set, with its default; experiment files in ``configs/`` start here.

Configs are locked after ``get_config`` so that a typo on the command line (``--config.optim.lrr=1``)
or a wrong type fails before any compute.
"""

import ml_collections


def base_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.seed = 0

  c.data = ml_collections.ConfigDict()
  c.data.name = "digits"          # digits | mnist | fashion_mnist | tfds:<name>
  c.data.data_dir = ""            # "" -> $BIGJAX_DATA_DIR or <repo>/../shared/data
  c.data.train_split = "train"
  c.data.eval_split = "test"
  c.data.batch_size = 32          # global, over all processes and devices
  c.data.eval_batch_size = 500
  c.data.eval_examples = 0        # > 0: evaluate on the first N examples of eval_split only (smoke tests)
  c.data.shuffle = True
  c.data.seq_len = 0              # language modelling: tokens of context per example (block size)
  c.data.max_len = 0              # text classification: cap on tokens per sentence; 0: longest training one
  c.data.min_freq = 1             # word vocabulary: drop words seen fewer times in the training split
  c.data.fold = -1                # k-fold cross-validation (MR): which fold is held out; -1 where splits are fixed
  c.data.num_folds = 10
  c.data.source = "auto"          # recommendation: which copy of the dataset to read (data/movielens.py)
  c.data.num_negatives = 4        # recommendation: negatives drawn per positive, redrawn every epoch
  c.data.pairs = False            # recommendation: (positive, negatives) pairs for BPR instead of pointwise rows
  c.data.eval_negatives_seed = 0  # recommendation: seed of the 99 test negatives where the source has none
  c.data.ties = "first"           # recommendation: of a user's ratings in their last second, the one listed
                                  # "first" or "last" in the file is held out (sources with timestamps)
  c.data.full_ranking = False     # recommendation: also rank the held-out item against every item
  c.data.item_features = False    # recommendation: TF-IDF item features and user profiles for the model
  c.data.history_len = 0          # recommendation: > 0: train on each user's latest N training items in order
  c.data.prefetch = -1            # batches assembled ahead by a background thread; -1: 0 on CPU, 2 elsewhere

  c.model = ml_collections.ConfigDict()
  c.model.name = "mlp.MLP"        # <file in bigjax/models>.<Class>; other fields are its constructor args

  c.task = ml_collections.ConfigDict()
  c.task.name = "classification"
  c.task.loss = "softmax_xent"
  c.task.random_shift = 0         # > 0: translate training images by up to this many pixels
  c.task.top_k = (10,)            # recommendation: cut-offs of HR@K / NDCG@K
  c.task.embedding_l2 = 0.0       # recommendation: L2 weight on the id-embedding rows each example reads
  c.task.pretrained_gmf = ""      # recommendation (NeuMF): workdir of a trained GMF to start the GMF part from
  c.task.pretrained_mlp = ""      # recommendation (NeuMF): workdir of a trained MLP to start the MLP part from
  c.task.pretrained_alpha = 0.5   # recommendation (NeuMF): weight of the GMF part in the joined output layer
  c.task.pretrained_checkpoint = "latest"  # recommendation (NeuMF): each part's latest checkpoint, or "best" (hr@K)
  c.task.evaluator_workdir = "runs/gan_evaluator"  # GAN: workdir of the fixed classifier scoring samples
  c.task.evaluator_features = "Dense_0"  # GAN: the evaluator layer whose outputs the Fréchet distance compares
  c.task.eval_samples = 10000     # GAN: samples scored at each evaluation (and training images in the floor)
  c.task.generator_ema = 0.0      # GAN: decay of the generator's running average, which is sampled and scored
  c.task.discriminator_lr_scale = 1.0  # GAN: the discriminator's step size relative to config.optim's (TTUR)
  c.task.code_weight = 1.0        # GAN with config.model.code_classes > 0: InfoGAN's lambda on the code term

  c.optim = ml_collections.ConfigDict()
  c.optim.name = "adam"
  c.optim.lr = 1e-3
  c.optim.b1 = 0.9
  c.optim.b2 = 0.999
  c.optim.eps = 1e-8
  c.optim.momentum = 0.9
  c.optim.nesterov = False
  c.optim.weight_decay = 0.0
  c.optim.schedule = "constant"
  c.optim.warmup_steps = 0
  c.optim.cooldown_steps = 0      # schedule "cooldown": the last N steps decay linearly to lr * end_lr_factor
  c.optim.end_lr_factor = 0.0
  c.optim.clip_norm = 0.0
  c.optim.ema_decay = 0.0         # > 0: evaluate, checkpoint and restore a moving average of the parameters

  c.train = ml_collections.ConfigDict()
  c.train.num_epochs = 10.0
  c.train.num_steps = 0           # > 0 overrides num_epochs
  c.train.steps_per_call = 1      # optimizer steps per jitted call (lax.scan); same updates, less dispatch
  c.train.log_every_steps = 100
  c.train.eval_every_steps = 0    # 0 -> once per epoch
  c.train.eval_at_start = False   # also evaluate the initial parameters, at step 0 (NCF's code does)
  c.train.checkpoint_every_steps = 0  # 0 -> once per epoch
  c.train.keep_checkpoints = 3
  c.train.async_checkpoint = True

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


# Kim (2014) sentence-classification sets: (classes, split trained on, split reported, protocol).
SENTENCE_SETS = {"trec": (6, "train", "test", "fixed split"), "sst2": (2, "train", "test", "fixed split"),
                 "mr": (2, "train", "test", "10-fold cross-validation, data.fold = 0..9")}


def sentence_classification(c: ml_collections.ConfigDict, dataset: str) -> ml_collections.ConfigDict:
  """Points ``c.data`` at a Kim (2014) sentence set (``trec``, ``sst2``, ``mr``) and sizes the model for it."""
  num_classes, train_split, eval_split, _ = SENTENCE_SETS[dataset]
  c.data.name = dataset
  c.data.train_split = train_split
  c.data.eval_split = eval_split
  c.data.fold = 0 if dataset == "mr" else -1
  c.model.vocab_size = 0          # from the data: every word of the training split (min_freq 1)
  c.model.num_classes = num_classes
  c.task.name = "classification"
  return c


def kim_cnn(c: ml_collections.ConfigDict, variant: str | None) -> ml_collections.ConfigDict:
  """Kim (2014) CNN-rand on the sentence set ``c.data`` names (see configs/text_cnn_mr.py for the recipe)."""
  c.data.batch_size = 50
  c.data.eval_batch_size = 250
  c.model.name = "text_cnn.KimCNN"
  c.model.embed_dim = 300
  c.model.filter_widths = (3, 4, 5)
  c.model.num_filters = 100
  c.model.dropout = 0.5
  c.optim.name = "adam"
  c.optim.lr = 1e-3
  c.train.num_epochs = 10
  c.train.steps_per_call = 8
  c.train.log_every_steps = 48
  if variant == "smoke":
    c.model.embed_dim = 32
    c.model.num_filters = 8
    c.data.eval_batch_size = 50
    smoke(c, steps=16, eval_examples=200)
  elif variant:
    raise ValueError(f"unknown variant {variant!r} of text_cnn_{c.data.name}; known: smoke")
  return c


def ncf(c: ml_collections.ConfigDict, dataset: str, model: str) -> ml_collections.ConfigDict:
  """He et al. (2017)'s NCF protocol on MovieLens (``ml-100k`` or ``ml-1m``) for ``model`` (``ncf.<Class>``).

  Implicit feedback, 4 negatives per positive redrawn every epoch, Adam 1e-3, batch 256, 20 epochs,
  evaluated about once per epoch (every whole number of 128-step calls nearest to an epoch) by leave-one-out
  HR@10 / NDCG@10 (held-out item among 100 candidates) and by full ranking.
  """
  c.data.name = dataset
  c.data.train_split = "train"
  c.data.eval_split = "test"
  c.data.batch_size = 256
  c.data.eval_batch_size = 1024   # users per evaluation batch (the last one padded); divides 8-device meshes
  c.data.num_negatives = 4
  c.data.full_ranking = True
  c.model.name = model
  c.model.num_users = 0           # from the data
  c.model.num_items = 0
  c.task.name = "recommendation"
  c.task.loss = "log_loss"
  c.task.top_k = (10,)
  c.optim.name = "adam"
  c.optim.lr = 1e-3
  c.train.num_epochs = 20
  c.train.steps_per_call = 128
  c.train.log_every_steps = 1024
  return c


def ncf_variant(c: ml_collections.ConfigDict, variant: str | None) -> ml_collections.ConfigDict:
  """``smoke``: a tiny model of the same kind (4 factors: MLP tower 32-16-8-4) for 32 steps on 256 test users.
  ``validation``: the same run evaluated on the validation split (each user's latest training item held out),
  for choosing hyperparameters without the test items."""
  if variant == "validation":
    c.data.eval_split = "validation"
  elif variant == "smoke":
    if "factors" in c.model:
      c.model.factors = 4
    c.data.eval_batch_size = 128
    smoke(c, steps=32, eval_examples=256)
    c.train.steps_per_call = 8
    c.train.log_every_steps = 8
  elif variant:
    raise ValueError(f"unknown variant {variant!r}; known: smoke, validation")
  return c
