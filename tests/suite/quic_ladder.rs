//! The HTML reports' QUIC ladders — an h3 run's in `compare`'s page, a capture's first QUIC
//! connections in `analyze --html`'s of aioquic's traffic — hold each connection's datagrams
//! and packets, by type and sender, as tshark counts them on the capture.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::common::{self, aioquic};
use crate::h3_compare::tshark_quic;
use crate::quic_analysis::{DEFAULT, capture_udp, run_aioquic};

/// The column of the page's ladders headed by `mode`.
fn ladder_column<'a>(html: &'a str, mode: &str) -> &'a str {
    let section = ladder_section(html);
    let start = section
        .find(&format!("<h3>{mode}: "))
        .unwrap_or_else(|| panic!("no {mode} column in {section}"));
    let column = &section[start..];
    &column[..column[4..].find("<h3>").map_or(column.len(), |end| end + 4)]
}

/// The titles of the column's arrows and bands (not of their labels).
fn mark_titles(column: &str) -> Vec<&str> {
    let mut titles = Vec::new();
    let mut rest = column;
    while let Some(at) = rest.find(" class=\"") {
        let class = &rest[at + 8..];
        let class_end = class.find('"').unwrap();
        let after = &class[class_end..];
        let class = &class[..class_end];
        rest = after;
        let mark = class.starts_with("pkt ") || class.starts_with("band ");
        let tag_end = after.find('>').unwrap();
        if let Some(title) = after[tag_end + 1..]
            .strip_prefix("<title>")
            .filter(|_| mark)
            .and_then(|t| t.split_once("</title>"))
        {
            titles.push(title.0);
        }
    }
    titles
}

/// What the marks' titles claim: datagrams and packets by type, per sender, named as
/// `tshark_quic` names them.
fn page_counts(titles: &[&str]) -> BTreeMap<(String, String), u64> {
    let mut counts = BTreeMap::new();
    for title in titles {
        let (head, what) = title.split_once(": ").unwrap();
        let side = if head.contains("client → server") {
            "client"
        } else {
            assert!(head.contains("server → client"), "{title}");
            "server"
        };
        let mut add = |key: &str, n: u64| {
            *counts.entry((side.to_owned(), key.to_owned())).or_insert(0) += n;
        };
        if let Some(run) = what.split_once(" datagrams of one 1-RTT packet each") {
            let n: u64 = run.0.parse().unwrap();
            add("datagrams", n);
            add("one_rtt", n);
            continue;
        }
        let (_, packets) = what
            .split_once(" bytes: ")
            .or_else(|| what.split_once(" byte: "))
            .unwrap_or_else(|| panic!("{title}"));
        add("datagrams", 1);
        for packet in packets.split(", ") {
            let name = packet.split(" (").next().unwrap();
            let kind = match name {
                "Initial" => "initial",
                "0-RTT" => "zero_rtt",
                "Handshake" => "handshake",
                "Retry" => "retry",
                "1-RTT" => "one_rtt",
                other => panic!("{other:?} in {title}"),
            };
            add(kind, 1);
        }
    }
    counts
}

/// The port after `lane` ("client 10.47.0.2:60503") in a column.
fn lane_port(column: &str, lane: &str) -> u16 {
    let at = column.find(&format!(">{lane} ")).unwrap() + lane.len() + 2;
    let address = &column[at..at + column[at..].find('<').unwrap()];
    address.rsplit(':').next().unwrap().parse().unwrap()
}

/// The ladder section of a page.
fn ladder_section(html: &str) -> &str {
    let section = &html[html.find("id=\"ladders\"").expect("a ladder section")..];
    &section[..section.find("</section>").unwrap()]
}

/// The ladder figures of a page's section or column, each from its caption to its end.
fn figures(html: &str) -> Vec<&str> {
    html.split("<figure class=\"ladder-figure\">")
        .skip(1)
        .map(|f| &f[..f.find("</figure>").unwrap()])
        .collect()
}

/// Checks the QUIC connection drawn in `ladder` (one figure, or a column of one) against tshark
/// on `pcap`: its 4-tuple is one connection's for tshark, and its arrows and bands hold that
/// connection's datagrams and packets by type and sender, with the hellos on the datagrams
/// tshark reads them in, and the handshake drawn (the client's Initial, the server's answer).
/// Returns tshark's `quic.connection.number` for it.
fn assert_drawn_as_tshark_counts(pcap: &Path, ladder: &str) -> u64 {
    let (client, server) = (lane_port(ladder, "client"), lane_port(ladder, "server"));
    let filter = format!("udp.port == {client} && udp.port == {server}");
    // Its 4-tuple is one QUIC connection's in the whole capture (a short header to a
    // connection ID issued encrypted gets no number from tshark).
    let numbers: std::collections::BTreeSet<String> =
        common::tshark_rows(pcap, &[], &filter, &["quic.connection.number"])
            .into_iter()
            .flatten()
            .flat_map(|n| n.split(',').map(str::to_owned).collect::<Vec<_>>())
            .filter(|n| !n.is_empty())
            .collect();
    assert_eq!(numbers.len(), 1, "{numbers:?}");

    let titles = mark_titles(ladder);
    let ours = page_counts(&titles);
    let theirs = tshark_quic(pcap, &filter, server);
    assert_eq!(ours, theirs, "{filter}");
    // The datagrams named by the hello their Initial completed are those tshark finds it in.
    for (hello, kind) in [("(ClientHello)", 1), ("(ServerHello)", 2)] {
        let named = titles.iter().filter(|t| t.contains(hello)).count();
        let theirs = common::tshark_rows(
            pcap,
            &[],
            &format!("{filter} && tls.handshake.type == {kind}"),
            &["frame.number"],
        );
        assert_eq!(named, theirs.len(), "{hello}: {titles:?}");
    }
    assert!(ours[&("client".to_owned(), "initial".to_owned())] >= 1);
    assert!(ours[&("server".to_owned(), "handshake".to_owned())] >= 1);
    numbers.into_iter().next().unwrap().parse().unwrap()
}

#[test]
fn analyze_pages_ladders_draw_aioquics_datagrams_as_tshark_counts_them_as_root() {
    let test = "analyze_pages_ladders_draw_aioquics_datagrams_as_tshark_counts_them_as_root";
    if !common::require_root(test) || !common::have_tshark(test) || !aioquic::have(test) {
        return;
    }
    // Three connections one after another, the later two resumed with 0-RTT data: a capture
    // synack wrote neither side of.
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("h3.pcap");
    let port = common::free_udp_port();
    let mut connections = Vec::new();
    capture_udp(&pcap, port, || {
        connections = run_aioquic(dir.path(), port, 3, 3, &DEFAULT);
    });
    assert_eq!(connections.len(), 3, "aioquic's connections");
    let page = dir.path().join("page.html");
    let out = common::synack()
        .arg("analyze")
        .arg(&pcap)
        .arg("--html")
        .arg(&page)
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    common::ran(&out);
    let html = std::fs::read_to_string(&page).unwrap();
    let section = ladder_section(&html);
    // The note says what a QUIC arrow and band are, as the page draws one.
    assert!(
        section.contains("On a QUIC connection an arrow is"),
        "{section}"
    );

    let drawn = figures(section);
    assert_eq!(drawn.len(), connections.len(), "{section}");
    let mut numbers = Vec::new();
    for figure in drawn {
        let number = assert_drawn_as_tshark_counts(&pcap, figure);
        // Named as tshark numbers it, as the QUIC tables and the JSON do.
        assert!(
            figure.starts_with(&format!("<figcaption>QUIC connection {number} · ")),
            "{figure}"
        );
        numbers.push(number);
    }
    // The first connections, in the order tshark numbers them.
    let first: Vec<u64> = (0..connections.len() as u64).collect();
    assert_eq!(numbers, first);
    // The capture holds no TCP (tshark counts none): no empty waterfall, no word of TCP's
    // numbering.
    let tcp = common::tshark_stdout(&pcap, &["-Y", "tcp", "-T", "fields", "-e", "frame.number"]);
    assert_eq!(tcp.trim(), "", "TCP in the capture");
    assert!(html.contains("Not drawn: the waterfall's bars are the requests of TCP connections"));
    assert!(!html.contains("class=\"waterfall\""), "an empty waterfall");
    assert!(!html.contains("tcp.stream"), "TCP's numbering");
}

#[test]
fn an_h3_runs_ladder_draws_its_datagrams_as_tshark_counts_them_as_root() {
    let test = "an_h3_runs_ladder_draws_its_datagrams_as_tshark_counts_them_as_root";
    if !common::require_root(test) || !common::have_tshark(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let site = common::small_files(dir.path());
    let report = common::compare_report(
        dir.path(),
        &[
            "--modes",
            "h3",
            "--rounds",
            "1",
            "--rtt",
            "20ms",
            "--files",
            site.to_str().unwrap(),
        ],
    );
    let pcap = PathBuf::from(report["captures"]["h3"].as_str().unwrap());
    let html = std::fs::read_to_string(pcap.with_file_name("report.html")).unwrap();
    let column = ladder_column(&html, "h3");
    assert!(column.starts_with("<h3>h3: 1 connection, "), "{column}");
    assert!(column.contains("connection 1 · one-way delay"), "{column}");

    assert_drawn_as_tshark_counts(&pcap, column);
}
