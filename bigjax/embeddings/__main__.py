"""``python -m bigjax.embeddings``: score, query and plot trained word vectors.

  python -m bigjax.embeddings evaluate VECTORS [--json OUT]
  python -m bigjax.embeddings neighbours VECTORS --words king,paris,... [--topn 5] [--json OUT]
  python -m bigjax.embeddings plot VECTORS --words king,queen,man,woman --out words.png [--method pca|tsne]

VECTORS is a word2vec or GloVe run's workdir, a ``WordVectors.save`` (or model ``save``) .npz, or a file in the
word2vec C tool's text (.txt, .vec) or binary (.bin) format. ``evaluate``: analogies (questions-words, 3CosAdd
over the 30,000 most frequent words), WordSim-353 and SimLex-999 (Spearman). Exit status 2 with a one-line
message for a missing or unreadable VECTORS, an unknown word, or an output that exists (nothing is
overwritten).
"""

import argparse
import json
import pathlib
import sys

from bigjax.data.core import DataError
from bigjax.embeddings import WordVectors, vectors_from_run
from bigjax.runs import ConfigError


def load_vectors(source: str) -> WordVectors:
  path = pathlib.Path(source)
  if path.is_dir():
    return vectors_from_run(path)
  if path.suffix == ".npz":
    return WordVectors.load(path)
  if path.suffix in (".txt", ".vec", ".bin"):
    return WordVectors.load_word2vec_format(path, binary=path.suffix == ".bin")
  if not path.exists():
    raise DataError(f"{source} not found")
  raise DataError(f"{source}: expected a run's workdir, an .npz that WordVectors.save wrote, or a word2vec "
                  f".txt/.vec/.bin file")


def scores(wv: WordVectors) -> dict[str, float]:
  from bigjax.data import word_eval  # pylint: disable=import-outside-toplevel
  return (wv.evaluate_word_analogies().metrics("analogy") | wv.evaluate_word_pairs().metrics("wordsim353")
          | wv.evaluate_word_pairs(word_eval.simlex999()).metrics("simlex999"))


def neighbours(wv: WordVectors, words: list[str], topn: int) -> dict[str, list[list]]:
  unknown = [w for w in words if w not in wv]
  if unknown:
    raise KeyError(f"not in the vocabulary: {', '.join(unknown)}")
  return {w: [[other, round(float(cos), 4)] for other, cos in wv.most_similar(w, topn=topn)] for w in words}


def _write(path: str | None, payload) -> None:
  if path is None:
    print(json.dumps(payload, indent=2, ensure_ascii=False))
    return
  out = pathlib.Path(path)
  if out.exists():
    raise FileExistsError(f"{out} exists; give another --json (nothing is overwritten)")
  out.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
  print(f"wrote {out}")


def main(argv=None) -> int:
  p = argparse.ArgumentParser(prog="python -m bigjax.embeddings", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  sub = p.add_subparsers(dest="command", required=True)
  for name in ("evaluate", "neighbours", "plot"):
    q = sub.add_parser(name)
    q.add_argument("vectors")
    if name != "evaluate":
      q.add_argument("--words", required=True, help="comma-separated")
    if name == "plot":
      q.add_argument("--out", required=True)
      q.add_argument("--method", choices=("pca", "tsne"), default="pca")
    else:
      q.add_argument("--json")
    if name == "neighbours":
      q.add_argument("--topn", type=int, default=5)
  args = p.parse_args(argv)
  try:
    wv = load_vectors(args.vectors)
    words = [w for w in getattr(args, "words", "").split(",") if w]
    if args.command == "evaluate":
      _write(args.json, {"vectors": args.vectors, **scores(wv)})
    elif args.command == "neighbours":
      found = neighbours(wv, words, args.topn)
      table = "\n".join(["| word | nearest (cosine) |", "|---|---|"] + [
          f"| {w} | {', '.join(f'{o} ({c:.2f})' for o, c in found[w])} |" for w in words])
      _write(args.json, {"vectors": args.vectors, "neighbours": found, "table_markdown": table})
    else:
      if pathlib.Path(args.out).exists():
        raise FileExistsError(f"{args.out} exists; give another --out (nothing is overwritten)")
      neighbours(wv, words, 1)  # unknown words are named before anything is drawn
      wv.plot(words, args.out, method=args.method)
      print(f"wrote {args.out}")
  except (DataError, ConfigError, KeyError, FileExistsError) as error:
    message = error.args[0] if isinstance(error, KeyError) and error.args else error
    print(f"python -m bigjax.embeddings {args.command}: error: {message}", file=sys.stderr)
    return 2
  return 0


if __name__ == "__main__":
  sys.exit(main())
