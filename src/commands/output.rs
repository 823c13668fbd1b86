//! Standard output that a closed pipe (`synack compare | head`) silences instead of failing:
//! once a write finds stdout closed nothing more is printed, and the command carries on to write
//! the files it promised.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes `text` to stdout, unless stdout is closed.
pub fn print(text: &str) {
    if CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        // A reader that has gone (EPIPE) or a full disk behind a redirection: either way no
        // one reads the rest, and the run's files matter more.
        CLOSED.store(true, Ordering::Relaxed);
    }
}

/// `print!` through [`print`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::commands::output::print(&format!($($arg)*))
    };
}

/// `println!` through [`print`].
macro_rules! outln {
    () => {
        $crate::commands::output::print("\n")
    };
    ($($arg:tt)*) => {
        $crate::commands::output::print(&format!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) use {out, outln};
