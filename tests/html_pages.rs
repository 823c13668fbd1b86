//! The words of `synack analyze --html`'s page, read as text from a capture the test builds: no
//! browser, no root.

mod fixtures;

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
