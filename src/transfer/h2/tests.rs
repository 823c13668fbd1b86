//! The h2 and h2c modes: synack's client against synack's server on loopback.

use crate::transfer::client::tests::{Setup, served};
use crate::transfer::client::{FetchPlan, fetch};
use crate::transfer::files::sha256_file;
use crate::transfer::run::{Mode, RunTiming};
use crate::transfer::tls::{ClientTls, ClientTlsOptions, ServerTls, TlsVersion};

fn setup(tls: Option<ServerTls>) -> Setup {
    served(None, tls)
}

fn server_tls() -> ServerTls {
    ServerTls::self_signed(TlsVersion::Tls13, &["127.0.0.1".into()]).expect("certificate")
}

fn trusting(server: &ServerTls, resume: bool) -> ClientTls {
    let options = ClientTlsOptions {
        version: Some(TlsVersion::Tls13),
        resume,
        early_data: false,
    };
    ClientTls::trusting(server.certificate(), "127.0.0.1", options).expect("client TLS")
}

/// One connection; every request left before the first response began, each file's bytes are the
/// source's, and each file's times are in order within the connection's.
fn assert_multiplexed(setup: &Setup, run: &RunTiming) {
    assert_eq!(run.connections.len(), 1, "one connection");
    let conn = &run.connections[0];
    assert_eq!(conn.requests.len(), setup.sources.len());
    let last_sent = conn.requests.iter().map(|r| r.sent).max().unwrap();
    let first_byte = conn.requests.iter().map(|r| r.first_byte).min().unwrap();
    assert!(
        last_sent <= first_byte,
        "every request went before any answer"
    );
    for request in &conn.requests {
        assert!(conn.connected <= request.sent);
        assert!(request.sent <= request.first_byte);
        assert!(request.first_byte <= request.last_byte);
        assert!(request.last_byte <= conn.closed);
    }
    assert_eq!(run.files.len(), setup.sources.len());
    for (file, source) in run.files.iter().zip(&setup.sources) {
        assert_eq!(file.sha256, sha256_file(source).expect("hash source"));
        assert_eq!(sha256_file(&file.path).expect("hash received"), file.sha256);
        assert_eq!(file.bytes, std::fs::metadata(source).unwrap().len());
    }
    // Nothing half-written is left beside the files.
    let dir = run.files[0].path.parent().unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name();
        assert!(!name.to_string_lossy().ends_with(".part"), "{name:?} left");
    }
}

#[test]
fn h2c_fetches_every_file_intact_over_one_connection() {
    let setup = setup(None);
    let run = fetch(Mode::H2c, &setup.plan, None).expect("h2c fetch");
    assert_multiplexed(&setup, &run);
    assert!(run.connections[0].tls.is_none());
    // The server answered each file on that connection. It keeps its last response's record
    // until its HTTP/2 connection ends, which the client's GOAWAY and FIN end at once, long
    // before the server's idle timeout (15 s) would.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut samples = setup.server.take_samples();
    while samples.len() < setup.sources.len() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
        samples.extend(setup.server.take_samples());
    }
    assert_eq!(samples.len(), setup.sources.len());
    assert!(samples.iter().all(|s| s.status == 200));
    assert!(samples.iter().all(|s| s.peer == run.connections[0].local));
}

#[test]
fn h2_fetches_every_file_intact_over_tls_1_3_with_alpn_h2() {
    let tls = server_tls();
    let setup = setup(Some(tls.clone()));
    let plan = FetchPlan {
        tls: Some(trusting(&tls, true)),
        ..setup.plan.clone()
    };
    for _ in 0..2 {
        let run = fetch(Mode::H2, &plan, None).expect("h2 fetch");
        assert_multiplexed(&setup, &run);
        let conn = &run.connections[0];
        let handshake = conn.tls.expect("TLS timing");
        assert_eq!(handshake.session.version, Some(TlsVersion::Tls13));
        assert!(conn.connected <= handshake.done);
        assert!(handshake.done <= conn.requests.iter().map(|r| r.sent).min().unwrap());
    }
}

#[test]
fn a_server_taking_plain_too_serves_h2c_and_http_1_1_beside_h2() {
    let tls = server_tls();
    let setup = setup(Some(tls.clone().alongside_plain()));
    let run = fetch(Mode::H2c, &setup.plan, None).expect("h2c fetch");
    assert_multiplexed(&setup, &run);
    let run = fetch(Mode::Persistent, &setup.plan, None).expect("plain persistent fetch");
    assert_eq!(run.files.len(), setup.sources.len());
    let plan = FetchPlan {
        tls: Some(trusting(&tls, false)),
        ..setup.plan.clone()
    };
    let run = fetch(Mode::H2, &plan, None).expect("h2 fetch");
    assert_multiplexed(&setup, &run);
}

#[test]
fn the_modes_refuse_the_wrong_scheme_before_connecting() {
    let tls = server_tls();
    let setup = setup(None);
    let error = fetch(Mode::H2, &setup.plan, None).expect_err("h2 needs TLS");
    assert!(error.to_string().contains("https://"), "{error}");
    let plan = FetchPlan {
        tls: Some(trusting(&tls, false)),
        ..setup.plan.clone()
    };
    let error = fetch(Mode::H2c, &plan, None).expect_err("h2c is cleartext");
    assert!(error.to_string().contains("http://"), "{error}");
}

#[test]
fn a_missing_file_is_the_servers_404() {
    let setup = setup(None);
    let plan = FetchPlan {
        paths: vec!["/missing.bin".into()],
        ..setup.plan.clone()
    };
    let error = fetch(Mode::H2c, &plan, None).expect_err("404");
    assert!(
        matches!(
            error,
            crate::transfer::TransferError::Status { code: 404, .. }
        ),
        "{error}"
    );
}

#[test]
fn the_preface_is_told_from_http_1_methods() {
    assert!(super::is_preface(super::PREFACE));
    assert!(super::is_preface(
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\x12\x04"
    ));
    assert!(super::is_preface(b"PRI "));
    assert!(!super::is_preface(b"PRI"));
    assert!(!super::is_preface(b"PUT / HTTP/1.1\r\n"));
    assert!(!super::is_preface(b"GET / HTTP/1.1\r\n"));
}
