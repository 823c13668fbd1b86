//! Tests of requests over real sockets: statuses, framing, closes and the connection bound.

use super::*;

#[test]
fn malformed_request_gets_400_and_the_server_keeps_serving() {
    let site = site();
    let server = start(&site, 4, None);
    let bad = exchange(&server, b"NOT HTTP AT ALL\x01\r\n\r\n");
    assert!(bad.starts_with("HTTP/1.1 400 "), "{bad}");
    assert!(bad.contains("Connection: close\r\n"));
    let good = exchange(
        &server,
        b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert!(good.starts_with("HTTP/1.1 200 OK\r\n"), "{good}");
    assert!(good.contains("Content-Type: text/plain; charset=utf-8\r\n"));
    assert!(good.ends_with("\r\n\r\nhello\n"));
    server.stop();
}

#[test]
fn traversal_over_the_wire_never_returns_outside_bytes() {
    let site = site();
    let server = start(&site, 4, None);
    for (path, status) in [
        ("/../secret.txt", "403"),
        ("/%2e%2e/secret.txt", "403"),
        ("/..%2fsecret.txt", "403"),
        ("/out", "403"),
        ("/nope", "404"),
    ] {
        let raw = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        let answer = exchange(&server, raw.as_bytes());
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status} ")),
            "{path}: {answer}"
        );
        assert!(!answer.contains(SECRET), "{path} leaked the secret");
    }
    server.stop();
}

#[test]
fn every_answer_is_dated_by_the_clock() {
    let site = site();
    let server = start(&site, 4, None);
    for request in [
        &b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"[..],
        b"GET /missing HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    ] {
        let answer = exchange(&server, request);
        let date = answer
            .lines()
            .find_map(|line| line.strip_prefix("Date: "))
            .unwrap_or_else(|| panic!("no Date: {answer}"));
        let at = httpdate::parse_http_date(date).expect("an HTTP-date");
        let now = std::time::SystemTime::now();
        let off = now.duration_since(at).unwrap_or_else(|e| e.duration());
        assert!(
            off < Duration::from_secs(5),
            "{date} is {off:?} off the clock"
        );
    }
    server.stop();
}

#[test]
fn head_sends_the_length_but_no_body() {
    let site = site();
    let server = start(&site, 4, None);
    let answer = exchange(&server, b"HEAD /hello.txt HTTP/1.0\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains("Content-Length: 6\r\n"));
    assert!(
        answer.ends_with("\r\n\r\n"),
        "no body after the head: {answer:?}"
    );
    server.stop();
}

#[test]
fn keep_alive_serves_pipelined_requests_and_refuses_other_methods() {
    let site = site();
    let log = EventLog::new();
    let server = start(&site, 4, Some(log.clone()));
    let answer = exchange(
        &server,
        b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n\
          POST /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi\
          GET /a/in%20sub.jpg HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    let statuses: Vec<&str> = answer
        .match_indices("HTTP/1.1 ")
        .map(|(at, _)| &answer[at + 9..at + 12])
        .collect();
    assert_eq!(statuses, ["200", "405", "200"], "{answer}");
    assert!(answer.contains("Allow: GET, HEAD\r\n"));
    assert!(answer.contains("Content-Type: image/jpeg\r\n"));
    assert!(!answer.contains("Connection: close"));
    // The client closed first, so the server saw its FIN before sending its own.
    let kinds = wait_for_closed(&log);
    let fin_received = kinds.iter().position(|k| *k == EventKind::FinReceived);
    let fin_sent = kinds.iter().position(|k| *k == EventKind::FinSent);
    assert!(
        fin_received < fin_sent && fin_received.is_some(),
        "{kinds:?}"
    );
    assert_eq!(kinds.first(), Some(&EventKind::Accept));
    server.stop();
}

#[test]
fn connection_close_makes_the_server_send_the_first_fin() {
    let site = site();
    let log = EventLog::new();
    let server = start(&site, 4, Some(log.clone()));
    exchange(
        &server,
        b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    let kinds = wait_for_closed(&log);
    assert_eq!(
        kinds,
        [
            EventKind::Accept,
            EventKind::Request {
                path: "/hello.txt".into()
            },
            EventKind::ResponseStart { status: 200 },
            EventKind::ResponseEnd { bytes: 6 },
            EventKind::FinSent,
            EventKind::FinReceived,
            EventKind::Closed,
        ]
    );
    server.stop();
}

#[test]
fn a_head_past_its_bounds_gets_414_or_431_as_rfc_9110_names_them() {
    let site = site();
    let server = start(&site, 4, None);
    let long_target = format!(
        "GET /{} HTTP/1.1\r\nHost: t\r\n\r\n",
        "a".repeat(http::MAX_HEAD_BYTES)
    );
    let answer = exchange(&server, long_target.as_bytes());
    assert!(
        answer.starts_with("HTTP/1.1 414 URI Too Long\r\n"),
        "{answer}"
    );
    let long_head = format!(
        "GET /hello.txt HTTP/1.1\r\nHost: t\r\nCookie: {}\r\n\r\n",
        "c".repeat(http::MAX_HEAD_BYTES)
    );
    let answer = exchange(&server, long_head.as_bytes());
    assert!(
        answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
        "{answer}"
    );
    let many_fields = format!(
        "GET /hello.txt HTTP/1.1\r\nHost: t\r\n{}\r\n",
        "X-A: b\r\n".repeat(100)
    );
    let answer = exchange(&server, many_fields.as_bytes());
    assert!(
        answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
        "{answer}"
    );
    server.stop();
}

#[test]
fn a_later_http_1_minor_version_is_served_as_http_1_1_and_another_major_gets_505() {
    let site = site();
    let server = start(&site, 4, None);
    let answer = exchange(
        &server,
        b"GET /hello.txt HTTP/1.2\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.ends_with("\r\n\r\nhello\n"), "{answer}");
    let answer = exchange(&server, b"GET /hello.txt HTTP/2.0\r\nHost: t\r\n\r\n");
    assert!(
        answer.starts_with("HTTP/1.1 505 HTTP Version Not Supported\r\n"),
        "{answer}"
    );
    server.stop();
}

#[test]
fn a_refused_request_is_logged_with_its_reason() {
    let site = site();
    let log = EventLog::new();
    let server = start(&site, 4, Some(log.clone()));
    let answer = exchange(&server, b"GET /hello.txt HTTP/1.1\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    let kinds = wait_for_closed(&log);
    let refused = kinds.iter().find_map(|k| match k {
        EventKind::Refused { reason } => Some(reason.as_str()),
        _ => None,
    });
    assert_eq!(
        refused,
        Some("HTTP/1.1 request without a Host header"),
        "{kinds:?}"
    );
    server.stop();
}

#[test]
fn a_tls_server_answers_plain_http_in_plain_text_and_logs_why_handshakes_fail() {
    use crate::transfer::tls::{ClientTls, ClientTlsOptions, TlsVersion};
    let site = site();
    let log = EventLog::new();
    let tls = ServerTls::self_signed(TlsVersion::Tls13, &["localhost".into()]).expect("tls");
    let mut config = config(&site.root, 4);
    config.tls = Some(tls);
    let server = Server::start(config, Some(log.clone())).expect("server starts");
    let refusal = |log: &EventLog| {
        wait_for_closed(log)
            .into_iter()
            .find_map(|kind| match kind {
                EventKind::Refused { reason } | EventKind::Broken { reason } => Some(reason),
                _ => None,
            })
    };

    // curl's http:// to this server: a 400 it can read, in plain text, closed with a FIN.
    let answer = exchange(&server, b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    assert!(answer.ends_with("or TLS in your client.\n"), "{answer}");
    assert_eq!(refusal(&log).as_deref(), Some("plain HTTP on a TLS server"));

    // A client that trusts only another CA breaks the handshake off with an alert, as curl
    // does without --cacert.
    let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "a CA this server does not use");
    let key = rcgen::KeyPair::generate().expect("key");
    let other = params.self_signed(&key).expect("certificate");
    let options = ClientTlsOptions {
        version: Some(TlsVersion::Tls13),
        resume: false,
        early_data: false,
    };
    let client = ClientTls::trusting(other.der(), "localhost", options).expect("client");
    let stream = TcpStream::connect(server.local_addr()).expect("connect");
    let mut stream = client.sessions().connect(stream).expect("client stream");
    assert!(
        stream.handshake().is_err(),
        "a certificate nobody trusts was accepted"
    );
    drop(stream);
    let reason = refusal(&log).expect("the broken handshake is logged");
    assert!(reason.contains("UnknownCA"), "{reason}");
    assert!(
        reason.contains("does not trust this server's certificate"),
        "{reason}"
    );
    server.stop();
}

#[test]
fn connections_over_the_bound_wait_for_a_free_slot() {
    let site = site();
    let server = start(&site, 1, None);
    let mut first = TcpStream::connect(server.local_addr()).expect("connect");
    first.write_all(GET_HELLO).expect("send");
    let mut head = [0u8; 12];
    first.read_exact(&mut head).expect("first is served");
    assert_eq!(&head, b"HTTP/1.1 200");
    served_once_it_closes(&server, first);
    server.stop();
}

#[test]
fn start_reports_a_missing_root_and_a_busy_port() {
    let site = site();
    let missing = Server::start(config(&site.root.join("missing"), 1), None);
    assert!(matches!(missing, Err(TransferError::Root { .. })));

    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let busy = Server::start(
        ServerConfig {
            bind: taken.local_addr().expect("addr"),
            ..config(&site.root, 1)
        },
        None,
    );
    assert!(matches!(busy, Err(TransferError::Bind { .. })));
}

#[test]
fn a_burst_of_pipelined_requests_in_one_segment_is_answered_in_order() {
    let site = site();
    let server = start(&site, 4, None);
    let paths = ["/hello.txt", "/a/in%20sub.jpg"];
    let burst: String = (0..20)
        .map(|i| format!("GET {} HTTP/1.1\r\nHost: t\r\n\r\n", paths[i % 2]))
        .collect();
    let stream = TcpStream::connect(server.local_addr()).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    // One write of under 1 KiB: one segment on loopback.
    (&stream).write_all(burst.as_bytes()).expect("send");
    let mut reader = BufReader::new(&stream);
    for i in 0..20 {
        let head = http::read_response_head(&mut reader).expect("a response");
        assert_eq!((head.status, head.close), (200, false), "response {i}");
        let mut body = vec![0u8; head.content_length.expect("length") as usize];
        reader.read_exact(&mut body).expect("body");
        let expected: &[u8] = if i % 2 == 0 {
            b"hello\n"
        } else {
            &[0xFF, 0xD8]
        };
        assert_eq!(body, expected, "response {i}");
    }
    drop(reader);
    drop(stream);
    let served: Vec<String> = wait_for_samples(&server, 20)
        .into_iter()
        .map(|sample| sample.path)
        .collect();
    let asked: Vec<&str> = (0..20).map(|i| paths[i % 2]).collect();
    assert_eq!(served, asked);
    server.stop();
}
