//! The check at the start of a job that every rank was given the same configuration.

use crate::{Dist, DistError};

/// Where a rank's configuration first differs from rank 0's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigDifference {
    /// The field (the first that differs, in rank 0's order, then the other rank's).
    pub key: String,
    /// The first rank that differs.
    pub rank: usize,
    /// Rank 0's value, `(absent)` if it has no such field.
    pub root: String,
    /// The other rank's value, `(absent)` if it has no such field.
    pub other: String,
}

/// One field per line, `key=value`, newlines in values escaped: what each rank sends.
fn encode(fields: &[(&str, String)]) -> String {
    fields.iter().map(|(key, value)| format!("{key}={}\n", value.replace('\n', "\\n"))).collect()
}

fn decode(text: &str) -> Vec<(&str, &str)> {
    text.lines().map(|line| line.split_once('=').unwrap_or((line, ""))).collect()
}

/// Compares every rank's configuration (as [`check_same_config`] encodes it: a `key=value`
/// line per field, `texts[r]` from rank `r`) with rank 0's; returns the first difference.
///
/// # Examples
///
/// ```
/// use wengert_dist::first_difference;
/// let same = ["sizes=4-8-2\nlr=0.1\n".to_string(), "sizes=4-8-2\nlr=0.1\n".to_string()];
/// assert_eq!(first_difference(&same), None);
/// let other = ["sizes=4-8-2\nlr=0.1\n".to_string(), "sizes=4-8-2\nlr=0.2\n".to_string()];
/// let difference = first_difference(&other).expect("lr differs");
/// assert_eq!((difference.key.as_str(), difference.rank), ("lr", 1));
/// assert_eq!((difference.root.as_str(), difference.other.as_str()), ("0.1", "0.2"));
/// let missing = ["sizes=4-8-2\n".to_string(), "sizes=4-8-2\nlr=0.2\n".to_string()];
/// assert_eq!(first_difference(&missing).expect("lr is new").root, "(absent)");
/// ```
pub fn first_difference(texts: &[String]) -> Option<ConfigDifference> {
    let root = decode(texts.first()?);
    let value = |fields: &[(&str, &str)], key: &str| {
        fields.iter().find(|(k, _)| *k == key).map_or_else(|| "(absent)".to_string(), |(_, v)| v.to_string())
    };
    texts.iter().enumerate().skip(1).find_map(|(rank, text)| {
        let fields = decode(text);
        let keys = root.iter().chain(&fields).map(|(key, _)| *key);
        keys.map(|key| (key, value(&root, key), value(&fields, key)))
            .find(|(_, a, b)| a != b)
            .map(|(key, root, other)| ConfigDifference { key: key.to_string(), rank, root, other })
    })
}

/// Checks that every rank was started with the same `fields` (the model's layer sizes,
/// parameter count, global batch, learning rate, optimiser, data rows, ...): every rank
/// sends its fields to every other (an allgather of a few hundred bytes), and every rank
/// compares them with rank 0's, so all ranks reach the same verdict and can stop together.
/// Call it before any collective whose buffers depend on the configuration.
///
/// # Errors
///
/// [`DistError::ConfigMismatch`] naming the first field that differs, rank 0's value, and
/// the first differing rank's value (on every rank).
///
/// # Examples
///
/// ```no_run
/// use wengert_dist::{check_same_config, Dist};
/// let dist = Dist::init()?;
/// let fields = [("sizes", "784-256-128-10".to_string()), ("batch", 64.to_string())];
/// if let Err(error) = check_same_config(&dist, &fields) {
///     if dist.is_root() {
///         eprintln!("error: {error}");
///     }
///     std::process::exit(1); // every rank: mpirun then ends the job with a failure
/// }
/// # Ok::<(), wengert_dist::DistError>(())
/// ```
pub fn check_same_config(dist: &Dist, fields: &[(&str, String)]) -> Result<(), DistError> {
    let texts = dist.all_gather_text(&encode(fields));
    match first_difference(&texts) {
        None => Ok(()),
        Some(ConfigDifference { key, rank, root, other }) => Err(DistError::ConfigMismatch { key, rank, root, other }),
    }
}
