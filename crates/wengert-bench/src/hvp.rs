//! The HVP workload (`--only hvp`): one gradient against one Hessian-vector product by
//! reverse over reverse ([`Tape::grad`], then one sweep of `g . v`), at MLP-M with respect to
//! the parameters and on the extended Rosenbrock function, along a fixed random direction.
//! The issue's bound: an HVP costs at most 5 gradients.

use crate::init;
use crate::mlp::Problem;
use wengert_tape::{Real, Tape, Tensor, Var};

/// The MLP's loss, its gradient and its Hessian-vector product in the parameters, on one
/// tape cleared and reused by both. Relu hidden layers, softmax cross-entropy averaged over
/// the batch, as the MLP step of `mlp.rs`; generic so that the test can run it in f64.
pub struct MlpHvp<T: Real> {
    layers: Vec<(Tensor<T>, Tensor<T>)>,
    x: Tensor<T>,
    labels: Vec<usize>,
    /// The direction `v`, one tensor per parameter (w1, b1, w2, b2, ...).
    direction: Vec<Tensor<T>>,
    tape: Tape<T>,
}

/// `numel` elements of a direction, uniform in `[-1, 1)` from stream `seed` (see `init`).
pub fn direction(seed: u64, numel: usize) -> Vec<f64> {
    (0..numel as u64).map(|i| f64::from(2.0 * init::uniform(seed, i) - 1.0)).collect()
}

/// Records the MLP's loss on `tape`: one trainable leaf per parameter, in order.
fn record<'t, T: Real>(
    tape: &'t Tape<T>,
    layers: &[(Tensor<T>, Tensor<T>)],
    x: &Tensor<T>,
    labels: &[usize],
) -> (Vec<Var<'t, T>>, Var<'t, T>) {
    let depth = layers.len();
    let params: Vec<Var<'t, T>> = layers.iter().flat_map(|(w, b)| [tape.var(w), tape.var(b)]).collect();
    let mut a = tape.constant(x);
    for (l, pair) in params.chunks(2).enumerate() {
        let z = a.matmul(pair[0]).add_bias(pair[1]);
        a = if l + 1 < depth { z.relu() } else { z };
    }
    (params, a.softmax_cross_entropy(labels))
}

impl<T: Real> MlpHvp<T> {
    /// The problem's parameters and batch in `T`, and a direction from streams 40, 41, ...
    ///
    /// ```
    /// use wengert_bench::{hvp::MlpHvp, mlp::Problem};
    /// let mut m = MlpHvp::<f32>::new(&Problem::new("S"));
    /// let mut out = m.buffers();
    /// let loss = m.gradient(&mut out);
    /// assert_eq!(m.hvp(&mut out), loss);
    /// assert_eq!(out.len(), 4);
    /// ```
    pub fn new(problem: &Problem) -> Self {
        let layers: Vec<(Tensor<T>, Tensor<T>)> = problem.layers.iter().map(|(w, b)| (w.cast(), b.cast())).collect();
        let direction = layers
            .iter()
            .flat_map(|(w, b)| [w.shape(), b.shape()])
            .enumerate()
            .map(|(k, shape)| {
                let v = direction(40 + k as u64, shape.numel());
                Tensor::new(shape, v.into_iter().map(T::lit).collect())
            })
            .collect();
        MlpHvp { layers, x: problem.x.cast(), labels: problem.labels.clone(), direction, tape: Tape::new() }
    }

    /// One buffer per parameter, for [`gradient`](MlpHvp::gradient) and [`hvp`](MlpHvp::hvp).
    pub fn buffers(&self) -> Vec<Vec<T>> {
        self.direction.iter().map(|v| vec![T::zero(); v.shape().numel()]).collect()
    }

    /// The gradient in the parameters (one sweep) into `out`; returns the loss.
    pub fn gradient(&mut self, out: &mut [Vec<T>]) -> T {
        let MlpHvp { layers, x, labels, tape, .. } = self;
        tape.clear();
        let (params, loss) = record(tape, layers, x, labels);
        let grads = tape.backward(loss);
        for (o, &p) in out.iter_mut().zip(&params) {
            o.copy_from_slice(grads.wrt_slice(p));
        }
        loss.value()
    }

    /// `H v` in the parameters into `out`, by reverse over reverse: the gradient recorded by
    /// [`Tape::grad`], then one sweep of `sum_k g_k . v_k`. Returns the loss.
    pub fn hvp(&mut self, out: &mut [Vec<T>]) -> T {
        let MlpHvp { layers, x, labels, direction, tape } = self;
        tape.clear();
        let (params, loss) = record(tape, layers, x, labels);
        let gradient = tape.grad(loss, &params);
        let along = gradient
            .iter()
            .zip(direction.iter())
            .map(|(&g, v)| (g * tape.constant(v)).sum())
            .reduce(|a, b| a + b)
            .expect("the MLP has parameters");
        let grads = tape.backward(along);
        for (o, &p) in out.iter_mut().zip(&params) {
            o.copy_from_slice(grads.wrt_slice(p));
        }
        loss.value()
    }
}

/// The extended Rosenbrock function on scalar handles, as `scalar.rs` records it:
/// `sum_{i < n-1} (1 - x_i)^2 + 100 (x_{i+1} - x_i^2)^2`.
pub fn rosenbrock<'t>(x: &[Var<'t, f64>]) -> Var<'t, f64> {
    let mut total = x[0].tape().constant(0.0);
    for pair in x.windows(2) {
        let (xi, next) = (pair[0], pair[1]);
        total = total + ((1.0 - xi).powi(2) + 100.0 * (next - xi * xi).powi(2));
    }
    total
}

/// Rosenbrock's value and gradient through [`wengert_tape::gradient`] (a new tape per call,
/// as a user writes it).
///
/// ```
/// // At (0, 0): f = 1, gradient (-2, 0).
/// assert_eq!(wengert_bench::hvp::rosenbrock_gradient(&[0.0, 0.0]), (1.0, vec![-2.0, 0.0]));
/// ```
pub fn rosenbrock_gradient(x: &[f64]) -> (f64, Vec<f64>) {
    wengert_tape::gradient(x, rosenbrock)
}

/// Rosenbrock's `H v` through [`wengert_tape::hvp`] (a new tape per call).
///
/// ```
/// // At (0, 0): H = [[2, 0], [0, 200]].
/// assert_eq!(wengert_bench::hvp::rosenbrock_hvp(&[0.0, 0.0], &[1.0, 1.0]), vec![2.0, 200.0]);
/// ```
pub fn rosenbrock_hvp(x: &[f64], v: &[f64]) -> Vec<f64> {
    wengert_tape::hvp(x, v, rosenbrock)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(g(x + h v) - g(x - h v)) / 2h` for a gradient function `g`.
    fn difference_of_gradient(mut g: impl FnMut(f64) -> Vec<f64>, h: f64) -> Vec<f64> {
        let (up, down) = (g(h), g(-h));
        up.iter().zip(&down).map(|(u, d)| (u - d) / (2.0 * h)).collect()
    }

    fn assert_close(hv: &[f64], fd: &[f64], rel: f64) {
        let scale = hv.iter().fold(1.0_f64, |m, x| m.max(x.abs()));
        for (i, (a, b)) in hv.iter().zip(fd).enumerate() {
            assert!((a - b).abs() <= rel * scale, "element {i}: H v {a}, differences of the gradient {b}");
        }
    }

    #[test]
    fn mlp_hvp_equals_central_differences_of_the_gradient_along_v() {
        let mut m = MlpHvp::<f64>::new(&Problem::new("S"));
        let mut hv = m.buffers();
        m.hvp(&mut hv);
        let start = m.layers.clone();
        let fd = difference_of_gradient(
            |t| {
                let mut moved = start.clone();
                for ((w, b), pair) in moved.iter_mut().zip(m.direction.chunks(2)) {
                    w.data_mut().iter_mut().zip(pair[0].data()).for_each(|(p, v)| *p += t * v);
                    b.data_mut().iter_mut().zip(pair[1].data()).for_each(|(p, v)| *p += t * v);
                }
                m.layers = moved;
                let mut g = m.buffers();
                m.gradient(&mut g);
                g.concat()
            },
            1e-5,
        );
        assert_close(&hv.concat(), &fd, 1e-6);
        // Not a vacuous match: the product is far from zero.
        assert!(hv.concat().iter().any(|x| x.abs() > 1e-3));
    }

    #[test]
    fn rosenbrock_hvp_equals_central_differences_of_the_gradient_along_v() {
        let x: Vec<f64> = init::rosenbrock_start(7);
        let v = direction(50, 7);
        let hv = rosenbrock_hvp(&x, &v);
        let fd = difference_of_gradient(
            |t| {
                let moved: Vec<f64> = x.iter().zip(&v).map(|(x, v)| x + t * v).collect();
                let mut g = vec![0.0; 7];
                crate::scalar::rosenbrock_hand(&moved, &mut g);
                g
            },
            1e-5,
        );
        assert_close(&hv, &fd, 1e-8);
    }
}
