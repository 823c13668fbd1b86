//! Words shared by every layer: a count with its noun, singular or plural as the count says
//! ("1 connection", "3 connections"), so no sentence has to write "connection(s)".

use std::fmt::Display;

/// `n` and the noun that goes with it: `one` for 1, `many` otherwise.
pub fn counted<N: Display + PartialEq + From<u8>>(n: N, one: &str, many: &str) -> String {
    let noun = if n == N::from(1) { one } else { many };
    format!("{n} {noun}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_takes_the_singular_and_any_other_count_the_plural() {
        assert_eq!(counted(1u64, "connection", "connections"), "1 connection");
        assert_eq!(counted(0usize, "round", "rounds"), "0 rounds");
        assert_eq!(counted(3u32, "FIN", "FINs"), "3 FINs");
    }
}
