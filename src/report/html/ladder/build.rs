//! Report layer: a connection's packets as the ladder's steps — control packets and marked
//! segments as arrows, each round of response data as one band, runs of the client's ACKs as
//! one band.

use super::{Ladder, STREAM_COLOURS, Step, Strand, StreamKey};
use crate::analysis::drawn::DrawnConnection;
use crate::report::ladder::{carries, notes};
use crate::report::units::{bytes, duration};
use crate::timeline::Ts;
use crate::track::trace::TracedPacket;
use crate::track::{Connection, Round, Side};
use crate::words::counted;

/// Client ACKs in a row that are still drawn one by one.
const SINGLE_ACKS: usize = 3;

fn flags_name(p: &TracedPacket) -> String {
    let f = p.flags;
    let names: Vec<&str> = [
        (f.syn, "SYN"),
        (f.fin, "FIN"),
        (f.rst, "RST"),
        (f.psh, "PSH"),
        (f.ack, "ACK"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect();
    names.join(", ")
}

fn packet_title(p: &TracedPacket, at_s: f64) -> String {
    let notes = notes(p);
    format!(
        "{} {} → {}: [{}] seq {} ack {} len {}{}",
        duration(at_s),
        p.from.name(),
        p.from.peer().name(),
        flags_name(p),
        p.seq,
        p.ack,
        p.len,
        if notes.is_empty() {
            String::new()
        } else {
            format!(" ({})", notes.join(", "))
        }
    )
}

fn arrow_label(p: &TracedPacket, carries: Option<&str>) -> String {
    let f = p.flags;
    let name = if f.rst {
        "RST".to_string()
    } else if f.syn && f.ack {
        "SYN-ACK".into()
    } else if f.syn {
        "SYN".into()
    } else if f.fin && p.len > 0 {
        format!("{} + FIN", bytes(f64::from(p.len)))
    } else if f.fin {
        "FIN".into()
    } else if let Some(what) = carries {
        format!("{what} {}", bytes(f64::from(p.len)))
    } else if p.len > 0 {
        bytes(f64::from(p.len))
    } else {
        "ACK".into()
    };
    match notes(p).first() {
        // "duplicate ACK" says ACK already.
        Some(&note) if name == "ACK" && note.ends_with("ACK") => note.to_owned(),
        Some(note) => format!("{name}, {note}"),
        None => name,
    }
}

impl Ladder {
    /// The ladder of `d` headed `label`, times in seconds since `origin`; `file_name` names the
    /// file of each exchange where known.
    pub fn of(
        d: &DrawnConnection,
        label: String,
        origin: Ts,
        file_name: impl Fn(usize) -> String,
    ) -> Ladder {
        let conn = &d.connection;
        let rounds = response_rounds(conn);
        let in_round = |p: &TracedPacket| {
            rounds
                .iter()
                .position(|(_, _, r)| r.start <= p.ts && p.ts <= r.end)
        };
        let mut steps = Vec::new();
        let mut round_drawn = vec![false; rounds.len()];
        let mut acks: Vec<&TracedPacket> = Vec::new();
        let mut handshake_acked = false;
        let stream_ids = d.data_streams();
        for p in &d.trace.packets {
            let f = p.flags;
            let pure_ack = f.ack && !f.syn && !f.fin && !f.rst && p.len == 0;
            // An ACK Wireshark marks (a duplicate, a zero window, a keep-alive) is drawn alone.
            let plain = notes(p).is_empty();
            if p.from == Side::Client && pure_ack && plain && handshake_acked {
                acks.push(p);
                continue;
            }
            let round = (p.from == Side::Server && p.len > 0 && plain && !f.fin)
                .then(|| in_round(p))
                .flatten();
            // Segments of a round already drawn fall inside its band: the client's ACKs around
            // them stay one run.
            if round.is_none_or(|i| !round_drawn[i]) {
                flush(&mut acks, &mut steps, origin);
            }
            if p.from == Side::Client && pure_ack {
                handshake_acked = true;
            }
            if let Some(i) = round {
                if !round_drawn[i] {
                    round_drawn[i] = true;
                    steps.push(round_band(d, rounds[i], origin, &file_name, &stream_ids));
                }
                continue;
            }
            let at_s = p.ts.secs_since(origin);
            steps.push(Step::Arrow {
                from: p.from,
                at_s,
                label: arrow_label(p, carries(conn, p)),
                title: packet_title(p, at_s),
                resent: p.resent,
                control: f.syn || f.fin || f.rst,
            });
        }
        flush(&mut acks, &mut steps, origin);
        Ladder {
            label,
            client: conn.client.to_string(),
            server: conn.server.to_string(),
            one_way_s: d.one_way_s,
            steps,
            streams: stream_ids
                .iter()
                .map(|&stream| StreamKey {
                    stream,
                    file: d.stream_file(stream).map(&file_name),
                })
                .collect(),
        }
    }
}

/// Every round of every response: (exchange, the round's place in it, the round).
fn response_rounds(conn: &Connection) -> Vec<(usize, usize, Round)> {
    conn.exchanges
        .iter()
        .enumerate()
        .flat_map(|(e, x)| {
            x.rounds
                .iter()
                .enumerate()
                .map(move |(r, &round)| (e, r, round))
        })
        .collect()
}

/// Draws the client's ACKs waiting in `acks` and empties it: a few one by one, more as a band.
fn flush(acks: &mut Vec<&TracedPacket>, steps: &mut Vec<Step>, origin: Ts) {
    let secs = |ts: Ts| ts.secs_since(origin);
    if acks.len() <= SINGLE_ACKS {
        for p in acks.iter() {
            steps.push(Step::Arrow {
                from: Side::Client,
                at_s: secs(p.ts),
                label: "ACK".into(),
                title: packet_title(p, secs(p.ts)),
                resent: false,
                control: false,
            });
        }
    } else {
        let (first, last) = (acks[0], acks[acks.len() - 1]);
        steps.push(Step::Band {
            from: Side::Client,
            first_s: secs(first.ts),
            last_s: secs(last.ts),
            label: format!("{} ACKs", acks.len()),
            title: format!(
                "{} … {}: {} client ACKs, ack {} … {}",
                duration(secs(first.ts)),
                duration(secs(last.ts)),
                acks.len(),
                first.ack,
                last.ack
            ),
            data: false,
            strands: Vec::new(),
        });
    }
    acks.clear();
}

/// The band of round `r` of exchange `e`, with its segments and bytes, and on an HTTP/2
/// connection its segments by stream (`stream_ids` gives each stream's colour).
fn round_band(
    d: &DrawnConnection,
    (e, r, round): (usize, usize, Round),
    origin: Ts,
    file_name: &impl Fn(usize) -> String,
    stream_ids: &[u32],
) -> Step {
    let secs = |ts: Ts| ts.secs_since(origin);
    let exchange = &d.connection.exchanges[e];
    let file = d.files.get(e).copied().flatten();
    let (strands, by_stream) = strands(d, round, origin, file_name, stream_ids);
    // A capture without the run's plan names a response by its request's target where the
    // capture shows it.
    let response = match (file, &exchange.target) {
        (Some(file), _) => file_name(file),
        (None, Some(target)) => target.clone(),
        (None, None) => format!("response {}", e + 1),
    };
    Step::Band {
        from: Side::Server,
        first_s: secs(round.start),
        last_s: secs(round.end),
        label: format!(
            "round {}: {}, {}",
            r + 1,
            counted(round.segments, "segment", "segments"),
            bytes(round.bytes as f64)
        ),
        title: format!(
            "{response}, round {} of {}: {} … {} as captured, {}, {} ({})",
            r + 1,
            exchange.rounds.len(),
            duration(secs(round.start)),
            duration(secs(round.end)),
            counted(round.segments, "segment", "segments"),
            bytes(round.bytes as f64),
            counted(round.bytes, "byte", "bytes")
        ) + &by_stream,
        data: true,
        strands,
    }
}

/// The server's segments of `round` that carry DATA, by stream, with what the band's title
/// says of them ("; DATA by stream: 1 a.jpg 4 segments, …").
fn strands(
    d: &DrawnConnection,
    round: Round,
    origin: Ts,
    file_name: &impl Fn(usize) -> String,
    stream_ids: &[u32],
) -> (Vec<Strand>, String) {
    let mut strands: Vec<(u32, Strand)> = Vec::new();
    for (p, stream) in d.trace.packets.iter().zip(&d.streams) {
        let Some(stream) = *stream else { continue };
        if p.from != Side::Server || p.ts < round.start || p.ts > round.end {
            continue;
        }
        let at_s = p.ts.secs_since(origin);
        match strands.iter_mut().find(|(id, _)| *id == stream) {
            Some((_, s)) => s.at_s.push(at_s),
            None => {
                let colour = stream_ids.iter().position(|&id| id == stream).unwrap_or(0);
                strands.push((
                    stream,
                    Strand {
                        colour: colour % STREAM_COLOURS,
                        at_s: vec![at_s],
                    },
                ));
            }
        }
    }
    strands.sort_by_key(|(id, _)| *id);
    let parts: Vec<String> = strands
        .iter()
        .map(|(id, s)| {
            let file = d
                .stream_file(*id)
                .map(|f| format!(" {}", file_name(f)))
                .unwrap_or_default();
            format!(
                "{id}{file} {}",
                counted(s.at_s.len(), "segment", "segments")
            )
        })
        .collect();
    let title = if parts.is_empty() {
        String::new()
    } else {
        format!("; DATA by stream: {}", parts.join(", "))
    };
    (strands.into_iter().map(|(_, s)| s).collect(), title)
}
