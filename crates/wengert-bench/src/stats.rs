//! Per-step times and their summary: median, min, max, 10th and 90th percentiles.

use std::time::Instant;

/// Times of one implementation, in milliseconds per step.
#[derive(Default)]
pub struct Samples {
    millis: Vec<f64>,
}

impl Samples {
    /// Runs `f` once and, unless this is a warm-up, records how long it took.
    pub fn time<R>(&mut self, record: bool, f: impl FnOnce() -> R) -> R {
        let start = Instant::now();
        let result = f();
        let elapsed = start.elapsed().as_secs_f64() * 1e3;
        if record {
            self.millis.push(elapsed);
        }
        result
    }

    pub fn summary(&self) -> Summary {
        let mut sorted = self.millis.clone();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        assert!(n > 0, "no timed steps");
        let median = if n % 2 == 1 { sorted[n / 2] } else { 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]) };
        let rank = |p: f64| sorted[((p * (n - 1) as f64).round() as usize).min(n - 1)];
        Summary { median, min: sorted[0], max: sorted[n - 1], p10: rank(0.1), p90: rank(0.9) }
    }
}

/// Milliseconds per step.
#[derive(Clone, Copy)]
pub struct Summary {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub p10: f64,
    pub p90: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_known_samples() {
        let samples = Samples { millis: vec![5.0, 1.0, 3.0, 2.0, 4.0, 9.0] };
        let s = samples.summary();
        assert_eq!((s.median, s.min, s.max), (3.5, 1.0, 9.0));
        // Nearest rank on 0..n-1: 0.1 * 5 = 0.5 rounds to rank 1, 0.9 * 5 = 4.5 to rank 5.
        assert_eq!((s.p10, s.p90), (2.0, 9.0));
    }
}
