//! The parsers of wengert-nn under fuzzing, each with the real inputs it mutates: the
//! project's shipped digits and MNIST data (`examples/data/`), an IDX pair and checkpoints
//! written by the library's own writers. The command-line flags are a target of the facade
//! package (they live in its examples); [`argv_samples`] gives their real inputs.

use super::{judge, Field, Run, Sample, Target};
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use wengert_nn::checkpoint::{Checkpoint, CheckpointError};
use wengert_nn::data::{load_csv, load_idx};
use wengert_nn::optim::{Adam, Optimizer, Sgd};
use wengert_nn::{Activation, Mlp};
use wengert_tape::Real;

// ---------------------------------------------------------------------------------------
// Files: the shipped data, a scratch directory, gzip.
// ---------------------------------------------------------------------------------------

/// `examples/data/` of the workspace, found above the including package's manifest.
fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|dir| dir.join("examples").join("data"))
        .find(|dir| dir.join("digits.csv.gz").is_file())
        .expect("examples/data/digits.csv.gz above the package")
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|error| panic!("read {}: {error}", path.display()))
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    MultiGzDecoder::new(bytes).read_to_end(&mut out).expect("a shipped gzip file decompresses");
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).expect("compress in memory");
    encoder.finish().expect("finish the gzip stream")
}

/// The first `n` lines of `text`, each with its line break.
fn first_lines(text: &[u8], n: usize) -> Vec<u8> {
    text.split_inclusive(|&b| b == b'\n').take(n).flatten().copied().collect()
}

/// How many bytes `bytes` decompresses to if it starts like gzip (as far as the stream
/// goes before an error), read through a small buffer: the size the parser has to hold.
fn gunzipped_len(bytes: &[u8]) -> usize {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return 0;
    }
    let mut decoder = MultiGzDecoder::new(bytes);
    let mut buffer = [0; 16 * 1024];
    let mut total = 0;
    while let Ok(n @ 1..) = decoder.read(&mut buffer) {
        total += n;
    }
    total
}

/// What a parser of `bytes` must be allowed to hold: the file, or what it decompresses to.
pub fn input_size(bytes: &[u8]) -> usize {
    bytes.len().max(gunzipped_len(bytes))
}

/// A directory of its own under the system's temporary directory, removed on drop.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let unique = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("wengert-fuzz-{}-{name}-{unique}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|error| panic!("create {}: {error}", dir.display()));
        Scratch(dir)
    }

    /// Writes `bytes` to `name` in the directory; returns the path.
    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).unwrap_or_else(|error| panic!("write {}: {error}", path.display()));
        path
    }
}

/// A file of one input, removed on drop. Each input gets a new file: rewriting one in place
/// truncates it, which ext4 follows with a flush on close, milliseconds per input.
pub struct Fresh(pub PathBuf);

impl Fresh {
    pub fn new(scratch: &Scratch, name: &str, bytes: &[u8]) -> Fresh {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let unique = NEXT.fetch_add(1, Ordering::Relaxed);
        Fresh(scratch.write(&format!("{unique}-{name}"), bytes))
    }
}

impl Drop for Fresh {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const GZIP_FIELDS: [Field; 4] = [
    Field { name: "gzip flags", offset: 3, from_end: false, width: 1, big_endian: false },
    Field::le32("gzip mtime", 4),
    Field::le32_from_end("gzip crc32", 8),
    Field::le32_from_end("gzip isize", 4),
];

const IDX_IMAGES_FIELDS: [Field; 4] =
    [Field::be32("magic", 0), Field::be32("count", 4), Field::be32("rows", 8), Field::be32("cols", 12)];

const IDX_LABELS_FIELDS: [Field; 2] = [Field::be32("magic", 0), Field::be32("count", 4)];

// ---------------------------------------------------------------------------------------
// CSV and CSV.gz.
// ---------------------------------------------------------------------------------------

/// The real CSV text the samples come from: the shipped digits (64 features, labels 0-9)
/// and the first rows of the shipped MNIST subset (784 features).
struct Shipped {
    digits_gz: Vec<u8>,
    digits: Vec<u8>,
    mnist_head: Vec<u8>,
}

fn shipped() -> Shipped {
    let dir = data_dir();
    let digits_gz = read(&dir.join("digits.csv.gz"));
    let digits = gunzip(&digits_gz);
    let mnist_head = first_lines(&gunzip(&read(&dir.join("mnist_5k.csv.gz"))), 12);
    Shipped { digits_gz, digits, mnist_head }
}

/// The first `rows` rows of the shipped digits, as CSV text.
pub fn digits_head(rows: usize) -> Vec<u8> {
    first_lines(&shipped().digits, rows)
}

/// `bytes` gzip-compressed.
pub fn gzipped(bytes: &[u8]) -> Vec<u8> {
    gzip(bytes)
}

/// Runs `load_csv` on `bytes` written to `file` in `scratch`.
fn csv_run(scratch: Scratch, file: &'static str) -> Run {
    Box::new(move |bytes| {
        let Fresh(path) = &Fresh::new(&scratch, file, bytes);
        let name = path.display().to_string();
        judge(input_size(bytes), &[&name], || load_csv(path, 10).map(drop).map_err(|e| e.to_string()))
    })
}

/// `load_csv` on plain CSV: 120 rows of the shipped digits, 12 rows of the shipped MNIST,
/// and a small file with CRLF line ends, spaces, a blank line and float labels.
pub fn csv() -> Target {
    let shipped = shipped();
    let samples = vec![
        Sample { name: "digits.csv (120 rows)", bytes: first_lines(&shipped.digits, 120), fields: vec![] },
        Sample { name: "mnist.csv (12 rows)", bytes: shipped.mnist_head, fields: vec![] },
        Sample { name: "crlf.csv", bytes: b"0, 16 ,1\r\n8,4,0.0\r\n\r\n3.5,-2,9\r\n".to_vec(), fields: vec![] },
    ];
    Target { name: "csv", samples, run: csv_run(Scratch::new("csv"), "input.csv") }
}

/// `load_csv` on gzip files: the shipped `digits.csv.gz` as it is, 120 of its rows
/// recompressed, and a two-member stream.
pub fn csv_gz() -> Target {
    let shipped = shipped();
    let head = first_lines(&shipped.digits, 120);
    let (first, second) = head.split_at(head.len() / 2);
    let two_members = [gzip(first), gzip(second)].concat();
    let samples = vec![
        Sample { name: "digits.csv.gz (shipped)", bytes: shipped.digits_gz, fields: GZIP_FIELDS.to_vec() },
        Sample { name: "digits.csv.gz (120 rows)", bytes: gzip(&head), fields: GZIP_FIELDS.to_vec() },
        Sample { name: "two-member.csv.gz", bytes: two_members, fields: GZIP_FIELDS.to_vec() },
    ];
    Target { name: "csv.gz", samples, run: csv_run(Scratch::new("csv-gz"), "input.csv.gz") }
}

// ---------------------------------------------------------------------------------------
// IDX.
// ---------------------------------------------------------------------------------------

/// An IDX pair of the first 100 shipped digits: 8 x 8 images of grey levels 0-16 (as the
/// CSV holds them) and their labels.
pub fn idx_pair() -> (Vec<u8>, Vec<u8>) {
    let digits = shipped().digits;
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for line in digits.split(|&b| b == b'\n').filter(|line| !line.is_empty()).take(100) {
        let cells: Vec<u8> = std::str::from_utf8(line)
            .expect("the shipped CSV is ASCII")
            .split(',')
            .map(|cell| cell.trim().parse().expect("the shipped CSV holds small whole numbers"))
            .collect();
        let (label, features) = cells.split_last().expect("a row has cells");
        pixels.extend_from_slice(features);
        labels.push(*label);
    }
    let count = (labels.len() as u32).to_be_bytes();
    let images = [&[0, 0, 8, 3][..], &count, &8_u32.to_be_bytes(), &8_u32.to_be_bytes(), &pixels].concat();
    let labels = [&[0, 0, 8, 1][..], &count, &labels].concat();
    (images, labels)
}

/// `load_idx` with the images file mutated and the labels file intact.
pub fn idx_images() -> Target {
    let (images, labels) = idx_pair();
    let scratch = Scratch::new("idx-images");
    let labels_path = scratch.write("labels.idx", &labels);
    let samples = vec![
        Sample { name: "images.idx", bytes: images.clone(), fields: IDX_IMAGES_FIELDS.to_vec() },
        Sample { name: "images.idx.gz", bytes: gzip(&images), fields: GZIP_FIELDS.to_vec() },
    ];
    let run = Box::new(move |bytes: &[u8]| {
        let Fresh(path) = &Fresh::new(&scratch, "images.idx", bytes);
        let names = [path.display().to_string(), labels_path.display().to_string()];
        let size = input_size(bytes) + labels.len();
        judge(size, &[&names[0], &names[1]], || load_idx(path, &labels_path, 10).map(drop).map_err(|e| e.to_string()))
    });
    Target { name: "idx-images", samples, run }
}

/// `load_idx` with the labels file mutated and the images file intact.
pub fn idx_labels() -> Target {
    let (images, labels) = idx_pair();
    let scratch = Scratch::new("idx-labels");
    let images_path = scratch.write("images.idx", &images);
    let samples = vec![
        Sample { name: "labels.idx", bytes: labels.clone(), fields: IDX_LABELS_FIELDS.to_vec() },
        Sample { name: "labels.idx.gz", bytes: gzip(&labels), fields: GZIP_FIELDS.to_vec() },
    ];
    let run = Box::new(move |bytes: &[u8]| {
        let Fresh(path) = &Fresh::new(&scratch, "labels.idx", bytes);
        let names = [images_path.display().to_string(), path.display().to_string()];
        let size = input_size(bytes) + images.len();
        judge(size, &[&names[0], &names[1]], || load_idx(&images_path, path, 10).map(drop).map_err(|e| e.to_string()))
    });
    Target { name: "idx-labels", samples, run }
}

// ---------------------------------------------------------------------------------------
// Checkpoints.
// ---------------------------------------------------------------------------------------

/// The sizes of the MLP whose checkpoints are fuzzed.
const SIZES: [usize; 3] = [12, 6, 3];

/// The model every checkpoint sample is made from, and restored into.
fn model<T: Real>() -> Mlp<T> {
    Mlp::new(&SIZES, Activation::Relu, &mut ChaCha8Rng::seed_from_u64(7))
}

/// A checkpoint as the trainer writes one: the parameters, the optimiser's state after two
/// steps, and the metadata; saved by [`Checkpoint::save`] and read back as bytes.
fn saved_checkpoint<T: Real>(optimizer: &mut dyn Optimizer<T>, scratch: &Scratch, file: &str) -> Vec<u8> {
    let mut model = model::<T>();
    for _ in 0..2 {
        optimizer.begin_step();
        for (index, parameter) in model.parameters_mut().enumerate() {
            let gradient: Vec<T> = parameter.data().iter().map(|&p| p * T::lit(0.5) - T::lit(0.1)).collect();
            optimizer.update(index, parameter.data_mut(), &gradient, T::one());
        }
    }
    let mut checkpoint = Checkpoint::from_training(&model, optimizer);
    checkpoint.set_metadata("format", "wengert-mlp-checkpoint-v1");
    checkpoint.set_metadata("epoch", 7);
    checkpoint.set_metadata("sizes", "12-6-3");
    let path = scratch.0.join(file);
    checkpoint.save(&path).expect("save a checkpoint");
    read(&path)
}

/// What a resumed run does with a loaded checkpoint: reads the epoch, and restores the model
/// and the optimiser named by the state it holds, checked end to end.
fn resume<T: Real>(checkpoint: &Checkpoint<T>) -> Result<(), String> {
    checkpoint.metadata_parse::<usize>("epoch").map_err(|e| e.to_string())?;
    let mut optimizer: Box<dyn Optimizer<T>> = if checkpoint.get("adam.m.0").is_some() {
        Box::new(Adam::new(T::lit(1e-3)))
    } else {
        Box::new(Sgd::with_momentum(T::lit(0.1), T::lit(0.9)))
    };
    checkpoint.restore_training(&mut model::<T>(), &mut *optimizer).map_err(|e| e.to_string())
}

/// `Checkpoint::from_bytes` as f32 and as f64, then the resume path on what loads.
pub fn checkpoint() -> Target {
    let scratch = Scratch::new("checkpoint");
    let samples = vec![
        Sample {
            name: "adam-f32.safetensors",
            bytes: saved_checkpoint::<f32>(&mut Adam::new(1e-3), &scratch, "adam-f32.safetensors"),
            fields: vec![Field::le64("header length", 0)],
        },
        Sample {
            name: "momentum-f64.safetensors",
            bytes: saved_checkpoint::<f64>(&mut Sgd::with_momentum(0.1, 0.9), &scratch, "momentum-f64.safetensors"),
            fields: vec![Field::le64("header length", 0)],
        },
    ];
    const ORIGIN: &str = "fuzzed.safetensors";
    let run = Box::new(|bytes: &[u8]| {
        judge(bytes.len(), &[ORIGIN], || {
            let as_f32 = Checkpoint::<f32>::from_bytes(bytes, ORIGIN);
            let as_f64 = Checkpoint::<f64>::from_bytes(bytes, ORIGIN);
            match (as_f32, as_f64) {
                (Ok(checkpoint), _) => resume(&checkpoint),
                (_, Ok(checkpoint)) => resume(&checkpoint),
                (Err(CheckpointError::DtypeMismatch { .. }), Err(error)) | (Err(error), Err(_)) => {
                    Err(error.to_string())
                }
            }
        })
    });
    Target { name: "checkpoint", samples, run }
}

// ---------------------------------------------------------------------------------------
// Command lines, for the facade package's flags target.
// ---------------------------------------------------------------------------------------

/// Real command lines of the `digits` and `mnist` examples, as bytes: the arguments joined
/// by NUL (which no argument can hold), so that a mutation may also split or join them.
pub fn argv_samples() -> Vec<Sample> {
    let lines: [(&'static str, &[&str]); 4] = [
        ("digits --help", &["digits", "--help"]),
        (
            "digits (every flag)",
            &[
                "digits",
                "--epochs",
                "30",
                "--batch-size",
                "32",
                "--lr",
                "0.001",
                "--hidden",
                "128,64",
                "--activation",
                "tanh",
                "--optimizer",
                "momentum",
                "--clip-norm",
                "1.5",
                "--seed",
                "7",
                "--out",
                "target/digits-run",
                "--resume",
                "--test-count",
                "360",
                "--layer-norm",
            ],
        ),
        (
            "mnist (IDX pair, = forms)",
            &["mnist", "--data=train-images.idx3-ubyte.gz,train-labels.idx1-ubyte.gz", "--epochs=5", "--lr=3e-4"],
        ),
        ("digits (CSV, short)", &["digits", "--data", "examples/data/digits.csv.gz", "--hidden", "64"]),
    ];
    lines.iter().map(|(name, argv)| Sample { name, bytes: argv.join("\0").into_bytes(), fields: vec![] }).collect()
}

/// The argument vector that `bytes` (arguments joined by NUL) stands for; on Unix an
/// argument may be any bytes, as the operating system allows.
pub fn argv_from_bytes(bytes: &[u8]) -> Vec<OsString> {
    bytes.split(|&b| b == 0).map(os_string).collect()
}

#[cfg(unix)]
fn os_string(bytes: &[u8]) -> OsString {
    use std::os::unix::ffi::OsStringExt;
    OsString::from_vec(bytes.to_vec())
}

#[cfg(not(unix))]
fn os_string(bytes: &[u8]) -> OsString {
    OsString::from(String::from_utf8_lossy(bytes).into_owned())
}

/// Sanity of the helpers above, independent of the parsers.
pub fn check_helpers() {
    assert_eq!(gunzipped_len(&gzip(b"abc")), 3);
    assert_eq!(gunzipped_len(&[gzip(b"ab"), gzip(b"cde")].concat()), 5);
    assert_eq!(gunzipped_len(b"abc"), 0);
    assert_eq!(argv_from_bytes(b"a\0--b\0\0c"), ["a", "--b", "", "c"]);
}
