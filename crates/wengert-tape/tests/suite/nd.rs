//! Shapes of rank 3 and 4: every registry op whose probe takes `[m x n]` matrices, run on
//! those matrices lifted to rank 3 (`[m x 2 x n]`) and 4 (`[m x 2 x 1 x n]`), with the
//! broadcasting ops paired with every partner shape numpy's rules allow, agrees with central
//! differences; the ops defined on matrices only refuse a higher rank with a message; and
//! reductions, softmax and broadcasting give the values an independent loop computes.

// This suite draws its own lifted shapes; it shares the values and weights only.
use crate::probing::{value_in, weights};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::panic::{catch_unwind, AssertUnwindSafe};
use wengert_tape::check::{check_gradients, Tolerance};
use wengert_tape::registry::{self, Check, Probe};
use wengert_tape::{Shape, Tape, Tensor, Var};

/// Ops defined on scalars, vectors and matrices only (each panics at rank 3, naming itself),
/// and ops whose probe builds a matrix shape or matrix indices (reshape, gather_rows, whose
/// rank-3 form `gather_rows_slice_and_concat_work_at_rank_3` checks).
const MATRIX_ONLY: &[&str] = &["t", "reshape", "slice_rows", "slice_cols", "gather_rows", "scatter_rows"];
/// Of those, the ones that take a higher rank in their own way.
const ANY_RANK_ELSEWHERE: &[&str] = &["reshape", "gather_rows"];

/// A matrix `[m x n]` lifted to `rank` 3 (`[m x 2 x n]`) or 4 (`[m x 2 x 1 x n]`): axis 1 has
/// two elements, so the probes' reductions along axes 0 and 1 stay well defined (a sample
/// variance needs two).
fn lift(shape: Shape, rank: usize) -> Shape {
    let dims = shape.dims();
    match rank {
        3 => Shape::new(&[dims[0], 2, dims[1]]),
        _ => Shape::new(&[dims[0], 2, 1, dims[1]]),
    }
}

/// Shapes that broadcast against the lifted `[m x n]`: a scalar, a row, shapes with 1 in
/// some places and missing leading axes, and the full shape.
fn partners(m: usize, n: usize, rank: usize) -> Vec<Shape> {
    let s = |d: &[usize]| Shape::new(d);
    if rank == 3 {
        vec![s(&[]), s(&[n]), s(&[2, 1]), s(&[2, n]), s(&[m, 1, n]), s(&[1, 2, n]), s(&[m, 2, 1]), s(&[m, 2, n])]
    } else {
        vec![
            s(&[]),
            s(&[n]),
            s(&[2, 1, 1]),
            s(&[1, 1, 1, n]),
            s(&[m, 1, 1, n]),
            s(&[1, 2, 1, 1]),
            s(&[m, 2, 1, n]),
            s(&[2, 1, n]),
        ]
    }
}

/// Whether the op's probe takes matrices all of one shape (`[m x n]`, or `[m x (n + 1)]` for
/// the variance).
fn takes_matrices(probe: &Probe) -> bool {
    let shapes = (probe.shapes)(3, 4);
    shapes.iter().all(|&s| s.rank() == 2 && s == shapes[0])
}

fn agrees(name: &str, probe: &Probe, shapes: &[Shape], draws: &[u32], seed: u64) -> Result<(), TestCaseError> {
    let mut draws = draws.iter();
    let inputs: Vec<Tensor<f64>> = shapes
        .iter()
        .enumerate()
        .map(|(k, &shape)| {
            let data = (0..shape.numel()).map(|_| value_in(&probe.domain, k, *draws.next().unwrap())).collect();
            Tensor::new(shape, data)
        })
        .collect();
    let apply = probe.apply_f64;
    let report = check_gradients(
        |tape: &Tape<f64>, v| {
            let out = apply(v);
            (out * tape.constant(&weights(out.shape(), seed))).sum()
                + v.iter().fold(tape.constant(0.0), |t, &x| t + x.sum() * 0.5)
        },
        &inputs,
    );
    prop_assert!(report.passes(Tolerance::default()), "{name} at {shapes:?}: tape and differences disagree\n{report}");
    Ok(())
}

#[test]
fn every_elementwise_reduction_and_softmax_op_is_right_at_rank_3_and_4() {
    let mut checked = Vec::new();
    for spec in registry::all() {
        let Check::Probe(probe) = spec.check else { continue };
        if !takes_matrices(&probe) || MATRIX_ONLY.contains(&spec.name) {
            continue;
        }
        for rank in [3, 4] {
            let strategy = (1..=3usize, 1..=3usize, 0..8usize, any::<bool>(), any::<u64>()).prop_flat_map(
                move |(m, n, partner, swap, seed)| {
                    let mut shapes: Vec<Shape> = (probe.shapes)(m, n).into_iter().map(|s| lift(s, rank)).collect();
                    if probe.broadcasts {
                        shapes[1] = partners(m, n, rank)[partner];
                        if swap {
                            shapes.swap(0, 1);
                        }
                    }
                    let count: usize = shapes.iter().map(|s| s.numel()).sum();
                    (Just(shapes), proptest::collection::vec(any::<u32>(), count), Just(seed))
                },
            );
            let mut runner = TestRunner::new(Config { cases: 24, failure_persistence: None, ..Config::default() });
            if let Err(failure) =
                runner.run(&strategy, |(shapes, draws, seed)| agrees(spec.name, &probe, &shapes, &draws, seed))
            {
                panic!("{} at rank {rank}: {failure}", spec.name);
            }
        }
        checked.push(spec.name);
    }
    // The families that must work at any rank are all here.
    for name in [
        "sigmoid",
        "exp",
        "mul",
        "maximum",
        "sum_axis",
        "max_axis",
        "var_axis",
        "softmax",
        "softmax_axis",
        "log_softmax_axis",
        "logsumexp",
        "where",
        "mse",
    ] {
        assert!(checked.contains(&name), "{name} was not checked at rank 3 and 4 (checked: {checked:?})");
    }
}

#[test]
fn the_matrix_only_ops_refuse_a_higher_rank_naming_themselves() {
    for name in MATRIX_ONLY.iter().filter(|n| !ANY_RANK_ELSEWHERE.contains(n)) {
        let Check::Probe(probe) = registry::find(name).unwrap().check else { panic!("{name} has a probe") };
        let result = catch_unwind(AssertUnwindSafe(|| {
            let tape = Tape::<f64>::new();
            let inputs: Vec<Var<f64>> =
                (probe.shapes)(2, 3).into_iter().map(|s| tape.var(&Tensor::zeros(lift(s, 3)))).collect();
            (probe.apply_f64)(&inputs).shape()
        }));
        let message = match result {
            Ok(shape) => panic!("{name} accepted a rank-3 input and gave {shape}"),
            Err(payload) => payload.downcast_ref::<String>().cloned().unwrap_or_default(),
        };
        assert!(message.starts_with(&format!("{name}: [2 x 2 x 3] has rank 3")), "{name}: {message}");
    }
}

/// Element `(a, b, c)` of a row-major `[_ x d1 x d2]`.
fn at(x: &[f64], [_, d1, d2]: [usize; 3], (a, b, c): (usize, usize, usize)) -> f64 {
    x[(a * d1 + b) * d2 + c]
}

#[test]
fn axis_reductions_and_softmax_at_rank_3_match_loops() {
    let dims = [2, 3, 4];
    let data: Vec<f64> = (0..24).map(|i| ((i * 7) % 11) as f64 * 0.3 - 1.0).collect();
    let tape = Tape::<f64>::new();
    let x = tape.constant(&Tensor::new(Shape::new(&dims), data.clone()));
    for axis in 0..3 {
        let mut out_dims = dims.to_vec();
        out_dims.remove(axis);
        let (mut sums, mut maxes) = (Vec::new(), Vec::new());
        for i in 0..out_dims[0] {
            for j in 0..out_dims[1] {
                let lane: Vec<f64> = (0..dims[axis])
                    .map(|k| {
                        let index = match axis {
                            0 => (k, i, j),
                            1 => (i, k, j),
                            _ => (i, j, k),
                        };
                        at(&data, dims, index)
                    })
                    .collect();
                sums.push(lane.iter().sum::<f64>());
                maxes.push(lane.iter().copied().fold(f64::MIN, f64::max));
            }
        }
        let sum = x.sum_axis(axis, false);
        assert_eq!(sum.shape(), Shape::new(&out_dims));
        for (got, want) in sum.values().iter().zip(&sums) {
            assert!((got - want).abs() < 1e-12, "sum_axis({axis}): {got} against {want}");
        }
        assert_eq!(&*x.max_axis(axis, false).values(), &maxes[..], "max_axis({axis})");
        let mut kept = dims.to_vec();
        kept[axis] = 1;
        assert_eq!(x.mean_axis(axis, true).shape(), Shape::new(&kept));
        // softmax along the axis: every lane sums to 1, and is e^x over the lane's sum.
        let y = x.softmax_axis(axis);
        let lane_sums = y.sum_axis(axis, false);
        assert!(lane_sums.values().iter().all(|s| (s - 1.0).abs() < 1e-12), "softmax_axis({axis})");
        let e_sum = x.exp().sum_axis(axis, true);
        let expected = x.exp() / e_sum;
        for (got, want) in y.values().iter().zip(expected.values().iter()) {
            assert!((got - want).abs() < 1e-12);
        }
    }
}

#[test]
fn broadcasting_at_rank_3_reads_what_numpy_reads() {
    let tape = Tape::<f64>::new();
    let a = tape.constant(&Tensor::new(Shape::new(&[2, 1, 3]), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
    let b = tape.constant(&Tensor::new(Shape::new(&[4, 1]), vec![10.0, 20.0, 30.0, 40.0]));
    let y = a + b;
    assert_eq!(y.shape(), Shape::new(&[2, 4, 3]));
    let mut expected = Vec::new();
    for i in 0..2 {
        for j in 0..4 {
            for k in 0..3 {
                expected.push((i * 3 + k + 1) as f64 + 10.0 * (j + 1) as f64);
            }
        }
    }
    assert_eq!(&*y.values(), &expected[..]);
}

#[test]
fn permute_moves_each_element_where_its_indices_say() {
    let dims = [2, 3, 4, 5];
    let tape = Tape::<f64>::new();
    let x = tape.constant(&Tensor::from_fn(Shape::new(&dims), |i| i as f64));
    let y = x.permute(&[0, 2, 3, 1]);
    assert_eq!(y.shape(), Shape::new(&[2, 4, 5, 3]));
    let values = y.values();
    for (a, b, c, d) in
        (0..2).flat_map(|a| (0..3).flat_map(move |b| (0..4).flat_map(move |c| (0..5).map(move |d| (a, b, c, d)))))
    {
        let source = ((a * 3 + b) * 4 + c) * 5 + d;
        assert_eq!(values[((a * 4 + c) * 5 + d) * 3 + b], source as f64);
    }
}

#[test]
#[should_panic(expected = "permute: axes [0, 0, 1] are not a permutation of the 3 axes of [2 x 3 x 4]")]
fn permute_names_a_bad_permutation() {
    let tape = Tape::<f64>::new();
    let _ = tape.var(&Tensor::zeros(Shape::new(&[2, 3, 4]))).permute(&[0, 0, 1]);
}

#[test]
fn gather_rows_slice_and_concat_work_at_rank_3() {
    let dims = [3, 2, 4];
    let x = Tensor::from_fn(Shape::new(&dims), |i| (i as f64 * 0.37).sin());
    let tape = Tape::<f64>::new();
    let v = tape.constant(&x);
    // Values against index arithmetic on the row-major data.
    let at = |a: usize, b: usize, c: usize| x.data()[(a * 2 + b) * 4 + c];
    let gathered = v.gather_rows(&[2, 0, 2]);
    assert_eq!(gathered.shape(), Shape::new(&[3, 2, 4]));
    let expected: Vec<f64> = [2, 0, 2]
        .iter()
        .flat_map(|&a| (0..2).flat_map(move |b| (0..4).map(move |c| (a, b, c))))
        .map(|(a, b, c)| at(a, b, c))
        .collect();
    assert_eq!(&*gathered.values(), &expected[..]);
    let sliced = v.slice(2, 1..3);
    assert_eq!(sliced.shape(), Shape::new(&[3, 2, 2]));
    let expected: Vec<f64> = (0..3)
        .flat_map(|a| (0..2).flat_map(move |b| (1..3).map(move |c| (a, b, c))))
        .map(|(a, b, c)| at(a, b, c))
        .collect();
    assert_eq!(&*sliced.values(), &expected[..]);
    let joined = Var::concat(&[v.slice(1, 0..1), v, v.slice(1, 1..2)], 1);
    assert_eq!(joined.shape(), Shape::new(&[3, 4, 4]));
    let expected: Vec<f64> = (0..3)
        .flat_map(|a| [0, 0, 1, 1].into_iter().flat_map(move |b| (0..4).map(move |c| (a, b, c))))
        .map(|(a, b, c)| at(a, b, c))
        .collect();
    assert_eq!(&*joined.values(), &expected[..]);
    // Gradients through all three, against central differences.
    let weights = Tensor::from_fn(Shape::new(&[3, 3, 2]), |i| 1.0 + (i % 5) as f64);
    let report = check_gradients(
        |tape: &Tape<f64>, v| {
            let parts = [v[0].gather_rows(&[1, 1, 0]).slice(2, 0..2), v[0].slice(1, 1..2).slice(2, 2..4)];
            (Var::concat(&parts, 1).sin() * tape.constant(&weights)).sum()
        },
        std::slice::from_ref(&x),
    );
    assert!(report.passes(Tolerance::default()), "{report}");
}

#[test]
fn one_element_shapes_of_every_rank_keep_their_shape_and_rule() {
    // Rank <= 2 one-element values take the scalar path, rank 3 the tensor path: both must
    // give numpy's result shape, and d/da (a b + sin a) = b + cos a, d/db = a.
    let (a0, b0) = (0.7_f64, -1.3_f64);
    let ranks: [&[usize]; 5] = [&[], &[1], &[1, 1], &[1, 1, 1], &[1, 1, 1, 1]];
    for (i, &da) in ranks.iter().enumerate() {
        for &db in &ranks[i..] {
            let tape = Tape::new();
            let a = tape.var((Shape::new(da), &[a0][..]));
            let b = tape.var((Shape::new(db), &[b0][..]));
            let y = a * b + a.sin();
            assert_eq!(y.shape(), Shape::new(db), "{da:?} with {db:?}");
            assert_eq!(y.values()[0], a0 * b0 + a0.sin());
            let grads = tape.backward(y.sum());
            let (ga, gb) = (grads.wrt_slice(a), grads.wrt_slice(b));
            assert!((ga[0] - (b0 + a0.cos())).abs() < 1e-15, "{da:?} with {db:?}: d/da {}", ga[0]);
            assert!((gb[0] - a0).abs() < 1e-15, "{da:?} with {db:?}: d/db {}", gb[0]);
        }
    }
}
