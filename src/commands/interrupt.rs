//! Ctrl-C, SIGTERM and a closed terminal (SIGHUP) during a command that writes files: the
//! half-written files and temporary folders are removed, what completed is kept (and given to
//! the sudo user), one line says so, and the process exits with 128 + the signal (130, 143,
//! 129). An emulated link's namespaces end with the process.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Set in the signal handler itself, before a system call it interrupts returns: the command's
/// own failure (a connect() cut short by EINTR) is then the signal's, which the signal thread
/// reports.
static SIGNALLED: std::sync::LazyLock<Arc<AtomicBool>> =
    std::sync::LazyLock::new(|| Arc::new(AtomicBool::new(false)));

/// Whether one of the watched signals has come: a command failing now leaves the one line to
/// the signal thread, which ends the process.
pub fn signalled() -> bool {
    SIGNALLED.load(Ordering::SeqCst)
}

/// Waits for the signal thread to end the process (it removes what is half-written first);
/// returns if it has not within a few seconds.
pub fn wait_for_the_signal_thread() {
    std::thread::sleep(Duration::from_secs(10));
}

/// Watches for SIGINT, SIGTERM and SIGHUP from now on, on a thread of its own.
pub fn clean_up_on_signals() -> anyhow::Result<()> {
    for signal in [SIGINT, SIGTERM, SIGHUP] {
        signal_hook::flag::register(signal, Arc::clone(&SIGNALLED))
            .context("cannot watch for Ctrl-C, SIGTERM and SIGHUP")?;
    }
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])
        .context("cannot watch for Ctrl-C, SIGTERM and SIGHUP")?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                let removed = crate::created::interrupt();
                // Nothing more can be done about an ownership failure while exiting.
                let _ = super::ownership::give_made_to_invoking_user();
                let kept = crate::created::made_paths()
                    .iter()
                    .filter(|p| p.is_file())
                    .count();
                let name = match signal {
                    SIGTERM => "SIGTERM",
                    SIGHUP => "SIGHUP",
                    _ => "SIGINT",
                };
                let mut stderr = std::io::stderr();
                // On a terminal, the progress bar's line is cleared first, so the bar is not
                // left standing above the words.
                if stderr.is_terminal() {
                    let _ = write!(stderr, "\r\x1b[2K");
                }
                // stderr may be closed too; the exit status still tells.
                let _ = writeln!(
                    stderr,
                    "synack: interrupted ({name}); kept {}, removed {} half-written",
                    crate::words::counted(kept, "finished file", "finished files"),
                    removed.len()
                );
                std::process::exit(128 + signal);
            }
        })
        .context("cannot start the signal thread")?;
    Ok(())
}
