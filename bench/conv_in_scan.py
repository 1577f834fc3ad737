"""One U-Net training step (configs/unet_isbi_em.py's net, augmentation and batch) called directly and inside a
``lax.scan`` of length one, for ``layers.Conv``'s two ``impl``s: on XLA:CPU a convolution in a loop body runs on a
slow path, which is why ``program.make_train_call`` does not loop over a single step.

  python bench/conv_in_scan.py xla direct   (and: xla scan, patches direct, patches scan)

Prints the mean seconds of 3 calls after one warm-up.
"""
import time, sys, jax, jax.numpy as jnp, numpy as np, optax, ml_collections as mc
from bigjax.models.unet import UNet
from bigjax.tasks import segmentation as S
impl, mode = sys.argv[1], sys.argv[2]
t=mc.ConfigDict(dict(crop=128,flips="dihedral",elastic_sigma=10.0,elastic_grid=3,grey_jitter=0.1))
m=UNet(2,(16,32,64,128),impl=impl)
rng=np.random.default_rng(0)
x=jnp.asarray(rng.uniform(size=(8,512,512,1)),jnp.float32); y=jnp.asarray(rng.integers(0,2,(8,512,512)),jnp.int32)
p=S.init(m,jax.random.PRNGKey(0),{"image":x[:1,:128,:128]})
opt=optax.adam(1e-3); o=opt.init(p)
def raw(p,o,x,y,k):
  (l,_),g=jax.value_and_grad(lambda p:S.loss(m,p,{"image":x,"segmentation":y},k,t),has_aux=True)(p)
  u,o=opt.update(g,o,p); return optax.apply_updates(p,u),o,l
if mode=="direct":
  f=jax.jit(lambda p,o,xs,ys,k: raw(p,o,xs[0],ys[0],k))
else:
  def f(p,o,xs,ys,k):
    def body(c,b):
      p,o=c; p,o,l=raw(p,o,b[0],b[1],k); return (p,o),l
    return jax.lax.scan(body,(p,o),(xs,ys))
  f=jax.jit(f)
a=(p,o,x[None],y[None],jax.random.PRNGKey(1))
r=f(*a); jax.block_until_ready(r); t0=time.time()
for _ in range(3): r=f(*a)
jax.block_until_ready(r); print(impl,mode,(time.time()-t0)/3)
