//! `synack serve`: the built-in server on its own.

use anyhow::Context;

use crate::cli::ServeArgs;
use crate::commands::output::outln;
use crate::transfer::server::{ServerConfig, ServerTimeouts, serve_forever};

/// Serves `--root` on `--bind` until interrupted.
pub fn run(args: &ServeArgs) -> anyhow::Result<()> {
    let root = args
        .root
        .canonicalize()
        .with_context(|| format!("cannot serve {}", args.root.display()))?;
    anyhow::ensure!(
        root.is_dir(),
        "cannot serve {}: not a folder",
        root.display()
    );
    outln!(
        "serving {} on http://{}/ (Ctrl-C stops)",
        root.display(),
        args.bind
    );
    let config = ServerConfig {
        bind: args.bind,
        root,
        max_connections: args.max_connections as usize,
        congestion: args.congestion.clone(),
        timeouts: ServerTimeouts::default(),
    };
    if args.verbose {
        serve_verbose(config)
    } else {
        serve_forever(config, None).context("server failed")
    }
}

fn serve_verbose(config: ServerConfig) -> anyhow::Result<()> {
    let log = crate::transfer::events::EventLog::default();
    let printer_log = log.clone();
    let origin = crate::timeline::Ts::now();
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(std::time::Duration::from_millis(200));
            for e in printer_log.take() {
                outln!("{}", super::event_line(origin, &e));
            }
        }
    });
    serve_forever(config, Some(log)).context("server failed")
}
