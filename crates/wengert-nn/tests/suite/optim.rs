//! One step (and a few) of each optimiser against values computed by hand, their state
//! saved and restored (shaped like the parameters, the step counter exact past 2^24, bad
//! state refused by name), clipping by global norm, initialisers' bounds and
//! reproducibility, and the MLP's forward pass and gradients against plain loops.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use wengert_nn::checkpoint::{Checkpoint, CheckpointError};
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
    let shapes = [Shape::vector(2)];
    let mut a = Adam::new(0.01_f64);
    let mut theta_a = [0.5, -0.25];
    a.begin_step();
    a.update(0, &mut theta_a, &[1.0, 2.0], 1.0);
    let mut state = Checkpoint::new();
    a.save_state(&shapes, &mut state);
    let mut b = Adam::new(0.01_f64);
    b.load_state(&state, &shapes).unwrap();
    assert_eq!(b.steps(), 1);
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
    let error = adam.load_state(&Checkpoint::new(), &[Shape::vector(3)]).unwrap_err();
    assert!(matches!(&error, CheckpointError::MissingTensor { name, .. } if name == "adam.step"), "{error:?}");
    assert_eq!(error.to_string(), "checkpoint <memory>: no tensor named `adam.step`");
}

#[test]
fn state_before_the_first_step_is_zeros_of_each_parameters_shape() {
    // Adam and momentum start from zero moments; a checkpoint taken before any step must
    // hold exactly those, shaped like the parameters, so that it restores like any other.
    let shapes = [Shape::matrix(3, 2), Shape::vector(2)];
    let mut state = Checkpoint::<f32>::new();
    Adam::new(0.1).save_state(&shapes, &mut state);
    Sgd::with_momentum(0.1, 0.9).save_state(&shapes, &mut state);
    for (name, shape) in [("adam.m.0", shapes[0]), ("adam.v.1", shapes[1]), ("sgd.velocity.0", shapes[0])] {
        let tensor = state.get(name).unwrap_or_else(|| panic!("{name} is missing"));
        assert_eq!(tensor.shape(), shape, "{name}");
        assert!(tensor.data().iter().all(|&x| x == 0.0), "{name}");
    }
    assert_eq!(state.counter("adam.step"), Some(0));
    assert_eq!(state.len(), 2 + 2 + 1 + 2);
    // Plain SGD keeps nothing.
    let mut plain = Checkpoint::<f32>::new();
    Sgd::new(0.1).save_state(&shapes, &mut plain);
    assert!(plain.is_empty());
}

#[test]
fn state_names_are_the_entries_save_state_writes() {
    let shapes = [Shape::matrix(4, 3), Shape::vector(3), Shape::matrix(3, 1), Shape::vector(1)];
    let optimizers: [Box<dyn Optimizer<f64>>; 3] =
        [Box::new(Adam::new(0.1)), Box::new(Sgd::new(0.1)), Box::new(Sgd::with_momentum(0.1, 0.9))];
    for optimizer in optimizers {
        let mut state = Checkpoint::new();
        optimizer.save_state(&shapes, &mut state);
        let mut names = optimizer.state_names(shapes.len());
        names.sort();
        assert_eq!(state.names().collect::<Vec<_>>(), names);
    }
}

#[test]
fn adam_step_counter_above_two_to_the_24_survives_exactly() -> Result<(), CheckpointError> {
    // 2^24 + 1 is the first whole number an f32 cannot hold (it rounds to 2^24), and 2^53 + 1
    // the first an f64 cannot; both must come back exact through a file.
    let dir = tempfile::tempdir().map_err(|source| CheckpointError::Io { path: "tempdir".into(), source })?;
    let shapes = [Shape::vector(1)];
    for step in [(1_u64 << 24) + 1, (1_u64 << 53) + 1, i64::MAX as u64] {
        let mut state = Checkpoint::<f32>::new();
        state.insert_counter("adam.step", step);
        state.insert("adam.m.0", Tensor::zeros(shapes[0]));
        state.insert("adam.v.0", Tensor::zeros(shapes[0]));
        let mut adam = Adam::<f32>::new(0.01);
        adam.load_state(&state, &shapes)?;
        assert_eq!(adam.steps(), step);
        let path = dir.path().join("adam.safetensors");
        let mut saved = Checkpoint::new();
        adam.save_state(&shapes, &mut saved);
        saved.save(&path)?;
        let loaded = Checkpoint::<f32>::load(&path)?;
        assert_eq!(loaded.counter("adam.step"), Some(step));
        let mut again = Adam::<f32>::new(0.01);
        again.load_state(&loaded, &shapes)?;
        assert_eq!(again.steps(), step);
        // One more step counts on from there, not from a rounded value.
        again.begin_step();
        assert_eq!(again.steps(), step + 1);
    }
    Ok(())
}

#[test]
fn adam_counts_two_to_the_24_plus_one_real_steps_and_saves_them_exactly() -> Result<(), CheckpointError> {
    let mut adam = Adam::<f32>::new(0.01);
    for _ in 0..(1_u64 << 24) + 1 {
        adam.begin_step();
    }
    let mut state = Checkpoint::new();
    adam.save_state(&[], &mut state);
    let bytes = state.to_bytes()?;
    let loaded = Checkpoint::<f32>::from_bytes(&bytes, "adam.safetensors")?;
    assert_eq!(loaded.counter("adam.step"), Some(16_777_217));
    // As an f32 it would have read back as 16,777,216.
    assert_eq!(16_777_217_f32 as u64, 16_777_216);
    Ok(())
}

#[test]
fn old_checkpoints_with_a_float_step_and_flat_moments_still_load() -> Result<(), CheckpointError> {
    // Before counters, `adam.step` was an f32 scalar and every buffer a flat vector.
    let shapes = [Shape::matrix(2, 3), Shape::vector(3)];
    let mut old = Checkpoint::<f32>::new();
    old.insert("adam.step", Tensor::scalar(300.0));
    for (index, shape) in shapes.iter().enumerate() {
        let values: Vec<f32> = (0..shape.numel()).map(|i| (index * 10 + i) as f32).collect();
        old.insert(format!("adam.m.{index}"), Tensor::new(Shape::vector(shape.numel()), values.clone()));
        old.insert(format!("adam.v.{index}"), Tensor::new(Shape::vector(shape.numel()), values));
    }
    let mut adam = Adam::new(0.01);
    adam.load_state(&old, &shapes)?;
    assert_eq!(adam.steps(), 300);
    let mut saved = Checkpoint::new();
    adam.save_state(&shapes, &mut saved);
    assert_eq!(saved.counter("adam.step"), Some(300));
    let m0 = saved.get("adam.m.0").map(|t| (t.shape(), t.data().to_vec()));
    assert_eq!(m0, Some((Shape::matrix(2, 3), vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0])));
    // A float step that is not a count is refused, naming it.
    old.insert("adam.step", Tensor::scalar(2.5));
    let error = Adam::new(0.01).load_state(&old, &shapes).unwrap_err();
    assert!(matches!(&error, CheckpointError::BadCounter { name, value, .. } if name == "adam.step" && value == "2.5"));
    Ok(())
}

#[test]
fn a_failed_load_leaves_the_optimiser_as_it_was() {
    let shapes = [Shape::vector(2)];
    let mut adam = Adam::new(0.1_f64);
    let mut theta = [1.0, 2.0];
    adam.begin_step();
    adam.update(0, &mut theta, &[0.5, -0.5], 1.0);
    let mut before = Checkpoint::new();
    adam.save_state(&shapes, &mut before);
    let mut broken = before.clone();
    broken.insert("adam.v.0", Tensor::zeros(Shape::vector(5)));
    broken.insert_counter("adam.step", 99);
    assert!(adam.load_state(&broken, &shapes).is_err());
    let mut after = Checkpoint::new();
    adam.save_state(&shapes, &mut after);
    assert_eq!(after.to_bytes().ok(), before.to_bytes().ok());
}

#[test]
fn plain_sgd_refuses_velocity_and_momentum_sgd_needs_it() {
    let shapes = [Shape::vector(2)];
    let mut with_velocity = Checkpoint::<f64>::new();
    Sgd::with_momentum(0.1, 0.9).save_state(&shapes, &mut with_velocity);
    let error = Sgd::new(0.1).load_state(&with_velocity, &shapes).unwrap_err();
    assert!(matches!(&error, CheckpointError::UnexpectedTensor { name, .. } if name == "sgd.velocity.0"), "{error:?}");
    let error = Sgd::with_momentum(0.1, 0.9).load_state(&Checkpoint::new(), &shapes).unwrap_err();
    assert!(matches!(&error, CheckpointError::MissingTensor { name, .. } if name == "sgd.velocity.0"), "{error:?}");
}

#[test]
fn adam_refuses_moments_for_a_parameter_the_model_lacks() {
    let shapes = [Shape::vector(2)];
    let mut state = Checkpoint::<f32>::new();
    Adam::new(0.1).save_state(&[Shape::vector(2), Shape::vector(4)], &mut state);
    let error = Adam::new(0.1).load_state(&state, &shapes).unwrap_err();
    assert!(matches!(&error, CheckpointError::UnexpectedTensor { name, .. } if name == "adam.m.1"), "{error:?}");
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
        norms: Vec::new(),
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
