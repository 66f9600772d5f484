//! `switchboard-bench`: measures Switchboard's fanout in process and over
//! WebSockets, compares it with a bare broadcast server, and writes the
//! results as a table, JSON and an SVG chart. See BENCHMARKS.md for how to run
//! it and what the figures mean.

mod baseline;
mod chart;
mod cli;
mod inproc;
mod load;
mod marker;
mod node;
mod progress;
mod report;
mod seed;
mod system;
mod ws;

use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Parser;

use cli::{Cli, Plan, Scenario};
use progress::Progress;
use report::Report;
use system::Machine;

/// File descriptors kept free beyond one per client, for HTTP connections,
/// the store and the runtime.
const SPARE_FILES: u64 = 2_048;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: starting the tokio runtime failed: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = match cli.internal_baseline_server {
        Some(address) => runtime.block_on(baseline::serve(address)).map(|()| true),
        None => runtime.block_on(run(cli)),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SWITCHBOARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Runs the selected scenarios and reports. Returns `false` when a scenario
/// failed, or in smoke mode when a post did not reach every member.
async fn run(cli: Cli) -> anyhow::Result<bool> {
    marker::now_micros();
    let plan = Plan::from_cli(&cli)?;
    let file_limit = system::raise_file_limit().context("raising RLIMIT_NOFILE failed")?;
    eprintln!("RLIMIT_NOFILE soft limit raised to {file_limit}");
    let needs_sockets = cli.scenario != Scenario::Inproc;
    if needs_sockets && plan.clients as u64 + SPARE_FILES > file_limit {
        bail!(
            "--clients {} needs about {} file descriptors but the limit is {file_limit}: lower --clients",
            plan.clients,
            plan.clients as u64 + SPARE_FILES
        );
    }

    let progress = Progress::start();
    let mut report = Report {
        plan: plan.clone(),
        machine: Machine::detect(Some(file_limit)),
        inproc: None,
        ws: Vec::new(),
        ratios: Vec::new(),
        errors: Vec::new(),
    };
    run_scenarios(&cli, &plan, &progress, &mut report).await;
    progress.finish();

    report.compute_ratios();
    print!("{}", report.tables());
    if let Some(path) = &cli.json {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("writing {} failed", path.display()))?;
        eprintln!("results written to {}", path.display());
    }
    if let Some(path) = &cli.chart {
        chart::draw(&report, path)?;
        eprintln!("chart written to {}", path.display());
    }

    let complete = report.complete();
    if cli.smoke {
        println!(
            "smoke: {}",
            if complete {
                "every post reached every member"
            } else {
                "FAILED"
            }
        );
        return Ok(complete);
    }
    Ok(report.errors.is_empty())
}

async fn run_scenarios(cli: &Cli, plan: &Plan, progress: &Progress, report: &mut Report) {
    let scenario = cli.scenario;
    if scenario.includes(Scenario::Inproc) {
        match inproc::run(plan, progress).await {
            Ok(result) => report.inproc = Some(result),
            Err(error) => report.errors.push(format!("inproc: {error:#}")),
        }
    }

    // The baseline alone is only a reference, so it also runs the durable node.
    let wants_node = scenario != Scenario::Inproc;
    if wants_node {
        if let Some(url) = &cli.node_url {
            if scenario.includes(Scenario::Durability) {
                progress.println(
                    "durability: skipped, it needs a node this harness starts (no --node-url)"
                        .into(),
                );
            }
            match ws::run_remote(plan, url, &cli.token, progress).await {
                Ok(result) => report.ws.push(result),
                Err(error) => report.errors.push(format!("ws (remote node): {error:#}")),
            }
        } else {
            match node::node_binary(cli.node_bin.as_deref()) {
                Ok(binary) => {
                    let mut modes = vec![true];
                    if scenario.includes(Scenario::Durability) {
                        modes.push(false);
                    }
                    for durable in modes {
                        match ws::run_switchboard(plan, &binary, durable, progress).await {
                            Ok(result) => report.ws.push(result),
                            Err(error) => report
                                .errors
                                .push(format!("ws (durable = {durable}): {error:#}")),
                        }
                    }
                }
                Err(error) => report.errors.push(format!("ws: {error:#}")),
            }
        }
    }

    if scenario.includes(Scenario::Baseline) {
        match ws::run_baseline(plan, progress).await {
            Ok(result) => report.ws.push(result),
            Err(error) => report.errors.push(format!("baseline: {error:#}")),
        }
    }
}
