"""The word-vector family's config fields, with the settings gensim 4 and the word2vec C tool share as defaults
(``add_fields``) and the GloVe paper's (``glove``). bigjax/data/word_corpus.py, bigjax/tasks/word2vec.py and
bigjax/tasks/glove.py read them; configs/common_embeddings.py (for configs/word2vec_text_corpus.py and
configs/glove_text_corpus.py) and the front door (``bigjax.embeddings.Word2Vec``/``GloVe``) build on them, so
a config file and ``Word2Vec(sentences)`` start from the same recipe."""

import ml_collections


def add_fields(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  c.data.name = "text_corpus"
  c.data.eval_split = "validation"  # held-out text: the objective's loss on the corpus' last 0.5%
  c.data.tokenizer = "lower"      # lower: lowercased words, punctuation dropped; split: whitespace tokens as given
  c.data.min_freq = 5             # gensim's and the C tool's min_count
  c.data.max_vocab = 0            # > 0: keep at most this many words (the most frequent)
  c.data.corpus_file = ""         # data.name="file": one sentence per line
  c.data.cooccurrence_window = 0  # > 0 (GloVe): examples are co-occurrence counts within this many words
  c.data.seq_len = 1024           # words per example: a chunk of the corpus' id stream
  c.data.batch_size = 4           # chunks per update
  c.data.eval_batch_size = 16
  c.model.name = "word2vec.Word2Vec"
  c.model.num_ids = 0             # from the corpus: its words and the sentence end
  c.model.features = 100          # gensim's vector_size (gensim 3's size)
  c.task.name = "word2vec"
  c.task.mode = "skipgram"        # skipgram | cbow
  c.task.window = 5
  c.task.negatives = 5
  c.task.negative_power = 0.75
  c.task.sample = 1e-3            # subsampling threshold t
  c.task.duplicates = "mean"      # a row k terms of one batch move: the mean of their steps (sum: their sum)
  c.optim.name = "sgd"
  c.optim.momentum = 0.0
  c.optim.lr = 0.2                # gensim's alpha is 0.025; rows moving by their mean step in a batch want more:
                                  # chosen on held-out loss for skip-gram and CBOW (word2vec_text_corpus' get_sweep)
  c.optim.schedule = "linear"
  c.optim.end_lr_factor = 0.004   # gensim's min_alpha 0.0001 over alpha 0.025: the floor it decays to
  c.train.num_epochs = 5
  c.train.steps_per_call = 16
  c.train.log_every_steps = 256
  c.sharding.logical_rules = tuple(c.sharding.logical_rules) + (("words", None),)
  return c


def glove(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """GloVe in place of Word2Vec (Pennington et al. 2014, and the GloVe tool's defaults where the paper is
  silent): symmetric window of 10 words weighted 1/distance, x_max 100, alpha 3/4, AdaGrad at 0.05 with
  accumulators starting at 1, W + W~ as the vectors."""
  c.data.cooccurrence_window = 10
  c.data.batch_size = 2048        # co-occurrence entries per update: 536 updates/s here (16,384: 42/s, and
                                  # each row then moves once per 16,384 entries)
  c.data.eval_batch_size = 65536
  c.model.name = "word2vec.GloVe"
  for field in ("mode", "window", "negatives", "negative_power", "sample", "duplicates"):
    del c.task[field]
  c.task.name = "glove"
  c.task.x_max = 100.0
  c.task.alpha = 0.75
  c.optim.name = "adagrad"
  c.optim.lr = 0.05               # the GloVe tool's eta
  c.optim.schedule = "constant"
  c.optim.initial_accumulator = 1.0
  c.train.num_epochs = 50         # the paper's iterations below 300 dimensions
  c.train.steps_per_call = 32
  c.train.log_every_steps = 2048
  return c
