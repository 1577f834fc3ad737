"""The encoder-decoder Transformer's recipe (``models/seq2seq.py``, ``tasks/seq2seq.py``), shared by
transformer_multi30k and transformer_bbc_news: everything but the data, the lengths and the schedule's length.

3 + 3 pre-LN layers, 256 wide, 4 heads, MLP 1024, dropout 0.1 (Vaswani et al. 2017's base model, narrower and
shallower for 29,000 sentence pairs or 1,779 articles); label smoothing 0.1; AdamW at 5e-4 (b2 0.98, weight
decay 0.01) with a linear warm-up and then the inverse square root of the step (Vaswani et al. 2017's schedule,
``optim.schedule="warmup_rsqrt"``: it does not depend on the run's length, so one run's validation curve
chooses the epochs and a run of the chosen length is exactly that curve's beginning), gradients clipped to
norm 1; beam search of 4 with length penalty
0.6 when scoring. ``smoke_model`` shrinks the model to a few hundred parameters a layer, for tests;
``variant`` gives a config its final, ``choose`` or ``smoke`` length and what it reads.
"""

import math

from bigjax.config_base import smoke


def variants(every: str) -> dict[str, str]:
  """A seq2seq config's ``VARIANTS``, its ``choose`` run scoring validation ``every`` (\"after every epoch\")."""
  return {"choose": f"validation {every}, no test: the curve the epochs are chosen on",
          "smoke": "a few steps of a tiny model on a small vocabulary, for tests"}


def variant(c, name: str, arg: str | None, known: dict[str, str], *, epochs: float, choose_epochs: float,
            choose_every: int = 0):
  """``c`` as variant ``arg`` of config ``name`` (refused unless in ``known``): by default ``epochs`` epochs with
  the test split read once, after the last step; ``choose``, ``choose_epochs`` epochs scoring validation every
  ``choose_every`` steps (0: every epoch) and no test; ``smoke``, a few steps of ``smoke_model`` on a 200-piece
  vocabulary in batches of 8 (a config may shrink it further afterwards)."""
  if arg and arg not in known:
    raise ValueError(f"unknown variant {arg!r} of {name}; known: {', '.join(known)}")
  c.data.eval_split = "validation"
  c.data.test_split = "test"      # read once, after the last step
  c.train.num_epochs = epochs
  c.train.eval_every_steps = 10**9
  # A checkpoint every epoch (they change nothing a run computes): a final run of hours stopped at the end of a
  # working session resumes from its last epoch.
  c.train.checkpoint_every_steps = 0
  if arg == "choose":
    c.data.test_split = ""
    c.train.num_epochs = choose_epochs
    c.train.eval_every_steps = c.train.checkpoint_every_steps = choose_every
    # Every evaluated checkpoint kept (at most one an epoch): the chosen epoch's is then the final run of seed 0,
    # which retraces the choose run step for step (the schedule does not depend on the run's length).
    c.train.keep_checkpoints = math.ceil(choose_epochs) + 1
  elif arg == "smoke":
    c.data.vocab_size = 200
    c.data.batch_size = 8
    c.data.eval_batch_size = 8
    smoke_model(c)
    smoke(c, steps=3, eval_examples=8)
  return c


def sweep_after_choose(arg: str | None = None):
  """The final runs of seeds 1 and 2, one at a time. Seed 0's final run is the choose run's checkpoint at the
  chosen epoch (the choose run keeps every one it evaluates, and a run of E epochs is exactly its first E), scored
  once on test by ``bigjax eval --workdir=runs/<name>_choose --split=test --step=<chosen step>``."""
  from bigjax.sweep import sweep  # pylint: disable=import-outside-toplevel
  if arg:
    raise ValueError(f"the sweep is the final runs' seeds, for no variant; got {arg!r}")
  return sweep("seed", [1, 2])


def transformer(c, warmup_steps: int):
  """``c`` with the recipe's model, task and optimiser fields; the vocabulary's size comes from the data."""
  c.model.name = "seq2seq.Transformer"
  c.model.vocab_size = 0          # the vocabulary's
  c.model.num_layers = 3
  c.model.num_heads = 4
  c.model.embed_dim = 256
  c.model.mlp_dim = 1024
  c.model.dropout = 0.1
  c.task.name = "seq2seq"
  c.task.label_smoothing = 0.1
  c.task.beam = 4
  c.task.length_penalty = 0.6
  c.optim.name = "adamw"
  c.optim.lr = 5e-4
  c.optim.b2 = 0.98
  c.optim.weight_decay = 0.01
  c.optim.schedule = "warmup_rsqrt"
  c.optim.warmup_steps = warmup_steps
  c.optim.clip_norm = 1.0
  return c


def smoke_model(c):
  """A 1 + 1 layer model 16 wide, beam 2, no warm-up: a few steps in seconds."""
  c.model.num_layers = 1
  c.model.embed_dim = 16
  c.model.mlp_dim = 32
  c.model.num_heads = 2
  c.task.beam = 2
  c.optim.warmup_steps = 1
  return c
