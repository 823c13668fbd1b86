//! Tests of the server: path confinement and the file cache, requests over real sockets on
//! loopback, TCP_INFO samples, and the plain server's pollers. Helpers shared by them are here.

mod pollers;
mod requests;
mod root;
mod samples;

use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use super::lifecycle::Accepting;
use super::root::Root;
use super::status::OK;
use super::*;
use crate::transfer::TransferError;
use crate::transfer::events::{EventKind, EventLog};
use crate::transfer::http;
use crate::transfer::tls::ServerTls;
use crate::transfer::wire::is_timeout;

/// A served root inside a tempdir, with a secret file next to it (outside the root).
struct Site {
    _dir: tempfile::TempDir,
    root: PathBuf,
    secret: PathBuf,
}

const SECRET: &str = "TOP-SECRET-OUTSIDE-ROOT";

fn site() -> Site {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    fs::create_dir_all(root.join("a")).expect("mkdir");
    fs::write(root.join("hello.txt"), "hello\n").expect("write");
    fs::write(root.join("a").join("in sub.jpg"), [0xFF, 0xD8]).expect("write");
    let secret = dir.path().join("secret.txt");
    fs::write(&secret, SECRET).expect("write");
    std::os::unix::fs::symlink(&secret, root.join("out")).expect("symlink");
    std::os::unix::fs::symlink(root.join("hello.txt"), root.join("in")).expect("symlink");
    Site {
        _dir: dir,
        root,
        secret,
    }
}

/// A server of `root` on a free loopback port that samples its responses, as compare's does,
/// with default timeouts.
fn config(root: &Path, max_connections: usize) -> ServerConfig {
    ServerConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        root: root.to_owned(),
        max_connections,
        congestion: None,
        fastopen: false,
        tls: None,
        sample_responses: true,
        timeouts: Default::default(),
    }
}

fn start(site: &Site, max_connections: usize, events: Option<EventLog>) -> Server {
    Server::start(config(&site.root, max_connections), events).expect("server starts")
}

/// Sends raw bytes, half-closes, and returns everything the server sent until its FIN.
fn exchange(server: &Server, raw: &[u8]) -> String {
    let mut stream = TcpStream::connect(server.local_addr()).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    stream.write_all(raw).expect("send");
    stream.shutdown(Shutdown::Write).expect("half-close");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("server closes");
    String::from_utf8_lossy(&answer).into_owned()
}

/// The server records Closed after the client is done, so poll for it.
fn wait_for_closed(log: &EventLog) -> Vec<EventKind> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut kinds = Vec::new();
    while Instant::now() < deadline {
        kinds.extend(log.take().into_iter().map(|e| e.kind));
        if kinds.contains(&EventKind::Closed) {
            break;
        }
        thread::sleep(Duration::from_millis(5));
    }
    kinds
}

/// With every slot taken by `first`, a second connection waits in the kernel's queue unserved,
/// and is served once `first` closes.
fn served_once_it_closes<T>(server: &Server, first: T) {
    let mut second = TcpStream::connect(server.local_addr()).expect("queued by the kernel");
    second
        .set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    second.write_all(GET_HELLO).expect("send");
    let mut head = [0u8; 12];
    let waiting = second.read(&mut head).expect_err("no slot yet");
    assert!(is_timeout(&waiting), "{waiting}");
    drop(first);
    second
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    second
        .read_exact(&mut head)
        .expect("served once the slot frees");
    assert_eq!(&head, b"HTTP/1.1 200");
}

/// Samples are pushed when a response has been written, which may be just after the client
/// read it, so poll for them.
fn wait_for_samples(server: &Server, count: usize) -> Vec<ResponseSample> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut samples = Vec::new();
    while samples.len() < count && Instant::now() < deadline {
        samples.extend(server.take_samples());
        thread::sleep(Duration::from_millis(2));
    }
    samples
}

/// A plain server (no samples, no events), whose keep-alive connections are parked between
/// requests, idle ones closed after `idle`.
fn start_plain(site: &Site, idle: Duration) -> Server {
    start_plain_bounded(site, idle, 16)
}

/// A plain server serving at most `max_connections` at once.
fn start_plain_bounded(site: &Site, idle: Duration, max_connections: usize) -> Server {
    Server::start(
        ServerConfig {
            sample_responses: false,
            timeouts: ServerTimeouts {
                idle,
                ..ServerTimeouts::default()
            },
            ..config(&site.root, max_connections)
        },
        None,
    )
    .expect("server starts")
}

/// Reads one response from `stream`: its head and its Content-Length's worth of body.
fn read_response(stream: &mut BufReader<TcpStream>) -> (String, Vec<u8>) {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        stream.read_line(&mut line).expect("a head line");
        assert!(!line.is_empty(), "closed inside a head: {head}");
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("Content-Length: "))
        .expect("a length")
        .parse()
        .expect("a number");
    let mut body = vec![0; length];
    stream.read_exact(&mut body).expect("the body");
    (head, body)
}

/// A keep-alive connection with one response answered.
fn answered_connection(server: &Server) -> BufReader<TcpStream> {
    let stream = TcpStream::connect(server.local_addr()).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut stream = BufReader::new(stream);
    stream.get_mut().write_all(GET_HELLO).expect("send");
    assert_eq!(read_response(&mut stream).1, b"hello\n");
    stream
}

/// A keep-alive connection that is parked: threads hold one connection for each poller
/// already (the others, returned first, which must stay open), so parking pays.
fn parked_connection(server: &Server) -> (Vec<BufReader<TcpStream>>, BufReader<TcpStream>) {
    let pollers = thread::available_parallelism().map_or(1, usize::from);
    let held = (0..pollers).map(|_| answered_connection(server)).collect();
    let parked = answered_connection(server);
    thread::sleep(Duration::from_millis(50));
    (held, parked)
}

const GET_HELLO: &[u8] = b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n";
