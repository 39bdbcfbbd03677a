//! Broadcasting at any rank, by numpy's rules: shapes are aligned at their last dimension,
//! a missing leading dimension counts as 1, and each pair of dimensions is equal or one of
//! them is 1. The binary ops and `where` read their inputs through these strides, and
//! `permute` walks its input through [`strided`].

use crate::Shape;

const R: usize = Shape::MAX_RANK;

/// The broadcast of `shapes`, or `None` if two of them disagree along a dimension. The
/// result has the largest rank among them.
///
/// ```text
/// [2 x 1 x 4] with [3 x 1]  ->  [2 x 3 x 4]
/// [5] with [2 x 1]          ->  [2 x 5]
/// ```
pub(crate) fn broadcast_shape(shapes: &[Shape]) -> Option<Shape> {
    let rank = shapes.iter().map(|s| s.rank()).max().unwrap_or(0);
    if rank <= 2 {
        return broadcast_up_to_matrices(shapes, rank);
    }
    let mut dims = [1usize; R];
    for s in shapes {
        let d = s.dims();
        let skip = rank - d.len();
        for (out, &x) in dims[skip..rank].iter_mut().zip(d.iter()) {
            *out = join(*out, x)?;
        }
    }
    Some(Shape::new(&dims[..rank]))
}

/// The rank <= 2 case without reading the interned table: rows and columns joined.
fn broadcast_up_to_matrices(shapes: &[Shape], rank: usize) -> Option<Shape> {
    let (mut rows, mut cols) = (1, 1);
    for s in shapes {
        (rows, cols) = (join(rows, s.rows())?, join(cols, s.cols())?);
    }
    Some(match rank {
        0 => Shape::scalar(),
        1 => Shape::vector(cols),
        _ => Shape::matrix(rows, cols),
    })
}

/// Two dimensions joined: equal, or one of them 1.
fn join(x: usize, y: usize) -> Option<usize> {
    if x == y || y == 1 {
        Some(x)
    } else if x == 1 {
        Some(y)
    } else {
        None
    }
}

/// The step in `input`'s row-major data along each dimension of `out` (its broadcast), 0
/// along a dimension `input` is broadcast along or does not have. `out`'s rank entries.
pub(crate) fn strides_in(input: Shape, out: Shape) -> [usize; R] {
    let (d, o) = (input.dims(), out.dims());
    let mut strides = [0usize; R];
    let skip = o.len() - d.len();
    let mut step = 1;
    for axis in (0..d.len()).rev() {
        if d[axis] == o[skip + axis] && d[axis] > 1 {
            strides[skip + axis] = step;
        }
        step *= d[axis];
    }
    strides
}

/// For each element of `out`, in row-major order, where each of `inputs` reads it.
pub(crate) fn positions<const N: usize>(inputs: [Shape; N], out: Shape) -> Positions<N> {
    strided(&out.dims(), inputs.map(|s| strides_in(s, out)))
}

/// For each element of an array of dimensions `dims`, in row-major order, the offset
/// `sum_axis index[axis] * strides[k][axis]` for each of the `N` stride lists.
pub(crate) fn strided<const N: usize>(dims: &[usize], strides: [[usize; R]; N]) -> Positions<N> {
    let mut shape = [0usize; R];
    shape[..dims.len()].copy_from_slice(dims);
    Positions { rank: dims.len(), dims: shape, strides, index: [0; R], at: [0; N], left: dims.iter().product() }
}

/// The iterator of [`positions`]: an odometer over the output's dimensions.
pub(crate) struct Positions<const N: usize> {
    rank: usize,
    dims: [usize; R],
    strides: [[usize; R]; N],
    index: [usize; R],
    at: [usize; N],
    left: usize,
}

impl<const N: usize> Iterator for Positions<N> {
    type Item = [usize; N];

    #[inline]
    fn next(&mut self) -> Option<[usize; N]> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let current = self.at;
        // Advance the last dimension, carrying into the ones before it.
        for axis in (0..self.rank).rev() {
            self.index[axis] += 1;
            for (at, strides) in self.at.iter_mut().zip(&self.strides) {
                *at += strides[axis];
            }
            if self.index[axis] < self.dims[axis] {
                break;
            }
            for (at, strides) in self.at.iter_mut().zip(&self.strides) {
                *at -= strides[axis] * self.dims[axis];
            }
            self.index[axis] = 0;
        }
        Some(current)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

/// A broadcast with its axes collapsed: axes of size 1 dropped, and each axis merged into
/// the next where every input steps through both as through one (contiguous in both, or
/// broadcast along both), so that `[n x c x h x w] + [1 x c x 1 x 1]` walks as `[n x c x (h
/// w)]`. At least rank 1.
pub(crate) struct Collapsed<const N: usize> {
    pub rank: usize,
    pub dims: [usize; R],
    pub strides: [[usize; R]; N],
}

/// The collapsed form of reading `inputs` through their broadcast `out`.
pub(crate) fn collapse<const N: usize>(inputs: [Shape; N], out: Shape) -> Collapsed<N> {
    let (d, full) = (out.dims(), inputs.map(|s| strides_in(s, out)));
    let mut c = Collapsed { rank: 0, dims: [1; R], strides: [[0; R]; N] };
    for axis in 0..d.len() {
        if d[axis] == 1 {
            continue;
        }
        let merges = c.rank > 0 && (0..N).all(|k| c.strides[k][c.rank - 1] == full[k][axis] * d[axis]);
        if !merges {
            c.rank += 1;
            c.dims[c.rank - 1] = 1;
        }
        c.dims[c.rank - 1] *= d[axis];
        for (strides, input) in c.strides.iter_mut().zip(&full) {
            strides[c.rank - 1] = input[axis];
        }
    }
    c.rank = c.rank.max(1);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_broadcast_by_numpys_rules_at_any_rank() {
        let s = |d: &[usize]| Shape::new(d);
        assert_eq!(broadcast_shape(&[s(&[2, 1, 4]), s(&[3, 1])]), Some(s(&[2, 3, 4])));
        assert_eq!(broadcast_shape(&[s(&[5]), s(&[2, 1])]), Some(s(&[2, 5])));
        assert_eq!(broadcast_shape(&[s(&[]), s(&[2, 3, 1, 1])]), Some(s(&[2, 3, 1, 1])));
        assert_eq!(broadcast_shape(&[s(&[2, 3, 4]), s(&[2, 4])]), None);
        assert_eq!(broadcast_shape(&[s(&[2, 3]), s(&[3, 2])]), None);
    }

    #[test]
    fn a_channel_bias_collapses_to_three_axes_and_a_row_to_two() {
        let s = |d: &[usize]| Shape::new(d);
        let c = collapse([s(&[4, 3, 5, 6]), s(&[1, 3, 1, 1])], s(&[4, 3, 5, 6]));
        assert_eq!((c.rank, &c.dims[..3]), (3, &[4, 3, 30][..]));
        assert_eq!((&c.strides[0][..3], &c.strides[1][..3]), (&[90, 30, 1][..], &[0, 1, 0][..]));
        let c = collapse([s(&[2, 3, 4]), s(&[4])], s(&[2, 3, 4]));
        assert_eq!((c.rank, &c.dims[..2], &c.strides[1][..2]), (2, &[6, 4][..], &[0, 1][..]));
        let c = collapse([s(&[2, 3, 4]), s(&[2, 3, 4])], s(&[2, 3, 4]));
        assert_eq!((c.rank, c.dims[0]), (1, 24));
    }

    #[test]
    fn positions_read_each_input_where_numpy_would() {
        // out[i][j][k] = a[i][0][k] + b[j][0]: written out by hand.
        let (a, b) = (Shape::new(&[2, 1, 3]), Shape::new(&[4, 1]));
        let out = broadcast_shape(&[a, b]).unwrap();
        assert_eq!(out.dims(), [2, 4, 3]);
        let mut expected = Vec::new();
        for i in 0..2 {
            for j in 0..4 {
                for k in 0..3 {
                    expected.push([i * 3 + k, j]);
                }
            }
        }
        assert_eq!(positions([a, b], out).collect::<Vec<_>>(), expected);
        // A scalar output has one position.
        assert_eq!(positions([Shape::scalar()], Shape::scalar()).collect::<Vec<_>>(), vec![[0]]);
    }
}
