# Sourced by the GPU scripts (bench/gpu_char_gpt.sh, bench/accelerator_check.sh): finds a Python that runs bigjax
# and sets PYTHON and PYTHONPATH. The caller sets REPO and may set PYTHON, VENV, WHEELS, FORCE_VENV, JAX_CUDA,
# JAX_VERSION; NEED_GPU=0 accepts a CPU-only jax (a dry run). First that works:
#   1. $PYTHON (default python3) as it is, when it already imports jax (with a GPU backend unless NEED_GPU=0) and
#      bigjax's dependencies (a prepared image); FORCE_VENV=1 skips this;
#   2. with $WHEELS set (a machine without network): those wheel files, installed --no-deps into $VENV/site on
#      top of $PYTHON's packages;
#   3. a new venv at $VENV (default /tmp/bigjax_gpu_venv) with `pip install -e . "jax[$JAX_CUDA]==$JAX_VERSION"`
#      (defaults: cuda12, 0.10.2; jax 0.10 also has a cuda13 extra, which needs an NVIDIA driver >= 580).
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-/tmp/bigjax_gpu_venv}"
JAX_CUDA="${JAX_CUDA:-cuda12}"
JAX_VERSION="${JAX_VERSION:-0.10.2}"
NEED_GPU="${NEED_GPU:-1}"

gpu_env_probe() {  # $1: python; succeeds when it imports bigjax's run-time modules (and jax has a GPU)
  NEED_GPU="$NEED_GPU" PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}" "$1" - <<'PY'
import os
import jax, ml_collections, tensorboardX  # noqa: F401
import bigjax.main, bigjax.train, bigjax.models.transformer, bigjax.tasks.language_model  # noqa: F401
if os.environ["NEED_GPU"] == "1":
  assert jax.default_backend() == "gpu", f"jax {jax.__version__} sees no GPU: {jax.devices()}"
print(f"python env ok: jax {jax.__version__} on {jax.devices()[0].device_kind}")
PY
}

gpu_env_setup() {  # sets PYTHON (and PYTHONPATH) to an interpreter that runs bigjax; exits 1 when none can
  local t_setup=$SECONDS
  if [[ "${FORCE_VENV:-0}" != 1 ]] && gpu_env_probe "$PYTHON" 2>/dev/null; then
    echo "using $PYTHON as it is"
  elif [[ -n "${WHEELS:-}" ]]; then
    echo "installing the wheels in $WHEELS (no network, --no-deps) into $VENV/site"
    # By name from the folder: pip takes each package's wheel that suits this Python (the folder may hold several).
    local names
    names=$(for w in "$WHEELS"/*.whl; do basename "$w" | cut -d- -f1; done | sort -u)
    # shellcheck disable=SC2086  # one word per package name
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --upgrade --target "$VENV/site" \
      --find-links "$WHEELS" $names
    export PYTHONPATH="$VENV/site${PYTHONPATH:+:$PYTHONPATH}"
    gpu_env_probe "$PYTHON" || { echo "still missing a module after installing $WHEELS (see above)" >&2; exit 1; }
  else
    echo "creating $VENV: pip install -e . jax[$JAX_CUDA]==$JAX_VERSION"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q -e "$REPO" "jax[$JAX_CUDA]==$JAX_VERSION" || {
      echo "pip install failed (no network? then set WHEELS=DIR of wheels, or PYTHON= a prepared interpreter)" >&2
      exit 1; }
    PYTHON="$VENV/bin/python"
    gpu_env_probe "$PYTHON" || { echo "the new venv cannot run bigjax (see above)" >&2; exit 1; }
  fi
  echo "setup took $((SECONDS - t_setup)) s"
  export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
  # Data: $BIGJAX_DATA_DIR, else ../shared/data, else ./shared/data (a copy carried with the checkout).
  if [[ -z "${BIGJAX_DATA_DIR:-}" && ! -d "$REPO/../shared/data" && -d "$REPO/shared/data" ]]; then
    export BIGJAX_DATA_DIR="$REPO/shared/data"
  fi
}
