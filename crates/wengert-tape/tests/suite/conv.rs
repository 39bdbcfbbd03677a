//! conv2d, max_pool2d and avg_pool2d against direct nested loops written here, and their
//! gradients against central differences, over random geometries: batch, channels, image
//! sizes, kernels, strides and paddings, including windows that do not tile the input.

use proptest::prelude::*;
use wengert_tape::check::{check_gradients, Tolerance};
use wengert_tape::{Shape, Tape, Tensor};

/// A random geometry: `(n, c, o, h, w, kh, kw, sh, sw, ph, pw)` with the kernel no larger
/// than the padded input.
fn geometry() -> impl Strategy<Value = [usize; 11]> {
    (
        1..=2usize,
        1..=3usize,
        1..=3usize,
        1..=7usize,
        1..=7usize,
        1..=4usize,
        1..=4usize,
        1..=3usize,
        1..=3usize,
        0..=2usize,
        0..=2usize,
    )
        .prop_filter("kernel within the padded input", |&(_, _, _, h, w, kh, kw, _, _, ph, pw)| {
            kh <= h + 2 * ph && kw <= w + 2 * pw
        })
        .prop_map(|(n, c, o, h, w, kh, kw, sh, sw, ph, pw)| [n, c, o, h, w, kh, kw, sh, sw, ph, pw])
}

/// Deterministic values in -1..1 that differ per element.
fn values(shape: Shape, seed: u64) -> Tensor<f64> {
    Tensor::from_fn(shape, |i| {
        let h = (seed ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        (h >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    })
}

/// The convolution by its definition: `y[b][f][i][j] = sum_{c, p, q} x[b][c][i sh + p - ph][j sw + q - pw] w[f][c][p][q]`.
fn direct_conv(x: &Tensor<f64>, w: &Tensor<f64>, [n, c, o, h, wd, kh, kw, sh, sw, ph, pw]: [usize; 11]) -> Vec<f64> {
    let (oh, ow) = ((h + 2 * ph - kh) / sh + 1, (wd + 2 * pw - kw) / sw + 1);
    let mut y = vec![0.0; n * o * oh * ow];
    for b in 0..n {
        for f in 0..o {
            for i in 0..oh {
                for j in 0..ow {
                    let mut sum = 0.0;
                    for ch in 0..c {
                        for p in 0..kh {
                            for q in 0..kw {
                                let (r, s) = ((i * sh + p) as isize - ph as isize, (j * sw + q) as isize - pw as isize);
                                if r >= 0 && s >= 0 && (r as usize) < h && (s as usize) < wd {
                                    let xv = x.data()[((b * c + ch) * h + r as usize) * wd + s as usize];
                                    sum += xv * w.data()[((f * c + ch) * kh + p) * kw + q];
                                }
                            }
                        }
                    }
                    y[((b * o + f) * oh + i) * ow + j] = sum;
                }
            }
        }
    }
    y
}

/// A pool by its definition: `fold` over each window, no padding.
fn direct_pool(
    x: &Tensor<f64>,
    [n, c, h, w]: [usize; 4],
    (kh, kw, sh, sw): (usize, usize, usize, usize),
    fold: fn(&[f64]) -> f64,
) -> Vec<f64> {
    let (oh, ow) = ((h - kh) / sh + 1, (w - kw) / sw + 1);
    let mut y = Vec::new();
    for plane in 0..n * c {
        for i in 0..oh {
            for j in 0..ow {
                let window: Vec<f64> = (0..kh)
                    .flat_map(|p| (0..kw).map(move |q| (p, q)))
                    .map(|(p, q)| x.data()[plane * h * w + (i * sh + p) * w + j * sw + q])
                    .collect();
                y.push(fold(&window));
            }
        }
    }
    y
}

fn assert_close(got: &[f64], want: &[f64], what: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(got.len(), want.len(), "{}: lengths", what);
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        prop_assert!(
            (g - w).abs() <= 1e-12 * (1.0 + w.abs()),
            "{}: element {} is {}, the definition gives {}",
            what,
            k,
            g,
            w
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn conv2d_is_the_definitions_sum_and_its_gradients_agree_with_differences(geo in geometry(), seed in any::<u64>()) {
        let [n, c, o, h, w, kh, kw, sh, sw, ph, pw] = geo;
        let x = values(Shape::new(&[n, c, h, w]), seed);
        let filters = values(Shape::new(&[o, c, kh, kw]), seed ^ 1);
        let tape = Tape::new();
        let y = tape.var(&x).conv2d(tape.var(&filters), (sh, sw), (ph, pw));
        assert_close(&y.values(), &direct_conv(&x, &filters, geo), "conv2d forward")?;
        let out_shape = y.shape();
        let report = check_gradients(
            |tape: &Tape<f64>, v| (v[0].conv2d(v[1], (sh, sw), (ph, pw)) * tape.constant(&values(out_shape, seed ^ 2))).sum(),
            &[x, filters],
        );
        prop_assert!(report.passes(Tolerance::default()), "conv2d {:?}\n{}", geo, report);
    }

    #[test]
    fn pools_are_their_definitions_and_their_gradients_agree_with_differences(
        (n, c, h, w) in (1..=2usize, 1..=3usize, 1..=7usize, 1..=7usize),
        (kh, kw, sh, sw) in (1..=3usize, 1..=3usize, 1..=3usize, 1..=3usize),
        seed in any::<u64>(),
    ) {
        prop_assume!(kh <= h && kw <= w);
        // Distinct values a few steps apart, so that no window's maximum is within a
        // difference step of its runner-up.
        let shape = Shape::new(&[n, c, h, w]);
        let mut order: Vec<usize> = (0..shape.numel()).collect();
        let x0 = values(shape, seed);
        order.sort_by(|&a, &b| x0.data()[a].total_cmp(&x0.data()[b]));
        let mut data = vec![0.0; shape.numel()];
        for (rank, &i) in order.iter().enumerate() {
            data[i] = 0.1 * rank as f64;
        }
        let x = Tensor::new(shape, data);
        let geometry = (kh, kw, sh, sw);
        let tape = Tape::new();
        let v = tape.var(&x);
        let max = v.max_pool2d((kh, kw), (sh, sw));
        let avg = v.avg_pool2d((kh, kw), (sh, sw));
        let dims = [n, c, h, w];
        assert_close(&max.values(), &direct_pool(&x, dims, geometry, |s| s.iter().copied().fold(f64::MIN, f64::max)), "max_pool2d")?;
        assert_close(&avg.values(), &direct_pool(&x, dims, geometry, |s| s.iter().sum::<f64>() / s.len() as f64), "avg_pool2d")?;
        let out_shape = max.shape();
        let weights = values(out_shape, seed ^ 3);
        let report = check_gradients(
            |tape: &Tape<f64>, v| {
                let w = tape.constant(&weights);
                (v[0].max_pool2d((kh, kw), (sh, sw)) * w).sum() + (v[0].avg_pool2d((kh, kw), (sh, sw)) * w).sum()
            },
            &[x],
        );
        prop_assert!(report.passes(Tolerance::default()), "pools {:?} {:?}\n{}", dims, geometry, report);
    }
}

#[test]
fn max_pool_routes_each_windows_gradient_to_its_arg_max() {
    // Overlapping 2x2 windows, stride 1, over a 3x3 plane whose maximum, 9, is in all four.
    let tape = Tape::<f64>::new();
    let x = tape.var(&Tensor::new(Shape::new(&[1, 1, 3, 3]), vec![1.0, 2.0, 3.0, 4.0, 9.0, 5.0, 6.0, 7.0, 8.0]));
    let y = x.max_pool2d(2, 1);
    assert_eq!(&*y.values(), &[9.0; 4]);
    let upstream = tape.constant(&Tensor::new(Shape::new(&[1, 1, 2, 2]), vec![1.0, 10.0, 100.0, 1000.0]));
    let grads = tape.backward((y * upstream).sum());
    assert_eq!(grads.wrt_slice(x), &[0.0, 0.0, 0.0, 0.0, 1111.0, 0.0, 0.0, 0.0, 0.0]);
}

#[test]
fn a_steady_state_conv_step_reuses_its_buffers() {
    // The same step twice on one tape, cleared between: the arenas do not grow, so the
    // im2col matrices and the input gradient's workspace came from them.
    let mut tape = Tape::<f32>::new();
    let x = Tensor::from_fn(Shape::new(&[4, 2, 9, 9]), |i| (i % 7) as f32 * 0.1);
    let w = Tensor::from_fn(Shape::new(&[3, 2, 3, 3]), |i| (i % 5) as f32 * 0.1 - 0.2);
    let step = |tape: &Tape<f32>| {
        let (xv, wv) = (tape.var(&x), tape.var(&w));
        let loss = xv.conv2d(wv, 1, 1).relu().max_pool2d(2, 2).sum();
        let grads = tape.backward(loss);
        (grads.wrt_slice(wv).to_vec(), grads.wrt_slice(xv).iter().sum::<f32>())
    };
    let first = step(&tape);
    tape.clear();
    let capacity = tape.stats().value_capacity_bytes + tape.stats().adjoint_capacity_bytes;
    let second = step(&tape);
    assert_eq!(first, second);
    assert_eq!(tape.stats().value_capacity_bytes + tape.stats().adjoint_capacity_bytes, capacity);
}

#[test]
#[should_panic(expected = "conv2d: input [1 x 3 x 5 x 5] has 3 channels, weight [2 x 2 x 3 x 3] expects 2")]
fn conv2d_names_the_shapes_when_channels_differ() {
    let tape = Tape::<f64>::new();
    let x = tape.var(&Tensor::zeros(Shape::new(&[1, 3, 5, 5])));
    let _ = x.conv2d(tape.var(&Tensor::zeros(Shape::new(&[2, 2, 3, 3]))), 1, 0);
}

#[test]
#[should_panic(expected = "max_pool2d: kernel Size2(3, 3) is larger than the input [1 x 1 x 2 x 4]")]
fn a_pool_names_the_shapes_when_the_kernel_does_not_fit() {
    let tape = Tape::<f64>::new();
    let _ = tape.var(&Tensor::zeros(Shape::new(&[1, 1, 2, 4]))).max_pool2d(3, 1);
}
