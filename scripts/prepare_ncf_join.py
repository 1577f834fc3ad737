"""Computes NCF's ML-1M item-id join to MovieIDs once, into the verified cache the ``ncf+afcfm`` source reads.

  python scripts/prepare_ncf_join.py [--data_dir DIR] [--cache_dir DIR]

A run computes the join on first use anyway; this fills the cache ahead of it (e.g. before starting many runs
at once, or on a machine whose home is read-only at training time: then point $BIGJAX_CACHE_DIR at the folder
this wrote). Prints the cache entry and the join's consistency with NCF's test files.
"""

import argparse
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from bigjax.data import core  # noqa: E402
from bigjax.data.movielens import ncf_join  # noqa: E402


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--data_dir", default=str(core.default_data_dir()), help="the data root holding ml-1m/")
  parser.add_argument("--cache_dir", default=str(core.default_cache_dir()), help="where the join is cached")
  args = parser.parse_args(argv)
  start = time.time()
  try:
    every, test, negatives, join = ncf_join.ncf_afcfm_join(pathlib.Path(args.data_dir), cache_dir=pathlib.Path(args.cache_dir))
  except core.DataError as error:
    print(f"error: {error}", file=sys.stderr)
    return 1
  entry = ncf_join.entry_dir(every, test, negatives, pathlib.Path(args.cache_dir))
  print(f"{len(join.movie_ids)} NCF item ids joined over {len(every)} pairs of {len(test)} users in "
        f"{time.time() - start:.1f} s; contradictions with NCF's test files: {join.contradictions}")
  print(f"cache entry: {entry}" if entry.is_dir() else f"not cached (could not write under {args.cache_dir})")
  return 0 if join.contradictions == 0 else 1


if __name__ == "__main__":
  sys.exit(main())
