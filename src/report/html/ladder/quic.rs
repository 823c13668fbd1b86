//! Report layer: a QUIC connection's datagrams as the ladder's steps — each datagram that holds a
//! long-header packet (the handshake) as an arrow named by the packets coalesced in it, each run
//! of one side's 1-RTT datagrams as one band with its count and bytes.

use super::{Ladder, Step};
use crate::analysis::drawn::DrawnQuic;
use crate::report::labels::packet_type;
use crate::report::units::{bytes, duration};
use crate::timeline::Ts;
use crate::track::Side;
use crate::track::quic::PacketType;
use crate::track::trace::TracedDatagram;
use crate::words::counted;

/// The TLS message a datagram's Initial completed, where the QUIC tracker read one.
fn hello(d: &DrawnQuic, datagram: &TracedDatagram) -> Option<&'static str> {
    let tls = &d.connection.tls;
    let (at, name) = match datagram.from {
        Side::Client => (tls.client_hello, "ClientHello"),
        Side::Server => (tls.server_hello, "ServerHello"),
    };
    (at == Some(datagram.ts) && datagram.packets.contains(&PacketType::Initial)).then_some(name)
}

/// Each packet's type in order, the first Initial followed by the hello it completed.
fn packet_names(packets: &[PacketType], hello: Option<&str>) -> Vec<String> {
    let mut hello = hello;
    packets
        .iter()
        .map(|&p| match (p, hello) {
            (PacketType::Initial, Some(h)) => {
                hello = None;
                format!("{} ({h})", packet_type(p))
            }
            _ => packet_type(p).to_owned(),
        })
        .collect()
}

/// A datagram's name on its arrow: the types of the packets coalesced in it, a type repeated in
/// a row named once ("Initial + Handshake"), and the hello an Initial completed.
fn datagram_label(packets: &[PacketType], hello: Option<&str>, malformed: bool) -> String {
    let mut names = packet_names(packets, hello);
    names.dedup();
    let mut label = if names.is_empty() {
        "datagram".to_owned()
    } else {
        names.join(" + ")
    };
    if malformed {
        label.push_str(", malformed");
    }
    label
}

/// Time, sender → receiver, length and each packet's type.
fn datagram_title(datagram: &TracedDatagram, at_s: f64, hello: Option<&str>) -> String {
    let names = packet_names(&datagram.packets, hello);
    format!(
        "{} {} → {}: datagram of {}: {}{}",
        duration(at_s),
        datagram.from.name(),
        datagram.from.peer().name(),
        counted(datagram.len, "byte", "bytes"),
        if names.is_empty() {
            "not captured".to_owned()
        } else {
            names.join(", ")
        },
        if datagram.malformed {
            " (then bytes that are not a QUIC packet)"
        } else {
            ""
        }
    )
}

/// One side's 1-RTT datagrams in a row.
struct Run<'a> {
    datagrams: Vec<&'a TracedDatagram>,
}

impl Run<'_> {
    /// A lone datagram as an arrow, more as a band.
    fn step(&self, origin: Ts) -> Step {
        let secs = |ts: Ts| ts.secs_since(origin);
        let (first, last) = (self.datagrams[0], self.datagrams[self.datagrams.len() - 1]);
        let total: u64 = self.datagrams.iter().map(|d| u64::from(d.len)).sum();
        if self.datagrams.len() == 1 {
            return Step::Arrow {
                from: first.from,
                at_s: secs(first.ts),
                label: format!("1-RTT {}", bytes(total as f64)),
                title: datagram_title(first, secs(first.ts), None),
                resent: false,
                control: false,
            };
        }
        Step::Band {
            from: first.from,
            first_s: secs(first.ts),
            last_s: secs(last.ts),
            label: format!(
                "1-RTT: {}, {}",
                counted(self.datagrams.len(), "datagram", "datagrams"),
                bytes(total as f64)
            ),
            title: format!(
                "{} … {} {} → {}: {} of one 1-RTT packet each, {}",
                duration(secs(first.ts)),
                duration(secs(last.ts)),
                first.from.name(),
                first.from.peer().name(),
                counted(self.datagrams.len(), "datagram", "datagrams"),
                counted(total, "byte", "bytes")
            ),
            data: first.from == Side::Server,
            strands: Vec::new(),
        }
    }
}

/// The side's place in per-side arrays.
fn slot(side: Side) -> usize {
    match side {
        Side::Client => 0,
        Side::Server => 1,
    }
}

impl Ladder {
    /// The ladder of QUIC connection `d` headed `label`, times in seconds since `origin`.
    pub fn of_quic(d: &DrawnQuic, label: String, origin: Ts) -> Ladder {
        // A sender that paused for more than a one-way delay was waiting for its peer: its next
        // datagram opens a new run.
        let pause_s = if d.one_way_s > 0.0 {
            d.one_way_s
        } else {
            f64::INFINITY
        };
        let mut steps = Vec::new();
        let mut runs: [Option<Run<'_>>; 2] = [None, None];
        for datagram in &d.trace.datagrams {
            let one_rtt_only = !datagram.packets.is_empty() && !datagram.has_long_header();
            if !one_rtt_only {
                for run in runs.iter_mut().filter_map(Option::take) {
                    steps.push(run.step(origin));
                }
                let at_s = datagram.ts.secs_since(origin);
                let hello = hello(d, datagram);
                steps.push(Step::Arrow {
                    from: datagram.from,
                    at_s,
                    label: datagram_label(&datagram.packets, hello, datagram.malformed),
                    title: datagram_title(datagram, at_s, hello),
                    resent: false,
                    control: true,
                });
                continue;
            }
            let run = &mut runs[slot(datagram.from)];
            let paused = run.as_ref().is_some_and(|r| {
                let last = r.datagrams[r.datagrams.len() - 1];
                datagram.ts.secs_since(last.ts) > pause_s
            });
            if paused && let Some(done) = run.take() {
                steps.push(done.step(origin));
            }
            run.get_or_insert_with(|| Run {
                datagrams: Vec::new(),
            })
            .datagrams
            .push(datagram);
        }
        for run in runs.iter_mut().filter_map(Option::take) {
            steps.push(run.step(origin));
        }
        // Runs end out of order (one side's while the other's goes on): in time order again.
        steps.sort_by(|a, b| start_s(a).total_cmp(&start_s(b)));
        Ladder {
            label,
            client: d.connection.client.to_string(),
            server: d.connection.server.to_string(),
            one_way_s: d.one_way_s,
            steps,
            streams: Vec::new(),
        }
    }
}

/// When a step's first packet was captured.
fn start_s(step: &Step) -> f64 {
    match *step {
        Step::Arrow { at_s, .. } => at_s,
        Step::Band { first_s, .. } => first_s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PacketType::{Handshake, Initial, OneRtt, ZeroRtt};

    #[test]
    fn a_datagram_is_named_by_its_packets_types_in_order() {
        assert_eq!(datagram_label(&[Initial], None, false), "Initial");
        assert_eq!(
            datagram_label(&[Initial, Handshake], None, false),
            "Initial + Handshake"
        );
        assert_eq!(
            datagram_label(&[Handshake, OneRtt], None, false),
            "Handshake + 1-RTT"
        );
        assert_eq!(datagram_label(&[ZeroRtt], None, false), "0-RTT");
        // Two Initials coalesced are named once; the title counts both.
        assert_eq!(
            datagram_label(&[Initial, Initial, Handshake], None, false),
            "Initial + Handshake"
        );
        assert_eq!(
            datagram_label(&[Initial, ZeroRtt], Some("ClientHello"), false),
            "Initial (ClientHello) + 0-RTT"
        );
        assert_eq!(
            datagram_label(&[Handshake], None, true),
            "Handshake, malformed"
        );
        assert_eq!(datagram_label(&[], None, false), "datagram");
    }

    #[test]
    fn a_datagrams_title_lists_every_packet() {
        let datagram = TracedDatagram {
            ts: Ts(1_500_000),
            from: Side::Server,
            len: 1200,
            packets: vec![Initial, Handshake, Handshake],
            malformed: false,
        };
        assert_eq!(
            datagram_title(&datagram, 0.0015, Some("ServerHello")),
            format!(
                "{} server → client: datagram of 1200 bytes: Initial (ServerHello), Handshake, \
                 Handshake",
                duration(0.0015)
            )
        );
    }
}
