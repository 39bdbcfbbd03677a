//! Byte-mutation fuzzing of checkpoint loading, bounded to run in seconds: thousands of
//! mutations of safetensors files written by `Checkpoint::save` (f32 with Adam state, f64
//! with momentum), each of which must load and resume (restore the parameters, read the
//! epoch, load the optimiser state) or fail with a typed error naming the file, never
//! panic, and never allocate a block over 16 x the file's size + 64 KiB. The soak runs the
//! same trials for longer: `cargo run --release --example fuzz -- --seconds 60`.

use crate::fuzzing::{assert_fuzz_passes, targets};

/// Mutated inputs; well under a second in the test profile.
const TRIALS: u64 = 10_000;

#[test]
fn mutated_checkpoints_load_or_fail_with_a_typed_error() {
    assert_fuzz_passes(&targets::checkpoint(), 0, TRIALS);
}
