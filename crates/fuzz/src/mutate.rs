//! A small byte-level mutator for the stable smoke runner: AFL++'s havoc stage in miniature
//! (bit flips, interesting bytes and numbers, deletions, duplications, dictionary tokens,
//! splices). It has no coverage feedback; AFL++ (`afl/`) is the coverage-guided engine.

use rand::rngs::StdRng;
use rand::Rng;

/// Numbers at the edges of the integer types and of the engine's limits.
const NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1e12",
    "99999999999999999999",
    "9223372036854775807",
    "-9223372036854775808",
    "4294967296",
    "1e308",
    "NaN",
];

/// Bytes that change the structure of XML and of expressions.
const BYTES: &[u8] = b"<>/=\"'&;:()[]{}+-*%.,\n\0\xff0";

/// Largest input the mutator produces.
pub const MAX_LEN: usize = 64 * 1024;

/// Applies one to four random mutations to `input`, drawing tokens from `dict` and splice
/// partners from `corpus`.
pub fn mutate(rng: &mut StdRng, input: &mut Vec<u8>, dict: &[&[u8]], corpus: &[Vec<u8>]) {
    for _ in 0..rng.random_range(1..=4) {
        mutate_once(rng, input, dict, corpus);
    }
    input.truncate(MAX_LEN);
}

fn mutate_once(rng: &mut StdRng, input: &mut Vec<u8>, dict: &[&[u8]], corpus: &[Vec<u8>]) {
    let at = |rng: &mut StdRng, len: usize| rng.random_range(0..=len);
    match rng.random_range(0..7) {
        0 if !input.is_empty() => {
            let i = rng.random_range(0..input.len());
            input[i] ^= 1 << rng.random_range(0..8);
        }
        1 if !input.is_empty() => {
            let i = rng.random_range(0..input.len());
            input[i] = BYTES[rng.random_range(0..BYTES.len())];
        }
        2 if !input.is_empty() => {
            let start = rng.random_range(0..input.len());
            let end = (start + rng.random_range(1..=32)).min(input.len());
            input.drain(start..end);
        }
        3 if !input.is_empty() => {
            let start = rng.random_range(0..input.len());
            let end = (start + rng.random_range(1..=64)).min(input.len());
            let piece = input[start..end].to_vec();
            let to = at(rng, input.len());
            input.splice(
                to..to,
                piece
                    .iter()
                    .copied()
                    .cycle()
                    .take(piece.len() * rng.random_range(1..=4)),
            );
        }
        4 if !dict.is_empty() => {
            let token = dict[rng.random_range(0..dict.len())];
            let to = at(rng, input.len());
            input.splice(to..to, token.iter().copied());
        }
        5 => {
            let number = NUMBERS[rng.random_range(0..NUMBERS.len())].as_bytes();
            let to = at(rng, input.len());
            input.splice(to..to, number.iter().copied());
        }
        _ if !corpus.is_empty() => {
            let other = &corpus[rng.random_range(0..corpus.len())];
            let cut = at(rng, input.len());
            let from = at(rng, other.len());
            input.truncate(cut);
            input.extend_from_slice(&other[from..]);
        }
        _ => input.push(BYTES[rng.random_range(0..BYTES.len())]),
    }
}
