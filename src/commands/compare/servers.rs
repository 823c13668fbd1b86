//! The servers a comparison speaks to and the TLS its clients speak: the built-in ones started
//! for it, on this host or in the emulated link's server namespace, or the one `--server` names.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::Network;
use crate::cli::CompareArgs;
use crate::transfer::client::FetchPlan;
use crate::transfer::events::EventLog;
use crate::transfer::h3::{H3Server, QuicCongestion};
use crate::transfer::run::Mode;
use crate::transfer::server::{DEFAULT_MAX_CONNECTIONS, Server, ServerConfig, ServerTimeouts};
use crate::transfer::tls::{ClientTls, ClientTlsOptions, ServerTls, TlsVersion};
use crate::transfer::variant::Variant;

/// The built-in servers a comparison started: HTTP/1.x and HTTP/2 over TCP, and HTTP/3 over QUIC.
pub(super) struct BuiltIn {
    pub(super) tcp: Option<Server>,
    pub(super) h3: Option<H3Server>,
}

/// The built-in server's TLS, with a certificate made for this run, when the variant speaks TLS
/// or the h2 mode runs, and no --server was given. Where the modes differ (h2 speaks TLS while
/// the variant does not, or h2c speaks none while it does), the server takes both on its port.
pub(super) fn built_in_server_tls(
    args: &CompareArgs,
    network: &Network,
    variant: &Variant,
    modes: &[Mode],
) -> anyhow::Result<Option<ServerTls>> {
    if args.server.is_some() {
        return Ok(None);
    }
    let version = match variant.tls {
        Some(options) => options.version.unwrap_or(TlsVersion::Tls13),
        None if modes.contains(&Mode::H2) => TlsVersion::Tls13,
        None => return Ok(None),
    };
    let tls = ServerTls::self_signed(
        version,
        &[server_ip(network).to_string(), "localhost".into()],
    )
    .context("cannot make the built-in server's certificate")?;
    let mixed = match variant.tls {
        Some(_) => modes.contains(&Mode::H2c),
        None => true,
    };
    Ok(Some(if mixed { tls.alongside_plain() } else { tls }))
}

/// The plan of the HTTP/2 mode whose TLS differs from the others': h2 over TLS 1.3 (trusting the
/// built-in server's certificate, else verifying --server's) when the variant speaks none, h2c
/// in cleartext when it does. None when no mode needs it.
pub(super) fn http2_plan(
    args: &CompareArgs,
    modes: &[Mode],
    plan: &FetchPlan,
    server_tls: Option<&ServerTls>,
    addr: SocketAddr,
) -> anyhow::Result<Option<FetchPlan>> {
    let tls = match &plan.tls {
        Some(_) if modes.contains(&Mode::H2c) => None,
        None if modes.contains(&Mode::H2) => {
            let options = ClientTlsOptions {
                version: Some(TlsVersion::Tls13),
                resume: false,
                early_data: false,
            };
            let host = addr.ip().to_string();
            Some(match server_tls {
                Some(made) => ClientTls::trusting(made.certificate(), &host, options)?,
                None => {
                    ClientTls::verifying(None, args.server.as_deref().unwrap_or(&host), options)?
                }
            })
        }
        _ => return Ok(None),
    };
    Ok(Some(FetchPlan {
        tls,
        ..plan.clone()
    }))
}

/// The client's TLS: trusting exactly the built-in server's certificate, else verifying the
/// --server as a browser would.
pub(super) fn client_tls(
    args: &CompareArgs,
    variant: &Variant,
    server_tls: Option<&ServerTls>,
    addr: SocketAddr,
) -> anyhow::Result<Option<ClientTls>> {
    let Some(options) = variant.tls else {
        return Ok(None);
    };
    Ok(Some(match server_tls {
        Some(made) => ClientTls::trusting(made.certificate(), &addr.ip().to_string(), options)?,
        None => ClientTls::verifying(
            args.cacert.as_deref(),
            args.server.as_deref().unwrap_or_default(),
            options,
        )?,
    }))
}

/// The h3 mode's ends: the built-in server's QUIC listener on the TCP server's port number (with
/// its certificate when that is TLS 1.3, else one made for it), and the client's TLS 1.3 where the
/// variant's TLS does not fit h3.
pub(super) fn h3_ends(
    args: &CompareArgs,
    network: &Network,
    root: &Path,
    variant: &Variant,
    server_tls: Option<&ServerTls>,
    addr: SocketAddr,
    events: Option<EventLog>,
) -> anyhow::Result<(Option<H3Server>, Option<ClientTls>)> {
    let options = ClientTlsOptions {
        version: Some(TlsVersion::Tls13),
        ..variant.tls.unwrap_or(ClientTlsOptions {
            version: None,
            resume: false,
            early_data: false,
        })
    };
    let tls13 = |tls: &&ServerTls| tls.version() == TlsVersion::Tls13;
    if args.server.is_some() {
        let fits = variant
            .tls
            .is_some_and(|t| t.version == Some(TlsVersion::Tls13));
        let client = (!fits)
            .then(|| {
                ClientTls::verifying(None, args.server.as_deref().unwrap_or_default(), options)
            })
            .transpose()?;
        return Ok((None, client));
    }
    let quic_tls = match server_tls.filter(tls13) {
        Some(tls) => tls.clone(),
        None => ServerTls::self_signed(
            TlsVersion::Tls13,
            &[server_ip(network).to_string(), "localhost".into()],
        )
        .context("cannot make the h3 server's certificate")?,
    };
    // The plan's own TLS serves h3 only where the other modes speak TLS 1.3 to this same server
    // (the built-in server may speak TLS for h2 alone while the plan stays plain).
    let plan_fits = variant
        .tls
        .is_some_and(|t| t.version.unwrap_or(TlsVersion::Tls13) == TlsVersion::Tls13);
    let client = match server_tls.filter(tls13) {
        Some(_) if plan_fits => None,
        _ => Some(ClientTls::trusting(
            quic_tls.certificate(),
            &addr.ip().to_string(),
            options,
        )?),
    };
    let (root, bind) = (root.to_path_buf(), addr);
    let congestion = args.congestion.clone();
    let server = network
        .server(move || {
            // The controller --congestion names, else quinn's default, CUBIC: quinn's BBR paces
            // a 0-RTT flight by its first guess of the round trip (333 ms), which held h3's
            // 0-RTT runs back by two round trips at 40 ms.
            let congestion = QuicCongestion::like_tcp(congestion.as_deref());
            H3Server::start(bind, root, &quic_tls, events, congestion)
        })
        .with_context(|| format!("cannot start the h3 server on UDP {bind}"))?;
    Ok((Some(server), client))
}

/// Makes sure TCP Fast Open is allowed where the client and the server run: inside an emulated
/// link synack sets it; on this host it only checks, and says how to set it.
pub(super) fn allow_fastopen(network: &Network) -> anyhow::Result<()> {
    use crate::transfer::fastopen::{CLIENT_AND_SERVER, enable_here, setting};
    match network {
        Network::Emulated(_) => {
            network
                .server(enable_here)
                .and(network.client(enable_here))
                .context("cannot enable TCP Fast Open in the emulated link's namespaces")?;
        }
        Network::Host => {
            let now = setting().context("cannot read net.ipv4.tcp_fastopen")?;
            if now & CLIENT_AND_SERVER != CLIENT_AND_SERVER {
                bail!(
                    "--tfo needs net.ipv4.tcp_fastopen={CLIENT_AND_SERVER} on this host (it is \
                     {now}): `sudo sysctl -w net.ipv4.tcp_fastopen={CLIENT_AND_SERVER}`, or emulate \
                     a path (--rtt), inside which synack sets it"
                );
            }
        }
    }
    Ok(())
}

/// The built-in server's address: loopback, or the server's end of the emulated link.
pub(super) fn server_ip(network: &Network) -> IpAddr {
    match network {
        Network::Emulated(link) => link.server_ip(),
        Network::Host => IpAddr::from([127, 0, 0, 1]),
    }
}

/// Starts the built-in server where the server runs, unless `--server` names another one.
pub(super) fn start_server(
    args: &CompareArgs,
    network: &Network,
    root: PathBuf,
    fastopen: bool,
    tls: Option<ServerTls>,
    events: &EventLog,
) -> anyhow::Result<Option<Server>> {
    if args.server.is_some() {
        return Ok(None);
    }
    let config = ServerConfig {
        bind: SocketAddr::new(server_ip(network), 0),
        root,
        max_connections: DEFAULT_MAX_CONNECTIONS,
        congestion: args.congestion.clone(),
        fastopen,
        tls,
        sample_responses: true,
        timeouts: ServerTimeouts::default(),
    };
    let events = args.verbose.then(|| events.clone());
    network
        .server(move || Server::start(config, events))
        .context("cannot start the built-in server")
        .map(Some)
}

pub(super) fn resolve(server: &str) -> anyhow::Result<SocketAddr> {
    if let Some((_, rest)) = server.split_once("://") {
        let authority = rest.split('/').next().unwrap_or(rest);
        bail!("--server takes HOST:PORT, not a URL: --server {authority}");
    }
    server
        .to_socket_addrs()
        .with_context(|| format!("--server {server:?}: expected HOST:PORT"))?
        .next()
        .with_context(|| format!("--server {server:?} has no address"))
}
