//! `synack fetch`: the client on its own, against any HTTP/1.1 server.

use std::net::ToSocketAddrs;

use anyhow::{Context, bail};

use crate::analysis::comparison::TlsSessions;
use crate::cli::FetchArgs;
use crate::commands::output::outln;
use crate::report::units::duration;
use crate::transfer::TransferError;
use crate::transfer::client::{FetchLimits, FetchPlan, Mode, fetch};
use crate::transfer::events::EventLog;
use crate::transfer::tls::ClientTls;

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
    let mut authority: Option<(String, String, u16)> = None;
    let mut paths = Vec::new();
    for raw in &args.urls {
        if !raw.contains("://") {
            bail!("{raw:?} has no scheme: write it as http://{raw}");
        }
        let url = url::Url::parse(raw).with_context(|| format!("bad URL {raw:?}"))?;
        let scheme = url.scheme().to_owned();
        if scheme != "http" && scheme != "https" {
            bail!("{raw}: only http:// and https:// URLs are supported");
        }
        let host = url
            .host_str()
            .with_context(|| format!("{raw}: no host"))?
            .to_owned();
        let port = url.port_or_known_default().unwrap_or(80);
        match &authority {
            None => authority = Some((scheme, host, port)),
            Some(a) if *a == (scheme.clone(), host.clone(), port) => {}
            Some((s, h, p)) => {
                bail!("{raw}: every URL must be on {s}://{h}:{p} (one server per fetch)")
            }
        }
        let mut path = url.path().to_owned();
        if let Some(q) = url.query() {
            path.push('?');
            path.push_str(q);
        }
        paths.push(path);
    }
    let (scheme, host, port) = authority.context("no URL given")?;
    let https = scheme == "https";
    let default_port = if https { 443 } else { 80 };
    let host_header = if port == default_port {
        host.clone()
    } else {
        format!("{host}:{port}")
    };
    let tls = match args.tls.options(https).map_err(anyhow::Error::msg)? {
        None => {
            if args.cacert.is_some() {
                bail!("--cacert is for https:// URLs");
            }
            None
        }
        Some(_) if !https => bail!("--tls asks for https:// URLs"),
        Some(options) => Some(
            ClientTls::verifying(args.cacert.as_deref(), &host, options)
                .context("cannot set up TLS")?,
        ),
    };
    let addr = (host.as_str(), port)
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {host}"))?
        .next()
        .with_context(|| format!("{host} has no address"))?;
    let plan = FetchPlan {
        addr,
        host: host_header,
        paths,
        out_dir: args.out.clone(),
        expected_sha256: None,
        parallel: args.parallel,
        rcvbuf: args.rcvbuf,
        fastopen: args.tfo,
        tls,
        limits: FetchLimits {
            per_file: args.timeout,
            max_size: args.max_size.map(|bytes| bytes as u64),
        },
    };
    let log = EventLog::default();
    let run = fetch(args.mode, &plan, args.verbose.then_some(&log))
        .map_err(|error| fetch_failed(args.mode, error))?;
    if args.verbose {
        for e in log.take() {
            outln!("{}", super::event_line(run.start, &e));
        }
    }
    let width = crate::report::width::output_width();
    let name_width = run
        .files
        .iter()
        .map(|f| f.name.chars().count())
        .max()
        .unwrap_or(0);
    for f in &run.files {
        let line = format!(
            "{:<name_width$} {:>12} bytes {:>9}  sha256 ",
            f.name,
            f.bytes,
            duration(f.seconds),
        );
        outln!("{line}{}", fit_hash(&f.sha256, width, line.chars().count()));
    }
    let summary = format!(
        "{}: {} over {} in {}, saved in {}",
        args.mode.name(),
        crate::words::counted(run.files.len(), "file", "files"),
        crate::words::counted(run.connections.len(), "connection", "connections"),
        duration(run.total_s()),
        args.out.join(args.mode.name()).display()
    );
    outln!("{}", crate::report::width::wrap(&summary, width));
    if let Some(tls) = TlsSessions::of(run.connections.iter()) {
        outln!("{}", crate::report::text::tls_line(&tls));
    }
    Ok(())
}

/// Fewer hex digits of a hash than it has, where the line's `used` columns leave fewer than all
/// of them: its first ones and "…", never under 12 (the full hash with no width to fit, as when
/// piped).
fn fit_hash(hash: &str, width: Option<u16>, used: usize) -> String {
    const SHORTEST: usize = 12;
    let room = width.map_or(usize::MAX, |w| usize::from(w).saturating_sub(used));
    if hash.len() <= room {
        return hash.to_string();
    }
    let digits = room.saturating_sub(1).max(SHORTEST).min(hash.len());
    format!("{}…", &hash[..digits])
}

/// A failed fetch as one line: the mode, then the transfer's own words, which name the server
/// where it matters. An https:// URL to a plain-HTTP server needs no mode to say so.
fn fetch_failed(mode: Mode, error: TransferError) -> anyhow::Error {
    if matches!(error, TransferError::NotTls { .. }) {
        return anyhow::Error::new(error);
    }
    anyhow::Error::new(error).context(format!("{} fetch failed", mode.name()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_is_cut_to_the_room_its_line_leaves() {
        let hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        assert_eq!(fit_hash(hash, None, 60), hash);
        assert_eq!(fit_hash(hash, Some(200), 60), hash);
        assert_eq!(fit_hash(hash, Some(80), 60), "9f86d081884c7d659a2…");
        assert_eq!(fit_hash(hash, Some(80), 60).chars().count(), 20);
        assert_eq!(fit_hash(hash, Some(60), 60), "9f86d081884c…");
    }
}
