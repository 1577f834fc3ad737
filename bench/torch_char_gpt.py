"""nanoGPT's CPU recipe for Tiny Shakespeare in eager PyTorch (CPU), timed: bigjax's ``shakespeare_char_gpt:cpu``.

Model (as ``bigjax.models.transformer.Decoder`` with the ``cpu`` variant's fields): a pre-LayerNorm GPT,
4 layers, 4 heads, 128 wide, context 64, no biases anywhere (Linear and LayerNorm: flax's
``LayerNorm(use_bias=False)`` keeps only the scale, as ``nn.LayerNorm(bias=False)``), LayerNorm eps 1e-5,
exact GELU MLP 4x wide, dropout 0, learned positions, LM head tied to the token embedding;
attention through ``F.scaled_dot_product_attention(is_causal=True)``. Init N(0, 0.02) for embeddings
and matrices, N(0, 0.02 / sqrt(2 * layers)) for the two residual projections, LayerNorm scales 1.

Training (as bigjax's config): batches of 12 windows of 65 characters (64 inputs + the next one) from
the 90% training split, every start position once per epoch in the order
``np.random.default_rng([seed, epoch]).permutation`` gives (bigjax's own order, remainder of an epoch
dropped); AdamW lr 1e-3, betas (0.9, 0.99), eps 1e-8, weight decay 0.1 on tensors of 2+ dims
(embeddings and matrices, not LayerNorm scales); learning rate of step t (from 0) as
``optax.warmup_cosine_decay_schedule(0, 1e-3, 100, max(steps, 101), 1e-4)``; gradients clipped to a
global norm of 1.0 as ``optax.clip_by_global_norm`` does; 2000 steps.

Validation (as bigjax's ``language_model.evaluate``): the 10% validation split cut into windows of 65
starting every 64 characters (0, 64, 128, ... while a full window fits), mean next-token cross-entropy
over every predicted token, in batches of 96 windows; every ``--eval-every`` steps (bigjax's
``eval_every_steps``, 250) and at the end, so both frameworks do the same evaluation work.

Data: ``bigjax.data.text.tiny_shakespeare`` (same file, split and 65-character vocabulary; no jax import).
torch.set_num_threads(number of CPU cores this process may use).

Measures:
  wall_time_s    everything from loading the data to the final evaluation (Python start-up and imports left out)
  train_time_s   the training steps only (evaluations left out); steps_per_s and tokens_per_s divide by it
  loop_time_s    the training loop with its evaluations
  tokens_per_s   steps * 12 * 64 / train_time_s

  python bench/torch_char_gpt.py                          # the recipe: 2000 steps
  python bench/torch_char_gpt.py --steps 60 --json /tmp/torch_char_gpt.json
"""

import argparse
import math
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repo root
from bigjax.data import text as bigjax_text  # pylint: disable=wrong-import-position
from torch_common import setup_torch, write_results  # pylint: disable=wrong-import-position  # bench/ is on sys.path

# shakespeare_char_gpt.py, variant cpu
LAYERS, HEADS, WIDTH, CONTEXT = 4, 4, 128, 64
BATCH, EVAL_BATCH = 12, 96
LR, MIN_LR, WARMUP, BETAS, EPS, WEIGHT_DECAY, CLIP_NORM = 1e-3, 1e-4, 100, (0.9, 0.99), 1e-8, 0.1, 1.0


def parse_args(argv=None):
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--steps", type=int, default=2000, help="optimizer steps (the lr schedule decays over them)")
  p.add_argument("--seed", type=int, default=0, help="init and data order")
  p.add_argument("--eval-every", type=int, default=250, help="also evaluate every N steps (0: only at the end)")
  p.add_argument("--log-every", type=int, default=250)
  p.add_argument("--threads", type=int, default=None, help="torch threads (default: CPU cores available)")
  p.add_argument("--json", metavar="OUT", help="write the results as JSON to this path")
  args = p.parse_args(argv)
  if args.steps < 1:
    p.error("--steps must be >= 1")
  return args



def lr_at(step: int, total_steps: int) -> float:
  """optax.warmup_cosine_decay_schedule(0, LR, WARMUP, decay_steps, MIN_LR) at ``step`` (0 = first update).

  decay_steps = max(total_steps, WARMUP + 1), as bigjax.optim.make_schedule passes it.
  """
  if step < WARMUP:
    return LR * step / WARMUP
  decay_steps = max(total_steps, WARMUP + 1) - WARMUP
  t = min(step - WARMUP, decay_steps)
  alpha = MIN_LR / LR
  return LR * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * t / decay_steps)) + alpha)


def build_model(torch, vocab_size: int):
  nn, F = torch.nn, torch.nn.functional

  class Attention(nn.Module):
    def __init__(self):
      super().__init__()
      self.qkv = nn.Linear(WIDTH, 3 * WIDTH, bias=False)  # q, k, v side by side
      self.out = nn.Linear(WIDTH, WIDTH, bias=False)

    def forward(self, x):  # [b, l, WIDTH] -> [b, l, WIDTH]
      b, l, _ = x.shape
      heads = self.qkv(x).view(b, l, 3, HEADS, WIDTH // HEADS).permute(2, 0, 3, 1, 4)  # [3, b, HEADS, l, hd]
      y = F.scaled_dot_product_attention(heads[0], heads[1], heads[2], is_causal=True)
      return self.out(y.transpose(1, 2).reshape(b, l, WIDTH))

  class Block(nn.Module):
    def __init__(self):
      super().__init__()
      self.ln_1 = nn.LayerNorm(WIDTH, eps=1e-5, bias=False)
      self.attn = Attention()
      self.ln_2 = nn.LayerNorm(WIDTH, eps=1e-5, bias=False)
      self.mlp_in = nn.Linear(WIDTH, 4 * WIDTH, bias=False)
      self.mlp_out = nn.Linear(4 * WIDTH, WIDTH, bias=False)

    def forward(self, x):
      x = x + self.attn(self.ln_1(x))
      return x + self.mlp_out(F.gelu(self.mlp_in(self.ln_2(x))))

  class CharGPT(nn.Module):
    def __init__(self):
      super().__init__()
      self.wte = nn.Embedding(vocab_size, WIDTH)
      self.wpe = nn.Embedding(CONTEXT, WIDTH)
      self.blocks = nn.ModuleList(Block() for _ in range(LAYERS))
      self.ln_f = nn.LayerNorm(WIDTH, eps=1e-5, bias=False)
      residual_std = 0.02 / math.sqrt(2 * LAYERS)
      for name, p in self.named_parameters():
        if p.dim() >= 2:
          nn.init.normal_(p, 0.0, residual_std if name.endswith(("attn.out.weight", "mlp_out.weight")) else 0.02)

    def forward(self, tokens):  # [b, l] int64 -> logits [b, l, vocab]
      positions = torch.arange(tokens.shape[1], device=tokens.device)
      x = self.wte(tokens) + self.wpe(positions)
      for block in self.blocks:
        x = block(x)
      return F.linear(self.ln_f(x), self.wte.weight)  # the head is the token table, transposed

  return CharGPT()


def validation_loss(torch, model, val_windows) -> float:
  """Mean next-token cross-entropy over every predicted token of ``val_windows [n, CONTEXT + 1]``."""
  model.eval()
  total = 0.0
  with torch.inference_mode():
    for i in range(0, len(val_windows), EVAL_BATCH):
      w = val_windows[i:i + EVAL_BATCH]
      logits = model(w[:, :-1])
      total += torch.nn.functional.cross_entropy(logits.flatten(0, 1), w[:, 1:].flatten(), reduction="sum").item()
  model.train()
  return total / (len(val_windows) * CONTEXT)


def main(argv=None):
  args = parse_args(argv)
  torch, threads = setup_torch("torch_char_gpt", args.threads, args.seed)

  # ---------------------------------------------------------------- data
  t0 = time.perf_counter()
  train_ids, val_ids, tokenizer = bigjax_text.tiny_shakespeare()
  train_stream = torch.from_numpy(train_ids.astype(np.int64))
  span = torch.arange(CONTEXT + 1)
  num_windows = len(train_ids) - CONTEXT              # training windows: one per start position (stride 1)
  steps_per_epoch = num_windows // BATCH
  val_starts = torch.arange(0, len(val_ids) - CONTEXT, CONTEXT)  # every start s with s + 65 <= len
  val_windows = torch.from_numpy(val_ids.astype(np.int64))[val_starts[:, None] + span]

  # ---------------------------------------------------------------- model & optimizer
  model = build_model(torch, len(tokenizer))
  decay = [p for p in model.parameters() if p.dim() >= 2]
  no_decay = [p for p in model.parameters() if p.dim() < 2]
  optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY},
                                 {"params": no_decay, "weight_decay": 0.0}], lr=LR, betas=BETAS, eps=EPS)
  params = list(model.parameters())
  num_params = sum(p.numel() for p in params)

  # ---------------------------------------------------------------- train
  perm, perm_epoch = None, -1
  train_time = eval_time = 0.0
  history, evals = [], []
  loss_sum, loss_count = 0.0, 0
  t_loop = time.perf_counter()
  for step in range(args.steps):
    t_step = time.perf_counter()
    epoch, i = divmod(step, steps_per_epoch)
    if epoch != perm_epoch:  # bigjax's order: pipeline.epoch_permutation(seed, epoch, n)
      perm = torch.from_numpy(np.random.default_rng([args.seed, epoch]).permutation(num_windows))
      perm_epoch = epoch
    windows = train_stream[perm[i * BATCH:(i + 1) * BATCH, None] + span]  # [12, 65]
    for group in optimizer.param_groups:
      group["lr"] = lr_at(step, args.steps)
    logits = model(windows[:, :-1])
    loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), windows[:, 1:].flatten())
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    # optax.clip_by_global_norm: scale by max_norm / norm only where norm > max_norm.
    grad_norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad) for p in params]))
    scale = torch.clamp(CLIP_NORM / grad_norm, max=1.0)
    for p in params:
      p.grad.mul_(scale)
    optimizer.step()
    loss_sum, loss_count = loss_sum + loss.item(), loss_count + 1
    done = step + 1
    train_time += time.perf_counter() - t_step

    if done % args.log_every == 0 or done == args.steps:
      history.append({"step": done, "train_loss": loss_sum / loss_count, "lr": lr_at(step, args.steps),
                      "grad_norm": grad_norm.item(), "elapsed_train_s": train_time})
      print(f"step {done}/{args.steps}  train_loss {loss_sum / loss_count:.4f}  "
            f"{done / train_time:.1f} steps/s", flush=True)
      loss_sum, loss_count = 0.0, 0
    if (args.eval_every and done % args.eval_every == 0) or done == args.steps:
      t_eval = time.perf_counter()
      evals.append({"step": done, "validation_loss": validation_loss(torch, model, val_windows)})
      eval_time += time.perf_counter() - t_eval
      print(f"step {done}: validation loss {evals[-1]['validation_loss']:.4f}", flush=True)
  t_end = time.perf_counter()

  results = {
      "framework": "torch",
      "versions": {"torch": torch.__version__, "python": platform.python_version(), "numpy": np.__version__},
      "steps": args.steps,
      "batch_size": BATCH,
      "context": CONTEXT,
      "seed": args.seed,
      "num_params": num_params,
      "wall_time_s": t_end - t0,
      "train_time_s": train_time,
      "loop_time_s": t_end - t_loop,
      "eval_time_s": eval_time,
      "steps_per_s": args.steps / train_time,
      "tokens_per_s": args.steps * BATCH * CONTEXT / train_time,
      "validation_loss": evals[-1]["validation_loss"],
      "evals": evals,
      "eval_every": args.eval_every,
      "eval_note": (f"validation loss every {args.eval_every} steps and at the end" if args.eval_every
                    else "validation loss at the end only"),
      "validation_windows": len(val_windows),
      "train_history": history,
      "threads": {"intra_op": torch.get_num_threads(), "inter_op": torch.get_num_interop_threads()},
      "data": ("bigjax.data.text.tiny_shakespeare() from "
               f"{bigjax_text.data_root(None) / bigjax_text.SHAKESPEARE_FILE}"),
  }
  write_results(results, args.json, ("evals", "train_history"))


if __name__ == "__main__":
  main()
