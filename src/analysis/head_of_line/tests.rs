//! Head-of-line blocking read from hand-built conversations with a known hole and known frames.

use super::*;
use crate::timeline::Ts;
use crate::track::http2::Http2Seen;
use crate::track::http2::tests::{LostOnStreamOne, data, opened_on_one_and_three};

fn secs(later: Ts, earlier: Ts) -> f64 {
    later.secs_since(earlier)
}

#[test]
fn a_loss_on_one_stream_holds_the_other_streams_frames_behind_it() {
    let l = LostOnStreamOne::new();
    let hol = HeadOfLine::of(&l.frames());
    assert_eq!(hol.holes, 1);
    assert!(hol.any_held());
    let [one, three] = hol.streams[..] else {
        panic!("streams 1 and 3: {:?}", hol.streams);
    };
    // Stream 1's own bytes were lost: its second frame waited for them, as it would over QUIC.
    assert_eq!(
        (
            one.stream,
            one.frames,
            one.bytes,
            one.held_frames,
            one.held_bytes
        ),
        (1, 3, 1000 + 1100 + 500, 0, 0)
    );
    assert_eq!((one.longest, one.total), (0.0, 0.0));
    assert_eq!(one.own_total, secs(l.resent, l.one_second));
    // Stream 3's frames arrived whole and waited for stream 1's resend.
    let waits = [
        secs(l.resent, l.three_first),
        secs(l.resent, l.three_second),
    ];
    assert_eq!(
        (
            three.stream,
            three.frames,
            three.held_frames,
            three.held_bytes
        ),
        (3, 2, 2, 1200 + 1300)
    );
    assert_eq!(three.longest, waits[0]);
    assert_eq!(three.total, waits[0] + waits[1]);
    assert_eq!(three.own_total, 0.0);
}

#[test]
fn without_a_loss_nothing_waits() {
    let hol = HeadOfLine::of(&LostOnStreamOne::without_loss().frames());
    assert_eq!(hol.holes, 0);
    assert!(!hol.any_held());
    assert!(hol.streams.iter().all(|s| s.own_total == 0.0));
    assert_eq!(hol.streams.iter().map(|s| s.frames).sum::<u64>(), 5);
}

#[test]
fn a_frame_behind_its_own_streams_loss_waits_for_it_alone() {
    let mut c = opened_on_one_and_three();
    c.s(&data(1, 900));
    let lost_one = c.take_last();
    c.s(&data(3, 800));
    let three_first = c.ts(c.segs.len() - 1);
    c.s(&data(3, 700));
    let lost_three = c.take_last();
    c.s(&data(3, 600));
    let three_third = c.ts(c.segs.len() - 1);
    c.resend(&lost_one);
    let one_resent = c.ts(c.segs.len() - 1);
    c.resend(&lost_three);
    let three_resent = c.ts(c.segs.len() - 1);
    let conn = c.track();
    let Some(Http2Seen::Frames(f)) = conn.http2() else {
        panic!("no HTTP/2 frames");
    };
    let hol = HeadOfLine::of(f);
    assert_eq!(hol.holes, 2);
    let three = hol.streams.iter().find(|s| s.stream == 3).unwrap();
    // Stream 3's first frame waited for stream 1's resend; its third for its own second's
    // resend, which came after stream 1's: none of that wait is another stream's.
    assert_eq!((three.held_frames, three.held_bytes), (1, 800));
    assert_eq!(three.total, secs(one_resent, three_first));
    assert_eq!(three.own_total, secs(three_resent, three_third));
    let one = hol.streams.iter().find(|s| s.stream == 1).unwrap();
    assert!(!one.held() && one.own_total == 0.0);
}
