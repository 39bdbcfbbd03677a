//! The hand-written lowering of the convolution races, written here apart from the engine's:
//! im2col, its adjoint col2im, and a max-pool that keeps each window's arg-max for the
//! backward pass. Stride 1 and square kernels for the convolution, a square kernel moved by
//! its own size for the pool: the geometries of the LeNet.

/// A stride-1 convolution of one image `[c x h x w]` with `o` filters `[c x k x k]` over the
/// input padded with `pad` zeros on each side: `[o x oh x ow]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeometry {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub o: usize,
    pub k: usize,
    pub pad: usize,
    pub oh: usize,
    pub ow: usize,
}

impl ConvGeometry {
    /// The geometry of `o` filters `k x k` over a `[c x h x w]` image padded by `pad`.
    ///
    /// # Panics
    ///
    /// If the kernel is larger than the padded image.
    ///
    /// ```
    /// use wengert_bench::lowering::ConvGeometry;
    /// // The LeNet's first layer keeps 28 x 28; its rows of im2col are 1 x 5 x 5.
    /// let g = ConvGeometry::new(1, 28, 28, 8, 5, 2);
    /// assert_eq!((g.oh, g.ow, g.patch(), g.positions()), (28, 28, 25, 784));
    /// ```
    pub fn new(c: usize, h: usize, w: usize, o: usize, k: usize, pad: usize) -> Self {
        assert!(
            k > 0 && k <= h + 2 * pad && k <= w + 2 * pad,
            "conv geometry: kernel {k} does not fit the image {h} x {w} padded by {pad}"
        );
        ConvGeometry { c, h, w, o, k, pad, oh: h + 2 * pad - k + 1, ow: w + 2 * pad - k + 1 }
    }

    /// Rows of the im2col matrix: one per (channel, kernel row, kernel column).
    pub fn patch(&self) -> usize {
        self.c * self.k * self.k
    }

    /// Columns of the im2col matrix: one per output position.
    pub fn positions(&self) -> usize {
        self.oh * self.ow
    }

    /// Elements of one input image.
    pub fn image_in(&self) -> usize {
        self.c * self.h * self.w
    }

    /// Elements of one output image.
    pub fn image_out(&self) -> usize {
        self.o * self.positions()
    }

    /// For kernel column `j`: the output columns `lo..hi` that read inside the image (input
    /// column `x + j - pad` in `0..w`).
    fn inside(&self, j: usize) -> (usize, usize) {
        let lo = self.pad.saturating_sub(j).min(self.ow);
        let hi = (self.w + self.pad).saturating_sub(j).min(self.ow).max(lo);
        (lo, hi)
    }

    /// Calls `visit(segment, source, j, (lo, hi))` for each row `(ci, i, j)` of the im2col
    /// matrix and each output row `y`: `segment` counts the `ow`-long pieces of the matrix,
    /// `source` is the start of the input row read (`None` in the padding).
    fn segments(&self, mut visit: impl FnMut(usize, Option<usize>, usize, (usize, usize))) {
        let mut segment = 0;
        for ci in 0..self.c {
            for i in 0..self.k {
                for j in 0..self.k {
                    let columns = self.inside(j);
                    for y in 0..self.oh {
                        let padded_row = y + i;
                        let source = (padded_row >= self.pad && padded_row < self.h + self.pad)
                            .then(|| (ci * self.h + padded_row - self.pad) * self.w);
                        visit(segment, source, j, columns);
                        segment += 1;
                    }
                }
            }
        }
    }
}

/// Writes the im2col matrix `[c k k x oh ow]` of `image` into `col`: row `(ci, i, j)`,
/// column `(y, x)` holds the input at `(ci, y + i - pad, x + j - pad)`, 0 in the padding.
///
/// ```
/// use wengert_bench::lowering::{im2col, ConvGeometry};
/// // A 2 x 2 image, kernel 2, padding 1: 3 x 3 positions; row (i, j) = (1, 1) is the image
/// // at the top-left of the output, zeros around it.
/// let g = ConvGeometry::new(1, 2, 2, 1, 2, 1);
/// let mut col = vec![9.0; g.patch() * g.positions()];
/// im2col(&g, &[1.0, 2.0, 3.0, 4.0], &mut col);
/// assert_eq!(&col[27..], &[1.0, 2.0, 0.0, 3.0, 4.0, 0.0, 0.0, 0.0, 0.0]);
/// assert_eq!(&col[..9], &[0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 0.0, 3.0, 4.0]);
/// ```
pub fn im2col(g: &ConvGeometry, image: &[f32], col: &mut [f32]) {
    g.segments(|segment, source, j, (lo, hi)| {
        let out = &mut col[segment * g.ow..(segment + 1) * g.ow];
        match source {
            None => out.fill(0.0),
            Some(start) => {
                out[..lo].fill(0.0);
                out[hi..].fill(0.0);
                let first = start + lo + j - g.pad;
                out[lo..hi].copy_from_slice(&image[first..first + (hi - lo)]);
            }
        }
    });
}

/// Adds an im2col-shaped `col` into the image it would be read from: im2col's adjoint.
///
/// ```
/// use wengert_bench::lowering::{col2im_add, ConvGeometry};
/// // Kernel 2 over a 2 x 2 image padded by 1: each pixel is in 4 windows, at 4 places of col.
/// let g = ConvGeometry::new(1, 2, 2, 1, 2, 1);
/// let mut image = [10.0; 4];
/// col2im_add(&g, &vec![1.0; g.patch() * g.positions()], &mut image);
/// assert_eq!(image, [14.0; 4]);
/// ```
pub fn col2im_add(g: &ConvGeometry, col: &[f32], image: &mut [f32]) {
    g.segments(|segment, source, j, (lo, hi)| {
        if let Some(start) = source {
            let first = start + lo + j - g.pad;
            let values = &col[segment * g.ow + lo..segment * g.ow + hi];
            for (x, &v) in image[first..first + (hi - lo)].iter_mut().zip(values) {
                *x += v;
            }
        }
    });
}

/// A max-pool of `planes` planes `h x w` by `k x k` windows moved by `k`, no padding (a
/// window that would run past the edge is dropped): `planes x oh x ow`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolGeometry {
    pub planes: usize,
    pub h: usize,
    pub w: usize,
    pub k: usize,
    pub oh: usize,
    pub ow: usize,
}

impl PoolGeometry {
    /// The pool of `planes` planes `h x w` by windows `k x k`.
    ///
    /// # Panics
    ///
    /// If the window is 0 or larger than the plane.
    ///
    /// ```
    /// use wengert_bench::lowering::PoolGeometry;
    /// let g = PoolGeometry::new(3, 5, 4, 2);
    /// assert_eq!((g.oh, g.ow, g.outputs()), (2, 2, 12));
    /// ```
    pub fn new(planes: usize, h: usize, w: usize, k: usize) -> Self {
        assert!(k > 0 && k <= h && k <= w, "pool geometry: window {k} does not fit the plane {h} x {w}");
        PoolGeometry { planes, h, w, k, oh: h / k, ow: w / k }
    }

    /// Elements of the output.
    pub fn outputs(&self) -> usize {
        self.planes * self.oh * self.ow
    }
}

/// `y[q]` = the largest element of window q of `x`, and `arg[q]` its position in `x`: the
/// first maximum, reading the window row by row (as the engine and PyTorch route ties).
///
/// ```
/// use wengert_bench::lowering::{max_pool, PoolGeometry};
/// let g = PoolGeometry::new(1, 2, 4, 2);
/// let (mut y, mut arg) = ([0.0; 2], [0; 2]);
/// max_pool(&g, &[1.0, 5.0, 2.0, 2.0, 3.0, 4.0, 0.0, 1.0], &mut y, &mut arg);
/// assert_eq!((y, arg), ([5.0, 2.0], [1, 2]));
/// ```
pub fn max_pool(g: &PoolGeometry, x: &[f32], y: &mut [f32], arg: &mut [u32]) {
    let mut q = 0;
    for plane in 0..g.planes {
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                let top_left = plane * g.h * g.w + oy * g.k * g.w + ox * g.k;
                let (mut best, mut at) = (f32::NEG_INFINITY, top_left);
                for i in 0..g.k {
                    let row = top_left + i * g.w;
                    for (p, &v) in x[row..row + g.k].iter().enumerate() {
                        if v > best {
                            (best, at) = (v, row + p);
                        }
                    }
                }
                y[q] = best;
                arg[q] = at as u32;
                q += 1;
            }
        }
    }
}

/// The max-pool's backward pass: `dx` = 0 but for `dy[q]` at each window's `arg[q]`.
///
/// ```
/// use wengert_bench::lowering::max_pool_backward;
/// let mut dx = [7.0; 4];
/// max_pool_backward(&[0.5, 2.0], &[3, 0], &mut dx);
/// assert_eq!(dx, [2.0, 0.0, 0.0, 0.5]);
/// ```
pub fn max_pool_backward(dy: &[f32], arg: &[u32], dx: &mut [f32]) {
    dx.fill(0.0);
    for (&d, &at) in dy.iter().zip(arg) {
        dx[at as usize] += d;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn im2col_reads_the_padded_image_at_each_window() {
        // 2 channels 3x4, kernel 2, padding 1: every element against its direct definition.
        let g = ConvGeometry::new(2, 3, 4, 1, 2, 1);
        let image: Vec<f32> = (0..g.image_in()).map(|v| v as f32 + 1.0).collect();
        let mut col = vec![f32::NAN; g.patch() * g.positions()];
        im2col(&g, &image, &mut col);
        for ci in 0..2 {
            for i in 0..2 {
                for j in 0..2 {
                    for y in 0..g.oh {
                        for x in 0..g.ow {
                            let (r, c) = ((y + i) as isize - 1, (x + j) as isize - 1);
                            let want = if (0..3).contains(&r) && (0..4).contains(&c) {
                                image[(ci * 3 + r as usize) * 4 + c as usize]
                            } else {
                                0.0
                            };
                            let row = (ci * 2 + i) * 2 + j;
                            assert_eq!(col[row * g.positions() + y * g.ow + x], want);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        // <im2col(x), c> = <x, col2im(c)> for any x and c.
        let g = ConvGeometry::new(3, 5, 4, 1, 3, 2);
        let x: Vec<f32> = (0..g.image_in()).map(|v| ((v * 7) % 11) as f32 - 5.0).collect();
        let c: Vec<f32> = (0..g.patch() * g.positions()).map(|v| ((v * 5) % 13) as f32 - 6.0).collect();
        let mut col = vec![0.0; c.len()];
        im2col(&g, &x, &mut col);
        let mut back = vec![0.0; x.len()];
        col2im_add(&g, &c, &mut back);
        let left: f32 = col.iter().zip(&c).map(|(a, b)| a * b).sum();
        let right: f32 = x.iter().zip(&back).map(|(a, b)| a * b).sum();
        assert_eq!(left, right);
    }

    #[test]
    fn max_pool_routes_ties_to_the_first_maximum_and_drops_the_ragged_edge() {
        // One plane 3x4, windows 2x2: the last row is dropped; the right window ties at 0.
        let x = [1.0, 5.0, 0.0, 0.0, 3.0, 4.0, 0.0, 0.0, 9.0, 9.0, 9.0, 9.0];
        let g = PoolGeometry::new(1, 3, 4, 2);
        let (mut y, mut arg) = ([0.0; 2], [0; 2]);
        max_pool(&g, &x, &mut y, &mut arg);
        assert_eq!((y, arg), ([5.0, 0.0], [1, 2]));
        let mut dx = [7.0; 12];
        max_pool_backward(&[10.0, 20.0], &arg, &mut dx);
        assert_eq!(dx, [0.0, 10.0, 20.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    }
}
