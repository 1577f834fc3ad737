"""How NCF's ML-1M split joins the AFCFM archive's pairs (the ``ncf+afcfm`` source, ``movielens.ncf_item_map``).

  python experiments/ncf/ncf_join.py --json experiments/ncf/ncf_join.json

Prints and records: contradictions of the recovered numbering with NCF's test files (0 for a true join), the
ids that no other consistent numbering moves, the held-out items and negative slots among the others, the
users whose negatives list their own held-out item, and how often AFCFM's held-out item is NCF's.
"""

import argparse
import json
import pathlib
import subprocess
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))
from bigjax.data import default_data_dir, movielens  # noqa: E402


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--data_dir", default=str(default_data_dir()))
  parser.add_argument("--json", default="")
  args = parser.parse_args()
  root = pathlib.Path(args.data_dir)
  every, test, negatives, join = movielens.ncf_afcfm_join(root, check_unique=True)
  open_ids = np.flatnonzero(~join.determined)
  held_out = every[-len(test):]  # ncf_afcfm_join lists the archive's held-out pairs last, one per user
  assert len(np.unique(held_out[:, 0])) == len(test), "the AFCFM archive holds out one pair per user"
  afcfm_held_out = dict(zip(*held_out.T))
  same = sum(int(afcfm_held_out[u + 1] == join.movie_ids[t]) for u, t in test)
  movies, counts = np.unique(every[:, 1], return_counts=True)
  raters = counts[np.searchsorted(movies, join.movie_ids)]  # per NCF id
  record = {
      "pairs": int(len(every)), "users": int(len(test)), "items": int(len(join.movie_ids)),
      "blocks": int(len(np.unique(join.first_user))),
      "contradictions": join.contradictions,
      "ids_determined": int(join.determined.sum()),
      "ids_open": int(len(open_ids)),
      "median_raters_of_open_ids": float(np.median(raters[open_ids])) if len(open_ids) else 0.0,
      "held_out_items_open": int(np.isin(test[:, 1], open_ids).sum()),
      "negative_slots_open": int(np.isin(negatives, open_ids).sum()), "negative_slots": int(negatives.size),
      "users_listing_their_held_out_item_as_negative": join.self_negatives,
      "afcfm_held_out_equals_ncf": int(same),
      "git_revision": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
  }
  for key, value in record.items():
    print(f"{key:48s} {value}")
  if args.json:
    pathlib.Path(args.json).write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
  main()
