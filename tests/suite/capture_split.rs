//! Splitting a session's capture into one file per mode: a connection stays whole in the file of
//! the run that opened it, even when a segment of it comes after the next run started. Counted
//! by synack's tracker and by tshark on the files written.

use crate::common;
use crate::fixtures;

use std::path::{Path, PathBuf};

use fixtures::{Capture, Format, Link, conn};
use synack::capture::split::{Window, split_by_time};
use synack::capture::writer::Format as SavedAs;
use synack::timeline::Ts;
use synack::track::reader::track_file;

/// Two runs of one connection each: run 0 (to output 0) from 127.0.0.1:40000, whose server
/// resends its FIN after run 1 (to output 1, from port 40001) has begun, and the client's ACK
/// of it; then run 1's connection. Returns the capture and the instant run 1 starts.
fn late_fin() -> (Capture, i64) {
    let mut capture = Capture::new();
    let mut first = conn("127.0.0.1:40000", "127.0.0.1:8080", 1000);
    capture
        .handshake(&mut first)
        .exchange(&mut first, "/a.jpg", 3000)
        .send(&mut first, false, "FA", &[])
        .send(&mut first, true, "FA", &[]);
    let second_starts = capture.t + 5_000;
    let mut second = conn("127.0.0.1:40001", "127.0.0.1:8080", 2000);
    capture.handshake(&mut second);
    // The server's FIN is resent (its sequence number one back) and acknowledged, late.
    first.sseq = first.sseq.wrapping_sub(1);
    capture
        .send(&mut first, false, "FA", &[])
        .send(&mut first, true, "A", &[]);
    capture
        .exchange(&mut second, "/b.mp3", 3000)
        .close_from_server(&mut second);
    (capture, second_starts)
}

/// Splits `capture` (saved in `dir`) into two files, the second from `second_starts` on;
/// returns their paths and the frames written to each.
fn split_in_two(dir: &Path, capture: &Capture, second_starts: i64) -> ([PathBuf; 2], Vec<u64>) {
    let session = dir.join("session.pcap");
    let link = Link::Ethernet;
    fixtures::write(
        &session,
        Format::PcapNano,
        link.linktype(),
        &capture.frames(link),
        65_535,
    );
    let outputs = [dir.join("a.pcap"), dir.join("b.pcap")];
    let windows = [
        Window {
            start: Ts(0),
            output: 0,
        },
        Window {
            start: Ts(second_starts),
            output: 1,
        },
    ];
    let formats = [SavedAs::Pcap, SavedAs::Pcap];
    let written = split_by_time(&session, &windows, &outputs, &formats).expect("split");
    (outputs, written)
}

/// Client ports of the connections in `path`, with each one's FIN count, by synack's tracker.
fn fins_by_port(path: &Path) -> Vec<(u16, u64)> {
    let tracked = track_file(path, None).expect("read a split file");
    tracked
        .connections
        .iter()
        .map(|c| (c.client.port(), c.counts.fin))
        .collect()
}

#[test]
fn a_connection_stays_whole_in_the_file_of_the_run_that_opened_it() {
    let dir = tempfile::tempdir().unwrap();
    let (capture, second_starts) = late_fin();
    let (outputs, written) = split_in_two(dir.path(), &capture, second_starts);
    assert_eq!(
        written.iter().sum::<u64>(),
        capture.packets.len() as u64,
        "every frame in one file"
    );
    // Run 0's connection has its two FINs and the resent one; run 1's file holds only its own.
    assert_eq!(fins_by_port(&outputs[0]), [(40000, 3)]);
    assert_eq!(fins_by_port(&outputs[1]), [(40001, 2)]);
    if common::have_tshark("a_connection_stays_whole_in_the_file_of_the_run_that_opened_it") {
        for (output, port) in outputs.iter().zip([40000, 40001]) {
            let ports = common::tshark_stdout(output, &["-n", "-T", "fields", "-e", "tcp.srcport"]);
            assert!(
                ports.lines().all(|p| p == port.to_string() || p == "8080"),
                "{}: {ports}",
                output.display()
            );
        }
    }
}

#[test]
fn a_new_syn_on_the_same_ports_starts_a_connection_of_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut capture = Capture::new();
    let mut first = conn("127.0.0.1:40000", "127.0.0.1:8080", 1000);
    capture
        .handshake(&mut first)
        .exchange(&mut first, "/a.jpg", 3000)
        .close_from_server(&mut first);
    let second_starts = capture.t + 5_000;
    // The same ports again, with a new initial sequence number.
    let mut again = conn("127.0.0.1:40000", "127.0.0.1:8080", 90_000);
    capture
        .handshake(&mut again)
        .exchange(&mut again, "/b.mp3", 3000)
        .close_from_server(&mut again);
    let (_, written) = split_in_two(dir.path(), &capture, second_starts);
    let half = capture.packets.len() as u64 / 2;
    assert_eq!(written, [half, half]);
}
