//! Commands: each parses nothing (clap did), calls the layers in order, and prints.

pub mod analyze;
pub mod compare;
pub mod fetch;
pub mod files;
pub mod interrupt;
pub mod output;
pub mod ownership;
pub(crate) mod pdf;
pub mod serve;
pub mod urls;

use crate::cli::{Cli, Command};
use crate::timeline::Ts;
use crate::transfer::events::{Event, EventKind, Side};

/// Runs the command the user asked for.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Compare(args) => compare::run(&args),
        Command::Analyze(args) => analyze::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Fetch(args) => fetch::run(&args),
        Command::Files(args) => files::run(&args),
    }
}

/// An error as one line: each context, then the causes that add something ("cannot write X:
/// No space left on device"), never a cause its context already quoted.
pub fn error_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

/// A request target as the log shows it: its first [`TARGET_SHOWN`] characters, and how long it
/// was when it was longer.
fn shortened(path: &str) -> String {
    match path.char_indices().nth(TARGET_SHOWN) {
        Some((cut, _)) => format!("{}… ({} bytes)", &path[..cut], path.len()),
        None => path.to_string(),
    }
}

/// Characters of a request target the log shows.
const TARGET_SHOWN: usize = 120;

/// One line of the lifecycle log, with its time since `origin`.
pub fn event_line(origin: Ts, e: &Event) -> String {
    let side = match e.side {
        Side::Client => "client",
        Side::Server => "server",
    };
    let what = match &e.kind {
        EventKind::Connect => "connect() called (SYN leaves)".to_string(),
        EventKind::Connected => "connect() returned (SYN-ACK arrived)".to_string(),
        EventKind::TlsDone { version, resumed } => format!(
            "{version} handshake done ({})",
            if *resumed { "resumed" } else { "full" }
        ),
        EventKind::Accept => "accept() returned".to_string(),
        EventKind::Request { path } => format!("request GET {}", shortened(path)),
        EventKind::Refused { reason } => format!("request refused: {reason}"),
        EventKind::Broken { reason } => format!("connection broke off: {reason}"),
        EventKind::ResponseStart { status } => format!("response {status} begins"),
        EventKind::ResponseEnd { bytes } => format!("response ends after {bytes} body bytes"),
        EventKind::FinSent => "FIN sent (shutdown or close)".to_string(),
        EventKind::FinReceived => "FIN received (read returned 0)".to_string(),
        EventKind::Closed => "socket closed".to_string(),
        EventKind::QuicConnect => "QUIC Initial leaves (handshake begins)".to_string(),
        EventKind::QuicConnected { zero_rtt } => format!(
            "QUIC handshake done{}",
            match zero_rtt {
                None => "",
                Some(true) => " (0-RTT requests accepted)",
                Some(false) => " (0-RTT requests rejected: sent again)",
            }
        ),
        EventKind::QuicAccept => "QUIC connection accepted".to_string(),
        EventKind::QuicClosed => "QUIC connection closed".to_string(),
    };
    format!(
        "{:>+12.6} s  {side} {:<22} ↔ {:<22} {what}",
        e.ts.secs_since(origin),
        e.local.to_string(),
        e.peer.to_string(),
    )
}

/// Warns, in one line, when `--tfo` cannot work here: the host's net.ipv4.tcp_fastopen lacks the
/// `bit` this side needs, so `consequence` ("the server takes no data on a SYN").
pub(crate) fn warn_unless_fastopen(bit: u32, consequence: &str) {
    use crate::transfer::fastopen::{CLIENT_AND_SERVER, setting};
    match setting() {
        Ok(now) if now & bit == bit => {}
        Ok(now) => eprintln!(
            "synack: warning: --tfo needs net.ipv4.tcp_fastopen={CLIENT_AND_SERVER} (it is {now}), \
             so {consequence}: `sudo sysctl -w net.ipv4.tcp_fastopen={CLIENT_AND_SERVER}`"
        ),
        Err(error) => eprintln!(
            "synack: warning: cannot read net.ipv4.tcp_fastopen ({error}), so --tfo may do nothing"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_request_target_is_shortened_in_the_log() {
        let long = format!("/{}", "x".repeat(300));
        let shown = shortened(&long);
        assert_eq!(
            shown.chars().count(),
            TARGET_SHOWN + "… (301 bytes)".chars().count()
        );
        assert!(shown.ends_with("… (301 bytes)"), "{shown}");
        assert_eq!(shortened("/a.jpg"), "/a.jpg");
    }
}
