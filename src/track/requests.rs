//! Track layer: HTTP/1.x requests counted in the client's byte stream, as tshark's `http.request`
//! counts them: every request head, also when several ride in one segment (pipelining) or one
//! spans segments.
//!
//! Reads the stream in sequence order from the segments the capture holds. Where it loses the
//! thread (a gap, a payload cut by the snap length, a body it cannot frame) it counts again from
//! the next segment that starts with a request line, as a segment-by-segment count would.

use super::seq::SeqNumber;
use crate::capture::decode::METHODS;

/// A head longer than this is no request head this counter follows (servers refuse them too).
const MAX_HEAD: usize = 64 * 1024;

/// Where the counter stands in the client's stream.
#[derive(Debug, Clone, Default)]
enum Position {
    /// Where a request may begin.
    #[default]
    Boundary,
    /// Inside a head whose start was counted; the bytes so far.
    Head(Vec<u8>),
    /// Inside a body with this many bytes to go.
    Body(u64),
    /// Position unknown until a segment starts with a request line.
    Lost,
}

/// Counts the request heads in one side's byte stream.
#[derive(Debug, Clone, Default)]
pub(super) struct RequestCounter {
    position: Position,
    /// The sequence number the next in-order byte carries.
    next: Option<SeqNumber>,
    /// Request heads begun.
    pub(super) count: u64,
}

impl RequestCounter {
    /// Reads one segment's payload: `seq` its first byte's number, `len` its length on the wire,
    /// `captured` the bytes the capture holds (fewer when the snap length cut it).
    pub(super) fn feed(&mut self, seq: SeqNumber, len: u32, captured: &[u8]) {
        if len == 0 {
            return;
        }
        match self.next {
            // Already read (a resend), or partly: the stream's position is where it was.
            Some(next) if seq + len <= next => return,
            Some(next) if seq == next => {}
            // A gap, or an overlap with new bytes after it: the position is unknown.
            Some(_) => self.position = Position::Lost,
            None => {}
        }
        self.next = Some(seq + len);
        if matches!(self.position, Position::Lost) && starts_a_request(captured) {
            self.position = Position::Boundary;
        }
        self.read(captured);
        if captured.len() < len as usize {
            self.position = Position::Lost;
        }
    }

    fn read(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match std::mem::take(&mut self.position) {
                Position::Lost => {
                    self.position = Position::Lost;
                    return;
                }
                Position::Boundary if starts_a_request(bytes) => {
                    self.count += 1;
                    self.position = Position::Head(Vec::new());
                }
                // Not a request line: a stray CRLF between requests, or no HTTP at all.
                Position::Boundary => {
                    let blank = bytes
                        .iter()
                        .take_while(|b| matches!(b, b'\r' | b'\n'))
                        .count();
                    if blank == 0 {
                        self.position = Position::Lost;
                        return;
                    }
                    self.position = Position::Boundary;
                    bytes = &bytes[blank..];
                }
                Position::Head(mut head) => {
                    let before = head.len();
                    head.extend_from_slice(&bytes[..bytes.len().min(MAX_HEAD)]);
                    let Some(end) = find_head_end(&head, before) else {
                        self.position = if head.len() >= MAX_HEAD {
                            Position::Lost
                        } else {
                            Position::Head(head)
                        };
                        return;
                    };
                    bytes = &bytes[end - before..];
                    self.position = match body_length(&head[..end]) {
                        Some(0) => Position::Boundary,
                        Some(length) => Position::Body(length),
                        None => Position::Lost,
                    };
                }
                Position::Body(left) => {
                    let skipped = left.min(bytes.len() as u64);
                    bytes = &bytes[skipped as usize..];
                    self.position = if skipped == left {
                        Position::Boundary
                    } else {
                        Position::Body(left - skipped)
                    };
                }
            }
        }
    }
}

/// Whether `bytes` begin with a request line's method and its space (`GET `), or with as much
/// of one as they hold.
fn starts_a_request(bytes: &[u8]) -> bool {
    METHODS.iter().any(|method| {
        let n = bytes.len().min(method.len());
        bytes[..n] == method[..n]
    }) && !bytes.is_empty()
}

/// The end (just past the blank line) of the head in `head`, searching from a little before
/// `from` so that a blank line split over two segments is found.
fn find_head_end(head: &[u8], from: usize) -> Option<usize> {
    let start = from.saturating_sub(3);
    head[start..]
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| start + at + 4)
}

/// The body length a request head announces: 0 without one, None when it cannot be framed here
/// (chunked, or a length that does not parse).
fn body_length(head: &[u8]) -> Option<u64> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return None,
    }
    let mut length = 0;
    for header in request.headers.iter() {
        if header.name.eq_ignore_ascii_case("transfer-encoding") {
            return None;
        }
        if header.name.eq_ignore_ascii_case("content-length") {
            length = std::str::from_utf8(header.value)
                .ok()?
                .trim()
                .parse()
                .ok()?;
        }
    }
    Some(length)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(segments: &[(u32, &[u8])]) -> u64 {
        let mut counter = RequestCounter::default();
        for &(seq, bytes) in segments {
            counter.feed(SeqNumber(seq), bytes.len() as u32, bytes);
        }
        counter.count
    }

    const GET: &[u8] = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n";

    #[test]
    fn requests_in_one_segment_are_each_counted() {
        let burst = [GET, GET, GET, GET].concat();
        assert_eq!(count(&[(1, &burst)]), 4);
    }

    #[test]
    fn a_head_split_over_segments_is_one_request_and_the_next_is_found() {
        let burst = [GET, GET, GET].concat();
        // Split inside the first head's blank line, and inside the second request line.
        let (a, rest) = burst.split_at(GET.len() - 2);
        let (b, c) = rest.split_at(10);
        let at = |n: usize| 1 + n as u32;
        assert_eq!(
            count(&[(at(0), a), (at(a.len()), b), (at(a.len() + b.len()), c)]),
            3
        );
    }

    #[test]
    fn a_body_is_skipped_even_when_it_looks_like_a_request() {
        let post = b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 28\r\n\r\n";
        let burst = [&post[..], GET, GET].concat();
        // The body is itself a GET's bytes: it is no request.
        assert_eq!(count(&[(1, &burst)]), 2);
    }

    #[test]
    fn a_resend_is_not_counted_again() {
        assert_eq!(count(&[(1, GET), (1, GET)]), 1);
    }

    #[test]
    fn after_a_gap_counting_resumes_at_a_request_line() {
        let second = 1 + GET.len() as u32;
        let third = second + GET.len() as u32;
        // The second request's segment was not captured.
        assert_eq!(count(&[(1, GET), (third, GET)]), 2);
        // A segment that starts inside a request after a gap is not counted.
        assert_eq!(count(&[(1, GET), (third + 3, &GET[3..])]), 1);
    }

    #[test]
    fn a_payload_cut_by_the_snap_length_counts_its_start_only() {
        let burst = [GET, GET].concat();
        let mut counter = RequestCounter::default();
        counter.feed(SeqNumber(1), burst.len() as u32, &burst[..20]);
        counter.feed(SeqNumber(1 + burst.len() as u32), GET.len() as u32, GET);
        assert_eq!(counter.count, 2);
    }

    #[test]
    fn bytes_that_are_no_request_are_not_counted() {
        assert_eq!(count(&[(1, b"hello, server\r\n")]), 0);
        assert_eq!(
            count(&[(1, GET), (1 + GET.len() as u32, b"\x16\x03\x01")]),
            1
        );
    }
}
