"""Word-vector evaluation and files against gensim 4, run side by side on the same vectors (no mocks).

The vectors are random over a vocabulary built from the evaluation sets themselves, with analogies planted (b = a +
a section's offset + noise, for a share of each section's questions) so the analogy score is far from 0, case
variants of question words (which 3CosAdd must skip as answers), question words ranked beyond 30,000 (unknown
under restrict_vocab) and pair words left out (out-of-vocabulary pairs).
"""

import pathlib
import shutil

import numpy as np
import pytest
from gensim.models import KeyedVectors

from bigjax import data
from bigjax.data import word_eval
from bigjax.data.core import DataError
from bigjax.embeddings.vectors import WordVectors
from bigjax.evals import word_projection, word_vectors
from conftest import requires_data

requires_questions = requires_data(word_eval.QUESTIONS_WORDS)
requires_wordsim = requires_data(word_eval.WORDSIM353)
requires_simlex = requires_data(word_eval.SIMLEX999)

DIM = 32
PLANTED_EVERY, PLANT_NOISE = 4, 1.0   # b = a + offset + PLANT_NOISE * noise for every PLANTED_EVERY-th question
SAMPLE_EVERY, SAMPLED = 20, 984       # the analogy file gensim answers: every 20th question of each section
FILLER_BEFORE_LATE_WORDS = 30_200     # question words after this many rows are unknown with restrict_vocab=30,000


# ====================================================================================== the shared vectors

@pytest.fixture(scope="module")
def vocabulary():
  """(words, vectors float32 [V, DIM], gensim KeyedVectors of the same): 31,240 words."""
  words, vectors = build_vocabulary()
  reference = KeyedVectors(DIM)
  reference.add_vectors(words, vectors)
  return words, vectors, reference


def build_vocabulary() -> tuple[list[str], np.ndarray]:
  """Rows: 400 question words and 100 case variants; filler words to row 20,500; the other question and pair words
  and variants; filler to row 30,200; the last 40 question words (unknown at restrict_vocab=30,000); 1,000 filler."""
  rng = np.random.default_rng(0)
  sections = word_eval.questions_words()
  question_words = list(dict.fromkeys(w for _, qs in sections for q in qs for w in q))
  in_questions = set(question_words)
  pair_words = list(dict.fromkeys(w for pairs in (word_eval.wordsim353(), word_eval.simlex999())
                                  for a, b, _ in pairs for w in (a, b) if w not in in_questions))
  pair_words = [w for i, w in enumerate(pair_words) if i % 7]  # every 7th pair word unknown
  vector = {w: rng.standard_normal(DIM) for w in question_words + pair_words}
  for _, questions in sections:  # planted analogies
    offset = 1.2 * rng.standard_normal(DIM)
    for a, b, _, _ in questions[::PLANTED_EVERY]:
      vector[b] = vector[a] + offset + PLANT_NOISE * rng.standard_normal(DIM)
  # Case variants close to their word: lower-cased country and city names, upper-cased others.
  variants = [w.lower() for w in question_words[::3]] + [w.upper() for w in question_words[1::4]]
  variants = [w for w in dict.fromkeys(variants) if w not in vector]
  for w in variants:
    original = next(q for q in question_words if q.upper() == w.upper())
    vector[w] = vector[original] + 0.3 * rng.standard_normal(DIM)
  late = question_words[-40:]
  early = [w for w in question_words + pair_words if w not in set(late)]
  filler = (f"filler{i}" for i in range(10**6))
  words = early[:400] + variants[:100]
  words += [next(filler) for _ in range(20_500 - len(words))] + early[400:] + variants[100:]
  words += [next(filler) for _ in range(FILLER_BEFORE_LATE_WORDS - len(words))] + late
  words += [next(filler) for _ in range(1_000)]
  vectors = np.stack([vector[w] if w in vector else rng.standard_normal(DIM) for w in words]).astype(np.float32)
  assert len(set(words)) == len(words) and words.index(late[0]) == FILLER_BEFORE_LATE_WORDS
  return words, vectors


@pytest.fixture(scope="module")
def analogy_file(tmp_path_factory):
  """Every 20th question of each questions-words section: gensim (one most_similar call per question) answers
  them in seconds."""
  lines = []
  for name, questions in word_eval.questions_words():
    lines += [f": {name}"] + [" ".join(q) for q in questions[::SAMPLE_EVERY]]
  path = tmp_path_factory.mktemp("analogies") / f"questions-words-1in{SAMPLE_EVERY}.txt"
  path.write_text("\n".join(lines) + "\n")
  return path


def assert_same_analogies(ours: word_vectors.AnalogyResult, score: float, sections: list[dict], num_questions: int,
                          dummy4unknown: bool = False):
  """The same questions right and wrong in every section (in file order), the same score and unknown count."""
  assert [s.name for s in ours.sections] + ["Total accuracy"] == [s["section"] for s in sections]
  for mine, theirs in zip(ours.sections, sections):
    assert (mine.correct, mine.incorrect) == (theirs["correct"], theirs["incorrect"]), mine.name
  assert ours.accuracy == score
  answered = len(sections[-1]["correct"]) + len(sections[-1]["incorrect"])
  assert ours.num_questions == num_questions
  if not dummy4unknown:  # gensim only logs its count; with dummy4unknown the unknown ones count as answered
    assert ours.num_oov == num_questions - answered


# ====================================================================================== analogies

@requires_questions
def test_analogy_accuracy_equals_gensims_at_the_30000_word_restriction(vocabulary, analogy_file):
  words, vectors, reference = vocabulary
  score, sections = reference.evaluate_word_analogies(str(analogy_file), restrict_vocab=30_000)
  ours = WordVectors(words, vectors).evaluate_word_analogies(analogy_file)  # 30,000 is our default
  assert_same_analogies(ours, score, sections, num_questions=SAMPLED)
  assert 0.2 < ours.accuracy < 0.8, "planted analogies should make the score far from 0 and from 1"
  assert ours.num_oov > 0, "the late question words should be unknown"
  mine_semantic = [s for s in ours.sections if not s.name.startswith("gram")]
  assert len(mine_semantic) == 5
  semantic_correct = sum(len(s.correct) for s in mine_semantic)
  assert ours.semantic_accuracy == semantic_correct / sum(len(s.correct) + len(s.incorrect) for s in mine_semantic)
  metrics = ours.metrics()
  assert metrics["analogy/accuracy"] == score and metrics["analogy/family"] == ours.sections[4].accuracy


@requires_questions
@pytest.mark.parametrize("restrict_vocab, case_insensitive, dummy4unknown",
                         [(40_000, True, False), (3_000, True, False), (3_000, True, True),
                          (3_000, False, False)])
def test_analogy_accuracy_equals_gensims_for_other_settings(vocabulary, analogy_file, restrict_vocab,
                                                            case_insensitive, dummy4unknown):
  words, vectors, reference = vocabulary
  score, sections = reference.evaluate_word_analogies(str(analogy_file), restrict_vocab=restrict_vocab,
                                                      case_insensitive=case_insensitive,
                                                      dummy4unknown=dummy4unknown)
  ours = word_vectors.analogy_accuracy(words, vectors, word_eval.read_analogies(analogy_file),
                                       restrict_vocab=restrict_vocab, case_insensitive=case_insensitive,
                                       dummy4unknown=dummy4unknown, batch_size=100)
  assert_same_analogies(ours, score, sections, num_questions=SAMPLED, dummy4unknown=dummy4unknown)


def test_a_case_variant_of_a_question_word_is_no_answer_but_one_of_the_answer_is(tmp_path):
  # King - Man + Woman points at "man" (a spelling of the question word "Man": skipped), then "queen" (a spelling
  # of the answer "Queen": right), then "Queen" itself.
  words = ["Man", "King", "Woman", "Queen", "Apple", "man", "queen"]
  vectors = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 1], [0.1, 1, 1], [-1, -1, -1], [-0.233, 0.5616, 0.794],
                      [-0.2, 0.6, 0.8]], np.float32)
  sections = [("royal", [("man", "king", "woman", "queen")])]
  reference = KeyedVectors(3)
  reference.add_vectors(words, vectors)
  assert [w for w, _ in reference.most_similar(positive=["King", "Woman"], negative=["Man"], topn=3)] == [
      "man", "queen", "Queen"]
  (tmp_path / "royal.txt").write_text(": royal\nman king woman queen\n")
  score, theirs = reference.evaluate_word_analogies(str(tmp_path / "royal.txt"))
  ours = word_vectors.analogy_accuracy(words, vectors, sections)
  assert_same_analogies(ours, score, theirs, num_questions=1)
  assert ours.accuracy == 1.0 and ours.sections[0].correct == [("MAN", "KING", "WOMAN", "QUEEN")]
  # Case-sensitively "king" and "woman" are unknown: the question is skipped.
  exact = word_vectors.analogy_accuracy(words, vectors, sections, case_insensitive=False)
  assert exact.num_oov == 1 and exact.accuracy == 0.0 and exact.sections[0].incorrect == []


# ====================================================================================== word pairs

@requires_wordsim
@requires_simlex
@pytest.mark.parametrize("name", ["wordsim353", "simlex999"])
@pytest.mark.parametrize("restrict_vocab, dummy4unknown", [(300_000, False), (300_000, True), (21_000, False)])
def test_word_pair_correlations_equal_gensims(vocabulary, name, restrict_vocab, dummy4unknown):
  words, vectors, reference = vocabulary
  path = data.default_data_dir() / getattr(word_eval, name.upper())
  pearson, spearman, oov_ratio = reference.evaluate_word_pairs(str(path), restrict_vocab=restrict_vocab,
                                                               dummy4unknown=dummy4unknown)
  ours = WordVectors(words, vectors).evaluate_word_pairs(getattr(word_eval, name)(), restrict_vocab=restrict_vocab,
                                                         dummy4unknown=dummy4unknown)
  np.testing.assert_allclose([ours.pearson, ours.spearman, ours.pearson_pvalue, ours.spearman_pvalue],
                             [pearson.statistic, spearman.statistic, pearson.pvalue, spearman.pvalue],
                             rtol=1e-5, atol=1e-6)
  assert ours.oov_ratio == pytest.approx(oov_ratio, abs=1e-12) and ours.num_oov > 0
  assert abs(ours.spearman) > 0 and ours.metrics(name)[f"{name}/spearman"] == ours.spearman


def test_word_pairs_with_no_known_word_are_an_error():
  with pytest.raises(ValueError, match="none of the 1 word pairs"):
    word_vectors.word_pair_correlation(["a", "b"], np.eye(2), [("x", "y", 1.0)])


# ====================================================================================== nearest neighbours

@requires_questions
@pytest.mark.parametrize("query", [
    dict(positive=["king"]),
    dict(positive="Paris", topn=3),
    dict(positive=["king", "woman"], negative=["man"], topn=20),
    dict(positive=[("Athens", 2.0), "Greece"], negative=[("Baghdad", 0.5)]),
    dict(negative=["good"], topn=5),
    dict(positive=["Berlin"], topn=10, restrict_vocab=1_000),
])
def test_most_similar_equals_gensims(vocabulary, query):
  words, vectors, reference = vocabulary
  wv = WordVectors(words, vectors)
  for side in ("positive", "negative"):
    items = query.get(side, [])
    assert all((item if isinstance(item, str) else item[0]) in wv for item in ([items] if isinstance(items, str)
                                                                               else items))
  ours = wv.most_similar(**query)
  theirs = reference.most_similar(**query)
  assert [w for w, _ in ours] == [w for w, _ in theirs]
  np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], atol=1e-5)


def test_similarity_and_lookups():
  rng = np.random.default_rng(1)
  words, vectors = ["the", "of", "König", "and"], rng.standard_normal((4, 5)).astype(np.float32)
  wv, reference = WordVectors(words, vectors), KeyedVectors(5)
  reference.add_vectors(words, vectors)
  assert wv.similarity("König", "and") == pytest.approx(reference.similarity("König", "and"), abs=1e-6)
  assert len(wv) == 4 and "König" in wv and "könig" not in wv and wv.vector_size == 5
  assert wv.key_to_index["König"] == 2 and wv.index_to_key == words
  np.testing.assert_array_equal(wv["of"], vectors[1])
  assert wv[["and", "the"]].shape == (2, 5)
  np.testing.assert_allclose(np.linalg.norm(wv.get_normed_vectors(), axis=1), 1, rtol=1e-6)
  np.testing.assert_allclose(wv.get_vector("of", norm=True), reference.get_vector("of", norm=True), rtol=1e-6)
  for lookup in (lambda: wv["missing"], lambda: wv[["the", "missing"]], lambda: wv.most_similar("missing"),
                 lambda: wv.similarity("the", "missing")):
    with pytest.raises(KeyError, match="'missing' is not in the vocabulary"):
      lookup()
  with pytest.raises(ValueError, match="'of' appears more than once"):
    WordVectors(["the", "of", "of"], np.zeros((3, 2)))
  with pytest.raises(ValueError, match="3 words, vectors of shape"):
    WordVectors(["a", "b", "c"], np.zeros((2, 2)))


# ====================================================================================== files

@pytest.fixture
def small():
  rng = np.random.default_rng(2)
  words = ["the", "of", "König", "naïve", "x"] + [f"w{i}" for i in range(50)]
  return WordVectors(words, rng.standard_normal((len(words), 7)).astype(np.float32))


@pytest.mark.parametrize("binary", [False, True])
def test_word2vec_files_we_write_gensim_reads_and_the_reverse(small, tmp_path, binary):
  ours_path, theirs_path = tmp_path / "ours.w2v", tmp_path / "theirs.w2v"
  small.save_word2vec_format(ours_path, binary=binary)
  theirs = KeyedVectors.load_word2vec_format(str(ours_path), binary=binary)
  assert theirs.index_to_key == small.index_to_key
  np.testing.assert_array_equal(theirs.vectors, small.vectors)  # text too: shortest exact float32 decimals
  theirs.save_word2vec_format(str(theirs_path), binary=binary)  # gensim's binary records end without "\n"
  back = WordVectors.load_word2vec_format(theirs_path, binary=binary)
  assert back.index_to_key == small.index_to_key
  np.testing.assert_array_equal(back.vectors, small.vectors)
  limited = WordVectors.load_word2vec_format(ours_path, binary=binary, limit=3)
  assert limited.index_to_key == small.index_to_key[:3] and limited.vectors.shape == (3, 7)


def test_word2vec_binary_layout_is_the_c_tools(small, tmp_path):
  small.save_word2vec_format(tmp_path / "v.bin", binary=True)
  raw = (tmp_path / "v.bin").read_bytes()
  first = b"the " + small.vectors[0].astype("<f4").tobytes() + b"\n"
  assert raw.startswith(b"55 7\n" + first)
  assert len(raw) == len(b"55 7\n") + sum(len(w.encode()) + 1 + 28 + 1 for w in small.index_to_key)


def test_word2vec_text_as_the_c_tool_writes_it(tmp_path):
  # The C tool writes "%lf " after each value: a trailing space before the newline.
  (tmp_path / "c.txt").write_text("2 3\nfoo 0.100000 -0.200000 0.300000 \nbar 1.000000 2.000000 3.000000 \n")
  wv = WordVectors.load_word2vec_format(tmp_path / "c.txt")
  assert wv.index_to_key == ["foo", "bar"]
  np.testing.assert_array_equal(wv["foo"], np.array([0.1, -0.2, 0.3], np.float32))


def test_broken_word2vec_files_are_data_errors(small, tmp_path):
  path = tmp_path / "v.txt"
  small.save_word2vec_format(path)
  path.write_bytes(path.read_bytes()[:-200])
  with pytest.raises(DataError, match="v.txt"):
    WordVectors.load_word2vec_format(path)
  small.save_word2vec_format(path, binary=True)
  path.write_bytes(path.read_bytes()[:-5])
  with pytest.raises(DataError, match="header announces 55 words but the file ends after 54"):
    WordVectors.load_word2vec_format(path, binary=True)
  with pytest.raises(DataError, match="first line should be"):
    (tmp_path / "bad").write_text("hello world\n")
    WordVectors.load_word2vec_format(tmp_path / "bad")
  with pytest.raises(DataError, match="not found"):
    WordVectors.load_word2vec_format(tmp_path / "absent.bin", binary=True)
  with pytest.raises(ValueError, match="cannot hold the word 'a b'"):
    WordVectors(["a b"], np.zeros((1, 2))).save_word2vec_format(tmp_path / "space.txt")


def test_save_and_load_round_trip(small, tmp_path):
  small.save(tmp_path / "wv.npz")
  back = WordVectors.load(tmp_path / "wv.npz")
  assert back.index_to_key == small.index_to_key and back.vectors.dtype == np.float32
  np.testing.assert_array_equal(back.vectors, small.vectors)
  assert not list(tmp_path.glob("*.tmp"))
  np.save(tmp_path / "array.npy", small.vectors)
  small.save_word2vec_format(tmp_path / "w2v.txt")
  for other in ("array.npy", "w2v.txt", "absent.npz"):
    with pytest.raises(DataError, match=other):
      WordVectors.load(tmp_path / other)


# ====================================================================================== plots

@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_the_projection_plot_is_a_png(small, tmp_path, method):
  from matplotlib.image import imread
  chosen = small.index_to_key[:12]
  coords = small.plot(chosen, tmp_path / "words.png", method=method)
  assert coords.shape == (12, 2) and np.isfinite(coords).all()
  assert (tmp_path / "words.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  assert imread(tmp_path / "words.png").ndim == 3


def test_pca_projection_is_the_two_leading_principal_components():
  rng = np.random.default_rng(3)
  points = rng.standard_normal((30, 6)) * np.array([5, 3, 1, 0.5, 0.2, 0.1])
  coords = word_projection.project_2d(points)
  centred = points - points.mean(0)
  eigenvalues, eigenvectors = np.linalg.eigh(centred.T @ centred)
  expected = centred @ eigenvectors[:, ::-1][:, :2]
  np.testing.assert_allclose(np.abs(coords), np.abs(expected), atol=1e-9)
  with pytest.raises(ValueError, match="unknown projection 'umap'"):
    word_projection.project_2d(points, "umap")


# ====================================================================================== the readers

@requires_questions
@requires_wordsim
@requires_simlex
def test_the_standard_sets_read_whole():
  sections = word_eval.questions_words()
  assert len(sections) == 14 and sum(len(q) for _, q in sections) == 19_544
  assert sections[0] == ("capital-common-countries", sections[0].questions)
  assert sections[0].questions[0] == ("Athens", "Greece", "Baghdad", "Iraq")
  assert [name.startswith("gram") for name, _ in sections] == [False] * 5 + [True] * 9
  wordsim, simlex = word_eval.wordsim353(), word_eval.simlex999()
  assert len(wordsim) == 353 and wordsim[0] == ("love", "sex", 6.77)
  assert len(simlex) == 999 and simlex[0] == ("old", "new", 1.58)


@requires_questions
@requires_wordsim
@requires_simlex
def test_a_missing_or_corrupt_evaluation_file_is_a_data_error_naming_it(tmp_path):
  source = data.default_data_dir()
  shutil.copytree(source / "word_eval", tmp_path / "word_eval")
  (tmp_path / "SHA256SUMS").write_text("".join(line + "\n" for line in (source / "SHA256SUMS").read_text()
                                               .splitlines() if "word_eval/" in line))
  assert len(word_eval.wordsim353(tmp_path)) == 353  # the copy reads
  (tmp_path / "word_eval" / "simlex999.txt").unlink()
  with pytest.raises(DataError, match=r"word_eval/simlex999.txt not found.*MANIFEST"):
    word_eval.simlex999(tmp_path)
  questions = tmp_path / "word_eval" / "questions-words.txt"
  questions.chmod(0o644)
  questions.write_bytes(questions.read_bytes().replace(b"Athens", b"Athena", 1))
  with pytest.raises(DataError, match=r"questions-words.txt: sha256 mismatch"):
    word_eval.questions_words(tmp_path)


def test_malformed_evaluation_lines_are_data_errors_naming_the_line(tmp_path):
  with pytest.raises(DataError, match="q.txt line 2: expected 4 words"):
    word_eval.parse_analogies(": s\na b c\n", "q.txt")
  with pytest.raises(DataError, match="line 1: a question before"):
    word_eval.parse_analogies("a b c d\n", "q.txt")
  with pytest.raises(DataError, match="p.tsv line 2: expected 'word1<TAB>word2<TAB>score'"):
    word_eval.parse_word_pairs("# comment\na b 3.0\n", "p.tsv")
  assert word_eval.parse_word_pairs("# c\n\na\tb\t3.5\n", "p.tsv") == [("a", "b", 3.5)]
  with pytest.raises(DataError, match="absent.txt not found"):
    word_eval.read_analogies(tmp_path / "absent.txt")
