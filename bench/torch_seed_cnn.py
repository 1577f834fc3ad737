"""The seed's MNIST CNN in PyTorch (eager, CPU), timed: what a PyTorch user would write.

Model: Conv2d(1, 32, 3) -> ReLU -> MaxPool2d(2) -> Flatten -> Linear(5408, 10), logits into
CrossEntropyLoss (= Keras's softmax + sparse categorical cross-entropy). Initialised as Keras
does (Glorot-uniform weights, zero biases) so the runs start alike. Adam lr 1e-3 with
Keras's eps=1e-7 (Keras adds eps to sqrt(v) before bias correction, torch after: a
difference of eps/sqrt(1-beta2^t), immaterial here). Batches of 32 from a fresh
permutation every epoch, the last partial batch kept, as Keras's `fit` does.
torch.set_num_threads(number of CPU cores this process may use).
Data: `bigjax.data.images.load('mnist', ...)`, the files and [0, 1] scaling bigjax trains on.

Measures (data loading excluded, as in bigjax's `wall_time_s`):
  wall_time_s   training + evaluation on the 10k test images (torch.compile's compilation included)
  train_time_s  training only
  steps_per_s   train steps per second after the first --warmup steps

  python bench/torch_seed_cnn.py                          # the seed run: 10 epochs
  python bench/torch_seed_cnn.py --epochs 1 --json /tmp/torch.json
  python bench/torch_seed_cnn.py --steps 200              # quick steps/s probe
  python bench/torch_seed_cnn.py --compile                # the same under torch.compile
"""

import argparse
import math
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repo root
# bigjax's own reader, so every bench trains on the very arrays bigjax does (no jax import).
from bigjax import data as bigjax_data  # pylint: disable=wrong-import-position
from bigjax.data import images as bigjax_images  # pylint: disable=wrong-import-position
from torch_common import setup_torch, write_results  # pylint: disable=wrong-import-position  # bench/ is on sys.path


def parse_args(argv=None):
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--epochs", type=int, default=10)
  p.add_argument("--steps", type=int, default=None, help="stop after this many train steps (steps/s probe)")
  p.add_argument("--batch-size", type=int, default=32)
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--warmup", type=int, default=20, help="steps left out of steps_per_s")
  p.add_argument("--threads", type=int, default=None, help="torch threads (default: CPU cores available)")
  p.add_argument("--compile", action="store_true",
                 help="torch.compile the model (inductor; what a PyTorch user tries after eager)")
  p.add_argument("--json", metavar="OUT", help="write the results as JSON to this path")
  return p.parse_args(argv)



def build_seed_model(nn):
  model = nn.Sequential(
      nn.Conv2d(1, 32, kernel_size=3),  # [B, 1, 28, 28] -> [B, 32, 26, 26]
      nn.ReLU(),
      nn.MaxPool2d(2),                  # -> [B, 32, 13, 13]
      nn.Flatten(),                     # -> [B, 5408]
      nn.Linear(32 * 13 * 13, 10),      # -> logits [B, 10]
  )
  for layer in model:
    if isinstance(layer, (nn.Conv2d, nn.Linear)):
      nn.init.xavier_uniform_(layer.weight)  # Keras's glorot_uniform, same fans for conv kernels
      nn.init.zeros_(layer.bias)
  return model


def evaluate(torch, model, images, labels, batch_size=1000):
  """Mean cross-entropy and accuracy over the whole split."""
  model.eval()
  loss_sum, correct = 0.0, 0
  with torch.no_grad():
    for i in range(0, len(labels), batch_size):
      logits = model(images[i:i + batch_size])
      y = labels[i:i + batch_size]
      loss_sum += torch.nn.functional.cross_entropy(logits, y, reduction="sum").item()
      correct += (logits.argmax(dim=1) == y).sum().item()
  model.train()
  return loss_sum / len(labels), correct / len(labels)


def main(argv=None):
  args = parse_args(argv)
  torch, threads = setup_torch("torch_seed_cnn", args.threads, args.seed)
  nn = torch.nn

  train = bigjax_images.load("mnist", "train")
  test = bigjax_images.load("mnist", "test")
  # NHWC -> NCHW once, up front, so a step only gathers its batch.
  # np.require: torch.from_numpy wants a writable array; copies only if the loader's is not.
  as_tensor = lambda a: torch.from_numpy(np.require(a, requirements=["C", "W"]))
  x_train = as_tensor(train.images).permute(0, 3, 1, 2).contiguous()
  y_train = as_tensor(train.labels).long()
  x_test = as_tensor(test.images).permute(0, 3, 1, 2).contiguous()
  y_test = as_tensor(test.labels).long()

  model = build_seed_model(nn)
  optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
  if args.compile:  # the parameters stay the eager module's, so the optimizer updates what the compiled one reads
    model = torch.compile(model)
  loss_fn = nn.CrossEntropyLoss()
  shuffle_rng = torch.Generator().manual_seed(args.seed)

  n = len(y_train)
  steps_per_epoch = math.ceil(n / args.batch_size)
  total_steps = args.epochs * steps_per_epoch
  if args.steps is not None:
    total_steps = min(total_steps, args.steps)
  warmup = min(args.warmup, max(total_steps - 1, 0))

  step = 0
  t_warm = None
  t0 = time.perf_counter()
  while step < total_steps:
    perm = torch.randperm(n, generator=shuffle_rng)
    for i in range(0, n, args.batch_size):
      if step == total_steps:
        break
      idx = perm[i:i + args.batch_size]
      loss = loss_fn(model(x_train[idx]), y_train[idx])
      optimizer.zero_grad(set_to_none=True)
      loss.backward()
      optimizer.step()
      step += 1
      if step == warmup:
        t_warm = time.perf_counter()
  t_train = time.perf_counter()
  test_loss, test_accuracy = evaluate(torch, model, x_test, y_test)
  t_end = time.perf_counter()

  t_warm = t_warm if t_warm is not None else t0
  timed_steps = total_steps - warmup
  results = {
      "framework": "torch.compile" if args.compile else "torch",
      "versions": {"torch": torch.__version__, "python": platform.python_version()},
      "epochs": total_steps / steps_per_epoch,
      "batch_size": args.batch_size,
      "seed": args.seed,
      "steps": total_steps,
      "wall_time_s": t_end - t0,
      "train_time_s": t_train - t0,
      "eval_time_s": t_end - t_train,
      "steps_per_s": timed_steps / (t_train - t_warm) if timed_steps else None,
      "warmup_steps": warmup,
      "last_train_loss": loss.item() if total_steps else None,
      "test_accuracy": test_accuracy,
      "test_loss": test_loss,
      "threads": {"intra_op": torch.get_num_threads(), "inter_op": torch.get_num_interop_threads()},
      "data": f"bigjax.data.images.load('mnist') from {bigjax_data.default_data_dir() / 'mnist'}",
  }
  write_results(results, args.json, ())


if __name__ == "__main__":
  main()
