//! Layout ops against their closed forms: transpose's gradient is `G^T`; a slice adds `G`
//! into its block only; concat then slice is the identity, and so is its Jacobian; stack then
//! element hands each scalar its own upstream; gather counts a repeated index once per use;
//! `where` sends `g` by the mask and sums a broadcast input. Misuse panics name the op and
//! the shapes; inspection (explain, DOT, stats) and anomaly mode see the variadic ones.
//! Expected values are written out by hand or computed here with plain loops.

use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use wengert_tape::{Shape, Tape, Tensor, Var};

/// The panic message of `f`, which must panic.
fn panic_message(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("this misuse should panic");
    match payload.downcast::<String>() {
        Ok(message) => *message,
        Err(payload) => payload.downcast::<&str>().map(|s| s.to_string()).expect("a text message"),
    }
}

/// A misuse, and the panic message it must give.
type Misuse<'a> = (Box<dyn Fn() + 'a>, &'static str);

/// `rows x cols` with distinct values `1, 2, 3, ...` times `scale`.
fn counting(rows: usize, cols: usize, scale: f64) -> Tensor<f64> {
    Tensor::from_fn(Shape::matrix(rows, cols), |i| scale * (i + 1) as f64)
}

// ---------------------------------------------------------------------------------------
// Transpose and reshape
// ---------------------------------------------------------------------------------------

#[test]
fn transpose_gradient_is_g_transposed() {
    let tape = Tape::<f64>::new();
    let x = tape.var(&counting(2, 3, 1.0));
    let y = x.t();
    assert_eq!(y.shape(), Shape::matrix(3, 2));
    assert_eq!(&*y.values(), &[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    // A seed G [3 x 2] with distinct entries: dX = G^T, element (i, j) of dX is G (j, i).
    let g = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0];
    let grads = tape.backward_with_seed(y, &g);
    let mut expected = [0.0; 6];
    for i in 0..2 {
        for j in 0..3 {
            expected[i * 3 + j] = g[j * 2 + i];
        }
    }
    assert_eq!(grads.wrt_slice(x), &expected);
    assert_eq!(expected, [10.0, 30.0, 50.0, 20.0, 40.0, 60.0]);
    // Transposing twice is the identity, and so is its Jacobian.
    let jacobian = tape.jacobian(x.t().t(), x);
    assert_eq!(jacobian, Tensor::from_fn(Shape::matrix(6, 6), |k| f64::from(u8::from(k / 6 == k % 6))));
}

#[test]
fn transpose_of_a_vector_is_the_vector_itself() {
    let tape = Tape::<f64>::new();
    let v = tape.var(&Tensor::from_slice(&[1.0, 2.0]));
    let s = tape.var(3.0);
    let before = tape.len();
    assert_eq!((v.t().index(), s.t().index()), (v.index(), s.index()));
    assert_eq!(tape.len(), before, "no node for a vector's or a scalar's transpose");
    // A one-row matrix is a matrix: [1 x 2] -> [2 x 1].
    let row = tape.var(&Tensor::from_rows(&[[1.0, 2.0]]));
    assert_eq!(row.t().shape(), Shape::matrix(2, 1));
}

#[test]
fn reshape_gradient_is_g_in_the_input_shape() {
    let tape = Tape::<f64>::new();
    let x = tape.var(&counting(2, 3, 1.0));
    let y = x.reshape(Shape::matrix(3, 2));
    assert_eq!(y.shape(), Shape::matrix(3, 2));
    assert_eq!(&*y.values(), &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let g = [1.0, -2.0, 3.0, -4.0, 5.0, -6.0];
    assert_eq!(tape.backward_with_seed(y, &g).wrt_slice(x), &g);
    // Into a vector and a scalar: the same elements.
    assert_eq!(x.reshape(Shape::vector(6)).shape(), Shape::vector(6));
    let one = tape.var(&Tensor::from_slice(&[7.0]));
    let scalar = one.reshape(Shape::scalar());
    assert_eq!((scalar.shape(), scalar.value()), (Shape::scalar(), 7.0));
    assert_eq!(tape.backward(scalar * 3.0).wrt_slice(one), &[3.0]);
}

#[test]
fn reshape_to_another_number_of_elements_panics_naming_both_shapes() {
    let tape = Tape::<f64>::new();
    let x = tape.var(&counting(2, 3, 1.0));
    let message = panic_message(|| {
        let _ = x.reshape(Shape::vector(4));
    });
    assert_eq!(message, "reshape: cannot reshape [2 x 3] (6 elements) into [4] (4 elements)");
}

// ---------------------------------------------------------------------------------------
// Slices and concat
// ---------------------------------------------------------------------------------------

#[test]
fn slices_add_g_into_their_block_only() {
    let tape = Tape::<f64>::new();
    let x = tape.var(&counting(3, 4, 1.0));
    let rows = x.slice_rows(1..3);
    assert_eq!(rows.to_tensor(), Tensor::new(Shape::matrix(2, 4), (5..=12).map(f64::from).collect()));
    let g: Vec<f64> = (1..=8).map(|k| f64::from(k) * 10.0).collect();
    let grads = tape.backward_with_seed(rows, &g);
    let expected: Vec<f64> = [0.0; 4].iter().copied().chain(g.iter().copied()).collect();
    assert_eq!(grads.wrt_slice(x), &expected[..]);
    drop(grads);

    let cols = x.slice_cols(1..3);
    assert_eq!(cols.to_tensor(), Tensor::from_rows(&[[2.0, 3.0], [6.0, 7.0], [10.0, 11.0]]));
    let g = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    let grads = tape.backward_with_seed(cols, &g);
    assert_eq!(grads.wrt_slice(x), &[0.0, 1.0, 2.0, 0.0, 0.0, 3.0, 4.0, 0.0, 0.0, 5.0, 6.0, 0.0]);
    drop(grads);

    // Rules add: x also feeds a sum, and two overlapping slices both reach column 2.
    let loss = x.slice_cols(1..3).sum() + x.slice_cols(2..4).sum() + x.sum();
    let expected: Vec<f64> = (0..12).map(|k| [1.0, 2.0, 3.0, 2.0][k % 4]).collect();
    assert_eq!(tape.backward(loss).wrt_slice(x), &expected[..]);
}

#[test]
fn slices_of_a_vector_follow_its_one_row() {
    let tape = Tape::<f64>::new();
    let v = tape.var(&Tensor::from_slice(&[1.0, 2.0, 3.0]));
    let tail = v.slice_cols(1..3);
    assert_eq!((tail.shape(), &*tail.values()), (Shape::vector(2), &[2.0, 3.0][..]));
    let whole = v.slice_rows(0..1);
    assert_eq!((whole.shape(), &*whole.values()), (Shape::vector(3), &[1.0, 2.0, 3.0][..]));
    let grads = tape.backward(tail.sum() + whole.sum());
    assert_eq!(grads.wrt_slice(v), &[1.0, 2.0, 2.0]);
}

#[test]
fn slices_out_of_bounds_or_reversed_panic_naming_the_range_and_shape() {
    let tape = Tape::<f64>::new();
    let x = tape.var(&counting(3, 4, 1.0));
    let v = tape.var(&Tensor::from_slice(&[1.0, 2.0]));
    let s = tape.var(1.0);
    let cases: [Misuse<'_>; 6] = [
        (
            Box::new(|| {
                let _ = x.slice_rows(2..4);
            }),
            "slice_rows: rows 2..4 are out of bounds for [3 x 4] (3 rows)",
        ),
        (
            Box::new(|| {
                let _ = x.slice_rows(Range { start: 2, end: 1 });
            }),
            "slice_rows: rows 2..1 of [3 x 4] are empty or reversed (the start must be below the end)",
        ),
        (
            Box::new(|| {
                let _ = x.slice_cols(1..1);
            }),
            "slice_cols: columns 1..1 of [3 x 4] are empty or reversed (the start must be below the end)",
        ),
        (
            Box::new(|| {
                let _ = x.slice_cols(0..5);
            }),
            "slice_cols: columns 0..5 are out of bounds for [3 x 4] (4 columns)",
        ),
        (
            Box::new(|| {
                let _ = v.slice_rows(1..2);
            }),
            "slice_rows: rows 1..2 are out of bounds for [2] (1 row: a vector is one row)",
        ),
        (
            Box::new(|| {
                let _ = s.slice_cols(0..1);
            }),
            "slice_cols: columns 0..1 of a scalar []: a scalar has no columns",
        ),
    ];
    for (misuse, expected) in cases {
        assert_eq!(panic_message(misuse), expected);
    }
}

#[test]
fn concat_then_slice_round_trip_has_identity_gradients() {
    let tape = Tape::<f64>::new();
    let a = tape.var(&counting(2, 3, 1.0));
    let b = tape.var(&counting(1, 3, -1.0));
    let rows = Var::concat(&[a, b], 0);
    assert_eq!(rows.to_tensor(), Tensor::from_rows(&[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [-1.0, -2.0, -3.0]]));
    // Slicing the parts back out: the Jacobian of each round trip is the identity.
    let identity = |n: usize| Tensor::from_fn(Shape::matrix(n, n), |k| f64::from(u8::from(k / n == k % n)));
    assert_eq!(tape.jacobian(rows.slice_rows(0..2), a), identity(6));
    assert_eq!(tape.jacobian(rows.slice_rows(2..3), b), identity(3));
    // And the part gets nothing from a block that is not its own.
    assert_eq!(tape.jacobian(rows.slice_rows(2..3), a), Tensor::zeros(Shape::matrix(3, 6)));

    let (wa, wb) = (counting(2, 3, 0.5), counting(1, 3, 2.0));
    let loss = (rows.slice_rows(0..2) * tape.constant(&wa)).sum() + (rows.slice_rows(2..3) * tape.constant(&wb)).sum();
    let grads = tape.backward(loss);
    assert_eq!((grads.wrt_slice(a), grads.wrt_slice(b)), (wa.data(), wb.data()));
    drop(grads);

    // Side by side: [2 x 2] and [2 x 3] into [2 x 5], and back by columns.
    let c = tape.var(&counting(2, 2, 1.0));
    let d = tape.var(&counting(2, 3, 10.0));
    let side = Var::concat(&[c, d], 1);
    assert_eq!(side.to_tensor(), Tensor::from_rows(&[[1.0, 2.0, 10.0, 20.0, 30.0], [3.0, 4.0, 40.0, 50.0, 60.0]]));
    assert_eq!(tape.jacobian(side.slice_cols(0..2), c), identity(4));
    assert_eq!(tape.jacobian(side.slice_cols(2..5), d), identity(6));
    let g: Vec<f64> = (1..=10).map(f64::from).collect();
    let grads = tape.backward_with_seed(side, &g);
    assert_eq!(grads.wrt_slice(c), &[1.0, 2.0, 6.0, 7.0]);
    assert_eq!(grads.wrt_slice(d), &[3.0, 4.0, 5.0, 8.0, 9.0, 10.0]);
}

#[test]
fn concat_of_one_part_twice_collects_both_blocks() {
    let tape = Tape::<f64>::new();
    let x = tape.var(&counting(2, 2, 1.0));
    let twice = Var::concat(&[x, x], 1);
    assert_eq!(twice.to_tensor(), Tensor::from_rows(&[[1.0, 2.0, 1.0, 2.0], [3.0, 4.0, 3.0, 4.0]]));
    let g = [1.0, 2.0, 10.0, 20.0, 3.0, 4.0, 30.0, 40.0];
    // dX = left block of G + right block of G.
    assert_eq!(tape.backward_with_seed(twice, &g).wrt_slice(x), &[11.0, 22.0, 33.0, 44.0]);
}

#[test]
fn concat_of_vectors_follows_numpy() {
    let tape = Tape::<f64>::new();
    let u = tape.var(&Tensor::from_slice(&[1.0, 2.0]));
    let v = tape.var(&Tensor::from_slice(&[3.0, 4.0, 5.0]));
    // numpy.concatenate of 1-d arrays: a longer vector.
    let joined = Var::concat(&[u, v], 1);
    assert_eq!((joined.shape(), &*joined.values()), (Shape::vector(5), &[1.0, 2.0, 3.0, 4.0, 5.0][..]));
    // numpy.vstack: each vector a row.
    let w = tape.var(&Tensor::from_slice(&[6.0, 7.0]));
    let stacked = Var::concat(&[u, w], 0);
    assert_eq!(stacked.to_tensor(), Tensor::from_rows(&[[1.0, 2.0], [6.0, 7.0]]));
    // A vector beside a [1 x n] row: a matrix.
    let row = tape.var(&Tensor::from_rows(&[[8.0]]));
    assert_eq!(Var::concat(&[u, row], 1).shape(), Shape::matrix(1, 3));
    let grads = tape.backward_with_seed(joined, &[1.0, 2.0, 3.0, 4.0, 5.0]);
    assert_eq!((grads.wrt_slice(u), grads.wrt_slice(v)), (&[1.0, 2.0][..], &[3.0, 4.0, 5.0][..]));
}

#[test]
fn concat_mismatch_panics_naming_every_shape() {
    let tape = Tape::<f64>::new();
    let a = tape.var(&counting(2, 3, 1.0));
    let b = tape.var(&counting(2, 4, 1.0));
    let c = tape.var(&counting(3, 3, 1.0));
    let s = tape.var(1.0);
    let other = Tape::<f64>::new();
    let foreign = other.var(&counting(2, 3, 1.0));
    let cases: [Misuse<'_>; 6] = [
        (
            Box::new(|| {
                let _ = Var::concat(&[a, b, a], 0);
            }),
            "concat: parts [2 x 3], [2 x 4], [2 x 3] differ in columns (axis 0 stacks rows, which needs equal columns)",
        ),
        (
            Box::new(|| {
                let _ = Var::concat(&[a, c], 1);
            }),
            "concat: parts [2 x 3], [3 x 3] differ in rows (axis 1 joins columns, which needs equal rows)",
        ),
        (
            Box::new(|| {
                let _ = Var::<f64>::concat(&[], 0);
            }),
            "concat: no parts to join (the list is empty)",
        ),
        (
            Box::new(|| {
                let _ = Var::concat(&[a, a], 2);
            }),
            "concat: axis 2 is neither 0 (rows) nor 1 (columns); parts [2 x 3], [2 x 3]",
        ),
        (
            Box::new(|| {
                let _ = Var::concat(&[a, s], 1);
            }),
            "concat: parts [2 x 3], [] include a scalar (Var::stack joins scalars)",
        ),
        (
            Box::new(|| {
                let _ = Var::concat(&[a, foreign], 0);
            }),
            "concat: an input belongs to another tape (a handle cannot move between tapes)",
        ),
    ];
    for (misuse, expected) in cases {
        assert_eq!(panic_message(misuse), expected);
    }
}

// ---------------------------------------------------------------------------------------
// Stack and element
// ---------------------------------------------------------------------------------------

#[test]
fn stack_then_element_round_trip_has_identity_gradients() {
    let tape = Tape::<f64>::new();
    let (a, b, c) = (tape.var(2.0), tape.var(-3.0), tape.var(5.0));
    let v = Var::stack(&[a, b, c]);
    assert_eq!((v.shape(), &*v.values()), (Shape::vector(3), &[2.0, -3.0, 5.0][..]));
    // Element k of the stack is part k: each gets exactly its own upstream.
    for (k, part) in [a, b, c].into_iter().enumerate() {
        let grads = tape.backward(v.element(k));
        let got: Vec<f64> = [a, b, c].iter().map(|&p| grads.wrt(p)).collect();
        let expected: Vec<f64> = [a, b, c].iter().map(|&p| f64::from(u8::from(p.index() == part.index()))).collect();
        assert_eq!(got, expected, "element {k}");
    }
    // L = 2 v_0 + 5 v_2 + v_2 v_2: dL/da = 2, dL/db = 0, dL/dc = 5 + 2 c = 15.
    let loss = 2.0 * v.element(0) + 5.0 * v.element(2) + v.element(2) * v.element(2);
    let grads = tape.backward(loss);
    assert_eq!((grads.wrt(a), grads.wrt(b), grads.wrt(c)), (2.0, 0.0, 15.0));
    // The seed of the stack lands on each part: one vector-Jacobian product.
    let grads = tape.backward_with_seed(v, &[7.0, 8.0, 9.0]);
    assert_eq!((grads.wrt(a), grads.wrt(b), grads.wrt(c)), (7.0, 8.0, 9.0));
}

#[test]
fn stack_of_one_part_twice_collects_both_elements() {
    let tape = Tape::<f64>::new();
    let x = tape.var(4.0);
    let v = Var::stack(&[x, x * x]);
    // L = 3 x + 5 x^2: dL/dx = 3 + 10 x = 43.
    assert_eq!(tape.backward_with_seed(v, &[3.0, 5.0]).wrt(x), 43.0);
}

#[test]
fn stack_of_a_non_scalar_or_of_nothing_panics_naming_the_shapes() {
    let tape = Tape::<f64>::new();
    let (s, m) = (tape.var(1.0), tape.var(&counting(2, 3, 1.0)));
    let message = panic_message(|| {
        let _ = Var::stack(&[s, m, s]);
    });
    assert_eq!(message, "stack: parts [], [2 x 3], [] are not all one element (Var::concat joins larger parts)");
    let message = panic_message(|| {
        let _ = Var::<f64>::stack(&[]);
    });
    assert_eq!(message, "stack: no parts to stack (the list is empty)");
    // [1] and [1 x 1] are one element each.
    let one = tape.var(&Tensor::from_slice(&[2.0]));
    let cell = tape.var(&Tensor::from_rows(&[[3.0]]));
    assert_eq!(&*Var::stack(&[s, one, cell]).values(), &[1.0, 2.0, 3.0]);
}

#[test]
fn element_and_at_read_row_major() {
    let tape = Tape::<f64>::new();
    let x = tape.var(&counting(2, 3, 1.0));
    assert_eq!((x.element(3).value(), x.at(1, 0).value()), (4.0, 4.0));
    assert_eq!(x.at(0, 2).op_name(), "element");
    // L = x_(1,2) * x_(0,1): dL/dx_(1,2) = x_(0,1) = 2, dL/dx_(0,1) = x_(1,2) = 6.
    let loss = x.at(1, 2) * x.element(1);
    assert_eq!(tape.backward(loss).wrt_slice(x), &[0.0, 6.0, 0.0, 0.0, 0.0, 2.0]);
    let v = tape.var(&Tensor::from_slice(&[5.0, 6.0]));
    assert_eq!(v.at(0, 1).value(), 6.0);
}

#[test]
fn element_out_of_range_panics_naming_the_index_and_shape() {
    let tape = Tape::<f64>::new();
    let x = tape.var(&counting(2, 3, 1.0));
    assert_eq!(
        panic_message(|| {
            let _ = x.element(6);
        }),
        "element: index 6 is out of range for [2 x 3] (6 elements)"
    );
    assert_eq!(
        panic_message(|| {
            let _ = x.at(0, 3);
        }),
        "at: (0, 3) is out of range for [2 x 3] (2 rows, 3 columns)"
    );
    assert_eq!(
        panic_message(|| {
            let _ = x.at(2, 0);
        }),
        "at: (2, 0) is out of range for [2 x 3] (2 rows, 3 columns)"
    );
}

// ---------------------------------------------------------------------------------------
// Gather and where
// ---------------------------------------------------------------------------------------

#[test]
fn gather_rows_gradient_counts_repeated_indices() {
    let tape = Tape::<f64>::new();
    let table = tape.var(&counting(4, 2, 1.0));
    let indices = [3, 1, 3, 3];
    let y = table.gather_rows(&indices);
    assert_eq!(y.to_tensor(), Tensor::from_rows(&[[7.0, 8.0], [3.0, 4.0], [7.0, 8.0], [7.0, 8.0]]));
    let g = [1.0, 2.0, 10.0, 20.0, 100.0, 200.0, 1000.0, 2000.0];
    let grads = tape.backward_with_seed(y, &g);
    // Row 3 was used three times: it collects rows 0, 2 and 3 of G; row 1 gets row 1; rows
    // 0 and 2 get nothing.
    assert_eq!(grads.wrt_slice(table), &[0.0, 0.0, 10.0, 20.0, 0.0, 0.0, 1101.0, 2202.0]);
    drop(grads);
    // With a unit seed the gradient of each row is the number of times it was gathered.
    let counts: Vec<f64> = (0..4).flat_map(|row| [indices.iter().filter(|&&i| i == row).count() as f64; 2]).collect();
    assert_eq!(tape.backward(y.sum()).wrt_slice(table), &counts[..]);
}

#[test]
fn gather_rows_out_of_range_panics_naming_the_index_and_table() {
    let tape = Tape::<f64>::new();
    let table = tape.var(&counting(5, 3, 1.0));
    assert_eq!(
        panic_message(|| {
            let _ = table.gather_rows(&[0, 4, 5]);
        }),
        "gather_rows: index 5 at position 2 is out of range for the table [5 x 3] (5 rows)"
    );
    assert_eq!(
        panic_message(|| {
            let _ = table.gather_rows(&[]);
        }),
        "gather_rows: no indices to gather from the table [5 x 3]"
    );
}

#[test]
fn where_sends_g_by_the_mask_and_sums_broadcast_inputs() {
    let tape = Tape::<f64>::new();
    let mask = Tensor::from_rows(&[[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]]);
    let a = tape.var(&counting(2, 3, 1.0));
    let b = tape.var(&Tensor::from_slice(&[-1.0, -2.0, -3.0])); // a row, broadcast over 2 rows
    let y = Var::where_(&mask, a, b);
    assert_eq!(y.to_tensor(), Tensor::from_rows(&[[1.0, -2.0, 3.0], [-1.0, -2.0, 6.0]]));
    let g = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    let grads = tape.backward_with_seed(y, &g);
    // da = g (.) mask; db = column sums of g (.) (1 - mask).
    let mut da = [0.0; 6];
    let mut db = [0.0; 3];
    for k in 0..6 {
        if mask.data()[k] != 0.0 {
            da[k] = g[k];
        } else {
            db[k % 3] += g[k];
        }
    }
    assert_eq!((grads.wrt_slice(a), grads.wrt_slice(b)), (&da[..], &db[..]));
    assert_eq!(db, [4.0, 7.0, 0.0]);
    drop(grads);

    // A scalar b, and the same input on both sides: every element's g reaches it once.
    let zero = tape.var(0.0);
    let clipped = Var::where_(&mask, a, zero);
    assert_eq!(&*clipped.values(), &[1.0, 0.0, 3.0, 0.0, 0.0, 6.0]);
    assert_eq!(tape.backward(clipped.sum()).wrt(zero), 3.0);
    let same = Var::where_(&mask, a, a);
    assert_eq!(tape.backward(same.sum()).wrt_slice(a), &[1.0; 6]);
    // A column mask [2 x 1] picks whole rows.
    let rows = Var::where_(&Tensor::from_rows(&[[0.0], [1.0]]), a, b);
    assert_eq!(rows.to_tensor(), Tensor::from_rows(&[[-1.0, -2.0, -3.0], [4.0, 5.0, 6.0]]));
}

#[test]
fn where_of_shapes_that_do_not_broadcast_panics_naming_them() {
    let tape = Tape::<f64>::new();
    let a = tape.var(&counting(2, 3, 1.0));
    let b = tape.var(&counting(3, 2, 1.0));
    let mask = Tensor::<f64>::zeros(Shape::matrix(2, 3));
    assert_eq!(
        panic_message(|| {
            let _ = Var::where_(&mask, a, b);
        }),
        "where: mask [2 x 3], a [2 x 3] and b [3 x 2] do not broadcast (each dimension must be equal, or 1)"
    );
}

// ---------------------------------------------------------------------------------------
// Inspection and anomaly mode
// ---------------------------------------------------------------------------------------

#[test]
fn explanation_dot_and_stats_of_concat_and_gather_rows() {
    let tape = Tape::<f64>::new();
    let table = tape.var(&counting(5, 2, 1.0)); // #0
    let extra = tape.var(&counting(3, 1, 1.0)); // #1
    let rows = table.gather_rows(&[1, 4, 1]); // #2
    let joined = Var::concat(&[rows, extra], 1); // #3, [3 x 3]
    let loss = joined.sum(); // #4
    let grads = tape.backward(loss);
    assert_eq!(grads.wrt_slice(table), &[0.0, 0.0, 2.0, 2.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0]);

    let explanation = grads.explain();
    let indices: Vec<usize> = explanation.lines().iter().map(|step| step.index).collect();
    assert_eq!(indices, [4, 3, 2, 1, 0]);
    let concat = explanation.step(joined.index()).expect("the sweep reached concat");
    assert_eq!((concat.op, concat.shape), ("concat", Shape::matrix(3, 3)));
    assert_eq!(concat.rule, "dX_k = block k of G -> #2, dX_k = block k of G -> #1");
    assert_eq!(concat.source, "#concat");
    let gather = explanation.step(rows.index()).expect("the sweep reached gather_rows");
    assert_eq!(gather.rule, "dT[i_k] = G[k] for every k -> #0");
    assert_eq!(gather.source, "#gather_rows");
    assert_eq!(explanation.step(0).map(|s| s.adjoint.as_str()), Some("[0, 0, 2, ...] (min 0, mean 0.6, max 2)"));

    // One box per node, and concat's two input edges labelled with their positions.
    let dot = grads.to_dot();
    assert!(dot.contains("#3 concat [3 x 3]"), "{dot}");
    assert!(dot.contains("n2 -> n3 [label=\"0\"]") && dot.contains("n1 -> n3 [label=\"1\"]"), "{dot}");
    assert!(dot.contains("n0 -> n2;"), "{dot}");
    drop(grads);

    let stats = tape.stats();
    assert_eq!((stats.nodes, stats.count("concat"), stats.count("gather_rows")), (5, 1, 1));
    // The three gathered indices are all the tape keeps in its index arena.
    assert_eq!(stats.label_bytes, 3 * std::mem::size_of::<usize>());
}

#[test]
fn explanation_of_where_names_the_mask_as_getting_nothing() {
    let tape = Tape::<f64>::new();
    let (a, b) = (tape.var(&counting(1, 2, 1.0)), tape.var(&counting(1, 2, -1.0)));
    let y = Var::where_(&Tensor::from_rows(&[[1.0, 0.0]]), a, b); // the mask is #2, y #3
    let explanation = tape.backward(y.sum()).explain();
    let step = explanation.step(y.index()).expect("the sweep reached where");
    assert_eq!(step.rule, "da = g (.) 1[mask != 0] -> #0, db = g (.) 1[mask = 0] -> #1; nothing for #2 (no adjoint)");
}

#[test]
fn anomaly_mode_names_a_concat_and_its_inputs() {
    let tape = Tape::<f64>::new();
    let finite = tape.var(&counting(1, 2, 1.0)); // #0
    let infinite = tape.var(&Tensor::from_rows(&[[f64::INFINITY]])); // #1, before the mode is on
    tape.set_anomaly_detection(true);
    let message = panic_message(|| {
        let _ = Var::concat(&[finite, infinite], 1);
    });
    assert!(message.starts_with("anomaly: node #2 (concat) computed inf in its value"), "{message}");
    assert!(message.contains("inputs: [#0 var, #1 var]"), "{message}");

    // In backward: an infinite seed reaches the parts through concat's rule.
    let other = tape.var(&counting(1, 2, 2.0)); // #3: the caught concat stays on the tape as #2
    let joined = Var::concat(&[finite, other], 1); // #4
    let anomaly = tape.try_backward_with_seed(joined, &[1.0, f64::INFINITY, 1.0, 1.0]).err().expect("an inf adjoint");
    let message = anomaly.to_string();
    assert!(
        message.starts_with("anomaly: the backward rule of node #4 (concat) made the adjoint of its input 0 inf"),
        "{message}"
    );
    assert!(message.contains("inputs: [#0 var, #3 var]"), "{message}");
}
