//! One conv2d layer, forward and backward (input and weight gradients), two ways: on the
//! tape (`Var::conv2d`, swept from a fixed upstream gradient G), and by hand: im2col per
//! image and `Y_n = W C_n`, then `dW = sum_n G_n C_n^T` (C_n recomputed, as Caffe does) and
//! `dX_n = col2im(W^T G_n)`, on the same GEMM (`Real::gemm`), every buffer allocated once.
//!
//! Both return `<Y, G>`, the loss whose gradient the sweep computes.

use crate::agree::{agree, Disagreement};
use crate::init;
use crate::lowering::{col2im_add, im2col, ConvGeometry};
use wengert_tape::{Real, Shape, Tape, Tensor};

/// The layers raced: the two convolutions of the LeNet at batch 64.
pub const LAYERS: [&str; 2] = ["conv1", "conv2"];

/// The batch of the races.
pub const BATCH: usize = 64;

/// `(channels in, out, side, kernel, padding)` of a raced layer.
fn layer(name: &str) -> (usize, usize, usize, usize, usize) {
    match name {
        "conv1" => (1, 8, 28, 5, 2),
        "conv2" => (8, 16, 14, 5, 0),
        _ => unreachable!("the layers are the LeNet's"),
    }
}

/// The input, filters and upstream gradient of one layer's race.
pub struct ConvProblem {
    pub geometry: ConvGeometry,
    pub batch: usize,
    /// `[batch x c x h x w]`, uniform `[0, 1)` from stream 1.
    pub x: Tensor<f32>,
    /// `[o x c x k x k]`, as [`init::conv`].
    pub w: Tensor<f32>,
    /// G = dL/dY `[batch x o x oh ow]`, uniform `[-1, 1)` from stream 40.
    pub upstream: Tensor<f32>,
}

impl ConvProblem {
    /// The race of a LeNet layer, `conv1` or `conv2`, at batch [`BATCH`].
    pub fn lenet(name: &str) -> Self {
        let (c, o, side, k, pad) = layer(name);
        ConvProblem::new(BATCH, ConvGeometry::new(c, side, side, o, k, pad))
    }

    /// A race of `batch` images through `geometry`.
    pub fn new(batch: usize, geometry: ConvGeometry) -> Self {
        let g = geometry;
        let x = Tensor::from_fn(Shape::new(&[batch, g.c, g.h, g.w]), |i| init::uniform(1, i as u64));
        let upstream = init::signed(Shape::new(&[batch, g.o, g.oh, g.ow]), 40);
        ConvProblem { geometry, batch, x, w: init::conv(0, g.c, g.o, g.k).0, upstream }
    }

    /// The layer for the report: `64 x 1x28x28 * 8x1x5x5 pad 2`.
    pub fn describe(&self) -> String {
        let g = self.geometry;
        format!("{} x {}x{}x{} * {}x{}x{}x{} pad {}", self.batch, g.c, g.h, g.w, g.o, g.c, g.k, g.k, g.pad)
    }
}

/// What one step computes, copied out for the check.
pub struct ConvOutputs {
    pub loss: f32,
    pub y: Vec<f32>,
    pub dx: Vec<f32>,
    pub dw: Vec<f32>,
}

/// The tape's step; the tape is cleared and reused, keeping its buffers.
pub struct TapeConv {
    problem: ConvProblem,
    tape: Tape<f32>,
}

impl TapeConv {
    pub fn new(problem: ConvProblem) -> Self {
        TapeConv { problem, tape: Tape::new() }
    }

    /// One forward and backward pass; returns `<Y, G>`.
    pub fn step(&mut self) -> f32 {
        self.run(false).loss
    }

    /// One step with its outputs copied out.
    pub fn outputs(&mut self) -> ConvOutputs {
        self.run(true)
    }

    fn run(&mut self, copy: bool) -> ConvOutputs {
        let TapeConv { problem, tape } = self;
        tape.clear();
        let (x, w) = (tape.var(&problem.x), tape.var(&problem.w));
        let y = x.conv2d(w, 1, problem.geometry.pad);
        let grads = tape.backward_with_seed(y, problem.upstream.data());
        let values = y.values();
        let loss = dot(&values, problem.upstream.data());
        if !copy {
            return ConvOutputs { loss, y: Vec::new(), dx: Vec::new(), dw: Vec::new() };
        }
        ConvOutputs { loss, y: values.to_vec(), dx: grads.wrt_slice(x).to_vec(), dw: grads.wrt_slice(w).to_vec() }
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(a, b)| a * b).sum()
}

/// The hand-written step: im2col + GEMM per image, no tape.
pub struct HandConv {
    problem: ConvProblem,
    col: Vec<f32>,
    d_col: Vec<f32>,
    pub y: Vec<f32>,
    pub dx: Vec<f32>,
    pub dw: Vec<f32>,
}

impl HandConv {
    pub fn new(problem: ConvProblem) -> Self {
        let g = problem.geometry;
        let lowered = g.patch() * g.positions();
        HandConv {
            col: vec![0.0; lowered],
            d_col: vec![0.0; lowered],
            y: vec![0.0; problem.batch * g.image_out()],
            dx: vec![0.0; problem.batch * g.image_in()],
            dw: vec![0.0; problem.w.data().len()],
            problem,
        }
    }

    /// One forward and backward pass; returns `<Y, G>`.
    pub fn step(&mut self) -> f32 {
        let HandConv { problem, col, d_col, y, dx, dw } = self;
        let g = problem.geometry;
        let (patch, positions) = (g.patch(), g.positions());
        let (x, w, upstream) = (problem.x.data(), problem.w.data(), problem.upstream.data());
        // Y_n = W C_n: [o x c k k] x [c k k x oh ow].
        for (x_n, y_n) in x.chunks_exact(g.image_in()).zip(y.chunks_exact_mut(g.image_out())) {
            im2col(&g, x_n, col);
            f32::gemm(g.o, patch, positions, 1.0, (w, patch, 1), (col, positions, 1), 0.0, (y_n, positions, 1));
        }
        dw.fill(0.0);
        for ((x_n, g_n), dx_n) in x
            .chunks_exact(g.image_in())
            .zip(upstream.chunks_exact(g.image_out()))
            .zip(dx.chunks_exact_mut(g.image_in()))
        {
            // dW += G_n C_n^T: [o x oh ow] x [oh ow x c k k].
            im2col(&g, x_n, col);
            f32::gemm(g.o, positions, patch, 1.0, (g_n, positions, 1), (col, 1, positions), 1.0, (dw, patch, 1));
            // dX_n = col2im(W^T G_n): [c k k x o] x [o x oh ow].
            f32::gemm(patch, g.o, positions, 1.0, (w, 1, patch), (g_n, positions, 1), 0.0, (d_col, positions, 1));
            dx_n.fill(0.0);
            col2im_add(&g, d_col, dx_n);
        }
        dot(y, upstream)
    }
}

/// Runs both once on `problem`'s numbers and compares `<Y, G>`, Y, dX and dW.
///
/// ```
/// use wengert_bench::conv::{check, ConvProblem, HandConv, TapeConv};
/// use wengert_bench::lowering::ConvGeometry;
/// let g = ConvGeometry::new(2, 5, 5, 3, 3, 1);
/// let (mut tape, mut hand) = (TapeConv::new(ConvProblem::new(2, g)), HandConv::new(ConvProblem::new(2, g)));
/// assert!(check("small", &mut tape, &mut hand).is_ok());
/// ```
///
/// # Errors
///
/// The first that differs by more than [`crate::agree::TOLERANCE`], naming `workload`.
pub fn check(workload: &str, tape: &mut TapeConv, hand: &mut HandConv) -> Result<(), Disagreement> {
    let got = tape.outputs();
    let loss = hand.step();
    agree(workload, "<Y, G>", &[got.loss], &[loss])?;
    agree(workload, "Y", &got.y, &hand.y)?;
    agree(workload, "dX", &got.dx, &hand.dx)?;
    agree(workload, "dW", &got.dw, &hand.dw)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The direct definition: Y[n, o, y, x] = sum over (c, i, j) of W[o, c, i, j] X[n, c, y +
    /// i - pad, x + j - pad], in f64.
    fn direct(p: &ConvProblem) -> Vec<f64> {
        let g = p.geometry;
        let (x, w) = (p.x.data(), p.w.data());
        let mut y = Vec::new();
        for n in 0..p.batch {
            for o in 0..g.o {
                for oy in 0..g.oh {
                    for ox in 0..g.ow {
                        let mut sum = 0.0;
                        for c in 0..g.c {
                            for i in 0..g.k {
                                for j in 0..g.k {
                                    let (r, s) =
                                        ((oy + i) as isize - g.pad as isize, (ox + j) as isize - g.pad as isize);
                                    if r >= 0 && s >= 0 && (r as usize) < g.h && (s as usize) < g.w {
                                        let at = ((n * g.c + c) * g.h + r as usize) * g.w + s as usize;
                                        sum += f64::from(w[((o * g.c + c) * g.k + i) * g.k + j]) * f64::from(x[at]);
                                    }
                                }
                            }
                        }
                        y.push(sum);
                    }
                }
            }
        }
        y
    }

    #[test]
    fn hand_written_conv_matches_the_direct_sum_and_the_tape() {
        for (batch, geometry) in [(3, ConvGeometry::new(2, 6, 5, 3, 3, 1)), (2, ConvGeometry::new(3, 5, 7, 2, 2, 0))] {
            let mut hand = HandConv::new(ConvProblem::new(batch, geometry));
            let mut tape = TapeConv::new(ConvProblem::new(batch, geometry));
            check("small", &mut tape, &mut hand).expect("tape and hand agree");
            let want: Vec<f32> = direct(&hand.problem).iter().map(|&v| v as f32).collect();
            assert!(crate::agree::relative_error(&hand.y, &want) < 1e-6);
            // <Y, G> is linear in W: its gradient is <dY/dW, G>, checked along one direction.
            let along = init::signed(hand.problem.w.shape(), 41);
            let mut shifted = ConvProblem::new(batch, geometry);
            for (w, d) in shifted.w.data_mut().iter_mut().zip(along.data()) {
                *w += d;
            }
            let (after, before) = (direct(&shifted), direct(&hand.problem));
            let upstream = hand.problem.upstream.data();
            let change: f64 = after.iter().zip(&before).zip(upstream).map(|((a, b), &g)| (a - b) * f64::from(g)).sum();
            let predicted: f64 = hand.dw.iter().zip(along.data()).map(|(a, b)| f64::from(a * b)).sum();
            assert!((change - predicted).abs() < 1e-4 * change.abs().max(1.0), "{change} vs {predicted}");
        }
    }
}
