//! Prints the engine's answer to one request, for a look at the JSON the page receives.
//!
//! Run: `cargo run -p wengert-explorer --example ask -- '{"graph": "chain"}'`

fn main() {
    let request = std::env::args().nth(1).unwrap_or_else(|| r#"{"graph": "net231"}"#.to_string());
    println!("{}", wengert_explorer::handle(&request));
}
