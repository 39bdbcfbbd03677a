//! One step (and a few) of each optimiser against values computed by hand, clipping by
//! global norm, initialisers' bounds and reproducibility, and the MLP's forward pass and
//! gradients against plain loops.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use wengert_nn::init::Init;
use wengert_nn::optim::{clip_scale, Adam, Optimizer, Sgd};
use wengert_nn::{Activation, Linear, Mlp};
use wengert_tape::{Shape, Tape, Tensor};

#[test]
fn sgd_step_is_theta_minus_lr_times_gradient() {
    // G1: theta <- theta - alpha g, elementwise: 1 - 0.1 * 2 = 0.8, -1 - 0.1 * (-3) = -0.7.
    let mut sgd = Sgd::new(0.1_f64);
    let mut theta = [1.0, -1.0];
    sgd.begin_step();
    sgd.update(0, &mut theta, &[2.0, -3.0], 1.0);
    assert!((theta[0] - 0.8).abs() < 1e-15 && (theta[1] + 0.7).abs() < 1e-15);
}

#[test]
fn sgd_momentum_accumulates_velocity() {
    // v1 = 2, theta1 = 1 - 0.1 * 2 = 0.8; v2 = 0.9 * 2 + 2 = 3.8, theta2 = 0.8 - 0.38 = 0.42.
    let mut sgd = Sgd::with_momentum(0.1_f64, 0.9);
    let mut theta = [1.0];
    for expected in [0.8, 0.42] {
        sgd.begin_step();
        sgd.update(0, &mut theta, &[2.0], 1.0);
        assert!((theta[0] - expected).abs() < 1e-14, "{} vs {expected}", theta[0]);
    }
}

#[test]
fn adam_steps_match_the_bias_corrected_moments() {
    // m_t = 0.9 m + 0.1 g, v_t = 0.999 v + 0.001 g^2, theta -= lr m_hat / (sqrt(v_hat) + 1e-8),
    // for g = 2, 1, -0.5 from theta = 1, lr 0.1: values computed by hand (notes G1, Adam paper).
    let mut adam = Adam::new(0.1_f64);
    let mut theta = [1.0];
    for (g, expected) in [(2.0, 0.9000000005), (1.0, 0.8067820372085104), (-0.5, 0.7504158999804387)] {
        adam.begin_step();
        adam.update(0, &mut theta, &[g], 1.0);
        assert!((theta[0] - expected).abs() < 1e-14, "{} vs {expected}", theta[0]);
    }
    assert_eq!(adam.steps(), 3);
}

#[test]
fn adam_state_round_trips_and_continues_identically() {
    let mut a = Adam::new(0.01_f64);
    let mut theta_a = [0.5, -0.25];
    a.begin_step();
    a.update(0, &mut theta_a, &[1.0, 2.0], 1.0);
    let state = a.state();
    let mut b = Adam::new(0.01_f64);
    b.load_state(&|name| state.iter().find(|(n, _)| n == name).map(|(_, t)| t.clone())).unwrap();
    let mut theta_b = theta_a;
    for (opt, theta) in [(&mut a, &mut theta_a), (&mut b, &mut theta_b)] {
        opt.begin_step();
        opt.update(0, theta, &[-0.3, 0.7], 1.0);
    }
    assert_eq!(theta_a, theta_b);
}

#[test]
fn missing_optimiser_state_is_an_error_naming_it() {
    let mut adam = Adam::<f32>::new(0.01);
    let error = adam.load_state(&|_| None).unwrap_err();
    assert!(error.contains("adam.step"), "{error}");
}

#[test]
fn gradient_scale_multiplies_the_gradient() {
    let mut sgd = Sgd::new(1.0_f64);
    let mut theta = [0.0];
    sgd.update(0, &mut theta, &[4.0], 0.25);
    assert_eq!(theta, [-1.0]);
}

#[test]
fn clipping_scales_the_global_norm_down_to_the_limit() {
    // ||(3, 4, 12)|| = 13: clipping to 6.5 halves every gradient; 13 or more leaves them.
    let (g1, g2) = ([3.0_f64, 4.0], [12.0]);
    assert_eq!(clip_scale([&g1[..], &g2[..]], 6.5), 0.5);
    assert_eq!(clip_scale([&g1[..], &g2[..]], 13.0), 1.0);
    assert_eq!(clip_scale([&[0.0_f64][..]], 1.0), 1.0);
}

#[test]
fn initialisers_respect_their_bounds_and_variances() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (fan_in, fan_out) = (400, 300);
    let variance = |t: &Tensor<f64>| t.data().iter().map(|x| x * x).sum::<f64>() / t.len() as f64;
    let xavier = Init::XavierUniform.weights::<f64>(fan_in, fan_out, &mut rng);
    let bound = (6.0 / 700.0_f64).sqrt();
    assert!(xavier.data().iter().all(|x| x.abs() <= bound));
    // U(-a, a) has variance a^2 / 3 = 2 / (fan_in + fan_out); 120,000 draws pin it to ~1%.
    assert!((variance(&xavier) / (2.0 / 700.0) - 1.0).abs() < 0.02);
    let he = Init::HeNormal.weights::<f64>(fan_in, fan_out, &mut rng);
    assert!((variance(&he) / (2.0 / 400.0) - 1.0).abs() < 0.02);
    let xavier_normal = Init::XavierNormal.weights::<f64>(fan_in, fan_out, &mut rng);
    assert!((variance(&xavier_normal) / (2.0 / 700.0) - 1.0).abs() < 0.02);
    let he_uniform = Init::HeUniform.weights::<f64>(fan_in, fan_out, &mut rng);
    assert!(he_uniform.data().iter().all(|x| x.abs() <= (6.0 / 400.0_f64).sqrt()));
}

#[test]
fn same_seed_gives_the_same_weights_bit_for_bit() {
    let build = |seed| Mlp::<f32>::new(&[5, 7, 3], Activation::Tanh, &mut ChaCha8Rng::seed_from_u64(seed));
    assert_eq!(build(11), build(11));
    assert_ne!(build(11), build(12));
}

#[test]
fn mlp_forward_and_gradients_match_plain_loops() {
    // 2-2-1 tanh network on one row, loss = sum of the output; gradients by the chain rule.
    let mlp = Mlp {
        layers: vec![
            Linear::from_tensors(Tensor::from_rows(&[[0.5, -0.3], [0.2, 0.8]]), Tensor::from_slice(&[0.1, -0.1])),
            Linear::from_tensors(Tensor::from_rows(&[[1.5], [-2.0]]), Tensor::from_slice(&[0.3])),
        ],
        hidden: Activation::Tanh,
    };
    let x = [0.7, -1.1];
    let z: Vec<f64> = (0..2).map(|j| x[0] * [0.5, -0.3][j] + x[1] * [0.2, 0.8][j] + [0.1, -0.1][j]).collect();
    let h: Vec<f64> = z.iter().map(|z| z.tanh()).collect();
    let y = h[0] * 1.5 - h[1] * 2.0 + 0.3;
    let tape = Tape::new();
    let params = mlp.on_tape(&tape);
    let out = params.forward(tape.constant(&Tensor::from_rows(&[x])));
    assert_eq!(out.shape(), Shape::matrix(1, 1));
    assert!((out.value() - y).abs() < 1e-15);
    let grads = tape.backward(out.sum());
    let v = [1.5, -2.0];
    let delta: Vec<f64> = (0..2).map(|j| v[j] * (1.0 - h[j] * h[j])).collect();
    let dw1 = grads.wrt_slice(params.layers[0].weight);
    for (i, expected) in [x[0] * delta[0], x[0] * delta[1], x[1] * delta[0], x[1] * delta[1]].iter().enumerate() {
        assert!((dw1[i] - expected).abs() < 1e-15);
    }
    assert_eq!(grads.wrt_slice(params.layers[1].weight), &h[..]);
    assert_eq!(mlp.parameter_count(), 4 + 2 + 2 + 1);
    assert_eq!(mlp.sizes(), [2, 2, 1]);
}

#[test]
#[should_panic(expected = "Linear: weight [2 x 3] and bias [2] do not fit")]
fn linear_refuses_a_bias_of_the_wrong_width() {
    Linear::from_tensors(Tensor::<f64>::zeros(Shape::matrix(2, 3)), Tensor::zeros(Shape::vector(2)));
}
