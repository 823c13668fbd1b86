//! Tests of the h3 client against the h3 server on loopback.

use std::net::SocketAddr;

use super::{H3Server, QuicCongestion};
use crate::transfer::client::tests::samples_plan;
use crate::transfer::client::{FetchPlan, fetch};
use crate::transfer::files::{SAMPLES, generate_samples, sha256_file};
use crate::transfer::run::Mode;
use crate::transfer::tls::{ClientTls, ClientTlsOptions, ServerTls, TlsVersion};

struct Setup {
    _dir: tempfile::TempDir,
    _server: H3Server,
    plan: FetchPlan,
    sources: Vec<std::path::PathBuf>,
}

fn setup(options: ClientTlsOptions) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("www");
    let sources = generate_samples(&root).expect("samples");
    let tls = ServerTls::self_signed(TlsVersion::Tls13, &["127.0.0.1".into()]).expect("cert");
    let server = H3Server::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        root,
        &tls,
        None,
        QuicCongestion::Cubic,
    )
    .expect("server starts");
    let client = ClientTls::trusting(tls.certificate(), "127.0.0.1", options).expect("client");
    let plan = FetchPlan {
        parallel: 1,
        tls: Some(client),
        ..samples_plan(server.local_addr(), dir.path().join("out"))
    };
    Setup {
        _dir: dir,
        _server: server,
        plan,
        sources,
    }
}

#[test]
fn every_file_arrives_whole_over_one_connection_with_every_request_sent_first() {
    let setup = setup(ClientTlsOptions {
        version: None,
        resume: false,
        early_data: false,
    });
    let run = fetch(Mode::H3, &setup.plan, None).expect("fetch");
    assert_eq!(run.connections.len(), 1);
    let conn = &run.connections[0];
    assert_eq!(conn.requests.len(), SAMPLES.len());
    let last_sent = conn
        .requests
        .iter()
        .map(|r| r.sent)
        .max()
        .expect("requests");
    let first_answer = conn
        .requests
        .iter()
        .map(|r| r.first_byte)
        .min()
        .expect("requests");
    assert!(
        last_sent <= first_answer,
        "every request left before any response was read"
    );
    for (file, source) in run.files.iter().zip(&setup.sources) {
        assert_eq!(file.sha256, sha256_file(source).expect("source hash"));
        assert_eq!(sha256_file(&file.path).expect("saved hash"), file.sha256);
    }
    let tls = conn.tls.expect("QUIC carries TLS");
    assert!(!tls.session.resumed);
}

#[test]
fn a_later_run_resumes_and_sends_its_requests_as_0rtt() {
    let setup = setup(ClientTlsOptions {
        version: Some(TlsVersion::Tls13),
        resume: true,
        early_data: true,
    });
    let first = fetch(Mode::H3, &setup.plan, None).expect("first run");
    let second = fetch(Mode::H3, &setup.plan, None).expect("second run");
    let session = |run: &crate::transfer::run::RunTiming| {
        run.connections[0].tls.expect("QUIC carries TLS").session
    };
    assert!(!session(&first).resumed);
    assert!(session(&second).resumed);
    assert!(session(&second).early_data_accepted);
    let conn = &second.connections[0];
    // 0-RTT: the requests left before the handshake was done.
    assert!(conn.requests.iter().all(|r| r.sent < conn.connected));
    for (file, source) in second.files.iter().zip(&setup.sources) {
        assert_eq!(file.sha256, sha256_file(source).expect("source hash"));
    }
}
