//! The explorer's answers against the notes' numbers (6a, 6b, 6c), closed forms and central
//! differences; expression errors with their columns; the exported functions of the page.

use serde_json::{json, Value};
use wengert_explorer::ffi::{explorer_alloc, explorer_free, explorer_handle};
use wengert_explorer::handle;

fn ask(request: Value) -> Value {
    serde_json::from_str(&handle(&request.to_string())).expect("handle answers JSON")
}

fn number(value: &Value) -> f64 {
    value.as_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("{value} is not a printed number"))
}

fn numbers(value: &Value) -> Vec<f64> {
    value.as_array().expect("an array").iter().map(number).collect()
}

fn gradient(answer: &Value, name: &str) -> Vec<f64> {
    let gradients = answer["gradients"].as_array().expect("gradients");
    let entry = gradients.iter().find(|g| g["name"] == name).unwrap_or_else(|| panic!("no gradient for {name}"));
    numbers(&entry["values"])
}

fn assert_close(got: &[f64], want: &[f64], rel: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: {got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= rel * w.abs().max(1e-300), "{what}: {got:?}, notes {want:?}");
    }
}

#[test]
fn the_2_3_1_network_prints_the_notes_loss_and_output_bias_gradient() {
    let answer = ask(json!({"graph": "net231"}));
    assert_eq!(answer["ok"], true, "{answer}");
    // Notes 6a, to their 12 printed digits.
    assert_eq!(answer["loss"], "0.0723034528622");
    assert_eq!(gradient(&answer, "B2"), [-0.0896169272249]);
    assert_eq!(answer["gradients"][3]["values"][0], "-0.0896169272249");
    assert_close(&gradient(&answer, "V"), &[-0.0501598173732, -0.0562030557329, -0.0618333928622], 1e-10, "dE/dV");
    assert_close(
        &gradient(&answer, "W"),
        &[
            -0.000883387317786,
            -0.0016764347896,
            -0.00230039156469,
            -0.00110423414723,
            -0.00209554348701,
            -0.00287548945586,
        ],
        1e-10,
        "dE/dW",
    );
    assert_close(&gradient(&answer, "B1"), &[-0.00220846829447, -0.00419108697401, -0.00575097891173], 1e-10, "dE/dB1");
}

#[test]
fn the_sweep_runs_from_the_loss_to_the_leaves_with_rules_numbers_and_bp_equations() {
    let answer = ask(json!({"graph": "net231"}));
    let sweep = answer["sweep"].as_array().expect("sweep");
    let order: Vec<u64> = sweep.iter().map(|s| s["node"].as_u64().unwrap_or(u64::MAX)).collect();
    assert_eq!(order, [15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 4, 3, 2, 1], "decreasing index, constants skipped");
    let step = |node: u64| sweep.iter().find(|s| s["node"] == node).expect("a step");
    // Y = sigmoid(net_2): delta_2 = (Y - t) Y (1 - Y), BP1, with the numbers put in.
    let y = step(11);
    assert_eq!(y["rule"], "dz = g (.) s (1 - s) -> #10");
    assert!(y["equation"].as_str().is_some_and(|e| e.ends_with("(BP1)")), "{y}");
    let worked = y["worked"][0].as_str().expect("a worked line");
    assert!(worked.contains("(-0.380272146922) (.) (0.619727853078) (1 - (0.619727853078))"), "{worked}");
    assert!(worked.ends_with("= [[-0.0896169272249]] -> #10"), "{worked}");
    assert!(step(10)["equation"].as_str().is_some_and(|e| e.contains("(BP4)")));
    assert!(step(6)["equation"].as_str().is_some_and(|e| e.contains("dW^1 = X^T delta^1 (BP3)")));
    assert!(step(8)["equation"].as_str().is_some_and(|e| e.ends_with("(BP2)")));
    assert_eq!(step(4)["adjoint"][0], "-0.0896169272249");
}

#[test]
fn the_chain_matches_the_notes_first_sample() {
    let answer = ask(json!({"graph": "chain"}));
    assert_eq!(answer["loss"], "0.528740472682");
    assert_close(&gradient(&answer, "w1"), &[0.124912216143], 1e-10, "dL/dw1");
    assert_close(&gradient(&answer, "w2"), &[-0.125073047323], 1e-10, "dL/dw2");
    assert_close(&gradient(&answer, "w3"), &[-0.0558993728085], 1e-10, "dL/dw3");
}

#[test]
fn xor_uses_relu_prime_zero_and_the_check_flags_the_kinks() {
    let answer = ask(json!({"graph": "xor", "check": true}));
    assert_eq!(answer["loss"], "2"); // outputs [0, 1, 1, 0]
    assert_eq!(gradient(&answer, "c"), [3.0, -2.0]);
    assert_eq!(gradient(&answer, "W"), [2.0, -2.0, 2.0, -2.0]);
    assert_eq!(gradient(&answer, "w"), [4.0, 1.0]);
    assert_eq!(gradient(&answer, "b"), [4.0]);
    let check = &answer["check"];
    assert_eq!(check["passes"], false);
    let row = |name: &str| check["rows"].as_array().and_then(|r| r.iter().find(|r| r["name"] == name)).cloned();
    // Central differences average the one-sided slopes at the kinks: dS/dc = [3.5, -4].
    let c1 = row("c[1]").expect("row c[1]");
    assert_close(&[number(&c1["numeric"])], &[-4.0], 1e-6, "numeric dS/dc[1]");
    assert_eq!(c1["agrees"], false);
    assert_eq!(row("b[0]").map(|r| r["agrees"].clone()), Some(json!(true)));
}

#[test]
fn the_gradient_check_passes_on_the_network_the_chain_and_an_expression() {
    for request in [
        json!({"graph": "net231", "check": true}),
        json!({"graph": "chain", "check": true}),
        json!({"graph": "expression", "expression": "sigmoid(w1 * x + b) * w2 - tanh(x / w2) ^ 2", "check": true}),
    ] {
        let answer = ask(request.clone());
        assert_eq!(answer["check"]["passes"], true, "{request}: {}", answer["check"]);
        assert!(answer["check"]["rows"].as_array().is_some_and(|rows| rows.iter().all(|r| r["agrees"] == true)));
    }
}

#[test]
fn one_step_of_gradient_descent_reaches_the_notes_loss_and_training_lowers_it() {
    // Notes 6a: one SGD step with lr 0.01 on all four parameters gives E = 0.0721275231772.
    let one = ask(json!({"graph": "net231", "train": {"steps": 1, "learning_rate": 0.01}}));
    assert_eq!(one["train"]["last"], "0.0721275231772");
    let run = ask(json!({"graph": "net231", "train": {"steps": 200, "learning_rate": 0.5}}));
    let losses: Vec<f64> =
        run["train"]["losses"].as_array().expect("losses").iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect();
    assert_eq!(losses.len(), 201);
    assert!(losses.windows(2).all(|w| w[1] < w[0]), "every step lowers E at this rate");
    assert!(losses[200] < 0.1 * losses[0], "E falls from {} to {}", losses[0], losses[200]);
    // The trained values, sent back, give the last loss.
    let again = ask(json!({"graph": "net231", "values": run["train"]["values"]}));
    assert_eq!(again["loss"], run["train"]["last"]);
}

#[test]
fn an_edited_weight_changes_the_loss_to_the_closed_form_value() {
    let w = [0.7, 0.3, 0.5, 0.2, 0.4, 0.6];
    let answer = ask(json!({"graph": "net231", "values": {"W": w}}));
    let sigmoid = |z: f64| 1.0 / (1.0 + (-z).exp());
    let x = [0.4, 0.5];
    let h: Vec<f64> = (0..3).map(|j| sigmoid(x[0] * w[j] + x[1] * w[3 + j] + [0.1, 0.2, 0.3][j])).collect();
    let y = sigmoid(h[0] * 0.1 + h[1] * 0.2 + h[2] * 0.3 + 0.1);
    let e = 0.5 * (1.0 - y) * (1.0 - y);
    assert_close(&[number(&answer["loss"])], &[e], 1e-10, "E after editing W[0][0]");
    assert_ne!(answer["loss"], "0.0723034528622");
}

#[test]
fn an_expression_records_the_engine_scalar_ops_and_its_gradients_match_closed_forms() {
    let answer = ask(json!({
        "graph": "expression",
        "expression": "sigmoid(w1 * x + b) * w2",
        "values": {"w1": [0.5], "x": [2.0], "b": [-0.25], "w2": [3.0]},
    }));
    let ops: Vec<&str> = answer["nodes"].as_array().expect("nodes").iter().filter_map(|n| n["op"].as_str()).collect();
    assert_eq!(ops, ["var", "var", "var", "var", "mul", "add", "sigmoid", "mul"]);
    let s = 1.0 / (1.0 + (-(0.5 * 2.0 - 0.25_f64)).exp());
    assert_close(&[number(&answer["loss"])], &[s * 3.0], 1e-11, "value");
    let ds = s * (1.0 - s) * 3.0;
    assert_close(&gradient(&answer, "w1"), &[ds * 2.0], 1e-11, "d/dw1");
    assert_close(&gradient(&answer, "x"), &[ds * 0.5], 1e-11, "d/dx");
    assert_close(&gradient(&answer, "b"), &[ds], 1e-11, "d/db");
    assert_close(&gradient(&answer, "w2"), &[s], 1e-11, "d/dw2");
}

#[test]
fn a_name_used_twice_collects_every_contribution() {
    // d(x * x + 3 x)/dx = 2 x + 3 = 4 at x = 0.5.
    let answer = ask(json!({"graph": "expression", "expression": "x * x + 3 * x", "values": {"x": [0.5]}}));
    assert_eq!(gradient(&answer, "x"), [4.0]);
    let mul = answer["sweep"].as_array().and_then(|s| s.iter().find(|s| s["op"] == "mul")).cloned().expect("mul");
    assert_eq!(mul["worked"].as_array().map(Vec::len), Some(2), "one line per input position: {mul}");
}

#[test]
fn expression_errors_name_the_column() {
    let cases = [
        ("sigmoid(w1 * x + b", 19, "expected ')' to close the '(' of column 8"),
        ("sigmiod(w1 * x)", 1, "unknown function 'sigmiod'"),
        ("w1 * * x", 6, "expected a number, a name or '('"),
        ("w1 $ x", 4, "unexpected character '$'"),
        ("w1 x", 4, "expected an operator or the end, found 'x'"),
        ("", 1, "the expression is empty"),
        ("2 * 3", 1, "no name"),
        ("tanh * x", 1, "'tanh' is a function"),
        ("(w + 1))", 8, "found ')'"),
    ];
    for (text, column, message) in cases {
        let answer = ask(json!({"graph": "expression", "expression": text}));
        assert_eq!(answer["ok"], false, "{text:?}");
        assert_eq!(answer["field"], "expression", "{text:?}");
        assert_eq!(answer["column"], column, "{text:?}: {answer}");
        let error = answer["error"].as_str().unwrap_or("");
        assert!(error.starts_with(&format!("column {column}: ")) && error.contains(message), "{text:?}: {error}");
    }
}

#[test]
fn bad_requests_get_typed_errors_naming_the_field() {
    let cases = [
        (json!({"graph": "lenet"}), "graph"),
        (json!({"graph": "net231", "values": {"W": [1.0, 2.0]}}), "values.W"),
        (json!({"graph": "net231", "values": {"Q": [1.0]}}), "values.Q"),
        (json!({"graph": "chain", "train": {"steps": 1_000_000, "learning_rate": 0.1}}), "train.steps"),
        (json!({"graph": "chain", "train": {"steps": 3, "learning_rate": -1.0}}), "train.learning_rate"),
        (json!({"graph": "chain", "colour": "red"}), "request"),
    ];
    for (request, field) in cases {
        let answer = ask(request.clone());
        assert_eq!(
            (answer["ok"].clone(), answer["field"].clone()),
            (json!(false), json!(field)),
            "{request}: {answer}"
        );
    }
    let not_json: Value = serde_json::from_str(&handle("{graph:")).expect("an error answer");
    assert_eq!(not_json["field"], "request");
}

#[test]
fn the_exported_functions_answer_as_handle_does() {
    let request = json!({"graph": "net231", "values": {"B2": [0.3]}}).to_string();
    let bytes = request.as_bytes();
    // SAFETY: the buffers come from explorer_alloc / explorer_handle and go back to
    // explorer_free with the lengths they were made with; reads stay within those lengths.
    let answer = unsafe {
        let input = explorer_alloc(bytes.len());
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), input, bytes.len());
        let mut out_len = 0usize;
        let output = explorer_handle(input, bytes.len(), &mut out_len);
        let answer = std::str::from_utf8(std::slice::from_raw_parts(output, out_len)).map(str::to_owned);
        explorer_free(output, out_len);
        explorer_free(input, bytes.len());
        answer
    };
    assert_eq!(answer.as_deref(), Ok(handle(&request).as_str()));
    // An empty request is a JSON error, not a crash.
    // SAFETY: a zero length is never read; the returned buffer is freed with its length.
    let empty = unsafe {
        let mut out_len = 0usize;
        let output = explorer_handle(std::ptr::null(), 0, &mut out_len);
        let text = String::from_utf8_lossy(std::slice::from_raw_parts(output, out_len)).into_owned();
        explorer_free(output, out_len);
        text
    };
    assert!(empty.contains(r#""field":"request""#), "{empty}");
}

#[test]
fn odd_expressions_are_answered_never_panicked_on() {
    let expressions = [
        "ln(-1) * x",
        "x / 0",
        "x ^ -3",
        "2 ^ x ^ 2",
        "((((x))))",
        "-(-x)",
        "x - -x",
        "1e400 * x",
        "x ^ 0.5 + sqrt(x) / x",
        "ln(0 * x)",
        "sigmoid(2) * x",
        "x ** 2 * y",
        "exp(exp(exp(x * 100)))",
    ];
    for expression in expressions {
        for extra in [json!({}), json!({"check": true}), json!({"train": {"steps": 20, "learning_rate": 0.1}})] {
            let mut request = json!({"graph": "expression", "expression": expression});
            if let (Some(request), Some(extra)) = (request.as_object_mut(), extra.as_object()) {
                request.extend(extra.clone());
            }
            let answer = ask(request.clone());
            assert_eq!(answer["ok"], true, "{request}: {answer}");
        }
    }
    // 2 ^ x ^ 2 groups to the right: 2^(x^2), d/dx = 2^(x^2) ln 2 * 2x; x = 0.5 by default.
    let answer = ask(json!({"graph": "expression", "expression": "2 ^ x ^ 2"}));
    let want = 2f64.powf(0.25) * 2f64.ln() * 2.0 * 0.5;
    assert_close(&gradient(&answer, "x"), &[want], 1e-11, "d(2^(x^2))/dx");
}
