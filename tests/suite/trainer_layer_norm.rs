//! The trainers' `--layer-norm`: the flag builds the MLP with a LayerNorm in each hidden
//! layer, the checkpoint records `layer_norm`, a resume with the other setting is a
//! `SettingMismatch` naming the field, and a checkpoint written before the flag existed
//! resumes as one trained without.

use crate::common::{build_model, resume, save_checkpoint, settings, Args, SettingMismatch};
use clap::Parser;
use rand::SeedableRng;
use std::error::Error;
use std::path::PathBuf;
use wengert::nn::checkpoint::Checkpoint;
use wengert::nn::optim::{Adam, Optimizer};
use wengert::nn::Mlp;
use wengert::Tensor;

const SIZES: [usize; 4] = [6, 5, 4, 3];

fn args(flags: &[&str]) -> Args {
    Args::try_parse_from(["mnist"].iter().chain(flags)).expect("valid flags")
}

fn model(args: &Args) -> Mlp<f32> {
    build_model(&SIZES, args, &mut rand_chacha::ChaCha8Rng::seed_from_u64(args.seed))
}

/// A fresh directory for one test's checkpoint.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("trainer_layer_norm").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the scratch directory");
    dir.join("checkpoint.safetensors")
}

/// Saves `model` and a stepped Adam as the trainer does after epoch 3, with `settings`.
fn save(path: &std::path::Path, model: &Mlp<f32>, settings: &[(&'static str, String)]) -> Adam<f32> {
    let mut adam = Adam::new(1e-3);
    adam.begin_step();
    save_checkpoint(path, model, &adam, "wengert-mlp-checkpoint-v2", 3, settings).expect("save the checkpoint");
    adam
}

#[test]
fn the_flag_puts_a_layer_norm_with_pytorchs_eps_in_each_hidden_layer() {
    let (plain, normed) = (model(&args(&[])), model(&args(&["--layer-norm"])));
    assert!(!plain.has_layer_norm());
    assert_eq!(normed.norms.iter().map(|n| n.features()).collect::<Vec<_>>(), [5, 4]);
    assert_eq!(normed.layer_norm_eps(), Some(1e-5));
    // The norms draw nothing: the weights are those of the run without the flag.
    assert_eq!(normed.layers, plain.layers);
    let recorded = |args: &Args| settings(&SIZES, args, 64, 1e-3).into_iter().find(|(key, _)| *key == "layer_norm");
    assert_eq!(recorded(&args(&["--layer-norm"])), Some(("layer_norm", "true".to_string())));
    assert_eq!(recorded(&args(&[])), Some(("layer_norm", "false".to_string())));
}

/// Resumes from `path` with `flags`, expecting a `SettingMismatch`.
fn mismatch(path: &std::path::Path, flags: &[&str]) -> SettingMismatch {
    let args = args(flags);
    let mut model = model(&args);
    let error: Box<dyn Error> = resume(path, &mut model, &mut Adam::new(1e-3), &settings(&SIZES, &args, 64, 1e-3))
        .expect_err("a resume with another setting");
    match error.downcast::<SettingMismatch>() {
        Ok(mismatch) => *mismatch,
        Err(other) => panic!("not a SettingMismatch: {other}"),
    }
}

#[test]
fn resuming_with_the_other_layer_norm_setting_is_a_mismatch_naming_the_field() {
    let path = scratch("mismatch");
    let trained = args(&["--layer-norm"]);
    save(&path, &model(&trained), &settings(&SIZES, &trained, 64, 1e-3));
    let error = mismatch(&path, &[]);
    assert_eq!((error.key, error.stored.as_str(), error.asked.as_str()), ("layer_norm", "true", "false"));
    assert_eq!(
        error.to_string(),
        format!("{}: the checkpoint was trained with layer_norm = true, this run asks for false", path.display())
    );

    let trained = args(&[]);
    save(&path, &model(&trained), &settings(&SIZES, &trained, 64, 1e-3));
    let error = mismatch(&path, &["--layer-norm"]);
    assert_eq!((error.key, error.stored.as_str(), error.asked.as_str()), ("layer_norm", "false", "true"));
}

#[test]
fn a_checkpoint_from_before_the_flag_resumes_as_one_without_layer_norm() {
    let path = scratch("before");
    let plain = args(&[]);
    let older: Vec<_> =
        settings(&SIZES, &plain, 64, 1e-3).into_iter().filter(|(key, _)| *key != "layer_norm").collect();
    let trained = model(&plain);
    save(&path, &trained, &older);
    assert_eq!(Checkpoint::<f32>::load(&path).expect("load").metadata("layer_norm"), None);

    let mut resumed = build_model(&SIZES, &plain, &mut rand_chacha::ChaCha8Rng::seed_from_u64(99));
    let epoch = resume(&path, &mut resumed, &mut Adam::new(1e-3), &settings(&SIZES, &plain, 64, 1e-3))
        .expect("an old checkpoint resumes without --layer-norm");
    assert_eq!((epoch, &resumed), (3, &trained));
    let error = mismatch(&path, &["--layer-norm"]);
    assert_eq!((error.key, error.stored.as_str()), ("layer_norm", "false"));
}

#[test]
fn a_layer_norm_checkpoint_resumes_gamma_beta_and_adam() {
    let path = scratch("resume");
    let flags = args(&["--layer-norm"]);
    let mut trained = model(&flags);
    trained.norms[1].gamma = Tensor::from_slice(&[0.5, 1.5, 2.0, 0.25]);
    trained.norms[0].beta = Tensor::from_slice(&[0.1, -0.2, 0.3, -0.4, 0.5]);
    let adam = save(&path, &trained, &settings(&SIZES, &flags, 64, 1e-3));

    let mut resumed = model(&flags);
    let mut resumed_adam = Adam::new(1e-3);
    let epoch =
        resume(&path, &mut resumed, &mut resumed_adam, &settings(&SIZES, &flags, 64, 1e-3)).expect("the same settings");
    assert_eq!((epoch, &resumed), (3, &trained));
    assert_eq!(resumed_adam.steps(), adam.steps());
}
