"""NeuMF (He et al. 2017) on MovieLens in eager PyTorch (CPU), timed: bigjax's ``ml1m_neumf`` / ``ml100k_neumf``.

Model (as ``bigjax.models.ncf.NeuMF``): a GMF part, user and item embeddings ``factors`` wide multiplied
element-wise, and an MLP part, user and item embeddings ``layers[0] / 2`` wide concatenated and passed
through ReLU ``Linear`` layers ``layers[1:]``; one output ``Linear(factors + layers[-1] -> 1)`` over
``[gmf, mlp]`` gives the logit. Init as the NCF code and bigjax: embeddings N(0, 0.01), hidden weights
Glorot-uniform, the output weight LeCun-uniform (U(-sqrt(3 / fan_in), sqrt(3 / fan_in))), biases 0.
Defaults: factors 8, layers 64-32-16-8.

Training (as bigjax's config): ``bigjax.data.movielens.read(dataset, source, root)`` (numpy only, no jax),
every training interaction a positive with ``--num-negatives`` (4) negatives redrawn every epoch by
``movielens.EpochItems(..., pairs=False).epoch_view(seed, epoch)`` (the very draw bigjax's pipeline reads),
users ``np.tile(train_users, 1 + n)``, labels 1 for the P positives then 0; the epoch's order is
``np.random.default_rng([seed, epoch]).permutation(N)`` (``bigjax.data.pipeline.epoch_permutation``),
batches of 256, remainder dropped. ``BCEWithLogitsLoss`` (mean), ``torch.optim.Adam`` lr 1e-3, betas
(0.9, 0.999), eps 1e-8; dense ``nn.Embedding`` gradients (optax's Adam is dense too).

Evaluation (as bigjax's ``tasks/recommendation.evaluate`` with ``data.full_ranking=False``): every user's
100 candidates ``interactions.test_candidates(eval_negatives_seed)`` (held-out item first) scored in batches
of ``--eval-batch-size`` users, users ``[b, 1]`` against items ``[b, 100]``: each user's vectors are looked up
once and broadcast, the first MLP layer applied as ``p @ W_user + q @ W_item + bias`` (the same Linear, split,
as bigjax's ``ncf.MLPTower`` does); training, where both are ``[256]``, concatenates; HR@10 and NDCG@10 as expected values under random tie-breaking
(``bigjax/evals/ranking.py``). After every epoch, ``--eval-repeats`` times (the metrics are the first's).
``--save-model PATH`` keeps the trained ``state_dict``; ``--time-eval PATH`` trains nothing: it loads the data
and that ``state_dict`` and times ``--eval-repeats`` evaluations back to back (as ``bench/ncf.py
--time-bigjax-eval`` times bigjax's, each in a process of its own).

torch.set_num_threads(number of CPU cores this process may use).

Measures:
  epoch_time_s   mean per epoch of the training work: the epoch's negatives, its permutation and all its steps
  eval_time_s    mean per evaluation (all users, all 100 candidates, metrics included)
  wall_time_s    from loading the data to the last evaluation (Python start-up and imports left out)
  steps_per_s    training steps / time in epochs (as epoch_time_s); steps_only_per_s leaves the draw of
                 the negatives and the permutation out

  python bench/torch_ncf.py --dataset ml-100k --epochs 1 --json /tmp/torch_ncf.json
  python bench/torch_ncf.py --epochs 20                       # ML-1M, the paper's 20 epochs
  python bench/torch_ncf.py --dataset ml-100k --save-model /tmp/m.pt && \
    python bench/torch_ncf.py --dataset ml-100k --time-eval /tmp/m.pt --eval-repeats 3   # evaluation alone
"""

import argparse
import math
import os
import pathlib
import platform
import sys
import time

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)
# pylint: disable=wrong-import-position
from bigjax.data import movielens  # numpy only; importing it does not import jax
from torch_common import setup_torch, write_results  # pylint: disable=wrong-import-position  # bench/ is on sys.path

DEFAULT_EVAL_BATCH = {"ml-1m": 604, "ml-100k": 943}  # configs/ml1m_neumf.py, configs/ml100k_neumf.py


def parse_args(argv=None):
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--dataset", default="ml-1m", choices=movielens.DATASETS)
  p.add_argument("--source", default="auto", help="movielens source (auto: the first local copy, as bigjax)")
  p.add_argument("--ties", default="first", choices=movielens.TIES,
                 help="which of a user's ratings in their last second is held out (config.data.ties)")
  p.add_argument("--data-dir", default=None, help="data root (default: $BIGJAX_DATA_DIR or <repo>/../shared/data)")
  p.add_argument("--epochs", type=int, default=1)
  p.add_argument("--seed", type=int, default=0, help="init, negatives and data order")
  p.add_argument("--factors", type=int, default=8)
  p.add_argument("--layers", default="64,32,16,8", help="MLP tower widths, comma-separated")
  p.add_argument("--num-negatives", type=int, default=4)
  p.add_argument("--batch-size", type=int, default=256)
  p.add_argument("--lr", type=float, default=1e-3)
  p.add_argument("--betas", default="0.9,0.999")
  p.add_argument("--eps", type=float, default=1e-8)
  p.add_argument("--eval-batch-size", type=int, default=None, help="users per evaluation batch "
                 f"(default: bigjax's config, {DEFAULT_EVAL_BATCH})")
  p.add_argument("--eval-negatives-seed", type=int, default=0, help="seed of the 99 test negatives (sampled sources)")
  p.add_argument("--eval-repeats", type=int, default=1, help="evaluations after each epoch (all timed)")
  p.add_argument("--top-k", type=int, default=10)
  p.add_argument("--threads", type=int, default=None, help="torch threads (default: CPU cores available)")
  p.add_argument("--json", metavar="OUT", help="write the results as JSON to this path")
  p.add_argument("--save-model", metavar="PATH", default=None, help="after training, torch.save the state_dict here")
  p.add_argument("--time-eval", metavar="PATH", default=None,
                 help="train nothing: load this state_dict (--save-model's) and time --eval-repeats evaluations")
  args = p.parse_args(argv)
  args.layers = tuple(int(w) for w in args.layers.split(","))
  args.betas = tuple(float(b) for b in args.betas.split(","))
  if len(args.layers) < 2 or args.layers[0] % 2:
    p.error(f"--layers {args.layers}: need an even input width and at least one hidden layer")
  if args.epochs < 1 or args.eval_repeats < 1:
    p.error("--epochs and --eval-repeats must be >= 1")
  args.eval_batch_size = args.eval_batch_size or DEFAULT_EVAL_BATCH[args.dataset]
  return args



def data_root(data_dir: str | None) -> pathlib.Path:
  if data_dir:
    return pathlib.Path(data_dir)
  from bigjax import data as bigjax_data  # pylint: disable=import-outside-toplevel
  return bigjax_data.default_data_dir()


def build_model(torch, num_users: int, num_items: int, factors: int, layers: tuple[int, ...]):
  nn = torch.nn

  class NeuMF(nn.Module):
    def __init__(self):
      super().__init__()
      dim = layers[0] // 2
      self.gmf_user = nn.Embedding(num_users, factors)
      self.gmf_item = nn.Embedding(num_items, factors)
      self.mlp_user = nn.Embedding(num_users, dim)
      self.mlp_item = nn.Embedding(num_items, dim)
      self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(layers[:-1], layers[1:]))
      self.predict = nn.Linear(factors + layers[-1], 1)
      for table in (self.gmf_user, self.gmf_item, self.mlp_user, self.mlp_item):
        nn.init.normal_(table.weight, 0.0, 0.01)
      for layer in self.hidden:
        nn.init.xavier_uniform_(layer.weight)
        nn.init.zeros_(layer.bias)
      bound = math.sqrt(3.0 / (factors + layers[-1]))  # flax lecun_uniform: variance 1 / fan_in
      nn.init.uniform_(self.predict.weight, -bound, bound)
      nn.init.zeros_(self.predict.bias)

    def forward(self, users, items):  # int64 [...], broadcast against each other -> logits of that shape
      gmf = self.gmf_user(users) * self.gmf_item(items)
      p, q = self.mlp_user(users), self.mlp_item(items)
      first, *rest = self.hidden
      if p.shape == q.shape:  # training: one Linear over the concatenation
        x = first(torch.cat([p, q], dim=-1))
      else:  # evaluation, users [b, 1] against items [b, n]: the same Linear split, so users are looked up once
        w = first.weight  # [out, 2 * dim]: columns for the user half, then the item half
        x = p @ w[:, :p.shape[-1]].T + q @ w[:, p.shape[-1]:].T + first.bias
      x = torch.relu(x)
      for layer in rest:
        x = torch.relu(layer(x))
      return self.predict(torch.cat([gmf, x], dim=-1)).squeeze(-1)

  return NeuMF()


def rank_metrics(torch, scores, k: int, repeats):
  """Sums over rows of HR@k and NDCG@k of column 0 of ``scores [b, n]`` (bigjax/evals/ranking.py); ``repeats``
  ``[b, n - 1]`` bool marks the other columns that are the held-out item again, which do not count."""
  n = scores.shape[-1]
  positive = scores[:, :1]
  others = ~repeats
  higher = (others & (scores[:, 1:] > positive)).sum(-1)
  tied = (others & (scores[:, 1:] == positive)).sum(-1)
  lost = torch.isnan(positive[:, 0])  # ranked behind everything that is a number
  higher = torch.where(lost, torch.full_like(higher, n), higher)
  tied = torch.where(lost, torch.zeros_like(tied), tied)
  hr = torch.minimum(torch.clamp(k - higher, min=0), tied + 1).double() / (tied + 1).double()
  ranks = torch.arange(k)[None, :]
  gains = 1.0 / torch.log2(ranks.double() + 2.0)
  possible = (ranks >= higher[:, None]) & (ranks <= (higher + tied)[:, None])
  ndcg = (gains * possible).sum(-1) / (tied + 1).double()
  return hr.sum().item(), ndcg.sum().item()


def evaluate(torch, model, users, candidates, batch_size: int, k: int) -> dict[str, float]:
  """HR@k and NDCG@k over all users: ``users [U]``, ``candidates [U, 100]`` (held-out item first)."""
  model.eval()
  hr = ndcg = 0.0
  with torch.inference_mode():
    for lo in range(0, len(users), batch_size):
      cands = candidates[lo:lo + batch_size]
      scores = model(users[lo:lo + batch_size, None], cands)  # [b, 1] against [b, 100]
      h, g = rank_metrics(torch, scores, k, repeats=cands[:, 1:] == cands[:, :1])
      hr, ndcg = hr + h, ndcg + g
  model.train()
  return {f"hr@{k}": hr / len(users), f"ndcg@{k}": ndcg / len(users)}


def time_eval(torch, args, interactions, t0: float) -> dict:
  """``--time-eval``: the trained ``state_dict`` loaded, ``--eval-repeats`` evaluations of all users timed back to
  back (the first's metrics reported); ``t0`` is when loading the data began."""
  users = torch.arange(interactions.num_users, dtype=torch.int64)
  candidates = torch.from_numpy(interactions.test_candidates(args.eval_negatives_seed).astype(np.int64))
  model = build_model(torch, interactions.num_users, interactions.num_items, args.factors, args.layers)
  model.load_state_dict(torch.load(args.time_eval))
  setup_s = time.perf_counter() - t0
  times, metrics = [], None
  for _ in range(args.eval_repeats):
    start = time.perf_counter()
    result = evaluate(torch, model, users, candidates, args.eval_batch_size, args.top_k)
    times.append(time.perf_counter() - start)
    metrics = metrics or result
  return {"framework": "torch", "eval_time_s": sum(times) / len(times), "eval_times_s": times,
          "evaluations": len(times), "metrics": metrics, "users": interactions.num_users,
          "eval_batch_size": args.eval_batch_size, "full_ranking": False, "setup_time_s": setup_s,
          "model": args.time_eval, "threads": {"intra_op": torch.get_num_threads()},
          "versions": {"torch": torch.__version__, "python": platform.python_version(), "numpy": np.__version__}}


def main(argv=None):
  args = parse_args(argv)
  torch, threads = setup_torch("torch_ncf", args.threads, args.seed)

  # ---------------------------------------------------------------- data
  t0 = time.perf_counter()
  root = data_root(args.data_dir)
  interactions = movielens.read(args.dataset, args.source, root, args.ties)
  if args.time_eval:
    write_results(time_eval(torch, args, interactions, t0), args.json, ("eval_times_s",))
    return
  p, n = len(interactions.train_items), args.num_negatives
  epoch_items = movielens.EpochItems(interactions, n, pairs=False)
  users_all = np.tile(interactions.train_users, 1 + n).astype(np.int64)
  labels_all = np.repeat(np.array([1.0, 0.0], np.float32), [p, p * n])
  num_examples = len(users_all)
  steps_per_epoch = num_examples // args.batch_size
  eval_users = torch.arange(interactions.num_users, dtype=torch.int64)
  eval_candidates = torch.from_numpy(interactions.test_candidates(args.eval_negatives_seed).astype(np.int64))
  data_time = time.perf_counter() - t0

  # ---------------------------------------------------------------- model & optimizer
  model = build_model(torch, interactions.num_users, interactions.num_items, args.factors, args.layers)
  optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, betas=args.betas, eps=args.eps)
  loss_fn = torch.nn.BCEWithLogitsLoss()
  num_params = sum(q.numel() for q in model.parameters())
  print(f"{interactions.name}: {interactions.num_users} users, {interactions.num_items} items, {p} training "
        f"interactions -> {num_examples} instances, {steps_per_epoch} steps of {args.batch_size} per epoch; "
        f"NeuMF factors {args.factors}, layers {args.layers}, {num_params} parameters; {threads} threads", flush=True)

  # ---------------------------------------------------------------- train & evaluate
  epochs, eval_times = [], []
  for epoch in range(args.epochs):
    t_epoch = time.perf_counter()
    items = epoch_items.epoch_view(args.seed, epoch)              # the epoch's negatives, as bigjax draws them
    order = np.random.default_rng([args.seed, epoch]).permutation(num_examples)[:steps_per_epoch * args.batch_size]
    users_e = torch.from_numpy(users_all[order])
    items_e = torch.from_numpy(items[order].astype(np.int64))
    labels_e = torch.from_numpy(labels_all[order])
    t_steps = time.perf_counter()
    loss_sum = torch.zeros((), dtype=torch.float64)
    for i in range(steps_per_epoch):
      rows = slice(i * args.batch_size, (i + 1) * args.batch_size)
      loss = loss_fn(model(users_e[rows], items_e[rows]), labels_e[rows])
      optimizer.zero_grad(set_to_none=True)
      loss.backward()
      optimizer.step()
      loss_sum += loss.detach()
    t_end = time.perf_counter()
    record = {"epoch": epoch + 1, "epoch_time_s": t_end - t_epoch, "step_time_s": t_end - t_steps,
              "data_time_s": t_steps - t_epoch, "train_loss": loss_sum.item() / steps_per_epoch}

    metrics = None
    for _ in range(args.eval_repeats):
      t_eval = time.perf_counter()
      result = evaluate(torch, model, eval_users, eval_candidates, args.eval_batch_size, args.top_k)
      eval_times.append(time.perf_counter() - t_eval)
      metrics = metrics or result
    record.update(metrics, eval_time_s=eval_times[-1])
    epochs.append(record)
    print(f"epoch {epoch + 1}/{args.epochs}  loss {record['train_loss']:.4f}  "
          f"HR@{args.top_k} {metrics[f'hr@{args.top_k}']:.4f}  NDCG@{args.top_k} {metrics[f'ndcg@{args.top_k}']:.4f}  "
          f"epoch {record['epoch_time_s']:.2f}s ({steps_per_epoch / record['step_time_s']:.0f} steps/s)  "
          f"eval {record['eval_time_s']:.3f}s", flush=True)
  wall = time.perf_counter() - t0
  if args.save_model:
    torch.save(model.state_dict(), args.save_model)

  step_time = sum(e["step_time_s"] for e in epochs)
  results = {
      "framework": "torch",
      "versions": {"torch": torch.__version__, "python": platform.python_version(), "numpy": np.__version__},
      "dataset": interactions.name,
      "num_users": interactions.num_users,
      "num_items": interactions.num_items,
      "train_interactions": p,
      "num_examples": num_examples,
      "epochs": args.epochs,
      "steps_per_epoch": steps_per_epoch,
      "steps": steps_per_epoch * args.epochs,
      "batch_size": args.batch_size,
      "eval_batch_size": args.eval_batch_size,
      "model": {"factors": args.factors, "layers": list(args.layers)},
      "optimizer": {"name": "adam", "lr": args.lr, "betas": list(args.betas), "eps": args.eps},
      "num_negatives": n,
      "seed": args.seed,
      "num_params": num_params,
      "data_load_time_s": data_time,
      "wall_time_s": wall,
      "epoch_time_s": sum(e["epoch_time_s"] for e in epochs) / len(epochs),
      "eval_time_s": sum(eval_times) / len(eval_times),
      "eval_times_s": eval_times,
      "evaluations": len(eval_times),
      "train_time_s": sum(e["epoch_time_s"] for e in epochs),
      "step_time_s": step_time,
      "steps_per_s": steps_per_epoch * args.epochs / sum(e["epoch_time_s"] for e in epochs),
      "steps_only_per_s": steps_per_epoch * args.epochs / step_time,
      f"hr@{args.top_k}": epochs[-1][f"hr@{args.top_k}"],
      f"ndcg@{args.top_k}": epochs[-1][f"ndcg@{args.top_k}"],
      "final_train_loss": epochs[-1]["train_loss"],
      # The best epoch on the test items, as NCF's code reports it (a selection on the test set).
      **{f"best_{m}@{args.top_k}": max(e[f"{m}@{args.top_k}"] for e in epochs) for m in ("hr", "ndcg")},
      "history": epochs,
      "threads": {"intra_op": torch.get_num_threads(), "inter_op": torch.get_num_interop_threads()},
      "data": f"bigjax.data.movielens.read({args.dataset!r}, {args.source!r}, {str(root)!r}, {args.ties!r})",
  }
  write_results(results, args.json, ("history", "eval_times_s"))


if __name__ == "__main__":
  main()
