//! Tests of the TCP_INFO samples taken around each response, and of the congestion control set.

use super::*;

#[cfg(target_os = "linux")]
#[test]
fn tcp_info_is_sampled_around_every_response_and_carries_over_on_keep_alive() {
    use crate::transfer::client::{FetchPlan, fetch};
    use crate::transfer::files::{SAMPLES, generate_samples};
    use crate::transfer::kernel::read_kernel_settings;
    use crate::transfer::run::Mode;

    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("www");
    generate_samples(&root).expect("samples");
    let server = Server::start(config(&root, 4), None).expect("server starts");
    let plan = FetchPlan {
        addr: server.local_addr(),
        host: server.local_addr().to_string(),
        paths: SAMPLES
            .iter()
            .map(|s| http::path_for_name(s.name))
            .collect(),
        out_dir: dir.path().join("out"),
        expected_sha256: None,
        parallel: 1,
        rcvbuf: None,
        fastopen: false,
        tls: None,
        names: None,
        any_status: false,
        h3_tls: None,
        limits: Default::default(),
    };
    let info = |sample: &ResponseSample| {
        let start = sample.at_start.expect("TCP_INFO at the start");
        let end = sample.at_end.expect("TCP_INFO at the end");
        assert!(start.cwnd > 0 && end.cwnd > 0, "{sample:?}");
        assert!(start.mss > 0 && end.mss > 0, "{sample:?}");
        assert!(start.bytes_acked <= end.bytes_acked, "{sample:?}");
        // Not strictly more: pacing may hold the first segments back past the sample.
        assert!(start.segs_out <= end.segs_out, "{sample:?}");
        assert!(sample.started <= sample.ended);
        (start, end)
    };

    fetch(Mode::NonPersistent, &plan, None).expect("fetch");
    let fresh = wait_for_samples(&server, SAMPLES.len());
    assert_eq!(fresh.len(), SAMPLES.len());
    let initial = read_kernel_settings().initial_cwnd;
    for (sample, file) in fresh.iter().zip(&SAMPLES) {
        assert_eq!(sample.path, http::path_for_name(file.name));
        assert_eq!((sample.status, sample.bytes), (200, file.bytes));
        let (start, end) = info(sample);
        // A new connection: nothing sent yet, so the window is the initial one.
        assert_eq!(start.bytes_acked, 0, "{sample:?}");
        assert_eq!(Some(start.cwnd), initial, "{sample:?}");
        // The closing sample waits for the acknowledgement of the body and the FIN.
        assert!(end.all_acked(), "{sample:?}");
        assert!(
            end.bytes_acked > file.bytes,
            "head and body acknowledged: {sample:?}"
        );
        assert_eq!(
            sample.congestion,
            read_kernel_settings().tcp_congestion_control,
            "the kernel's default"
        );
    }

    fetch(Mode::Persistent, &plan, None).expect("fetch");
    let kept = wait_for_samples(&server, SAMPLES.len());
    assert_eq!(kept.len(), SAMPLES.len());
    assert!(
        kept.iter().all(|s| s.peer == kept[0].peer),
        "one connection"
    );
    let bbr = read_kernel_settings().tcp_congestion_control.as_deref() == Some("bbr");
    for (pair, file) in kept.windows(2).zip(&SAMPLES) {
        let (_, end) = info(&pair[0]);
        let (next, _) = info(&pair[1]);
        // The next request left after the client had read the whole previous response, so
        // it acknowledged every byte of it: the connection's state carries over.
        assert!(next.bytes_acked >= end.bytes_acked, "{pair:?}");
        assert!(next.bytes_acked >= file.bytes, "{pair:?}");
        assert!(next.segs_out >= end.segs_out, "{pair:?}");
        // Without loss, ACKs arriving in between only grow a loss-based window; BBR may
        // lower it toward its own target, so the check is skipped there.
        if !bbr && next.total_retrans == end.total_retrans {
            assert!(next.cwnd >= end.cwnd, "{pair:?}");
        }
    }
    for sample in &kept {
        assert!(info(sample).1.all_acked(), "{sample:?}");
    }
    server.stop();
}

#[test]
fn congestion_control_is_set_on_every_connection_or_refused_with_the_choices() {
    let site = site();
    let with_congestion = |name: &str| ServerConfig {
        congestion: Some(name.into()),
        ..config(&site.root, 2)
    };
    let server = Server::start(with_congestion("reno"), None).expect("reno is built into Linux");
    let answer = exchange(&server, b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let samples = wait_for_samples(&server, 1);
    assert_eq!(samples[0].congestion.as_deref(), Some("reno"));
    server.stop();

    let error = Server::start(with_congestion("no-such-cc"), None).expect_err("unknown name");
    let text = error.to_string();
    assert!(text.contains("\"no-such-cc\""), "{text}");
    assert!(
        text.contains("--congestion takes one of") && text.contains("reno"),
        "{text}"
    );
}
