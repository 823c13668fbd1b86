//! Track layer: a map keyed by 4-tuple, small enough per entry that the tracker's map of tens of
//! thousands of lingering connections stays in the processor's cache.
//!
//! Works on `FlowKey` alone; must not import `pcap`, `etherparse`, analysis or report code.

use std::net::SocketAddr;

use rustc_hash::FxHashMap;

use crate::capture::segment::FlowKey;

/// A map from 4-tuples. An IPv4 tuple (nearly every one) is held as two words, 16 bytes where a
/// `FlowKey` takes 64: on a capture of short connections the tracker looks tens of thousands of
/// them up, one cache line per lookup rather than two or more.
#[derive(Debug)]
pub struct TupleMap<V> {
    v4: FxHashMap<(u64, u32), V>,
    other: FxHashMap<FlowKey, V>,
}

impl<V> Default for TupleMap<V> {
    fn default() -> TupleMap<V> {
        TupleMap {
            v4: FxHashMap::default(),
            other: FxHashMap::default(),
        }
    }
}

/// Both addresses and both ports of an IPv4 tuple (equal exactly when the `FlowKey`s are).
fn v4_words(key: &FlowKey) -> Option<(u64, u32)> {
    match (key.a, key.b) {
        (SocketAddr::V4(a), SocketAddr::V4(b)) => Some((
            u64::from(a.ip().to_bits()) << 32 | u64::from(b.ip().to_bits()),
            u32::from(a.port()) << 16 | u32::from(b.port()),
        )),
        _ => None,
    }
}

impl<V> TupleMap<V> {
    /// The value on `key`.
    #[inline]
    pub fn get(&self, key: &FlowKey) -> Option<&V> {
        match v4_words(key) {
            Some(words) => self.v4.get(&words),
            None => self.other.get(key),
        }
    }

    /// Sets the value on `key`.
    #[inline]
    pub fn insert(&mut self, key: &FlowKey, value: V) {
        match v4_words(key) {
            Some(words) => self.v4.insert(words, value),
            None => self.other.insert(*key, value),
        };
    }

    /// Removes the value on `key`.
    #[inline]
    pub fn remove(&mut self, key: &FlowKey) {
        match v4_words(key) {
            Some(words) => self.v4.remove(&words),
            None => self.other.remove(key),
        };
    }

    /// Entries.
    pub fn len(&self) -> usize {
        self.v4.len() + self.other.len()
    }

    /// Empties the map, handing out its values in no particular order.
    pub fn drain(&mut self) -> impl Iterator<Item = V> + '_ {
        self.v4
            .drain()
            .map(|(_, v)| v)
            .chain(self.other.drain().map(|(_, v)| v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(a: &str, b: &str) -> FlowKey {
        FlowKey::of(a.parse().unwrap(), b.parse().unwrap()).0
    }

    #[test]
    fn tuples_that_differ_in_any_address_or_port_are_apart() {
        let mut map = TupleMap::default();
        let keys = [
            key("10.0.0.1:1000", "10.0.0.2:80"),
            key("10.0.0.1:1001", "10.0.0.2:80"),
            key("10.0.0.1:1000", "10.0.0.2:81"),
            key("10.0.0.3:1000", "10.0.0.2:80"),
            key("[::1]:1000", "[::1]:80"),
            key("[::1]:1000", "10.0.0.2:80"),
        ];
        for (i, k) in keys.iter().enumerate() {
            map.insert(k, i);
        }
        assert_eq!(map.len(), keys.len());
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(map.get(k), Some(&i));
        }
        map.remove(&keys[0]);
        map.remove(&keys[4]);
        assert_eq!(map.get(&keys[0]), None);
        assert_eq!(map.get(&keys[4]), None);
        let mut left: Vec<usize> = map.drain().collect();
        left.sort_unstable();
        assert_eq!(left, [1, 2, 3, 5]);
        assert_eq!(map.len(), 0);
    }
}
