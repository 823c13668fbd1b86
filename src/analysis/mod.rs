//! Attribute layer: phases of each run, statistics over rounds, the gap between modes, and what the
//! counts should be. Reads capture and transfer results; never touches `pcap` or `etherparse` and
//! never prints.

pub mod attribution;
pub mod comparison;
pub mod drawn;
pub mod expected;
pub mod file_phases;
pub mod head_of_line;
pub mod model;
pub mod pattern;
pub mod phases;
pub mod spread;
pub mod stats;
