//! Tests of HTTP/2 counted on the wire: conversations built frame by frame and pushed through the
//! tracker, split at every byte, resent, reordered, cut and lost.

use proptest::prelude::*;

use super::reader::PREFACE;
use super::*;
use crate::timeline::Ts;
use crate::track::RequestCount;
use crate::track::Side;
use crate::track::tests::conversation::Conversation;

const DATA: u8 = 0;
const HEADERS: u8 = 1;
const PRIORITY: u8 = 2;
const SETTINGS: u8 = 4;
const PING: u8 = 6;
const WINDOW_UPDATE: u8 = 8;
const END_STREAM: u8 = 1;
const ACK: u8 = 1;

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    f.extend([kind, flags]);
    f.extend(stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn window_update(stream: u32) -> Vec<u8> {
    frame(WINDOW_UPDATE, 0, stream, &[0, 1, 0, 0])
}

/// A SETTINGS frame setting SETTINGS_MAX_FRAME_SIZE to `max`.
fn settings_max_frame(max: u32) -> Vec<u8> {
    let mut entry = 5u16.to_be_bytes().to_vec();
    entry.extend(max.to_be_bytes());
    frame(SETTINGS, 0, 0, &entry)
}

/// The client's opening: preface, SETTINGS, a WINDOW_UPDATE, and requests on streams 1, 3, 5.
fn client_opening() -> Vec<u8> {
    [
        PREFACE.to_vec(),
        frame(SETTINGS, 0, 0, &[0, 3, 0, 0, 0, 100]),
        window_update(0),
        frame(HEADERS, END_STREAM | 4, 1, &[0x82; 20]),
        frame(HEADERS, END_STREAM | 4, 3, &[0x82; 20]),
        frame(HEADERS, END_STREAM | 4, 5, &[0x82; 20]),
    ]
    .concat()
}

/// The server's answer: SETTINGS and its acknowledgement of the client's, then each stream's
/// HEADERS and two DATA frames, interleaved.
fn server_answer() -> Vec<u8> {
    let mut out = [frame(SETTINGS, 0, 0, &[]), frame(SETTINGS, ACK, 0, &[])].concat();
    for id in [1, 3, 5] {
        out.extend(frame(HEADERS, 4, id, &[0x88; 30]));
    }
    for round in 0..2u8 {
        for id in [1, 3, 5] {
            let flags = if round == 1 { END_STREAM } else { 0 };
            out.extend(frame(DATA, flags, id, &vec![round; 1000 + id as usize]));
        }
    }
    out
}

/// Prior knowledge with the client's WINDOW_UPDATEs between the server's DATA, each side's bytes
/// in segments of at most `size`.
fn multiplexed(size: usize) -> Conversation {
    let mut c = Conversation::new();
    let answer = server_answer();
    let (head, data) = answer.split_at(2 * 9 + 3 * 39);
    c.send_in(true, &client_opening(), size)
        .send_in(false, head, size);
    for chunk in data.chunks(2000) {
        c.send_in(false, chunk, size);
        c.c(&window_update(0));
    }
    c.c(&frame(SETTINGS, ACK, 0, &[]));
    c
}

fn frames(c: &Conversation) -> Http2Frames {
    match c.track().http2() {
        Some(Http2Seen::Frames(f)) => f.clone(),
        other => panic!("no HTTP/2 frames: {other:?}"),
    }
}

fn counts(f: &FrameCounts) -> Vec<(FrameType, u64)> {
    f.iter().filter(|&(_, n)| n > 0).collect()
}

/// The times of a conversation in which a segment of the server's carrying stream 1's first
/// DATA frame was lost, and stream 3's and stream 1's frames after it arrived before its resend.
pub(crate) struct LostOnStreamOne {
    pub conversation: Conversation,
    /// Stream 3's first DATA frame arrived (1,200 bytes).
    pub three_first: Ts,
    /// Stream 1's second DATA frame arrived (1,100 bytes).
    pub one_second: Ts,
    /// Stream 3's second DATA frame arrived (1,300 bytes).
    pub three_second: Ts,
    /// The resend of stream 1's first (1,000 bytes) arrived.
    pub resent: Ts,
    /// Stream 1's last DATA frame arrived in order (500 bytes).
    pub one_last: Ts,
}

/// A conversation in which the client opened streams 1, 3 and 5 and the server answered with
/// its SETTINGS and HEADERS on streams 1 and 3: DATA frames follow.
pub(crate) fn opened_on_one_and_three() -> Conversation {
    let mut c = Conversation::new();
    c.c(&client_opening()).s(&[
        frame(SETTINGS, 0, 0, &[]),
        frame(HEADERS, 4, 1, &[0x88; 30]),
        frame(HEADERS, 4, 3, &[0x88; 30]),
    ]
    .concat());
    c
}

/// A DATA frame on `stream` with `len` bytes of payload.
pub(crate) fn data(stream: u32, len: usize) -> Vec<u8> {
    frame(DATA, 0, stream, &vec![stream as u8; len])
}

/// Where the server's first DATA frame starts: after its SETTINGS and two HEADERS.
pub(crate) const FIRST_DATA_AT: u64 = 9 + 2 * (9 + 30);

impl LostOnStreamOne {
    pub(crate) fn new() -> LostOnStreamOne {
        LostOnStreamOne::built(true)
    }

    /// The same frames in the same segments, none lost: the "resend" is the first segment,
    /// not sent again.
    pub(crate) fn without_loss() -> LostOnStreamOne {
        LostOnStreamOne::built(false)
    }

    fn built(lose: bool) -> LostOnStreamOne {
        let mut c = opened_on_one_and_three();
        c.s(&frame(DATA, 0, 1, &[1; 1000]));
        let last = |c: &Conversation| c.ts(c.segs.len() - 1);
        let first = last(&c);
        let lost = lose.then(|| c.take_last());
        c.s(&frame(DATA, 0, 3, &[3; 1200]));
        let three_first = last(&c);
        c.s(&frame(DATA, 0, 1, &[1; 1100]));
        let one_second = last(&c);
        c.s(&frame(DATA, END_STREAM, 3, &[3; 1300]));
        let three_second = last(&c);
        let resent = match lost {
            Some(lost) => last(c.resend(&lost)),
            None => first,
        };
        c.s(&frame(DATA, END_STREAM, 1, &[1; 500]));
        let one_last = last(&c);
        LostOnStreamOne {
            conversation: c,
            three_first,
            one_second,
            three_second,
            resent,
            one_last,
        }
    }

    pub(crate) fn frames(&self) -> Http2Frames {
        frames(&self.conversation)
    }
}

mod holes {
    use super::*;

    #[test]
    fn frames_after_a_hole_are_delivered_when_its_resend_fills_it() {
        let l = LostOnStreamOne::new();
        let f = l.frames();
        let got: Vec<(u32, Ts, Ts)> = f
            .data_frames()
            .iter()
            .map(|d| (d.stream, d.ts, d.delivered))
            .collect();
        assert_eq!(
            got,
            [
                (1, l.resent, l.resent),
                (3, l.three_first, l.resent),
                (1, l.one_second, l.resent),
                (3, l.three_second, l.resent),
                (1, l.one_last, l.one_last),
            ]
        );
        // Stream 1's second frame could have been read once stream 1's first was in; stream
        // 3's as they came.
        let ready: Vec<(Ts, Ts)> = f
            .data_frames()
            .iter()
            .map(|d| (d.complete, d.stream_ready))
            .collect();
        assert_eq!(
            ready,
            [
                (l.resent, l.resent),
                (l.three_first, l.three_first),
                (l.one_second, l.resent),
                (l.three_second, l.three_second),
                (l.one_last, l.one_last),
            ]
        );
        let spans: Vec<Span> = f.data_frames().iter().map(|d| d.span).collect();
        assert_eq!(spans[0].start, FIRST_DATA_AT);
        assert!(spans.windows(2).all(|w| w[0].end == w[1].start));
        assert_eq!(f.hole_fills().len(), 1);
        let fill = &f.hole_fills()[0];
        assert_eq!(
            (fill.ts, fill.from, fill.span),
            (l.resent, Side::Server, spans[0])
        );
        assert_eq!(fill.streams(), [1]);
        assert!(!f.is_incomplete());
    }

    #[test]
    fn a_hole_across_two_frames_names_both_streams() {
        let mut c = Conversation::new();
        c.c(&client_opening()).s(&frame(SETTINGS, 0, 0, &[]));
        let bytes = [
            frame(DATA, 0, 3, &[3; 600]),
            frame(DATA, 0, 1, &[1; 600]),
            frame(WINDOW_UPDATE, 0, 0, &[0, 1, 0, 0]),
            frame(DATA, 0, 5, &[5; 600]),
        ]
        .concat();
        // The lost segment holds stream 3's frame's end and stream 1's frame's start; the
        // next one the rest of stream 1's, the WINDOW_UPDATE and stream 5's frame.
        c.s(&bytes[..400]).s(&bytes[400..900]);
        let lost = c.take_last();
        c.s(&bytes[900..]).resend(&lost);
        let f = frames(&c);
        assert_eq!(f.hole_fills().len(), 1);
        assert_eq!(f.hole_fills()[0].streams(), [1, 3]);
        let delivered: Vec<(u32, bool)> = f
            .data_frames()
            .iter()
            .map(|d| (d.stream, d.delivered > d.ts))
            .collect();
        assert_eq!(delivered, [(3, false), (1, true), (5, true)]);
    }

    #[test]
    fn without_a_hole_every_frame_is_delivered_on_arrival() {
        let f = frames(&multiplexed(700));
        assert!(f.hole_fills().is_empty());
        assert!(f.data_frames().iter().all(|d| d.delivered == d.ts));
    }
}

mod prior_knowledge {
    use super::*;

    #[test]
    fn frames_are_counted_by_type_direction_and_stream() {
        let f = frames(&multiplexed(1500));
        assert_eq!(
            counts(&f.client),
            [
                (FrameType::Headers, 3),
                (FrameType::Settings, 2),
                (FrameType::WindowUpdate, 5)
            ]
        );
        assert_eq!(
            counts(&f.server),
            [
                (FrameType::Data, 6),
                (FrameType::Headers, 3),
                (FrameType::Settings, 2)
            ]
        );
        assert_eq!(f.requests, 3);
        assert_eq!(f.stream_count(), 3);
        assert_eq!(f.streams()[&3].server.get(FrameType::Data), 2);
        let three = &f.streams()[&3];
        assert_eq!(
            (three.client_data_bytes, three.server_data_bytes),
            (0, 2 * 1003)
        );
        assert_eq!(f.streams()[&0].client.get(FrameType::WindowUpdate), 5);
        assert!(!f.is_incomplete() && f.malformed_frames() == 0);
        let streams: Vec<u32> = f.data_frames().iter().map(|d| d.stream).collect();
        assert_eq!(streams, [1, 3, 5, 1, 3, 5]);
        assert!(f.data_frames().iter().all(|d| d.from == Side::Server));
        assert_eq!(f.data_frames()[2].len, 1005);
        assert!(f.data_frames().windows(2).all(|w| w[0].ts <= w[1].ts));
    }

    #[test]
    fn window_updates_between_data_are_no_requests() {
        let conn = multiplexed(1500).track();
        assert_eq!(conn.requests(), RequestCount::Counted(3));
        // The three requests left in one segment: one turn of the conversation.
        assert_eq!(conn.exchanges.len(), 1);
    }

    #[test]
    fn the_counts_do_not_depend_on_where_segments_split_frames() {
        let whole = frames(&multiplexed(100_000));
        for size in [1, 2, 5, 9, 10, 23, 24, 25, 700] {
            let f = frames(&multiplexed(size));
            assert_eq!(
                (f.client, f.server, f.requests),
                (whole.client, whole.server, whole.requests),
                "segments of {size}"
            );
            let lens: Vec<(u32, u32)> = f.data_frames().iter().map(|d| (d.stream, d.len)).collect();
            let whole_lens: Vec<(u32, u32)> = whole
                .data_frames()
                .iter()
                .map(|d| (d.stream, d.len))
                .collect();
            assert_eq!(lens, whole_lens, "segments of {size}");
        }
    }

    #[test]
    fn a_data_frame_is_timed_by_the_segment_that_completes_it() {
        let mut c = Conversation::new();
        c.c(&client_opening()).s(&frame(SETTINGS, 0, 0, &[]));
        let data = frame(DATA, END_STREAM, 1, &[7; 3000]);
        c.s(&data[..1000]).s(&data[1000..]);
        let last = c.ts(c.segs.len() - 1);
        let f = frames(&c);
        assert_eq!(f.data_frames().len(), 1);
        assert_eq!(f.data_frames()[0].ts, last);
    }

    #[test]
    fn trailers_pushes_and_priorities_open_no_requests() {
        let mut c = Conversation::new();
        c.c(&[
            client_opening(),
            // Trailers on stream 1, a PRIORITY for an idle stream.
            frame(HEADERS, END_STREAM | 4, 1, &[0x40; 5]),
            frame(PRIORITY, 0, 11, &[0, 0, 0, 0, 15]),
        ]
        .concat())
            .s(&[
                frame(SETTINGS, 0, 0, &[]),
                frame(5, 4, 1, &[0, 0, 0, 2, 0x82]),
                frame(HEADERS, 4, 2, &[0x88]),
            ]
            .concat());
        let f = frames(&c);
        assert_eq!(f.requests, 3);
        assert_eq!(f.client.get(FrameType::Headers), 4);
        assert_eq!(f.server.get(FrameType::PushPromise), 1);
        assert_eq!(f.stream_count(), 5, "streams 1, 2, 3, 5 and 11");
    }

    #[test]
    fn resent_and_reordered_segments_count_once() {
        let mut c = Conversation::new();
        let answer = server_answer();
        c.c(&client_opening()).send_in(false, &answer, 1000);
        c.resend_last();
        let n = c.segs.len();
        c.segs.swap(n - 3, n - 4);
        let mut whole = Conversation::new();
        whole.c(&client_opening()).s(&answer);
        let (f, w) = (frames(&c), frames(&whole));
        assert_eq!((f.client, f.server), (w.client, w.server));
        assert!(!f.is_incomplete());
    }

    #[test]
    fn the_server_may_send_its_settings_before_the_client_preface() {
        let mut c = Conversation::new();
        c.s(&frame(SETTINGS, 0, 0, &[]))
            .c(&client_opening())
            .s(&frame(SETTINGS, ACK, 0, &[]));
        let f = frames(&c);
        assert_eq!(f.server.get(FrameType::Settings), 2);
        assert_eq!(f.requests, 3);
    }
}

mod damaged {
    use super::*;

    #[test]
    fn frames_breaking_the_framing_rules_are_counted_malformed() {
        let mut c = Conversation::new();
        c.c(&[
            client_opening(),
            frame(PING, 0, 0, &[1; 4]),
            frame(DATA, 0, 0, &[1; 4]),
            frame(PING, 0, 0, &[1; 8]),
        ]
        .concat())
            .s(&frame(SETTINGS, 0, 0, &[]));
        let f = frames(&c);
        assert_eq!((f.client_malformed, f.server_malformed), (2, 0));
        assert_eq!(f.client.get(FrameType::Ping), 2);
        assert!(
            f.data_frames().is_empty(),
            "DATA on stream 0 is no stream's"
        );
        assert_eq!(f.client_stop, None, "the framing holds");
    }

    #[test]
    fn a_frame_longer_than_its_receiver_allows_ends_the_reading() {
        let big = frame(DATA, 0, 1, &[0; 20_000]);
        let mut c = Conversation::new();
        c.c(&client_opening())
            .s(&[frame(SETTINGS, 0, 0, &[]), big.clone()].concat());
        let f = frames(&c);
        assert_eq!((f.client_malformed, f.server_malformed), (0, 1));
        assert_eq!(f.server_stop, Some(Http2Stop::Malformed));
        // Allowed once the client's SETTINGS raised the limit.
        let mut c = Conversation::new();
        c.c(&[client_opening(), settings_max_frame(1 << 16)].concat())
            .s(&[frame(SETTINGS, 0, 0, &[]), big].concat());
        let f = frames(&c);
        assert_eq!((f.malformed_frames(), f.server_stop), (0, None));
        assert_eq!(f.data_frames()[0].len, 20_000);
    }

    #[test]
    fn a_payload_cut_by_the_snap_length_is_passed_over() {
        let mut c = Conversation::new();
        let data = frame(DATA, 0, 1, &[5; 1200]);
        c.c(&client_opening())
            .s(&frame(SETTINGS, 0, 0, &[]))
            .send_cut(false, &data, 100)
            .s(&frame(DATA, END_STREAM, 1, &[5; 10]));
        let f = frames(&c);
        assert_eq!(f.server.get(FrameType::Data), 2);
        assert_eq!(f.server_stop, None);
        // A cut through the next frame's header ends the reading.
        let two = [data.clone(), data].concat();
        let mut c = Conversation::new();
        c.c(&client_opening())
            .s(&frame(SETTINGS, 0, 0, &[]))
            .send_cut(false, &two, 1215);
        let f = frames(&c);
        assert_eq!(f.server.get(FrameType::Data), 1);
        assert_eq!(f.server_stop, Some(Http2Stop::Cut));
    }

    #[test]
    fn a_hole_that_never_fills_is_a_gap() {
        let mut c = Conversation::new();
        c.c(&client_opening())
            .s(&frame(SETTINGS, 0, 0, &[]))
            .s(&frame(DATA, 0, 1, &[1; 100]))
            .lose_last();
        // The capture goes on with the server's later bytes only.
        for _ in 0..WAIT_SEGMENTS_FOR_TEST {
            c.s(&frame(DATA, 0, 1, &[1; 100]));
        }
        let f = frames(&c);
        assert_eq!(f.server.get(FrameType::Data), 0);
        assert_eq!(f.server_stop, Some(Http2Stop::Gap));
        assert_eq!(f.client_stop, None);
    }

    /// Enough segments behind a hole to make the stream give up.
    const WAIT_SEGMENTS_FOR_TEST: usize = 16 * 1024 + 1;
}

mod not_http2 {
    use super::*;

    #[test]
    fn http1_tls_and_other_protocols_are_not_http2() {
        let mut c = Conversation::new();
        c.c(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .s(b"HTTP/1.1 200 OK\r\n\r\n");
        assert!(c.track().http2().is_none());
        let mut c = Conversation::new();
        c.c(&[0x16, 3, 1, 0, 4, 1, 0, 0, 0]);
        assert!(c.track().http2().is_none());
        // A server speaking first with something other than SETTINGS.
        let mut c = Conversation::new();
        c.s(b"220 mail.example ESMTP\r\n").c(&client_opening());
        assert!(c.track().http2().is_none());
        // A preface that goes wrong after its first bytes.
        let mut c = Conversation::new();
        c.c(b"PRI * HTTP/1.1\r\n\r\n");
        assert!(c.track().http2().is_none());
        assert_eq!(c.track().requests(), RequestCount::Counted(1));
    }

    #[test]
    fn a_preface_not_yet_whole_shows_no_http2() {
        let mut c = Conversation::new();
        c.c(&PREFACE[..10]);
        assert!(c.track().http2().is_none());
        c.c(&PREFACE[10..]);
        assert!(matches!(c.track().http2(), Some(Http2Seen::Frames(_))));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any bytes after the preface, each way, in segments of any size, some resent, reordered
    /// or cut: reading never panics, and the streams add up to the totals.
    #[test]
    fn reading_arbitrary_frames_never_panics(
        client in proptest::collection::vec(any::<u8>(), 0..600),
        server in proptest::collection::vec(any::<u8>(), 0..600),
        cuts in proptest::collection::vec((1usize..200, any::<bool>(), 0u8..4), 1..30),
    ) {
        let client = [PREFACE.to_vec(), client].concat();
        let mut c = Conversation::new();
        let (mut at_client, mut at_server) = (0usize, 0usize);
        for (size, from_client, what) in cuts {
            let (bytes, at) = if from_client {
                (&client, &mut at_client)
            } else {
                (&server, &mut at_server)
            };
            if *at >= bytes.len() {
                continue;
            }
            let end = (*at + size).min(bytes.len());
            let chunk = bytes[*at..end].to_vec();
            *at = end;
            match what {
                0 => { c.send(from_client, &chunk); }
                1 => { c.send(from_client, &chunk).resend_last(); }
                2 => { c.send_cut(from_client, &chunk, size / 3); }
                _ => {
                    c.send(from_client, &chunk);
                    if c.segs.len() > 3 {
                        c.reorder_last_two();
                    }
                }
            }
        }
        let conn = c.track();
        if let Some(Http2Seen::Frames(f)) = conn.http2() {
            let mut by_stream = (FrameCounts::default(), FrameCounts::default());
            for s in f.streams().values() {
                by_stream.0.merge(&s.client);
                by_stream.1.merge(&s.server);
            }
            prop_assert_eq!(by_stream, (f.client, f.server));
            prop_assert!(f.requests <= f.client.get(FrameType::Headers));
            prop_assert_eq!(conn.requests(), RequestCount::Counted(f.requests));
        }
    }
}

mod over_tls {
    use super::*;
    use crate::track::tls::TlsHandshake;

    #[test]
    fn the_alpn_tells_what_shows_http2() {
        let mut h = TlsHandshake::default();
        assert_eq!(TlsAlpn::of(&h), None, "no ALPN: HTTP/1.x");
        h.alpn_offers_h2 = true;
        assert_eq!(TlsAlpn::of(&h), Some(TlsAlpn::ClientOffered));
        h.alpn_selects_h2 = Some(false);
        assert_eq!(TlsAlpn::of(&h), None, "TLS 1.2's server chose another");
        h.alpn_selects_h2 = Some(true);
        assert_eq!(TlsAlpn::of(&h), Some(TlsAlpn::ServerSelected));
    }
}

#[test]
fn a_stretch_belongs_to_the_stream_holding_most_of_its_data() {
    use super::summary::{DataSpans, Span};
    let span = |start, end| Span { start, end };
    // Stream 1's frame, then stream 3's, then stream 1's again; bytes 30..40 hold no DATA.
    let spans = DataSpans(vec![(span(0, 20), 1), (span(20, 30), 3), (span(40, 60), 1)]);
    assert_eq!(spans.stream_of(span(0, 10)), Some(1));
    assert_eq!(
        spans.stream_of(span(14, 26)),
        Some(1),
        "6 bytes of 1, 6 of 3: a tie"
    );
    assert_eq!(
        spans.stream_of(span(16, 30)),
        Some(3),
        "4 bytes of 1, 10 of 3"
    );
    assert_eq!(
        spans.stream_of(span(25, 45)),
        Some(1),
        "5 of 3, 5 of 1: a tie"
    );
    assert_eq!(spans.stream_of(span(30, 40)), None);
    assert_eq!(spans.stream_of(span(60, 70)), None);
}
