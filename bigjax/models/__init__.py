"""Flax linen model families, one file each; chosen by name in the config (``"cnn.SeedCNN"``)."""
