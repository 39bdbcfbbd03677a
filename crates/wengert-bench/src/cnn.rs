//! One train step of the LeNet of `examples/mnist_cnn.rs` (conv 5x5 x8 pad 2, relu, max-pool
//! 2; conv 5x5 x16, relu, max-pool 2; flatten; linear 400-120, relu; linear 120-10; softmax
//! cross-entropy averaged over the batch; plain SGD on every parameter), two ways: on the
//! tape, with the ops wengert-nn's layers record, and by hand on the same GEMM with every
//! buffer allocated once (im2col per image as in `crate::conv`, the pools keeping their
//! arg-max, bias and relu in one pass).
//!
//! The hand-written step can time its own parts ([`Split`]): the products, the lowering
//! (im2col and col2im), the pools, and the rest (bias, relu, loss, SGD).

use crate::agree::{agree, Disagreement};
use crate::init;
use crate::lowering::{col2im_add, im2col, max_pool, max_pool_backward, ConvGeometry, PoolGeometry};
use std::time::Instant;
use wengert_tape::{Real, Shape, Tape, Tensor, Var};

/// The sizes of a LeNet-like network: two convolutions, each with relu and a max-pool 2, then
/// two linear layers.
#[derive(Clone, Copy, Debug)]
pub struct Lenet {
    pub batch: usize,
    /// Channels of the input and of the two convolutions.
    pub channels: [usize; 3],
    /// Height and width of the input.
    pub side: usize,
    pub kernel: usize,
    /// Padding of the two convolutions.
    pub padding: [usize; 2],
    pub hidden: usize,
    pub classes: usize,
}

/// The LeNet of `examples/mnist_cnn.rs` at batch 64.
pub const LENET: Lenet =
    Lenet { batch: 64, channels: [1, 8, 16], side: 28, kernel: 5, padding: [2, 0], hidden: 120, classes: 10 };

/// The pool's window and stride.
const POOL: usize = 2;

impl Lenet {
    /// The two convolutions and the two pools.
    fn geometry(&self) -> ([ConvGeometry; 2], [PoolGeometry; 2]) {
        let [c0, c1, c2] = self.channels;
        let conv1 = ConvGeometry::new(c0, self.side, self.side, c1, self.kernel, self.padding[0]);
        let pool1 = PoolGeometry::new(self.batch * c1, conv1.oh, conv1.ow, POOL);
        let conv2 = ConvGeometry::new(c1, pool1.oh, pool1.ow, c2, self.kernel, self.padding[1]);
        let pool2 = PoolGeometry::new(self.batch * c2, conv2.oh, conv2.ow, POOL);
        ([conv1, conv2], [pool1, pool2])
    }

    /// Features per sample after the second pool.
    ///
    /// ```
    /// // 28 -> conv pad 2 -> 28 -> pool -> 14 -> conv -> 10 -> pool -> 5: 16 x 5 x 5.
    /// assert_eq!(wengert_bench::cnn::LENET.flat(), 400);
    /// ```
    pub fn flat(&self) -> usize {
        let (_, [_, pool2]) = self.geometry();
        pool2.outputs() / self.batch
    }

    /// The network for the report.
    pub fn describe(&self) -> String {
        let [c0, c1, c2] = self.channels;
        format!(
            "{c0}x{s}x{s} conv{k} x{c1} pool conv{k} x{c2} pool {}-{}-{} batch {}",
            self.flat(),
            self.hidden,
            self.classes,
            self.batch,
            s = self.side,
            k = self.kernel
        )
    }
}

/// The parameters and data of one run: `params` = conv1 W, b, conv2 W, b, linear3 W `[in x
/// out]`, b, linear4 W, b, drawn by [`init::conv`] and [`init::layer`].
pub struct CnnProblem {
    pub net: Lenet,
    pub params: Vec<Tensor<f32>>,
    /// `[batch x c x side x side]`, uniform `[0, 1)` from stream 1.
    pub x: Tensor<f32>,
    pub labels: Vec<usize>,
}

/// Names of the parameters, in `CnnProblem::params`' order.
pub const PARAMETERS: [&str; 8] =
    ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc3.weight", "fc3.bias", "fc4.weight", "fc4.bias"];

impl CnnProblem {
    pub fn new(net: Lenet) -> Self {
        let [c0, c1, c2] = net.channels;
        let (w1, b1) = init::conv(0, c0, c1, net.kernel);
        let (w2, b2) = init::conv(1, c1, c2, net.kernel);
        let (w3, b3) = init::layer(2, net.flat(), net.hidden);
        let (w4, b4) = init::layer(3, net.hidden, net.classes);
        let x = Tensor::from_fn(Shape::new(&[net.batch, c0, net.side, net.side]), |i| init::uniform(1, i as u64));
        let labels = init::labels(net.batch).into_iter().map(|l| l % net.classes).collect();
        CnnProblem { net, params: vec![w1, b1, w2, b2, w3, b3, w4, b4], x, labels }
    }
}

fn sgd(parameter: &mut [f32], gradient: &[f32], learning_rate: f32) {
    for (p, &g) in parameter.iter_mut().zip(gradient) {
        *p -= learning_rate * g;
    }
}

/// The tape's step; the tape is cleared and reused, keeping its buffers.
pub struct TapeCnn {
    problem: CnnProblem,
    tape: Tape<f32>,
}

impl TapeCnn {
    pub fn new(problem: CnnProblem) -> Self {
        TapeCnn { problem, tape: Tape::new() }
    }

    /// The loss on the tape, as wengert-nn's `Conv2d`, `MaxPool2d`, `Flatten`, `Linear` and
    /// relu layers record it.
    fn record<'t>(tape: &'t Tape<f32>, problem: &CnnProblem) -> (Var<'t, f32>, [Var<'t, f32>; 8]) {
        let p: [Var<'t, f32>; 8] = std::array::from_fn(|i| tape.var(&problem.params[i]));
        let [pad1, pad2] = problem.net.padding;
        let x = tape.constant(&problem.x);
        let a = x.conv2d_bias(p[0], p[1], 1, pad1).relu().max_pool2d(POOL, POOL);
        let a = a.conv2d_bias(p[2], p[3], 1, pad2).relu().max_pool2d(POOL, POOL).flatten();
        let a = a.matmul(p[4]).add_bias(p[5]).relu();
        let logits = a.matmul(p[6]).add_bias(p[7]);
        (logits.softmax_cross_entropy(&problem.labels), p)
    }

    /// One step; returns the loss before the update.
    pub fn step(&mut self, learning_rate: f32) -> f32 {
        let TapeCnn { problem, tape } = self;
        tape.clear();
        let (loss, p) = Self::record(tape, problem);
        let grads = tape.backward(loss);
        for (parameter, &v) in problem.params.iter_mut().zip(&p) {
            sgd(parameter.data_mut(), grads.wrt_slice(v), learning_rate);
        }
        loss.value()
    }

    /// The loss and the gradients, in [`PARAMETERS`]' order, without an update.
    pub fn gradients(&mut self) -> (f32, Vec<Vec<f32>>) {
        let TapeCnn { problem, tape } = self;
        tape.clear();
        let (loss, p) = Self::record(tape, problem);
        let grads = tape.backward(loss);
        (loss.value(), p.iter().map(|&v| grads.wrt_slice(v).to_vec()).collect())
    }
}

/// Where the hand-written step's time goes, in seconds summed over the steps timed.
#[derive(Clone, Copy, Debug, Default)]
pub struct Split {
    /// Every `Real::gemm`.
    pub products: f64,
    /// im2col and col2im.
    pub lowering: f64,
    /// The max-pools, forward (with arg-max) and backward.
    pub pools: f64,
    /// Bias, relu, the loss and its gradient, column sums, SGD.
    pub rest: f64,
}

#[derive(Clone, Copy)]
enum Part {
    Products,
    Lowering,
    Pools,
    Rest,
}

/// Laps of the hand-written step, or nothing at all while it races.
struct Stopwatch {
    on: bool,
    last: Instant,
    split: Split,
}

impl Stopwatch {
    /// Charges the time since the last lap to `part`.
    #[inline]
    fn lap(&mut self, part: Part) {
        if self.on {
            let now = Instant::now();
            let t = (now - self.last).as_secs_f64();
            self.last = now;
            let s = &mut self.split;
            *match part {
                Part::Products => &mut s.products,
                Part::Lowering => &mut s.lowering,
                Part::Pools => &mut s.pools,
                Part::Rest => &mut s.rest,
            } += t;
        }
    }
}

/// Activations and adjoints of one convolution block (conv, relu, pool).
struct Block {
    conv: ConvGeometry,
    pool: PoolGeometry,
    col: Vec<f32>,
    d_col: Vec<f32>,
    /// relu(conv + bias), `[batch x o x oh x ow]`; its adjoint, relu's mask applied.
    a: Vec<f32>,
    da: Vec<f32>,
    /// The pooled output and the input position of each maximum.
    pooled: Vec<f32>,
    arg: Vec<u32>,
}

impl Block {
    fn new(batch: usize, conv: ConvGeometry, pool: PoolGeometry) -> Self {
        let lowered = conv.patch() * conv.positions();
        Block {
            conv,
            pool,
            col: vec![0.0; lowered],
            d_col: vec![0.0; lowered],
            a: vec![0.0; batch * conv.image_out()],
            da: vec![0.0; batch * conv.image_out()],
            pooled: vec![0.0; pool.outputs()],
            arg: vec![0; pool.outputs()],
        }
    }

    /// `pooled = max_pool(relu(W * x + b))`.
    fn forward(&mut self, x: &[f32], w: &[f32], b: &[f32], clock: &mut Stopwatch) {
        let g = self.conv;
        let (patch, positions) = (g.patch(), g.positions());
        for (x_n, y_n) in x.chunks_exact(g.image_in()).zip(self.a.chunks_exact_mut(g.image_out())) {
            im2col(&g, x_n, &mut self.col);
            clock.lap(Part::Lowering);
            f32::gemm(g.o, patch, positions, 1.0, (w, patch, 1), (&self.col, positions, 1), 0.0, (y_n, positions, 1));
            clock.lap(Part::Products);
        }
        for (plane, a) in self.a.chunks_exact_mut(positions).enumerate() {
            let bias = b[plane % g.o];
            for v in a {
                *v = (*v + bias).max(0.0);
            }
        }
        clock.lap(Part::Rest);
        max_pool(&self.pool, &self.a, &mut self.pooled, &mut self.arg);
        clock.lap(Part::Pools);
    }

    /// From `d_pooled`: dW, db and, if asked, dX (the block's input `x`).
    #[allow(clippy::too_many_arguments)]
    fn backward(
        &mut self,
        x: &[f32],
        w: &[f32],
        d_pooled: &[f32],
        dw: &mut [f32],
        db: &mut [f32],
        mut dx: Option<&mut [f32]>,
        clock: &mut Stopwatch,
    ) {
        let g = self.conv;
        let (patch, positions) = (g.patch(), g.positions());
        max_pool_backward(d_pooled, &self.arg, &mut self.da);
        clock.lap(Part::Pools);
        // relu' = 1[z > 0], and z > 0 exactly where a > 0.
        for (d, &a) in self.da.iter_mut().zip(&self.a) {
            if a <= 0.0 {
                *d = 0.0;
            }
        }
        db.fill(0.0);
        for (plane, d) in self.da.chunks_exact(positions).enumerate() {
            db[plane % g.o] += d.iter().sum::<f32>();
        }
        dw.fill(0.0);
        clock.lap(Part::Rest);
        for (n, (x_n, g_n)) in x.chunks_exact(g.image_in()).zip(self.da.chunks_exact(g.image_out())).enumerate() {
            // dW += G_n C_n^T, C_n recomputed.
            im2col(&g, x_n, &mut self.col);
            clock.lap(Part::Lowering);
            f32::gemm(g.o, positions, patch, 1.0, (g_n, positions, 1), (&self.col, 1, positions), 1.0, (dw, patch, 1));
            clock.lap(Part::Products);
            if let Some(dx) = dx.as_deref_mut() {
                // dX_n = col2im(W^T G_n).
                f32::gemm(
                    patch,
                    g.o,
                    positions,
                    1.0,
                    (w, 1, patch),
                    (g_n, positions, 1),
                    0.0,
                    (&mut self.d_col, positions, 1),
                );
                clock.lap(Part::Products);
                let dx_n = &mut dx[n * g.image_in()..(n + 1) * g.image_in()];
                dx_n.fill(0.0);
                col2im_add(&g, &self.d_col, dx_n);
                clock.lap(Part::Lowering);
            }
        }
    }
}

/// The hand-written train step.
pub struct HandCnn {
    problem: CnnProblem,
    blocks: [Block; 2],
    /// Adjoint of the first block's pooled output (the second block's input).
    d_pooled1: Vec<f32>,
    /// Adjoint of the flattened second pool.
    d_flat: Vec<f32>,
    /// relu(fc3), its adjoint; the logits and their adjoint.
    a3: Vec<f32>,
    d3: Vec<f32>,
    z4: Vec<f32>,
    d4: Vec<f32>,
    /// Gradients, in [`PARAMETERS`]' order.
    grads: Vec<Vec<f32>>,
    clock: Stopwatch,
}

impl HandCnn {
    pub fn new(problem: CnnProblem) -> Self {
        let net = problem.net;
        let ([conv1, conv2], [pool1, pool2]) = net.geometry();
        let grads = problem.params.iter().map(|p| vec![0.0; p.data().len()]).collect();
        HandCnn {
            blocks: [Block::new(net.batch, conv1, pool1), Block::new(net.batch, conv2, pool2)],
            d_pooled1: vec![0.0; pool1.outputs()],
            d_flat: vec![0.0; pool2.outputs()],
            a3: vec![0.0; net.batch * net.hidden],
            d3: vec![0.0; net.batch * net.hidden],
            z4: vec![0.0; net.batch * net.classes],
            d4: vec![0.0; net.batch * net.classes],
            grads,
            clock: Stopwatch { on: false, last: Instant::now(), split: Split::default() },
            problem,
        }
    }

    /// The gradients of the last step, in [`PARAMETERS`]' order.
    pub fn gradients(&self) -> &[Vec<f32>] {
        &self.grads
    }

    /// Runs `steps` steps with the parts timed; returns their summed [`Split`] and the
    /// total wall time in seconds.
    pub fn timed_steps(&mut self, steps: usize, learning_rate: f32) -> (Split, f64) {
        self.clock = Stopwatch { on: true, last: Instant::now(), split: Split::default() };
        let start = Instant::now();
        for _ in 0..steps {
            self.clock.last = Instant::now();
            self.step(learning_rate);
        }
        let total = start.elapsed().as_secs_f64();
        self.clock.on = false;
        (self.clock.split, total)
    }

    /// One step; returns the loss before the update.
    pub fn step(&mut self, learning_rate: f32) -> f32 {
        let HandCnn { problem, blocks, d_pooled1, d_flat, a3, d3, z4, d4, grads, clock } = self;
        let net = problem.net;
        let (batch, flat, hidden, classes) = (net.batch, net.flat(), net.hidden, net.classes);
        let p: [&[f32]; 8] = std::array::from_fn(|i| problem.params[i].data());
        let [block1, block2] = blocks;
        // Forward.
        block1.forward(problem.x.data(), p[0], p[1], clock);
        block2.forward(&block1.pooled, p[2], p[3], clock);
        let flat_in = &block2.pooled;
        f32::gemm(batch, flat, hidden, 1.0, (flat_in, flat, 1), (p[4], hidden, 1), 0.0, (a3, hidden, 1));
        clock.lap(Part::Products);
        for row in a3.chunks_exact_mut(hidden) {
            for (a, &b) in row.iter_mut().zip(p[5]) {
                *a = (*a + b).max(0.0);
            }
        }
        clock.lap(Part::Rest);
        f32::gemm(batch, hidden, classes, 1.0, (a3, hidden, 1), (p[6], classes, 1), 0.0, (z4, classes, 1));
        clock.lap(Part::Products);
        // Softmax cross-entropy: dZ = (softmax(Z) - onehot) / N.
        let mut loss = 0.0;
        for ((z, delta), &label) in z4.chunks_exact_mut(classes).zip(d4.chunks_exact_mut(classes)).zip(&problem.labels)
        {
            for (v, &b) in z.iter_mut().zip(p[7]) {
                *v += b;
            }
            let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut sum = 0.0;
            for (d, &zi) in delta.iter_mut().zip(z.iter()) {
                *d = (zi - max).exp();
                sum += *d;
            }
            loss += max + sum.ln() - z[label];
            for d in delta.iter_mut() {
                *d /= sum * batch as f32;
            }
            delta[label] -= 1.0 / batch as f32;
        }
        let [dw1, db1, dw2, db2, dw3, db3, dw4, db4] = &mut grads[..] else { unreachable!("eight parameters") };
        column_sums(d4, db4);
        clock.lap(Part::Rest);
        // fc4: dW4 = A3^T D4, D3 = D4 W4^T masked by relu.
        f32::gemm(hidden, batch, classes, 1.0, (a3, 1, hidden), (d4, classes, 1), 0.0, (dw4, classes, 1));
        f32::gemm(batch, classes, hidden, 1.0, (d4, classes, 1), (p[6], 1, classes), 0.0, (d3, hidden, 1));
        clock.lap(Part::Products);
        for (d, &a) in d3.iter_mut().zip(a3.iter()) {
            if a <= 0.0 {
                *d = 0.0;
            }
        }
        column_sums(d3, db3);
        clock.lap(Part::Rest);
        // fc3: dW3 = P2^T D3, dP2 = D3 W3^T.
        f32::gemm(flat, batch, hidden, 1.0, (flat_in, 1, flat), (d3, hidden, 1), 0.0, (dw3, hidden, 1));
        f32::gemm(batch, hidden, flat, 1.0, (d3, hidden, 1), (p[4], 1, hidden), 0.0, (d_flat, flat, 1));
        clock.lap(Part::Products);
        block2.backward(&block1.pooled, p[2], d_flat, dw2, db2, Some(&mut d_pooled1[..]), clock);
        block1.backward(problem.x.data(), p[0], d_pooled1, dw1, db1, None, clock);
        for (parameter, gradient) in problem.params.iter_mut().zip(grads.iter()) {
            sgd(parameter.data_mut(), gradient, learning_rate);
        }
        clock.lap(Part::Rest);
        loss / batch as f32
    }
}

/// `sums[j] = sum_i rows[i][j]`.
fn column_sums(rows: &[f32], sums: &mut [f32]) {
    sums.fill(0.0);
    for row in rows.chunks_exact(sums.len()) {
        for (s, &v) in sums.iter_mut().zip(row) {
            *s += v;
        }
    }
}

/// Runs both once, without an update, and compares the loss and every gradient.
///
/// ```
/// use wengert_bench::cnn::{check, CnnProblem, HandCnn, Lenet, TapeCnn};
/// let net = Lenet { batch: 2, channels: [1, 2, 2], side: 8, kernel: 3, padding: [1, 0], hidden: 4, classes: 10 };
/// let mut tape = TapeCnn::new(CnnProblem::new(net));
/// let mut hand = HandCnn::new(CnnProblem::new(net));
/// assert!(check(&mut tape, &mut hand).is_ok());
/// ```
///
/// # Errors
///
/// The first that differs by more than [`crate::agree::TOLERANCE`], naming the parameter.
pub fn check(tape: &mut TapeCnn, hand: &mut HandCnn) -> Result<(), Disagreement> {
    let (loss, gradients) = tape.gradients();
    let hand_loss = hand.step(0.0);
    agree("cnn", "loss", &[loss], &[hand_loss])?;
    for ((name, got), want) in PARAMETERS.iter().zip(&gradients).zip(hand.gradients()) {
        agree("cnn", &format!("{name} gradient"), got, want)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small LeNets: a pool that tiles its input and one that drops an edge.
    const SMALL: [Lenet; 2] = [
        Lenet { batch: 4, channels: [1, 2, 3], side: 12, kernel: 3, padding: [1, 0], hidden: 6, classes: 10 },
        Lenet { batch: 3, channels: [2, 3, 2], side: 11, kernel: 3, padding: [2, 1], hidden: 5, classes: 4 },
    ];

    #[test]
    fn hand_written_cnn_step_matches_the_tape() {
        for net in SMALL {
            let (mut tape, mut hand) = (TapeCnn::new(CnnProblem::new(net)), HandCnn::new(CnnProblem::new(net)));
            check(&mut tape, &mut hand).unwrap_or_else(|e| panic!("{net:?}: {e}"));
            // And again after a step of SGD each, from the updated parameters.
            let (a, b) = (tape.step(0.5), hand.step(0.5));
            assert!((a - b).abs() <= 1e-5 * a.abs(), "{a} vs {b}");
            check(&mut tape, &mut hand).unwrap_or_else(|e| panic!("{net:?} after a step: {e}"));
        }
    }

    #[test]
    fn hand_written_linear_gradients_match_a_central_difference() {
        // Independent of the tape: d loss / d theta along a direction in the two linear layers.
        // The code is f32, so the step is 1e-3 (rounding ~1e-3 of the slope). The convolutions
        // are left to the tape check and to conv.rs and lowering.rs: along their weights, small
        // nets cross max-pool switches at any step f32 can resolve.
        let net = SMALL[0];
        let mut hand = HandCnn::new(CnnProblem::new(net));
        hand.step(0.0);
        let directions: Vec<Tensor<f32>> =
            hand.problem.params.iter().enumerate().map(|(i, p)| init::signed(p.shape(), 50 + i as u64)).collect();
        let linear = 4..8;
        let slope: f64 = hand.gradients()[linear.clone()]
            .iter()
            .zip(&directions[linear.clone()])
            .map(|(g, d)| g.iter().zip(d.data()).map(|(a, b)| f64::from(a * b)).sum::<f64>())
            .sum();
        let shifted = |h: f32| {
            let mut problem = CnnProblem::new(net);
            for (p, d) in problem.params[linear.clone()].iter_mut().zip(&directions[linear.clone()]) {
                for (v, &e) in p.data_mut().iter_mut().zip(d.data()) {
                    *v += h * e;
                }
            }
            f64::from(HandCnn::new(problem).step(0.0))
        };
        let h = 1e-3;
        let difference = (shifted(h) - shifted(-h)) / (2.0 * f64::from(h));
        assert!((difference - slope).abs() < 1e-2 * slope.abs(), "{difference} vs {slope}");
    }
}
