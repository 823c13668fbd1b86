//! The emulated link: two namespaces, their TUN devices and the two forwarder threads.

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Instant, SystemTime};

use super::forward::{Counters, Forwarder};
use super::namespace::Namespace;
use super::schedule::{DirectionModel, Way};
use super::stamp::TxStamps;
use super::tun::{self, PointToPoint};
use super::{EmulateError, LinkConfig, LinkStats};

/// The server end's address.
pub const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 47, 0, 1);
/// The client end's address.
pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 47, 0, 2);
/// The TUN device in the server namespace.
pub const SERVER_IFACE: &str = "synack-server";
/// The TUN device in the client namespace.
pub const CLIENT_IFACE: &str = "synack-client";

/// A running emulated link; stopped by [`EmulatedLink::stop`] or when dropped.
#[derive(Debug)]
pub struct EmulatedLink {
    config: LinkConfig,
    client: Namespace,
    server: Namespace,
    to_server: Arc<Counters>,
    to_client: Arc<Counters>,
    stopping: Arc<AtomicBool>,
    stop_signal: Option<UnixStream>,
    forwarders: Vec<JoinHandle<()>>,
    /// Wall-clock time of the link's time zero, where a trace's first period starts.
    started: SystemTime,
}

impl EmulatedLink {
    /// Creates both namespaces and their TUN devices and starts forwarding.
    pub fn start(config: LinkConfig) -> Result<EmulatedLink, EmulateError> {
        config.validate()?;
        let mtu = config.mtu;
        let (server, (server_tun, server_stamps)) = Namespace::create("server", move || {
            make_end(&PointToPoint {
                name: SERVER_IFACE.into(),
                local: SERVER_IP,
                peer: CLIENT_IP,
                mtu,
            })
        })?;
        let (client, (client_tun, client_stamps)) = Namespace::create("client", move || {
            make_end(&PointToPoint {
                name: CLIENT_IFACE.into(),
                local: CLIENT_IP,
                peer: SERVER_IP,
                mtu,
            })
        })?;
        let (server_tun, client_tun) = (Arc::new(server_tun), Arc::new(client_tun));
        let (stop_signal, stop_watch) = UnixStream::pair().map_err(|source| {
            EmulateError::io("cannot make the forwarders' stop signal", source)
        })?;
        let stopping = Arc::new(AtomicBool::new(false));
        // Time zero of both directions (a trace's first period), on both clocks.
        let (origin, started) = (Instant::now(), SystemTime::now());
        let mut link = EmulatedLink {
            config,
            client,
            server,
            to_server: Arc::default(),
            to_client: Arc::default(),
            stopping,
            stop_signal: Some(stop_signal),
            forwarders: Vec::new(),
            started,
        };
        let timed = !link.config.rtt.is_zero()
            || !link.config.jitter.is_zero()
            || link.config.down.queues()
            || link.config.up.queues();
        for (way, input, stamps, output) in [
            (Way::ToServer, &client_tun, client_stamps, &server_tun),
            (Way::ToClient, &server_tun, server_stamps, &client_tun),
        ] {
            let forwarder = Forwarder {
                input: Arc::clone(input),
                stamps: timed.then_some(stamps),
                output: Arc::clone(output),
                model: DirectionModel::new(&link.config, way, origin),
                counters: Arc::clone(match way {
                    Way::ToServer => &link.to_server,
                    Way::ToClient => &link.to_client,
                }),
                stopping: Arc::clone(&link.stopping),
                stop_signal: stop_watch.try_clone().map_err(|source| {
                    EmulateError::io("cannot make the forwarders' stop signal", source)
                })?,
            };
            let name = match way {
                Way::ToServer => "link-to-server",
                Way::ToClient => "link-to-client",
            };
            // On failure `link` is dropped, which stops the forwarder already started.
            let handle = thread::Builder::new()
                .name(name.into())
                .spawn(move || forwarder.run())
                .map_err(|source| {
                    EmulateError::io("cannot start the forwarding threads", source)
                })?;
            link.forwarders.push(handle);
        }
        Ok(link)
    }

    /// The server end's address (10.47.0.1), reachable from the client namespace.
    pub fn server_ip(&self) -> IpAddr {
        IpAddr::V4(SERVER_IP)
    }

    /// The client end's address (10.47.0.2), reachable from the server namespace.
    pub fn client_ip(&self) -> IpAddr {
        IpAddr::V4(CLIENT_IP)
    }

    /// The TUN device in the client namespace, for a capture opened from [`Self::in_client`]
    /// (raw IP link type).
    pub fn client_iface(&self) -> &str {
        CLIENT_IFACE
    }

    /// The TUN device in the server namespace.
    pub fn server_iface(&self) -> &str {
        SERVER_IFACE
    }

    /// Wall-clock time of the link's time zero: a trace's opportunities count from it, so a
    /// capture's timestamps can be set against them.
    pub fn started(&self) -> SystemTime {
        self.started
    }

    /// The settings the link runs with.
    pub fn config(&self) -> &LinkConfig {
        &self.config
    }

    /// Runs `f` on a new thread inside the server namespace and returns its result. Threads that
    /// `f` spawns inherit the namespace; sockets it creates stay in it.
    pub fn in_server<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        self.server.run(f)
    }

    /// Runs `f` on a new thread inside the client namespace and returns its result. Threads that
    /// `f` spawns inherit the namespace; sockets it creates stay in it.
    pub fn in_client<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        self.client.run(f)
    }

    /// Counts per direction so far.
    pub fn stats(&self) -> LinkStats {
        LinkStats {
            to_server: self.to_server.snapshot(),
            to_client: self.to_client.snapshot(),
        }
    }

    /// Stops forwarding, removes the TUN devices and ends the namespaces' home threads; returns
    /// the final counts. A namespace itself goes once nothing made inside it (a server's sockets
    /// and threads) is left.
    pub fn stop(mut self) -> LinkStats {
        self.shut_down();
        self.stats()
    }

    fn shut_down(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Closing our end makes the forwarders' end readable, waking any that sleeps.
        self.stop_signal = None;
        for forwarder in self.forwarders.drain(..) {
            let _ = forwarder.join();
        }
        // The forwarders held the last descriptors of the TUN devices, so the devices are gone.
        self.client.close();
        self.server.close();
    }
}

impl Drop for EmulatedLink {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// Sets up one end inside its fresh namespace: `lo` up, then the TUN device, addressed and up,
/// with a packet socket stamping what the kernel sends to it.
fn make_end(end: &PointToPoint) -> Result<(File, TxStamps), EmulateError> {
    tun::disable_ipv6_on_new_interfaces();
    tun::bring_up("lo")?;
    let device = tun::create_tun(&end.name)?;
    let stamps = TxStamps::open(tun::ifindex(&end.name)?)?;
    tun::configure(end)?;
    Ok((device, stamps))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_can_be_shared_between_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<EmulatedLink>();
    }
}
