//! Models to and from other frameworks' files. [`torch`]: an [`Mlp`](crate::Mlp) as the
//! safetensors state dict of a PyTorch `nn.Sequential` of Linear layers, weights `[out, in]`
//! (wengert's own checkpoints store them `[in, out]`).

pub mod torch;
