//! The explorer: a web page that steps through backpropagation on wengert's own tape.
//!
//! The page (`web/`) sends JSON requests to [`handle`], which answers them with the engine:
//! the graph's nodes in recording order and their values, the reverse sweep step by step
//! with the rule each node applied (from [`wengert_tape::Gradients::explain`]) and the numbers
//! put in, every gradient, a comparison with central differences and a run of gradient
//! descent. The same function runs in the browser, compiled to WebAssembly and called
//! through the exports of [`ffi`], and natively behind the local server of
//! `examples/serve.rs` when the WebAssembly file cannot be loaded.
//!
//! ```
//! let answer: serde_json::Value = serde_json::from_str(&wengert_explorer::handle(r#"{"graph": "net231"}"#))?;
//! assert_eq!(answer["loss"], "0.0723034528622"); // E of the notes' 6a
//! # Ok::<(), serde_json::Error>(())
//! ```

pub mod builtin;
mod check;
pub mod explore;
pub mod ffi;
pub mod graph;
pub mod parse;
pub mod request;
mod train;
pub mod worked;

/// How many significant digits the page prints: the notes' 12.
pub const DIGITS: usize = 12;

/// A number as the page prints it: the library's format ([`wengert_tape::inspect::significant`])
/// with [`DIGITS`] digits.
///
/// ```
/// assert_eq!(wengert_explorer::show(-0.0896169272249), "-0.0896169272249");
/// assert_eq!(wengert_explorer::show(0.5), "0.5");
/// ```
pub fn show(x: f64) -> String {
    wengert_tape::inspect::significant(x, DIGITS)
}

/// Answers one JSON request (a [`request::Request`]) with JSON: a [`request::Response`], or
/// a [`request::ErrorResponse`] whose `field` names what is wrong (and `column`, for an
/// expression). Input errors are answered, not panicked on.
///
/// # Examples
///
/// ```
/// let answer = wengert_explorer::handle(r#"{"graph": "expression", "expression": "w * (x +"}"#);
/// let error: serde_json::Value = serde_json::from_str(&answer)?;
/// // The problem is the end, after 8 characters.
/// assert_eq!((error["ok"].as_bool(), error["column"].as_u64()), (Some(false), Some(9)));
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn handle(request_json: &str) -> String {
    let answer = match serde_json::from_str::<request::Request>(request_json) {
        Ok(request) => match explore::answer(&request) {
            Ok(response) => serde_json::to_string(&response),
            Err(refusal) => serde_json::to_string(&refusal.into_response()),
        },
        Err(error) => serde_json::to_string(&request::ErrorResponse {
            ok: false,
            field: "request".to_string(),
            error: format!("the request is not valid JSON of the expected form: {error}"),
            column: Some(error.column()),
        }),
    };
    answer.unwrap_or_else(|error| format!(r#"{{"ok":false,"field":"response","error":"{error}","column":null}}"#))
}
