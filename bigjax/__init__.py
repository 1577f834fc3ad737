"""bigjax: pure-function Flax models trained through one sharded, jit-compiled Optax loop."""

__version__ = "0.1.0"
