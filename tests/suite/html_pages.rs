//! The words of `synack analyze --html`'s page, read as text from a capture the test builds: no
//! browser, no root.

use crate::fixtures;

#[test]
fn analyze_page_names_connections_by_their_stream_index_everywhere() {
    let html = fixtures::analyze_page(&["/a.jpg", "/b.mp3", "/c.txt"], 20_000);
    // The waterfall's rows, the ladders' captions and the time–sequence graphs all say
    // "connection N" with N = tcp.stream, as the # column and `analyze --ladder N` do.
    for stream in 0..3 {
        let name = format!("connection {stream}");
        assert!(
            html.contains(&format!("{name} (client 127.0.0.1:4000{stream})")),
            "waterfall row of {name}"
        );
        assert!(
            html.contains(&format!("<figcaption>{name} ·")),
            "ladder of {name}"
        );
        assert!(
            html.contains(&format!("{name}, response 1")),
            "time–sequence graph of {name}"
        );
    }
    assert!(!html.contains("connection 3"), "numbered from 1 somewhere");
    assert!(!html.contains("stream 0"), "a second name for a connection");
}

#[test]
fn analyze_page_legend_names_only_the_phases_drawn() {
    let html = fixtures::analyze_page(&["/a.jpg", "/b.mp3", "/c.txt"], 20_000);
    let legend = &html[html.find("<div class=\"legend\">").unwrap()..];
    let legend = &legend[..legend.find("</div>").unwrap()];
    assert!(legend.contains("handshake (SYN → SYN-ACK)"), "{legend}");
    assert!(
        !legend.contains("TLS"),
        "no TLS in a plain HTTP capture: {legend}"
    );
}

#[test]
fn analyze_page_names_each_request_by_its_target() {
    let paths = ["/a.jpg", "/b.mp3", "/c.txt"];
    let html = fixtures::analyze_page(&paths, 20_000);
    assert_eq!(bar_labels(&html), paths, "the waterfall's bars");
    for path in paths {
        assert!(
            html.contains(&format!("<title>{path}, round 1 of")),
            "ladder round of {path}"
        );
    }
}

#[test]
fn analyze_page_numbers_requests_whose_line_the_capture_cut() {
    // Ethernet, IPv4 and TCP headers and 6 bytes of payload: "GET /a" and no more.
    let html = fixtures::analyze_page_cut_at(&["/a.jpg", "/b.mp3"], 20_000, 60);
    // Each connection carries one request: each is its connection's first.
    assert_eq!(bar_labels(&html), ["request 1", "request 1"]);
    assert!(
        !html.contains("/a.jpg") && !html.contains("/b.mp3"),
        "a target the capture does not hold"
    );
    assert!(html.contains("<title>response 1, round 1 of"));
}

#[test]
fn a_resent_syns_timeout_is_no_path_delay_in_the_ladder() {
    // The first SYN is lost; the second, a second later, is answered 10 µs after it left.
    let mut capture = fixtures::Capture::new();
    let mut c = fixtures::conn("127.0.0.1:40000", "127.0.0.1:8080", 1000);
    capture.send(&mut c, true, "S", &[]);
    capture.t += 1_000_000_000;
    c.cseq = c.cseq.wrapping_sub(1);
    capture
        .handshake(&mut c)
        .exchange(&mut c, "/a.jpg", 20_000)
        .close_from_server(&mut c);
    let html = fixtures::page_of(&capture, 65_535);
    // Half the 10 µs between the SYN answered and its SYN-ACK, not half of 1 s.
    assert!(
        html.contains("connection 0 · one-way delay 5.0 µs<"),
        "{}",
        html.split("<figcaption>").nth(1).unwrap_or("")
    );
}

/// The labels of the waterfall's bars, top to bottom.
fn bar_labels(html: &str) -> Vec<&str> {
    html.split("class=\"file-label\"")
        .skip(1)
        .filter_map(|rest| {
            let text = &rest[rest.find('>')? + 1..];
            Some(&text[..text.find("</text>")?])
        })
        .collect()
}
