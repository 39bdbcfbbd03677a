//! Tape statistics: how many nodes of each op a tape holds, and the memory of its arenas,
//! used and reserved.

use crate::ops::node_op_name;
use crate::tape::Node;
use crate::{Real, Tape};
use std::fmt;
use std::mem::size_of;

/// What a tape holds: nodes by op, and the bytes of each arena, used and reserved.
///
/// "Used" counts the elements recorded since the last [`Tape::clear`]; "reserved" counts
/// the capacity the buffers keep across `clear`, which is what a training loop's steady
/// state costs.
///
/// # Examples
///
/// ```
/// use wengert_tape::Tape;
/// let tape = Tape::<f64>::new();
/// let w = tape.var(2.0);
/// let _ = (w * w).exp() * w;
/// let stats = tape.stats();
/// assert_eq!(stats.nodes, 4);
/// assert_eq!(stats.by_op, [("mul", 2), ("exp", 1), ("var", 1)]);
/// // Four values, and the local partials of the two products (two each) and of exp.
/// assert_eq!(stats.value_bytes, (4 + 5) * 8);
/// assert!(stats.to_string().contains("mul"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TapeStats {
    /// The element type, `"f32"` or `"f64"`.
    pub element_type: &'static str,
    /// The number of nodes.
    pub nodes: usize,
    /// Nodes by op name (custom ops by their own name), most frequent first, ties by name.
    pub by_op: Vec<(&'static str, usize)>,
    /// The size of one node record, in bytes.
    pub node_size: usize,
    /// `nodes * node_size`.
    pub node_bytes: usize,
    /// Bytes reserved for node records: the node buffer's capacity times `node_size`.
    pub node_capacity_bytes: usize,
    /// Elements in the value arena: every node's value, plus what some ops keep beside it (the
    /// fused softmax cross-entropy stores its probabilities after its value, an op of a
    /// number its number, and a one-element elementwise node that needs an adjoint its local
    /// partial derivatives, one per input, before its value).
    pub value_elements: usize,
    /// `value_elements * size_of::<T>()`.
    pub value_bytes: usize,
    /// Bytes reserved for values.
    pub value_capacity_bytes: usize,
    /// Elements a sweep's adjoint arena needs: the sum of the sizes of the nodes that need
    /// an adjoint.
    pub adjoint_elements: usize,
    /// `adjoint_elements * size_of::<T>()`.
    pub adjoint_bytes: usize,
    /// Bytes of the adjoint buffer the tape keeps for the next sweep. While a
    /// [`crate::Gradients`] is alive it holds that buffer, and this counts only what is left.
    pub adjoint_capacity_bytes: usize,
    /// Bytes of the indices ops keep: the class labels of the fused softmax cross-entropy,
    /// the ranges of slices, the rows of `gather_rows`.
    pub label_bytes: usize,
    /// Bytes reserved for labels.
    pub label_capacity_bytes: usize,
}

impl TapeStats {
    /// The number of nodes of the op named `op` (0 if there are none).
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f32>::new();
    /// let x = tape.var(1.0);
    /// let _ = x.tanh().tanh();
    /// assert_eq!(tape.stats().count("tanh"), 2);
    /// assert_eq!(tape.stats().count("relu"), 0);
    /// ```
    pub fn count(&self, op: &str) -> usize {
        self.by_op.iter().find(|(name, _)| *name == op).map_or(0, |&(_, count)| count)
    }

    /// Bytes in use: nodes, values, adjoints and labels.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let _ = tape.var(1.0).exp();
    /// let stats = tape.stats();
    /// // Two nodes, two values and exp's local partial, two adjoints, no labels.
    /// assert_eq!(stats.total_bytes(), 2 * stats.node_size + 3 * 8 + 2 * 8);
    /// ```
    pub fn total_bytes(&self) -> usize {
        self.node_bytes + self.value_bytes + self.adjoint_bytes + self.label_bytes
    }

    /// Bytes reserved by the tape's buffers.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::with_capacity(16, 64);
    /// let stats = tape.stats();
    /// assert!(stats.total_capacity_bytes() >= 16 * stats.node_size + 64 * 8);
    /// ```
    pub fn total_capacity_bytes(&self) -> usize {
        self.node_capacity_bytes + self.value_capacity_bytes + self.adjoint_capacity_bytes + self.label_capacity_bytes
    }
}

/// `1023 B`, `1.5 KiB`, `12.0 MiB`.
fn bytes(n: usize) -> String {
    const UNITS: [&str; 3] = ["KiB", "MiB", "GiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

impl fmt::Display for TapeStats {
    /// Two small tables: nodes by op, then the arenas.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let _ = tape.var(1.0).exp();
    /// let text = tape.stats().to_string();
    /// assert!(text.starts_with("tape (f64): 2 nodes"));
    /// assert!(text.contains("values"));
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "tape ({}): {} nodes", self.element_type, self.nodes)?;
        let width = self.by_op.iter().map(|(name, _)| name.len()).max().unwrap_or(0).max("op".len());
        writeln!(f, "  {:<width$}  {:>8}", "op", "nodes")?;
        for (name, count) in &self.by_op {
            writeln!(f, "  {name:<width$}  {count:>8}")?;
        }
        writeln!(f, "  {:<8}  {:>10}  {:>10}  {:>10}", "arena", "elements", "used", "reserved")?;
        let size = |bytes: usize, element: usize| bytes.checked_div(element).unwrap_or(0);
        let rows = [
            ("nodes", self.nodes, self.node_bytes, self.node_capacity_bytes),
            ("values", self.value_elements, self.value_bytes, self.value_capacity_bytes),
            ("adjoints", self.adjoint_elements, self.adjoint_bytes, self.adjoint_capacity_bytes),
            ("labels", size(self.label_bytes, size_of::<usize>()), self.label_bytes, self.label_capacity_bytes),
        ];
        for (name, elements, used, reserved) in rows {
            writeln!(f, "  {name:<8}  {elements:>10}  {:>10}  {:>10}", bytes(used), bytes(reserved))?;
        }
        writeln!(
            f,
            "  {:<8}  {:>10}  {:>10}  {:>10}",
            "total",
            "",
            bytes(self.total_bytes()),
            bytes(self.total_capacity_bytes())
        )
    }
}

impl<T: Real> Tape<T> {
    /// Counts the nodes by op and measures the arenas: see [`TapeStats`].
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor};
    /// let tape = Tape::<f32>::new();
    /// let z = tape.var(&Tensor::from_rows(&[[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]));
    /// let _ = z.softmax_cross_entropy(&[2, 0]);
    /// let stats = tape.stats();
    /// assert_eq!(stats.by_op, [("softmax_cross_entropy", 1), ("var", 1)]);
    /// // z's 6 values, the loss, and the loss's 6 saved probabilities.
    /// assert_eq!(stats.value_elements, 13);
    /// assert_eq!(stats.value_bytes, 13 * 4);
    /// assert_eq!(stats.label_bytes, 2 * std::mem::size_of::<usize>());
    /// ```
    pub fn stats(&self) -> TapeStats {
        let recording = self.recording.borrow();
        let mut by_op: Vec<(&'static str, usize)> = Vec::new();
        for node in &recording.nodes {
            let name = node_op_name(node, &recording.custom_ops);
            match by_op.iter_mut().find(|(known, _)| *known == name) {
                Some((_, count)) => *count += 1,
                None => by_op.push((name, 1)),
            }
        }
        by_op.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let node_size = size_of::<Node>();
        let element = size_of::<T>();
        TapeStats {
            element_type: T::NAME,
            nodes: recording.nodes.len(),
            by_op,
            node_size,
            node_bytes: recording.nodes.len() * node_size,
            node_capacity_bytes: recording.nodes.capacity() * node_size,
            value_elements: recording.values.len(),
            value_bytes: recording.values.len() * element,
            value_capacity_bytes: recording.values.capacity() * element,
            adjoint_elements: recording.adjoint_len,
            adjoint_bytes: recording.adjoint_len * element,
            adjoint_capacity_bytes: recording.adjoint_pool.capacity() * element,
            label_bytes: recording.indices.len() * size_of::<usize>(),
            label_capacity_bytes: recording.indices.capacity() * size_of::<usize>(),
        }
    }
}
