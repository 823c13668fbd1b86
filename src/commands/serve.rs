//! `synack serve`: the built-in server on its own.

use std::net::SocketAddr;

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
    let config = ServerConfig {
        bind: args.bind,
        root: root.clone(),
        max_connections: args.max_connections as usize,
        congestion: args.congestion.clone(),
        fastopen: args.tfo,
        sample_responses: false,
        timeouts: ServerTimeouts::default(),
    };
    // Announced once the port is bound, so a taken port is the only thing said.
    let ready = move |addr| {
        outln!(
            "serving {} on http://{addr}/ (Ctrl-C stops)",
            root.display()
        );
    };
    if args.verbose {
        serve_verbose(config, ready)
    } else {
        serve_forever(config, None, ready).context("server failed")
    }
}

fn serve_verbose(config: ServerConfig, ready: impl FnOnce(SocketAddr)) -> anyhow::Result<()> {
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
    serve_forever(config, Some(log), ready).context("server failed")
}
