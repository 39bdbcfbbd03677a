//! A fingerprint of a model's parameters, to compare ranks without sending them.

use wengert_nn::Model;
use wengert_tape::Tensor;

/// FNV-1a over the bits of every parameter, in [`Model::parameters`] order: equal on two
/// ranks exactly when their parameters are bit-identical (up to a 2^-64 chance).
///
/// # Examples
///
/// ```
/// use rand::SeedableRng;
/// use wengert_dist::parameter_hash;
/// use wengert_nn::{Activation, Mlp, Model};
/// let model = Mlp::<f32>::new(&[3, 2], Activation::Relu, &mut rand_chacha::ChaCha8Rng::seed_from_u64(0));
/// let mut moved = model.clone();
/// assert_eq!(parameter_hash(&model), parameter_hash(&moved));
/// moved.parameters_mut().next().expect("a weight").data_mut()[0] += 1e-6;
/// assert_ne!(parameter_hash(&model), parameter_hash(&moved));
/// ```
pub fn parameter_hash<M: Model<f32> + ?Sized>(model: &M) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    model.parameters().flat_map(Tensor::data).fold(OFFSET, |hash, value| {
        value.to_bits().to_le_bytes().iter().fold(hash, |h, &byte| (h ^ u64::from(byte)).wrapping_mul(PRIME))
    })
}
