//! Tests of a plain server, whose pollers accept connections and serve parked ones.

use super::*;

#[test]
fn a_parked_connection_answers_pipelined_requests_and_a_large_file_in_order() {
    let site = site();
    let large: Vec<u8> = (0..200_000u32).map(|n| n as u8).collect();
    fs::write(site.root.join("large.bin"), &large).expect("write");
    let server = start_plain(&site, Duration::from_secs(15));
    let (_held, mut stream) = parked_connection(&server);
    let pipelined = [
        GET_HELLO,
        b"GET /large.bin HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET /missing HTTP/1.1\r\nHost: t\r\n\r\n",
        GET_HELLO,
    ]
    .concat();
    stream.get_mut().write_all(&pipelined).expect("send");
    assert_eq!(read_response(&mut stream).1, b"hello\n");
    assert_eq!(read_response(&mut stream).1, large);
    assert!(read_response(&mut stream).0.starts_with("HTTP/1.1 404 "));
    assert_eq!(read_response(&mut stream).1, b"hello\n");
}

#[test]
fn a_parked_connection_waits_for_a_head_that_comes_in_pieces() {
    let site = site();
    let server = start_plain(&site, Duration::from_secs(15));
    let (_held, mut stream) = parked_connection(&server);
    let (start, rest) = GET_HELLO.split_at(20);
    stream.get_mut().write_all(start).expect("send");
    thread::sleep(Duration::from_millis(50));
    stream.get_mut().write_all(rest).expect("send");
    assert_eq!(read_response(&mut stream).1, b"hello\n");
    stream
        .get_mut()
        .write_all(b"POST /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc")
        .expect("send");
    assert!(read_response(&mut stream).0.starts_with("HTTP/1.1 405 "));
}

#[test]
fn a_parked_connection_is_closed_with_a_fin_at_the_idle_time() {
    let site = site();
    let idle = Duration::from_millis(300);
    let server = start_plain(&site, idle);
    let (_held, mut stream) = parked_connection(&server);
    let started = Instant::now();
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).expect("a FIN, not a reset");
    assert!(rest.is_empty());
    let waited = started.elapsed();
    assert!(waited >= idle - Duration::from_millis(100), "{waited:?}");
    assert!(waited < Duration::from_secs(3), "{waited:?}");
}

#[test]
fn a_plain_server_accepts_on_its_pollers_and_serves_every_kind_of_first_request() {
    let site = site();
    let large: Vec<u8> = (0..200_000u32).map(|n| (n % 251) as u8).collect();
    fs::write(site.root.join("large.bin"), &large).expect("write");
    let server = start_plain(&site, Duration::from_secs(15));
    assert!(matches!(server.accepting, Some(Accepting::Pollers { .. })));
    let connect = || {
        let stream = TcpStream::connect(server.local_addr()).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        BufReader::new(stream)
    };
    // A small file, answered by the poller that accepted it.
    let mut small = connect();
    small.get_mut().write_all(GET_HELLO).expect("send");
    assert_eq!(read_response(&mut small).1, b"hello\n");
    // A large file and the requests pipelined behind it, handed to a thread.
    let mut burst = connect();
    let pipelined = [
        b"GET /large.bin HTTP/1.1\r\nHost: t\r\n\r\n".as_slice(),
        GET_HELLO,
        b"GET /missing HTTP/1.1\r\nHost: t\r\n\r\n",
    ]
    .concat();
    burst.get_mut().write_all(&pipelined).expect("send");
    assert_eq!(read_response(&mut burst).1, large);
    assert_eq!(read_response(&mut burst).1, b"hello\n");
    assert!(read_response(&mut burst).0.starts_with("HTTP/1.1 404 "));
    // A head in two pieces, the second after the connection was accepted.
    let mut pieces = connect();
    let (start, rest) = GET_HELLO.split_at(20);
    pieces.get_mut().write_all(start).expect("send");
    thread::sleep(Duration::from_millis(50));
    pieces.get_mut().write_all(rest).expect("send");
    assert_eq!(read_response(&mut pieces).1, b"hello\n");
    // Connection: close ends with the server's FIN after the response, never a reset.
    let mut closing = connect();
    closing
        .get_mut()
        .write_all(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .expect("send");
    assert_eq!(read_response(&mut closing).1, b"hello\n");
    let mut rest = Vec::new();
    closing.read_to_end(&mut rest).expect("a FIN, not a reset");
    assert!(rest.is_empty());
    // So does one whose client sent more after asking for the close: what it sent is read
    // until its FIN before the socket closes, so its unread bytes cause no reset.
    let mut chatty = connect();
    chatty
        .get_mut()
        .write_all(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\nmore")
        .expect("send");
    assert_eq!(read_response(&mut chatty).1, b"hello\n");
    thread::sleep(Duration::from_millis(50));
    chatty.get_mut().write_all(b"and more").expect("send");
    chatty.get_mut().shutdown(Shutdown::Write).expect("FIN");
    let mut rest = Vec::new();
    chatty.read_to_end(&mut rest).expect("a FIN, not a reset");
    assert!(rest.is_empty());
}

#[test]
fn a_plain_server_at_its_bound_accepts_the_next_connection_once_a_slot_frees() {
    let site = site();
    let server = start_plain_bounded(&site, Duration::from_secs(15), 1);
    let first = answered_connection(&server);
    served_once_it_closes(&server, first);
}

#[test]
fn a_stopped_plain_server_closes_its_port_at_once() {
    let site = site();
    let server = start_plain(&site, Duration::from_secs(15));
    let addr = server.local_addr();
    // A connection that stays open does not hold the stop up.
    let _open = answered_connection(&server);
    let started = Instant::now();
    server.stop();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let refused = TcpStream::connect(addr).expect_err("nothing listens");
    assert_eq!(
        refused.kind(),
        io::ErrorKind::ConnectionRefused,
        "{refused}"
    );
    // The port is free again for a new server.
    let again = TcpListener::bind(addr);
    assert!(again.is_ok(), "{again:?}");
}

#[test]
fn a_file_served_again_by_a_poller_is_the_file_the_path_names_now() {
    let site = site();
    let page = site.root.join("page.txt");
    fs::write(&page, "first\n").expect("write");
    let server = start_plain(&site, Duration::from_secs(15));
    // One keep-alive connection stays on one poller, which keeps the file between requests.
    let stream = TcpStream::connect(server.local_addr()).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut stream = BufReader::new(stream);
    let mut get = || {
        let request = b"GET /page.txt HTTP/1.1\r\nHost: t\r\n\r\n";
        stream.get_mut().write_all(request).expect("send");
        read_response(&mut stream)
    };
    assert_eq!(get().1, b"first\n");
    assert_eq!(get().1, b"first\n");
    // Replaced by a rename, as editors and deployments do.
    let next = site.root.join("next.txt");
    fs::write(&next, "second\n").expect("write");
    fs::rename(&next, &page).expect("rename");
    assert_eq!(get().1, b"second\n");
    // Rewritten in place, longer and then shorter.
    fs::write(&page, "a longer third\n").expect("rewrite");
    assert_eq!(get().1, b"a longer third\n");
    fs::write(&page, "4\n").expect("rewrite");
    assert_eq!(get().1, b"4\n");
    // Removed, then a symlink out of the root in its place.
    fs::remove_file(&page).expect("remove");
    assert!(get().0.starts_with("HTTP/1.1 404 "));
    std::os::unix::fs::symlink(&site.secret, &page).expect("symlink");
    let (head, body) = get();
    assert!(head.starts_with("HTTP/1.1 403 "), "{head}");
    assert!(!body.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()));
}
