"""The encoder-decoder Transformer (padding, causality, shapes) and decoding: cached decoding equals full
recomputation, beam 1 equals greedy, and beam search equals exhaustive search on a small stateful model; the
translation arrays decode to the files' sentences; label smoothing against float64; the smoke config."""

import itertools
import json
import subprocess
import sys

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from bigjax import train, translate as translate_cli, writers
from bigjax.data import text_pairs, translation
from bigjax.data.core import default_data_dir
from bigjax.models import attention_rnn, decoding, seq2seq
from bigjax.tasks import seq2seq as seq2seq_task

from conftest import REPO, cli_env, load_config, load_module, requires_data

BOS, EOS = 2, 3


def small_model(kind="transformer", **kwargs):
  if kind == "rnn":
    return attention_rnn.AttentionRNN(**{**dict(vocab_size=24, max_len=12, embed_dim=12, hidden=10, attention_dim=8,
                                                 dropout=0.0), **kwargs})
  fields = dict(vocab_size=24, max_len=12, num_layers=2, num_heads=2, embed_dim=16, dropout=0.0)
  return seq2seq.Transformer(**{**fields, **kwargs})


@pytest.fixture(scope="module", params=["transformer", "rnn"])
def model_and_params(request):
  model = small_model(request.param)
  src = jnp.ones((1, 7), jnp.int32)
  params = model.init(jax.random.key(0), src, jnp.ones((1, 5), jnp.int32))["params"]
  # Larger weights than the init's, so the model prefers different tokens in different places.
  params = jax.tree.map(lambda p: p * 8.0 if p.ndim >= 2 else p, params)
  return model, params


def test_padding_of_the_source_changes_nothing_and_the_decoder_is_causal(model_and_params):
  model, params = model_and_params
  rng = np.random.default_rng(0)
  src = rng.integers(4, 24, (2, 5)).astype(np.int32)
  tgt = rng.integers(4, 24, (2, 6)).astype(np.int32)
  logits = model.apply({"params": params}, src, tgt)
  assert logits.shape == (2, 6, 24) and logits.dtype == jnp.float32
  padded = np.concatenate([src, np.zeros((2, 3), np.int32)], axis=1)
  np.testing.assert_allclose(model.apply({"params": params}, padded, tgt), logits, atol=1e-5)
  changed = tgt.copy()
  changed[:, 4:] = 5
  np.testing.assert_allclose(model.apply({"params": params}, src, changed)[:, :4], logits[:, :4], atol=1e-5)
  assert not np.allclose(model.apply({"params": params}, src[::-1], tgt), logits, atol=1e-3)  # it reads the source
  if isinstance(model, seq2seq.Transformer):  # learned positions end at max_len; the RNN's state has no end
    with pytest.raises(ValueError, match="exceeds max_len=12"):
      model.apply({"params": params}, src, np.ones((2, 13), np.int32))


def cached_step(model, params, src):
  """A decoding step over the model's cache (keys and values, or an RNN's state), and the cache for ``src``."""
  kind = type(model)
  memory = model.apply({"params": params}, src, method=kind.encode)
  _, variables = model.apply({"params": params}, jnp.zeros((len(src), model.max_len), jnp.int32), memory, src,
                             decode=True, method=kind.decode, mutable=["cache"])

  def step(tokens, cache):
    logits, variables = model.apply({"params": params, "cache": cache["kv"]}, tokens, cache["memory"], cache["src"],
                                    decode=True, method=kind.decode, mutable=["cache"])
    return logits[:, -1], {"kv": variables["cache"], "memory": cache["memory"], "src": cache["src"]}
  return step, {"kv": variables["cache"], "memory": memory, "src": src}


def test_cached_greedy_decoding_equals_recomputing_every_prefix(model_and_params):
  model, params = model_and_params
  src = np.random.default_rng(1).integers(4, 24, (3, 6)).astype(np.int32)
  src[2, 4:] = 0
  step, cache = cached_step(model, params, src)
  tokens = np.asarray(jax.jit(lambda c: decoding.greedy(step, c, 3, BOS, EOS, 10))(cache))
  full = jax.jit(lambda s, t: model.apply({"params": params}, s, t))  # causal: the padding after t is not read
  for row in range(3):
    prefix = [BOS]
    for t in range(10):
      logits = full(src[row:row + 1], np.array([prefix + [0] * (10 - len(prefix))], np.int32))
      token = int(np.argmax(logits[0, t]))
      assert tokens[row, t] == token, (row, t)
      prefix.append(token)
      if token == EOS:
        assert (tokens[row, t + 1:] == 0).all()
        break


def test_beam_one_without_length_penalty_is_greedy(model_and_params):
  model, params = model_and_params
  src = np.random.default_rng(2).integers(4, 24, (4, 6)).astype(np.int32)
  step, cache = cached_step(model, params, src)
  greedy = decoding.greedy(step, cache, 4, BOS, EOS, 10)
  beam, scores = decoding.beam_search(step, cache, 4, 1, 0.0, BOS, EOS, 10)
  np.testing.assert_array_equal(np.asarray(beam), np.asarray(greedy))
  assert np.all(np.asarray(scores) <= 0)


def stateful_step(table):
  """A model whose next-token logits depend on its whole history through a per-row state in the cache:
  state' = (3 state + token) mod vocab, logits = table[state']. Wrong reordering of the cache rows between
  beams would give hypotheses another's history."""
  vocab = table.shape[0]

  def step(tokens, cache):
    state = (3 * cache["state"] + tokens[:, 0]) % vocab
    return table[state], {"state": state}
  return step


def exhaustive_best(table, alpha, max_len):
  """The highest-scoring sequence ending in </s> within ``max_len`` tokens, by enumeration in float64."""
  table = np.asarray(table, np.float64)
  logp = table - np.log(np.exp(table).sum(axis=1, keepdims=True))
  vocab = len(table)
  best, best_score = None, -np.inf
  for length in range(1, max_len + 1):
    for seq in itertools.product(range(vocab), repeat=length):
      if seq[-1] != EOS or EOS in seq[:-1]:
        continue
      state, total = 0, 0.0
      for previous, token in zip((BOS,) + seq[:-1], seq):
        state = (3 * state + previous) % vocab
        total += logp[state, token]
      score = total / ((5 + length) / 6) ** alpha
      if score > best_score:
        best, best_score = seq, score
  return best, best_score


@pytest.mark.parametrize("alpha", [0.0, 0.6, 2.0])
def test_beam_search_finds_the_exhaustive_best_and_keeps_examples_apart(alpha):
  rng = np.random.default_rng(3)
  table = rng.normal(0, 2, (5, 5))
  table[:, 0] = -30.0  # token 0 is padding: never generated
  table = jnp.asarray(table, jnp.float32)
  best, best_score = exhaustive_best(table, alpha, 4)
  # Two examples with the same model and input, so both must find it; 64 beams keep every live prefix here.
  beam = 64
  tokens, scores = decoding.beam_search(stateful_step(table), {"state": jnp.zeros((2 * beam,), jnp.int32)}, 2,
                                        beam, alpha, BOS, EOS, 4)
  for row in range(2):
    assert tuple(int(t) for t in np.asarray(tokens[row]) if t != 0) == best
    assert float(scores[row]) == pytest.approx(best_score, rel=1e-5)


# ====================================================================================== data and task

requires_multi30k = requires_data("multi30k/task1/raw/train.de.gz")
requires_tatoeba = requires_data("tatoeba/spa-eng.zip")


def data_config(**overrides):
  fields = dict(name="multi30k", source="de", target="en", vocab_size=1000, subword_model="unigram", max_len=80,
                train_split="train", eval_split="validation", data_dir="")
  return ml_collections.ConfigDict({**fields, **overrides})


@requires_multi30k
def test_translation_arrays_decode_to_the_files_sentences():
  root = default_data_dir()
  test = translation.load(data_config(), "test", root)
  de, en = text_pairs.load_multi30k("test", "de", "en")
  source, target, vocab = test.arrays["source"], test.arrays["target"], test.vocab
  assert source.shape == (1000, 80) and target.shape == (1000, 81) and len(vocab) == 1000
  assert (target[:, 0] == BOS).all()
  for i in range(0, 1000, 37):
    assert vocab.decode(source[i]) == de[i] and vocab.decode(target[i, 1:]) == en[i]
    assert source[i][np.flatnonzero(source[i])[-1]] == EOS
  with pytest.raises(ValueError, match="config.data.max_len=20: multi30k:test has a pair of"):
    translation.load(data_config(max_len=20), "test", root)
  short = translation.load(data_config(max_len=20), "train", root)  # training pairs that do not fit are left out
  assert 0 < len(short) < 29000 and short.arrays["source"].shape[1] == 20


@requires_tatoeba
def test_tatoeba_directions_and_refusals():
  root = default_data_dir()
  spa_eng = translation.sentence_pairs(data_config(name="tatoeba", source="spa", target="eng"), "test", root)
  eng_spa = translation.sentence_pairs(data_config(name="tatoeba", source="eng", target="spa"), "test", root)
  assert spa_eng == eng_spa[::-1] and spa_eng[1][0].isascii()
  with pytest.raises(ValueError, match="tatoeba pairs English"):
    translation.sentence_pairs(data_config(name="tatoeba", source="spa", target="fra"), "test", root)


@requires_tatoeba
def test_tatoeba_smoke_config_trains_and_is_scored_by_sacrebleu(tmp_path):
  metrics = train.run(load_config("transformer_tatoeba", "smoke"), tmp_path / "run")["final_metrics"]
  assert 0.0 <= metrics["test/bleu"] <= 100.0 and np.isfinite(metrics["validation/loss"])


@pytest.mark.parametrize("name", ["transformer_multi30k", "attention_rnn_multi30k", "transformer_tatoeba",
                                  "transformer_bbc_news"])
def test_choose_reads_validation_only_and_the_final_run_reads_test_once_at_its_end(name):
  """The epochs come from the choose run's curve (validation, no test); the schedule does not depend on the
  run's length, so the final run of the chosen epochs is exactly that curve's beginning (or all of it), read on
  test once."""
  choose, final = load_config(name, "choose"), load_config(name)
  assert choose.data.eval_split == final.data.eval_split == "validation" and not choose.data.test_split
  assert final.data.test_split == "test" and final.train.eval_every_steps >= 10**9
  assert choose.optim.schedule == final.optim.schedule == "warmup_rsqrt"
  assert choose.train.num_epochs >= final.train.num_epochs


def test_label_smoothed_loss_against_float64():
  rng = np.random.default_rng(0)
  logits = rng.normal(0, 2, (2, 3, 7))
  targets = np.array([[4, 5, 0], [6, 3, 3]])
  smoothed, nll = seq2seq_task.token_losses(jnp.asarray(logits, jnp.float32), jnp.asarray(targets), 0.1)
  logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
  labels = np.full((2, 3, 7), 0.1 / 7)
  labels[np.arange(2)[:, None], np.arange(3)[None], targets] += 0.9
  np.testing.assert_allclose(np.asarray(smoothed), -(labels * logp).sum(-1), rtol=1e-5)
  np.testing.assert_allclose(np.asarray(nll), -np.take_along_axis(logp, targets[..., None], -1)[..., 0], rtol=1e-5)
  assert seq2seq_task.finalize({"nll_sum": 6.0, "tokens": 3.0, "correct": 1.5})["accuracy"] == 0.5


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
  workdir = tmp_path_factory.mktemp("transformer_multi30k")
  return workdir, train.run(load_config("transformer_multi30k", "smoke"), workdir)


@requires_multi30k
def test_smoke_config_trains_and_is_scored_by_sacrebleu(smoke_run):
  workdir, results = smoke_run
  metrics = results["final_metrics"]
  for split in ("validation", "test"):
    assert 0.0 <= metrics[f"{split}/bleu"] <= 100.0 and 0.0 <= metrics[f"{split}/chrf"] <= 100.0
    assert metrics[f"{split}/perplexity"] == pytest.approx(np.exp(metrics[f"{split}/loss"]))
  samples = sorted((workdir / "samples").glob("step_*.md"))
  assert samples and "BLEU nrefs:1|case:mixed|eff:no|tok:13a" in samples[-1].read_text()


@requires_multi30k
def test_translate_cli_decodes_as_the_task_does_and_refuses_bad_input(smoke_run, tmp_path, capsys):
  workdir, _ = smoke_run
  config, model, params, tokenizer = translate_cli.load_run(workdir)
  lines = ["Ein Hund läuft im Schnee.", "Zwei Männer sitzen auf einer Bank."]
  expected = translate_cli.translate_lines(lines, config, model, params, tokenizer, 2, 0.6)
  source = np.zeros((2, config.data.max_len), np.int32)
  for i, ids in enumerate(tokenizer.encode_batch(lines, eos=True)):
    source[i, :len(ids)] = ids
  direct = seq2seq_task.translate(model, params, jnp.asarray(source), 2, 0.6, config.data.max_len)
  assert expected == [tokenizer.decode(row) for row in np.asarray(direct)]
  (tmp_path / "in.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
  proc = subprocess.run([sys.executable, "-m", "bigjax.translate", f"--workdir={workdir}", f"--input={tmp_path / 'in.txt'}"],
                        env=cli_env(), cwd=REPO, capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert proc.stdout.splitlines() == expected  # the run's beam (2) and length penalty (0.6)
  for args, message in (([f"--workdir={tmp_path}", "--text=x"], "is not a text-to-text run"),
                        ([f"--workdir={workdir}", "--text=" + "Hund " * 200], "the model reads at most"),
                        ([f"--workdir={workdir}", f"--input={tmp_path / 'none.txt'}"], "cannot be read")):
    assert translate_cli.main(args) == 2
    assert message in capsys.readouterr().err
@requires_multi30k
def test_attention_rnn_smoke_config_trains_and_is_scored_by_sacrebleu(tmp_path):
  metrics = train.run(load_config("attention_rnn_multi30k", "smoke"), tmp_path / "run")["final_metrics"]
  assert 0.0 <= metrics["test/bleu"] <= 100.0 and np.isfinite(metrics["test/loss"])


def pairs_as_arrays(rng, lengths, width):
  """``encode``'s arrays for random pairs of the given ``(source, target)`` piece counts (with </s>, and <s>)."""
  source = np.zeros((len(lengths), width), np.int32)
  target = np.zeros((len(lengths), width + 1), np.int32)
  for i, (m, t) in enumerate(lengths):
    source[i, :m - 1], source[i, m - 1] = rng.integers(4, 24, m - 1), EOS
    target[i, 0], target[i, 1:t - 1], target[i, t - 1] = BOS, rng.integers(4, 24, t - 2), EOS
  return {"source": source, "target": target}


def test_packing_puts_every_pair_whole_in_one_row():
  rng = np.random.default_rng(0)
  lengths = [(int(m), int(t)) for m, t in zip(rng.integers(2, 12, 40), rng.integers(3, 13, 40))]
  arrays = pairs_as_arrays(rng, lengths, 12)
  packed = translation.pack(arrays)
  rows = len(packed["source"])
  assert packed["source"].shape == (rows, 12) and packed["target_segments"].shape == (rows, 13)
  # Fewer rows than pairs, no row over its width (the arrays' shapes), and no fewer than the tokens need.
  assert -(-(arrays["target"] != 0).sum() // 13) <= rows < 40
  found = []
  for row in range(rows):
    for side in ("source", "target"):  # segments are contiguous, numbered 1.. in order, then padding
      segments = packed[f"{side}_segments"][row]
      real = segments[segments > 0]
      assert (np.diff(real) >= 0).all() and (real == np.repeat(np.arange(1, real.max() + 1), np.bincount(real)[1:])).all()
      assert (segments[len(real):] == 0).all() and ((packed[side][row] != 0) == (segments > 0)).all()
    for k in range(1, packed["source_segments"][row].max() + 1):
      found.append((tuple(packed["source"][row][packed["source_segments"][row] == k]),
                    tuple(packed["target"][row][packed["target_segments"][row] == k])))
  expected = [(tuple(s[s != 0]), tuple(t[t != 0])) for s, t in zip(arrays["source"], arrays["target"])]
  assert sorted(found) == sorted(expected)
  assert translation.real_token_fraction(packed) > translation.real_token_fraction(arrays)


def test_a_packed_row_computes_what_each_of_its_pairs_computes_alone():
  model = small_model(max_len=16)
  rng = np.random.default_rng(3)
  arrays = pairs_as_arrays(rng, [(5, 4), (3, 6), (4, 3), (6, 5), (2, 3)], 15)
  packed = translation.pack(arrays)
  assert len(packed["source"]) < 5  # some row holds more than one pair
  params = model.init(jax.random.key(0), arrays["source"], arrays["target"][:, :-1])["params"]
  params = jax.tree.map(lambda p: p * 4.0 if p.ndim >= 2 else p, params)
  alone = model.apply({"params": params}, arrays["source"], arrays["target"][:, :-1])
  together = model.apply({"params": params}, packed["source"], packed["target"][:, :-1],
                         **seq2seq_task.packing(packed))
  checked = 0
  for i in range(5):
    t = int((arrays["target"][i] != 0).sum())
    for row in range(len(packed["target"])):
      segments = packed["target_segments"][row]
      for k in range(1, segments.max() + 1):
        if tuple(packed["target"][row][segments == k]) == tuple(arrays["target"][i, :t]):
          at = np.flatnonzero(segments == k)
          at = at[at < packed["target"].shape[1] - 1]  # the decoder reads target[:, :-1]
          np.testing.assert_allclose(together[row, at], alone[i, :len(at)], atol=2e-5)
          checked += 1
  assert checked == 5
  # The loss: the same scored tokens, so the same mean (label smoothing on, dropout off).
  config = ml_collections.ConfigDict({"label_smoothing": 0.1})
  rng_key = jax.random.key(1)
  plain, _ = seq2seq_task.loss(model, params, {k: jnp.asarray(v) for k, v in arrays.items()}, rng_key, config)
  as_packed, _ = seq2seq_task.loss(model, params, {k: jnp.asarray(v) for k, v in packed.items()}, rng_key, config)
  assert float(seq2seq_task.scored(packed).sum()) == float(seq2seq_task.scored(arrays).sum())
  np.testing.assert_allclose(float(as_packed), float(plain), rtol=1e-5)


def test_packing_is_refused_for_a_model_that_cannot_read_packed_rows():
  config = load_config("attention_rnn_multi30k", "smoke")
  with config.unlocked():
    config.data.pack = True
  model = small_model("rnn")
  with pytest.raises(ValueError, match="config.data.pack=True: AttentionRNN does not read packed rows"):
    seq2seq_task.make(config, model, None)


@requires_multi30k
def test_the_configs_packing_figures_are_multi30ks():
  """configs/transformer_multi30k.py quotes how its training pairs pack; they are computed here."""
  import ast
  config = load_config("transformer_multi30k")
  root = default_data_dir()
  sources, targets = translation.sentence_pairs(config.data, "train", root)
  plain = translation.encode(translation.tokenizer_for(config.data, root), sources, targets, config.data.max_len,
                             "multi30k:train", training=True)
  packed = translation.load(config.data, "train", root).arrays
  doc = " ".join(ast.get_docstring(ast.parse((REPO / "configs" / "transformer_multi30k.py").read_text())).split())
  rows = len(packed["source"])
  assert f"the {len(plain['source']):,} pairs fill {rows:,} rows" in doc
  assert f"are {translation.real_token_fraction(packed):.0%} real pieces instead of " \
         f"{translation.real_token_fraction(plain):.0%} unpadded" in doc
  assert f"batches of {config.data.batch_size} rows" in doc and f"{rows // config.data.batch_size} steps an epoch" in doc


requires_bbc = requires_data("bbc_news_summary/BBC_News_Summary.tar.xz")


def bbc_config(**overrides):
  fields = dict(name="bbc_news_pairs", source="article", target="summary", cut=True, source_len=64, max_len=32,
                reference_len=3000)
  return data_config(**{**fields, **overrides})


@requires_bbc
def test_bbc_articles_are_cut_to_what_the_model_reads_and_scored_against_whole_summaries():
  root = default_data_dir()
  test = translation.load(bbc_config(), "test", root)
  articles = text_pairs.load_bbc_news("test", root)
  source, target, reference, vocab = (test.arrays["source"], test.arrays["target"], test.arrays["reference"],
                                      test.vocab)
  assert source.shape == (223, 64) and target.shape == (223, 33) and reference.shape == (223, 3000)
  cut_sources = cut_targets = 0
  for i, article in enumerate(articles):
    pieces = vocab.encode(article.body)
    real = source[i][source[i] > 0]
    assert real[-1] == EOS and list(real[:-1]) == pieces[:63]  # the article's beginning, then </s>
    cut_sources += len(pieces) > 63
    summary = vocab.encode(article.summary)
    assert target[i, 0] == BOS and list(target[i, 1:1 + min(len(summary), 32)]) == summary[:32]
    assert (EOS in target[i]) == (len(summary) <= 31)  # </s> only where the summary fits
    cut_targets += len(summary) > 31
    # Scored against all of it (SentencePiece folds runs of spaces: 6 of the 223 differ there, nowhere else).
    assert vocab.decode(reference[i]).split() == article.summary.split()
  assert cut_sources > 200 and cut_targets > 200  # nearly every article and summary is longer than this
  train_split = translation.load(bbc_config(), "train", root)
  assert len(train_split) == 1779 and "reference" not in train_split.arrays  # every pair kept, cut
  with pytest.raises(ValueError, match="config.data.reference_len=100: bbc_news_pairs:test has a reference of"):
    translation.load(bbc_config(reference_len=100), "test", root)
  with pytest.raises(ValueError, match="bbc_news_pairs maps 'article' to 'summary'"):
    translation.load(bbc_config(source="summary", target="article"), "test", root)
  with pytest.raises(ValueError, match="config.data.cut=True with pack=True"):
    translation.load(bbc_config(pack=True), "train", root)
  with pytest.raises(ValueError, match="config.data.max_len=32: bbc_news_pairs:test has a pair of"):  # cut=False
    translation.load(bbc_config(cut=False), "test", root)


@requires_bbc
def test_abstractive_smoke_config_trains_is_scored_by_rouge_and_translates_long_input(tmp_path):
  workdir = tmp_path / "run"
  metrics = train.run(load_config("transformer_bbc_news", "smoke"), workdir)["final_metrics"]
  for split in ("validation", "test"):
    for kind in ("rouge1", "rouge2", "rougeL"):
      assert 0.0 <= metrics[f"{split}/{kind}_low"] <= metrics[f"{split}/{kind}"] <= metrics[f"{split}/{kind}_high"] <= 1
    assert f"{split}/bleu" not in metrics and np.isfinite(metrics[f"{split}/loss"])
  assert seq2seq_task.ROUGE_SIGNATURE in sorted((workdir / "samples").glob("step_*.md"))[-1].read_text()
  # The command line reads a long input as the run read its articles: the beginning, then </s>.
  config, model, params, tokenizer = translate_cli.load_run(workdir)
  body = text_pairs.load_bbc_news("test")[0].body
  ids = tokenizer.encode(body, eos=True)
  assert len(ids) > config.data.source_len
  source = np.zeros((1, config.data.source_len), np.int32)
  source[0] = ids[:config.data.source_len - 1] + [EOS]
  direct = seq2seq_task.translate(model, params, jnp.asarray(source), 2, 0.6, config.data.max_len)
  assert translate_cli.translate_lines([body], config, model, params, tokenizer, 2, 0.6) == \
      [tokenizer.decode(np.asarray(direct)[0])]


@pytest.mark.parametrize("name", ["attention_rnn_multi30k", "transformer_tatoeba", "transformer_bbc_news"])
def test_seed_0_is_the_choose_run_s_kept_checkpoint_and_the_sweep_trains_seeds_1_and_2(name):
  """The choose run keeps every checkpoint it evaluates (one of them is seed 0's final run), the final runs differ
  from it only in length, what they evaluate and how many checkpoints they keep, and the sweep adds seeds 1-2."""
  choose, final = load_config(name, "choose"), load_config(name)
  assert choose.train.keep_checkpoints > choose.train.num_epochs  # it saves one an epoch or fewer, and at its end
  assert final.train.checkpoint_every_steps == 0 and final.train.eval_every_steps == 10**9
  a, b = (writers.flatten(json.loads(c.to_json_best_effort())) for c in (choose, final))
  differ = {k for k in set(a) | set(b) if a.get(k) != b.get(k)}
  assert {"data.test_split"} <= differ <= {  # the epochs too, unless the last choose epoch was chosen
      "train.num_epochs", "data.test_split", "train.eval_every_steps", "train.checkpoint_every_steps",
      "train.keep_checkpoints"}, differ
  assert load_module(REPO / "configs" / f"{name}.py").get_sweep() == [{"seed": 1}, {"seed": 2}]
