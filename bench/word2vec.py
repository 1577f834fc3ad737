"""Side by side: word vectors from gensim 4 and bigjax on the 12.4M-word corpus, one recipe, interleaved.

Frameworks (each run its own subprocess, never two at once, interleaved round by round: ``bench/interleave.py``):

  gensim-skipgram  bench/word2vec.py --gensim --sg 1: gensim.models.Word2Vec, 2 workers
  bigjax-skipgram  python -m bigjax.main --config=configs/word2vec_text_corpus.py
  gensim-cbow      bench/word2vec.py --gensim --sg 0
  bigjax-cbow      python -m bigjax.main --config=configs/word2vec_text_corpus.py:cbow
  bigjax-glove     python -m bigjax.main --config=configs/glove_text_corpus.py (gensim has no GloVe)

The same text for all: the corpus' training split as bigjax reads it (words seen 5 times or more, lowercased,
one sentence per line; the held-out last 0.5% left out), handed to gensim as lists of words with
``min_count=1`` (the rare words are already gone). The same settings: 100 dimensions, window 5, 5 negatives
from unigram^0.75, subsampling 1e-3, 5 epochs, the rate decaying linearly to a floor (gensim: its defaults,
alpha 0.025 to 0.0001; bigjax: its config's, chosen on held-out loss: ``get_sweep``). Round r uses seed r.

Statistics, one definition for all, as the median and min-max over the rounds:

  words/s     corpus words (sentence ends not counted) x epochs / the training phase's seconds, each clocked
              by the trainer itself: gensim's ``model.train`` (after ``build_vocab``), bigjax's
              ``train_time_s`` (its loop, compilation and evaluations left out); for GloVe, the co-occurrence
              count (cached after the first run) is outside it too
  process     launch to exit, everything included
  analogy, WordSim353, SimLex-999   bigjax.embeddings.WordVectors' evaluations (equal to gensim's own: tests)

  python bench/word2vec.py --json experiments/embeddings/bench_word2vec.json           # 3 rounds
  python bench/word2vec.py --repeats 1 --epochs 1 --only gensim-skipgram,bigjax-skipgram   # the plumbing
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import interleave  # pylint: disable=wrong-import-position  # bench/ is on sys.path
from seed_cnn import REPO_ROOT, git_revision, machine_info, run_logged  # pylint: disable=wrong-import-position

FRAMEWORKS = ("gensim-skipgram", "bigjax-skipgram", "gensim-cbow", "bigjax-cbow", "bigjax-glove")
CONFIGS = {"bigjax-skipgram": "configs/word2vec_text_corpus.py", "bigjax-cbow": "configs/word2vec_text_corpus.py:cbow",
           "bigjax-glove": "configs/glove_text_corpus.py"}
WORKERS = 2


def parse_args(argv=None):
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--repeats", type=int, default=interleave.MIN_REPEATS)
  p.add_argument("--epochs", type=int, default=5, help="Word2Vec's epochs, both frameworks")
  p.add_argument("--glove-epochs", type=int, default=0, help="GloVe's epochs (0: its config's)")
  p.add_argument("--only", default=",".join(FRAMEWORKS))
  p.add_argument("--workdir", default=None, help="where runs write (default: a new temp dir, kept)")
  p.add_argument("--json", metavar="OUT")
  # one gensim run (a subprocess of the bench) and one evaluation of a bigjax run
  p.add_argument("--gensim", action="store_true", help=argparse.SUPPRESS)
  p.add_argument("--sg", type=int, default=1, help=argparse.SUPPRESS)
  p.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
  p.add_argument("--evaluate", metavar="RUN", help=argparse.SUPPRESS)
  p.add_argument("--out", help=argparse.SUPPRESS)
  args = p.parse_args(argv)
  args.only = [n.strip() for n in args.only.split(",") if n.strip()]
  if unknown := sorted(set(args.only) - set(FRAMEWORKS)):
    p.error(f"--only: unknown framework(s) {unknown}; choose from {list(FRAMEWORKS)}")
  if args.repeats < 1 or args.epochs < 1:
    p.error("--repeats and --epochs must be >= 1")
  return args


def training_text() -> tuple[list[list[str]], int]:
  """The corpus' training split as bigjax trains on it: (sentences as lists of words, number of words)."""
  sys.path.insert(0, REPO_ROOT)
  import numpy as np  # pylint: disable=import-outside-toplevel
  from bigjax.data import core, word_corpus  # pylint: disable=import-outside-toplevel
  config = _config(CONFIGS["bigjax-skipgram"])
  stream, vocab = word_corpus.load(config.data.name, core.default_data_dir(), tokenizer=config.data.tokenizer,
                                   min_count=config.data.min_freq)
  stream = stream[:word_corpus.held_out_cut(stream)]
  words = np.array(["</s>", *vocab.words], dtype=object)
  ends = np.flatnonzero(stream == 0)
  starts = np.concatenate([[0], ends[:-1] + 1])
  return [words[stream[a:b]].tolist() for a, b in zip(starts, ends)], int(np.count_nonzero(stream))


def _config(arg: str):
  sys.path.insert(0, REPO_ROOT)
  from bigjax import configs  # pylint: disable=import-outside-toplevel
  return configs.load(os.path.join(REPO_ROOT, arg.split(":")[0]) + (":" + arg.split(":")[1] if ":" in arg else ""))


def scores(wv) -> dict:
  from bigjax.data import word_eval  # pylint: disable=import-outside-toplevel
  return {"analogy": wv.evaluate_word_analogies().accuracy, "wordsim353": wv.evaluate_word_pairs().spearman,
          "simlex999": wv.evaluate_word_pairs(word_eval.simlex999()).spearman}


def gensim_run(args) -> None:
  """One gensim Word2Vec run with bigjax's corpus and the shared settings: its vectors to ``args.out``.npz,
  its clock to ``args.out``."""
  import gensim  # pylint: disable=import-outside-toplevel
  from bigjax.embeddings import WordVectors  # pylint: disable=import-outside-toplevel
  sentences, num_words = training_text()
  model = gensim.models.Word2Vec(vector_size=100, window=5, min_count=1, workers=WORKERS, sg=args.sg, negative=5,
                                 sample=1e-3, epochs=args.epochs, seed=args.seed + 1)
  model.build_vocab(sentences)
  start = time.perf_counter()
  model.train(sentences, total_examples=model.corpus_count, epochs=args.epochs)
  train_s = time.perf_counter() - start
  WordVectors(list(model.wv.index_to_key), model.wv.vectors).save(args.out + ".npz")
  with open(args.out, "w") as f:
    json.dump({"train_time_s": train_s, "words": num_words, "epochs": args.epochs, "gensim": gensim.__version__,
               "words_per_s": num_words * args.epochs / train_s}, f, indent=2)


def evaluate(args) -> None:
  """The scores of ``args.evaluate``: a bigjax run (its words per second too) or gensim's saved vectors; added
  to the JSON ``args.out``."""
  sys.path.insert(0, REPO_ROOT)
  from bigjax.embeddings import WordVectors, vectors_from_run  # pylint: disable=import-outside-toplevel
  out = {}
  if os.path.isdir(args.evaluate):
    with open(os.path.join(args.evaluate, "results.json")) as f:
      results = json.load(f)
    _, num_words = training_text()
    epochs = results["config"]["train"]["num_epochs"]
    out = {"train_time_s": results["train_time_s"], "compile_time_s": results["compile_time_s"],
           "words": num_words, "epochs": epochs, "words_per_s": num_words * epochs / results["train_time_s"],
           "git_revision": results["git_revision"], "validation_loss": results["final_metrics"]["validation/loss"]}
    wv = vectors_from_run(args.evaluate)
  else:
    with open(args.out) as f:
      out = json.load(f)
    wv = WordVectors.load(args.evaluate)
  with open(args.out, "w") as f:
    json.dump({**out, **scores(wv)}, f, indent=2)


def bench_row(name: str, round_: int, args, root: str) -> dict:
  """One run of ``name`` in ``root/<name>_r<round>``: trained in one subprocess (its launch-to-exit time is
  ``process_time_s``), scored in another."""
  workdir = os.path.join(root, f"{name}_r{round_}")
  os.makedirs(workdir, exist_ok=True)
  out = os.path.join(workdir, "scores.json")
  me = [sys.executable, os.path.abspath(__file__)]
  if name.startswith("gensim"):
    sg = int(name.endswith("skipgram"))
    flags = ["--sg", str(sg), "--seed", str(round_), "--epochs", str(args.epochs)]
    command, trained = ["python", "bench/word2vec.py", "--gensim", *flags], out + ".npz"
    cmd = [*me, "--gensim", *flags, "--out", out]
  else:
    trained = os.path.join(workdir, "run")
    epochs = args.glove_epochs if name == "bigjax-glove" else args.epochs
    flags = [f"--config.seed={round_}"] + ([f"--config.train.num_epochs={epochs}"] if epochs else [])
    cmd = [sys.executable, "-m", "bigjax.main", f"--config={CONFIGS[name]}", f"--workdir={trained}", *flags]
    command = ["python", *cmd[1:]]
  rc, tail, process_s = run_logged(name, cmd, os.path.join(workdir, "run.log"))
  if rc == 0:
    rc, tail, _ = run_logged(name, [*me, "--evaluate", trained, "--out", out], os.path.join(workdir, "eval.log"))
  if rc != 0 or not os.path.exists(out):
    return {"status": "failed", "error": f"exit code {rc}; see {workdir}", "output_tail": tail[-10:]}
  with open(out) as f:
    return {"status": "ok", "command": command, "process_time_s": process_s, **json.load(f)}


def markdown_table(names: list[str], summary: dict) -> str:
  """One row per framework: median (min-max) over the rounds of each statistic, and bigjax's words per second
  over gensim's in the same round."""
  lines = ["| framework | words/s | / gensim's | analogy | WordSim353 | SimLex-999 | training | process |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
  for name in names:
    s = lambda key, spec, suffix="": interleave.fmt_spread(summary[key].get(name), spec, suffix=suffix)
    mode = name.split("-", 1)[1]
    ratio = (interleave.fmt_spread(summary["words_per_s_vs_gensim"].get(mode), ".2f", suffix="x")
             if name.startswith("bigjax") and mode in summary["words_per_s_vs_gensim"] else "")
    lines.append(f"| {name} | {s('words_per_s', ',.0f')} | {ratio} | {s('analogy', '.1%')} | {s('wordsim353', '.3f')} "
                 f"| {s('simlex999', '.3f')} | {s('train_time_s', '.0f', ' s')} | {s('process_time_s', '.0f', ' s')} |")
  return "\n".join(lines)


def main(argv=None) -> int:
  args = parse_args(argv)
  if args.gensim:
    gensim_run(args)
    return 0
  if args.evaluate:
    evaluate(args)
    return 0
  import tempfile  # pylint: disable=import-outside-toplevel
  root = args.workdir or tempfile.mkdtemp(prefix="bench_word2vec_")
  rows = interleave.run_interleaved(args.only, args.repeats, lambda name, r: bench_row(name, r, args, root))
  summary = {key: interleave.summarise(rows, key)
             for key in ("words_per_s", "train_time_s", "process_time_s", "analogy", "wordsim353", "simlex999")}
  summary["words_per_s_vs_gensim"] = {
      mode: interleave.ratios_per_round([r for r in rows if r["framework"] in (f"gensim-{mode}", f"bigjax-{mode}")],
                                        "words_per_s", f"gensim-{mode}").get(f"bigjax-{mode}")
      for mode in ("skipgram", "cbow")}
  table = markdown_table(args.only, summary)
  print("\n" + table)
  if args.json:
    record = {"machine": machine_info(), "git_revision": git_revision(), "command": ["python", *sys.argv],
              "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "settings": {"epochs": args.epochs, "workers": WORKERS,
              "repeats": args.repeats, "glove_epochs": args.glove_epochs}, "runs": rows, "summary": summary,
              "table_markdown": table}
    os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    with open(args.json, "w") as f:
      json.dump(record, f, indent=2)
    print(f"wrote {args.json}")
  return 0 if all(r["status"] == "ok" for r in rows) else 1


if __name__ == "__main__":
  sys.exit(main())
