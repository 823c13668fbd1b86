use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = synack::cli::Cli::parse();
    match synack::commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // A failure a signal caused (a system call it interrupted) is the signal thread's to
        // report, in its one line, before it ends the process.
        Err(_) if synack::commands::interrupt::signalled() => {
            synack::commands::interrupt::wait_for_the_signal_thread();
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("synack: {}", synack::commands::error_line(&e));
            ExitCode::FAILURE
        }
    }
}
