//! synack: how much does a new TCP connection per file cost, and where does the time go?
//!
//! capture → decode → track → attribute → report; transfer produces the traffic.

pub mod analysis;
pub mod capture;
pub mod cli;
pub mod commands;
pub mod created;
pub mod emulate;
pub mod readable;
pub mod report;
pub mod timeline;
pub mod track;
pub mod transfer;
pub mod words;
