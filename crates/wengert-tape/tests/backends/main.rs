//! The tests every GEMM back-end must pass: the products against a triple loop, and the
//! MLP's gradients against the backpropagation equations. A binary apart from the suite so
//! that CI builds only these with each BLAS feature (`--features openblas --test backends`).

mod backprop_equations;
mod gemm_backends;
