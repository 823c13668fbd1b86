//! Commands layer: the progress bar of `synack compare` on stderr. Draws with indicatif; reads
//! nothing of capture or analysis.

use std::io::{self, IsTerminal, Write};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};

use crate::transfer::run::Mode;

/// A comparison quicker than this shows no progress bar.
const PROGRESS_AFTER: Duration = Duration::from_secs(1);

/// Columns the bar leaves free at the end of its line: room for the "^C" a terminal echoes on
/// Ctrl-C. A line of the terminal's full width would have the echo wrap onto a line of its own,
/// and the interrupt's message, which clears only the line it starts on, would leave the bar
/// standing above it.
const ECHO_ROOM: u16 = 3;

/// How often the bar is drawn at most.
const REDRAWS_PER_SECOND: u8 = 20;

/// The progress bar on stderr: shown only on a terminal, and only once the comparison has run
/// for a second (a quick loopback run stays quiet); never in pipes or CI logs. The bar takes
/// what the terminal's width leaves, less [`ECHO_ROOM`], so the line never wraps.
pub(super) struct Progress {
    bar: ProgressBar,
    started: Instant,
    shown: bool,
}

impl Progress {
    /// A bar for `runs` runs, hidden until [`Progress::next`] finds a second has passed.
    pub(super) fn new(runs: u64) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(runs), ProgressDrawTarget::hidden());
        // Room for the longest message ("non-persistent round 10/10"), so the bar keeps its place.
        let message = "non-persistent round /".len() + 2 * runs.to_string().len();
        bar.set_style(
            ProgressStyle::with_template(&format!(
                "{{msg:{message}}} {{wide_bar}} {{pos}}/{{len}} runs, ETA {{eta}}"
            ))
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Progress {
            bar,
            started: Instant::now(),
            shown: false,
        }
    }

    /// Says that `mode`'s warm-up run is next.
    pub(super) fn warm_up(&mut self, mode: Mode) {
        self.say(format!("{} warm-up", mode.name()));
    }

    /// Says which run is next.
    pub(super) fn next(&mut self, mode: Mode, round: u32, rounds: u32) {
        self.say(format!("{} round {}/{rounds}", mode.name(), round + 1));
    }

    /// Shows `message`, and the bar once a second has passed.
    fn say(&mut self, message: String) {
        self.bar.set_message(message);
        if !self.shown
            && self.started.elapsed() >= PROGRESS_AFTER
            && std::io::stderr().is_terminal()
        {
            self.bar
                .set_draw_target(ProgressDrawTarget::term_like_with_hz(
                    Box::<Stderr>::default(),
                    REDRAWS_PER_SECOND,
                ));
            self.shown = true;
        }
    }

    /// Counts a run done.
    pub(super) fn run_done(&self) {
        self.bar.inc(1);
    }

    /// Prints to stdout without tearing the bar.
    pub(super) fn print(&self, f: impl FnOnce()) {
        self.bar.suspend(f);
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// Stderr as the bar's terminal, [`ECHO_ROOM`] columns narrower than it is. What the bar draws
/// is held until it flushes, so a redraw reaches the terminal in one write.
#[derive(Debug, Default)]
struct Stderr {
    pending: Mutex<Vec<u8>>,
}

impl Stderr {
    fn write(&self, s: &str) -> io::Result<()> {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        pending.extend_from_slice(s.as_bytes());
        Ok(())
    }

    /// Moves the cursor `n` places in the direction ANSI's `code` names (A up, B down, C right,
    /// D left); by none, writes nothing (a count of 0 would still move the cursor by 1).
    fn move_cursor(&self, n: usize, code: char) -> io::Result<()> {
        if n == 0 {
            return Ok(());
        }
        self.write(&format!("\x1b[{n}{code}"))
    }
}

impl TermLike for Stderr {
    fn width(&self) -> u16 {
        terminal_size::terminal_size_of(io::stderr())
            .map_or(80, |(w, _)| w.0)
            .saturating_sub(ECHO_ROOM)
    }

    fn height(&self) -> u16 {
        terminal_size::terminal_size_of(io::stderr()).map_or(24, |(_, h)| h.0)
    }

    fn move_cursor_up(&self, n: usize) -> io::Result<()> {
        self.move_cursor(n, 'A')
    }

    fn move_cursor_down(&self, n: usize) -> io::Result<()> {
        self.move_cursor(n, 'B')
    }

    fn move_cursor_right(&self, n: usize) -> io::Result<()> {
        self.move_cursor(n, 'C')
    }

    fn move_cursor_left(&self, n: usize) -> io::Result<()> {
        self.move_cursor(n, 'D')
    }

    fn write_line(&self, s: &str) -> io::Result<()> {
        self.write(&format!("{s}\n"))
    }

    fn write_str(&self, s: &str) -> io::Result<()> {
        self.write(s)
    }

    fn clear_line(&self) -> io::Result<()> {
        self.write("\r\x1b[2K")
    }

    fn flush(&self) -> io::Result<()> {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let mut stderr = io::stderr().lock();
        stderr.write_all(&pending)?;
        pending.clear();
        stderr.flush()
    }
}
