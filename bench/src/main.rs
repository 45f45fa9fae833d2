//! `goop-bench <scenario>`: the benchmarks run by `scripts/bench`. Each scenario runs on loopback,
//! bounds its work, and prints `RESULT <name> <value>` lines (names in BENCHMARKS.md).

mod store;

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let scenario = std::env::args().nth(1).unwrap_or_default();
    println!(
        "cpus {}",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let outcome = match scenario.as_str() {
        "store" => store::run().await,
        other => Err(format!("unknown scenario {other:?}; known: store")),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("goop-bench: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Prints one figure in the format tools read.
fn result(name: &str, value: f64) {
    println!("RESULT {name} {value:.1}");
}
