//! A live capture stopped at once keeps every frame the kernel already holds: nothing sent before
//! `stop` is lost because the capture thread had not read it yet.

use crate::common;

use std::net::UdpSocket;

use synack::capture::source::{DEFAULT_SNAPLEN, Recorder};

#[test]
fn a_capture_stopped_at_once_keeps_every_frame_sent_before_as_root() {
    if !common::require_root("a_capture_stopped_at_once_keeps_every_frame_sent_before_as_root") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("burst.pcap");
    // A port of its own, so only this test's datagrams match.
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = receiver.local_addr().unwrap().port();
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    let filter = format!("udp and dst port {port}");
    for round in 0..5 {
        let recorder = Recorder::start("lo", &filter, DEFAULT_SNAPLEN, &path).unwrap();
        // Once send_to returns, a datagram on lo is in the capture's buffer or on its way.
        let sent = 2_000u64;
        for i in 0..sent {
            sender
                .send_to(&i.to_be_bytes(), ("127.0.0.1", port))
                .unwrap();
        }
        let stats = recorder.stop().unwrap();
        assert_eq!(
            stats.kernel_dropped, 0,
            "round {round}: the buffer overflowed"
        );
        assert_eq!(
            stats.packets, sent,
            "round {round}: frames lost at the stop"
        );
        // An independent count of what the file holds.
        if common::have_tshark("a_capture_stopped_at_once_keeps_every_frame_sent_before_as_root") {
            let lines = common::tshark_stdout(&path, &["-T", "fields", "-e", "frame.number"]);
            assert_eq!(lines.lines().count() as u64, sent, "round {round}");
        }
    }
}
