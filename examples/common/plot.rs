//! The trainer's records: per-epoch metrics as CSV (read back on --resume) and the loss and
//! accuracy curves as an SVG plot.

use plotters::prelude::*;
use std::error::Error;
use std::fmt::Write as _;
use std::path::Path;
use wengert::nn::train::EpochMetrics;

/// Reads one number of an epoch's metrics.
type Metric = fn(&EpochMetrics) -> f32;

const HEADER: &str = "epoch,train_loss,train_accuracy,test_loss,test_accuracy,seconds";

/// Writes every epoch's metrics, one row each.
pub fn write_metrics(path: &Path, history: &[EpochMetrics]) -> Result<(), Box<dyn Error>> {
    let mut text = format!("{HEADER}\n");
    for m in history {
        writeln!(
            text,
            "{},{},{},{},{},{}",
            m.epoch, m.train_loss, m.train_accuracy, m.test_loss, m.test_accuracy, m.seconds
        )?;
    }
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(())
}

/// Reads what [`write_metrics`] wrote; a missing file is an empty history.
pub fn read_metrics(path: &Path) -> Result<Vec<EpochMetrics>, Box<dyn Error>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display()).into()),
    };
    let mut history = Vec::new();
    for (number, line) in text.lines().enumerate().skip(1) {
        let bad = || format!("{} line {}: expected {HEADER}, found '{line}'", path.display(), number + 1);
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != 6 {
            return Err(bad().into());
        }
        let float = |i: usize| fields[i].parse::<f32>().map_err(|_| bad());
        history.push(EpochMetrics {
            epoch: fields[0].parse().map_err(|_| bad())?,
            train_loss: float(1)?,
            train_accuracy: float(2)?,
            test_loss: float(3)?,
            test_accuracy: float(4)?,
            seconds: fields[5].parse().map_err(|_| bad())?,
        });
    }
    Ok(history)
}

/// Two panels side by side: loss (train and test) and accuracy (train and test) by epoch.
pub fn write_svg(path: &Path, title: &str, history: &[EpochMetrics]) -> Result<(), Box<dyn Error>> {
    let root = SVGBackend::new(path, (1000, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(500);
    let last_epoch = history.iter().map(|m| m.epoch).max().unwrap_or(1).max(2) as f64;
    let max_loss = history.iter().map(|m| m.train_loss.max(m.test_loss)).fold(0.0_f32, f32::max).max(1e-3) as f64;
    let panels: [(_, String, f64, [Metric; 2]); 2] = [
        (&left, format!("{title}: loss"), max_loss * 1.05, [|m| m.train_loss, |m| m.test_loss]),
        (&right, format!("{title}: accuracy"), 1.0, [|m| m.train_accuracy, |m| m.test_accuracy]),
    ];
    for (area, caption, y_max, series) in panels {
        let mut chart = ChartBuilder::on(area)
            .caption(caption, ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(50)
            .build_cartesian_2d(1.0..last_epoch, 0.0..y_max)?;
        chart.configure_mesh().x_desc("epoch").draw()?;
        for (pick, (name, color)) in series.iter().zip([("train", BLUE), ("test", RED)]) {
            let points = history.iter().map(|m| (m.epoch as f64, f64::from(pick(m))));
            chart
                .draw_series(LineSeries::new(points, color))?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    }
    root.present()?;
    Ok(())
}
