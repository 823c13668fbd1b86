//! Tests of both sides of TLS and the stream between them.

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;

use super::client::server_host;
use super::*;

fn options(version: TlsVersion, resume: bool, early_data: bool) -> ClientTlsOptions {
    ClientTlsOptions {
        version: Some(version),
        resume,
        early_data,
    }
}

/// An echo-once server: reads one line, answers it, sends close_notify; returns what each
/// connection's session was on the server's side.
fn serve(
    tls: ServerTls,
    connections: usize,
) -> (
    std::net::SocketAddr,
    thread::JoinHandle<Vec<(TlsSession, bool)>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = thread::spawn(move || {
        (0..connections)
            .map(|_| {
                let (socket, _) = listener.accept().unwrap();
                let mut stream = tls.accept(socket).unwrap();
                let mut line = Vec::new();
                let mut byte = [0u8; 1];
                while !line.ends_with(b"\n") {
                    match stream.read(&mut byte) {
                        Ok(1) => line.push(byte[0]),
                        _ => break,
                    }
                }
                let early = stream.take_early();
                stream.write_all(b"got ").unwrap();
                stream.write_all(&line).unwrap();
                stream.close_notify().unwrap();
                // An answer to early data left before the client's Finished: read it (and
                // everything up to the client's FIN), so closing sends no RST.
                stream.handshake().unwrap();
                let mut rest = Vec::new();
                let _ = stream.raw_mut().read_to_end(&mut rest);
                (stream.session(), early)
            })
            .collect()
    });
    (addr, handle)
}

fn ask(sessions: &ClientSessions, addr: std::net::SocketAddr, early: bool) -> TlsSession {
    let socket = TcpStream::connect(addr).unwrap();
    let mut stream = sessions.connect(socket).unwrap();
    let sent_early = early && stream.send_early(b"hello\n").unwrap();
    stream.handshake().unwrap();
    if !stream.session().early_data_accepted || !sent_early {
        if sent_early {
            panic!("early data was sent but not accepted");
        }
        stream.write_all(b"hello\n").unwrap();
    }
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert_eq!(answer, "got hello\n");
    stream.session()
}

#[test]
fn each_version_is_spoken_as_pinned_and_resumes_only_when_asked() {
    for version in [TlsVersion::Tls12, TlsVersion::Tls13] {
        for resume in [false, true] {
            let server = ServerTls::self_signed(version, &["127.0.0.1".into()]).unwrap();
            let client = ClientTls::trusting(
                server.certificate(),
                "127.0.0.1:1",
                options(version, resume, false),
            )
            .unwrap();
            let (addr, handle) = serve(server, 3);
            let sessions = client.sessions();
            let seen: Vec<TlsSession> = (0..3).map(|_| ask(&sessions, addr, false)).collect();
            let served = handle.join().unwrap();
            for (i, (client_side, (server_side, _))) in seen.iter().zip(&served).enumerate() {
                assert_eq!(client_side.version, Some(version));
                assert_eq!(server_side.version, Some(version));
                let expect_resumed = resume && i > 0;
                assert_eq!(
                    client_side.resumed, expect_resumed,
                    "{version} resume={resume} #{i}"
                );
                assert_eq!(
                    server_side.resumed, expect_resumed,
                    "{version} resume={resume} #{i}"
                );
            }
            // A new run starts without the sessions of the last.
            let (addr, handle) = serve(
                ServerTls::self_signed(version, &["127.0.0.1".into()]).unwrap(),
                0,
            );
            drop((addr, handle.join()));
        }
    }
}

#[test]
fn early_data_rides_with_the_client_hello_of_a_resumed_tls13_session() {
    let server = ServerTls::self_signed(TlsVersion::Tls13, &["127.0.0.1".into()]).unwrap();
    let client = ClientTls::trusting(
        server.certificate(),
        "127.0.0.1",
        options(TlsVersion::Tls13, true, true),
    )
    .unwrap();
    let (addr, handle) = serve(server, 2);
    let sessions = client.sessions();
    let first = ask(&sessions, addr, true);
    let second = ask(&sessions, addr, true);
    let served = handle.join().unwrap();
    assert_eq!(first.early_data_sent, 0, "no session yet, so no early data");
    assert!(!served[0].1);
    assert!(second.resumed);
    assert_eq!(second.early_data_sent, 6);
    assert!(second.early_data_accepted);
    assert!(served[1].1, "the server read the request as early data");
}

#[test]
fn a_certificate_for_another_server_fails_the_handshake_loudly() {
    let server = ServerTls::self_signed(TlsVersion::Tls13, &["127.0.0.1".into()]).unwrap();
    let other = ServerTls::self_signed(TlsVersion::Tls13, &["127.0.0.1".into()]).unwrap();
    let client = ClientTls::trusting(
        other.certificate(),
        "127.0.0.1",
        options(TlsVersion::Tls13, false, false),
    )
    .unwrap();
    let (addr, handle) = serve(server, 1);
    let socket = TcpStream::connect(addr).unwrap();
    let mut stream = client.sessions().connect(socket).unwrap();
    let error = stream.handshake().unwrap_err();
    assert!(
        error.to_string().contains("invalid peer certificate"),
        "{error}"
    );
    // The server sees the alert and gives up on the connection.
    drop(stream);
    let _ = handle.join();
}

#[test]
fn a_name_the_certificate_does_not_carry_is_refused() {
    let server = ServerTls::self_signed(TlsVersion::Tls12, &["127.0.0.1".into()]).unwrap();
    let client = ClientTls::trusting(
        server.certificate(),
        "localhost:8443",
        options(TlsVersion::Tls12, false, false),
    )
    .unwrap();
    let (addr, handle) = serve(server, 1);
    let mut stream = client
        .sessions()
        .connect(TcpStream::connect(addr).unwrap())
        .unwrap();
    let error = stream.handshake().unwrap_err();
    assert!(error.to_string().contains("not valid for name"), "{error}");
    drop(stream);
    let _ = handle.join();
}

#[test]
fn host_header_values_name_the_server() {
    assert_eq!(server_host("127.0.0.1:8443"), "127.0.0.1");
    assert_eq!(server_host("[::1]:8443"), "::1");
    assert_eq!(server_host("example.org"), "example.org");
    assert_eq!(server_host("example.org:443"), "example.org");
}

#[test]
fn the_pem_of_a_certificate_reads_back_as_the_same_certificate() {
    let server = ServerTls::self_signed(TlsVersion::Tls13, &["localhost".into()]).unwrap();
    let pem = server.generated_pem().unwrap();
    let back = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
    assert_eq!(back.as_ref(), server.certificate().as_ref());
}
