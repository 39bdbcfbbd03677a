//! One MLP train step (forward, backward, plain SGD on every parameter), two ways:
//! on the tape, and by the closed-form equations BP1r-BP4r with the same GEMM and no tape.
//!
//! Both: relu hidden layers, softmax cross-entropy averaged over the batch, f32.

use crate::init;
use smallvec::SmallVec;
use wengert_tape::{Real, Tape, Tensor, Var};

/// Layer widths of the benchmark's MLPs.
pub fn widths(size: &str) -> (&'static [usize], usize) {
    match size {
        "S" => (&[64, 32, 10], 32),
        "M" => (&[784, 256, 128, 10], 128),
        "L" => (&[784, 1024, 1024, 10], 512),
        _ => unreachable!("sizes are checked by the command line"),
    }
}

/// The parameters and data of one run, in the deterministic start.
pub struct Problem {
    pub layers: Vec<(Tensor<f32>, Tensor<f32>)>,
    pub x: Tensor<f32>,
    pub labels: Vec<usize>,
}

impl Problem {
    pub fn new(size: &str) -> Self {
        let (widths, batch) = widths(size);
        let layers = widths.windows(2).enumerate().map(|(l, w)| init::layer(l, w[0], w[1])).collect();
        Problem { layers, x: init::inputs(batch, widths[0]), labels: init::labels(batch) }
    }
}

fn sgd(parameter: &mut [f32], gradient: &[f32], learning_rate: f32) {
    for (p, &g) in parameter.iter_mut().zip(gradient) {
        *p -= learning_rate * g;
    }
}

/// The tape's train step; the tape is cleared and reused, keeping its buffers.
pub struct TapeStep {
    problem: Problem,
    tape: Tape<f32>,
}

impl TapeStep {
    pub fn new(problem: Problem) -> Self {
        TapeStep { problem, tape: Tape::new() }
    }

    /// One step; returns the loss before the update.
    pub fn step(&mut self, learning_rate: f32) -> f32 {
        let TapeStep { problem, tape } = self;
        tape.clear();
        let depth = problem.layers.len();
        let x = tape.constant(&problem.x);
        let params: SmallVec<[(Var<'_, f32>, Var<'_, f32>); 4]> =
            problem.layers.iter().map(|(w, b)| (tape.var(w), tape.var(b))).collect();
        let mut a = x;
        for (l, &(w, b)) in params.iter().enumerate() {
            let z = a.matmul(w).add_bias(b);
            a = if l + 1 < depth { z.relu() } else { z };
        }
        let loss = a.softmax_cross_entropy(&problem.labels);
        let grads = tape.backward(loss);
        for ((w, b), &(wv, bv)) in problem.layers.iter_mut().zip(&params) {
            sgd(w.data_mut(), grads.wrt_slice(wv), learning_rate);
            sgd(b.data_mut(), grads.wrt_slice(bv), learning_rate);
        }
        loss.value()
    }
}

/// Buffers of one layer for the hand-written step.
struct LayerBuffers {
    z: Vec<f32>,
    a: Vec<f32>,
    delta: Vec<f32>,
    dw: Vec<f32>,
    db: Vec<f32>,
}

/// The hand-written train step: the same products, no tape, every buffer allocated once.
pub struct HandStep {
    problem: Problem,
    buffers: Vec<LayerBuffers>,
}

impl HandStep {
    pub fn new(problem: Problem) -> Self {
        let batch = problem.x.shape().rows();
        let buffers = problem
            .layers
            .iter()
            .map(|(w, _)| {
                let (fan_in, fan_out) = (w.shape().rows(), w.shape().cols());
                LayerBuffers {
                    z: vec![0.0; batch * fan_out],
                    a: vec![0.0; batch * fan_out],
                    delta: vec![0.0; batch * fan_out],
                    dw: vec![0.0; fan_in * fan_out],
                    db: vec![0.0; fan_out],
                }
            })
            .collect();
        HandStep { problem, buffers }
    }

    /// One step; returns the loss before the update.
    pub fn step(&mut self, learning_rate: f32) -> f32 {
        let HandStep { problem, buffers } = self;
        let batch = problem.x.shape().rows();
        let depth = problem.layers.len();
        // Forward: Z^l = A^{l-1} W^l + b^l, A^l = relu(Z^l); the last Z holds the logits.
        for l in 0..depth {
            let (w, b) = &problem.layers[l];
            let (fan_in, fan_out) = (w.shape().rows(), w.shape().cols());
            let (before, rest) = buffers.split_at_mut(l);
            let layer = &mut rest[0];
            let input = if l == 0 { problem.x.data() } else { &before[l - 1].a[..] };
            f32::gemm(
                batch,
                fan_in,
                fan_out,
                1.0,
                (input, fan_in, 1),
                (w.data(), fan_out, 1),
                0.0,
                (&mut layer.z, fan_out, 1),
            );
            for row in layer.z.chunks_exact_mut(fan_out) {
                for (z, &bias) in row.iter_mut().zip(b.data()) {
                    *z += bias;
                }
            }
            if l + 1 < depth {
                for (a, &z) in layer.a.iter_mut().zip(&layer.z) {
                    *a = z.max(0.0);
                }
            }
        }
        // BP1 with the fused loss (F11): Delta^L = (softmax(Z^L) - onehot) / N.
        let last = &mut buffers[depth - 1];
        let classes = problem.layers[depth - 1].0.shape().cols();
        let mut loss = 0.0;
        for ((z, delta), &label) in
            last.z.chunks_exact(classes).zip(last.delta.chunks_exact_mut(classes)).zip(&problem.labels)
        {
            let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut sum = 0.0;
            for (d, &zi) in delta.iter_mut().zip(z) {
                *d = (zi - max).exp();
                sum += *d;
            }
            loss += max + sum.ln() - z[label];
            for d in delta.iter_mut() {
                *d /= sum * batch as f32;
            }
            delta[label] -= 1.0 / batch as f32;
        }
        // BP3r, BP4r, then BP2r for the layer below; never a gradient for X.
        for l in (0..depth).rev() {
            let (fan_in, fan_out) = (problem.layers[l].0.shape().rows(), problem.layers[l].0.shape().cols());
            let (before, rest) = buffers.split_at_mut(l);
            let layer = &mut rest[0];
            let input = if l == 0 { problem.x.data() } else { &before[l - 1].a[..] };
            f32::gemm(
                fan_in,
                batch,
                fan_out,
                1.0,
                (input, 1, fan_in),
                (&layer.delta, fan_out, 1),
                0.0,
                (&mut layer.dw, fan_out, 1),
            );
            layer.db.fill(0.0);
            for row in layer.delta.chunks_exact(fan_out) {
                for (db, &d) in layer.db.iter_mut().zip(row) {
                    *db += d;
                }
            }
            if l > 0 {
                let below = &mut before[l - 1];
                let w = problem.layers[l].0.data();
                f32::gemm(
                    batch,
                    fan_out,
                    fan_in,
                    1.0,
                    (&layer.delta, fan_out, 1),
                    (w, 1, fan_out),
                    0.0,
                    (&mut below.delta, fan_in, 1),
                );
                for (d, &z) in below.delta.iter_mut().zip(&below.z) {
                    if z <= 0.0 {
                        *d = 0.0;
                    }
                }
            }
        }
        for ((w, b), layer) in problem.layers.iter_mut().zip(buffers.iter()) {
            sgd(w.data_mut(), &layer.dw, learning_rate);
            sgd(b.data_mut(), &layer.db, learning_rate);
        }
        loss / batch as f32
    }
}

/// The shape of the weights of every layer, for the report.
pub fn describe(size: &str) -> String {
    let (widths, batch) = widths(size);
    let w: Vec<String> = widths.iter().map(|w| w.to_string()).collect();
    format!("{} batch {batch}", w.join("-"))
}
