//! Gradient descent (G1) from the request's values, each step one recording and one sweep.

use crate::explore::Refusal;
use crate::graph::Graph;
use crate::request::{TrainOut, MAX_TRAIN_STEPS};
use crate::show;
use wengert_tape::Tape;

/// Gradient descent on every trainable leaf (G1): all gradients from one sweep, then all
/// updates.
pub(crate) fn run_training(graph: &Graph, steps: usize, learning_rate: f64) -> Result<TrainOut, Refusal> {
    if steps > MAX_TRAIN_STEPS {
        return Err(Refusal::new("train.steps", format!("{steps} steps asked, at most {MAX_TRAIN_STEPS}")));
    }
    if !(learning_rate.is_finite() && learning_rate > 0.0) {
        return Err(Refusal::new("train.learning_rate", format!("{learning_rate} is not a finite positive number")));
    }
    let mut graph = graph.clone();
    let output = graph.output();
    let trainable = graph.trainable();
    let mut losses = Vec::with_capacity(steps + 1);
    for step in 0..=steps {
        let tape = Tape::<f64>::new();
        let vars = graph.record(&tape);
        let loss = vars[output].value();
        losses.push(loss);
        if step == steps {
            break;
        }
        let grads = tape.backward(vars[output]);
        let updates: Vec<Vec<f64>> = trainable.iter().map(|&i| grads.wrt_slice(vars[i]).to_vec()).collect();
        drop(grads);
        for (&leaf, gradient) in trainable.iter().zip(updates) {
            for (theta, g) in graph.leaf_values_mut(leaf).iter_mut().zip(gradient) {
                *theta -= learning_rate * g;
            }
        }
    }
    let values = trainable.iter().map(|&i| (graph.nodes[i].label.clone(), graph.leaf_values(i).to_vec())).collect();
    Ok(TrainOut {
        steps,
        learning_rate: show(learning_rate),
        first: show(losses[0]),
        last: show(losses[steps]),
        losses: losses.iter().map(|&x| x.is_finite().then_some(x)).collect(),
        values,
    })
}
