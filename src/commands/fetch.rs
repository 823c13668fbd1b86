//! `synack fetch`: the client on its own, against any HTTP/1.1 or HTTP/2 server.

use std::path::Path;

use anyhow::{Context, bail};

use crate::cli::FetchArgs;
use crate::commands::output::{out, outln};
use crate::report::terminal;
use crate::transfer::TransferError;
use crate::transfer::client::{FetchLimits, FetchPlan, fetch};
use crate::transfer::events::EventLog;
use crate::transfer::run::Mode;
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
    let site = super::urls::site(&args.urls)?;
    let tls = match args.tls.options(site.https).map_err(anyhow::Error::msg)? {
        None => {
            if args.cacert.is_some() {
                bail!("--cacert is for https:// URLs");
            }
            None
        }
        Some(_) if !site.https => bail!("--tls asks for https:// URLs"),
        Some(options) => Some(
            ClientTls::verifying(args.cacert.as_deref(), &site.host, options)
                .context("cannot set up TLS")?,
        ),
    };
    if args.tfo {
        super::warn_unless_fastopen(
            crate::transfer::fastopen::CLIENT,
            "the client sends no request on a SYN",
        );
    }
    let plan = FetchPlan {
        addr: site.addr,
        host: site.host_header,
        paths: site.paths,
        out_dir: args.out.clone(),
        expected_sha256: None,
        parallel: args.parallel,
        rcvbuf: args.rcvbuf,
        fastopen: args.tfo,
        tls,
        names: Some(site.names),
        any_status: false,
        h3_tls: None,
        limits: FetchLimits {
            per_file: args.timeout,
            max_size: args.max_size.map(|bytes| bytes as u64),
        },
    };
    let log = EventLog::default();
    let run = fetch(args.mode, &plan, args.verbose.then_some(&log))
        .map_err(|error| fetch_failed(args.mode, error, &args.out.join(args.mode.name())))?;
    if args.verbose {
        for e in log.take() {
            outln!("{}", super::event_line(run.start, &e));
        }
    }
    let saved_in = args.out.join(args.mode.name());
    out!(
        "{}",
        terminal::fetched(&run, &saved_in, crate::report::width::output_width())
    );
    Ok(())
}

/// A failed fetch as one line: the mode and the files it saved before it failed (in `dir`), then
/// the transfer's own words, which name the server where it matters. A URL whose scheme the
/// server does not speak needs no mode to say so.
fn fetch_failed(mode: Mode, error: TransferError, dir: &Path) -> anyhow::Error {
    if matches!(
        error,
        TransferError::NotTls { .. } | TransferError::SpeaksTls { .. }
    ) {
        return anyhow::Error::new(error);
    }
    let saved: Vec<String> = crate::created::made_paths()
        .iter()
        .filter(|p| p.is_file() && p.parent() == Some(dir))
        .filter_map(|p| Some(p.file_name()?.to_string_lossy().into_owned()))
        .collect();
    let context = if saved.is_empty() {
        format!("{} fetch failed", mode.name())
    } else {
        format!(
            "{} fetch failed after saving {} in {}",
            mode.name(),
            saved.join(", "),
            dir.display()
        )
    };
    anyhow::Error::new(error).context(context)
}
