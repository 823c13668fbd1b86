//! Track layer: the one loop over a capture's frames, decoded, that the reader and the trace
//! share. Where a read error ends a capture that already gave frames, the caller decides whether
//! that is a capture cut off (what came before it counts) or a failure.

use crate::capture::CaptureError;
use crate::capture::decode::{DecodedFrame, Decoder};
use crate::capture::source::{Frame, Source};

/// Decodes every frame of `source` in order, handing each to `f` with what it decoded to.
/// A read error after `frames` frames ends the loop as a cut (`Ok(Some(error))`) where
/// `is_cut(&error, frames)`, else fails with it.
pub fn each_frame(
    source: &mut Source,
    decoder: &mut Decoder,
    is_cut: impl Fn(&CaptureError, u64) -> bool,
    mut f: impl FnMut(&Frame<'_>, DecodedFrame<'_>),
) -> Result<Option<CaptureError>, CaptureError> {
    let mut frames = 0u64;
    loop {
        let frame = match source.next_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) => return Ok(None),
            Err(e) if is_cut(&e, frames) => return Ok(Some(e)),
            Err(e) => return Err(e),
        };
        frames += 1;
        let decoded = decoder.decode_frame(frame.ts, frame.data, frame.wire_len);
        f(&frame, decoded);
    }
}
