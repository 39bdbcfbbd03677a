//! Models to and from other frameworks' files. [`torch`]: an [`Mlp`](crate::Mlp) as the
//! safetensors state dict of a PyTorch `nn.Sequential` of Linear layers, weights `[out, in]`
//! (wengert's own checkpoints store them `[in, out]`), and a [`Sequential`](crate::Sequential)
//! (convolutions, pools, Linear layers, activations) as the `nn.Sequential` of the same
//! modules.

pub mod torch;
