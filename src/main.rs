use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = synack::cli::Cli::parse();
    match synack::commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("synack: {}", synack::commands::error_line(&e));
            ExitCode::FAILURE
        }
    }
}
