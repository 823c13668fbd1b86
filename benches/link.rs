//! The link emulator against its settings and against plain loopback (root): configured vs
//! measured RTT (client SYN → SYN-ACK on a capture of the client TUN, median of several
//! connections) at 1, 10, 50 and 200 ms beside the same handshake over loopback (the hosts' own
//! stack time, which every handshake includes), and the time of a 4 MiB transfer with no rate
//! limit over the link and over loopback in the same run. `cargo bench --bench link`; about 15 s.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use synack::capture::source::{DEFAULT_SNAPLEN, Recorder};
use synack::emulate::{DEFAULT_MTU, EmulatedLink, LinkConfig};
use synack::track::reader::track_file;

/// Connections whose handshakes are measured per RTT.
const CONNECTIONS: usize = 9;
/// Size of the bulk transfer.
const BULK: usize = 4 << 20;
/// Bulk transfers per path; the median is shown.
const BULK_RUNS: usize = 7;

/// Where the two ends of a measurement run: the namespaces of a link, or the host itself.
trait Ends {
    /// Runs `f` where the server lives.
    fn server<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T;
    /// Runs `f` where the client lives.
    fn client<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T;
    /// The server's address.
    fn server_ip(&self) -> IpAddr;
    /// The interface a capture sees the client's packets on.
    fn client_iface(&self) -> String;
}

impl Ends for EmulatedLink {
    fn server<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        self.in_server(f)
    }
    fn client<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        self.in_client(f)
    }
    fn server_ip(&self) -> IpAddr {
        EmulatedLink::server_ip(self)
    }
    fn client_iface(&self) -> String {
        EmulatedLink::client_iface(self).to_owned()
    }
}

/// Plain loopback in the host's namespace: the peer figure.
struct Loopback;

impl Ends for Loopback {
    fn server<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        f()
    }
    fn client<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        f()
    }
    fn server_ip(&self) -> IpAddr {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    }
    fn client_iface(&self) -> String {
        "lo".into()
    }
}

fn main() {
    // `cargo test --all-targets` runs bench targets too, without `--bench`: only build-check then.
    if !std::env::args().any(|arg| arg == "--bench") {
        println!("link bench: run it with `cargo bench --bench link`");
        return;
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    #[allow(unsafe_code)]
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        println!("link bench skipped: emulating a link needs root (run with sudo)");
        return;
    }
    let started = Instant::now();
    println!("RTT: client SYN → SYN-ACK on the client TUN, {CONNECTIONS} connections each");
    println!(
        "{:>12} {:>12} {:>10} {:>12} {:>12}",
        "configured", "median", "error", "min", "max"
    );
    let row = |label: String, configured: f64, handshakes: Vec<f64>| {
        let (median, min, max) = summary(handshakes);
        println!(
            "{label:>12} {:>9.3} ms {:>+7.1} µs {:>9.3} ms {:>9.3} ms",
            median * 1e3,
            (median - configured) * 1e6,
            min * 1e3,
            max * 1e3
        );
    };
    row("loopback".into(), 0.0, handshakes(&Loopback));
    for ms in [1u64, 10, 50, 200] {
        let rtt = Duration::from_millis(ms);
        let link = EmulatedLink::start(LinkConfig {
            rtt,
            ..LinkConfig::default()
        })
        .expect("link starts");
        row(format!("{ms} ms"), rtt.as_secs_f64(), handshakes(&link));
    }

    println!(
        "\n4 MiB transfer, no rate limit, no delay, MTU {DEFAULT_MTU} (default): median of {BULK_RUNS}"
    );
    let link = EmulatedLink::start(LinkConfig::default()).expect("link starts");
    let over_link = bulk(&link);
    let stats = link.stop();
    let over_loopback = bulk(&Loopback);
    let gbit = |seconds: f64| (BULK * 8) as f64 / seconds / 1e9;
    // Packets each way over every run, spread over the median run's time.
    let per_second = |forwarded: u64| forwarded as f64 / BULK_RUNS as f64 / over_link;
    println!(
        "emulated link      {:>8.2} ms {:>6.2} Gbit/s {:>9.0} packets/s to the client, {:>9.0} \
         to the server",
        over_link * 1e3,
        gbit(over_link),
        per_second(stats.to_client.forwarded),
        per_second(stats.to_server.forwarded)
    );
    println!(
        "loopback           {:>8.2} ms {:>6.2} Gbit/s (lo's MTU is 65536: its packets are not \
         the link's)",
        over_loopback * 1e3,
        gbit(over_loopback)
    );
    println!(
        "link / loopback throughput: {:.2}",
        gbit(over_link) / gbit(over_loopback)
    );
    println!(
        "link counters: to server {:?}\n               to client {:?}",
        stats.to_server, stats.to_client
    );
    println!(
        "released more than 1 ms late by the forwarder: {} to the client, {} to the server",
        stats.to_client.late, stats.to_server.late
    );

    // With delay, TCP's window growth sets the pace: these rows show that the forwarders leave the
    // endpoints enough CPU, and how the MTU changes what TCP does; not the link's capacity.
    println!("\nthe same at 10 ms RTT (1 RTT to connect, then window growth), by MTU");
    for mtu in [65_000, 32_000, 16_000, 9000, 1500] {
        let link = EmulatedLink::start(LinkConfig {
            rtt: Duration::from_millis(10),
            mtu,
            ..LinkConfig::default()
        })
        .expect("link starts");
        let seconds = bulk(&link);
        println!(
            "MTU {mtu:>5}          {:>8.2} ms {:>6.2} Gbit/s",
            seconds * 1e3,
            gbit(seconds)
        );
    }
    println!("\n(bench took {:.1} s)", started.elapsed().as_secs_f64());
}

/// Handshake times of `CONNECTIONS` connections between the ends, from a capture on the client's
/// interface, in seconds.
fn handshakes(ends: &impl Ends) -> Vec<f64> {
    let ip = ends.server_ip();
    let listener = ends
        .server(move || TcpListener::bind(SocketAddr::new(ip, 0)))
        .expect("listen");
    let addr = listener.local_addr().expect("address");
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = dir.path().join("client.pcap");
    let recorder = {
        let (iface, pcap) = (ends.client_iface(), pcap.clone());
        let filter = format!("tcp port {}", addr.port());
        ends.client(move || Recorder::start(&iface, &filter, DEFAULT_SNAPLEN, &pcap))
            .expect("capture on the client's interface")
    };
    let acceptor = thread::spawn(move || {
        let mut accepted = Vec::new();
        for _ in 0..CONNECTIONS {
            match listener.accept() {
                Ok((stream, _)) => accepted.push(stream),
                Err(_) => break,
            }
        }
        accepted
    });
    ends.client(move || {
        let mut open = Vec::new();
        for _ in 0..CONNECTIONS {
            open.push(TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect"));
            // Spaced out so each SYN meets an idle link, as a new connection usually does.
            thread::sleep(Duration::from_millis(5));
        }
        open
    });
    drop(acceptor.join().expect("acceptor"));
    recorder.wait_quiet(Duration::from_millis(50), Duration::from_secs(2));
    recorder.stop().expect("capture stops");
    track_file(&pcap, None)
        .expect("read back")
        .connections
        .iter()
        .filter_map(|c| c.handshake_s())
        .collect()
}

fn summary(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    (
        values[values.len() / 2],
        values[0],
        values[values.len() - 1],
    )
}

/// Median seconds from connect to the last byte of a `BULK` transfer from server to client.
fn bulk(ends: &impl Ends) -> f64 {
    let ip = ends.server_ip();
    let listener = ends.server(move || TcpListener::bind(SocketAddr::new(ip, 0)).expect("listen"));
    let addr = listener.local_addr().expect("address");
    let server = thread::spawn(move || {
        let body = vec![0x42u8; BULK];
        for _ in 0..BULK_RUNS {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            let _ = stream.write_all(&body);
            let _ = stream.shutdown(Shutdown::Write);
            let mut rest = Vec::new();
            let _ = stream.read_to_end(&mut rest);
        }
    });
    let mut times: Vec<f64> = (0..BULK_RUNS)
        .map(|_| {
            ends.client(move || {
                let mut buffer = vec![0u8; 1 << 20];
                let start = Instant::now();
                let mut stream = TcpStream::connect(addr).expect("connect");
                let mut got = 0;
                loop {
                    match stream.read(&mut buffer) {
                        Ok(0) => break,
                        Ok(n) => got += n,
                        Err(e) => panic!("bulk read: {e}"),
                    }
                }
                let seconds = start.elapsed().as_secs_f64();
                assert_eq!(got, BULK, "the whole body arrived");
                seconds
            })
        })
        .collect();
    server.join().expect("bulk server");
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}
