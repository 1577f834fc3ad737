"""On-device augmentation of images with dense targets (segmentation masks): pure, jit-able JAX, one example at a
time (``jax.vmap`` over a batch), drawn from the step's rng so a resumed run draws the same.

  ``dihedral(image, target, k)``    one of the 8 flips/rotations by 90 degrees of a square image (k in 0..7)
  ``elastic_field(rng, shape, grid, sigma)``   Ronneberger et al. (2015)'s smooth random displacement: vectors
                                    drawn N(0, sigma^2) pixels on a coarse ``grid`` x ``grid`` lattice spanning the
                                    image, interpolated bicubically to every pixel
  ``warp_crop(image, target, field, corner, size)``   the ``size`` x ``size`` window at ``corner`` of the image
                                    displaced by ``field``: each output pixel (y, x) reads the input at
                                    (y, x) + field[:, y, x], bilinearly for the image, nearest for the target,
                                    mirrored at the borders (the paper's overlap-tile extrapolation)
  ``grey_jitter(image, rng, amount)``   grey-value variation: contrast and brightness each moved by up to
                                    ``amount`` (x (1 + a), + b, a, b ~ U(-amount, amount))

Images with boxes (detection), boxes float32 ``[m, 4]`` continuous ``(x0, y0, x1, y1)`` (pixel i spans [i, i + 1)),
labels int32 ``[m]`` with -1 for rows that hold no box:
  ``flip_boxes(image, boxes, flip)``   the image mirrored left-right (when ``flip``), its boxes with it
  ``zoom_boxes(image, boxes, labels, scale, shift, min_side)``   the image scaled by ``scale`` about its centre
                                    and moved by ``shift`` (x, y) pixels, on a canvas of the same size (bilinear,
                                    black outside); boxes mapped the same way and clipped to the canvas, and a box
                                    left with a side under ``min_side`` pixels dropped (label -1)
  ``shift_image(image, rng, most)``   the image moved by up to ``most`` pixels each way (uniform integers), the
                                    uncovered border repeating the edge pixels
  ``colour_jitter(image, rng, amount)``   brightness, contrast and saturation each scaled by U(1 - amount,
                                    1 + amount), clipped to [0, 1]

Only the window is interpolated: the field is evaluated at the window's pixels, so a 128-pixel crop of a
512-pixel slice costs a 128-pixel warp.
"""

import jax
import jax.numpy as jnp


def dihedral(image: jnp.ndarray, target: jnp.ndarray, k: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
  """``image [h, w, c]``, ``target [h, w]`` (h == w) -> both transformed by element ``k`` (int32 [] in 0..7) of
  the square's symmetry group: rotation by 90 * (k % 4) degrees, then a left-right flip when k >= 4."""
  def apply(x):
    rotations = [jnp.rot90(x, r, axes=(0, 1)) for r in range(4)]
    return jnp.stack(rotations + [jnp.flip(r, axis=1) for r in rotations])[k]
  if image.shape[0] != image.shape[1]:
    raise ValueError(f"dihedral needs square images, got {image.shape[:2]}")
  return apply(image), apply(target)


def elastic_field(rng: jax.Array, shape: tuple[int, int], grid: int, sigma: float) -> jnp.ndarray:
  """float32 ``[2, h, w]``: (dy, dx) at every pixel of an ``h`` x ``w`` image, bicubically interpolated from
  displacements drawn N(0, ``sigma``^2) at the ``grid`` x ``grid`` lattice points (the image's corners among
  them). ``sigma`` = 0 gives zeros."""
  if grid < 2:
    raise ValueError(f"elastic grid={grid}: need at least 2 x 2 lattice points")
  coarse = sigma * jax.random.normal(rng, (2, grid, grid), jnp.float32)
  h, w = shape
  # Lattice point i sits at pixel i (h - 1) / (grid - 1); resize's half-pixel centres would put it elsewhere.
  ys = jnp.linspace(0.0, grid - 1.0, h)
  xs = jnp.linspace(0.0, grid - 1.0, w)
  return jax.vmap(lambda c: _bicubic(c, ys, xs))(coarse)


def _cubic_weights(t: jnp.ndarray) -> jnp.ndarray:
  """Keys' cubic convolution weights (a = -0.5, Catmull-Rom) of the 4 neighbours at offsets -1, 0, 1, 2 of a
  point t in [0, 1) past the second: ``[..., 4]``, summing to 1."""
  a = -0.5
  def near(x):  # |x| <= 1
    return (a + 2) * x**3 - (a + 3) * x**2 + 1
  def far(x):   # 1 < |x| < 2
    return a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a
  return jnp.stack([far(1 + t), near(t), near(1 - t), far(2 - t)], axis=-1)


def _bicubic(values: jnp.ndarray, ys: jnp.ndarray, xs: jnp.ndarray) -> jnp.ndarray:
  """``values [g, g]`` sampled at lattice coordinates ``ys [h]`` x ``xs [w]`` -> ``[h, w]``, edges repeated."""
  def axis(coords, n):
    base = jnp.clip(jnp.floor(coords), 0, n - 2)
    t = coords - base
    index = jnp.clip(base[:, None].astype(jnp.int32) + jnp.arange(-1, 3)[None], 0, n - 1)
    return index, _cubic_weights(t)
  yi, yw = axis(ys, values.shape[0])
  xi, xw = axis(xs, values.shape[1])
  rows = jnp.einsum("hk,hkg->hg", yw, values[yi])          # [h, g]
  return jnp.einsum("wk,hwk->hw", xw, rows[:, xi])          # [h, w]


def warp_crop(image: jnp.ndarray, target: jnp.ndarray, field: jnp.ndarray, corner: jnp.ndarray,
              size: int) -> tuple[jnp.ndarray, jnp.ndarray]:
  """``image [h, w, c]``, ``target [h, w]``, ``field [2, h, w]``, ``corner`` int32 [2] -> the ``size`` x ``size``
  window at ``corner`` of the displaced image ``[size, size, c]`` (bilinear) and target ``[size, size]``
  (nearest), reading mirrored beyond the borders."""
  window = jax.lax.dynamic_slice(field, (0, corner[0], corner[1]), (2, size, size))
  grid = jnp.stack(jnp.meshgrid(jnp.arange(size), jnp.arange(size), indexing="ij")).astype(jnp.float32)
  coords = grid + corner.astype(jnp.float32)[:, None, None] + window  # [2, size, size]
  sample = lambda plane, order: jax.scipy.ndimage.map_coordinates(plane, list(coords), order=order, mode="mirror")
  warped = jax.vmap(lambda plane: sample(plane, 1), in_axes=2, out_axes=2)(image)
  return warped, sample(target, 0).astype(target.dtype)


def grey_jitter(image: jnp.ndarray, rng: jax.Array, amount: float) -> jnp.ndarray:
  """``image`` x (1 + a) + b with a, b ~ U(-amount, amount), clipped to [0, 1]."""
  a, b = jax.random.uniform(rng, (2,), minval=-amount, maxval=amount)
  return jnp.clip(image * (1 + a) + b, 0.0, 1.0)


def flip_boxes(image: jnp.ndarray, boxes: jnp.ndarray, flip: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
  """``image [h, w, c]``, ``boxes [m, 4]``, ``flip`` bool [] -> both mirrored left-right when ``flip``: column x
  goes to w - 1 - x, so a box's (x0, x1) to (w - x1, w - x0)."""
  w = image.shape[1]
  mirrored = jnp.stack([w - boxes[:, 2], boxes[:, 1], w - boxes[:, 0], boxes[:, 3]], axis=1)
  return jnp.where(flip, image[:, ::-1], image), jnp.where(flip, mirrored, boxes)


def zoom_boxes(image: jnp.ndarray, boxes: jnp.ndarray, labels: jnp.ndarray, scale: jnp.ndarray,
               shift: jnp.ndarray, min_side: float = 2.0) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
  """The map p -> scale (p - c) + c + shift (c the image's centre, p continuous (x, y)) applied to an image
  ``[h, w, c]`` (each output pixel centre reads the input bilinearly at the inverse map; black outside) and to
  its ``boxes [m, 4]``, which are then clipped to the canvas; a box whose clipped width or height is under
  ``min_side`` pixels is zeroed and its label set to -1. Returns (image, boxes, labels)."""
  h, w = image.shape[:2]
  centre = jnp.array([w / 2, h / 2], jnp.float32)
  ys, xs = jnp.meshgrid(jnp.arange(h, dtype=jnp.float32) + 0.5, jnp.arange(w, dtype=jnp.float32) + 0.5,
                        indexing="ij")
  # The output pixel centre p reads the input at (p - c - shift) / scale + c, in array indices (- 0.5).
  src_x = (xs - centre[0] - shift[0]) / scale + centre[0] - 0.5
  src_y = (ys - centre[1] - shift[1]) / scale + centre[1] - 0.5
  sample = lambda plane: jax.scipy.ndimage.map_coordinates(plane, [src_y, src_x], order=1, mode="constant")
  zoomed = jax.vmap(sample, in_axes=2, out_axes=2)(image)
  offset = jnp.tile(centre + shift - scale * centre, 2)
  moved = boxes * scale + offset
  clipped = jnp.clip(moved, 0.0, jnp.array([w, h, w, h], jnp.float32))
  keep = (labels >= 0) & (clipped[:, 2] - clipped[:, 0] >= min_side) & (clipped[:, 3] - clipped[:, 1] >= min_side)
  return zoomed, jnp.where(keep[:, None], clipped, 0.0), jnp.where(keep, labels, -1)


def colour_jitter(image: jnp.ndarray, rng: jax.Array, amount: float) -> jnp.ndarray:
  """``image [h, w, 3]`` in [0, 1] with its brightness (x b), contrast (about its mean grey, x c) and saturation
  (about each pixel's grey, x s) scaled, b, c, s ~ U(1 - amount, 1 + amount), clipped to [0, 1]."""
  b, c, s = jax.random.uniform(rng, (3,), minval=1 - amount, maxval=1 + amount)
  grey_weights = jnp.array([0.299, 0.587, 0.114], image.dtype)
  image = image * b
  image = (image - jnp.mean(image @ grey_weights)) * c + jnp.mean(image @ grey_weights)
  grey = (image @ grey_weights)[..., None]
  return jnp.clip((image - grey) * s + grey, 0.0, 1.0)


def shift_image(image: jnp.ndarray, rng: jax.Array, most: int) -> jnp.ndarray:
  """``image [h, w, c]`` moved by (dy, dx), each uniform in -most..most: output pixel (y, x) is input pixel
  (y - dy, x - dx), clamped to the image (edge pixels repeated)."""
  h, w, c = image.shape
  dy, dx = jax.random.randint(rng, (2,), -most, most + 1)
  padded = jnp.pad(image, ((most, most), (most, most), (0, 0)), mode="edge")
  return jax.lax.dynamic_slice(padded, (most - dy, most - dx, 0), (h, w, c))
