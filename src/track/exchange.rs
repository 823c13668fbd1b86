//! Track layer: requests and their responses on a connection, with the rounds each response took.
//!
//! Works on timestamps alone; must not import `pcap`, `etherparse`, analysis or report code.

use smallvec::SmallVec;

use super::rounds::Round;
use crate::timeline::Ts;

/// One request and its response on a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// First segment of the request (client data).
    pub request: Ts,
    /// First segment of the response (server data), if any.
    pub first_response: Option<Ts>,
    /// Last segment of the response seen so far.
    pub last_response: Option<Ts>,
    /// The response's rounds as the sender counts them (see `rounds`).
    pub rounds: SmallVec<[Round; 2]>,
    /// The client's advertised receive window in bytes (scaled) as of its last segment before the
    /// response's first data: what the first round could fill at most.
    pub client_window: Option<u64>,
    /// The request's target (`/a.jpg`), when its first segment was captured with a plain
    /// HTTP/1.x request line; none on TLS, where the request is encrypted.
    pub target: Option<String>,
}

impl Exchange {
    /// A request first seen at `request`, not yet answered; `payload` holds the bytes its first
    /// segment carries as captured.
    pub(super) fn new(request: Ts, payload: &[u8]) -> Exchange {
        Exchange {
            request,
            first_response: None,
            last_response: None,
            rounds: SmallVec::new(),
            client_window: None,
            target: request_target(payload),
        }
    }

    /// Whether any of the response was seen.
    pub(super) fn answered(&self) -> bool {
        self.first_response.is_some()
    }

    /// Adds a segment of `bytes` response data seen at `ts`, opening a new round when
    /// `opens_round`.
    pub(super) fn add_response(&mut self, ts: Ts, bytes: u32, opens_round: bool) {
        self.first_response.get_or_insert(ts);
        self.last_response = Some(self.last_response.map_or(ts, |l| l.max(ts)));
        match self.rounds.last_mut() {
            Some(round) if !opens_round => {
                round.end = round.end.max(ts);
                round.segments += 1;
                round.bytes += u64::from(bytes);
            }
            _ => self.rounds.push(Round {
                start: ts,
                end: ts,
                segments: 1,
                bytes: u64::from(bytes),
            }),
        }
    }
}

/// Targets longer than this are cut (with "…"): a label, not a copy of the request.
const MAX_TARGET_CHARS: usize = 200;

/// The target of the HTTP/1.x request line `payload` starts with, if the capture holds all of
/// that line.
fn request_target(payload: &[u8]) -> Option<String> {
    // Only the request line is wanted: with no room for headers, httparse stops at the first
    // one, and a head cut by the snap length still has its request line read (httparse fills
    // the line before it looks at the headers).
    let mut headers = [httparse::EMPTY_HEADER; 0];
    let mut request = httparse::Request::new(&mut headers);
    let _ = request.parse(payload);
    request.version?;
    let target = request.path?;
    Some(match target.char_indices().nth(MAX_TARGET_CHARS) {
        Some((cut, _)) => format!("{}…", &target[..cut]),
        None => target.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_line_gives_its_target() {
        let head = b"GET /a.jpg HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(request_target(head).as_deref(), Some("/a.jpg"));
        // Cut after the request line by the snap length.
        assert_eq!(
            request_target(b"HEAD /dir/b.mp3?x=1 HTTP/1.0\r\nUser-Ag").as_deref(),
            Some("/dir/b.mp3?x=1")
        );
        let crowded: Vec<u8> = [
            &b"GET /c.txt HTTP/1.1\r\n"[..],
            &b"X: y\r\n".repeat(40),
            b"\r\n",
        ]
        .concat();
        assert_eq!(request_target(&crowded).as_deref(), Some("/c.txt"));
    }

    #[test]
    fn no_target_without_a_whole_request_line() {
        assert_eq!(request_target(b""), None);
        assert_eq!(request_target(b"GET /a.jp"), None);
        assert_eq!(request_target(b"\x16\x03\x01\x02\x00\x01"), None);
        assert_eq!(request_target(b"HTTP/1.1 200 OK\r\n"), None);
    }

    #[test]
    fn a_long_target_is_cut() {
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "x".repeat(500));
        let target = request_target(long.as_bytes()).expect("a target");
        assert_eq!(target.chars().count(), MAX_TARGET_CHARS + 1);
        assert!(target.ends_with('…'));
    }
}
