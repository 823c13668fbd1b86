//! `synack fetch`: the client on its own, against any HTTP/1.1 server.

use std::net::ToSocketAddrs;

use anyhow::{Context, bail};

use crate::cli::FetchArgs;
use crate::commands::output::outln;
use crate::report::secs;
use crate::transfer::client::{FetchLimits, FetchPlan, fetch};
use crate::transfer::events::EventLog;

/// Fetches the URLs in the chosen mode and prints per-file and total time. Whatever happens,
/// what it made belongs to the invoking user when run under sudo.
pub fn run(args: &FetchArgs) -> anyhow::Result<()> {
    super::interrupt::clean_up_on_signals()?;
    let result = fetch_urls(args);
    if result.is_err() {
        crate::created::remove_empty_dirs();
    }
    let owned = super::ownership::give_made_to_invoking_user();
    result.and(owned)
}

fn fetch_urls(args: &FetchArgs) -> anyhow::Result<()> {
    let mut authority: Option<(String, u16)> = None;
    let mut paths = Vec::new();
    for raw in &args.urls {
        if !raw.contains("://") {
            bail!("{raw:?} has no scheme: write it as http://{raw}");
        }
        let url = url::Url::parse(raw).with_context(|| format!("bad URL {raw:?}"))?;
        if url.scheme() != "http" {
            bail!("{raw}: only http:// URLs are supported (synack measures plain TCP)");
        }
        let host = url
            .host_str()
            .with_context(|| format!("{raw}: no host"))?
            .to_owned();
        let port = url.port_or_known_default().unwrap_or(80);
        match &authority {
            None => authority = Some((host, port)),
            Some(a) if *a == (host.clone(), port) => {}
            Some((h, p)) => bail!("{raw}: every URL must be on {h}:{p} (one server per fetch)"),
        }
        let mut path = url.path().to_owned();
        if let Some(q) = url.query() {
            path.push('?');
            path.push_str(q);
        }
        paths.push(path);
    }
    let (host, port) = authority.context("no URL given")?;
    let addr = (host.as_str(), port)
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {host}"))?
        .next()
        .with_context(|| format!("{host} has no address"))?;
    let plan = FetchPlan {
        addr,
        host: if port == 80 {
            host.clone()
        } else {
            format!("{host}:{port}")
        },
        paths,
        out_dir: args.out.clone(),
        expected_sha256: None,
        parallel: args.parallel,
        rcvbuf: args.rcvbuf,
        fastopen: args.tfo,
        limits: FetchLimits {
            per_file: args.timeout,
            max_size: args.max_size.map(|bytes| bytes as u64),
        },
    };
    let log = EventLog::default();
    let run = fetch(args.mode, &plan, args.verbose.then_some(&log))
        .with_context(|| format!("{} fetch from {addr} failed", args.mode.name()))?;
    if args.verbose {
        for e in log.take() {
            outln!("{}", super::event_line(run.start, &e));
        }
    }
    for f in &run.files {
        outln!(
            "{:<24} {:>12} bytes  {} s  sha256 {}",
            f.name,
            f.bytes,
            secs(f.seconds),
            f.sha256
        );
    }
    outln!(
        "{}: {} files over {} connection(s) in {} s, saved in {}",
        args.mode.name(),
        run.files.len(),
        run.connections.len(),
        secs(run.total_s()),
        args.out.join(args.mode.name()).display()
    );
    Ok(())
}
