use std::time::Instant;
use wengert::prelude::*;
const N: usize = 1_000_000;
fn main() {
    let reps: usize = std::env::args().nth(1).map(|s| s.parse().unwrap()).unwrap_or(5);
    let mut tape = Tape::<f64>::new();
    for _ in 0..reps {
        tape.clear();
        let t0 = Instant::now();
        let leaf = tape.var(0.5);
        let mut y = leaf;
        for k in 0..N {
            y = if k % 2 == 0 { y * 0.999999 } else { y + 1e-6 };
        }
        let t1 = Instant::now();
        let g = tape.backward(y).wrt(leaf);
        let t2 = Instant::now();
        println!(
            "record {:.1} ns/op, sweep {:.1} ns/op  {g}",
            (t1 - t0).as_nanos() as f64 / N as f64,
            (t2 - t1).as_nanos() as f64 / N as f64
        );
    }
}
