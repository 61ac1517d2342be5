//! `kiln fit --plot`: the History's curves per epoch, as an SVG.

use anyhow::{anyhow, Result};
use plotters::prelude::*;
use serde_json::{Map, Value};

/// One chart per History key (loss, the per-output losses, the metrics; `val_` keys
/// drawn with their training key), epochs along the bottom.
pub fn curves(history: &Map<String, Value>) -> Result<String> {
    let series = |key: &str| -> Vec<f64> {
        history
            .get(key)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default()
    };
    let keys: Vec<&String> = history.keys().filter(|k| !k.starts_with("val_")).collect();
    let rows = keys.len().max(1) as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (640, 240 * rows)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow!("plot: {e}"))?;
        for (area, key) in root.split_evenly((rows as usize, 1)).iter().zip(&keys) {
            let train = series(key);
            let val = series(&format!("val_{key}"));
            let epochs = train.len().max(1);
            let (lo, hi) = train
                .iter()
                .chain(&val)
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                    (lo.min(v), hi.max(v))
                });
            let (lo, hi) = if lo.is_finite() && hi > lo {
                (lo, hi)
            } else {
                (lo.min(0.0), lo.max(0.0) + 1.0)
            };
            let margin = (hi - lo) * 0.05;
            let mut chart = ChartBuilder::on(area)
                .caption(key.as_str(), ("sans-serif", 18))
                .margin(10)
                .x_label_area_size(30)
                .y_label_area_size(60)
                .build_cartesian_2d(1f64..epochs.max(2) as f64, (lo - margin)..(hi + margin))
                .map_err(|e| anyhow!("plot: {e}"))?;
            chart
                .configure_mesh()
                .x_desc("epoch")
                .draw()
                .map_err(|e| anyhow!("plot: {e}"))?;
            let points = |v: &[f64]| {
                v.iter()
                    .enumerate()
                    .map(|(i, &y)| (i as f64 + 1.0, y))
                    .collect::<Vec<_>>()
            };
            chart
                .draw_series(LineSeries::new(points(&train), &BLUE))
                .map_err(|e| anyhow!("plot: {e}"))?
                .label(key.as_str())
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
            if !val.is_empty() {
                chart
                    .draw_series(LineSeries::new(points(&val), &RED))
                    .map_err(|e| anyhow!("plot: {e}"))?
                    .label(format!("val_{key}"))
                    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
            }
            chart
                .configure_series_labels()
                .border_style(BLACK)
                .draw()
                .map_err(|e| anyhow!("plot: {e}"))?;
        }
        root.present().map_err(|e| anyhow!("plot: {e}"))?;
    }
    Ok(svg)
}
