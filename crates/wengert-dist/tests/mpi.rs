//! The MPI jobs, run as `mpirun -np 2` (or two programs, one rank each) on the probe binary,
//! with Open MPI's TCP transport forced over the loopback interface so that the network
//! path is exercised. Every job has a time limit: a hang fails the test.

use rand::SeedableRng;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use wengert_dist::{parameter_hash, synthetic};
use wengert_nn::optim::Adam;
use wengert_nn::train::{fit, TrainConfig};
use wengert_nn::{Activation, Mlp};

const PROBE: &str = env!("CARGO_BIN_EXE_wengert-dist-probe");

/// A job's time limit: the jobs take about a second; a hang takes forever.
const LIMIT: Duration = Duration::from_secs(60);

/// `mpirun` over loopback TCP with `apps`, each `(ranks, probe arguments)`, Open MPI's
/// colon-separated form when there are several; waits at most [`LIMIT`].
fn mpirun(apps: &[(usize, &[&str])]) -> Output {
    let mut command = Command::new("mpirun");
    // Root may run the jobs (as in CI); harmless for anyone else.
    command.env("OMPI_ALLOW_RUN_AS_ROOT", "1").env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    command.args(["--oversubscribe", "--mca", "btl", "tcp,self", "--mca", "btl_tcp_if_include", "lo"]);
    for (index, (ranks, args)) in apps.iter().enumerate() {
        if index > 0 {
            command.arg(":");
        }
        command.arg("-np").arg(ranks.to_string()).arg(PROBE).args(*args);
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mpirun starts (install openmpi-bin: crates/wengert-dist/ci.sh)");
    let started = Instant::now();
    while child.try_wait().expect("waiting for mpirun").is_none() {
        if started.elapsed() > LIMIT {
            child.kill().expect("mpirun can be killed");
            let output = child.wait_with_output().expect("mpirun's output");
            panic!("mpirun {apps:?} hung for {LIMIT:?}; stderr:\n{}", String::from_utf8_lossy(&output.stderr));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("mpirun's output")
}

/// Runs a job that must succeed; returns its standard output.
fn succeeds(apps: &[(usize, &[&str])]) -> String {
    let output = mpirun(apps);
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "mpirun {apps:?} failed: {}\nstdout:\n{stdout}\nstderr:\n{stderr}", output.status);
    stdout.into_owned()
}

/// The parameter hash each rank printed (`rank R of P: parameters HASH after epoch E`), by rank.
fn hashes(stdout: &str) -> Vec<(usize, String)> {
    let mut found: Vec<(usize, String)> = stdout
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("rank ")?;
            let (rank, rest) = rest.split_once(" of ")?;
            let hash = rest.split_once(": parameters ")?.1.split_whitespace().next()?;
            Some((rank.parse().ok()?, hash.to_string()))
        })
        .collect();
    found.sort();
    found
}

/// The one hash every rank printed, after checking that `ranks` ranks printed the same.
fn common_hash(stdout: &str, ranks: usize) -> String {
    let found = hashes(stdout);
    assert_eq!(found.len(), ranks, "expected {ranks} ranks' hashes in:\n{stdout}");
    assert!(found.iter().all(|(_, hash)| *hash == found[0].1), "the ranks' parameters differ:\n{stdout}");
    found[0].1.clone()
}

#[test]
fn two_ranks_hold_bit_identical_parameters_after_training() {
    // Two local workers per rank and dropout: every part of a step that could differ.
    let args = ["train", "--epochs", "3", "--workers", "2", "--dropout", "0.2"];
    let after_three = common_hash(&succeeds(&[(2, &args)]), 2);
    let after_one =
        common_hash(&succeeds(&[(2, &["train", "--epochs", "1", "--workers", "2", "--dropout", "0.2"])]), 2);
    assert_ne!(after_three, after_one, "training moved the parameters");
}

#[test]
fn three_ranks_with_unequal_shares_hold_bit_identical_parameters() {
    // 512 rows in shards of 171, 171 and 170; a global batch of 31 in local batches of 11, 10, 10.
    let stdout = succeeds(&[(3, &["train", "--epochs", "2", "--batch", "31"])]);
    common_hash(&stdout, 3);
}

#[test]
fn one_rank_trains_as_wengert_nn_fit_does_bit_for_bit() {
    let probe = common_hash(&succeeds(&[(1, &["train", "--epochs", "2", "--dropout", "0.1"])]), 1);
    // The probe's defaults, trained by the one-process loop in this process.
    let data = synthetic::blobs(512, 8, 3, 1);
    let mut model = Mlp::<f32>::new(&[8, 16, 3], Activation::Relu, &mut rand_chacha::ChaCha8Rng::seed_from_u64(1));
    let config = TrainConfig {
        epochs: 2,
        batch_size: 32,
        seed: 1,
        progress: false,
        dropout: 0.1,
        workers: 1,
        ..Default::default()
    };
    fit(&mut model, &mut Adam::new(0.01), &data, &data, &config, 1, |_, _, _| {});
    assert_eq!(probe, format!("{:016x}", parameter_hash(&model)));
}

#[test]
fn allreduced_gradient_equals_the_sum_computed_in_one_process() {
    let rows = 96;
    let stdout = succeeds(&[(2, &["allreduce", "--rows", "96", "--hidden", "16,8"])]);
    let line = stdout.lines().find(|line| line.starts_with("allreduce of")).expect("the allreduce line");
    let number = |label: &str| -> f32 {
        let rest = line.split_once(label).unwrap_or_else(|| panic!("`{label}` in {line}")).1;
        rest.split([',', ' ']).find(|word| !word.is_empty()).and_then(|word| word.parse().ok()).expect("a number")
    };
    let (against_sum, against_full, largest) = (number("one-process sum "), number("full batch "), number("largest "));
    // Two ranks: one addition a + b, the same on every rank and in the one-process sum.
    assert_eq!(against_sum, 0.0, "{line}");
    // Against one tape: the sums over rows regrouped, within N roundoffs of the largest.
    assert!(largest > 0.0 && against_full <= rows as f32 * f32::EPSILON * largest, "{line}");
}

#[test]
fn a_rank_with_another_model_size_ends_the_job_with_an_error() {
    let output = mpirun(&[(1, &["train", "--hidden", "8"]), (1, &["train", "--hidden", "9"])]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "the job should fail");
    assert!(
        stderr.contains("the ranks were given different configurations: sizes is 8-8-3 on rank 0 and 8-9-3 on rank 1"),
        "stderr:\n{stderr}"
    );
    assert!(hashes(&String::from_utf8_lossy(&output.stdout)).is_empty(), "no rank trained");
}

#[test]
fn a_rank_that_dies_ends_the_job() {
    let output = mpirun(&[(2, &["train", "--epochs", "3", "--die-rank", "1", "--die-after-epoch", "1"])]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "the job should fail");
    assert!(stderr.contains("rank 1 leaves after epoch 1"), "stderr:\n{stderr}");
    assert!(hashes(&String::from_utf8_lossy(&output.stdout)).is_empty(), "no rank finished");
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries.map(|entry| entry.expect("a directory entry").file_name().into_string().expect("UTF-8")).collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn only_rank_0_writes_the_checkpoint_and_a_resumed_run_matches_an_unbroken_one() {
    let temp = tempfile::tempdir().expect("a temporary directory");
    let (root_dir, other_dir) = (temp.path().join("rank0"), temp.path().join("rank1"));
    let (root_out, other_out) = (root_dir.to_str().expect("UTF-8"), other_dir.to_str().expect("UTF-8"));
    // Each rank is told its own --out: the checkpoint must appear in rank 0's only.
    succeeds(&[
        (1, &["train", "--epochs", "1", "--out", root_out]),
        (1, &["train", "--epochs", "1", "--out", other_out]),
    ]);
    assert_eq!(files_in(&root_dir), ["checkpoint.safetensors"], "rank 0 wrote it, atomically (no temporary left)");
    assert!(!other_dir.exists(), "rank 1 wrote nothing");

    // Resumed: rank 1 has no file, and restarts from what rank 0 reads.
    let resumed = succeeds(&[
        (1, &["train", "--epochs", "3", "--out", root_out, "--resume"]),
        (1, &["train", "--epochs", "3", "--out", other_out, "--resume"]),
    ]);
    let unbroken = succeeds(&[(2, &["train", "--epochs", "3"])]);
    assert!(!resumed.contains("epoch 1:"), "the resumed run starts at epoch 2:\n{resumed}");
    assert_eq!(common_hash(&resumed, 2), common_hash(&unbroken, 2));
}

#[test]
fn resuming_with_another_learning_rate_is_refused_on_every_rank() {
    let temp = tempfile::tempdir().expect("a temporary directory");
    let out = temp.path().to_str().expect("UTF-8");
    succeeds(&[(2, &["train", "--epochs", "1", "--out", out])]);
    let output = mpirun(&[(2, &["train", "--epochs", "2", "--out", out, "--resume", "--lr", "0.5"])]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "the job should fail");
    assert!(stderr.contains("the checkpoint was trained with lr = 0.01, this run asks for 0.5"), "stderr:\n{stderr}");
}
