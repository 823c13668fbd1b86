//! `synack serve`: the built-in server on its own.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;

use crate::cli::ServeArgs;
use crate::commands::output::outln;
use crate::transfer::h3::{H3Server, QuicCongestion};
use crate::transfer::server::{ServerConfig, ServerTimeouts, serve_forever};
use crate::transfer::tls::{ServerTls, TlsVersion};

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
    if args.tfo {
        super::warn_unless_fastopen(
            crate::transfer::fastopen::SERVER,
            "the server takes no data on a SYN",
        );
    }
    let tls = server_tls(args)?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    // HTTP/3 needs a certificate, and TLS 1.3 (QUIC carries no other).
    let h3_tls = tls.clone().filter(|tls| tls.version() == TlsVersion::Tls13);
    if tls
        .as_ref()
        .is_some_and(|tls| tls.version() != TlsVersion::Tls13)
    {
        eprintln!("synack: no HTTP/3 with --tls 1.2 (QUIC carries TLS 1.3 only)");
    }
    let h3_root = root.clone();
    let h3_congestion = args.congestion.clone();
    let config = ServerConfig {
        bind: args.bind,
        root: root.clone(),
        max_connections: args.max_connections as usize,
        congestion: args.congestion.clone(),
        fastopen: args.tfo,
        tls,
        sample_responses: false,
        timeouts: ServerTimeouts::default(),
    };
    // Announced once the port is bound, so a taken port is the only thing said.
    let ready = move |addr| {
        // Listening on UDP before the TCP server is announced, so a client told it is up finds
        // both.
        let congestion = QuicCongestion::like_tcp(h3_congestion.as_deref());
        let h3 = h3_tls.map(|tls| H3Server::start(addr, h3_root, &tls, None, congestion));
        outln!(
            "serving {} on {scheme}://{addr}/ (Ctrl-C stops)",
            root.display()
        );
        match h3 {
            Some(Ok(server)) => {
                outln!("and HTTP/3 on UDP {}", server.local_addr());
                // Served for as long as the process runs, as the TCP server is.
                Box::leak(Box::new(server));
            }
            Some(Err(error)) => eprintln!("synack: no HTTP/3: {error}"),
            None => {}
        }
    };
    if args.verbose {
        serve_verbose(config, ready)
    } else {
        serve_forever(config, None, ready).context("server failed")
    }
}

/// The certificate to serve with `--tls`: from `--cert`/`--key`, or made now for the bound
/// address and saved to `--cert-out` (before anything is served, so clients can trust it).
fn server_tls(args: &ServeArgs) -> anyhow::Result<Option<ServerTls>> {
    let Some(version) = args.tls else {
        return Ok(None);
    };
    if let (Some(cert), Some(key)) = (&args.cert, &args.key) {
        return ServerTls::from_files(version, cert, key)
            .map(Some)
            .context("cannot serve TLS");
    }
    let mut names = vec!["localhost".to_owned()];
    let ip = args.bind.ip();
    if ip.is_unspecified() {
        names.push("127.0.0.1".into());
        names.push("::1".into());
    } else {
        names.push(ip.to_string());
    }
    let tls = ServerTls::self_signed(version, &names).context("cannot serve TLS")?;
    let pem = tls.generated_pem().unwrap_or_default();
    save(&args.cert_out, pem.as_bytes())
        .with_context(|| format!("cannot save the certificate to {}", args.cert_out.display()))?;
    eprintln!(
        "synack: certificate for {} saved to {} (e.g. curl --cacert {} https://…)",
        names.join(", "),
        args.cert_out.display(),
        args.cert_out.display()
    );
    Ok(Some(tls))
}

/// Writes `bytes` to `path` whole or not at all (through a `.part` file renamed into place).
fn save(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let part = path.with_file_name(format!(".{name}.part"));
    let mut file = crate::created::create_partial(&part)?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    drop(file);
    match written {
        Ok(()) => crate::created::complete(&part, path),
        Err(error) => {
            crate::created::discard(&part);
            Err(error)
        }
    }
}

/// Serves with each connection's events printed, a batch every 200 ms. Ctrl-C, SIGTERM or
/// SIGHUP prints the events not yet printed before the process exits (with 128 + the signal),
/// so the last connection's lines are never lost.
fn serve_verbose(config: ServerConfig, ready: impl FnOnce(SocketAddr)) -> anyhow::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let log = crate::transfer::events::EventLog::default();
    let printer_log = log.clone();
    let origin = crate::timeline::Ts::now();
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .context("cannot watch for Ctrl-C, SIGTERM and SIGHUP")?;
    let (stop, stopped) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            let _ = stop.send(signal);
        }
    });
    std::thread::spawn(move || {
        loop {
            let signal = stopped
                .recv_timeout(std::time::Duration::from_millis(200))
                .ok();
            for e in printer_log.take() {
                outln!("{}", super::event_line(origin, &e));
            }
            if let Some(signal) = signal {
                std::process::exit(128 + signal);
            }
        }
    });
    serve_forever(config, Some(log), ready).context("server failed")
}
