//! Report layer, tables: cleartext HTTP/2 as counted on the wire — one row per connection, and
//! the frames by type over all of them. Reads `labels`; must not import sentences or the
//! terminal report.

use comfy_table::Table;

use super::cells::{glued, table};
use crate::report::labels;
use crate::track::Connection;
use crate::track::http2::{FrameType, Http2Frames, Http2Seen, Http2Totals};

/// One row per cleartext HTTP/2 connection: its streams, requests, frames each way, DATA frames,
/// malformed frames and how far each direction was read.
pub fn http2_table(conns: &[Connection]) -> Table {
    let mut t = table(&[
        "#",
        "streams",
        "requests",
        "frames C/S",
        "DATA",
        "WINDOW_UPDATE C/S",
        "malformed",
        "read C/S",
    ]);
    for (c, f) in conns.iter().filter_map(|c| match c.http2() {
        Some(Http2Seen::Frames(f)) => Some((c, f)),
        _ => None,
    }) {
        let both = |t: FrameType| format!("{}/{}", f.client.get(t), f.server.get(t));
        t.add_row(glued(vec![
            c.stream.to_string(),
            f.stream_count().to_string(),
            f.requests.to_string(),
            format!("{}/{}", f.client.total(), f.server.total()),
            (f.client.get(FrameType::Data) + f.server.get(FrameType::Data)).to_string(),
            both(FrameType::WindowUpdate),
            f.malformed_frames().to_string(),
            read(f),
        ]));
    }
    t
}

fn read(f: &Http2Frames) -> String {
    let (c, s) = (f.client_stop, f.server_stop);
    if c == s {
        labels::http2_read(c).to_string()
    } else {
        format!("{}/{}", labels::http2_read(c), labels::http2_read(s))
    }
}

/// HTTP/2 frames by type over every cleartext connection, each way: the types seen, and the
/// streams and requests.
pub fn http2_totals_table(totals: &Http2Totals) -> Table {
    let mut t = table(&["HTTP/2", "client", "server"]);
    let mut row = |name: &str, c: u64, s: u64| {
        t.add_row(glued(vec![name.to_string(), c.to_string(), s.to_string()]));
    };
    for ((kind, c), (_, s)) in totals.client.iter().zip(totals.server.iter()) {
        if c + s > 0 {
            row(labels::frame_type(kind), c, s);
        }
    }
    row("frames", totals.client.total(), totals.server.total());
    t
}
