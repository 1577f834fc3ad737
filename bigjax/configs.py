"""Config files: ``configs/x.py[:variant]`` -> a locked ``ml_collections.ConfigDict``.

The one way bigjax reads a config file by path outside the command line (where ml_collections'
``config_flags`` does it, with ``--config.a.b=v`` overrides): ``bigjax.sweep``, the tests, the benches and
the experiment scripts all call ``load`` or ``load_module``. A config file is plain Python with
``get_config(arg=None) -> ConfigDict`` and, for a sweep, ``get_sweep(arg=None) -> [{dotted key: value}]``;
family recipes shared by several files live beside them in ``configs/common_*.py`` and are read with
``sibling(__file__, "common_x")``.

Each config file also declares ``VARIANTS = {name: one-line description}``, exactly the names its
``get_config`` accepts; ``load`` refuses any other, and ``catalogue`` lists files, summaries and variants
(``bigjax configs``).

Relative paths are looked up in the working directory, then in ``config_dir`` (``--config_dir``; a folder
holding the config files, or a folder with a ``configs/`` inside), then in the repository that holds this
package, so ``load("configs/mnist_mlp.py:smoke")`` works from anywhere in a checkout.
"""

import difflib
import importlib.util
import pathlib
import re
import sys
from types import ModuleType

import ml_collections

REPO = pathlib.Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
  """A config value that cannot work; raised before anything is computed or written."""


def split(spec: str) -> tuple[str, str | None]:
  """``configs/x.py:smoke`` -> ``("configs/x.py", "smoke")``; no colon -> variant ``None``."""
  path, sep, variant = str(spec).partition(":")
  return path, (variant if sep else None)


def _roots(config_dir: str | pathlib.Path | None) -> list[pathlib.Path]:
  """Where a relative config path is looked up, in order."""
  roots = [pathlib.Path(".")]
  if config_dir is not None:
    roots += [pathlib.Path(config_dir), pathlib.Path(config_dir).parent]  # "configs/x.py" in configs/ itself
  return roots + [REPO]


def resolve(path: str | pathlib.Path, config_dir: str | pathlib.Path | None = None) -> pathlib.Path:
  """``path`` as given when it exists, else under ``config_dir``, else relative to the repository root;
  ``ConfigError`` naming the folders tried if none holds it."""
  given = pathlib.Path(path)
  roots = [pathlib.Path()] if given.is_absolute() else _roots(config_dir)
  for root in roots:
    if (root / given).is_file():
      return root / given
  tried = ", ".join(dict.fromkeys(str(r.resolve()) for r in roots))
  raise ConfigError(f"config file {path} not found (looked in {tried}); give its path, or --config_dir=DIR, "
                    f"or list them with: bigjax configs")


def load_module(path: str | pathlib.Path, config_dir: str | pathlib.Path | None = None) -> ModuleType:
  """The Python file at ``path`` (a config, a script) imported as a fresh module named after it."""
  file = resolve(path, config_dir)
  spec = importlib.util.spec_from_file_location(f"bigjax_config_{file.stem}", file)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def sibling(config_file: str, name: str) -> ModuleType:
  """The module ``name`` beside ``config_file`` (a config's ``__file__``): ``configs/common_*.py`` recipes."""
  key = f"bigjax_config_{name}"
  if key not in sys.modules:  # one copy per process, so its functions compare equal across configs
    sys.modules[key] = load_module(pathlib.Path(config_file).resolve().with_name(f"{name}.py"))
  return sys.modules[key]


def load(spec: str, lock: bool = True, config_dir: str | pathlib.Path | None = None) -> ml_collections.ConfigDict:
  """``get_config(variant)`` of ``path[:variant]``, locked (a typo in a field name is then an error). A variant
  not in the file's ``VARIANTS``, or one its ``get_config`` refuses, is a ``ConfigError``."""
  path, variant = split(spec)
  module = load_module(path, config_dir)
  if not hasattr(module, "get_config"):
    raise ConfigError(f"{path} defines no get_config(arg=None)")
  known = getattr(module, "VARIANTS", None)
  if variant is not None and known is not None and variant not in known:
    raise ConfigError(f"{path} has no variant {variant!r}; its variants: {', '.join(known) or 'none'}")
  try:
    config = module.get_config(variant)
  except ValueError as error:
    raise ConfigError(f"{spec}: {error}") from None
  if lock:
    config.lock()
  return config


def field_names(config: ml_collections.ConfigDict, prefix: str = "") -> list[str]:
  """Every dotted field of ``config``, nested ones included: ``["data.name", "data.batch_size", ...]``."""
  names = []
  for key, value in config.items():
    names.append(prefix + key)
    if isinstance(value, ml_collections.ConfigDict):
      names += field_names(value, prefix + key + ".")
  return names


def check_field(config: ml_collections.ConfigDict, name: str) -> None:
  """``ConfigError`` when the dotted ``name`` is not a field of ``config``, with the closest fields."""
  names = field_names(config)
  if name not in names:
    close = difflib.get_close_matches(name, names, n=2, cutoff=0.8)
    hint = f"; did you mean {' or '.join('config.' + c for c in close)}?" if close else (
        "; see its fields with --print_config")
    raise ConfigError(f"config.{name} is not a field of this config{hint}")


def catalogue(config_dir: str | pathlib.Path | None = None) -> list[tuple[str, str, dict[str, str]]]:
  """``[(path, first sentence of its docstring, VARIANTS)]`` of the config files in ``config_dir`` (default: the
  repository's ``configs/``), recipe modules (``common_*``) left out."""
  folder = pathlib.Path(config_dir) if config_dir is not None else REPO / "configs"
  if not folder.is_dir():
    raise ConfigError(f"config folder {folder} is not a directory; pass --config_dir=DIR")
  out = []
  for file in sorted(folder.glob("*.py")):
    if file.name.startswith(("common_", "_")):
      continue
    module = load_module(file)
    paragraph = " ".join((module.__doc__ or "").strip().split("\n\n")[0].split())
    summary = re.split(r"(?<!\bal)\.\s+(?=[A-Z(`])", paragraph)[0].rstrip(".")  # its first sentence
    if len(summary) > 110:
      summary = summary[:summary.rfind(" ", 0, 107)] + " ..."
    shown = file.relative_to(REPO) if file.resolve().is_relative_to(REPO) else file
    out.append((str(shown), summary, dict(getattr(module, "VARIANTS", {}))))
  return out
