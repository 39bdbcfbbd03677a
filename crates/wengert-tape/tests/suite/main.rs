//! The integration tests, one module per file, linked into one test binary: one
//! link instead of one per file keeps `cargo test` and CI quick.

mod anomaly;
mod closed_forms;
mod conv;
mod custom_ops;
mod dot_parses;
mod finite_differences;
mod inspect;
mod layout;
mod nd;
mod probing;
mod random_graphs;
mod reduce_axis;
mod registry;
mod registry_graphs;
mod scalar_users;
mod second_order;
mod tape;
mod worked_examples;
