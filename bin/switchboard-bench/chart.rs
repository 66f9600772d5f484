//! The `--chart` SVG: in-process deliveries per second by channel size, and
//! WebSocket deliveries per second and latency percentiles by server. It uses
//! plotters' SVG backend without a font feature, so text is written as SVG
//! `<text>` elements and no font files are needed.

use std::path::Path;

use anyhow::anyhow;
use plotters::prelude::*;

use crate::report::Report;

/// Draws the chart into `path`.
pub fn draw(report: &Report, path: &Path) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (1000, 1050)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let title = format!(
        "switchboard-bench ({} mode, {} CPUs, {})",
        report.plan.mode, report.machine.cpus, report.machine.cpu_model
    );
    let root = root
        .titled(&title, ("sans-serif", 20))
        .map_err(plot_error)?;
    let panels = root.split_evenly((3, 1));
    draw_inproc(report, &panels[0])?;
    draw_deliveries(report, &panels[1])?;
    draw_latency(report, &panels[2])?;
    root.present().map_err(plot_error)?;
    Ok(())
}

fn plot_error<E: std::fmt::Display>(error: E) -> anyhow::Error {
    anyhow!("drawing the chart failed: {error}")
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

/// Log-log line of deliveries per second against channel members.
fn draw_inproc(report: &Report, area: &Area) -> anyhow::Result<()> {
    let Some(inproc) = &report.inproc else {
        return Ok(());
    };
    let points: Vec<(f64, f64)> = inproc
        .sizes
        .iter()
        .filter(|size| size.deliveries_per_sec > 0.0)
        .map(|size| (size.members as f64, size.deliveries_per_sec))
        .collect();
    if points.is_empty() {
        return Ok(());
    }
    let max_x = points.iter().map(|p| p.0).fold(10.0, f64::max) * 2.0;
    let max_y = points.iter().map(|p| p.1).fold(10.0, f64::max) * 3.0;
    let min_y = points.iter().map(|p| p.1).fold(f64::MAX, f64::min) / 3.0;
    let mut chart = ChartBuilder::on(area)
        .caption(
            "In-process deliveries/s by channel members",
            ("sans-serif", 16),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(80)
        .build_cartesian_2d(
            (0.5f64..max_x).log_scale(),
            (min_y.max(1.0)..max_y).log_scale(),
        )
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc("members")
        .x_label_formatter(&|value| format!("{value:.0}"))
        .y_desc("deliveries/s")
        .y_label_formatter(&|value| format!("{value:.0e}"))
        .draw()
        .map_err(plot_error)?;
    chart
        .draw_series(LineSeries::new(points.clone(), BLUE.stroke_width(2)))
        .map_err(plot_error)?;
    chart
        .draw_series(
            points
                .iter()
                .map(|&point| Circle::new(point, 4, BLUE.filled())),
        )
        .map_err(plot_error)?;
    Ok(())
}

/// Bars of deliveries per second of each server's `max` phase.
fn draw_deliveries(report: &Report, area: &Area) -> anyhow::Result<()> {
    let bars: Vec<(String, f64)> = report
        .ws
        .iter()
        .filter_map(|run| {
            let phase = run.phases.iter().find(|phase| phase.name == "max")?;
            Some((run.label.clone(), phase.deliveries_per_sec))
        })
        .collect();
    if bars.is_empty() {
        return Ok(());
    }
    let top = bars.iter().map(|bar| bar.1).fold(1.0, f64::max) * 1.15;
    let labels: Vec<String> = bars.iter().map(|bar| bar.0.clone()).collect();
    let mut chart = ChartBuilder::on(area)
        .caption(
            "WebSocket deliveries/s, posting as fast as accepted",
            ("sans-serif", 16),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(80)
        .build_cartesian_2d(-0.5f64..bars.len() as f64 - 0.5, 0f64..top)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(bars.len() * 2 + 1)
        .x_label_formatter(&|x| bar_label(&labels, *x))
        .y_label_formatter(&|value| format!("{value:.0}"))
        .y_desc("deliveries/s")
        .draw()
        .map_err(plot_error)?;
    chart
        .draw_series(bars.iter().enumerate().map(|(index, bar)| {
            let x = index as f64;
            Rectangle::new([(x - 0.3, 0.0), (x + 0.3, bar.1)], BLUE.mix(0.7).filled())
        }))
        .map_err(plot_error)?;
    Ok(())
}

/// Grouped bars of p50, p99 and p99.9 latency of each server's `rate` phase.
fn draw_latency(report: &Report, area: &Area) -> anyhow::Result<()> {
    let groups: Vec<(String, [f64; 3])> = report
        .ws
        .iter()
        .filter_map(|run| {
            let latency = run
                .phases
                .iter()
                .find(|phase| phase.name == "rate")?
                .latency
                .as_ref()?;
            let ms = |micros: u64| micros as f64 / 1000.0;
            Some((
                run.label.clone(),
                [ms(latency.p50_us), ms(latency.p99_us), ms(latency.p999_us)],
            ))
        })
        .collect();
    if groups.is_empty() {
        return Ok(());
    }
    let top = groups.iter().flat_map(|group| group.1).fold(0.1, f64::max) * 1.15;
    let labels: Vec<String> = groups.iter().map(|group| group.0.clone()).collect();
    let caption = format!(
        "Post-to-delivery latency (ms) at {} posts/s: p50, p99, p99.9",
        report.plan.rate
    );
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(80)
        .build_cartesian_2d(-0.5f64..groups.len() as f64 - 0.5, 0f64..top)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(groups.len() * 2 + 1)
        .x_label_formatter(&|x| bar_label(&labels, *x))
        .y_desc("ms")
        .draw()
        .map_err(plot_error)?;
    let colors = [GREEN.mix(0.8), BLUE.mix(0.8), RED.mix(0.8)];
    let names = ["p50", "p99", "p99.9"];
    for (quantile, (color, name)) in colors.into_iter().zip(names).enumerate() {
        chart
            .draw_series(groups.iter().enumerate().map(|(index, group)| {
                let left = index as f64 - 0.3 + quantile as f64 * 0.2;
                Rectangle::new(
                    [(left, 0.0), (left + 0.18, group.1[quantile])],
                    color.filled(),
                )
            }))
            .map_err(plot_error)?
            .label(name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(plot_error)?;
    Ok(())
}

/// Returns the label of the bar at integer position `x`, and nothing between bars.
fn bar_label(labels: &[String], x: f64) -> String {
    let index = x.round();
    if (x - index).abs() > 0.01 || index < 0.0 {
        return String::new();
    }
    labels.get(index as usize).cloned().unwrap_or_default()
}
