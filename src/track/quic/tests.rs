//! Tests of QUIC tracking.
