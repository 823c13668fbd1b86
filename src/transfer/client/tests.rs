//! Tests of the client against the server on loopback, in every mode.

use std::collections::HashSet;
use std::fs;
use std::io::{self, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use super::*;
use crate::transfer::TransferError;
use crate::transfer::events::{EventKind, EventLog, Side};
use crate::transfer::files::{SAMPLES, generate_samples, sha256_file};
use crate::transfer::http;
use crate::transfer::server::{Server, ServerConfig};

/// The sample files on a server of their own, and a plan that fetches them all in cleartext.
pub(crate) struct Setup {
    _dir: tempfile::TempDir,
    pub(crate) server: Server,
    pub(crate) plan: FetchPlan,
    pub(crate) sources: Vec<PathBuf>,
}

fn setup(log: Option<EventLog>) -> Setup {
    served(log, None)
}

/// As `setup`, the server speaking `tls` (HTTP/2 in the h2 mode's tests).
pub(crate) fn served(log: Option<EventLog>, tls: Option<crate::transfer::tls::ServerTls>) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("www");
    let sources = generate_samples(&root).expect("samples");
    let server = Server::start(
        ServerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            root,
            max_connections: 8,
            congestion: None,
            fastopen: false,
            tls,
            sample_responses: true,
            timeouts: Default::default(),
        },
        log,
    )
    .expect("server starts");
    let plan = samples_plan(server.local_addr(), dir.path().join("out"));
    Setup {
        _dir: dir,
        server,
        plan,
        sources,
    }
}

/// A plan that fetches every sample from `addr` into `out_dir` in cleartext.
pub(crate) fn samples_plan(addr: SocketAddr, out_dir: PathBuf) -> FetchPlan {
    FetchPlan {
        addr,
        host: addr.to_string(),
        paths: SAMPLES
            .iter()
            .map(|s| http::path_for_name(s.name))
            .collect(),
        out_dir,
        expected_sha256: None,
        parallel: DEFAULT_PARALLEL,
        rcvbuf: None,
        fastopen: false,
        tls: None,
        names: None,
        any_status: false,
        h3_tls: None,
        limits: FetchLimits::default(),
    }
}

fn assert_ordered(conn: &ConnectionTiming) {
    assert!(conn.connect_start <= conn.connected);
    let mut previous = conn.connected;
    for request in &conn.requests {
        assert!(previous <= request.sent);
        assert!(request.sent <= request.first_byte);
        assert!(request.first_byte <= request.last_byte);
        previous = request.last_byte;
    }
    assert!(previous <= conn.closed);
}

fn assert_received_intact(setup: &Setup, run: &RunTiming) {
    assert_eq!(run.files.len(), setup.sources.len());
    for (file, source) in run.files.iter().zip(&setup.sources) {
        let source_sha = sha256_file(source).expect("hash source");
        assert_eq!(file.sha256, source_sha, "{}", file.name);
        assert_eq!(sha256_file(&file.path).expect("hash copy"), source_sha);
        assert_eq!(file.bytes, fs::metadata(source).expect("source").len());
        assert!(file.seconds >= 0.0);
    }
    assert!(run.start <= run.end);
}

#[test]
fn non_persistent_uses_one_connection_per_file() {
    let setup = setup(None);
    let run = fetch(Mode::NonPersistent, &setup.plan, None).expect("fetch");
    assert_received_intact(&setup, &run);
    assert_eq!(run.connections.len(), 3);
    let ports: HashSet<u16> = run.connections.iter().map(|c| c.local.port()).collect();
    assert_eq!(ports.len(), 3, "each connection has its own port");
    for (index, conn) in run.connections.iter().enumerate() {
        assert_eq!(conn.requests.len(), 1);
        assert_eq!(conn.requests[0].file, index);
        assert_ordered(conn);
    }
    // The next connection opens only after the previous one closed.
    for pair in run.connections.windows(2) {
        assert!(pair[0].closed <= pair[1].connect_start);
    }
    assert!(
        run.files[0].path.ends_with("non-persistent/a.jpg"),
        "{:?}",
        run.files[0].path
    );
    setup.server.stop();
}

#[test]
fn persistent_uses_one_connection_for_all_files() {
    let log = EventLog::new();
    let setup = setup(Some(log.clone()));
    let run = fetch(Mode::Persistent, &setup.plan, Some(&log)).expect("fetch");
    assert_received_intact(&setup, &run);
    assert_eq!(run.connections.len(), 1);
    let conn = &run.connections[0];
    let files: Vec<usize> = conn.requests.iter().map(|r| r.file).collect();
    assert_eq!(files, [0, 1, 2]);
    assert_ordered(conn);
    assert_eq!(run.start, conn.connect_start);
    assert_eq!(run.end, conn.closed);
    assert!(run.files[2].path.ends_with("persistent/c.txt"));

    let client: Vec<EventKind> = log
        .take()
        .into_iter()
        .filter(|e| e.side == Side::Client && e.local == conn.local)
        .map(|e| e.kind)
        .collect();
    assert_eq!(client.first(), Some(&EventKind::Connect));
    let tail = &client[client.len() - 3..];
    assert_eq!(
        tail,
        [
            EventKind::FinSent,
            EventKind::FinReceived,
            EventKind::Closed
        ]
    );
    let requests = client
        .iter()
        .filter(|k| matches!(k, EventKind::Request { .. }))
        .count();
    assert_eq!(requests, 3);
    setup.server.stop();
}

#[test]
fn expected_digests_are_checked() {
    let mut setup = setup(None);
    let good: Vec<String> = setup
        .sources
        .iter()
        .map(|p| sha256_file(p).expect("hash"))
        .collect();
    setup.plan.expected_sha256 = Some(good.iter().map(|s| s.to_uppercase()).collect());
    let run = fetch(Mode::Persistent, &setup.plan, None).expect("fetch");
    assert!(run.files.iter().all(|f| f.sha256_ok == Some(true)));

    let mut wrong = good.clone();
    wrong[1] = "00".repeat(32);
    setup.plan.expected_sha256 = Some(wrong);
    let error = fetch(Mode::NonPersistent, &setup.plan, None).expect_err("mismatch");
    assert!(
        matches!(&error, TransferError::ShaMismatch { name, .. } if name == "b.mp3"),
        "{error}"
    );
    let dir = setup.plan.out_dir.join(Mode::NonPersistent.name());
    assert!(!dir.join("b.mp3").exists(), "no final file");
    assert!(!dir.join(".b.mp3.part").exists(), "no part file");
    setup.server.stop();
}

#[test]
fn a_missing_file_is_a_status_error_without_leftovers() {
    let mut setup = setup(None);
    setup.plan.paths = vec!["/missing.bin".into()];
    let error = fetch(Mode::NonPersistent, &setup.plan, None).expect_err("404");
    assert!(
        matches!(&error, TransferError::Status { code: 404, path, said: None } if path == "/missing.bin"),
        "{error}"
    );
    let dir = setup.plan.out_dir.join(Mode::NonPersistent.name());
    assert_eq!(fs::read_dir(dir).expect("mode dir").count(), 0);
    setup.server.stop();
}

#[test]
fn plans_that_cannot_be_saved_are_refused_before_connecting() {
    let plan = FetchPlan {
        // Nothing listens here; an attempt to connect would fail differently.
        addr: SocketAddr::from(([127, 0, 0, 1], 9)),
        host: "x".into(),
        paths: vec!["/a/".into()],
        out_dir: PathBuf::from("/nonexistent-synack-test"),
        expected_sha256: None,
        parallel: 1,
        rcvbuf: None,
        fastopen: false,
        tls: None,
        names: None,
        any_status: false,
        h3_tls: None,
        limits: FetchLimits::default(),
    };
    for paths in [
        vec![],
        vec!["/a/".into()],
        vec!["/x/a.jpg".into(), "/a.jpg".into()],
    ] {
        let plan = FetchPlan {
            paths,
            ..plan.clone()
        };
        assert!(matches!(
            fetch(Mode::Persistent, &plan, None),
            Err(TransferError::InvalidPlan(_))
        ));
    }
    let no_slots = FetchPlan {
        paths: vec!["/a.jpg".into()],
        parallel: 0,
        ..plan
    };
    assert!(matches!(
        fetch(Mode::Parallel, &no_slots, None),
        Err(TransferError::InvalidPlan(_))
    ));
}

#[test]
fn mode_names_match_the_cli_values() {
    use clap::ValueEnum;
    assert_eq!(Mode::ALL.len(), Mode::value_variants().len());
    for mode in Mode::ALL {
        let value = mode.to_possible_value().expect("visible");
        assert_eq!(value.get_name(), mode.name());
        let json = serde_json::to_string(&mode).expect("serialises");
        assert_eq!(json, format!("\"{}\"", mode.name()));
    }
    assert!(Mode::DEFAULT.iter().all(|mode| Mode::ALL.contains(mode)));
}

#[test]
fn pipelined_writes_every_request_before_reading_any_response() {
    let log = EventLog::new();
    let setup = setup(Some(log.clone()));
    let run = fetch(Mode::Pipelined, &setup.plan, Some(&log)).expect("fetch");
    assert_received_intact(&setup, &run);
    assert_eq!(run.connections.len(), 1);
    let conn = &run.connections[0];
    let files: Vec<usize> = conn.requests.iter().map(|r| r.file).collect();
    assert_eq!(files, [0, 1, 2]);
    let last_sent = conn.requests.iter().map(|r| r.sent).max().expect("three");
    assert!(last_sent <= conn.requests[0].first_byte);
    for pair in conn.requests.windows(2) {
        assert!(pair[0].sent <= pair[1].sent);
        assert!(pair[0].last_byte <= pair[1].first_byte);
    }
    assert!(conn.connected <= conn.requests[0].sent);
    assert!(conn.requests[2].last_byte <= conn.closed);
    assert_eq!((run.start, run.end), (conn.connect_start, conn.closed));
    assert!(run.files[1].path.ends_with("pipelined/b.mp3"));

    // The server answered all three on the one connection, and the client closed first.
    let client: Vec<EventKind> = log
        .take()
        .into_iter()
        .filter(|e| e.side == Side::Client)
        .map(|e| e.kind)
        .collect();
    let requests: Vec<usize> = client
        .iter()
        .enumerate()
        .filter(|(_, k)| matches!(k, EventKind::Request { .. }))
        .map(|(at, _)| at)
        .collect();
    let first_response = client
        .iter()
        .position(|k| matches!(k, EventKind::ResponseStart { .. }))
        .expect("a response");
    assert_eq!(requests.len(), 3);
    assert!(requests.iter().all(|&at| at < first_response), "{client:?}");
    assert_eq!(
        &client[client.len() - 3..],
        [
            EventKind::FinSent,
            EventKind::FinReceived,
            EventKind::Closed
        ]
    );
    setup.server.stop();
}

/// The largest number of connections open at one instant.
fn most_open_at_once(connections: &[ConnectionTiming]) -> usize {
    connections
        .iter()
        .map(|c| {
            connections
                .iter()
                .filter(|o| o.connect_start <= c.connect_start && c.connect_start < o.closed)
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn parallel_keeps_at_most_k_connections_open() {
    let mut setup = setup(None);
    setup.plan.parallel = 2;
    let run = fetch(Mode::Parallel, &setup.plan, None).expect("fetch");
    assert_received_intact(&setup, &run);
    assert_eq!(run.connections.len(), 3);
    let ports: HashSet<u16> = run.connections.iter().map(|c| c.local.port()).collect();
    assert_eq!(ports.len(), 3, "each connection has its own port");
    assert!(most_open_at_once(&run.connections) <= 2);
    let mut files: Vec<usize> = Vec::new();
    for conn in &run.connections {
        assert_eq!(conn.requests.len(), 1);
        assert_ordered(conn);
        files.push(conn.requests[0].file);
        let file = &run.files[conn.requests[0].file];
        let seconds = conn.requests[0].last_byte.secs_since(conn.connect_start);
        assert!((file.seconds - seconds).abs() < 1e-9);
    }
    files.sort_unstable();
    assert_eq!(files, [0, 1, 2]);
    for pair in run.connections.windows(2) {
        assert!(pair[0].connect_start <= pair[1].connect_start);
    }
    assert_eq!(run.start, run.connections[0].connect_start);
    assert_eq!(
        Some(run.end),
        run.connections.iter().map(|c| c.closed).max()
    );
    assert!(run.files[0].path.ends_with("parallel/a.jpg"));
    setup.server.stop();
}

/// Answers one request on `stream` with its path as the body, then closes cleanly.
fn answer_with_path(stream: TcpStream) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(&stream);
    let request = http::read_request(&mut reader)
        .map_err(io::Error::other)?
        .ok_or_else(|| io::Error::other("no request"))?;
    let body = request.path;
    let mut writer = &stream;
    http::write_response_head(
        &mut writer,
        200,
        "OK",
        body.len() as u64,
        true,
        "text/plain",
    )?;
    writer.write_all(body.as_bytes())?;
    stream.shutdown(Shutdown::Write)?;
    io::copy(&mut reader, &mut io::sink())?;
    Ok(())
}

#[test]
fn parallel_opens_k_connections_before_any_is_answered() {
    // This server answers nothing until two connections are open, so a client that opened
    // them one at a time would stall until the server gives up.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("addr");
    let server = std::thread::spawn(move || -> io::Result<()> {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let (mut waiting, mut served) = (Vec::new(), 0);
        while served < 3 {
            if std::time::Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "{} connection(s) open at once, 2 expected",
                    waiting.len()
                )));
            }
            match listener.accept() {
                Ok((stream, _)) => waiting.push(stream),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(e) => return Err(e),
            }
            if waiting.len() == 2 || (served == 2 && waiting.len() == 1) {
                for stream in waiting.drain(..) {
                    answer_with_path(stream)?;
                    served += 1;
                }
            }
        }
        Ok(())
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = FetchPlan {
        addr,
        host: addr.to_string(),
        paths: vec!["/1.txt".into(), "/2.txt".into(), "/3.txt".into()],
        out_dir: dir.path().to_path_buf(),
        expected_sha256: None,
        parallel: 2,
        rcvbuf: None,
        fastopen: false,
        tls: None,
        names: None,
        any_status: false,
        h3_tls: None,
        limits: FetchLimits::default(),
    };
    let run = fetch(Mode::Parallel, &plan, None);
    server
        .join()
        .expect("no panic")
        .expect("two connections at once");
    let run = run.expect("fetch");
    assert_eq!(run.connections.len(), 3);
    assert_eq!(most_open_at_once(&run.connections), 2);
    for (file, path) in run.files.iter().zip(&plan.paths) {
        assert_eq!(fs::read_to_string(&file.path).expect("saved"), *path);
    }
}

#[test]
fn parallel_with_one_slot_is_non_persistent() {
    let mut setup = setup(None);
    setup.plan.parallel = 1;
    let run = fetch(Mode::Parallel, &setup.plan, None).expect("fetch");
    assert_received_intact(&setup, &run);
    assert_eq!(run.connections.len(), 3);
    for (index, conn) in run.connections.iter().enumerate() {
        assert_eq!(conn.requests.len(), 1);
        assert_eq!(conn.requests[0].file, index);
    }
    for pair in run.connections.windows(2) {
        assert!(pair[0].closed <= pair[1].connect_start);
    }
    setup.server.stop();
}

#[test]
fn a_failure_in_one_parallel_slot_fails_the_run() {
    let mut setup = setup(None);
    setup.plan.parallel = 2;
    setup.plan.paths[1] = "/missing.bin".into();
    let error = fetch(Mode::Parallel, &setup.plan, None).expect_err("404");
    assert!(
        matches!(&error, TransferError::Status { code: 404, path, said: None } if path == "/missing.bin"),
        "{error}"
    );
    setup.server.stop();
}
