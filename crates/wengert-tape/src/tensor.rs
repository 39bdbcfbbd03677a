//! [`Tensor`]: an owned, row-major block of numbers with a [`Shape`]. Parameters and data
//! live in tensors outside the tape; each step puts them on the tape as leaves.

use crate::{Real, Shape};
use std::fmt;
use std::ops::{Index, IndexMut};

/// An owned scalar, vector or matrix, stored row-major.
///
/// # Examples
///
/// ```
/// use wengert_tape::{Shape, Tensor};
/// let w = Tensor::from_rows(&[[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]]);
/// assert_eq!(w.shape(), Shape::matrix(2, 3));
/// assert_eq!(w[(1, 2)], 0.6);
/// assert_eq!(w.data()[3], 0.2);
/// ```
#[derive(Clone, PartialEq)]
pub struct Tensor<T> {
    shape: Shape,
    data: Vec<T>,
}

impl<T: Real> Tensor<T> {
    /// A tensor of the given shape and row-major data.
    ///
    /// # Panics
    ///
    /// If `data.len()` is not `shape.numel()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use wengert_tape::{Shape, Tensor};
    /// let b = Tensor::new(Shape::vector(3), vec![0.1_f32, 0.2, 0.3]);
    /// assert_eq!(b.len(), 3);
    /// ```
    #[track_caller]
    pub fn new(shape: Shape, data: Vec<T>) -> Self {
        assert_eq!(
            data.len(),
            shape.numel(),
            "Tensor::new: shape {shape} holds {} elements, data has {}",
            shape.numel(),
            data.len()
        );
        Tensor { shape, data }
    }

    /// A tensor of zeros.
    ///
    /// ```
    /// use wengert_tape::{Shape, Tensor};
    /// assert_eq!(Tensor::<f64>::zeros(Shape::matrix(2, 2)).data(), &[0.0; 4]);
    /// ```
    pub fn zeros(shape: Shape) -> Self {
        Tensor { shape, data: vec![T::zero(); shape.numel()] }
    }

    /// A tensor whose every element is `value`.
    ///
    /// ```
    /// use wengert_tape::{Shape, Tensor};
    /// assert_eq!(Tensor::full(Shape::vector(2), 7.0_f64).data(), &[7.0, 7.0]);
    /// ```
    pub fn full(shape: Shape, value: T) -> Self {
        Tensor { shape, data: vec![value; shape.numel()] }
    }

    /// A rank-0 tensor holding one number.
    ///
    /// ```
    /// use wengert_tape::Tensor;
    /// assert_eq!(Tensor::scalar(2.5_f64).data(), &[2.5]);
    /// ```
    pub fn scalar(value: T) -> Self {
        Tensor { shape: Shape::scalar(), data: vec![value] }
    }

    /// A vector `[n]` from a slice.
    ///
    /// ```
    /// use wengert_tape::{Shape, Tensor};
    /// assert_eq!(Tensor::from_slice(&[1.0_f64, 2.0]).shape(), Shape::vector(2));
    /// ```
    pub fn from_slice(values: &[T]) -> Self {
        Tensor { shape: Shape::vector(values.len()), data: values.to_vec() }
    }

    /// A matrix from rows of equal length.
    ///
    /// ```
    /// use wengert_tape::{Shape, Tensor};
    /// let x = Tensor::from_rows(&[[0.4_f64, 0.5]]);
    /// assert_eq!(x.shape(), Shape::matrix(1, 2));
    /// ```
    pub fn from_rows<const C: usize>(rows: &[[T; C]]) -> Self {
        let data = rows.iter().flat_map(|row| row.iter().copied()).collect();
        Tensor { shape: Shape::matrix(rows.len(), C), data }
    }

    /// A tensor of the given shape whose element `i` (row-major) is `f(i)`.
    ///
    /// ```
    /// use wengert_tape::{Shape, Tensor};
    /// let t = Tensor::from_fn(Shape::vector(3), |i| i as f64);
    /// assert_eq!(t.data(), &[0.0, 1.0, 2.0]);
    /// ```
    pub fn from_fn(shape: Shape, f: impl FnMut(usize) -> T) -> Self {
        Tensor { shape, data: (0..shape.numel()).map(f).collect() }
    }

    /// The shape.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// The elements, row-major.
    pub fn data(&self) -> &[T] {
        &self.data
    }

    /// The elements, row-major, for updating in place (an optimiser step).
    pub fn data_mut(&mut self) -> &mut [T] {
        &mut self.data
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True if the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The elements, consuming the tensor.
    pub fn into_data(self) -> Vec<T> {
        self.data
    }

    /// The same elements under another shape with as many elements.
    ///
    /// # Panics
    ///
    /// If the element counts differ.
    ///
    /// ```
    /// use wengert_tape::{Shape, Tensor};
    /// let t = Tensor::from_slice(&[1.0_f64, 2.0, 3.0, 4.0]).reshape(Shape::matrix(2, 2));
    /// assert_eq!(t[(1, 0)], 3.0);
    /// ```
    #[track_caller]
    pub fn reshape(self, shape: Shape) -> Self {
        assert_eq!(
            self.data.len(),
            shape.numel(),
            "reshape: {} has {} elements, {shape} needs {}",
            self.shape,
            self.data.len(),
            shape.numel()
        );
        Tensor { shape, data: self.data }
    }

    /// The elements converted to another precision (for example f32 parameters to f64).
    ///
    /// ```
    /// use wengert_tape::Tensor;
    /// let t = Tensor::from_slice(&[0.5_f32]).cast::<f64>();
    /// assert_eq!(t.data(), &[0.5_f64]);
    /// ```
    pub fn cast<U: Real>(&self) -> Tensor<U> {
        let data = self.data.iter().map(|&x| U::from(x).expect("float to float cast")).collect();
        Tensor { shape: self.shape, data }
    }
}

impl<T: Real> Index<(usize, usize)> for Tensor<T> {
    type Output = T;
    /// Element `(row, col)` of a matrix (a vector is one row).
    #[track_caller]
    fn index(&self, (row, col): (usize, usize)) -> &T {
        assert!(row < self.shape.rows() && col < self.shape.cols(), "index: ({row}, {col}) is outside {}", self.shape);
        &self.data[row * self.shape.cols() + col]
    }
}

impl<T: Real> IndexMut<(usize, usize)> for Tensor<T> {
    #[track_caller]
    fn index_mut(&mut self, (row, col): (usize, usize)) -> &mut T {
        assert!(row < self.shape.rows() && col < self.shape.cols(), "index: ({row}, {col}) is outside {}", self.shape);
        let cols = self.shape.cols();
        &mut self.data[row * cols + col]
    }
}

impl<T: fmt::Debug> fmt::Debug for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tensor{} {:?}", self.shape, self.data)
    }
}

impl<T: Real> From<T> for Tensor<T> {
    fn from(value: T) -> Self {
        Tensor::scalar(value)
    }
}
