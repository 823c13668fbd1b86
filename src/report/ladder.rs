//! Report layer: one connection as the textbook draws it, in text — a client lane and a server
//! lane, an arrow per packet with its flags and numbers, times from the connection's first
//! packet, and each round of response data (and the plain ACKs sent during it) folded into one
//! line. What Wireshark's sequence analysis marks on a packet is named on it, in its words.

use std::fmt::Write as _;

use super::units;
use crate::timeline::Ts;
use crate::track::tls::ProtocolVersion;
use crate::track::trace::{ConnectionTrace, TracedPacket};
use crate::track::{Connection, SeqVerdict, Side};

/// The narrowest and widest the arrows are drawn.
const LANE: (usize, usize) = (36, 72);

/// Columns before the left lane: the time.
const TIME_COLUMNS: usize = 11;

/// What one line of the ladder shows.
#[derive(Debug)]
enum Item {
    /// One packet.
    Packet(TracedPacket),
    /// The server data segments of one round.
    Round {
        number: usize,
        first: Ts,
        segments: u32,
        bytes: u64,
        /// Of the segments, those Wireshark marks, each also on a line of its own.
        marked: u32,
        fin: bool,
    },
    /// The client's pure ACKs while a round was in flight.
    Acks {
        first: Ts,
        count: u32,
        last_ack: u32,
    },
}

impl Item {
    fn ts(&self) -> Ts {
        match self {
            Item::Packet(p) => p.ts,
            Item::Round { first, .. } | Item::Acks { first, .. } => *first,
        }
    }
}

/// The ladder of `conn`, drawn from its packets in `trace`, fitted to `width` when given.
pub fn ladder(conn: &Connection, trace: &ConnectionTrace, width: Option<u16>) -> String {
    let lane = width
        .map_or(LANE.1, |w| usize::from(w).saturating_sub(TIME_COLUMNS + 2))
        .clamp(LANE.0, LANE.1);
    let rounds: Vec<(Ts, Ts)> = conn
        .exchanges
        .iter()
        .flat_map(|x| x.rounds.iter().map(|r| (r.start, r.end)))
        .collect();
    // Rounds are numbered within their response.
    let numbers: Vec<usize> = conn
        .exchanges
        .iter()
        .flat_map(|x| 1..=x.rounds.len())
        .collect();
    let items = fold(&trace.packets, &rounds);
    let origin = trace.packets.first().map_or(Ts(0), |p| p.ts);
    let mut out = String::new();
    let heading = format!(
        "Connection {}: {} → {}, times in ms from its first packet",
        conn.stream, conn.client, conn.server
    );
    let _ = writeln!(out, "{}", super::width::wrap(&heading, width));
    let _ = writeln!(
        out,
        "{:>w$} {:<half$}{:>half2$}",
        "",
        "client",
        "server",
        w = TIME_COLUMNS - 1,
        half = lane / 2 + 1,
        half2 = lane - lane / 2 + 1
    );
    for item in &items {
        let (from, label) = describe(item, &numbers, conn);
        let mut lines = arrow(from, &label, lane).into_iter();
        let _ = writeln!(
            out,
            "{:>w$.3} {}",
            item.ts().secs_since(origin) * 1e3,
            lines.next().unwrap_or_default(),
            w = TIME_COLUMNS - 1
        );
        for line in lines {
            let _ = writeln!(out, "{:>w$} {line}", "", w = TIME_COLUMNS - 1);
        }
    }
    out
}

/// Groups the packets into lines: server data by round, the client's pure ACKs during a round.
fn fold(packets: &[TracedPacket], rounds: &[(Ts, Ts)]) -> Vec<Item> {
    let round_of_data = |ts: Ts| rounds.iter().position(|&(s, e)| s <= ts && ts <= e);
    // A pure ACK belongs to the last round that started before it, until the client sends
    // anything else.
    let mut items: Vec<Item> = Vec::new();
    let mut round_item: Vec<Option<usize>> = vec![None; rounds.len()];
    let mut acks_item: Vec<Option<usize>> = vec![None; rounds.len()];
    let mut current_round: Option<usize> = None;
    for p in packets {
        // A packet Wireshark marks (a resend, a duplicate ACK, a zero window, a keep-alive) gets
        // a line of its own, at its own time.
        let plain = notes(p).is_empty();
        let pure_ack =
            p.flags.ack && !p.flags.syn && !p.flags.fin && !p.flags.rst && p.len == 0 && plain;
        match p.from {
            Side::Server if p.len > 0 && !p.flags.syn => {
                if let Some(r) = round_of_data(p.ts) {
                    current_round = Some(r);
                    let apart = u32::from(!plain);
                    match round_item[r] {
                        Some(i) => {
                            if let Item::Round {
                                segments,
                                bytes,
                                marked,
                                fin,
                                ..
                            } = &mut items[i]
                            {
                                *segments += 1;
                                *bytes += u64::from(p.len);
                                *marked += apart;
                                *fin |= p.flags.fin;
                            }
                        }
                        None => {
                            round_item[r] = Some(items.len());
                            items.push(Item::Round {
                                number: r,
                                first: p.ts,
                                segments: 1,
                                bytes: u64::from(p.len),
                                marked: apart,
                                fin: p.flags.fin,
                            });
                        }
                    }
                    // A marked segment is counted in its round and drawn on its own line too.
                    if plain {
                        continue;
                    }
                    items.push(Item::Packet(*p));
                    continue;
                }
                current_round = None;
            }
            Side::Client if pure_ack && current_round.is_some() => {
                let r = current_round.unwrap_or_default();
                match acks_item[r] {
                    Some(i) => {
                        if let Item::Acks {
                            count, last_ack, ..
                        } = &mut items[i]
                        {
                            *count += 1;
                            *last_ack = p.ack;
                        }
                    }
                    None => {
                        acks_item[r] = Some(items.len());
                        items.push(Item::Acks {
                            first: p.ts,
                            count: 1,
                            last_ack: p.ack,
                        });
                    }
                }
                continue;
            }
            // Anything else either side sends ends the round's run of ACKs.
            Side::Client | Side::Server => current_round = None,
        }
        items.push(Item::Packet(*p));
    }
    items.sort_by_key(Item::ts);
    items
}

/// What Wireshark marks on `p`, or "resent" for a resend it names otherwise.
pub fn notes(p: &TracedPacket) -> Vec<&'static str> {
    let mut notes = marks(&p.analysis);
    if notes.is_empty() && p.resent {
        notes.push("resent");
    }
    notes
}

/// What Wireshark's sequence analysis marks on a packet, named as its expert info names it
/// (`tcp.analysis.*`); the most specific name of a retransmission alone.
fn marks(v: &SeqVerdict) -> Vec<&'static str> {
    let retransmission = if v.fast_retransmission {
        Some("fast retransmission")
    } else if v.spurious_retransmission {
        Some("spurious retransmission")
    } else {
        v.retransmission.then_some("retransmission")
    };
    [
        (v.lost_segment, "previous segment not captured"),
        (retransmission.is_some(), retransmission.unwrap_or_default()),
        (v.out_of_order, "out-of-order"),
        (v.duplicate_ack, "duplicate ACK"),
        (v.keep_alive, "keep-alive"),
        (v.zero_window_probe, "zero window probe"),
        (v.zero_window, "zero window"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect()
}

/// What a data segment of `conn` starts, where the capture shows it: a request, or the TLS
/// handshake message whose header it carried (the ClientHello, the ServerHello, and under TLS 1.2
/// the client's Finished, its first handshake record after its ChangeCipherSpec; TLS 1.3
/// encrypts it).
pub fn carries(conn: &Connection, p: &TracedPacket) -> Option<&'static str> {
    if p.len == 0 {
        return None;
    }
    if p.from == Side::Client && conn.exchanges.iter().any(|x| x.request == p.ts) {
        return Some("request");
    }
    let tls = conn.tls()?;
    let at = Some(p.ts);
    match p.from {
        Side::Client if tls.client_hello == at => Some("ClientHello"),
        Side::Client
            if tls.client_finished == at && tls.version == Some(ProtocolVersion::TLS_1_2) =>
        {
            Some("Finished")
        }
        Side::Server if tls.server_hello == at => Some("ServerHello"),
        _ => None,
    }
}

/// Who sent the line, and what it says.
fn describe(item: &Item, numbers: &[usize], conn: &Connection) -> (Side, String) {
    match item {
        Item::Packet(p) => (p.from, packet_label(p, carries(conn, p))),
        Item::Round {
            number,
            segments,
            bytes,
            marked,
            fin,
            ..
        } => {
            let mut last = if *marked > 0 {
                format!(", {marked} marked, shown apart")
            } else {
                String::new()
            };
            if *fin {
                last.push_str(", the last with FIN");
            }
            (
                Side::Server,
                format!(
                    "round {}: {segments} segment{}, {}{last}",
                    numbers.get(*number).copied().unwrap_or(number + 1),
                    if *segments == 1 { "" } else { "s" },
                    units::bytes(*bytes as f64)
                ),
            )
        }
        Item::Acks {
            count, last_ack, ..
        } => (
            Side::Client,
            format!(
                "{count} ACK{} up to ack {last_ack}",
                if *count == 1 { "" } else { "s" }
            ),
        ),
    }
}

fn packet_label(p: &TracedPacket, carries: Option<&str>) -> String {
    let f = p.flags;
    let mut names = Vec::new();
    if f.syn {
        names.push("SYN");
    }
    if f.fin {
        names.push("FIN");
    }
    if f.rst {
        names.push("RST");
    }
    // Data says what it carries; a bare ACK, or one beside SYN or FIN, says ACK.
    if f.ack && p.len == 0 && !f.rst {
        names.push("ACK");
    }
    if p.len > 0 {
        names.insert(0, carries.unwrap_or("data"));
    }
    let mut label = names.join("-");
    if p.len > 0 {
        let _ = write!(label, " {}", units::bytes(f64::from(p.len)));
    }
    let _ = write!(label, ", seq {}", p.seq);
    if f.ack {
        let _ = write!(label, " ack {}", p.ack);
    }
    let notes = notes(p);
    if !notes.is_empty() {
        let _ = write!(label, " ({})", notes.join(", "));
    }
    label
}

/// `label` on an arrow across the lane, pointing from `from` to the other side; what does not
/// fit on the arrow goes on the lines below it, between the lanes, on the sender's side.
fn arrow(from: Side, label: &str, lane: usize) -> Vec<String> {
    let inner = lane.saturating_sub(2);
    // The arrow keeps two dashes at its tail, a space either side of the text and its head.
    let room = inner.saturating_sub(6).max(1);
    let options = textwrap::Options::new(room)
        .word_separator(textwrap::WordSeparator::AsciiSpace)
        .word_splitter(textwrap::WordSplitter::NoHyphenation)
        .break_words(true);
    let parts = textwrap::wrap(label, options);
    let mut lines = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        let length = part.chars().count();
        if i == 0 {
            let text = format!(" {part} ");
            let dashes = inner.saturating_sub(length + 5);
            lines.push(match from {
                Side::Client => format!("│──{text}{}▶│", "─".repeat(dashes)),
                Side::Server => format!("│◀{}{text}──│", "─".repeat(dashes)),
            });
        } else {
            let gap = inner.saturating_sub(length + 3);
            lines.push(match from {
                Side::Client => format!("│   {part}{}│", " ".repeat(gap)),
                Side::Server => format!("│{}{part}   │", " ".repeat(gap)),
            });
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::segment::TcpFlags;

    /// A client segment of `len` bytes at `ts` µs.
    fn client_data(ts: i64, len: u32) -> TracedPacket {
        TracedPacket {
            ts: Ts(ts * 1000),
            from: Side::Client,
            flags: TcpFlags {
                ack: true,
                psh: true,
                ..TcpFlags::default()
            },
            seq: 1,
            ack: 1,
            len,
            resent: false,
            analysis: SeqVerdict::default(),
        }
    }

    #[test]
    fn only_a_segment_that_starts_a_request_is_called_one() {
        // A TLS ClientHello, then the request it protects.
        assert!(packet_label(&client_data(10, 309), None).starts_with("data 309 B"));
        assert!(packet_label(&client_data(20, 126), Some("request")).starts_with("request 126 B"));
    }
}
