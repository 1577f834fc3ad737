"""The word-vector family's fields: bigjax/embeddings/settings.py holds them (the front door,
``bigjax.embeddings``, builds on the same), for word2vec_text_corpus and glove_text_corpus."""

from bigjax.embeddings.settings import add_fields, glove  # noqa: F401  (this file's interface)
